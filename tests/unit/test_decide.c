/* Unit tests of domain/ll_decide: each command's happy path, every rejection, int64 boundaries. */
#include "domain_fixture.h"
#include "ll_rejection.h"
#include "ll_test.h"

#include <stdint.h>
#include <string.h>

/* An open EUR account holding balance (set directly: boundary tests need extreme balances). */
static void open_with_balance(fx_world_t *w, ll_account_t *a, uint64_t n, int64_t balance) {
    if (fx_open(w, a, n, "EUR") != 0) abort();
    a->balance_minor = balance;
}

LL_TEST(test_open_happy_path) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a;
    ll_uuid_t id = fx_uuid(1);
    ll_account_init(&a, &id);
    ll_command_t cmd = fx_cmd(LL_CMD_OPEN, &id, 0, "EUR");
    ll_decision_t d;
    LL_REQUIRE(fx_run(&w, &a, &cmd, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(d.event_count, 1);
    LL_CHECK_EQ_INT(d.events[0].type, LL_EVENT_ACCOUNT_OPENED);
    LL_CHECK_EQ_INT(d.events[0].version, 1);
    LL_CHECK_EQ_STR(d.events[0].prev_hash, LL_HASH_ZERO);
    LL_CHECK_EQ_STR(d.events[0].data.opened.owner, "customer-1");
    LL_CHECK_EQ_INT(a.status, LL_ACCOUNT_OPEN);
    LL_CHECK_EQ_INT(a.balance_minor, 0);
    LL_CHECK_EQ_INT(a.version, 1);
    LL_CHECK_EQ_STR(a.currency.code, "EUR");
    LL_CHECK_EQ_STR(a.head_hash, d.events[0].hash);
}

LL_TEST(test_open_rejections) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a;
    LL_REQUIRE(fx_open(&w, &a, 1, "EUR") == 0);
    ll_command_t cmd = fx_cmd(LL_CMD_OPEN, &a.account_id, 0, "EUR");
    ll_decision_t d;
    LL_CHECK_EQ_INT(fx_run(&w, &a, &cmd, &d), LL_REJECT_ACCOUNT_EXISTS);
    LL_CHECK_EQ_INT(d.event_count, 0);

    ll_account_t b;
    ll_uuid_t id = fx_uuid(2);
    ll_account_init(&b, &id);
    cmd = fx_cmd(LL_CMD_OPEN, &id, 0, "EUR");
    cmd.owner[0] = '\0';
    LL_CHECK_EQ_INT(fx_run(&w, &b, &cmd, &d), LL_REJECT_INVALID_OWNER);
    cmd = fx_cmd(LL_CMD_OPEN, &id, 0, "XXX");
    LL_CHECK_EQ_INT(fx_run(&w, &b, &cmd, &d), LL_REJECT_INVALID_CURRENCY);
    LL_CHECK_EQ_INT(b.version, 0);
}

