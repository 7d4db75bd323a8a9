/* ll_event_reader.c - see ll_event_reader.h. The SQL of every read is in the table below; the
 * whole-store reads are in ll_event_stream.c, the filtered search in ll_event_search.c. */
#include "ll_event_reader.h"

#include "ll_event_codec.h"
#include "ll_event_reader_sql.h"
#include "ll_pg.h"
#include "ll_pg_prepared.h"
#include "ll_pgq.h"
#include "ll_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const ll_event_statement_t LL_EVENT_STATEMENTS[LL_ES_COUNT] = {
    /* The query API's text since #24: by (account_id, version), the time a filter on the rows. */
    [LL_ES_RANGE] = {"ll_event_range",
                     "SELECT envelope, version FROM events WHERE account_id = $1::uuid"
                     " AND version > $2::bigint AND version <= $3::bigint"
                     " AND occurred_at <= $4::timestamptz ORDER BY version LIMIT $5::int"},
    [LL_ES_TRANSFER] = {"ll_event_transfer",
                        "SELECT envelope FROM events WHERE transfer_id = $1::uuid ORDER BY global_position"},
    [LL_ES_STATE_ROW] = {"ll_event_state_row",
                         "SELECT version, owner, head_hash FROM account_state WHERE account_id = $1::uuid"},
    /* Each (account, version) with the envelopes of that event and of the account's opening (the
     * same row for version 1), by the (account_id, version) index twice; not while that event
     * waits in the outbox: not published yet, it cannot have reached the read model (a later
     * one came first: the topic skipped it, or someone produced by hand). */
    [LL_ES_STATES] = {"ll_event_states",
                      "SELECT k.i, o.envelope, e.envelope FROM unnest($1::uuid[], $2::bigint[])"
                      " WITH ORDINALITY AS k(account_id, version, i)"
                      " JOIN events e ON e.account_id = k.account_id AND e.version = k.version"
                      " JOIN events o ON o.account_id = k.account_id AND o.version = 1"
                      " WHERE NOT EXISTS (SELECT 1 FROM outbox b WHERE b.global_position = e.global_position)"},
    /* Every state row: no index on updated_at_us (rebuild's catch-up, a few rounds per run). */
    [LL_ES_MOVED] = {"ll_event_moved_since",
                     "SELECT account_id::text, version FROM account_state WHERE updated_at_us >= $1::bigint"
                     " AND ($2::uuid IS NULL OR account_id = $2::uuid)"},
    [LL_ES_HEAD] = {"ll_event_head", "SELECT coalesce(max(global_position), 0) FROM events"},
    [LL_ES_COUNT_UPTO] = {"ll_event_count",
                          "SELECT count(*) FROM events WHERE global_position <= $1::bigint"
                          " AND ($2::uuid IS NULL OR account_id = $2::uuid)"},
    /* Declared as a cursor (ll_event_stream.c), not prepared: listed for the plan check. */
    [LL_ES_STREAM] = {"ll_event_stream", LL_EVENT_STREAM_SELECT},
    /* Sent in single-row mode (ll_event_stream.c), not prepared: listed for the plan check. */
    [LL_ES_WITH_HEADS] = {"ll_event_with_heads", LL_EVENT_WITH_HEADS_SELECT},
    /* Planned for the filters given (ll_event_search.c), not prepared: listed for the plan check. */
    [LL_ES_SEARCH] = {"ll_event_search", LL_EVENT_SEARCH_SELECT},
    /* Read in single-row mode (ll_event_states_all.c), not prepared: listed for the plan check. */
    [LL_ES_STATES_ALL] = {"ll_event_states_all", LL_EVENT_STATE_FIGURES "held_minor, frozen" LL_EVENT_STATE_ROWS
                                                                        " ORDER BY account_id"},
    [LL_ES_STATES_0003] = {"ll_event_states_0003", LL_EVENT_STATE_FIGURES "0::bigint, false" LL_EVENT_STATE_ROWS
                                                                          " ORDER BY account_id"},
    [LL_ES_HAS_HOLDS] = {"ll_event_has_holds",
                         "SELECT count(*) FROM pg_attribute WHERE attrelid = 'account_state'::regclass"
                         " AND attname IN ('held_minor', 'frozen') AND NOT attisdropped"},
    /* Every state row when no account is given: a progress line's totals, once per run. */
    [LL_ES_TOTALS] = {"ll_event_totals", "SELECT count(*), coalesce(sum(version), 0)" LL_EVENT_STATE_ROWS},
    /* Two primary-key lookups: holds_pkey, then account_state's. */
    [LL_ES_HOLD] = {"ll_event_hold", LL_EVENT_HOLD_COLUMNS " FROM holds h JOIN account_state s"
                                                           " ON s.account_id = h.account_id WHERE h.hold_id = $1::uuid"},
    /* The account's row by its primary key (one row with NULL hold columns when no open hold
     * follows the cursor), and at most $3 of its open holds after placed_version $2 through the
     * partial index holds_account_open (migration 0005): a page reads the rows it returns, not
     * the account's other open holds nor any settled one. One statement: one snapshot. */
    [LL_ES_OPEN_HOLDS] = {"ll_event_open_holds",
                          LL_EVENT_HOLD_COLUMNS " FROM account_state s LEFT JOIN LATERAL (SELECT * FROM holds"
                                                "  WHERE account_id = s.account_id AND status = 'open'"
                                                " AND placed_version > $2::bigint"
                                                "  ORDER BY placed_version LIMIT $3::bigint) h ON true"
                                                " WHERE s.account_id = $1::uuid ORDER BY h.placed_version"},
};

