/* ledgerline-rebuild: replays the event log into a NEW read-model generation while the live one
 * keeps serving, verifies it against the event store, catches it up and switches to it.
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
#include "ll_account.h"
#include "ll_cli.h"
#include "ll_clock.h"
#include "ll_event_codec.h"
#include "ll_kafka.h"
#include "ll_pg.h"
#include "ll_progress.h"
#include "ll_read_model.h"
#include "ll_read_model_writes.h"
#include "ll_replay.h"
#include "ll_rm_builder.h"
#include "ll_table.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_REFUSED 1 /* verification failed: not switched */
#define EXIT_USAGE   2 /* bad arguments, configuration, connection */

#define REBUILD_LOCK_KEY  "7301944"
#define FETCH_ROWS        "5000"
#define LATE_COMMIT_US    60000000LL /* a transaction commits within this of its event time */
#define DIFFERENCES_SHOWN 50
/* Before the switch, catch-up rounds go on until one applies fewer events than this (under load
 * a round never finds nothing); the settle phase after the switch takes the rest. */
#define SWITCH_REMAINDER_EVENTS 1000
#define CATCH_UP_ROUNDS_MAX     50 /* still above the remainder then: the load outpaces the rebuild */
#define LL_RESUME_PARTITIONS_MAX 1024

typedef struct {
    const char *from; /* "kafka" or "store" */
    const char *account;
    int64_t to_position;
    int dry_run, gc, json;
    int grace_s, settle_s;
    int writers; /* threads inserting the build's transactions */
} options_t;

static void usage(FILE *out) {
    fprintf(
        out,
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
        "                       1..16 (default 2); the reading and folding go on meanwhile\n"
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
        "  ledgerline-rebuild --gc --grace-seconds 0\n");
}

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("ledgerline-rebuild: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* ---- accounts by id: open addressing, grows ------------------------------------------------- */

typedef struct {
    ll_account_t st;
    uint64_t n_tx, sum_tx, xor_tx; /* checksum over its movements (wrapping: not money) */
    int used, seen, broken, written;
    int64_t in_generation; /* the version the new generation holds, as far as this run knows */
    ll_rm_page_buf_t *buf; /* the build: its page in progress */
    /* the verification's read-back: the account document, and the newest of its events after it */
    int64_t head_page, n_after;
    ll_rm_event_t newest;
} slot_t;

typedef struct {
    slot_t *slots;
    size_t cap, count;
} amap_t;

static slot_t *amap_find(amap_t *m, const ll_uuid_t *id, int create);

static int amap_grow(amap_t *m) {
    amap_t bigger = {calloc(m->cap ? m->cap * 2 : 4096, sizeof(slot_t)), m->cap ? m->cap * 2 : 4096, 0};
    if (bigger.slots == NULL) return -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].used) *amap_find(&bigger, &m->slots[i].st.account_id, 1) = m->slots[i];
    free(m->slots);
    *m = bigger;
    return 0;
}

/* The slot of id; created (empty stream) when create is set. NULL when absent or out of memory. */
static slot_t *amap_find(amap_t *m, const ll_uuid_t *id, int create) {
    if (create && (m->count + 1) * 2 > m->cap && amap_grow(m) != 0) return NULL;
    if (m->cap == 0) return NULL;
    for (size_t i = (size_t)(ll_uuid_hash(id) >> 17) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        slot_t *s = &m->slots[i];
        if (s->used && ll_uuid_equal(&s->st.account_id, id)) return s;
        if (!s->used) {
            if (!create) return NULL;
            memset(s, 0, sizeof *s);
            s->used = 1;
            ll_account_init(&s->st, id);
            m->count++;
            return s;
        }
    }
}

static void checksum_add(slot_t *s, const ll_uuid_t *event_id, int64_t amount_minor) {
    uint64_t head;
    memcpy(&head, event_id->bytes, 8);
    s->n_tx++;
    s->sum_tx += (uint64_t)amount_minor;
    s->xor_tx ^= head;
}

/* ---- the rebuild's state ------------------------------------------------------------------- */

typedef struct {
    const options_t *o;
    const ll_config_t *cfg;
    PGconn *pg;
    ll_rm_client_t *mongo;
    ll_read_model_t *rm;      /* the new generation */
    ll_rm_builder_t *builder; /* during the build: its writes */
    ll_rm_writes_t *writes;   /* the catch-up's */
    int64_t from_gen, to_gen, position;
    int64_t snapshot_us;  /* wall time the store snapshot was taken */
    ll_uuid_t account_id; /* --account, parsed */
    amap_t built;         /* what the build folded */
    int have_current;     /* store source: the account whose events stream now */
    ll_uuid_t current;
    size_t docs[3]; /* documents the build wrote: events, pages, accounts */
    int64_t events, duplicates, caught_up;
    ll_table_t *diffs;
    long n_diffs;
    void *diffs_ctx;   /* the verification in progress */
    ll_uuid_t *behind; /* accounts the store has more of (topic source): caught up first */
    size_t n_behind, cap_behind;
    rd_kafka_t *watermarks_rk; /* reads the topic's high watermarks (where projectors resume) */
    int64_t resume[LL_RESUME_PARTITIONS_MAX];
    int n_resume;
} rebuild_t;

