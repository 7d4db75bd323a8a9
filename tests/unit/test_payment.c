/* Unit tests of domain payments (ll_decide_payment): legs in order, each against what the legs
 * before it left; all or nothing with the refused leg named; accounts named in several legs
 * (their events linked as the store links them); 16 legs fill LL_DECISION_EVENTS_MAX. */
#include "domain_fixture.h"
#include "ll_test.h"

#include <string.h>

static void funded(fx_world_t *w, ll_account_t *a, uint64_t n, int64_t balance) {
    if (fx_open(w, a, n, "EUR") != 0) abort();
    if (balance == 0) return;
    ll_command_t dep = fx_cmd(LL_CMD_DEPOSIT, &a->account_id, balance, "EUR");
    ll_decision_t d;
    if (fx_run(w, a, &dep, &d) != LL_REJECT_NONE) abort();
}

static ll_command_t payment(void) {
    ll_command_t cmd;
    memset(&cmd, 0, sizeof cmd);
    snprintf(cmd.reference, sizeof cmd.reference, "order 77");
    return cmd;
}

/* Decides cmd over accts without committing; checks that the inputs are left alone. */
static void decide_only(ll_test_ctx_t *t, fx_world_t *w, ll_account_t *const *accts, size_t n, ll_command_t *cmd,
                        ll_decision_t *d) {
    ll_account_t states[2 * LL_PAYMENT_LEGS_MAX], before[2 * LL_PAYMENT_LEGS_MAX];
    ll_uuid_t ids[LL_PAYMENT_LEGS_MAX];
    for (size_t k = 0; k < n; k++) states[k] = *accts[k];
    memcpy(before, states, sizeof states);
    cmd->type = LL_CMD_PAYMENT;
    cmd->payment_id = fx_uuid(w->next_id++);
    for (int i = 0; i < cmd->leg_count; i++) ids[i] = fx_uuid(w->next_id++);
    ll_command_meta_t meta = fx_meta(w);
    ll_decide_payment(states, n, cmd, ids, &meta, d);
    LL_CHECK(memcmp(states, before, n * sizeof states[0]) == 0);
}

