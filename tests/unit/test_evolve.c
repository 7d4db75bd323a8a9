/* Unit tests of domain/ll_account_evolve: it applies exactly the next event and refuses, with
 * the state unchanged, anything that does not follow: duplicates, gaps, broken links, bad sums. */
#include "domain_fixture.h"
#include "ll_test.h"

#include <string.h>

/* A stream: open, deposit 1000; returns the state and the deposit event (sealed) for tampering. */
static void setup(fx_world_t *w, ll_account_t *a, ll_event_t *deposit) {
    fx_world_init(w);
    if (fx_open(w, a, 1, "EUR") != 0) abort();
    ll_command_t cmd = fx_cmd(LL_CMD_DEPOSIT, &a->account_id, 1000, "EUR");
    ll_decision_t d;
    if (fx_run(w, a, &cmd, &d) != LL_REJECT_NONE) abort();
    *deposit = d.events[0];
}

/* The next withdrawal of amount, decided and sealed but not applied. */
static ll_event_t next_withdrawal(fx_world_t *w, const ll_account_t *a, int64_t amount) {
    ll_command_t cmd = fx_cmd(LL_CMD_WITHDRAW, &a->account_id, amount, "EUR");
    ll_command_meta_t meta = fx_meta(w);
    ll_decision_t d;
    ll_decide(a, &cmd, &meta, &d);
    if (d.rejection != LL_REJECT_NONE) abort();
    d.events[0].global_position = w->next_position++;
    if (ll_event_seal(&d.events[0], NULL) != 0) abort();
    return d.events[0];
}

/* Evolves a copy of a with ev and checks the expected verdict and that a stays unchanged. */
static void expect_refused(ll_test_ctx_t *t, const ll_account_t *a, const ll_event_t *ev, ll_evolve_t verdict,
                           const char *why) {
    ll_account_t copy = *a;
    ll_error_t err = {""};
    LL_CHECK_EQ_INT(ll_account_evolve(&copy, ev, &err), verdict);
    LL_CHECK_CONTAINS(err.msg, why);
    LL_CHECK(memcmp(&copy, a, sizeof copy) == 0);
}

LL_TEST(test_duplicate_is_reported_as_duplicate) {
    fx_world_t w;
    ll_account_t a;
    ll_event_t dep;
    setup(&w, &a, &dep);
    expect_refused(t, &a, &dep, LL_EVOLVE_DUPLICATE, "already applied");
}

LL_TEST(test_gap_is_reported_as_gap) {
    fx_world_t w;
    ll_account_t a;
    ll_event_t dep;
    setup(&w, &a, &dep);
    ll_event_t ev = next_withdrawal(&w, &a, 10);
    ev.version += 2;
    expect_refused(t, &a, &ev, LL_EVOLVE_GAP, "2 event(s) missing");
}

LL_TEST(test_inconsistent_events_are_refused) {
    fx_world_t w;
    ll_account_t a;
    ll_event_t dep;
    setup(&w, &a, &dep);
    ll_event_t good = next_withdrawal(&w, &a, 10);
    ll_event_t ev;

    ev = good;
    ev.account_id = fx_uuid(77);
    expect_refused(t, &a, &ev, LL_EVOLVE_INCONSISTENT, "another account");
    ev = good;
    ev.hash[0] = '\0';
    expect_refused(t, &a, &ev, LL_EVOLVE_INCONSISTENT, "not sealed");
    ev = good;
    ev.prev_hash[5] = ev.prev_hash[5] == 'a' ? 'b' : 'a';
    expect_refused(t, &a, &ev, LL_EVOLVE_INCONSISTENT, "prev_hash");
    ev = good;
    ev.after.balance_minor += 1;
    expect_refused(t, &a, &ev, LL_EVOLVE_INCONSISTENT, "balance_after_minor");
    ev = good;
    memcpy(ev.data.movement.currency.code, "USD", 4);
    expect_refused(t, &a, &ev, LL_EVOLVE_INCONSISTENT, "currency");
    ev = good;
    ev.data.movement.amount_minor = 0;
    expect_refused(t, &a, &ev, LL_EVOLVE_INCONSISTENT, "amount out of range");
    ev = good;
    ev.data.movement.amount_minor = 1001; /* more than the balance, with a matching balance_after */
    ev.after.balance_minor = -1;
    expect_refused(t, &a, &ev, LL_EVOLVE_INCONSISTENT, "below the allowed floor");
    ev = good;
    ev.type = LL_EVENT_ACCOUNT_OPENED;
    expect_refused(t, &a, &ev, LL_EVOLVE_INCONSISTENT, "already opened");
    ev = good;
    ev.type = LL_EVENT_ACCOUNT_CLOSED;
    expect_refused(t, &a, &ev, LL_EVOLVE_INCONSISTENT, "non-zero balance");
    ev = good;
    ev.type = LL_EVENT_TRANSFER_SENT; /* a transfer leg without transfer id or counterparty */
    expect_refused(t, &a, &ev, LL_EVOLVE_INCONSISTENT, "transfer without");
    ev = good;
    ev.type = (ll_event_type_t)99;
    expect_refused(t, &a, &ev, LL_EVOLVE_INCONSISTENT, "unknown event type");

    ll_error_t err = {""};
    LL_CHECK_EQ_INT(ll_account_evolve(&a, &good, &err), LL_EVOLVE_OK); /* the untampered one applies */
    LL_CHECK_EQ_INT(a.balance_minor, 990);
}