LL_TEST(test_deposit_and_withdraw_happy_path) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a;
    LL_REQUIRE(fx_open(&w, &a, 1, "EUR") == 0);
    ll_command_t dep = fx_cmd(LL_CMD_DEPOSIT, &a.account_id, 10000, "EUR");
    snprintf(dep.reference, sizeof dep.reference, "salary");
    ll_decision_t d;
    LL_REQUIRE(fx_run(&w, &a, &dep, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(d.events[0].type, LL_EVENT_MONEY_DEPOSITED);
    LL_CHECK_EQ_INT(d.events[0].after.balance_minor, 10000);
    LL_CHECK_EQ_STR(d.events[0].data.movement.reference, "salary");
    LL_CHECK_EQ_INT(d.events[0].version, 2);
    ll_command_t wd = fx_cmd(LL_CMD_WITHDRAW, &a.account_id, 10000, "EUR");
    LL_REQUIRE(fx_run(&w, &a, &wd, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(d.events[0].type, LL_EVENT_MONEY_WITHDRAWN);
    LL_CHECK_EQ_INT(a.balance_minor, 0); /* exactly to zero is allowed */
    LL_CHECK_EQ_INT(a.version, 3);
}

LL_TEST(test_movement_rejections) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a;
    open_with_balance(&w, &a, 1, 500);
    struct {
        ll_command_type_t type;
        int64_t amount;
        const char *ccy;
        ll_rejection_t expect;
    } cases[] = {
        {LL_CMD_DEPOSIT, 0, "EUR", LL_REJECT_AMOUNT_OUT_OF_RANGE},
        {LL_CMD_DEPOSIT, -5, "EUR", LL_REJECT_AMOUNT_OUT_OF_RANGE},
        {LL_CMD_DEPOSIT, LL_AMOUNT_MINOR_MAX + 1, "EUR", LL_REJECT_AMOUNT_OUT_OF_RANGE},
        {LL_CMD_DEPOSIT, INT64_MIN, "EUR", LL_REJECT_AMOUNT_OUT_OF_RANGE},
        {LL_CMD_DEPOSIT, 100, "USD", LL_REJECT_CURRENCY_MISMATCH},
        {LL_CMD_WITHDRAW, 501, "EUR", LL_REJECT_INSUFFICIENT_FUNDS},
        {LL_CMD_WITHDRAW, LL_AMOUNT_MINOR_MAX, "EUR", LL_REJECT_INSUFFICIENT_FUNDS},
        {LL_CMD_WITHDRAW, 0, "EUR", LL_REJECT_AMOUNT_OUT_OF_RANGE},
        {LL_CMD_WITHDRAW, 100, "GBP", LL_REJECT_CURRENCY_MISMATCH},
    };
    for (size_t i = 0; i < LL_CASES(cases); i++) {
        ll_command_t cmd = fx_cmd(cases[i].type, &a.account_id, cases[i].amount, cases[i].ccy);
        ll_decision_t d;
        LL_CHECK_EQ_INT(fx_run(&w, &a, &cmd, &d), cases[i].expect);
        LL_CHECK_EQ_INT(d.event_count, 0);
        LL_CHECK(d.detail[0] != '\0');
    }
    LL_CHECK_EQ_INT(a.balance_minor, 500);
    LL_CHECK_EQ_INT(a.version, 1);
}

LL_TEST(test_insufficient_funds_detail_has_numbers) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a;
    open_with_balance(&w, &a, 1, 500);
    ll_command_t cmd = fx_cmd(LL_CMD_WITHDRAW, &a.account_id, 501, "EUR");
    ll_decision_t d;
    LL_CHECK_EQ_INT(fx_run(&w, &a, &cmd, &d), LL_REJECT_INSUFFICIENT_FUNDS);
    LL_CHECK_CONTAINS(d.detail, "500");
    LL_CHECK_CONTAINS(d.detail, "501");
    LL_CHECK_EQ_STR(ll_rejection_slug(d.rejection), "insufficient-funds");
}

LL_TEST(test_unknown_account_rejections) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t none;
    ll_uuid_t id = fx_uuid(9);
    ll_account_init(&none, &id);
    ll_command_type_t types[] = {LL_CMD_DEPOSIT, LL_CMD_WITHDRAW, LL_CMD_CLOSE};
    for (size_t i = 0; i < LL_CASES(types); i++) {
        ll_command_t cmd = fx_cmd(types[i], &id, 100, "EUR");
        ll_decision_t d;
        LL_CHECK_EQ_INT(fx_run(&w, &none, &cmd, &d), LL_REJECT_ACCOUNT_NOT_FOUND);
    }
}