struct ll_event_reader {
    PGconn *own;   /* a reader's own connection (conninfo set), else NULL */
    PGconn **conn; /* where the connection is: &own, or the caller's */
    char *conninfo;
    long long timeout_ms;
    ll_pg_prepared_t prepared; /* of *conn */
    ll_pgq_t q;                /* the states' arrays, buffers kept from batch to batch */
    uint64_t rows;
    ll_event_reconnect_fn reconnect; /* the caller's, for *conn (NULL: a broken one fails the read) */
    void *reconnect_ctx;
    uint64_t reconnects;
};

static ll_event_reader_t *reader_alloc(void) {
    ll_event_reader_t *r = calloc(1, sizeof *r);
    if (r == NULL) return NULL;
    ll_pg_prepared_init(&r->prepared);
    ll_pgq_init(&r->q);
    return r;
}

ll_event_reader_t *ll_event_reader_new(const char *conninfo, long long statement_timeout_ms) {
    ll_event_reader_t *r = reader_alloc();
    if (r == NULL || (r->conninfo = strdup(conninfo)) == NULL) {
        ll_event_reader_free(r);
        return NULL;
    }
    r->timeout_ms = statement_timeout_ms;
    r->conn = &r->own;
    return r;
}

ll_event_reader_t *ll_event_reader_on(PGconn **conn) {
    ll_event_reader_t *r = reader_alloc();
    if (r != NULL) r->conn = conn;
    return r;
}

void ll_event_reader_on_reconnect(ll_event_reader_t *r, ll_event_reconnect_fn reconnect, void *ctx) {
    r->reconnect = reconnect;
    r->reconnect_ctx = ctx;
}

void ll_event_reader_reset(ll_event_reader_t *r) {
    ll_pg_prepared_clear(&r->prepared);
}

uint64_t ll_event_reader_reconnects(const ll_event_reader_t *r) {
    return r->reconnects;
}

void ll_event_reader_free(ll_event_reader_t *r) {
    if (r == NULL) return;
    if (r->own != NULL) PQfinish(r->own);
    ll_pg_prepared_clear(&r->prepared);
    ll_pgq_free(&r->q);
    free(r->conninfo);
    free(r);
}

uint64_t ll_event_reader_rows(const ll_event_reader_t *r) {
    return r->rows;
}

PGconn *ll_event_reader_conn(ll_event_reader_t *r, ll_error_t *err) {
    if (r->conninfo == NULL) {
        if (r->reconnect != NULL && ll_pg_broken(*r->conn)) {
            ll_pg_prepared_clear(&r->prepared); /* whatever the caller does, a new session */
            if (r->reconnect(r->reconnect_ctx, err) != 0) return NULL;
            r->reconnects++;
        }
        if (*r->conn == NULL) ll_error_set(err, LL_EIO, "event store: not connected");
        return *r->conn;
    }
    if (r->own != NULL && !ll_pg_broken(r->own)) return r->own;
    PQfinish(r->own);
    ll_pg_prepared_clear(&r->prepared);
    r->own = ll_pg_connect_bounded(r->conninfo, r->timeout_ms, err);
    if (r->own != NULL && ll_pg_exec(r->own, LL_PG_PREPARED_SESSION_SQL, err) != 0) {
        PQfinish(r->own);
        r->own = NULL;
    }
    return r->own;
}