static int note_behind(rebuild_t *r, const ll_uuid_t *id) {
    if (r->n_behind == r->cap_behind) {
        size_t cap = r->cap_behind ? r->cap_behind * 2 : 1024;
        ll_uuid_t *grown = realloc(r->behind, cap * sizeof *grown);
        if (grown == NULL) return -1;
        r->behind = grown, r->cap_behind = cap;
    }
    r->behind[r->n_behind++] = *id;
    return 0;
}

static void difference(rebuild_t *r, const ll_uuid_t *id, const char *what, const char *read_model,
                       const char *store) {
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(id, text);
    if (r->n_diffs++ < DIFFERENCES_SHOWN) {
        const char *row[] = {text, what, read_model, store};
        ll_table_add(r->diffs, row);
    }
}

/* Folds one event of the source into the built map and hands it to the builder. An account
 * whose events do not replay is a finding: listed, left out of the generation, and the switch
 * refused. */
static int build_event(rebuild_t *r, const ll_event_t *ev, ll_error_t *err) {
    slot_t *s = amap_find(&r->built, &ev->account_id, 1);
    if (s == NULL) return ll_error_set(err, LL_ENOMEM, "out of memory");
    if (s->broken) return 0;
    ll_error_t why = {""};
    ll_evolve_t v = ll_account_evolve(&s->st, ev, &why);
    if (v == LL_EVOLVE_DUPLICATE) { /* the topic may carry an event twice */
        r->duplicates++;
        return 0;
    }
    if (v != LL_EVOLVE_OK) {
        /* A broken store is a finding. From the topic, the account is left out and the store
         * decides: the verification sends it to the catch-up if the store has it. */
        char text[LL_UUID_TEXT_LEN + 1];
        ll_uuid_format(&ev->account_id, text);
        if (strcmp(r->o->from, "store") == 0)
            difference(r, &ev->account_id, "source does not replay", why.msg, "");
        else
            fprintf(stderr,
                    "\naccount %s left out (the topic's events do not replay: %s); the store decides\n", text,
                    why.msg);
        s->broken = 1;
        ll_rm_builder_forget(&s->buf);
        return 0;
    }
    r->events++;
    return ll_rm_builder_event(r->builder, &s->buf, ev, &s->st, err);
}

/* Writes the account's page in progress and its account document (not for a broken one). */
static int build_account_done(rebuild_t *r, slot_t *s, ll_error_t *err) {
    s->written = 1;
    if (s->broken || s->st.version == 0) {
        ll_rm_builder_forget(&s->buf);
        return 0;
    }
    s->in_generation = s->st.version;
    return ll_rm_builder_account(r->builder, &s->buf, &s->st, err);
}

/* Every account not written yet (the topic's accounts, the store's last). */
static int build_finish_accounts(rebuild_t *r, ll_error_t *err) {
    int rc = 0;
    for (size_t i = 0; i < r->built.cap && rc == 0; i++)
        if (r->built.slots[i].used && !r->built.slots[i].written)
            rc = build_account_done(r, &r->built.slots[i], err);
    return rc;
}

/* ---- sources ------------------------------------------------------------------------------- */

/* Opens the store snapshot every later read of the build and the verification shares. */
static int store_snapshot(rebuild_t *r, ll_error_t *err) {
    if (ll_pg_exec(r->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err) != 0) return LL_EIO;
    r->snapshot_us = ll_clock_wall_us();
    PGresult *res = ll_pg_query(r->pg, "SELECT coalesce(max(global_position), 0) FROM events", 0, NULL,
                                PGRES_TUPLES_OK, err);
    if (res == NULL) return LL_EIO;
    int64_t head = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    r->position = r->o->to_position > 0 && r->o->to_position < head ? r->o->to_position : head;
    return 0;
}

/* Streams the snapshot's events (up to the position, of the account if given) in account and
 * version order through a cursor; row(ctx, account_text, envelope, len) per row. */
static int store_stream(rebuild_t *r, const char *phase,
                        int (*row)(rebuild_t *, const char *, const char *, size_t, ll_error_t *),
                        ll_error_t *err) {
    char pos[24];
    snprintf(pos, sizeof pos, "%lld", (long long)r->position);
    const char *params[2] = {pos, r->o->account};
    PGresult *res = ll_pg_query(r->pg,
                                "SELECT count(*) FROM events WHERE global_position <= $1::bigint"
                                " AND ($2::uuid IS NULL OR account_id = $2::uuid)",
                                2, params, PGRES_TUPLES_OK, err);
    if (res == NULL) return LL_EIO;
    ll_progress_t p;
    ll_progress_start(&p, phase, "events", strtoll(PQgetvalue(res, 0, 0), NULL, 10));
    PQclear(res);
    res = ll_pg_query(
        r->pg,
        "DECLARE rebuild_cursor NO SCROLL CURSOR FOR SELECT account_id::text, envelope FROM events"
        " WHERE global_position <= $1::bigint AND ($2::uuid IS NULL OR account_id = $2::uuid)"
        " ORDER BY account_id, version",
        2, params, PGRES_COMMAND_OK, err);
    PQclear(res);
    int rc = res ? 0 : LL_EIO;
    while (rc == 0) {
        res = ll_pg_query(r->pg, "FETCH " FETCH_ROWS " FROM rebuild_cursor", 0, NULL, PGRES_TUPLES_OK, err);
        if (res == NULL) {
            rc = LL_EIO;
            break;
        }
        int n = PQntuples(res);
        for (int i = 0; i < n && rc == 0; i++)
            rc = row(r, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1), err);
        PQclear(res);
        p.done += n;
        ll_progress_show(&p, n == 0);
        if (n == 0) break;
    }
    if (rc == 0 && ll_pg_exec(r->pg, "CLOSE rebuild_cursor", err) != 0) rc = LL_EIO;
    return rc;
}

