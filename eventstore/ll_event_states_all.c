/* ll_event_states_all.c - every account_state row, for ledgerline-audit: their figures one at a
 * time (reconcile), and their totals (a progress line). See ll_event_reader.h. */
#include "ll_event_reader.h"
#include "ll_event_reader_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int (*row)(void *ctx, const ll_state_figures_t *s);
    void *ctx;
} figures_t;

static int figures_row(void *ctx, const PGresult *res) {
    const figures_t *f = ctx;
    ll_state_figures_t s;
    memset(&s, 0, sizeof s);
    snprintf(s.account_id, sizeof s.account_id, "%s", PQgetvalue(res, 0, 0));
    s.version = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    s.balance_minor = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    snprintf(s.status, sizeof s.status, "%s", PQgetvalue(res, 0, 3));
    s.overdraft_limit_minor = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    s.held_minor = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
    s.frozen = PQgetvalue(res, 0, 6)[0] == 't';
    return f->row(f->ctx, &s);
}

/* 1 when account_state has 0004's columns, 0 when not, -1 (with err) when it cannot be told. */
static int state_has_holds(ll_event_reader_t *r, ll_error_t *err) {
    PGresult *res = ll_event_reader_run(r, LL_ES_HAS_HOLDS, 0, NULL, err);
    if (res == NULL) return -1;
    int has = strtoll(PQgetvalue(res, 0, 0), NULL, 10) == 2;
    PQclear(res);
    return has;
}

int ll_event_reader_each_state(ll_event_reader_t *r, const ll_uuid_t *account,
                               int (*row)(void *ctx, const ll_state_figures_t *s), void *ctx, ll_error_t *err) {
    int holds = state_has_holds(r, err);
    PGconn *conn = holds < 0 ? NULL : ll_event_reader_conn(r, err);
    if (conn == NULL) return -1;
    char id[LL_UUID_TEXT_LEN + 1];
    if (account != NULL) ll_uuid_format(account, id);
    const char *params[1] = {account != NULL ? id : NULL};
    figures_t f = {row, ctx};
    const char *sql = LL_EVENT_STATEMENTS[holds ? LL_ES_STATES_ALL : LL_ES_STATES_0003].sql;
    return ll_event_reader_rows_each(conn, sql, 1, params, figures_row, &f, err);
}

int ll_event_reader_state_totals(ll_event_reader_t *r, const ll_uuid_t *account, int64_t *accounts,
                                 int64_t *events, ll_error_t *err) {
    char id[LL_UUID_TEXT_LEN + 1];
    if (account != NULL) ll_uuid_format(account, id);
    const char *params[1] = {account != NULL ? id : NULL};
    PGresult *res = ll_event_reader_run(r, LL_ES_TOTALS, 1, params, err);
    if (res == NULL) return -1;
    *accounts = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    *events = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    return 0;
}
