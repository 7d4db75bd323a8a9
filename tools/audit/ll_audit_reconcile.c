/* ll_audit_reconcile.c - `reconcile`: the event store's account_state (written with the events)
 * against the active read models: every account whose version, balance, held amount, overdraft
 * limit, freeze or status differs, or that one side lacks. Rows are read one at a time, as
 * verify: a million accounts need not be held at once. */
#include "ll_audit.h"
#include "ll_read_model.h"
#include "ll_rm_follow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* account_state's columns reconcile compares, in this order: id, version, balance, status, limit,
 * held, frozen. A schema before migration 0004 has no held_minor or frozen: nothing was held or
 * frozen there, so they read as 0 and false. */
#define RECONCILE_SELECT "SELECT account_id::text, version, balance_minor, status, overdraft_limit_minor, "
#define RECONCILE_ORDER  ACCOUNT_STATE_ROWS " ORDER BY account_id"
static const char RECONCILE_SQL[] = RECONCILE_SELECT "held_minor, frozen" RECONCILE_ORDER;
static const char RECONCILE_SQL_BEFORE_HOLDS[] = RECONCILE_SELECT "0::bigint, false" RECONCILE_ORDER;

/* 1 when account_state has 0004's columns, 0 when not, -1 (with err) when it cannot be told. */
static int state_has_holds(PGconn *pg, ll_error_t *err) {
    PGresult *res = ll_pg_query(pg,
                                "SELECT count(*) FROM pg_attribute WHERE attrelid = 'account_state'::regclass"
                                " AND attname IN ('held_minor', 'frozen') AND NOT attisdropped",
                                0, NULL, PGRES_TUPLES_OK, err);
    if (res == NULL) return -1;
    int has = strtoll(PQgetvalue(res, 0, 0), NULL, 10) == 2;
    PQclear(res);
    return has;
}

/* What differs between the store's row (res, RECONCILE_SQL's columns) and the read model's
 * account a (found or not); NULL when nothing. */
static const char *difference(const PGresult *res, const ll_account_t *a, bool found) {
    if (!found) return "missing in the read model";
    if (a->version != strtoll(PQgetvalue(res, 0, 1), NULL, 10)) return "version differs (projector behind?)";
    if (a->balance_minor != strtoll(PQgetvalue(res, 0, 2), NULL, 10))
        return "BALANCE DIFFERS at the same version";
    if (a->held_minor != strtoll(PQgetvalue(res, 0, 5), NULL, 10)) return "HELD DIFFERS at the same version";
    if (a->overdraft_limit_minor != strtoll(PQgetvalue(res, 0, 4), NULL, 10))
        return "overdraft limit differs at the same version";
    if (a->frozen != (PQgetvalue(res, 0, 6)[0] == 't')) return "frozen differs at the same version";
    if (strcmp(ll_account_status_name(a->status), PQgetvalue(res, 0, 3)) != 0) return "status differs";
    return NULL;
}

/* The row of an account that differs: the store's figures beside the read model's. */
static int add_difference(ll_table_t *t, const PGresult *res, const ll_account_t *a, bool found,
                          const char *what) {
    char rv[24], rb[24], rh[24], rl[24];
    fmt_i64(rv, sizeof rv, a->version);
    fmt_i64(rb, sizeof rb, a->balance_minor);
    fmt_i64(rh, sizeof rh, a->held_minor);
    fmt_i64(rl, sizeof rl, a->overdraft_limit_minor);
    const char *row[] = {PQgetvalue(res, 0, 0),
                         PQgetvalue(res, 0, 1),
                         found ? rv : NULL,
                         PQgetvalue(res, 0, 2),
                         found ? rb : NULL,
                         PQgetvalue(res, 0, 5),
                         found ? rh : NULL,
                         PQgetvalue(res, 0, 4),
                         found ? rl : NULL,
                         PQgetvalue(res, 0, 6)[0] == 't' ? "true" : "false",
                         found ? (a->frozen ? "true" : "false") : NULL,
                         what};
    return ll_table_add(t, row);
}