PGresult *ll_event_reader_run(ll_event_reader_t *r, ll_event_statement_id_t id, int n, const char *const *params,
                              ll_error_t *err) {
    const ll_event_statement_t *st = &LL_EVENT_STATEMENTS[id];
    PGresult *res = NULL;
    /* A connection that broke under the statement (a failover, a killed backend) is re-made
     * once and the statement run again: a read, whole or not at all, so nothing is seen twice. */
    for (int attempt = 0; res == NULL && attempt < 2; attempt++) {
        PGconn *conn = ll_event_reader_conn(r, err);
        if (conn == NULL) return NULL;
        res = ll_pg_prepared_query(&r->prepared, conn, st->name, st->sql, n, params, PGRES_TUPLES_OK, NULL, err);
        if (res == NULL && (r->reconnect == NULL || !ll_pg_broken(conn))) return NULL;
    }
    if (res != NULL) r->rows += (uint64_t)PQntuples(res);
    return res;
}

/* One statement of the range read: at most limit envelopes after `after`. */
static PGresult *range_page(ll_event_reader_t *r, const ll_uuid_t *account, int64_t after, ll_event_range_t range,
                            int limit, ll_error_t *err) {
    char id[LL_UUID_TEXT_LEN + 1], lo[24], hi[24], lim[16], when[LL_TIME_TEXT_LEN + 1] = "9999-12-31T23:59:59.999999Z";
    ll_uuid_format(account, id);
    snprintf(lo, sizeof lo, "%lld", (long long)after);
    snprintf(hi, sizeof hi, "%lld", (long long)range.to);
    snprintf(lim, sizeof lim, "%d", limit);
    if (range.as_of_us >= 0) ll_time_format(range.as_of_us, when);
    const char *params[5] = {id, lo, hi, when, lim};
    return ll_event_reader_run(r, LL_ES_RANGE, 5, params, err);
}

int64_t ll_event_reader_each(ll_event_reader_t *r, const ll_uuid_t *account, ll_event_range_t range,
                             ll_envelope_fn each, void *ctx, ll_error_t *err) {
    int64_t seen = 0, last = range.after;
    for (;;) {
        PGresult *res = range_page(r, account, last, range, LL_EVENT_READER_PAGE, err);
        if (res == NULL) return -1;
        int n = PQntuples(res), stop = 0;
        for (int i = 0; i < n && !stop; i++, seen++)
            stop = each(ctx, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
        if (n > 0) last = strtoll(PQgetvalue(res, n - 1, 1), NULL, 10);
        PQclear(res);
        if (stop || n < LL_EVENT_READER_PAGE) return seen;
    }
}

int ll_event_reader_after(ll_event_reader_t *r, const ll_uuid_t *account, int64_t after, ll_event_t *out, int max,
                          bool *damaged, ll_error_t *err) {
    *damaged = false;
    if (max <= 0) return 0;
    ll_event_range_t range = LL_EVENT_RANGE_ALL;
    PGresult *res = range_page(r, account, after, range, max, err);
    if (res == NULL) return -1;
    int n = PQntuples(res), i = 0;
    while (i < n && ll_event_decode(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), &out[i], err) == 0) i++;
    *damaged = i < n;
    PQclear(res);
    return i;
}

/* Runs statement stmt, whose one parameter is the id key. */
static PGresult *run_by_id(ll_event_reader_t *r, ll_event_statement_id_t stmt, const ll_uuid_t *key,
                           ll_error_t *err) {
    char id[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(key, id);
    const char *params[1] = {id};
    return ll_event_reader_run(r, stmt, 1, params, err);
}

int64_t ll_event_reader_transfer(ll_event_reader_t *r, const ll_uuid_t *transfer, ll_envelope_fn each,
                                 void *ctx, ll_error_t *err) {
    PGresult *res = run_by_id(r, LL_ES_TRANSFER, transfer, err);
    if (res == NULL) return -1;
    int n = PQntuples(res), i = 0;
    while (i < n && each(ctx, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0)) == 0) i++;
    PQclear(res);
    return n;
}