static int build_row(rebuild_t *r, const char *account, const char *text, size_t len, ll_error_t *err) {
    ll_event_t ev;
    ll_error_t why = {""};
    ll_uuid_t id;
    if (ll_uuid_parse(account, false, &id) != 0)
        return ll_error_set(err, LL_EINVAL, "bad account id in the store");
    /* The store streams account after account: one is complete when the next begins, so only
     * one page in progress is ever held. */
    if (r->have_current && !ll_uuid_equal(&id, &r->current)) {
        slot_t *prev = amap_find(&r->built, &r->current, 0);
        if (prev != NULL && build_account_done(r, prev, err) != 0) return LL_EIO;
    }
    r->current = id, r->have_current = 1;
    if (ll_event_decode(text, len, &ev, &why) == 0) return build_event(r, &ev, err);
    slot_t *s = amap_find(&r->built, &id, 1);
    if (s == NULL) return ll_error_set(err, LL_ENOMEM, "out of memory");
    if (!s->broken) difference(r, &id, "stored event does not decode", why.msg, "");
    s->broken = 1;
    return 0;
}

/* The topic from offset 0 up to the high watermarks seen at the start, every partition. */
static int build_from_kafka(rebuild_t *r, ll_error_t *err) {
    const char *topic = r->cfg->kafka_topic_events;
    const char *const settings[] = {"bootstrap.servers",
                                    r->cfg->kafka_bootstrap_servers,
                                    "group.id",
                                    "ledgerline-rebuild",
                                    "enable.auto.commit",
                                    "false",
                                    "enable.partition.eof",
                                    "true",
                                    "client.id",
                                    "ledgerline-rebuild",
                                    NULL};
    rd_kafka_t *rk = ll_kafka_client(RD_KAFKA_CONSUMER, NULL, settings, err);
    if (rk == NULL) return LL_EINVAL;
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    int n = e == 0 && md->topic_cnt == 1 && md->topics[0].err == 0 ? md->topics[0].partition_cnt : 0;
    if (md) rd_kafka_metadata_destroy(md);
    int rc =
        n > 0 ? 0
              : ll_error_set(err, LL_EIO, "topic %s: %s", topic, e ? rd_kafka_err2str(e) : "no partitions");
    int64_t *high = calloc((size_t)(n > 0 ? n : 1), sizeof *high), total = 0;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
    for (int i = 0; rc == 0 && i < n; i++) {
        int64_t lo;
        e = rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &high[i], 10000);
        if (e) rc = ll_error_set(err, LL_EIO, "partition %d: %s", i, rd_kafka_err2str(e));
        total += high[i] - lo;
        rd_kafka_topic_partition_list_add(parts, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    /* Every event below these watermarks was committed before the store snapshot taken now, so
     * the verification finds each in the store. */
    if (rc == 0 && (rc = store_snapshot(r, err)) == 0 && (e = rd_kafka_assign(rk, parts)) != 0)
        rc = ll_error_set(err, LL_EIO, "assign: %s", rd_kafka_err2str(e));
    ll_progress_t p;
    ll_progress_start(&p, "build", "events", total);
    int open_parts = 0;
    for (int i = 0; i < n; i++) {
        if (high[i] > 0)
            open_parts++;
        else
            high[i] = -1; /* empty: nothing to wait for */
    }
    while (rc == 0 && open_parts > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
        if (m == NULL) continue;
        int32_t part = m->partition;
        int at_end =
            m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || (m->err == 0 && m->offset + 1 >= high[part]);
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rc = ll_error_set(err, LL_EIO, "consume: %s", rd_kafka_message_errstr(m));
        } else if (m->err == 0 && m->offset < high[part]) {
            ll_event_t ev;
            ll_error_t why = {""};
            p.done++;
            if (ll_event_decode(m->payload, m->len, &ev, &why) != 0)
                fprintf(stderr,
                        "\nskipped an undecodable message at %d/%lld (the projector dead-letters it): %s\n",
                        part, (long long)m->offset, why.msg);
            else if ((r->o->account == NULL || ll_uuid_equal(&ev.account_id, &r->account_id)) &&
                     ev.global_position <= r->position)
                rc = build_event(r, &ev, err);
        }
        if (at_end && high[part] >= 0) {
            high[part] = -1; /* done with it */
            open_parts--;
        }
        rd_kafka_message_destroy(m);
        ll_progress_show(&p, 0);
    }
    ll_progress_show(&p, 1);
    rd_kafka_topic_partition_list_destroy(parts);
    free(high);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- verification: what MongoDB holds against an independent replay of the store ------------ */

typedef struct {
    rebuild_t *r;
    ll_error_t *err;
    amap_t stored; /* read back from the new generation */
    slot_t cur;    /* the store's replay of the account being read */
    slot_t *target;
    slot_t *page_slot; /* the account of the page being read back */
    int cur_open, cur_broken, cur_behind;
} verify_t;

/* Adds a statement item (JSON text) to s's checksum; -1 when it is not one of ours. */
static int checksum_item(slot_t *s, const char *json, size_t len) {
    json_t *o = json_loadb(json, len, 0, NULL);
    ll_uuid_t event_id;
    json_t *id = json_object_get(o, "event_id"), *amount = json_object_get(o, "amount_minor");
    int ok = json_is_string(id) && json_is_integer(amount) &&
             ll_uuid_parse(json_string_value(id), false, &event_id) == 0;
    if (ok) checksum_add(s, &event_id, (int64_t)json_integer_value(amount));
    json_decref(o);
    return ok ? 0 : -1;
}

static int on_account(void *ctx, const ll_rm_account_t *a) {
    verify_t *v = ctx;
    slot_t *s = amap_find(&v->stored, &a->state.account_id, 1);
    if (s == NULL) return ll_error_set(v->err, LL_ENOMEM, "out of memory");
    s->st = a->state;
    s->head_page = a->head_page;
    return 0;
}

/* The account of an events_g or pages_g document (an orphan shows as an account at version 0). */
static slot_t *account_slot(verify_t *v, const ll_uuid_t *account) {
    slot_t *s = amap_find(&v->stored, account, 1);
    if (s == NULL) ll_error_set(v->err, LL_ENOMEM, "out of memory");
    return s;
}

/* An event after the account document: its newest counts if they follow on (verify_finish). */
static int on_event(void *ctx, const ll_uuid_t *account, int64_t version, const ll_rm_event_t *e) {
    verify_t *v = ctx;
    slot_t *s = account_slot(v, account);
    if (s == NULL) return LL_ENOMEM;
    if (version < ll_rm_page_first(s->head_page)) return 0; /* its page is sealed: counted there */
    if (e->item != NULL && checksum_item(s, e->item, e->item_len) != 0)
        return ll_error_set(v->err, LL_EINVAL, "an events document's item is not ledgerline's");
    if (version <= s->st.version) return 0;
    s->n_after++;
    if (version > s->newest.version) s->newest = *e;
    s->newest.item = NULL, s->newest.account = NULL; /* point into a document gone after this call */
    return 0;
}

static int on_page(void *ctx, const ll_uuid_t *account, int64_t page) {
    verify_t *v = ctx;
    (void)page;
    return (v->page_slot = account_slot(v, account)) == NULL ? LL_ENOMEM : 0;
}

/* A page's item; the page's items after one that is not ours are not counted. */
static int on_page_item(void *ctx, int64_t version, const char *json, uint32_t len) {
    (void)version;
    return checksum_item(((verify_t *)ctx)->page_slot, json, len) != 0 ? 1 : 0;
}

/* Each account's state: its document, then its events after it when they follow on (else the
 * document's state stays, and the comparison shows what is missing). */
static void verify_finish_read_back(verify_t *v) {
    for (size_t i = 0; i < v->stored.cap; i++) {
        slot_t *s = &v->stored.slots[i];
        if (s->used && s->n_after > 0 && s->newest.version - s->st.version == s->n_after)
            ll_rm_event_apply(&s->st, &s->newest);
    }
}

static void fmt_state(char *out, size_t size, const slot_t *s) {
    snprintf(out, size, "v%lld %s %lld held %lld limit %lld%s, %llu tx sum %llu ids %016llx",
             (long long)s->st.version, ll_account_status_name(s->st.status), (long long)s->st.balance_minor,
             (long long)s->st.held_minor, (long long)s->st.overdraft_limit_minor,
             s->st.frozen ? " frozen" : "", (unsigned long long)s->n_tx, (unsigned long long)s->sum_tx,
             (unsigned long long)s->xor_tx);
}

/* The figures of an account (a hold, a limit or a freeze may change nothing else). */
static int same_figures(const ll_account_t *a, const ll_account_t *b) {
    return a->balance_minor == b->balance_minor && a->held_minor == b->held_minor &&
           a->overdraft_limit_minor == b->overdraft_limit_minor && a->frozen == b->frozen;
}

/* Compares the finished replay of one account (v->cur) with its stored documents. */
static void verify_close(verify_t *v) {
    if (!v->cur_open) return;
    v->cur_open = 0;
    slot_t *t = v->target, *c = &v->cur;
    char got[224] = "", want[224];
    fmt_state(want, sizeof want, c);
    if (t == NULL || v->cur_behind) {
        /* From the topic, events the relay has not published yet are the catch-up's. */
        if (strcmp(v->r->o->from, "store") == 0 && !v->cur_broken)
            difference(v->r, &c->st.account_id, "missing in the new generation", "", want);
        else if (note_behind(v->r, &c->st.account_id) != 0)
            difference(v->r, &c->st.account_id, "out of memory", "", "");
        if (t == NULL) return;
    }
    t->seen = 1;
    if (v->cur_broken) return;
    fmt_state(got, sizeof got, t);
    if (t->st.version != c->st.version || !same_figures(&t->st, &c->st) || t->st.status != c->st.status ||
        strcmp(t->st.head_hash, c->st.head_hash) != 0 || t->n_tx != c->n_tx || t->sum_tx != c->sum_tx ||
        t->xor_tx != c->xor_tx)
        difference(v->r, &c->st.account_id,
                   t->st.version > c->st.version ? "ahead of the store" : "differs from the store", got,
                   want);
}

static int verify_row(rebuild_t *r, const char *account, const char *text, size_t len, ll_error_t *err) {
    (void)err;
    verify_t *v = (verify_t *)r->diffs_ctx;
    ll_uuid_t id;
    if (ll_uuid_parse(account, false, &id) != 0)
        return ll_error_set(err, LL_EINVAL, "bad account id in the store");
    if (!v->cur_open || !ll_uuid_equal(&id, &v->cur.st.account_id)) {
        verify_close(v);
        memset(&v->cur, 0, sizeof v->cur);
        ll_account_init(&v->cur.st, &id);
        v->target = amap_find(&v->stored, &id, 0);
        v->cur_open = 1;
        v->cur_broken = v->cur_behind = 0;
    }
    if (v->cur_broken) return 0;
    if (v->target && v->cur.st.version >= v->target->st.version && v->target->st.version > 0) {
        v->cur_behind = 1; /* the store has more than the generation: the catch-up's */
        return 0;
    }
    ll_event_t ev;
    ll_error_t why = {""};
    if (ll_replay_envelope(&v->cur.st, text, len, &ev, &why) != 0) {
        /* Tampering or damage in the store: never switch over it. */
        difference(r, &id, "store event does not replay", "", why.msg);
        v->cur_broken = 1;
        return 0;
    }
    if (ll_event_is_movement(ev.type)) checksum_add(&v->cur, &ev.event_id, ev.data.movement.amount_minor);
    return 0;
}

static int verify(rebuild_t *r, ll_error_t *err) {
    verify_t v;
    memset(&v, 0, sizeof v);
    v.r = r;
    v.err = err;
    r->diffs_ctx = &v;
    /* Accounts first: an event or a page counts by where its account document says pages end. */
    int rc = ll_read_model_scan_accounts(r->rm, on_account, &v, err);
    if (rc == 0) rc = ll_read_model_scan_events(r->rm, on_event, &v, err);
    if (rc == 0) rc = ll_read_model_scan_pages(r->rm, on_page, on_page_item, &v, err);
    if (rc == 0) verify_finish_read_back(&v);
    if (rc == 0) rc = store_stream(r, "verify", verify_row, err);
    if (rc == 0) verify_close(&v);
    for (size_t i = 0; rc == 0 && i < v.stored.cap; i++) {
        slot_t *s = &v.stored.slots[i];
        if (!s->used || s->seen) continue;
        char got[224];
        fmt_state(got, sizeof got, s);
        difference(r, &s->st.account_id,
                   s->st.version == 0 ? "events or pages of no account" : "not in the store", got, "");
    }
    free(v.stored.slots);
    r->diffs_ctx = NULL;
    return rc;
}

/* ---- catch-up: what was committed since, found per account ----------------------------------- */

/* Brings one account of the new generation up to the store (events after its version). Returns
 * the events applied, or -1 with err set. Another writer (the live projector, after the switch)
 * moving it meanwhile makes it start again from the document. */
static void on_catch_up_conflict(void *ctx, int tag) {
    (void)tag;
    *(int *)ctx = 1;
}

static int64_t catch_up_account(rebuild_t *r, const ll_uuid_t *id, ll_error_t *err) {
    for (int attempt = 0; attempt < 5; attempt++) {
        ll_rm_account_t acc, after;
        bool found;
        if (ll_read_model_load(r->rm, id, &acc, &found, NULL, err) != 0) return -1;
        char idt[LL_UUID_TEXT_LEN + 1], from[24];
        ll_uuid_format(id, idt);
        snprintf(from, sizeof from, "%lld", (long long)acc.state.version);
        const char *params[2] = {idt, from};
        PGresult *res =
            ll_pg_query(r->pg,
                        "SELECT envelope FROM events WHERE account_id = $1::uuid AND version > $2::bigint"
                        " ORDER BY version LIMIT 10000",
                        2, params, PGRES_TUPLES_OK, err);
        if (res == NULL) return -1;
        int n = PQntuples(res), rc = 0, moved = 0;
        ll_event_t *events = n > 0 ? calloc((size_t)n, sizeof *events) : NULL;
        if (n > 0 && events == NULL) rc = ll_error_set(err, LL_ENOMEM, "out of memory");
        ll_account_t a = acc.state;
        for (int i = 0; i < n && rc == 0; i++)
            if (ll_replay_envelope(&a, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), &events[i],
                                   err) != 0)
                rc = LL_EINVAL;
        PQclear(res);
        ll_rm_writes_clear(r->writes);
        if (rc == 0 && n > 0)
            rc = ll_rm_writes_add(r->writes, &acc, NULL, events, (size_t)n, &after, 0, err) ||
                 ll_rm_writes_execute(r->writes, r->rm, on_catch_up_conflict, &moved, err);
        free(events);
        if (rc != 0) return -1;
        if (!moved) {
            slot_t *s = amap_find(&r->built, id, 0);
            if (s != NULL) s->in_generation = acc.state.version + n;
            return n;
        }
    }
    return ll_error_set(err, LL_EIO, "an account kept moving during the catch-up"), -1;
}

