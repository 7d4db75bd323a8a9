/* ledgerline-rebuild: replays the event log into a NEW read-model generation while the live one
 * keeps serving, verifies it against the event store, catches it up and switches to it.
 * This file: the command line; ll_rebuild.h says which file of tools/rebuild/ does what.
 *
 *   1. build   the log (Kafka topic from offset 0, or the store) folded with ll_account_evolve into
 *              accounts_g<N+1> / events_g<N+1> / pages_g<N+1>, written fresh (inserts only);
 *   2. verify  what MongoDB now holds, read back, against an independent replay of the store in
 *              one snapshot: per account version, balance, held, limit, frozen, status, head hash,
 *              and a checksum over its transactions (count, sum, ids; captures are transactions).
 *              Any difference, or a store event that does not replay (tampering), refuses the
 *              switch;
 *   3. catch up the events committed since, found per account (account_state's versions, not
 *              positions: a late commit below a position is never skipped);
 *   4. switch  record where projectors resume in the topic for N+1 (the high watermarks read
 *              before the last catch-up round: every event the generation may lack was
 *              published at or after them), then read_model_meta {_id:"active"} from N to N+1 in
 *              one guarded update; the live projector and query API follow within a second, and
 *              the projector projects again from that point into N+1, so nothing it wrote to N
 *              meanwhile is missing there (whatever --settle-seconds says);
 *   5. settle  keep catching up for --settle-seconds, while the projector moves over.
 * A rebuild killed at any point leaves the live generation untouched: the next run drops the
 * half-built generation and starts over. Only one rebuild runs at a time (PostgreSQL advisory
 * lock). --gc drops generations retired longer than --grace-seconds ago. */
#include "ll_cli.h"
#include "ll_limits.h"
#include "ll_rebuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITERS_MAX_TEXT LL_LIMIT_TEXT(LL_READ_MODEL_WRITERS_MAX) /* in the help text */

static const char usage[] =
    "Usage: ledgerline-rebuild [--config FILE] [--from kafka|store] [--account ID] [--to-position N]\n"
    "                          [--dry-run] [--settle-seconds S] [--writers N] [--json]\n"
    "       ledgerline-rebuild [--config FILE] --gc [--grace-seconds S] [--json]\n"
    "\n"
    "Replays the event log into a new read-model generation (accounts_g<N+1>, events_g<N+1>, "
    "pages_g<N+1>)\n"
    "while generation N keeps serving, verifies it against the PostgreSQL event store (per account\n"
    "version, balance, held, limit, frozen, status, head hash and a checksum over its transactions),\n"
    "catches it up with what was committed meanwhile, switches read_model_meta to it in one guarded\n"
    "update (the live projector and query API follow within a second) and keeps catching up while\n"
    "they move over.\n"
    "\n"
    "  --from kafka|store   source of the replay: the topic from offset 0 (default) or the store\n"
    "  --account ID         only this account; --to-position N: only events up to global position N.\n"
    "                       Both build a partial generation, which is verified and never switched to.\n"
    "  --dry-run            build and verify only, then drop the new generation\n"
    "  --settle-seconds S   how long to keep catching up after the switch (default 15; 0 is safe:\n"
    "                       projectors project into the new generation again from where it\n"
    "                       was caught up, recorded with the switch)\n"
    "  --writers N          threads (and MongoDB connections) inserting the build's transactions,\n"
    "                       1.." WRITERS_MAX_TEXT " (default 2); the reading and folding go on meanwhile\n"
    "  --gc                 drop generations retired more than --grace-seconds ago (default 3600),\n"
    "                       and leftovers above the active one from an interrupted rebuild\n"
    "  --json               a JSON summary on stdout at the end\n"
    "\n"
    "Progress goes to stderr: a bar with events/s and ETA on a terminal, a line every 5 s otherwise.\n"
    "Killed at any point, the live generation is untouched; run it again (it starts over).\n"
    "Exit status: 0 switched (or verified, with --dry-run); 1 verification failed, not switched;\n"
    "2 bad arguments, configuration or connection.\n"
    "\n"
    "Examples:\n"
    "  ledgerline-rebuild                     # from the topic; switch when verified\n"
    "  ledgerline-rebuild --from store --dry-run --json\n"
    "  ledgerline-rebuild --gc --grace-seconds 0\n";

static int valid_source(const char *from) {
    return strcmp(from, "kafka") == 0 || strcmp(from, "store") == 0;
}

/* A global position: a whole number >= 1 (int64: beyond the int range of LL_CLI_INT). */
static int valid_position(const char *s) {
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    return end != s && *end == '\0' && v >= 1;
}

