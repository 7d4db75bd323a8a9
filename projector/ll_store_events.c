/* ll_store_events.c - see ll_store_events.h. */
#include "ll_store_events.h"

#include "ll_event_codec.h"
#include "ll_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ll_store_events {
    char *conninfo;
    long long timeout_ms;
    PGconn *pg;
};

ll_store_events_t *ll_store_events_new(const char *conninfo, long long statement_timeout_ms) {
    ll_store_events_t *s = calloc(1, sizeof *s);
    if (s == NULL || (s->conninfo = strdup(conninfo)) == NULL) {
        free(s);
        return NULL;
    }
    s->timeout_ms = statement_timeout_ms;
    return s;
}

void ll_store_events_free(ll_store_events_t *s) {
    if (s == NULL) return;
    if (s->pg != NULL) PQfinish(s->pg);
    free(s->conninfo);
    free(s);
}

static int connected(ll_store_events_t *s, ll_error_t *err) {
    if (s->pg != NULL && !ll_pg_broken(s->pg)) return 0;
    PQfinish(s->pg);
    s->pg = ll_pg_connect_bounded(s->conninfo, s->timeout_ms, err);
    return s->pg != NULL ? 0 : -1;
}

int ll_store_events_between(ll_store_events_t *s, const ll_uuid_t *account, int64_t after, int64_t before,
                            ll_event_t *out, int max, ll_error_t *err) {
    if (before - after - 1 <= 0) return 0;
    if (before - after - 1 > max) {
        ll_error_set(err, LL_EINVAL, "%lld events missing, more than %d", (long long)(before - after - 1), max);
        return -1;
    }
    if (connected(s, err) != 0) return -1;
    char id[LL_UUID_TEXT_LEN + 1], lo[24], hi[24];
    ll_uuid_format(account, id);
    snprintf(lo, sizeof lo, "%lld", (long long)after);
    snprintf(hi, sizeof hi, "%lld", (long long)before);
    const char *params[3] = {id, lo, hi};
    PGresult *res = ll_pg_query(s->pg,
                                "SELECT envelope FROM events WHERE account_id = $1::uuid AND version > $2::bigint"
                                " AND version < $3::bigint ORDER BY version",
                                3, params, PGRES_TUPLES_OK, err);
    if (res == NULL) return -1;
    int n = PQntuples(res), rc = n;
    for (int i = 0; i < n && rc >= 0; i++)
        if (ll_event_decode(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), &out[i], err) != 0) rc = -1;
    PQclear(res);
    return rc;
}
