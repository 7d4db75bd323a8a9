/* Unit tests of domain/ll_replay: fold, state after each event, state as of an instant, resuming
 * after an event of any type. */
#include "domain_fixture.h"
#include "ll_event_codec.h"
#include "ll_replay.h"
#include "ll_test.h"

#include <string.h>

#define N 5

/* Account 1: open, +500, -100, +7, -407 (ends at balance 0). */
static void make_events(ll_event_t ev[N]) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a;
    ll_uuid_t id = fx_uuid(1);
    ll_account_init(&a, &id);
    ll_command_t cmds[N] = {fx_cmd(LL_CMD_OPEN, &id, 0, "EUR"), fx_cmd(LL_CMD_DEPOSIT, &id, 500, "EUR"),
                            fx_cmd(LL_CMD_WITHDRAW, &id, 100, "EUR"), fx_cmd(LL_CMD_DEPOSIT, &id, 7, "EUR"),
                            fx_cmd(LL_CMD_WITHDRAW, &id, 407, "EUR")};
    for (int i = 0; i < N; i++) {
        ll_decision_t d;
        if (fx_run(&w, &a, &cmds[i], &d) != LL_REJECT_NONE) abort();
        ev[i] = d.events[0];
    }
}

LL_TEST(test_fold_reaches_final_state) {
    ll_event_t ev[N];
    make_events(ev);
    ll_account_t a;
    ll_account_init(&a, &ev[0].account_id);
    ll_error_t err = {""};
    LL_REQUIRE(ll_replay_fold(&a, ev, N, NULL, &err) == 0);
    LL_CHECK_EQ_INT(a.version, N);
    LL_CHECK_EQ_INT(a.balance_minor, 0);
    LL_CHECK_EQ_STR(a.head_hash, ev[N - 1].hash);
    /* Folding in two parts gives the same state. */
    ll_account_t b;
    ll_account_init(&b, &ev[0].account_id);
    LL_REQUIRE(ll_replay_fold(&b, ev, 2, NULL, &err) == 0);
    LL_REQUIRE(ll_replay_fold(&b, ev + 2, N - 2, NULL, &err) == 0);
    LL_CHECK(memcmp(&a, &b, sizeof a) == 0);
}

LL_TEST(test_fold_stops_at_first_bad_event) {
    ll_event_t ev[N];
    make_events(ev);
    ev[3].after.balance_minor = 1;
    ll_account_t a;
    ll_account_init(&a, &ev[0].account_id);
    size_t bad = 99;
    ll_error_t err = {""};
    LL_CHECK(ll_replay_fold(&a, ev, N, &bad, &err) != 0);
    LL_CHECK_EQ_INT(bad, 3);
    LL_CHECK_CONTAINS(err.msg, "version 4");
    LL_CHECK_EQ_INT(a.version, 3); /* state after the last good event */
    LL_CHECK_EQ_INT(a.balance_minor, 400);
}

typedef struct {
    int64_t balances[N];
    int count, stop_after;
} visits_t;

static int record(const ll_event_t *ev, const ll_account_t *after, void *ctx) {
    visits_t *v = ctx;
    (void)ev;
    v->balances[v->count++] = after->balance_minor;
    return v->count == v->stop_after;
}

LL_TEST(test_each_gives_state_after_every_event) {
    ll_event_t ev[N];
    make_events(ev);
    ll_account_t a;
    ll_account_init(&a, &ev[0].account_id);
    visits_t v = {{0}, 0, 0};
    LL_REQUIRE(ll_replay_each(&a, ev, N, record, &v, NULL, NULL) == 0);
    LL_CHECK_EQ_INT(v.count, N);
    int64_t expect[N] = {0, 500, 400, 407, 0};
    for (int i = 0; i < N; i++) LL_CHECK_EQ_INT(v.balances[i], expect[i]);
    ll_account_init(&a, &ev[0].account_id);
    visits_t early = {{0}, 0, 2};
    LL_REQUIRE(ll_replay_each(&a, ev, N, record, &early, NULL, NULL) == 0);
    LL_CHECK_EQ_INT(early.count, 2);
    LL_CHECK_EQ_INT(a.version, 2);
}