LL_TEST(test_legs_apply_in_order_and_carry_the_payment) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, b, c;
    funded(&w, &a, 1, 1000);
    funded(&w, &b, 2, 0);
    funded(&w, &c, 3, 0);
    char head_a[LL_HASH_HEX_LEN + 1], head_b[LL_HASH_HEX_LEN + 1], head_c[LL_HASH_HEX_LEN + 1];
    memcpy(head_a, a.head_hash, sizeof head_a);
    memcpy(head_b, b.head_hash, sizeof head_b);
    memcpy(head_c, c.head_hash, sizeof head_c);
    /* B pays C out of what leg 0 brings it: legs see the legs before them. */
    ll_command_t cmd = payment();
    fx_leg(&cmd, &a, &b, 300);
    fx_leg(&cmd, &b, &c, 200);
    fx_leg(&cmd, &a, &c, 5);
    ll_account_t *accts[3] = {&a, &b, &c};
    ll_decision_t d;
    /* Undecided here first, to look at the events before the store links them. */
    fx_world_t w2 = w;
    ll_command_t look = cmd;
    decide_only(t, &w2, accts, 3, &look, &d);
    LL_REQUIRE(d.rejection == LL_REJECT_NONE);
    LL_REQUIRE(d.event_count == 6);
    static const struct {
        ll_event_type_t type;
        int account, version;
        int64_t balance;
        const char *prev;
    } expect[6] = {
        {LL_EVENT_TRANSFER_SENT, 0, 3, 700, "a"},  {LL_EVENT_TRANSFER_RECEIVED, 1, 2, 300, "b"},
        {LL_EVENT_TRANSFER_SENT, 1, 3, 100, ""},   {LL_EVENT_TRANSFER_RECEIVED, 2, 2, 200, "c"},
        {LL_EVENT_TRANSFER_SENT, 0, 4, 695, ""},   {LL_EVENT_TRANSFER_RECEIVED, 2, 3, 205, ""},
    };
    const char *heads[3] = {head_a, head_b, head_c};
    for (int i = 0; i < 6; i++) {
        const ll_event_t *e = &d.events[i];
        LL_CHECK_EQ_INT(e->type, expect[i].type);
        LL_CHECK(ll_uuid_equal(&e->account_id, &accts[expect[i].account]->account_id));
        LL_CHECK_EQ_INT(e->version, expect[i].version);
        LL_CHECK_EQ_INT(e->after.balance_minor, expect[i].balance);
        LL_CHECK_EQ_STR(e->prev_hash, expect[i].prev[0] ? heads[expect[i].account] : "");
        LL_CHECK(ll_uuid_equal(&e->data.movement.payment_id, &look.payment_id));
        LL_CHECK_EQ_STR(e->data.movement.reference, "order 77");
        LL_CHECK(ll_uuid_equal(&e->data.movement.transfer_id, &d.events[i & ~1].data.movement.transfer_id));
        LL_CHECK_EQ_INT(e->data.movement.amount_minor, cmd.legs[i / 2].amount_minor);
        for (int j = 0; j < i; j++) LL_CHECK(!ll_uuid_equal(&e->event_id, &d.events[j].event_id));
    }
    LL_CHECK(!ll_uuid_equal(&d.events[0].data.movement.transfer_id, &d.events[2].data.movement.transfer_id));
    LL_CHECK_EQ_INT(d.failed_leg, -1);
    /* Committed as the store does: each event linked to its account's head, then sealed. */
    LL_REQUIRE(fx_payment(&w, accts, 3, &cmd, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(a.balance_minor, 695);
    LL_CHECK_EQ_INT(b.balance_minor, 100);
    LL_CHECK_EQ_INT(c.balance_minor, 205);
    LL_CHECK_EQ_INT(a.balance_minor + b.balance_minor + c.balance_minor, 1000);
    LL_CHECK_EQ_STR(d.events[4].prev_hash, d.events[0].hash);
    LL_CHECK_EQ_STR(d.events[5].prev_hash, d.events[3].hash);
    LL_CHECK_EQ_STR(a.head_hash, d.events[4].hash);
}

/* The first refused leg is named and nothing is decided: not even the legs before it. */
LL_TEST(test_all_or_nothing) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, b, c, closed;
    funded(&w, &a, 1, 1000);
    funded(&w, &b, 2, 0);
    funded(&w, &c, 3, 0);
    funded(&w, &closed, 4, 0);
    ll_command_t close = fx_cmd(LL_CMD_CLOSE, &closed.account_id, 0, NULL);
    ll_decision_t d;
    LL_REQUIRE(fx_run(&w, &closed, &close, &d) == LL_REJECT_NONE);
    ll_account_t *accts[4] = {&a, &b, &c, &closed};
    ll_account_t before[4] = {a, b, c, closed};

    /* Leg 2 overdraws A only because legs 0 and 1 went first. */
    ll_command_t cmd = payment();
    fx_leg(&cmd, &a, &b, 600);
    fx_leg(&cmd, &a, &c, 300);
    fx_leg(&cmd, &a, &b, 101);
    LL_CHECK_EQ_INT(fx_payment(&w, accts, 4, &cmd, &d), LL_REJECT_INSUFFICIENT_FUNDS);
    LL_CHECK_EQ_INT(d.failed_leg, 2);
    LL_CHECK_EQ_INT(d.failed_destination, 0);
    LL_CHECK_EQ_INT(d.event_count, 0);
    LL_CHECK_CONTAINS(d.detail, "leg 2: available 100 is less than 101");
    /* A refusal of the destination's. */
    cmd = payment();
    fx_leg(&cmd, &a, &b, 1);
    fx_leg(&cmd, &a, &closed, 1);
    LL_CHECK_EQ_INT(fx_payment(&w, accts, 4, &cmd, &d), LL_REJECT_ACCOUNT_CLOSED);
    LL_CHECK_EQ_INT(d.failed_leg, 1);
    LL_CHECK_EQ_INT(d.failed_destination, 1);
    LL_CHECK_CONTAINS(d.detail, "leg 1: destination account was closed");
    /* The first leg refused. */
    cmd = payment();
    fx_leg(&cmd, &b, &a, 1);
    fx_leg(&cmd, &a, &b, 1);
    LL_CHECK_EQ_INT(fx_payment(&w, accts, 4, &cmd, &d), LL_REJECT_INSUFFICIENT_FUNDS);
    LL_CHECK_EQ_INT(d.failed_leg, 0);
    for (int k = 0; k < 4; k++) LL_CHECK(memcmp(accts[k], &before[k], sizeof before[k]) == 0);
    /* The same payment without its bad leg applies whole. */
    cmd = payment();
    fx_leg(&cmd, &a, &b, 600);
    fx_leg(&cmd, &a, &c, 300);
    fx_leg(&cmd, &a, &b, 100);
    LL_CHECK_EQ_INT(fx_payment(&w, accts, 4, &cmd, &d), LL_REJECT_NONE);
    LL_CHECK_EQ_INT(a.balance_minor, 0);
    LL_CHECK_EQ_INT(b.balance_minor, 700);
    LL_CHECK_EQ_INT(a.version, 5);
}