LL_TEST(test_close_rules) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a;
    LL_REQUIRE(fx_open(&w, &a, 1, "EUR") == 0);
    ll_command_t dep = fx_cmd(LL_CMD_DEPOSIT, &a.account_id, 1, "EUR");
    ll_decision_t d;
    LL_REQUIRE(fx_run(&w, &a, &dep, &d) == LL_REJECT_NONE);
    ll_command_t close = fx_cmd(LL_CMD_CLOSE, &a.account_id, 0, NULL);
    LL_CHECK_EQ_INT(fx_run(&w, &a, &close, &d), LL_REJECT_BALANCE_NOT_ZERO);
    ll_command_t wd = fx_cmd(LL_CMD_WITHDRAW, &a.account_id, 1, "EUR");
    LL_REQUIRE(fx_run(&w, &a, &wd, &d) == LL_REJECT_NONE);
    LL_REQUIRE(fx_run(&w, &a, &close, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(d.events[0].type, LL_EVENT_ACCOUNT_CLOSED);
    LL_CHECK_EQ_INT(a.status, LL_ACCOUNT_CLOSED);
    /* Everything after a close is refused as account-closed. */
    LL_CHECK_EQ_INT(fx_run(&w, &a, &close, &d), LL_REJECT_ACCOUNT_CLOSED);
    LL_CHECK_EQ_INT(fx_run(&w, &a, &dep, &d), LL_REJECT_ACCOUNT_CLOSED);
    LL_CHECK_EQ_INT(fx_run(&w, &a, &wd, &d), LL_REJECT_ACCOUNT_CLOSED);
    ll_command_t reopen = fx_cmd(LL_CMD_OPEN, &a.account_id, 0, "EUR");
    LL_CHECK_EQ_INT(fx_run(&w, &a, &reopen, &d), LL_REJECT_ACCOUNT_EXISTS);
    LL_CHECK_EQ_INT(a.version, 4);
}

LL_TEST(test_deposit_overflow_at_int64_max) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a;
    open_with_balance(&w, &a, 1, INT64_MAX - 10);
    ll_command_t cmd = fx_cmd(LL_CMD_DEPOSIT, &a.account_id, 10, "EUR");
    ll_decision_t d;
    LL_REQUIRE(fx_run(&w, &a, &cmd, &d) == LL_REJECT_NONE);
    LL_CHECK(a.balance_minor == INT64_MAX);
    cmd.amount_minor = 1;
    LL_CHECK_EQ_INT(fx_run(&w, &a, &cmd, &d), LL_REJECT_BALANCE_OVERFLOW);
    LL_CHECK(a.balance_minor == INT64_MAX);
}

LL_TEST(test_transfer_happy_path_conserves_money) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, b;
    open_with_balance(&w, &a, 1, 1000);
    open_with_balance(&w, &b, 2, 5);
    ll_decision_t d;
    LL_REQUIRE(fx_transfer(&w, &a, &b, 400, "EUR", &d) == LL_REJECT_NONE);
    LL_REQUIRE(d.event_count == 2);
    LL_CHECK_EQ_INT(d.events[0].type, LL_EVENT_TRANSFER_SENT);
    LL_CHECK_EQ_INT(d.events[1].type, LL_EVENT_TRANSFER_RECEIVED);
    LL_CHECK(ll_uuid_equal(&d.events[0].account_id, &a.account_id));
    LL_CHECK(ll_uuid_equal(&d.events[1].account_id, &b.account_id));
    LL_CHECK(ll_uuid_equal(&d.events[0].data.movement.transfer_id, &d.events[1].data.movement.transfer_id));
    LL_CHECK(ll_uuid_equal(&d.events[0].data.movement.counterparty_id, &b.account_id));
    LL_CHECK(ll_uuid_equal(&d.events[1].data.movement.counterparty_id, &a.account_id));
    LL_CHECK(!ll_uuid_equal(&d.events[0].event_id, &d.events[1].event_id));
    LL_CHECK_EQ_INT(a.balance_minor, 600);
    LL_CHECK_EQ_INT(b.balance_minor, 405);
    LL_CHECK_EQ_INT(a.version, 2);
    LL_CHECK_EQ_INT(b.version, 2);
}