LL_TEST(test_as_of) {
    ll_event_t ev[N];
    make_events(ev);
    struct {
        int64_t at;
        int64_t version, balance;
    } cases[] = {
        {ev[0].occurred_at_us - 1, 0, 0}, /* before the account existed */
        {ev[0].occurred_at_us, 1, 0},     /* inclusive */
        {ev[2].occurred_at_us, 3, 400},
        {ev[3].occurred_at_us - 1, 3, 400},
        {ev[N - 1].occurred_at_us + 1000000000, N, 0},
    };
    for (size_t i = 0; i < LL_CASES(cases); i++) {
        ll_account_t a;
        ll_account_init(&a, &ev[0].account_id);
        size_t applied = 99;
        LL_REQUIRE(ll_replay_as_of(&a, ev, N, cases[i].at, &applied, NULL) == 0);
        LL_CHECK_EQ_INT(a.version, cases[i].version);
        LL_CHECK_EQ_INT(a.balance_minor, cases[i].balance);
        LL_CHECK_EQ_INT(applied, cases[i].version);
    }
    /* A clock that stepped back: version 4 claims an earlier time than version 3. as_of stops at
     * the first later event, so version 4 never counts without version 3. */
    ev[3].occurred_at_us = ev[1].occurred_at_us;
    ll_account_t a;
    ll_account_init(&a, &ev[0].account_id);
    LL_REQUIRE(ll_replay_as_of(&a, ev, N, ev[2].occurred_at_us - 1, NULL, NULL) == 0);
    LL_CHECK_EQ_INT(a.version, 2);
}

/* Resuming after any event gives the state a whole fold reaches there, and the events after it
 * then fold on it; what cannot follow the opening is refused with the state unchanged. */
LL_TEST(test_resume_equals_the_fold_up_to_there) {
    ll_event_t ev[N];
    make_events(ev);
    ll_error_t err = {""};
    for (int k = 1; k < N; k++) {
        ll_account_t whole, opened;
        ll_account_init(&whole, &ev[0].account_id);
        ll_account_init(&opened, &ev[0].account_id);
        LL_REQUIRE(ll_replay_fold(&whole, ev, (size_t)k + 1, NULL, &err) == 0);
        LL_REQUIRE(ll_replay_fold(&opened, ev, 1, NULL, &err) == 0);
        LL_REQUIRE(ll_replay_resume(&opened, &ev[k], &err) == 0);
        LL_CHECK(memcmp(&whole, &opened, sizeof whole) == 0);
        LL_REQUIRE(ll_replay_fold(&opened, ev + k + 1, (size_t)(N - k - 1), NULL, &err) == 0);
        LL_CHECK_EQ_INT(opened.version, N);
    }
    ll_account_t opened, before;
    ll_account_init(&opened, &ev[0].account_id);
    LL_REQUIRE(ll_replay_fold(&opened, ev, 1, NULL, &err) == 0);
    before = opened;
    LL_CHECK(ll_replay_resume(&opened, &ev[0], &err) != 0); /* the opening itself */
    ll_event_t bad = ev[2];
    memcpy(bad.data.movement.currency.code, "USD", 4);
    LL_CHECK(ll_replay_resume(&opened, &bad, &err) != 0);
    LL_CHECK_CONTAINS(err.msg, "currency");
    bad = ev[2];
    bad.after.balance_minor = -1;
    LL_CHECK(ll_replay_resume(&opened, &bad, &err) != 0);
    bad = ev[2];
    bad.account_id = fx_uuid(2);
    LL_CHECK(ll_replay_resume(&opened, &bad, &err) != 0);
    LL_CHECK(memcmp(&opened, &before, sizeof opened) == 0);
    /* The event after the one resumed from must link to it: a break there is caught. */
    LL_REQUIRE(ll_replay_resume(&opened, &ev[2], &err) == 0);
    bad = ev[3];
    bad.prev_hash[0] = bad.prev_hash[0] == 'a' ? 'b' : 'a';
    LL_CHECK(ll_replay_fold(&opened, &bad, 1, NULL, &err) != 0);
}

/* Resuming after an event of any type gives the state a whole fold reaches there, and the rest
 * of the stream folds on it: account A of fx_every_type (holds, a limit, a freeze, payment legs,
 * a capture to an account, the close). */
