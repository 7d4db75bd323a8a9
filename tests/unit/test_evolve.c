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

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_duplicate_is_reported_as_duplicate),
        LL_CASE(test_gap_is_reported_as_gap),
        LL_CASE(test_inconsistent_events_are_refused),
        LL_CASE(test_events_on_unopened_or_closed_streams_are_refused),
        LL_CASE(test_state_from_two_events_refuses_what_is_not_one_stream),
    };
    return ll_test_main(argc, argv, "evolve", cases, LL_CASES(cases));
}