LL_TEST(test_transfer_rejections) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, b, usd, closed, none, full;
    open_with_balance(&w, &a, 1, 1000);
    open_with_balance(&w, &b, 2, 0);
    LL_REQUIRE(fx_open(&w, &usd, 3, "USD") == 0);
    LL_REQUIRE(fx_open(&w, &closed, 4, "EUR") == 0);
    ll_command_t close = fx_cmd(LL_CMD_CLOSE, &closed.account_id, 0, NULL);
    ll_decision_t d;
    LL_REQUIRE(fx_run(&w, &closed, &close, &d) == LL_REJECT_NONE);
    ll_uuid_t none_id = fx_uuid(5);
    ll_account_init(&none, &none_id);
    open_with_balance(&w, &full, 6, INT64_MAX);

    LL_CHECK_EQ_INT(fx_transfer(&w, &a, &a, 1, "EUR", &d), LL_REJECT_SAME_ACCOUNT);
    LL_CHECK_EQ_INT(fx_transfer(&w, &a, &b, 0, "EUR", &d), LL_REJECT_AMOUNT_OUT_OF_RANGE);
    LL_CHECK_EQ_INT(fx_transfer(&w, &a, &b, 1001, "EUR", &d), LL_REJECT_INSUFFICIENT_FUNDS);
    LL_CHECK_EQ_INT(fx_transfer(&w, &a, &b, 1, "USD", &d), LL_REJECT_CURRENCY_MISMATCH);
    LL_CHECK_EQ_INT(fx_transfer(&w, &a, &usd, 1, "EUR", &d), LL_REJECT_CURRENCY_MISMATCH);
    LL_CHECK_CONTAINS(d.detail, "destination");
    LL_CHECK_EQ_INT(fx_transfer(&w, &a, &closed, 1, "EUR", &d), LL_REJECT_ACCOUNT_CLOSED);
    LL_CHECK_EQ_INT(fx_transfer(&w, &closed, &a, 1, "EUR", &d), LL_REJECT_ACCOUNT_CLOSED);
    LL_CHECK_EQ_INT(fx_transfer(&w, &a, &none, 1, "EUR", &d), LL_REJECT_ACCOUNT_NOT_FOUND);
    LL_CHECK_CONTAINS(d.detail, "destination");
    LL_CHECK_EQ_INT(fx_transfer(&w, &none, &a, 1, "EUR", &d), LL_REJECT_ACCOUNT_NOT_FOUND);
    LL_CHECK_EQ_INT(fx_transfer(&w, &a, &full, 1, "EUR", &d), LL_REJECT_BALANCE_OVERFLOW);
    LL_CHECK_EQ_INT(d.event_count, 0);
    /* Nothing moved. */
    LL_CHECK_EQ_INT(a.balance_minor, 1000);
    LL_CHECK_EQ_INT(a.version, 1);
    LL_CHECK_EQ_INT(b.version, 1);
}

LL_TEST(test_decide_is_deterministic) {
    fx_world_t w1, w2;
    fx_world_init(&w1);
    fx_world_init(&w2);
    ll_account_t a1, a2;
    LL_REQUIRE(fx_open(&w1, &a1, 1, "EUR") == 0);
    LL_REQUIRE(fx_open(&w2, &a2, 1, "EUR") == 0);
    ll_command_t cmd = fx_cmd(LL_CMD_DEPOSIT, &a1.account_id, 77, "EUR");
    ll_decision_t d1, d2;
    LL_REQUIRE(fx_run(&w1, &a1, &cmd, &d1) == LL_REJECT_NONE);
    LL_REQUIRE(fx_run(&w2, &a2, &cmd, &d2) == LL_REJECT_NONE);
    LL_CHECK_EQ_STR(d1.events[0].hash, d2.events[0].hash);
    LL_CHECK(memcmp(&a1, &a2, sizeof a1) == 0);
}

static ll_rejection_t run_freeze(fx_world_t *w, ll_account_t *a, ll_command_type_t type, ll_decision_t *d) {
    ll_command_t cmd = fx_cmd(type, &a->account_id, 0, NULL);
    snprintf(cmd.reason, sizeof cmd.reason, "case 12: \"court\" order");
    return fx_run(w, a, &cmd, d);
}

static ll_rejection_t set_limit(fx_world_t *w, ll_account_t *a, int64_t limit, ll_decision_t *d) {
    ll_command_t cmd = fx_cmd(LL_CMD_SET_CREDIT_LIMIT, &a->account_id, 0, NULL);
    cmd.overdraft_limit_minor = limit;
    return fx_run(w, a, &cmd, d);
}

