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

/* What differs between the store's row s and the read model's account a (found or not); NULL
 * when nothing. */
static const char *difference(const ll_state_figures_t *s, const ll_account_t *a, bool found) {
    if (!found) return "missing in the read model";
    if (a->version != s->version) return "version differs (projector behind?)";
    if (a->balance_minor != s->balance_minor) return "BALANCE DIFFERS at the same version";
    if (a->held_minor != s->held_minor) return "HELD DIFFERS at the same version";
    if (a->overdraft_limit_minor != s->overdraft_limit_minor) return "overdraft limit differs at the same version";
    if (a->frozen != s->frozen) return "frozen differs at the same version";
    if (strcmp(ll_account_status_name(a->status), s->status) != 0) return "status differs";
    return NULL;
}

/* The row of an account that differs: the store's figures beside the read model's. */
static int add_difference(ll_table_t *t, const ll_state_figures_t *s, const ll_account_t *a, bool found,
                          const char *what) {
    char sv[24], sb[24], sh[24], sl[24], rv[24], rb[24], rh[24], rl[24];
    fmt_i64(sv, sizeof sv, s->version);
    fmt_i64(sb, sizeof sb, s->balance_minor);
    fmt_i64(sh, sizeof sh, s->held_minor);
    fmt_i64(sl, sizeof sl, s->overdraft_limit_minor);
    fmt_i64(rv, sizeof rv, a->version);
    fmt_i64(rb, sizeof rb, a->balance_minor);
    fmt_i64(rh, sizeof rh, a->held_minor);
    fmt_i64(rl, sizeof rl, a->overdraft_limit_minor);
    const char *row[] = {s->account_id,
                         sv,
                         found ? rv : NULL,
                         sb,
                         found ? rb : NULL,
                         sh,
                         found ? rh : NULL,
                         sl,
                         found ? rl : NULL,
                         s->frozen ? "true" : "false",
                         found ? (a->frozen ? "true" : "false") : NULL,
                         what};
    return ll_table_add(t, row);
}

typedef struct {
    ll_read_model_t *rm;
    ll_table_t *t;
    ll_progress_t p;
    long accounts, differ;
    int rc; /* the exit status of the row that stopped the read */
} reconcile_t;

/* One store row against the read model. Returns 0, or the exit status (the read stops). */
static int reconcile_row(void *ctx, const ll_state_figures_t *s) {
    reconcile_t *c = ctx;
    ll_uuid_t id;
    ll_account_t a;
    bool found = false;
    ll_error_t err = {""};
    if (ll_uuid_parse(s->account_id, false, &id) != 0) return c->rc = audit_fail("a state row's id is no uuid");
    if (ll_read_model_load_account(c->rm, &id, &a, &found, &err) != 0) return c->rc = audit_fail("%s", err.msg);
    c->p.done = ++c->accounts;
    ll_progress_show(&c->p, 0);
    const char *what = difference(s, &a, found);
    if (what == NULL) return 0;
    c->differ++;
    return c->rc = add_difference(c->t, s, &a, found, what) != 0 ? EXIT_USAGE : 0;
}

/* The store's rows, one at a time, each compared; stops at the first error. */
static int reconcile_rows(PGconn *pg, reconcile_t *c, const options_t *o) {
    ll_error_t err = {""};
    ll_uuid_t id;
    ll_event_reader_t *store = ll_event_reader_on(&pg);
    if (store == NULL) return audit_fail("out of memory");
    int rc = start_progress(store, o, &c->p, "reconcile", false);
    if (rc == 0 && ll_event_reader_each_state(store, audit_account(o, &id), reconcile_row, c, &err) != 0)
        rc = audit_fail("%s", err.msg);
    ll_event_reader_free(store);
    return rc != 0 ? rc : c->rc;
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
    c.t = ll_table_new(cols, sizeof cols / sizeof cols[0]);
    int rc = c.t ? reconcile_rows(pg, &c, o) : EXIT_USAGE;
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