LL_TEST(test_events_on_unopened_or_closed_streams_are_refused) {
    fx_world_t w;
    ll_account_t a;
    ll_event_t dep;
    setup(&w, &a, &dep);
    ll_account_t empty;
    ll_account_init(&empty, &a.account_id);
    ll_event_t ev = dep;
    ev.version = 1;
    memcpy(ev.prev_hash, LL_HASH_ZERO, sizeof ev.prev_hash);
    expect_refused(t, &empty, &ev, LL_EVOLVE_INCONSISTENT, "not opened");

    ll_command_t wd = fx_cmd(LL_CMD_WITHDRAW, &a.account_id, 1000, "EUR");
    ll_command_t close = fx_cmd(LL_CMD_CLOSE, &a.account_id, 0, NULL);
    ll_decision_t d;
    LL_REQUIRE(fx_run(&w, &a, &wd, &d) == LL_REJECT_NONE);
    LL_REQUIRE(fx_run(&w, &a, &close, &d) == LL_REJECT_NONE);
    ev = d.events[0]; /* reuse the close event's envelope as a deposit after the close */
    ev.type = LL_EVENT_MONEY_DEPOSITED;
    ev.version = a.version + 1;
    memcpy(ev.prev_hash, a.head_hash, sizeof ev.prev_hash);
    ev.data.movement.amount_minor = 1;
    ev.after.balance_minor = 1;
    memcpy(ev.data.movement.currency.code, "EUR", 4);
    expect_refused(t, &a, &ev, LL_EVOLVE_INCONSISTENT, "closed");
}

/* ll_account_at takes the opening and a later event of one stream, nothing else. */
LL_TEST(test_state_from_two_events_refuses_what_is_not_one_stream) {
    ll_event_t ev[8];
    fx_all_types(ev); /* a: ev[0] opened, ev[2] deposit; b: ev[1] opened */
    ll_account_t out;
    ll_error_t err = {""};
    LL_CHECK_EQ_INT(ll_account_at(&ev[0], &ev[2], &out, &err), 0);
    LL_CHECK_EQ_INT(out.version, ev[2].version);
    LL_CHECK_EQ_INT(out.balance_minor, ev[2].after.balance_minor);
    LL_CHECK_EQ_INT(ll_account_at(&ev[0], &ev[0], &out, &err), 0);
    LL_CHECK_EQ_INT(out.version, 1);
    LL_CHECK_EQ_INT(ll_account_at(&ev[2], &ev[2], &out, &err), LL_EINVAL);
    LL_CHECK_CONTAINS(err.msg, "opening");
    LL_CHECK_EQ_INT(ll_account_at(&ev[1], &ev[2], &out, &err), LL_EINVAL);
    LL_CHECK_CONTAINS(err.msg, "different accounts");
    ll_event_t again = ev[0]; /* an opening at version 2 */
    again.version = 2;
    LL_CHECK_EQ_INT(ll_account_at(&ev[0], &again, &out, &err), LL_EINVAL);
    ll_event_t other = ev[2]; /* version 1 that is not the opening */
    other.version = 1;
    LL_CHECK_EQ_INT(ll_account_at(&ev[0], &other, &out, &err), LL_EINVAL);
    ll_event_t usd = ev[2];
    memcpy(usd.data.movement.currency.code, "USD", 4);
    LL_CHECK_EQ_INT(ll_account_at(&ev[0], &usd, &out, &err), LL_EINVAL);
    LL_CHECK_CONTAINS(err.msg, "currency");
    ll_event_t below = ev[2];
    below.after.balance_minor = -1;
    LL_CHECK_EQ_INT(ll_account_at(&ev[0], &below, &out, &err), LL_EINVAL);
    LL_CHECK_CONTAINS(err.msg, "floor");
}

