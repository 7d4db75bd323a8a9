/* ll_store_events.c - see ll_store_events.h. */
#include "ll_store_events.h"

#include "ll_event_codec.h"
#include "ll_pg.h"
#include "ll_pg_prepared.h"
#include "ll_pgq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ll_store_events {
    char *conninfo;
    long long timeout_ms;
    PGconn *pg;
    ll_pg_prepared_t prepared; /* of pg */
    ll_pgq_t q;                /* the states statement, its buffers kept from batch to batch */
};

ll_store_events_t *ll_store_events_new(const char *conninfo, long long statement_timeout_ms) {
    ll_store_events_t *s = calloc(1, sizeof *s);
    if (s == NULL || (s->conninfo = strdup(conninfo)) == NULL) {
        free(s);
        return NULL;
    }
    s->timeout_ms = statement_timeout_ms;
    ll_pg_prepared_init(&s->prepared);
    ll_pgq_init(&s->q);
    return s;
}

void ll_store_events_free(ll_store_events_t *s) {
    if (s == NULL) return;
    if (s->pg != NULL) PQfinish(s->pg);
    ll_pg_prepared_clear(&s->prepared);
    ll_pgq_free(&s->q);
    free(s->conninfo);
    free(s);
}

static int connected(ll_store_events_t *s, ll_error_t *err) {
    if (s->pg != NULL && !ll_pg_broken(s->pg)) return 0;
    PQfinish(s->pg);
    ll_pg_prepared_clear(&s->prepared);
    s->pg = ll_pg_connect_bounded(s->conninfo, s->timeout_ms, err);
    if (s->pg != NULL && ll_pg_exec(s->pg, LL_PG_PREPARED_SESSION_SQL, err) != 0) {
        PQfinish(s->pg);
        s->pg = NULL;
    }
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

int ll_store_events_after(ll_store_events_t *s, const ll_uuid_t *account, int64_t after, ll_event_t *out, int max,
                          bool *damaged, ll_error_t *err) {
    *damaged = false;
    if (max <= 0) return 0;
    if (connected(s, err) != 0) return -1;
    char id[LL_UUID_TEXT_LEN + 1], lo[24], limit[16];
    ll_uuid_format(account, id);
    snprintf(lo, sizeof lo, "%lld", (long long)after);
    snprintf(limit, sizeof limit, "%d", max);
    const char *params[3] = {id, lo, limit};
    PGresult *res = ll_pg_query(s->pg,
                                "SELECT envelope FROM events WHERE account_id = $1::uuid AND version > $2::bigint"
                                " ORDER BY version LIMIT $3::int",
                                3, params, PGRES_TUPLES_OK, err);
    if (res == NULL) return -1;
    int n = PQntuples(res), i = 0;
    while (i < n && ll_event_decode(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), &out[i], err) == 0) i++;
    *damaged = i < n;
    PQclear(res);
    return i;
}

int ll_store_events_states(ll_store_events_t *s, const ll_uuid_t *ids, const int64_t *versions, int n,
                           ll_account_t *out, bool *found, ll_error_t *err) {
    for (int i = 0; i < n; i++) found[i] = false;
    if (n == 0) return 0;
    if (connected(s, err) != 0) return -1;
    /* Each (account, version) with the envelopes of that event and of the account's opening (the
     * same row for version 1), by the (account_id, version) index twice; not while that event
     * waits in the outbox: not published yet, it cannot have reached the read model (a later
     * one came first: the topic skipped it, or someone produced by hand). */
    ll_pgq_t *q = &s->q;
    ll_pgq_reset(q);
    ll_pgq_sql(q, "SELECT k.i, o.envelope, e.envelope FROM unnest(");
    ll_pgq_array_begin(q);
    for (int i = 0; i < n; i++) {
        char id[LL_UUID_TEXT_LEN + 1];
        ll_uuid_format(&ids[i], id);
        ll_pgq_array_item(q, id);
    }
    ll_pgq_array_end(q, "uuid[]");
    ll_pgq_sql(q, ", ");
    ll_pgq_array_begin(q);
    for (int i = 0; i < n; i++) ll_pgq_array_itemf(q, "%lld", (long long)versions[i]);
    ll_pgq_array_end(q, "bigint[]");
    ll_pgq_sql(q, ") WITH ORDINALITY AS k(account_id, version, i)"
                  " JOIN events e ON e.account_id = k.account_id AND e.version = k.version"
                  " JOIN events o ON o.account_id = k.account_id AND o.version = 1"
                  " WHERE NOT EXISTS (SELECT 1 FROM outbox b WHERE b.global_position = e.global_position)");
    PGresult *res = ll_pgq_exec_prepared(s->pg, &s->prepared, "ll_projector_states", q, PGRES_TUPLES_OK, err);
    if (res == NULL) return -1;
    int rc = 0;
    for (int r = 0; r < PQntuples(res) && rc == 0; r++) {
        long long i = strtoll(PQgetvalue(res, r, 0), NULL, 10) - 1;
        ll_event_t opened, last;
        ll_error_t why = {""};
        if (i < 0 || i >= n)
            rc = ll_error_set(err, LL_EIO, "event store: row %lld out of range", i);
        else if (ll_event_decode(PQgetvalue(res, r, 1), (size_t)PQgetlength(res, r, 1), &opened, &why) != 0 ||
                 ll_event_decode(PQgetvalue(res, r, 2), (size_t)PQgetlength(res, r, 2), &last, &why) != 0 ||
                 ll_account_at(&opened, &last, &out[i], &why) != 0)
            rc = ll_error_set(err, LL_EIO, "event store: the events of an account do not tell its state: %s",
                              why.msg);
        else if (last.version != versions[i] || !ll_uuid_equal(&last.account_id, &ids[i]))
            rc = ll_error_set(err, LL_EIO, "event store: an event not of the account and version asked for");
        else
            found[i] = true;
    }
    PQclear(res);
    return rc == 0 ? 0 : -1;
}

void ll_store_events_each_statement(const ll_store_events_t *s,
                                    void (*fn)(const char *name, const char *sql, void *ctx), void *ctx) {
    for (int i = 0; i < s->prepared.n; i++) fn(s->prepared.stmt[i].name, s->prepared.stmt[i].sql, ctx);
}