/* One round over the accounts whose last event is younger than since_us. Returns the events
 * applied, or -1. */
static int64_t catch_up_round(rebuild_t *r, int64_t since_us, ll_error_t *err) {
    char since[24];
    snprintf(since, sizeof since, "%lld", (long long)since_us);
    const char *params[2] = {since, r->o->account};
    PGresult *res =
        ll_pg_query(r->pg,
                    "SELECT account_id::text, version FROM account_state WHERE updated_at_us >= $1::bigint"
                    " AND ($2::uuid IS NULL OR account_id = $2::uuid)",
                    2, params, PGRES_TUPLES_OK, err);
    if (res == NULL) return -1;
    int64_t applied = 0;
    for (int i = 0; i < PQntuples(res) && applied >= 0; i++) {
        ll_uuid_t id;
        ll_uuid_parse(PQgetvalue(res, i, 0), false, &id);
        /* Already in the generation at the store's version (built or caught up by this run):
         * nothing to read. Only accounts that moved since cost a read-model lookup. */
        const slot_t *known = amap_find(&r->built, &id, 0);
        if (known != NULL && known->in_generation >= strtoll(PQgetvalue(res, i, 1), NULL, 10)) continue;
        int64_t n = catch_up_account(r, &id, err);
        applied = n < 0 ? -1 : applied + n;
    }
    PQclear(res);
    return applied;
}