int ll_event_reader_state_row(ll_event_reader_t *r, const ll_uuid_t *account, ll_state_row_t *out,
                              ll_error_t *err) {
    PGresult *res = run_by_id(r, LL_ES_STATE_ROW, account, err);
    if (res == NULL) return -1;
    int found = PQntuples(res) == 1;
    memset(out, 0, sizeof *out);
    if (found) {
        out->version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        snprintf(out->owner, sizeof out->owner, "%s", PQgetvalue(res, 0, 1));
        snprintf(out->head_hash, sizeof out->head_hash, "%s", PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return found;
}

/* The states' parameters: the ids and versions as two arrays. NULL (err set) when out of memory. */
static PGresult *states_query(ll_event_reader_t *r, const ll_uuid_t *ids, const int64_t *versions, int n,
                              ll_error_t *err) {
    ll_pgq_t *q = &r->q;
    ll_pgq_reset(q);
    ll_pgq_array_begin(q);
    for (int i = 0; i < n; i++) {
        char id[LL_UUID_TEXT_LEN + 1];
        ll_uuid_format(&ids[i], id);
        ll_pgq_array_item(q, id);
    }
    ll_pgq_array_end(q, "uuid[]");
    ll_pgq_array_begin(q);
    for (int i = 0; i < n; i++) ll_pgq_array_itemf(q, "%lld", (long long)versions[i]);
    ll_pgq_array_end(q, "bigint[]");
    if (q->failed || q->n != 2) {
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    const char *params[2] = {q->arena + q->offsets[0], q->arena + q->offsets[1]};
    return ll_event_reader_run(r, LL_ES_STATES, 2, params, err);
}

/* Row r of the states' answer into out/found; 0, or -1 with err set. */
static int state_of(const PGresult *res, int row, const ll_uuid_t *ids, const int64_t *versions, int n,
                    ll_account_t *out, bool *found, ll_error_t *err) {
    long long i = strtoll(PQgetvalue(res, row, 0), NULL, 10) - 1;
    ll_event_t opened, last;
    ll_error_t why = {""};
    if (i < 0 || i >= n) return ll_error_set(err, LL_EIO, "event store: row %lld out of range", i), -1;
    if (ll_event_decode(PQgetvalue(res, row, 1), (size_t)PQgetlength(res, row, 1), &opened, &why) != 0 ||
        ll_event_decode(PQgetvalue(res, row, 2), (size_t)PQgetlength(res, row, 2), &last, &why) != 0 ||
        ll_account_at(&opened, &last, &out[i], &why) != 0)
        return ll_error_set(err, LL_EIO, "event store: the events of an account do not tell its state: %s", why.msg),
               -1;
    if (last.version != versions[i] || !ll_uuid_equal(&last.account_id, &ids[i]))
        return ll_error_set(err, LL_EIO, "event store: an event not of the account and version asked for"), -1;
    found[i] = true;
    return 0;
}

int ll_event_reader_states(ll_event_reader_t *r, const ll_uuid_t *ids, const int64_t *versions, int n,
                           ll_account_t *out, bool *found, ll_error_t *err) {
    for (int i = 0; i < n; i++) found[i] = false;
    if (n == 0) return 0;
    PGresult *res = states_query(r, ids, versions, n, err);
    if (res == NULL) return -1;
    int rc = 0;
    for (int row = 0; row < PQntuples(res) && rc == 0; row++) rc = state_of(res, row, ids, versions, n, out, found, err);
    PQclear(res);
    return rc;
}

int64_t ll_event_reader_moved_since(ll_event_reader_t *r, int64_t since_us, const ll_uuid_t *account,
                                    int (*row)(void *ctx, const char *account_id, int64_t version, ll_error_t *err),
                                    void *ctx, ll_error_t *err) {
    char since[24], id[LL_UUID_TEXT_LEN + 1];
    snprintf(since, sizeof since, "%lld", (long long)since_us);
    if (account != NULL) ll_uuid_format(account, id);
    const char *params[2] = {since, account != NULL ? id : NULL};
    PGresult *res = ll_event_reader_run(r, LL_ES_MOVED, 2, params, err);
    if (res == NULL) return -1;
    int n = PQntuples(res), rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = row(ctx, PQgetvalue(res, i, 0), strtoll(PQgetvalue(res, i, 1), NULL, 10), err);
    PQclear(res);
    return rc == 0 ? n : -1;
}

void ll_event_reader_each_statement(void (*fn)(const char *name, const char *sql, void *ctx), void *ctx) {
    for (int i = 0; i < LL_ES_COUNT; i++) fn(LL_EVENT_STATEMENTS[i].name, LL_EVENT_STATEMENTS[i].sql, ctx);
}
