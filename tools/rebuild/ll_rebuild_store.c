/* ll_rebuild_store.c - what the rebuild reads from the PostgreSQL event store: one snapshot the
 * build and the verification share, streamed by a cursor; and, for the catch-up, an account's
 * events after a version and the accounts changed since an instant. */
#include "ll_clock.h"
#include "ll_progress.h"
#include "ll_rebuild.h"

#include <stdio.h>
#include <stdlib.h>

#define FETCH_ROWS "5000"

int rebuild_store_snapshot(rebuild_t *r, ll_error_t *err) {
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

/* Starts p with the number of events the stream will read. */
static int stream_progress(rebuild_t *r, const char *const params[2], const char *phase, ll_progress_t *p,
                           ll_error_t *err) {
    PGresult *res = ll_pg_query(r->pg,
                                "SELECT count(*) FROM events WHERE global_position <= $1::bigint"
                                " AND ($2::uuid IS NULL OR account_id = $2::uuid)",
                                2, params, PGRES_TUPLES_OK, err);
    if (res == NULL) return LL_EIO;
    ll_progress_start(p, phase, "events", strtoll(PQgetvalue(res, 0, 0), NULL, 10));
    PQclear(res);
    return 0;
}

/* The cursor's rows, FETCH_ROWS at a time, each to row(). */
static int stream_fetch(rebuild_t *r, rebuild_row_fn row, ll_progress_t *p, ll_error_t *err) {
    int rc = 0;
    while (rc == 0) {
        PGresult *res =
            ll_pg_query(r->pg, "FETCH " FETCH_ROWS " FROM rebuild_cursor", 0, NULL, PGRES_TUPLES_OK, err);
        if (res == NULL) return LL_EIO;
        int n = PQntuples(res);
        for (int i = 0; i < n && rc == 0; i++)
            rc = row(r, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1), err);
        PQclear(res);
        p->done += n;
        ll_progress_show(p, n == 0);
        if (n == 0) break;
    }
    return rc;
}

int rebuild_store_stream(rebuild_t *r, const char *phase, rebuild_row_fn row, ll_error_t *err) {
    char pos[24];
    snprintf(pos, sizeof pos, "%lld", (long long)r->position);
    const char *params[2] = {pos, r->o->account};
    ll_progress_t p;
    if (stream_progress(r, params, phase, &p, err) != 0) return LL_EIO;
    PGresult *res = ll_pg_query(
        r->pg,
        "DECLARE rebuild_cursor NO SCROLL CURSOR FOR SELECT account_id::text, envelope FROM events"
        " WHERE global_position <= $1::bigint AND ($2::uuid IS NULL OR account_id = $2::uuid)"
        " ORDER BY account_id, version",
        2, params, PGRES_COMMAND_OK, err);
    if (res == NULL) return LL_EIO;
    PQclear(res);
    int rc = stream_fetch(r, row, &p, err);
    if (rc == 0 && ll_pg_exec(r->pg, "CLOSE rebuild_cursor", err) != 0) rc = LL_EIO;
    return rc;
}

PGresult *rebuild_store_events_after(rebuild_t *r, const ll_uuid_t *id, int64_t version, ll_error_t *err) {
    char idt[LL_UUID_TEXT_LEN + 1], from[24];
    ll_uuid_format(id, idt);
    snprintf(from, sizeof from, "%lld", (long long)version);
    const char *params[2] = {idt, from};
    return ll_pg_query(r->pg,
                       "SELECT envelope FROM events WHERE account_id = $1::uuid AND version > $2::bigint"
                       " ORDER BY version LIMIT 10000",
                       2, params, PGRES_TUPLES_OK, err);
}

PGresult *rebuild_store_changed_since(rebuild_t *r, int64_t since_us, ll_error_t *err) {
    char since[24];
    snprintf(since, sizeof since, "%lld", (long long)since_us);
    const char *params[2] = {since, r->o->account};
    return ll_pg_query(r->pg,
                       "SELECT account_id::text, version FROM account_state WHERE updated_at_us >= $1::bigint"
                       " AND ($2::uuid IS NULL OR account_id = $2::uuid)",
                       2, params, PGRES_TUPLES_OK, err);
}
