/* ll_audit_events.c - `events`: the store's events in store order, filtered by account, type,
 * time, actor and transfer, at most --limit of them. */
#include "ll_audit.h"
#include "ll_event_codec.h"
#include "ll_limits.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define NEEDLE_BYTES (LL_ACTOR_BYTES_MAX * 6 + 16)

/* The text the canonical envelope holds for actor ("actor":"..." as the codec writes it, without
 * the braces) into needle. Returns 0, or EXIT_USAGE (said why). */
static int actor_needle(const char *actor, char needle[NEEDLE_BYTES]) {
    if (strlen(actor) > LL_ACTOR_BYTES_MAX)
        return audit_fail("--actor: longer than %d bytes, which no event's actor is", LL_ACTOR_BYTES_MAX);
    ll_error_t err = {""};
    json_t *one = json_pack("{s:s}", "actor", actor);
    size_t len = 0;
    int bad = one == NULL || ll_json_dump_canonical(one, needle, NEEDLE_BYTES - 1, &len, &err) != 0;
    json_decref(one);
    if (bad) return audit_fail("--actor: %s", err.msg[0] ? err.msg : "not UTF-8 text");
    memmove(needle, needle + 1, len - 2);
    needle[len - 2] = '\0';
    return 0;
}

/* The rows of res (envelopes) into t, those of --actor only. Returns 0 or the exit status. */
static int event_rows(ll_table_t *t, PGresult *res, const options_t *o) {
    ll_error_t err = {""};
    for (int i = 0; i < PQntuples(res); i++) {
        ll_event_t ev;
        if (ll_event_decode(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), &ev, &err) != 0) {
            fprintf(stderr, "ledgerline-audit: an undecodable event in store order %d: %s (run verify)\n",
                    i + 1, err.msg);
            return EXIT_FINDING;
        }
        if (o->actor != NULL && strcmp(o->actor, ev.actor) != 0) continue;
        if (add_event_row(t, &ev) != 0) return EXIT_USAGE;
    }
    return 0;
}

int audit_events(PGconn *pg, const options_t *o, const ll_config_t *cfg) {
    (void)cfg;
    char limit[16];
    snprintf(limit, sizeof limit, "%d", o->limit);
    /* The actor is filtered in SQL, before the LIMIT: --limit N gives N of that actor's events.
     * It has no column: first the text the canonical envelope holds for it, a substring test,
     * then the parsed value; parsing every envelope of a 10M-event store took 33 s, the
     * substring first 2.5 s. */
    char needle[NEEDLE_BYTES] = "";
    if (o->actor != NULL && actor_needle(o->actor, needle) != 0) return EXIT_USAGE;
    const char *params[8] = {o->account, o->type, o->since, o->until, o->transfer, limit, o->actor, needle};
    ll_error_t err = {""};
    PGresult *res = ll_pg_query(
        pg,
        "SELECT envelope FROM events WHERE ($1::uuid IS NULL OR account_id = $1::uuid)"
        " AND ($2::text IS NULL OR type = $2) AND ($3::timestamptz IS NULL OR occurred_at >= $3)"
        " AND ($4::timestamptz IS NULL OR occurred_at <= $4)"
        " AND ($5::uuid IS NULL OR transfer_id = $5::uuid)"
        " AND ($7::text IS NULL OR (strpos(envelope, $8) > 0 AND envelope::jsonb ->> 'actor' = $7))"
        " ORDER BY global_position LIMIT $6::int",
        8, params, PGRES_TUPLES_OK, &err);
    if (res == NULL) return audit_fail("%s", err.msg);
    ll_table_t *t = event_table_new();
    int rc = t ? event_rows(t, res, o) : EXIT_USAGE;
    PQclear(res);
    int prc = t ? print_table(t, o) : EXIT_USAGE;
    return rc ? rc : prc;
}