/* A frozen account refuses every debit and its close with account-frozen, whatever else is
 * wrong or right; credits land; an unfreeze lifts it. */
LL_TEST(test_frozen_refuses_every_debit_and_close) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, b;
    LL_REQUIRE(fx_open(&w, &a, 1, "EUR") == 0);
    LL_REQUIRE(fx_open(&w, &b, 2, "EUR") == 0);
    ll_command_t dep = fx_cmd(LL_CMD_DEPOSIT, &a.account_id, 1000, "EUR");
    ll_decision_t d;
    LL_REQUIRE(fx_run(&w, &a, &dep, &d) == LL_REJECT_NONE);
    LL_REQUIRE(run_freeze(&w, &a, LL_CMD_FREEZE, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(d.events[0].type, LL_EVENT_ACCOUNT_FROZEN);
    LL_CHECK_EQ_STR(d.events[0].data.frozen.reason, "case 12: \"court\" order");
    LL_CHECK(d.events[0].after.frozen);
    LL_CHECK_EQ_INT(d.events[0].after.balance_minor, 1000);
    LL_CHECK(a.frozen);
    ll_account_t frozen = a;

    ll_command_t wd = fx_cmd(LL_CMD_WITHDRAW, &a.account_id, 1, "EUR");
    LL_CHECK_EQ_INT(fx_run(&w, &a, &wd, &d), LL_REJECT_ACCOUNT_FROZEN);
    LL_CHECK_CONTAINS(d.detail, "frozen");
    wd.amount_minor = 5000; /* frozen comes before the funds */
    LL_CHECK_EQ_INT(fx_run(&w, &a, &wd, &d), LL_REJECT_ACCOUNT_FROZEN);
    LL_CHECK_EQ_INT(fx_transfer(&w, &a, &b, 1, "EUR", &d), LL_REJECT_ACCOUNT_FROZEN);
    ll_command_t close = fx_cmd(LL_CMD_CLOSE, &a.account_id, 0, NULL);
    LL_CHECK_EQ_INT(fx_run(&w, &a, &close, &d), LL_REJECT_ACCOUNT_FROZEN);
    ll_hold_t h;
    LL_CHECK_EQ_INT(fx_place(&w, &a, 501, 1, 60, &h, &d), LL_REJECT_ACCOUNT_FROZEN);
    LL_CHECK(memcmp(&a, &frozen, sizeof a) == 0);
    /* The checks that come before it still do. */
    wd.amount_minor = 0;
    LL_CHECK_EQ_INT(fx_run(&w, &a, &wd, &d), LL_REJECT_AMOUNT_OUT_OF_RANGE);
    wd = fx_cmd(LL_CMD_WITHDRAW, &a.account_id, 1, "USD");
    LL_CHECK_EQ_INT(fx_run(&w, &a, &wd, &d), LL_REJECT_CURRENCY_MISMATCH);
    /* Credits land, and carry frozen. */
    dep.amount_minor = 5;
    LL_REQUIRE(fx_run(&w, &a, &dep, &d) == LL_REJECT_NONE);
    LL_CHECK(d.events[0].after.frozen);
    ll_command_t dep_b = fx_cmd(LL_CMD_DEPOSIT, &b.account_id, 100, "EUR");
    LL_REQUIRE(fx_run(&w, &b, &dep_b, &d) == LL_REJECT_NONE);
    LL_REQUIRE(fx_transfer(&w, &b, &a, 100, "EUR", &d) == LL_REJECT_NONE);
    LL_CHECK(d.events[1].after.frozen);
    LL_CHECK(!d.events[0].after.frozen);
    LL_CHECK_EQ_INT(a.balance_minor, 1105);
    /* A limit may change while frozen. */
    LL_CHECK_EQ_INT(set_limit(&w, &a, 10, &d), LL_REJECT_NONE);
    LL_CHECK(d.events[0].after.frozen);
    /* Freeze twice, unfreeze, unfreeze twice. */
    LL_CHECK_EQ_INT(run_freeze(&w, &a, LL_CMD_FREEZE, &d), LL_REJECT_ALREADY_FROZEN);
    LL_REQUIRE(run_freeze(&w, &a, LL_CMD_UNFREEZE, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(d.events[0].type, LL_EVENT_ACCOUNT_UNFROZEN);
    LL_CHECK(!d.events[0].after.frozen);
    LL_CHECK_EQ_INT(d.events[0].after.overdraft_limit_minor, 10);
    LL_CHECK_EQ_INT(run_freeze(&w, &a, LL_CMD_UNFREEZE, &d), LL_REJECT_NOT_FROZEN);
    wd = fx_cmd(LL_CMD_WITHDRAW, &a.account_id, 1115, "EUR"); /* the limit counts again */
    LL_CHECK_EQ_INT(fx_run(&w, &a, &wd, &d), LL_REJECT_NONE);
    LL_CHECK_EQ_INT(a.balance_minor, -10);
}

LL_TEST(test_freeze_needs_a_live_account) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, none;
    LL_REQUIRE(fx_open(&w, &a, 1, "EUR") == 0);
    ll_uuid_t id = fx_uuid(2);
    ll_account_init(&none, &id);
    ll_decision_t d;
    ll_command_t close = fx_cmd(LL_CMD_CLOSE, &a.account_id, 0, NULL);
    LL_REQUIRE(fx_run(&w, &a, &close, &d) == LL_REJECT_NONE);
    static const ll_command_type_t types[] = {LL_CMD_FREEZE, LL_CMD_UNFREEZE, LL_CMD_SET_CREDIT_LIMIT};
    for (size_t i = 0; i < LL_CASES(types); i++) {
        ll_command_t cmd = fx_cmd(types[i], &a.account_id, 0, NULL);
        snprintf(cmd.reason, sizeof cmd.reason, "x");
        LL_CHECK_EQ_INT(fx_run(&w, &a, &cmd, &d), LL_REJECT_ACCOUNT_CLOSED);
        cmd.account_id = none.account_id;
        LL_CHECK_EQ_INT(fx_run(&w, &none, &cmd, &d), LL_REJECT_ACCOUNT_NOT_FOUND);
    }
}

/* The balance may go down to minus the limit, with holds counted; a limit is 0..10^15 and may
 * not drop below what is used; closing ends it. */
LL_TEST(test_credit_limit) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a;
    LL_REQUIRE(fx_open(&w, &a, 1, "EUR") == 0);
    ll_decision_t d;
    LL_REQUIRE(set_limit(&w, &a, 500, &d) == LL_REJECT_NONE);
    const ll_event_t *ev = &d.events[0];
    LL_CHECK_EQ_INT(ev->type, LL_EVENT_CREDIT_LIMIT_SET);
    LL_CHECK_EQ_INT(ev->after.overdraft_limit_minor, 500);
    LL_CHECK_EQ_INT(ev->after.balance_minor, 0);
    LL_CHECK_EQ_INT(ll_account_floor(&a), -500);
    ll_command_t wd = fx_cmd(LL_CMD_WITHDRAW, &a.account_id, 501, "EUR");
    LL_CHECK_EQ_INT(fx_run(&w, &a, &wd, &d), LL_REJECT_INSUFFICIENT_FUNDS);
    wd.amount_minor = 300;
    LL_REQUIRE(fx_run(&w, &a, &wd, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(a.balance_minor, -300);
    ll_hold_t h;
    LL_CHECK_EQ_INT(fx_place(&w, &a, 501, 201, 60, &h, &d), LL_REJECT_INSUFFICIENT_FUNDS);
    LL_REQUIRE(fx_place(&w, &a, 501, 100, 60, &h, &d) == LL_REJECT_NONE);
    /* In use: 300 spent and 100 held. */
    LL_CHECK_EQ_INT(set_limit(&w, &a, 399, &d), LL_REJECT_CREDIT_LIMIT_IN_USE);
    LL_CHECK_CONTAINS(d.detail, "-400");
    LL_CHECK_CONTAINS(d.detail, "400");
    LL_CHECK_EQ_INT(set_limit(&w, &a, 0, &d), LL_REJECT_CREDIT_LIMIT_IN_USE);
    LL_CHECK_EQ_INT(set_limit(&w, &a, -1, &d), LL_REJECT_AMOUNT_OUT_OF_RANGE);
    LL_CHECK_EQ_INT(set_limit(&w, &a, LL_AMOUNT_MINOR_MAX + 1, &d), LL_REJECT_AMOUNT_OUT_OF_RANGE);
    LL_CHECK_EQ_INT(set_limit(&w, &a, INT64_MIN, &d), LL_REJECT_AMOUNT_OUT_OF_RANGE);
    LL_REQUIRE(set_limit(&w, &a, 400, &d) == LL_REJECT_NONE); /* exactly what is used */
    LL_CHECK_EQ_INT(ll_account_available(&a), -400);
    LL_CHECK_EQ_INT(d.events[0].after.held_minor, 100);
    LL_REQUIRE(set_limit(&w, &a, LL_AMOUNT_MINOR_MAX, &d) == LL_REJECT_NONE);
    /* Back to zero, then close: the limit ends with the account. */
    LL_REQUIRE(fx_settle(&w, &a, &h, NULL, LL_CMD_RELEASE_HOLD, 0, &d) == LL_REJECT_NONE);
    ll_command_t dep = fx_cmd(LL_CMD_DEPOSIT, &a.account_id, 300, "EUR");
    LL_REQUIRE(fx_run(&w, &a, &dep, &d) == LL_REJECT_NONE);
    ll_command_t close = fx_cmd(LL_CMD_CLOSE, &a.account_id, 0, NULL);
    LL_REQUIRE(fx_run(&w, &a, &close, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(a.overdraft_limit_minor, 0);
    LL_CHECK_EQ_INT(a.status, LL_ACCOUNT_CLOSED);
}

/* A transfer checks its source completely (amount, account, currency, frozen, funds) before
 * its destination; a refusal of the destination's says so. */
LL_TEST(test_transfer_checks_the_source_first) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, none;
    LL_REQUIRE(fx_open(&w, &a, 1, "EUR") == 0);
    ll_uuid_t id = fx_uuid(2);
    ll_account_init(&none, &id);
    ll_decision_t d;
    LL_CHECK_EQ_INT(fx_transfer(&w, &a, &none, 1, "EUR", &d), LL_REJECT_INSUFFICIENT_FUNDS);
    LL_CHECK_EQ_INT(d.failed_destination, 0);
    ll_command_t dep = fx_cmd(LL_CMD_DEPOSIT, &a.account_id, 1, "EUR");
    LL_REQUIRE(fx_run(&w, &a, &dep, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(fx_transfer(&w, &a, &none, 1, "EUR", &d), LL_REJECT_ACCOUNT_NOT_FOUND);
    LL_CHECK_EQ_INT(d.failed_destination, 1);
    LL_CHECK_EQ_INT(d.failed_leg, -1);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_open_happy_path),
        LL_CASE(test_open_rejections),
        LL_CASE(test_deposit_and_withdraw_happy_path),
        LL_CASE(test_movement_rejections),
        LL_CASE(test_insufficient_funds_detail_has_numbers),
        LL_CASE(test_unknown_account_rejections),
        LL_CASE(test_close_rules),
        LL_CASE(test_deposit_overflow_at_int64_max),
        LL_CASE(test_transfer_happy_path_conserves_money),
        LL_CASE(test_transfer_rejections),
        LL_CASE(test_decide_is_deterministic),
        LL_CASE(test_frozen_refuses_every_debit_and_close),
        LL_CASE(test_freeze_needs_a_live_account),
        LL_CASE(test_credit_limit),
        LL_CASE(test_transfer_checks_the_source_first),
    };
    return ll_test_main(argc, argv, "decide", cases, LL_CASES(cases));
}