/* Reads the events topic's high watermarks into r->resume: every event committed from now on is
 * published at or after them. Returns 0 or LL_EIO. */
static int read_resume(rebuild_t *r, ll_error_t *err) {
    const char *topic = r->cfg->kafka_topic_events;
    if (r->watermarks_rk == NULL) {
        const char *const settings[] = {"bootstrap.servers", r->cfg->kafka_bootstrap_servers, "client.id",
                                        "ledgerline-rebuild", NULL};
        if ((r->watermarks_rk = ll_kafka_client(RD_KAFKA_PRODUCER, NULL, settings, err)) == NULL) return LL_EIO;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(r->watermarks_rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(r->watermarks_rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    int n = e == 0 && md->topic_cnt == 1 && md->topics[0].err == 0 ? md->topics[0].partition_cnt : 0;
    if (md) rd_kafka_metadata_destroy(md);
    if (n <= 0 || n > LL_RESUME_PARTITIONS_MAX)
        return ll_error_set(err, LL_EIO, "topic %s: %s", topic, e ? rd_kafka_err2str(e) : "no partitions");
    for (int i = 0; i < n; i++) {
        int64_t lo;
        if ((e = rd_kafka_query_watermark_offsets(r->watermarks_rk, topic, i, &lo, &r->resume[i], 10000)) != 0)
            return ll_error_set(err, LL_EIO, "topic %s partition %d: %s", topic, i, rd_kafka_err2str(e));
    }
    r->n_resume = n;
    return 0;
}

/* First the accounts the verification found behind the store, then rounds over the recently
 * changed ones: with until_ms 0, until a round applies fewer than SWITCH_REMAINDER_EVENTS
 * (an error after CATCH_UP_ROUNDS_MAX rounds); else until until_ms. Before the switch, every
 * round first reads where projectors would resume (read_resume): the last round's is recorded
 * with the switch, since every event committed before that round began is in the generation
 * when it ends. */
static int catch_up(rebuild_t *r, const char *phase, int64_t until_ms, ll_error_t *err) {
    for (size_t i = 0; i < r->n_behind; i++) {
        int64_t n = catch_up_account(r, &r->behind[i], err);
        if (n < 0) return LL_EIO;
        r->caught_up += n;
    }
    r->n_behind = 0;
    int64_t since_us = r->snapshot_us - LATE_COMMIT_US;
    for (int round = 1;; round++) {
        if (until_ms == 0 && read_resume(r, err) != 0) return LL_EIO;
        int64_t round_us = ll_clock_wall_us();
        int64_t n = catch_up_round(r, since_us, err);
        if (n < 0) return LL_EIO;
        r->caught_up += n;
        if (n > 0) fprintf(stderr, "%s: %lld events applied\n", phase, (long long)n);
        since_us = round_us - LATE_COMMIT_US;
        if (until_ms == 0 && n < SWITCH_REMAINDER_EVENTS) return 0;
        if (until_ms == 0 && round == CATCH_UP_ROUNDS_MAX)
            return ll_error_set(err, LL_EIO,
                                "still %lld events behind after %d rounds: the load outpaces the "
                                "catch-up; not switched (run it again at a quieter time)",
                                (long long)n, round);
        if (until_ms > 0 && ll_clock_ms() >= until_ms) return 0;
        ll_sleep_ms(200);
    }
}

/* ---- generations: gc ------------------------------------------------------------------------ */

static int gc(rebuild_t *r, ll_error_t *err) {
    int64_t gens[64], active, layout;
    size_t n = 0;
    if (ll_read_model_active_any_layout(r->mongo, &active, &layout, err) != 0 ||
        ll_read_model_generations(r->mongo, gens, 64, &n, err) != 0)
        return LL_EIO;
    int64_t now_us = ll_clock_wall_us();
    int dropped = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t retired_us = 0;
        if (gens[i] == active) continue;
        if (gens[i] < active && ll_read_model_retired_at(r->mongo, gens[i], &retired_us, err)) return LL_EIO;
        /* Above the active one: left by an interrupted rebuild (none runs: we hold the lock). */
        int old = gens[i] > active || now_us - retired_us >= (int64_t)r->o->grace_s * 1000000;
        fprintf(stderr, "generation %lld: %s\n", (long long)gens[i],
                gens[i] > active ? "left by an interrupted rebuild: dropped"
                : old            ? "retired past the grace period: dropped"
                                 : "retired within the grace period: kept");
        if (old && ll_read_model_drop_generation(r->mongo, gens[i], err) != 0)
            return LL_EIO;
        dropped += old;
    }
    if (r->o->json)
        printf("{\"active_generation\":%lld,\"generations_dropped\":%d}\n", (long long)active, dropped);
    else
        printf("active generation %lld; %d generation(s) dropped\n", (long long)active, dropped);
    return 0;
}

/* ---- main ---------------------------------------------------------------------------------- */

static int parse(int argc, char **argv, options_t *o, const char **config) {
    *o = (options_t){.from = "kafka", .to_position = -1, .grace_s = 3600, .settle_s = 15, .writers = 2};
    for (int i = 1; i < argc; i++) {
        int bad = 0, v = 0;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            *config = argv[++i];
        } else if (!strcmp(argv[i], "--from") && i + 1 < argc) {
            o->from = argv[++i];
            bad = strcmp(o->from, "kafka") != 0 && strcmp(o->from, "store") != 0;
        } else if (!strcmp(argv[i], "--account") && i + 1 < argc) {
            o->account = argv[++i];
        } else if (!strcmp(argv[i], "--to-position") && i + 1 < argc) {
            char *end = NULL;
            o->to_position = strtoll(argv[++i], &end, 10);
            bad = *end != '\0' || o->to_position < 1;
        } else if (!strcmp(argv[i], "--settle-seconds") && i + 1 < argc) {
            bad = ll_cli_int_arg(argv[++i], 0, 3600, &o->settle_s);
        } else if (!strcmp(argv[i], "--writers") && i + 1 < argc) {
            bad = ll_cli_int_arg(argv[++i], 1, 16, &o->writers);
        } else if (!strcmp(argv[i], "--grace-seconds") && i + 1 < argc) {
            bad = ll_cli_int_arg(argv[++i], 0, 365 * 86400, &v), o->grace_s = v;
        } else if (!strcmp(argv[i], "--dry-run")) {
            o->dry_run = 1;
        } else if (!strcmp(argv[i], "--gc")) {
            o->gc = 1;
        } else if (!strcmp(argv[i], "--json")) {
            o->json = 1;
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "ledgerline-rebuild: bad argument '%s'\n", argv[i]);
            usage(stderr);
            return -1;
        }
    }
    return 0;
}