/* Account A's events of fx_every_type (every type), in version order; returns how many. */
static size_t stream_a(ll_event_t out[FX_EVERY_TYPE_MAX]) {
    static ll_event_t all[FX_EVERY_TYPE_MAX];
    size_t n = fx_every_type(all), k = 0;
    ll_uuid_t a = fx_uuid(1);
    for (size_t i = 0; i < n; i++)
        if (ll_uuid_equal(&all[i].account_id, &a)) out[k++] = all[i];
    return k;
}

/* The state of A right before its event at index v. */
static ll_account_t before_event(const ll_event_t *ev, size_t v) {
    ll_account_t s;
    ll_account_init(&s, &ev[0].account_id);
    for (size_t i = 0; i < v; i++)
        if (ll_account_evolve(&s, &ev[i], NULL) != LL_EVOLVE_OK) abort();
    return s;
}

/* Every event that carries figures is refused when any one of them is off, whatever its type:
 * the balance, held, the limit or frozen after it must be exactly what applying it gives. */
LL_TEST(test_every_figure_of_every_type_is_checked) {
    static ll_event_t ev[FX_EVERY_TYPE_MAX];
    size_t n = stream_a(ev);
    LL_REQUIRE(n == 20);
    int types = 0;
    for (size_t v = 1; v < n; v++) {
        if (ev[v].type == LL_EVENT_ACCOUNT_CLOSED) continue;
        ll_account_t s = before_event(ev, v);
        ll_event_t bad;
        types++;
        bad = ev[v];
        bad.after.balance_minor += 1;
        expect_refused(t, &s, &bad, LL_EVOLVE_INCONSISTENT, "balance_after_minor");
        bad = ev[v];
        bad.after.held_minor += 1;
        expect_refused(t, &s, &bad, LL_EVOLVE_INCONSISTENT, "held_after_minor");
        bad = ev[v];
        bad.after.overdraft_limit_minor += 1; /* CreditLimitSet: the figure is the new limit itself */
        if (ev[v].type != LL_EVENT_CREDIT_LIMIT_SET)
            expect_refused(t, &s, &bad, LL_EVOLVE_INCONSISTENT, "overdraft_limit_minor or frozen");
        bad = ev[v];
        bad.after.frozen = !bad.after.frozen;
        expect_refused(t, &s, &bad, LL_EVOLVE_INCONSISTENT, "overdraft_limit_minor or frozen");
        ll_error_t err = {""};
        LL_CHECK_EQ_INT(ll_account_evolve(&s, &ev[v], &err), LL_EVOLVE_OK);
    }
    LL_CHECK_EQ_INT(types, 18);
}

