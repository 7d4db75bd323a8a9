/* ll_event_stream.c - the whole store: for ledgerline-rebuild its head, a count, and every
 * event up to a position in account and version order through a cursor (rows fetched a batch
 * at a time: the store may not fit in memory); for ledgerline-audit's verify every stream with
 * its recorded head, a row at a time. See ll_event_reader.h. */
#include "ll_event_reader.h"
#include "ll_event_reader_sql.h"
#include "ll_pg.h"

#include <stdio.h>
#include <stdlib.h>

#define STREAM_FETCH "5000" /* rows per FETCH */

int ll_event_reader_head(ll_event_reader_t *r, int64_t *position, ll_error_t *err) {
    PGresult *res = ll_event_reader_run(r, LL_ES_HEAD, 0, NULL, err);
    if (res == NULL) return -1;
    *position = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

/* The two parameters of the count and the stream: $1 upto, $2 the account or NULL. */
typedef struct {
    char upto[24], id[LL_UUID_TEXT_LEN + 1];
    const char *params[2];
} upto_params_t;

static void upto_params(upto_params_t *p, int64_t upto, const ll_uuid_t *account) {
    snprintf(p->upto, sizeof p->upto, "%lld", (long long)upto);
    if (account != NULL) ll_uuid_format(account, p->id);
    p->params[0] = p->upto;
    p->params[1] = account != NULL ? p->id : NULL;
}

int ll_event_reader_count(ll_event_reader_t *r, int64_t upto, const ll_uuid_t *account, int64_t *n,
                          ll_error_t *err) {
    upto_params_t p;
    upto_params(&p, upto, account);
    PGresult *res = ll_event_reader_run(r, LL_ES_COUNT_UPTO, 2, p.params, err);
    if (res == NULL) return -1;
    *n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

int ll_event_reader_stream(ll_event_reader_t *r, int64_t upto, const ll_uuid_t *account,
                           int (*row)(void *ctx, const char *account_id, const char *envelope, size_t len,
                                      ll_error_t *err),
                           void (*page)(void *ctx, int rows), void *ctx, ll_error_t *err) {
    PGconn *conn = ll_event_reader_conn(r, err);
    if (conn == NULL) return -1;
    upto_params_t p;
    upto_params(&p, upto, account);
    /* A DECLARE is not preparable: sent as it is, its query the listed LL_ES_STREAM text. */
    PGresult *res = ll_pg_query(conn, "DECLARE ll_event_cursor NO SCROLL CURSOR FOR " LL_EVENT_STREAM_SELECT, 2,
                                p.params, PGRES_COMMAND_OK, err);
    if (res == NULL) return -1;
    PQclear(res);
    int rc = 0;
    for (int n = -1; rc == 0 && n != 0;) {
        res = ll_pg_query(conn, "FETCH " STREAM_FETCH " FROM ll_event_cursor", 0, NULL, PGRES_TUPLES_OK, err);
        if (res == NULL) return -1;
        n = PQntuples(res);
        for (int i = 0; i < n && rc == 0; i++)
            rc = row(ctx, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1), err);
        PQclear(res);
        if (page != NULL) page(ctx, n);
    }
    if (rc == 0 && ll_pg_exec(conn, "CLOSE ll_event_cursor", err) != 0) rc = -1;
    return rc == 0 ? 0 : -1;
}

int ll_event_reader_rows_each(PGconn *conn, const char *sql, int n, const char *const *params,
                              int (*row)(void *ctx, const PGresult *res), void *ctx, ll_error_t *err) {
    if (!PQsendQueryParams(conn, sql, n, NULL, params, NULL, NULL, 0) || !PQsetSingleRowMode(conn))
        return ll_error_set(err, LL_EIO, "%s", PQerrorMessage(conn)), -1;
    int rc = 0, stop = 0;
    for (PGresult *res; (res = PQgetResult(conn)) != NULL; PQclear(res)) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_SINGLE_TUPLE && !stop && (stop = row(ctx, res)) != 0) {
            PGcancel *cancel = PQgetCancel(conn); /* the rest is not wanted: not sent either */
            char why[256];
            if (cancel != NULL) PQcancel(cancel, why, sizeof why);
            PQfreeCancel(cancel);
        } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && !stop) {
            rc = ll_error_set(err, LL_EIO, "%s", PQresultErrorMessage(res));
        }
    }
    return rc == 0 ? 0 : -1;
}

typedef struct {
    int (*row)(void *ctx, const char *account_id, const char *envelope, size_t len, const char *head_hash,
               int64_t head_version);
    void *ctx;
} with_head_t;

static int with_head_row(void *ctx, const PGresult *res) {
    const with_head_t *w = ctx;
    return w->row(w->ctx, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1),
                  PQgetvalue(res, 0, 2), strtoll(PQgetvalue(res, 0, 3), NULL, 10));
}

int ll_event_reader_each_with_head(ll_event_reader_t *r, const ll_uuid_t *account,
                                   int (*row)(void *ctx, const char *account_id, const char *envelope, size_t len,
                                              const char *head_hash, int64_t head_version),
                                   void *ctx, ll_error_t *err) {
    PGconn *conn = ll_event_reader_conn(r, err);
    if (conn == NULL) return -1;
    char id[LL_UUID_TEXT_LEN + 1];
    if (account != NULL) ll_uuid_format(account, id);
    const char *params[1] = {account != NULL ? id : NULL};
    with_head_t w = {row, ctx};
    return ll_event_reader_rows_each(conn, LL_EVENT_WITH_HEADS_SELECT, 1, params, with_head_row, &w, err);
}