static void summary(const rebuild_t *r, int verified, int switched, int64_t seconds_ms) {
    double s = (double)seconds_ms / 1e3;
    double rate = s > 0 ? (double)r->events / s : 0;
    if (r->o->json) {
        printf(
            "{\"source\":\"%s\",\"from_generation\":%lld,\"generation\":%lld,\"position\":%lld,\"events\":%"
            "lld,"
            "\"duplicates_skipped\":%lld,\"accounts\":%zu,\"build_seconds\":%.3f,\"events_per_second\":%.0f,"
            "\"writers\":%d,\"documents\":{\"events\":%zu,\"pages\":%zu,\"accounts\":%zu},\"verified\":%s,"
            "\"differences\":%ld,\"caught_up_events\":%lld,\"switched\":%s}\n",
            r->o->from, (long long)r->from_gen, (long long)r->to_gen, (long long)r->position,
            (long long)r->events, (long long)r->duplicates, r->built.count, s, rate, r->o->writers,
            r->docs[0], r->docs[1], r->docs[2], verified ? "true" : "false", r->n_diffs,
            (long long)r->caught_up, switched ? "true" : "false");
    } else {
        printf("generation %lld from %s up to position %lld: %lld events, %zu accounts in %.1f s (%.0f "
               "events/s); "
               "%s; %lld events caught up; %s\n",
               (long long)r->to_gen, r->o->from, (long long)r->position, (long long)r->events, r->built.count,
               s, rate, verified ? "verified" : "VERIFICATION FAILED", (long long)r->caught_up,
               switched   ? "switched: generation is now active"
               : verified ? "not switched (dry run or partial)"
                          : "not switched");
    }
    fflush(stdout);
}

