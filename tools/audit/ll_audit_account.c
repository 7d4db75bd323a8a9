/* ll_audit_account.c - one account from its events: `replay` (every event with the state after
 * it) and `balance` (the figures as of an instant). */
#include "ll_audit.h"
#include "ll_event_reader.h"
#include "ll_replay.h"
#include "ll_time.h"

#include <stdio.h>

/* A replay of the account's events, a page at a time: the state after each, and a visit. */
typedef struct replay {
    ll_account_t a;
    ll_event_t ev;
    int rc;
    ll_error_t err;
    void (*visit)(struct replay *rp); /* after each event that replays; may be NULL */
    ll_table_t *t;
} replay_t;

static int replay_one(void *ctx, const char *text, size_t len) {
    replay_t *rp = ctx;
    if (ll_replay_envelope(&rp->a, text, len, &rp->ev, &rp->err) != 0) {
        fprintf(stderr, "ledgerline-audit: version %lld does not replay: %s\n", (long long)rp->a.version + 1,
                rp->err.msg);
        rp->rc = EXIT_FINDING;
        return 1;
    }
    if (rp->visit != NULL) rp->visit(rp);
    return rp->rc;
}

/* Replays o->account's events (up to as_of_us when >= 0) into rp. Returns the events read, or -1
 * with the failure printed (rp->rc then EXIT_USAGE). */
static int64_t replay_account(PGconn *pg, const options_t *o, int64_t as_of_us, replay_t *rp) {
    ll_uuid_t id;
    ll_uuid_parse(o->account, true, &id);
    ll_account_init(&rp->a, &id);
    ll_event_reader_t *store = ll_event_reader_on(&pg);
    if (store == NULL) {
        rp->rc = audit_fail("out of memory");
        return -1;
    }
    ll_event_range_t range = {0, INT64_MAX, as_of_us};
    int64_t n = ll_event_reader_each(store, &id, range, replay_one, rp, &rp->err);
    ll_event_reader_free(store);
    if (n < 0) rp->rc = audit_fail("%s", rp->err.msg);
    return n;
}

/* A row of replay's table: the event and the figures after it. */
static void replay_row(replay_t *rp) {
    const ll_account_t *a = &rp->a;
    const ll_event_t *ev = &rp->ev;
    char ver[24], when[LL_TIME_TEXT_LEN + 1], amount[24];
    audit_figures_t f;
    fmt_i64(ver, sizeof ver, a->version);
    ll_time_format(ev->occurred_at_us, when);
    fmt_i64(amount, sizeof amount, ev->data.movement.amount_minor);
    fmt_figures(a, &f);
    const char *row[] = {ver,
                         when,
                         ll_event_type_name(ev->type),
                         ll_event_has_money(ev->type) ? amount : NULL,
                         f.cell[0],
                         f.cell[1],
                         f.cell[2],
                         f.cell[3],
                         f.cell[4],
                         ll_account_status_name(a->status),
                         ev->hash};
    if (ll_table_add(rp->t, row) != 0) rp->rc = EXIT_USAGE;
}

int audit_replay(PGconn *pg, const options_t *o, const ll_config_t *cfg) {
    (void)cfg;
    static const ll_table_column_t cols[] = {{"version", 1},      {"occurred_at", 0},   {"type", 0},
                                             {"amount_minor", 1}, AUDIT_FIGURE_COLUMNS, {"status", 0},
                                             {"hash", 0}};
    replay_t rp = {.visit = replay_row, .t = ll_table_new(cols, sizeof cols / sizeof cols[0])};
    if (rp.t == NULL) return EXIT_USAGE;
    int64_t n = replay_account(pg, o, -1, &rp);
    if (n <= 0) {
        ll_table_free(rp.t);
        return n < 0 ? rp.rc : audit_fail("no events for account %s", o->account);
    }
    int prc = print_table(rp.t, o);
    return rp.rc ? rp.rc : prc;
}

int audit_balance(PGconn *pg, const options_t *o, const ll_config_t *cfg) {
    (void)cfg;
    static const ll_table_column_t cols[] = {{"account_id", 0},    {"as_of", 0},    {"version", 1},
                                             AUDIT_FIGURE_COLUMNS, {"currency", 0}, {"status", 0}};
    int64_t as_of_us;
    ll_time_parse_rfc3339(o->as_of, &as_of_us);
    char as_of[LL_TIME_TEXT_LEN + 1];
    ll_time_format(as_of_us, as_of);
    replay_t rp = {.visit = NULL};
    if (replay_account(pg, o, as_of_us, &rp) < 0 || rp.rc) return rp.rc;
    const ll_account_t a = rp.a;
    if (a.version == 0) return audit_fail("account %s did not exist at that instant", o->account);
    char acct[LL_UUID_TEXT_LEN + 1], ver[24];
    audit_figures_t f;
    ll_uuid_format(&a.account_id, acct);
    fmt_i64(ver, sizeof ver, a.version);
    fmt_figures(&a, &f);
    ll_table_t *t = ll_table_new(cols, sizeof cols / sizeof cols[0]);
    const char *row[] = {acct,      as_of,     ver,       f.cell[0],       f.cell[1],
                         f.cell[2], f.cell[3], f.cell[4], a.currency.code, ll_account_status_name(a.status)};
    if (t == NULL || ll_table_add(t, row) != 0) return EXIT_USAGE;
    return print_table(t, o);
}