/* What evolve refuses of the new types, each with the state unchanged. */
LL_TEST(test_holds_limits_and_freezes_that_do_not_follow) {
    static ll_event_t ev[FX_EVERY_TYPE_MAX];
    size_t n = stream_a(ev);
    LL_REQUIRE(n == 20);
    /* A's versions (index = version - 1): 5 HoldPlaced 500, 6 HoldCaptured to B, 7 HoldPlaced 70,
     * 8 HoldCaptured, 9 HoldPlaced 200, 10 HoldPlaced 40, 11 HoldExpired, 12 CreditLimitSet,
     * 13 AccountFrozen, 14 MoneyDeposited (frozen), 15 AccountUnfrozen, 18 HoldReleased. */
    LL_REQUIRE(ev[5].type == LL_EVENT_HOLD_CAPTURED && ev[13].type == LL_EVENT_MONEY_DEPOSITED);
    ll_account_t s;
    ll_event_t bad;

    s = before_event(ev, 4); /* a hold needs a hold id; placing it overflows nothing */
    bad = ev[4];
    bad.data.movement.hold_id = (ll_uuid_t){{0}};
    expect_refused(t, &s, &bad, LL_EVOLVE_INCONSISTENT, "without hold_id");

    s = before_event(ev, 5); /* the capture of 300 of 500, to B */
    bad = ev[5];
    bad.data.movement.released_minor = -1;
    bad.after.held_minor += 1;
    expect_refused(t, &s, &bad, LL_EVOLVE_INCONSISTENT, "released_minor out of range");
    bad = ev[5];
    bad.data.movement.released_minor += 1; /* releases more than is held */
    expect_refused(t, &s, &bad, LL_EVOLVE_INCONSISTENT, "releases more than is held");
    bad = ev[5];
    bad.data.movement.counterparty_id = (ll_uuid_t){{0}};
    expect_refused(t, &s, &bad, LL_EVOLVE_INCONSISTENT, "transfer without transfer_id or counterparty");
    bad = ev[5];
    bad.data.movement.counterparty_id = s.account_id;
    expect_refused(t, &s, &bad, LL_EVOLVE_INCONSISTENT, "transfer to itself");
    s.frozen = true; /* a capture is a debit */
    bad = ev[5];
    bad.after.frozen = true;
    expect_refused(t, &s, &bad, LL_EVOLVE_INCONSISTENT, "a debit of a frozen account");

    s = before_event(ev, 4); /* a hold on a frozen account */
    s.frozen = true;
    bad = ev[4];
    bad.after.frozen = true;
    expect_refused(t, &s, &bad, LL_EVOLVE_INCONSISTENT, "a hold on a frozen account");

    s = before_event(ev, 10); /* the expiry of 40 with 240 held */
    bad = ev[10];
    bad.data.movement.amount_minor = 241;
    bad.after.held_minor = -1;
    expect_refused(t, &s, &bad, LL_EVOLVE_INCONSISTENT, "releases more than is held");

    s = before_event(ev, 11); /* the limit of 5000 */
    bad = ev[11];
    bad.after.overdraft_limit_minor = -1;
    expect_refused(t, &s, &bad, LL_EVOLVE_INCONSISTENT, "overdraft limit out of range");
    bad.after.overdraft_limit_minor = LL_AMOUNT_MINOR_MAX + 1;
    expect_refused(t, &s, &bad, LL_EVOLVE_INCONSISTENT, "overdraft limit out of range");
    s.balance_minor = -10; /* a limit below what the account uses */
    bad = ev[11];
    bad.after.balance_minor = -10;
    bad.after.overdraft_limit_minor = 9;
    expect_refused(t, &s, &bad, LL_EVOLVE_INCONSISTENT, "below the allowed floor");

    s = before_event(ev, 12); /* the freeze */
    s.frozen = true;
    expect_refused(t, &s, &ev[12], LL_EVOLVE_INCONSISTENT, "already frozen");
    s = before_event(ev, 14); /* the unfreeze */
    s.frozen = false;
    bad = ev[14];
    expect_refused(t, &s, &bad, LL_EVOLVE_INCONSISTENT, "not frozen");
    /* A withdrawal on the frozen account (where the deposit landed). */
    s = before_event(ev, 13);
    bad = ev[13];
    bad.type = LL_EVENT_MONEY_WITHDRAWN;
    bad.after.balance_minor = s.balance_minor - bad.data.movement.amount_minor;
    expect_refused(t, &s, &bad, LL_EVOLVE_INCONSISTENT, "a debit of a frozen account");

    /* The close: not with holds, not frozen. */
    s = before_event(ev, 19);
    s.held_minor = 1;
    expect_refused(t, &s, &ev[19], LL_EVOLVE_INCONSISTENT, "open holds");
    s = before_event(ev, 19);
    s.frozen = true;
    expect_refused(t, &s, &ev[19], LL_EVOLVE_INCONSISTENT, "frozen");
    /* The untampered stream folds to a closed account whose limit ended. */
    s = before_event(ev, n);
    LL_CHECK_EQ_INT(s.status, LL_ACCOUNT_CLOSED);
    LL_CHECK_EQ_INT(s.overdraft_limit_minor, 0);
    LL_CHECK(!s.frozen);
}

/* ll_account_at and ll_account_take_figures with each type as the newest event, and what they
 * refuse of the new figures. */