/* Build, verify, catch up, switch and settle (or, dry or partial, drop). Returns the exit status. */
static int run_rebuild(rebuild_t *r, ll_error_t *err) {
    const options_t *o = r->o;
    int rc = 0;
    int partial = o->account != NULL || o->to_position > 0, verified = 0, switched = 0;
    int64_t t0 = ll_clock_ms(), build_ms = 0;
    int64_t layout = 0;
    if (ll_read_model_active_any_layout(r->mongo, &r->from_gen, &layout, err) != 0)
        rc = fail(EXIT_USAGE, "read models: %s", err->msg);
    else if (layout != LL_READ_MODEL_LAYOUT)
        fprintf(stderr, "generation %lld has layout %lld: building layout %d\n", (long long)r->from_gen,
                (long long)layout, LL_READ_MODEL_LAYOUT);
    r->to_gen = r->from_gen + 1;
    if (rc == 0)
        fprintf(stderr, "rebuilding generation %lld from %s while generation %lld serves\n",
                (long long)r->to_gen, o->from, (long long)r->from_gen);
    /* A generation above the active one is a rebuild's that did not finish: start over. */
    if (rc == 0 && (ll_read_model_drop_generation(r->mongo, r->to_gen, err) != 0 ||
                    (r->rm = ll_read_model_new(r->mongo, r->to_gen, err)) == NULL))
        rc = fail(EXIT_USAGE, "new generation: %s", err->msg);
    if (rc == 0 && ((r->writes = ll_rm_writes_new()) == NULL ||
                    (r->builder = ll_rm_builder_start(r->cfg->mongo_uri, r->cfg->mongo_database, r->to_gen,
                                                      o->writers, err)) == NULL))
        rc = fail(EXIT_USAGE, "new generation: %s", r->writes ? err->msg : "out of memory");
    if (rc == 0) {
        int b = strcmp(o->from, "store") == 0
                    ? (store_snapshot(r, err) || store_stream(r, "build", build_row, err))
                    : build_from_kafka(r, err);
        if (b == 0) b = build_finish_accounts(r, err);
        /* Every write lands before the verification reads them back. */
        ll_rm_builder_counts(r->builder, &r->docs[0], &r->docs[1], &r->docs[2]);
        ll_error_t werr = {""};
        int w = ll_rm_builder_finish(r->builder, &werr);
        r->builder = NULL;
        if (b == 0 && w != 0) *err = werr, b = w;
        build_ms = ll_clock_ms() - t0;
        if (b != 0) rc = r->n_diffs ? EXIT_REFUSED : fail(EXIT_USAGE, "build: %s", err->msg);
    }
    if (rc == 0) {
        if (verify(r, err) != 0) rc = fail(EXIT_USAGE, "verify: %s", err->msg);
        verified = rc == 0 && r->n_diffs == 0;
        if (rc == 0 && !verified) rc = EXIT_REFUSED;
    }
    if (r->pg) ll_pg_exec(r->pg, "COMMIT", err); /* the snapshot's read-only transaction */
    if (rc == 0 && !o->dry_run && !partial) {
        if (catch_up(r, "catch-up", 0, err) != 0)
            rc = fail(EXIT_USAGE, "catch-up: %s", err->msg);
        else if (ll_read_model_save_resume(r->mongo, r->to_gen, r->cfg->kafka_topic_events, r->resume, r->n_resume,
                                           err) != 0)
            rc = fail(EXIT_USAGE, "record where projectors resume: %s", err->msg);
        else if (ll_read_model_switch(r->mongo, r->from_gen, r->to_gen, ll_clock_wall_us(), err) != 0)
            rc = fail(EXIT_USAGE, "switch: %s", err->msg);
        else
            switched = 1;
        if (switched) {
            fprintf(stderr, "switched to generation %lld; catching up for %d s while readers move over\n",
                    (long long)r->to_gen, o->settle_s);
            if (catch_up(r, "settle", ll_clock_ms() + (int64_t)o->settle_s * 1000, err) != 0)
                rc = fail(EXIT_USAGE, "settle: %s (the switch stands; run again to finish)", err->msg);
        }
    }
    if (r->n_diffs > 0) {
        fprintf(stderr, "%ld difference(s) between the new generation and the event store%s:\n", r->n_diffs,
                r->n_diffs > DIFFERENCES_SHOWN ? " (the first 50)" : "");
        ll_table_print(r->diffs, o->json ? LL_TABLE_JSON : LL_TABLE_TEXT, stderr);
    }
    if (!switched && r->rm != NULL && (o->dry_run || partial || rc != 0))
        ll_read_model_drop_generation(r->mongo, r->to_gen, err); /* never serves */
    if (r->rm != NULL) summary(r, verified, switched, build_ms);
    return rc;
}

