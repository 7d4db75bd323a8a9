/* ll_event_search.c - the store's events in store order, filtered (ledgerline-audit events).
 * See ll_event_reader.h. */
#include "ll_event_reader.h"
#include "ll_event_codec.h"
#include "ll_event_reader_sql.h"
#include "ll_limits.h"
#include "ll_pg.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define NEEDLE_BYTES (LL_ACTOR_BYTES_MAX * 6 + 16)

/* The text the canonical envelope holds for actor ("actor":"..." as the codec writes it, without
 * the braces) into needle. Returns 0, or LL_EINVAL with err set (no event's actor is it). */
static int actor_needle(const char *actor, char needle[NEEDLE_BYTES], ll_error_t *err) {
    if (strlen(actor) > LL_ACTOR_BYTES_MAX)
        return ll_error_set(err, LL_EINVAL, "longer than %d bytes, which no event's actor is", LL_ACTOR_BYTES_MAX);
    ll_error_t why = {""};
    json_t *one = json_pack("{s:s}", "actor", actor);
    size_t len = 0;
    int bad = one == NULL || ll_json_dump_canonical(one, needle, NEEDLE_BYTES - 1, &len, &why) != 0;
    json_decref(one);
    if (bad) return ll_error_set(err, LL_EINVAL, "%s", why.msg[0] ? why.msg : "not UTF-8 text");
    memmove(needle, needle + 1, len - 2);
    needle[len - 2] = '\0';
    return 0;
}

int64_t ll_event_reader_search(ll_event_reader_t *r, const ll_event_search_t *q, ll_envelope_fn each, void *ctx,
                               ll_error_t *err) {
    char limit[16], needle[NEEDLE_BYTES] = "";
    snprintf(limit, sizeof limit, "%d", q->limit);
    /* The actor has no column: the substring the envelope must hold first, then the parsed
     * value (parsing every envelope of a 10M-event store took 33 s, the substring first 2.5 s),
     * both before the LIMIT: a limit of N gives N of that actor's events. */
    if (q->actor != NULL && actor_needle(q->actor, needle, err) != 0) return LL_EINVAL;
    PGconn *conn = ll_event_reader_conn(r, err);
    if (conn == NULL) return LL_EIO;
    const char *params[8] = {q->account, q->type, q->since, q->until, q->transfer, limit, q->actor, needle};
    /* Planned for the filters given (not prepared): an index serves the account, the transfer or
     * the time when given, store order otherwise. */
    PGresult *res = ll_pg_query(conn, LL_EVENT_SEARCH_SELECT, 8, params, PGRES_TUPLES_OK, err);
    if (res == NULL) return LL_EIO;
    int n = PQntuples(res), i = 0;
    while (i < n && each(ctx, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0)) == 0) i++;
    PQclear(res);
    return i < n ? i + 1 : n;
}