/* Each leg follows the rules of a transfer; the source's reasons come before the
 * destination's. */
LL_TEST(test_each_leg_is_a_transfer) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, b, usd, none, frozen;
    funded(&w, &a, 1, 1000);
    funded(&w, &b, 2, 0);
    LL_REQUIRE(fx_open(&w, &usd, 3, "USD") == 0);
    ll_uuid_t none_id = fx_uuid(4);
    ll_account_init(&none, &none_id);
    funded(&w, &frozen, 5, 500);
    ll_command_t fz = fx_cmd(LL_CMD_FREEZE, &frozen.account_id, 0, NULL);
    snprintf(fz.reason, sizeof fz.reason, "court order");
    ll_decision_t d;
    LL_REQUIRE(fx_run(&w, &frozen, &fz, &d) == LL_REJECT_NONE);
    ll_account_t *accts[5] = {&a, &b, &usd, &none, &frozen};
    struct {
        ll_account_t *from, *to;
        int64_t amount;
        const char *ccy;
        ll_rejection_t expect;
        int destination;
    } cases[] = {
        {&a, &a, 1, "EUR", LL_REJECT_SAME_ACCOUNT, 0},
        {&a, &b, 0, "EUR", LL_REJECT_AMOUNT_OUT_OF_RANGE, 0},
        {&a, &b, LL_AMOUNT_MINOR_MAX + 1, "EUR", LL_REJECT_AMOUNT_OUT_OF_RANGE, 0},
        {&a, &b, 1, "USD", LL_REJECT_CURRENCY_MISMATCH, 0},
        {&a, &usd, 1, "EUR", LL_REJECT_CURRENCY_MISMATCH, 1},
        {&a, &none, 1, "EUR", LL_REJECT_ACCOUNT_NOT_FOUND, 1},
        {&none, &a, 1, "EUR", LL_REJECT_ACCOUNT_NOT_FOUND, 0},
        {&frozen, &a, 1, "EUR", LL_REJECT_ACCOUNT_FROZEN, 0},
        {&b, &none, 2, "EUR", LL_REJECT_INSUFFICIENT_FUNDS, 0}, /* the source's reasons first (leg 0 gave b 1) */
        {&frozen, &none, 1, "EUR", LL_REJECT_ACCOUNT_FROZEN, 0},
    };
    for (size_t i = 0; i < LL_CASES(cases); i++) {
        ll_command_t cmd = payment();
        fx_leg(&cmd, &a, &b, 1); /* a good leg first: the refusal names leg 1 */
        ll_payment_leg_t *leg = &cmd.legs[cmd.leg_count++];
        leg->from_account_id = cases[i].from->account_id;
        leg->to_account_id = cases[i].to->account_id;
        leg->amount_minor = cases[i].amount;
        snprintf(leg->currency.code, sizeof leg->currency.code, "%s", cases[i].ccy);
        decide_only(t, &w, accts, 5, &cmd, &d);
        if (d.rejection != cases[i].expect) LL_FAIL_AT("case %zu: %s (%s)", i, ll_rejection_slug(d.rejection), d.detail);
        LL_CHECK_EQ_INT(d.failed_leg, 1);
        LL_CHECK_EQ_INT(d.failed_destination, cases[i].destination);
        LL_CHECK_EQ_INT(d.event_count, 0);
    }
    /* Credits land on a frozen account. */
    ll_command_t cmd = payment();
    fx_leg(&cmd, &a, &frozen, 40);
    LL_CHECK_EQ_INT(fx_payment(&w, accts, 5, &cmd, &d), LL_REJECT_NONE);
    LL_CHECK_EQ_INT(frozen.balance_minor, 540);
    LL_CHECK(d.events[1].after.frozen);
}