int main(int argc, char **argv) {
    options_t o;
    const char *config = NULL;
    if (parse(argc, argv, &o, &config) != 0) return EXIT_USAGE;
    static ll_config_t cfg;
    if (ll_cli_load_config("ledgerline-rebuild", config, &cfg) != 0) return EXIT_USAGE;
    static rebuild_t r;
    r.o = &o, r.cfg = &cfg;
    if (o.account && ll_uuid_parse(o.account, false, &r.account_id) != 0)
        return fail(EXIT_USAGE, "--account must be a UUID");
    static const ll_table_column_t cols[] = {
        {"account_id", 0}, {"difference", 0}, {"new_generation", 0}, {"event_store", 0}};
    ll_error_t err = {""};
    ll_rm_library_init();
    int rc = 0;
    r.mongo = ll_rm_client_new(cfg.mongo_uri, cfg.mongo_database, NULL, &err);
    r.pg = ll_pg_connect(cfg.pg_conninfo, &err);
    r.diffs = ll_table_new(cols, sizeof cols / sizeof cols[0]);
    PGresult *lock = r.pg ? ll_pg_query(r.pg, "SELECT pg_try_advisory_lock(" REBUILD_LOCK_KEY ")", 0, NULL,
                                        PGRES_TUPLES_OK, &err)
                          : NULL;
    if (r.mongo == NULL || lock == NULL || r.diffs == NULL)
        rc = fail(EXIT_USAGE, "cannot start: %s", err.msg[0] ? err.msg : "mongo_uri or memory");
    else if (strcmp(PQgetvalue(lock, 0, 0), "t") != 0)
        rc = fail(EXIT_USAGE, "another ledgerline-rebuild is running (advisory lock " REBUILD_LOCK_KEY ")");
    PQclear(lock);
    if (rc == 0 && o.gc) {
        rc = gc(&r, &err) == 0 ? 0 : fail(EXIT_USAGE, "%s", err.msg);
    } else if (rc == 0) {
        rc = run_rebuild(&r, &err);
    }
    ll_read_model_free(r.rm);
    ll_table_free(r.diffs);
    for (size_t i = 0; i < r.built.cap; i++) ll_rm_builder_forget(&r.built.slots[i].buf);
    free(r.built.slots);
    ll_rm_writes_free(r.writes);
    free(r.behind);
    if (r.watermarks_rk != NULL) rd_kafka_destroy(r.watermarks_rk);
    PQfinish(r.pg);
    ll_rm_client_free(r.mongo);
    ll_rm_library_cleanup();
    return rc;
}