LL_TEST(test_state_from_two_events_with_every_type) {
    static ll_event_t ev[FX_EVERY_TYPE_MAX];
    size_t n = stream_a(ev);
    ll_account_t folded;
    ll_account_init(&folded, &ev[0].account_id);
    for (size_t v = 0; v < n; v++) {
        ll_error_t err = {""};
        LL_REQUIRE(ll_account_evolve(&folded, &ev[v], &err) == LL_EVOLVE_OK);
        ll_account_t at;
        memset(&at, 0x5a, sizeof at);
        LL_CHECK_EQ_INT(ll_account_at(&ev[0], &ev[v], &at, &err), 0);
        if (memcmp(&at, &folded, sizeof at) != 0) LL_FAIL_AT("after %s", ll_event_type_name(ev[v].type));
    }
    ll_account_t out;
    ll_error_t err = {""};
    ll_event_t bad = ev[9]; /* HoldPlaced: held below zero */
    bad.after.held_minor = -1;
    LL_CHECK_EQ_INT(ll_account_at(&ev[0], &bad, &out, &err), LL_EINVAL);
    LL_CHECK_CONTAINS(err.msg, "floor");
    bad = ev[11]; /* CreditLimitSet: a negative limit */
    bad.after.overdraft_limit_minor = -1;
    LL_CHECK_EQ_INT(ll_account_at(&ev[0], &bad, &out, &err), LL_EINVAL);
    bad = ev[11]; /* more held than the balance and the limit allow */
    bad.after.held_minor = bad.after.balance_minor + bad.after.overdraft_limit_minor + 1;
    LL_CHECK_EQ_INT(ll_account_at(&ev[0], &bad, &out, &err), LL_EINVAL);
    bad.after.held_minor -= 1; /* exactly at the floor is allowed */
    LL_CHECK_EQ_INT(ll_account_at(&ev[0], &bad, &out, &err), 0);
    LL_CHECK_EQ_INT(ll_account_available(&out), -5000);
    bad = ev[9]; /* balance - held beyond int64 */
    bad.after.balance_minor = INT64_MIN;
    bad.after.held_minor = 1;
    LL_CHECK_EQ_INT(ll_account_at(&ev[0], &bad, &out, &err), LL_EINVAL);
    bad = ev[17]; /* HoldReleased in another currency */
    memcpy(bad.data.movement.currency.code, "USD", 4);
    LL_CHECK_EQ_INT(ll_account_at(&ev[0], &bad, &out, &err), LL_EINVAL);
    LL_CHECK_CONTAINS(err.msg, "currency");
    bad = ev[12]; /* an unknown type */
    bad.type = LL_EVENT_TYPE_COUNT;
    LL_CHECK_EQ_INT(ll_account_at(&ev[0], &bad, &out, &err), LL_EINVAL);
}

/* The stored status texts read back to what ll_account_status_name wrote; nothing else does. */
LL_TEST(test_status_names_read_back) {
    ll_account_status_t st = LL_ACCOUNT_NONE;
    LL_CHECK_EQ_INT(ll_account_status_parse(ll_account_status_name(LL_ACCOUNT_OPEN), &st), 0);
    LL_CHECK_EQ_INT(st, LL_ACCOUNT_OPEN);
    LL_CHECK_EQ_INT(ll_account_status_parse(ll_account_status_name(LL_ACCOUNT_CLOSED), &st), 0);
    LL_CHECK_EQ_INT(st, LL_ACCOUNT_CLOSED);
    LL_CHECK_EQ_INT(ll_account_status_parse("none", &st), -1);
    LL_CHECK_EQ_INT(ll_account_status_parse("OPEN", &st), -1);
    LL_CHECK_EQ_INT(ll_account_status_parse("", &st), -1);
    LL_CHECK_EQ_INT(st, LL_ACCOUNT_CLOSED); /* unchanged by a refusal */
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_status_names_read_back),
        LL_CASE(test_duplicate_is_reported_as_duplicate),
        LL_CASE(test_gap_is_reported_as_gap),
        LL_CASE(test_inconsistent_events_are_refused),
        LL_CASE(test_events_on_unopened_or_closed_streams_are_refused),
        LL_CASE(test_state_from_two_events_refuses_what_is_not_one_stream),
        LL_CASE(test_every_figure_of_every_type_is_checked),
        LL_CASE(test_holds_limits_and_freezes_that_do_not_follow),
        LL_CASE(test_state_from_two_events_with_every_type),
    };
    return ll_test_main(argc, argv, "evolve", cases, LL_CASES(cases));
}