typedef struct {
    ll_read_model_t *rm;
    ll_table_t *t;
    ll_progress_t p;
    long accounts, differ;
} reconcile_t;

/* One store row against the read model. Returns 0 or the exit status. */
static int reconcile_row(reconcile_t *c, const PGresult *res) {
    ll_uuid_t id;
    ll_account_t a;
    bool found = false;
    ll_error_t err = {""};
    ll_uuid_parse(PQgetvalue(res, 0, 0), false, &id);
    if (ll_read_model_load_account(c->rm, &id, &a, &found, &err) != 0) return audit_fail("%s", err.msg);
    c->p.done = ++c->accounts;
    ll_progress_show(&c->p, 0);
    const char *what = difference(res, &a, found);
    if (what == NULL) return 0;
    c->differ++;
    return add_difference(c->t, res, &a, found, what) != 0 ? EXIT_USAGE : 0;
}

/* Sends the store's rows (in single-row mode) and compares each; stops at the first error. */
static int reconcile_rows(PGconn *pg, reconcile_t *c, const char *const *params) {
    ll_error_t err = {""};
    int holds = state_has_holds(pg, &err);
    if (holds < 0) return audit_fail("%s", err.msg);
    if (start_progress(pg, &c->p, "reconcile", "accounts", "SELECT count(*)" ACCOUNT_STATE_ROWS, params) != 0)
        return EXIT_USAGE;
    if (!PQsendQueryParams(pg, holds ? RECONCILE_SQL : RECONCILE_SQL_BEFORE_HOLDS, 1, NULL, params, NULL,
                           NULL, 0) ||
        !PQsetSingleRowMode(pg))
        return audit_fail("%s", PQerrorMessage(pg));
    int rc = 0;
    for (PGresult *res; rc == 0 && (res = PQgetResult(pg)) != NULL; PQclear(res)) {
        if (PQresultStatus(res) == PGRES_TUPLES_OK) continue; /* the end of the rows */
        if (PQresultStatus(res) != PGRES_SINGLE_TUPLE)
            rc = audit_fail("%s", PQresultErrorMessage(res));
        else
            rc = reconcile_row(c, res);
    }
    /* Stopped early on an error: the rows left are dropped with the connection, by main. */
    return rc;
}

int audit_reconcile(PGconn *pg, const options_t *o, const ll_config_t *cfg) {
    static const ll_table_column_t cols[] = {{"account_id", 0},
                                             {"store_version", 1},
                                             {"read_model_version", 1},
                                             {"store_balance_minor", 1},
                                             {"read_model_balance_minor", 1},
                                             {"store_held_minor", 1},
                                             {"read_model_held_minor", 1},
                                             {"store_overdraft_limit_minor", 1},
                                             {"read_model_overdraft_limit_minor", 1},
                                             {"store_frozen", 0},
                                             {"read_model_frozen", 0},
                                             {"difference", 0}};
    ll_error_t err = {""};
    ll_rm_client_t *mongo = ll_rm_client_new(cfg->mongo_uri, cfg->mongo_database, NULL, &err);
    if (mongo == NULL) return audit_fail("%s", err.msg);
    reconcile_t c = {.rm = ll_rm_open_active(mongo, &err)};
    if (c.rm == NULL) {
        ll_rm_client_free(mongo);
        return audit_fail("read models unreachable: %s", err.msg);
    }
    const char *params[1] = {o->account};
    c.t = ll_table_new(cols, sizeof cols / sizeof cols[0]);
    int rc = c.t ? reconcile_rows(pg, &c, params) : EXIT_USAGE;
    if (rc == 0) {
        ll_progress_clear(&c.p);
        fprintf(stderr, "reconciled %ld accounts against read-model generation %lld: %ld differ\n",
                c.accounts, (long long)ll_read_model_generation(c.rm), c.differ);
    }
    ll_read_model_free(c.rm);
    ll_rm_client_free(mongo);
    int prc = print_findings(c.t, o);
    if (rc) return rc;
    return c.differ ? EXIT_FINDING : prc;
}