LL_TEST(test_resume_after_every_type) {
    static ll_event_t all[FX_EVERY_TYPE_MAX], ev[FX_EVERY_TYPE_MAX];
    size_t n_all = fx_every_type(all), n = 0;
    for (size_t i = 0; i < n_all; i++)
        if (ll_uuid_equal(&all[i].account_id, &all[0].account_id)) ev[n++] = all[i];
    LL_REQUIRE(n == 20);
    ll_error_t err = {""};
    int seen[LL_EVENT_TYPE_COUNT] = {0};
    for (size_t k = 1; k < n; k++) {
        ll_account_t whole, opened;
        ll_account_init(&whole, &ev[0].account_id);
        ll_account_init(&opened, &ev[0].account_id);
        LL_REQUIRE(ll_replay_fold(&whole, ev, k + 1, NULL, &err) == 0);
        LL_REQUIRE(ll_replay_fold(&opened, ev, 1, NULL, &err) == 0);
        if (ll_replay_resume(&opened, &ev[k], &err) != 0) {
            LL_FAIL_AT("resume after %s: %s", ll_event_type_name(ev[k].type), err.msg);
            continue;
        }
        seen[ev[k].type]++;
        if (memcmp(&whole, &opened, sizeof whole) != 0) LL_FAIL_AT("resume after %s differs", ll_event_type_name(ev[k].type));
        if (ll_replay_fold(&opened, ev + k + 1, n - k - 1, NULL, &err) != 0)
            LL_FAIL_AT("fold after resuming at %s: %s", ll_event_type_name(ev[k].type), err.msg);
        LL_CHECK_EQ_INT(opened.version, (int64_t)n);
    }
    for (int ty = LL_EVENT_ACCOUNT_OPENED + 1; ty < LL_EVENT_TYPE_COUNT; ty++)
        if (seen[ty] == 0 && ty != LL_EVENT_TRANSFER_RECEIVED) /* A receives nothing */
            LL_FAIL_AT("no resume after %s", ll_event_type_name((ll_event_type_t)ty));
    /* Resumed after the freeze, the next event must still follow it (a debit would not). */
    ll_account_t opened;
    ll_account_init(&opened, &ev[0].account_id);
    LL_REQUIRE(ll_replay_fold(&opened, ev, 1, NULL, &err) == 0);
    LL_REQUIRE(ev[12].type == LL_EVENT_ACCOUNT_FROZEN);
    LL_REQUIRE(ll_replay_resume(&opened, &ev[12], &err) == 0);
    LL_CHECK(opened.frozen);
    LL_CHECK_EQ_INT(opened.held_minor, 200);
    LL_CHECK_EQ_INT(opened.overdraft_limit_minor, 5000);
    ll_event_t debit = ev[13];
    debit.type = LL_EVENT_MONEY_WITHDRAWN;
    debit.after.balance_minor = opened.balance_minor - debit.data.movement.amount_minor;
    LL_CHECK(ll_replay_fold(&opened, &debit, 1, NULL, &err) != 0);
    LL_CHECK_CONTAINS(err.msg, "frozen");
    /* An unsealed event is not resumed from. */
    ll_event_t unsealed = ev[9];
    unsealed.hash[0] = '\0';
    LL_CHECK(ll_replay_resume(&opened, &unsealed, &err) != 0);
    /* Resuming at the close takes the closed, empty account. */
    ll_account_init(&opened, &ev[0].account_id);
    LL_REQUIRE(ll_replay_fold(&opened, ev, 1, NULL, &err) == 0);
    LL_REQUIRE(ll_replay_resume(&opened, &ev[n - 1], &err) == 0);
    LL_CHECK_EQ_INT(opened.status, LL_ACCOUNT_CLOSED);
    LL_CHECK_EQ_INT(opened.overdraft_limit_minor, 0);
}

/* A whole stream of every type replays through the stored text, one envelope at a time. */
LL_TEST(test_envelopes_of_every_type_replay) {
    static ll_event_t all[FX_EVERY_TYPE_MAX];
    size_t n = fx_every_type(all);
    ll_account_t states[3];
    for (uint64_t k = 0; k < 3; k++) {
        ll_uuid_t id = fx_uuid(k + 1);
        ll_account_init(&states[k], &id);
    }
    for (size_t i = 0; i < n; i++) {
        char text[LL_EVENT_JSON_BYTES_MAX];
        size_t len = 0;
        LL_REQUIRE(ll_event_encode(&all[i], true, text, sizeof text, &len, NULL) == 0);
        ll_event_t ev;
        ll_error_t err = {""};
        int k = all[i].account_id.bytes[15] - 1;
        if (ll_replay_envelope(&states[k], text, len, &ev, &err) != 0) LL_FAIL_AT("event %zu: %s", i, err.msg);
    }
    LL_CHECK_EQ_INT(states[0].version, 20);
    LL_CHECK_EQ_INT(states[1].balance_minor, 1550);
    LL_CHECK_EQ_INT(states[2].balance_minor, 1);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_fold_reaches_final_state),
        LL_CASE(test_fold_stops_at_first_bad_event),
        LL_CASE(test_each_gives_state_after_every_event),
        LL_CASE(test_as_of),
        LL_CASE(test_resume_equals_the_fold_up_to_there),
        LL_CASE(test_resume_after_every_type),
        LL_CASE(test_envelopes_of_every_type_replay),
    };
    return ll_test_main(argc, argv, "replay", cases, LL_CASES(cases));
}