/* Held money is not available to a leg; a credit limit is. */
LL_TEST(test_legs_respect_holds_and_limits) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, b;
    funded(&w, &a, 1, 1000);
    funded(&w, &b, 2, 0);
    ll_hold_t h;
    ll_decision_t d;
    LL_REQUIRE(fx_place(&w, &a, 501, 700, 60, &h, &d) == LL_REJECT_NONE);
    ll_account_t *accts[2] = {&a, &b};
    ll_command_t cmd = payment();
    fx_leg(&cmd, &a, &b, 301);
    LL_CHECK_EQ_INT(fx_payment(&w, accts, 2, &cmd, &d), LL_REJECT_INSUFFICIENT_FUNDS);
    ll_command_t limit = fx_cmd(LL_CMD_SET_CREDIT_LIMIT, &a.account_id, 0, NULL);
    limit.overdraft_limit_minor = 1;
    LL_REQUIRE(fx_run(&w, &a, &limit, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(fx_payment(&w, accts, 2, &cmd, &d), LL_REJECT_NONE);
    LL_CHECK_EQ_INT(d.events[0].after.held_minor, 700);
    LL_CHECK_EQ_INT(d.events[0].after.overdraft_limit_minor, 1);
    LL_CHECK_EQ_INT(ll_account_available(&a), -1);
}

/* 16 legs, two events each: the decision's whole capacity. Between two accounts (each named
 * in every leg, 16 events per stream linked in turn) and between 32 distinct accounts. */
LL_TEST(test_sixteen_legs_fill_the_decision) {
    _Static_assert(2 * LL_PAYMENT_LEGS_MAX == LL_DECISION_EVENTS_MAX, "a payment of 16 legs fits");
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, b;
    funded(&w, &a, 1, 1000);
    funded(&w, &b, 2, 1000);
    ll_account_t *two[2] = {&a, &b};
    ll_command_t cmd = payment();
    for (int i = 0; i < LL_PAYMENT_LEGS_MAX; i++) fx_leg(&cmd, i % 2 ? &b : &a, i % 2 ? &a : &b, 10 + i);
    ll_decision_t d;
    LL_REQUIRE(fx_payment(&w, two, 2, &cmd, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(d.event_count, LL_DECISION_EVENTS_MAX);
    LL_CHECK_EQ_INT(a.version, 2 + LL_PAYMENT_LEGS_MAX);
    LL_CHECK_EQ_INT(b.version, 2 + LL_PAYMENT_LEGS_MAX);
    LL_CHECK_EQ_INT(a.balance_minor + b.balance_minor, 2000);
    LL_CHECK_EQ_INT(a.balance_minor, 1000 + 8); /* each pair of legs brings A 1 */
    for (int i = 0; i < d.event_count; i++)
        for (int j = 0; j < i; j++) LL_CHECK(!ll_uuid_equal(&d.events[i].event_id, &d.events[j].event_id));

    static ll_account_t many[2 * LL_PAYMENT_LEGS_MAX];
    ll_account_t *ptrs[2 * LL_PAYMENT_LEGS_MAX];
    cmd = payment();
    for (int k = 0; k < 2 * LL_PAYMENT_LEGS_MAX; k++) {
        funded(&w, &many[k], 100 + (uint64_t)k, k % 2 ? 0 : 50);
        ptrs[k] = &many[k];
    }
    for (int i = 0; i < LL_PAYMENT_LEGS_MAX; i++) fx_leg(&cmd, &many[2 * i], &many[2 * i + 1], 50);
    LL_REQUIRE(fx_payment(&w, ptrs, 2 * LL_PAYMENT_LEGS_MAX, &cmd, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(d.event_count, LL_DECISION_EVENTS_MAX);
    for (int k = 0; k < 2 * LL_PAYMENT_LEGS_MAX; k++) LL_CHECK_EQ_INT(many[k].balance_minor, k % 2 ? 50 : 0);
    /* The last leg refused: leg 15 named, nothing decided. */
    cmd = payment();
    for (int i = 0; i < LL_PAYMENT_LEGS_MAX; i++) fx_leg(&cmd, &many[2 * i + 1], &many[2 * i], i == 15 ? 51 : 50);
    LL_CHECK_EQ_INT(fx_payment(&w, ptrs, 2 * LL_PAYMENT_LEGS_MAX, &cmd, &d), LL_REJECT_INSUFFICIENT_FUNDS);
    LL_CHECK_EQ_INT(d.failed_leg, 15);
    LL_CHECK_CONTAINS(d.detail, "leg 15: ");
    LL_CHECK_EQ_INT(many[1].balance_minor, 50);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_legs_apply_in_order_and_carry_the_payment),
        LL_CASE(test_all_or_nothing),
        LL_CASE(test_each_leg_is_a_transfer),
        LL_CASE(test_legs_respect_holds_and_limits),
        LL_CASE(test_sixteen_legs_fill_the_decision),
    };
    return ll_test_main(argc, argv, "payment", cases, LL_CASES(cases));
}