/* argv into o and *config. Returns LL_CLI_GO, LL_CLI_DONE or LL_CLI_BAD (ll_cli_parse). */
static int parse(int argc, char **argv, options_t *o, const char **config) {
    *o = (options_t){.from = "kafka", .to_position = -1, .grace_s = 3600, .settle_s = 15, .writers = 2};
    const char *to_position = NULL;
    const ll_cli_option_t options[] = {
        {.name = "config", .kind = LL_CLI_STR, .out = config},
        {.name = "from", .kind = LL_CLI_STR, .out = &o->from, .valid = valid_source},
        {.name = "account", .kind = LL_CLI_STR, .out = &o->account},
        {.name = "to-position", .kind = LL_CLI_STR, .out = &to_position, .valid = valid_position},
        {.name = "settle-seconds", .kind = LL_CLI_INT, .out = &o->settle_s, .lo = 0, .hi = 3600},
        {.name = "writers", .kind = LL_CLI_INT, .out = &o->writers, .lo = 1, .hi = LL_READ_MODEL_WRITERS_MAX},
        {.name = "grace-seconds", .kind = LL_CLI_INT, .out = &o->grace_s, .lo = 0, .hi = 365 * 86400},
        {.name = "dry-run", .kind = LL_CLI_FLAG, .out = &o->dry_run},
        {.name = "gc", .kind = LL_CLI_FLAG, .out = &o->gc},
        {.name = "json", .kind = LL_CLI_FLAG, .out = &o->json},
        {.name = NULL},
    };
    int parsed = ll_cli_parse("ledgerline-rebuild", usage, options, argc, argv);
    if (parsed == LL_CLI_GO && to_position != NULL) o->to_position = strtoll(to_position, NULL, 10);
    return parsed;
}

/* Connects to MongoDB and PostgreSQL and takes the advisory lock: one rebuild at a time. */
static int start(rebuild_t *r, ll_error_t *err) {
    static const ll_table_column_t cols[] = {
        {"account_id", 0}, {"difference", 0}, {"new_generation", 0}, {"event_store", 0}};
    r->mongo = ll_rm_client_new(r->cfg->mongo_uri, r->cfg->mongo_database, NULL, err);
    r->pg = ll_pg_connect(r->cfg->pg_conninfo, err);
    r->store = ll_event_reader_on(&r->pg);
    r->diffs = ll_table_new(cols, sizeof cols / sizeof cols[0]);
    PGresult *lock = r->pg ? ll_pg_query(r->pg, "SELECT pg_try_advisory_lock(" REBUILD_LOCK_KEY ")", 0, NULL,
                                         PGRES_TUPLES_OK, err)
                           : NULL;
    int rc = 0;
    if (r->mongo == NULL || lock == NULL || r->diffs == NULL || r->store == NULL ||
        accounts_init(&r->built) != 0)
        rc = rebuild_fail(EXIT_USAGE, "cannot start: %s", err->msg[0] ? err->msg : "mongo_uri or memory");
    else if (strcmp(PQgetvalue(lock, 0, 0), "t") != 0)
        rc = rebuild_fail(EXIT_USAGE,
                          "another ledgerline-rebuild is running (advisory lock " REBUILD_LOCK_KEY ")");
    PQclear(lock);
    return rc;
}

static void finish(rebuild_t *r) {
    ll_read_model_free(r->rm);
    ll_table_free(r->diffs);
    accounts_free(&r->built);
    ll_rm_writes_free(r->writes);
    free(r->behind);
    if (r->watermarks_rk != NULL) rd_kafka_destroy(r->watermarks_rk);
    ll_event_reader_free(r->store);
    PQfinish(r->pg);
    ll_rm_client_free(r->mongo);
}

int main(int argc, char **argv) {
    options_t o;
    const char *config = NULL;
    int parsed = parse(argc, argv, &o, &config);
    if (parsed != LL_CLI_GO) return parsed == LL_CLI_DONE ? 0 : EXIT_USAGE;
    static ll_config_t cfg;
    if (ll_cli_load_config("ledgerline-rebuild", config, &cfg) != 0) return EXIT_USAGE;
    static rebuild_t r;
    r.o = &o, r.cfg = &cfg;
    if (o.account && ll_uuid_parse(o.account, false, &r.account_id) != 0)
        return rebuild_fail(EXIT_USAGE, "--account must be a UUID");
    ll_error_t err = {""};
    ll_rm_library_init();
    int rc = start(&r, &err);
    if (rc == 0 && o.gc)
        rc = rebuild_gc(&r, &err) == 0 ? 0 : rebuild_fail(EXIT_USAGE, "%s", err.msg);
    else if (rc == 0)
        rc = rebuild_run(&r, &err);
    finish(&r);
    ll_rm_library_cleanup();
    return rc;
}
