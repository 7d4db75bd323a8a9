/* Unit tests of holds in domain/: placing (ll_decide), capturing, releasing and expiring
 * (ll_decide_hold), and the hold record (ll_hold_apply). Every refusal, the expiry instant to
 * the microsecond, captures to another account, and what a freeze does to each. */
#include "domain_fixture.h"
#include "ll_test.h"

#include <string.h>

/* An open EUR account n holding balance (deposited, so the stream is real). */
static void funded(fx_world_t *w, ll_account_t *a, uint64_t n, int64_t balance) {
    if (fx_open(w, a, n, "EUR") != 0) abort();
    if (balance == 0) return;
    ll_command_t dep = fx_cmd(LL_CMD_DEPOSIT, &a->account_id, balance, "EUR");
    ll_decision_t d;
    if (fx_run(w, a, &dep, &d) != LL_REJECT_NONE) abort();
}

static ll_rejection_t freeze(fx_world_t *w, ll_account_t *a, ll_command_type_t type) {
    ll_command_t cmd = fx_cmd(type, &a->account_id, 0, NULL);
    snprintf(cmd.reason, sizeof cmd.reason, "case 1");
    ll_decision_t d;
    return fx_run(w, a, &cmd, &d);
}

/* Sets the clock so that the next command happens at instant us (fx_meta adds 1 s first). */
static void next_command_at(fx_world_t *w, int64_t us) {
    w->clock_us = us - 1000000;
}

/* The same, or later when the clock is past us already (a stream's clock never runs back). */
static void next_command_not_before(fx_world_t *w, int64_t us) {
    if (w->clock_us < us - 1000000) w->clock_us = us - 1000000;
}

LL_TEST(test_place_reserves_without_moving_the_balance) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a;
    funded(&w, &a, 1, 1000);
    ll_hold_t h;
    ll_decision_t d;
    LL_REQUIRE(fx_place(&w, &a, 501, 600, 3600, &h, &d) == LL_REJECT_NONE);
    const ll_event_t *ev = &d.events[0];
    LL_CHECK_EQ_INT(d.event_count, 1);
    LL_CHECK_EQ_INT(ev->type, LL_EVENT_HOLD_PLACED);
    LL_CHECK_EQ_INT(ev->data.movement.amount_minor, 600);
    LL_CHECK(ll_uuid_equal(&ev->data.movement.hold_id, &h.hold_id));
    LL_CHECK_EQ_INT(ev->data.movement.expires_at_us, ev->occurred_at_us + 3600 * 1000000LL);
    LL_CHECK_EQ_INT(ev->after.balance_minor, 1000);
    LL_CHECK_EQ_INT(ev->after.held_minor, 600);
    LL_CHECK_EQ_INT(a.balance_minor, 1000);
    LL_CHECK_EQ_INT(a.held_minor, 600);
    LL_CHECK_EQ_INT(ll_account_available(&a), 400);
    LL_CHECK_EQ_INT(h.status, LL_HOLD_OPEN);
    LL_CHECK_EQ_INT(h.placed_version, ev->version);
    LL_CHECK_EQ_INT(h.expires_at_us, ev->data.movement.expires_at_us);
    LL_CHECK(ll_uuid_equal(&h.account_id, &a.account_id));
    /* What is held cannot be spent or held again; what is left can, exactly. */
    ll_command_t wd = fx_cmd(LL_CMD_WITHDRAW, &a.account_id, 401, "EUR");
    LL_CHECK_EQ_INT(fx_run(&w, &a, &wd, &d), LL_REJECT_INSUFFICIENT_FUNDS);
    LL_CHECK_CONTAINS(d.detail, "available 400");
    ll_hold_t h2;
    LL_CHECK_EQ_INT(fx_place(&w, &a, 502, 401, 60, &h2, &d), LL_REJECT_INSUFFICIENT_FUNDS);
    LL_CHECK_EQ_INT(fx_place(&w, &a, 502, 400, 60, &h2, &d), LL_REJECT_NONE);
    LL_CHECK_EQ_INT(ll_account_available(&a), 0);
    ll_account_t b;
    funded(&w, &b, 2, 0);
    LL_CHECK_EQ_INT(fx_transfer(&w, &a, &b, 1, "EUR", &d), LL_REJECT_INSUFFICIENT_FUNDS);
}

LL_TEST(test_place_rejections) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, none, closed;
    funded(&w, &a, 1, 1000);
    funded(&w, &closed, 2, 0);
    ll_command_t close = fx_cmd(LL_CMD_CLOSE, &closed.account_id, 0, NULL);
    ll_decision_t d;
    LL_REQUIRE(fx_run(&w, &closed, &close, &d) == LL_REJECT_NONE);
    ll_uuid_t id = fx_uuid(3);
    ll_account_init(&none, &id);
    ll_hold_t h;
    struct {
        int64_t amount, expires;
        ll_rejection_t expect;
    } cases[] = {
        {0, 60, LL_REJECT_AMOUNT_OUT_OF_RANGE},
        {-1, 60, LL_REJECT_AMOUNT_OUT_OF_RANGE},
        {LL_AMOUNT_MINOR_MAX + 1, 60, LL_REJECT_AMOUNT_OUT_OF_RANGE},
        {10, 0, LL_REJECT_INVALID_EXPIRY},
        {10, -1, LL_REJECT_INVALID_EXPIRY},
        {10, LL_HOLD_EXPIRY_MAX_S + 1, LL_REJECT_INVALID_EXPIRY},
        {10, INT64_MAX, LL_REJECT_INVALID_EXPIRY},
        {1001, 60, LL_REJECT_INSUFFICIENT_FUNDS},
    };
    for (size_t i = 0; i < LL_CASES(cases); i++) {
        LL_CHECK_EQ_INT(fx_place(&w, &a, 501, cases[i].amount, cases[i].expires, &h, &d), cases[i].expect);
        LL_CHECK_EQ_INT(d.event_count, 0);
        LL_CHECK(d.detail[0] != '\0');
    }
    ll_command_t usd = fx_cmd(LL_CMD_PLACE_HOLD, &a.account_id, 10, "USD");
    usd.hold_id = fx_uuid(501);
    usd.expires_in_s = 60;
    LL_CHECK_EQ_INT(fx_run(&w, &a, &usd, &d), LL_REJECT_CURRENCY_MISMATCH);
    ll_command_t on_none = usd;
    on_none.account_id = none.account_id;
    memcpy(on_none.currency.code, "EUR", 4);
    LL_CHECK_EQ_INT(fx_run(&w, &none, &on_none, &d), LL_REJECT_ACCOUNT_NOT_FOUND);
    LL_CHECK_EQ_INT(fx_place(&w, &closed, 501, 10, 60, &h, &d), LL_REJECT_ACCOUNT_CLOSED);
    LL_CHECK_EQ_INT(a.version, 2);
    LL_CHECK_EQ_INT(a.held_minor, 0);
    /* The bounds themselves are allowed: 1 s and 30 days. */
    LL_CHECK_EQ_INT(fx_place(&w, &a, 502, 10, 1, &h, &d), LL_REJECT_NONE);
    LL_CHECK_EQ_INT(fx_place(&w, &a, 503, 10, LL_HOLD_EXPIRY_MAX_S, &h, &d), LL_REJECT_NONE);
    LL_CHECK_EQ_INT(h.expires_at_us - h.placed_at_us, (int64_t)LL_HOLD_EXPIRY_MAX_S * 1000000);
}

LL_TEST(test_holds_count_against_the_credit_limit) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a;
    funded(&w, &a, 1, 100);
    ll_command_t limit = fx_cmd(LL_CMD_SET_CREDIT_LIMIT, &a.account_id, 0, NULL);
    limit.overdraft_limit_minor = 50;
    ll_decision_t d;
    LL_REQUIRE(fx_run(&w, &a, &limit, &d) == LL_REJECT_NONE);
    ll_hold_t h;
    LL_CHECK_EQ_INT(fx_place(&w, &a, 501, 151, 60, &h, &d), LL_REJECT_INSUFFICIENT_FUNDS);
    LL_REQUIRE(fx_place(&w, &a, 501, 150, 60, &h, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(ll_account_available(&a), -50);
    /* The limit in use by a hold cannot be lowered under it. */
    limit.overdraft_limit_minor = 49;
    LL_CHECK_EQ_INT(fx_run(&w, &a, &limit, &d), LL_REJECT_CREDIT_LIMIT_IN_USE);
    /* Capturing all of it takes the balance below zero, within the limit. */
    LL_REQUIRE(fx_settle(&w, &a, &h, NULL, LL_CMD_CAPTURE_HOLD, 0, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(a.balance_minor, -50);
    LL_CHECK_EQ_INT(a.held_minor, 0);
    LL_CHECK_EQ_INT(d.events[0].data.movement.released_minor, 0);
}

LL_TEST(test_capture_in_part_releases_the_rest) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a;
    funded(&w, &a, 1, 1000);
    ll_hold_t h, other;
    ll_decision_t d;
    LL_REQUIRE(fx_place(&w, &a, 501, 600, 3600, &h, &d) == LL_REJECT_NONE);
    LL_REQUIRE(fx_place(&w, &a, 502, 100, 3600, &other, &d) == LL_REJECT_NONE);
    LL_REQUIRE(fx_settle(&w, &a, &h, NULL, LL_CMD_CAPTURE_HOLD, 250, &d) == LL_REJECT_NONE);
    const ll_event_t *ev = &d.events[0];
    LL_CHECK_EQ_INT(d.event_count, 1);
    LL_CHECK_EQ_INT(ev->type, LL_EVENT_HOLD_CAPTURED);
    LL_CHECK_EQ_INT(ev->data.movement.amount_minor, 250);
    LL_CHECK_EQ_INT(ev->data.movement.released_minor, 350);
    LL_CHECK(ll_uuid_is_nil(&ev->data.movement.transfer_id));
    LL_CHECK(ll_uuid_is_nil(&ev->data.movement.counterparty_id));
    LL_CHECK_EQ_INT(ev->after.balance_minor, 750);
    LL_CHECK_EQ_INT(ev->after.held_minor, 100); /* the other hold still counts */
    LL_CHECK_EQ_INT(a.balance_minor, 750);
    LL_CHECK_EQ_INT(h.status, LL_HOLD_CAPTURED);
    LL_CHECK_EQ_INT(h.captured_minor, 250);
    LL_CHECK_EQ_INT(h.settled_at_us, ev->occurred_at_us);
    LL_CHECK(ll_event_is_movement(ev->type));
}

LL_TEST(test_capture_to_another_account_is_a_transfer) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, b;
    funded(&w, &a, 1, 1000);
    funded(&w, &b, 2, 5);
    ll_hold_t h;
    ll_decision_t d;
    LL_REQUIRE(fx_place(&w, &a, 501, 600, 3600, &h, &d) == LL_REJECT_NONE);
    LL_REQUIRE(fx_settle(&w, &a, &h, &b, LL_CMD_CAPTURE_HOLD, 0, &d) == LL_REJECT_NONE);
    LL_REQUIRE(d.event_count == 2);
    const ll_event_t *cap = &d.events[0], *rec = &d.events[1];
    LL_CHECK_EQ_INT(cap->type, LL_EVENT_HOLD_CAPTURED);
    LL_CHECK_EQ_INT(rec->type, LL_EVENT_TRANSFER_RECEIVED);
    LL_CHECK(!ll_uuid_is_nil(&cap->data.movement.transfer_id));
    LL_CHECK(ll_uuid_equal(&cap->data.movement.transfer_id, &rec->data.movement.transfer_id));
    LL_CHECK(ll_uuid_equal(&cap->data.movement.counterparty_id, &b.account_id));
    LL_CHECK(ll_uuid_equal(&rec->data.movement.counterparty_id, &a.account_id));
    LL_CHECK(ll_uuid_equal(&rec->account_id, &b.account_id));
    LL_CHECK_EQ_INT(cap->data.movement.amount_minor, 600);
    LL_CHECK_EQ_INT(rec->data.movement.amount_minor, 600);
    LL_CHECK(ll_uuid_is_nil(&rec->data.movement.payment_id));
    LL_CHECK_EQ_INT(a.balance_minor, 400);
    LL_CHECK_EQ_INT(b.balance_minor, 605);
    LL_CHECK_EQ_INT(a.held_minor, 0);
    LL_CHECK(!ll_uuid_equal(&cap->event_id, &rec->event_id));
}

LL_TEST(test_capture_rejections) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, usd, closed, none;
    funded(&w, &a, 1, 1000);
    LL_REQUIRE(fx_open(&w, &usd, 2, "USD") == 0);
    funded(&w, &closed, 3, 0);
    ll_command_t close = fx_cmd(LL_CMD_CLOSE, &closed.account_id, 0, NULL);
    ll_decision_t d;
    LL_REQUIRE(fx_run(&w, &closed, &close, &d) == LL_REJECT_NONE);
    ll_uuid_t none_id = fx_uuid(4);
    ll_account_init(&none, &none_id);
    ll_hold_t h;
    LL_REQUIRE(fx_place(&w, &a, 501, 600, 3600, &h, &d) == LL_REJECT_NONE);
    ll_account_t before = a;

    LL_CHECK_EQ_INT(fx_settle(&w, &a, &h, NULL, LL_CMD_CAPTURE_HOLD, 601, &d), LL_REJECT_CAPTURE_EXCEEDS_HOLD);
    LL_CHECK_CONTAINS(d.detail, "601");
    LL_CHECK_CONTAINS(d.detail, "600");
    LL_CHECK_EQ_INT(fx_settle(&w, &a, &h, NULL, LL_CMD_CAPTURE_HOLD, -1, &d), LL_REJECT_AMOUNT_OUT_OF_RANGE);
    LL_CHECK_EQ_INT(fx_settle(&w, &a, &h, &a, LL_CMD_CAPTURE_HOLD, 10, &d), LL_REJECT_SAME_ACCOUNT);
    struct {
        ll_account_t *to;
        ll_rejection_t expect;
    } dest[] = {{&usd, LL_REJECT_CURRENCY_MISMATCH},
                {&closed, LL_REJECT_ACCOUNT_CLOSED},
                {&none, LL_REJECT_ACCOUNT_NOT_FOUND}};
    for (size_t i = 0; i < LL_CASES(dest); i++) {
        LL_CHECK_EQ_INT(fx_settle(&w, &a, &h, dest[i].to, LL_CMD_CAPTURE_HOLD, 10, &d), dest[i].expect);
        LL_CHECK_EQ_INT(d.failed_destination, 1);
        LL_CHECK_CONTAINS(d.detail, "destination");
    }
    LL_CHECK_EQ_INT(fx_settle(&w, &a, &h, NULL, LL_CMD_CAPTURE_HOLD, 601, &d), LL_REJECT_CAPTURE_EXCEEDS_HOLD);
    LL_CHECK_EQ_INT(d.failed_destination, 0);
    /* Nothing changed, the hold is still open and captures once. */
    LL_CHECK(memcmp(&a, &before, sizeof a) == 0);
    LL_CHECK_EQ_INT(h.status, LL_HOLD_OPEN);
    LL_CHECK_EQ_INT(fx_settle(&w, &a, &h, NULL, LL_CMD_CAPTURE_HOLD, 600, &d), LL_REJECT_NONE);
}

/* The destination's balance at the largest: a capture to it would overflow. */
LL_TEST(test_capture_to_a_full_account_is_refused) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, full;
    funded(&w, &a, 1, 1000);
    funded(&w, &full, 2, 0);
    full.balance_minor = INT64_MAX - 5; /* set directly: no deposit gets there */
    ll_hold_t h;
    ll_decision_t d;
    LL_REQUIRE(fx_place(&w, &a, 501, 600, 3600, &h, &d) == LL_REJECT_NONE);
    ll_command_t cmd = fx_cmd(LL_CMD_CAPTURE_HOLD, &a.account_id, 6, NULL);
    cmd.hold_id = h.hold_id;
    cmd.to_account_id = full.account_id;
    cmd.transfer_id = fx_uuid(9999);
    ll_command_meta_t meta = fx_meta(&w);
    ll_decide_hold(&a, &h, &full, &cmd, &meta, &d);
    LL_CHECK_EQ_INT(d.rejection, LL_REJECT_BALANCE_OVERFLOW);
    LL_CHECK_EQ_INT(d.failed_destination, 1);
    cmd.amount_minor = 5;
    ll_decide_hold(&a, &h, &full, &cmd, &meta, &d);
    LL_CHECK_EQ_INT(d.rejection, LL_REJECT_NONE);
    LL_CHECK(d.events[1].after.balance_minor == INT64_MAX);
}

/* A hold stops counting at expires_at, to the microsecond: a capture one microsecond before
 * passes, one at the instant is hold-expired; an expiry one microsecond before is hold-not-due,
 * one at the instant ends the hold. */
LL_TEST(test_the_expiry_instant) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a;
    funded(&w, &a, 1, 1000);
    ll_hold_t h1, h2;
    ll_decision_t d;
    LL_REQUIRE(fx_place(&w, &a, 501, 100, 10, &h1, &d) == LL_REJECT_NONE);
    LL_REQUIRE(fx_place(&w, &a, 502, 200, 10, &h2, &d) == LL_REJECT_NONE);
    next_command_at(&w, h1.expires_at_us);
    LL_CHECK_EQ_INT(fx_settle(&w, &a, &h1, NULL, LL_CMD_CAPTURE_HOLD, 0, &d), LL_REJECT_HOLD_EXPIRED);
    next_command_at(&w, h1.expires_at_us + 3600 * 1000000LL);
    LL_CHECK_EQ_INT(fx_settle(&w, &a, &h1, NULL, LL_CMD_CAPTURE_HOLD, 0, &d), LL_REJECT_HOLD_EXPIRED);
    /* The clock may not run backwards in a stream, so h2 is tried on a copy set back. */
    fx_world_t back = w;
    ll_account_t a2 = a;
    ll_hold_t h2b = h2;
    next_command_at(&back, h2.expires_at_us - 1);
    LL_CHECK_EQ_INT(fx_settle(&back, &a2, &h2b, NULL, LL_CMD_EXPIRE_HOLD, 0, &d), LL_REJECT_HOLD_NOT_DUE);
    LL_CHECK_EQ_INT(fx_settle(&back, &a2, &h2b, NULL, LL_CMD_CAPTURE_HOLD, 0, &d), LL_REJECT_HOLD_EXPIRED);
    back = w, a2 = a, h2b = h2;
    next_command_at(&back, h2.expires_at_us - 1 - 1000000);
    LL_CHECK_EQ_INT(fx_settle(&back, &a2, &h2b, NULL, LL_CMD_CAPTURE_HOLD, 0, &d), LL_REJECT_NONE);
    LL_CHECK_EQ_INT(a2.balance_minor, 800);
    /* The expired hold still counts until its HoldExpired; a release still ends it. */
    LL_CHECK_EQ_INT(a.held_minor, 300);
    next_command_at(&w, h1.expires_at_us + 7200 * 1000000LL);
    LL_REQUIRE(fx_settle(&w, &a, &h1, NULL, LL_CMD_EXPIRE_HOLD, 0, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(d.events[0].type, LL_EVENT_HOLD_EXPIRED);
    LL_CHECK_EQ_INT(d.events[0].data.movement.amount_minor, 100);
    LL_CHECK_EQ_STR(d.events[0].data.movement.reference, "");
    LL_CHECK_EQ_INT(h1.status, LL_HOLD_EXPIRED);
    LL_CHECK_EQ_INT(a.held_minor, 200);
    LL_CHECK_EQ_INT(a.balance_minor, 1000);
    LL_REQUIRE(fx_settle(&w, &a, &h2, NULL, LL_CMD_RELEASE_HOLD, 0, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(h2.status, LL_HOLD_RELEASED);
    LL_CHECK_EQ_INT(a.held_minor, 0);
}

/* Exactly one settlement per hold: whatever ended it, every later capture, release or expiry
 * is hold-not-open, and nothing is appended. */
LL_TEST(test_a_hold_ends_once) {
    static const ll_command_type_t ends[] = {LL_CMD_CAPTURE_HOLD, LL_CMD_RELEASE_HOLD, LL_CMD_EXPIRE_HOLD};
    for (size_t e = 0; e < LL_CASES(ends); e++) {
        fx_world_t w;
        fx_world_init(&w);
        ll_account_t a;
        funded(&w, &a, 1, 1000);
        ll_hold_t h;
        ll_decision_t d;
        LL_REQUIRE(fx_place(&w, &a, 501, 100, 5, &h, &d) == LL_REJECT_NONE);
        if (ends[e] == LL_CMD_EXPIRE_HOLD) next_command_at(&w, h.expires_at_us);
        LL_REQUIRE(fx_settle(&w, &a, &h, NULL, ends[e], 40, &d) == LL_REJECT_NONE);
        ll_account_t after = a;
        for (size_t again = 0; again < LL_CASES(ends); again++) {
            LL_CHECK_EQ_INT(fx_settle(&w, &a, &h, NULL, ends[again], 0, &d), LL_REJECT_HOLD_NOT_OPEN);
            LL_CHECK_CONTAINS(d.detail, ll_hold_status_name(h.status));
            LL_CHECK_EQ_INT(d.event_count, 0);
        }
        LL_CHECK(memcmp(&a, &after, sizeof a) == 0);
        LL_CHECK_EQ_INT(a.held_minor, 0);
        LL_CHECK_EQ_INT(a.balance_minor, ends[e] == LL_CMD_CAPTURE_HOLD ? 960 : 1000);
    }
}

LL_TEST(test_unknown_holds_are_not_found) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, b, none;
    funded(&w, &a, 1, 1000);
    funded(&w, &b, 2, 1000);
    ll_uuid_t none_id = fx_uuid(3);
    ll_account_init(&none, &none_id);
    ll_hold_t h, missing;
    ll_decision_t d;
    LL_REQUIRE(fx_place(&w, &a, 501, 100, 60, &h, &d) == LL_REJECT_NONE);
    ll_uuid_t id = fx_uuid(777);
    ll_hold_init(&missing, &id);
    static const ll_command_type_t types[] = {LL_CMD_CAPTURE_HOLD, LL_CMD_RELEASE_HOLD, LL_CMD_EXPIRE_HOLD};
    for (size_t i = 0; i < LL_CASES(types); i++) {
        LL_CHECK_EQ_INT(fx_settle(&w, &a, &missing, NULL, types[i], 0, &d), LL_REJECT_HOLD_NOT_FOUND);
        /* A hold asked for on another account than its own does not exist there. */
        LL_CHECK_EQ_INT(fx_settle(&w, &b, &h, NULL, types[i], 0, &d), LL_REJECT_HOLD_NOT_FOUND);
        LL_CHECK_EQ_INT(fx_settle(&w, &none, &h, NULL, types[i], 0, &d), LL_REJECT_HOLD_NOT_FOUND);
    }
    LL_CHECK_EQ_STR(ll_rejection_slug(LL_REJECT_HOLD_NOT_FOUND), "hold-not-found");
    LL_CHECK_EQ_INT(h.status, LL_HOLD_OPEN);
}

/* A frozen account holds nothing new and captures nothing; releases and expiries still end
 * holds (they give money back to spend), and a capture to a frozen account lands. */
LL_TEST(test_holds_on_frozen_accounts) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, b;
    funded(&w, &a, 1, 1000);
    funded(&w, &b, 2, 1000);
    ll_hold_t h1, h2, h3, h4;
    ll_decision_t d;
    LL_REQUIRE(fx_place(&w, &a, 501, 100, 60, &h1, &d) == LL_REJECT_NONE);
    LL_REQUIRE(fx_place(&w, &a, 502, 100, 5, &h2, &d) == LL_REJECT_NONE);
    LL_REQUIRE(fx_place(&w, &a, 503, 100, 60, &h3, &d) == LL_REJECT_NONE);
    LL_REQUIRE(freeze(&w, &a, LL_CMD_FREEZE) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(fx_place(&w, &a, 504, 1, 60, &h4, &d), LL_REJECT_ACCOUNT_FROZEN);
    LL_CHECK_EQ_INT(fx_settle(&w, &a, &h1, NULL, LL_CMD_CAPTURE_HOLD, 0, &d), LL_REJECT_ACCOUNT_FROZEN);
    LL_CHECK_EQ_INT(fx_settle(&w, &a, &h1, &b, LL_CMD_CAPTURE_HOLD, 0, &d), LL_REJECT_ACCOUNT_FROZEN);
    LL_CHECK_EQ_INT(d.failed_destination, 0);
    LL_CHECK_EQ_INT(fx_settle(&w, &a, &h1, NULL, LL_CMD_RELEASE_HOLD, 0, &d), LL_REJECT_NONE);
    LL_CHECK(d.events[0].after.frozen);
    next_command_not_before(&w, h2.expires_at_us);
    LL_CHECK_EQ_INT(fx_settle(&w, &a, &h2, NULL, LL_CMD_EXPIRE_HOLD, 0, &d), LL_REJECT_NONE);
    LL_CHECK_EQ_INT(a.held_minor, 100);
    LL_REQUIRE(freeze(&w, &a, LL_CMD_UNFREEZE) == LL_REJECT_NONE);
    /* A capture to a frozen destination: credits land. */
    LL_REQUIRE(freeze(&w, &b, LL_CMD_FREEZE) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(fx_settle(&w, &a, &h3, &b, LL_CMD_CAPTURE_HOLD, 0, &d), LL_REJECT_NONE);
    LL_CHECK(d.events[1].after.frozen);
    LL_CHECK_EQ_INT(b.balance_minor, 1100);
    LL_CHECK_EQ_INT(a.balance_minor, 900);
}

LL_TEST(test_close_waits_for_open_holds) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a;
    funded(&w, &a, 1, 100);
    ll_hold_t h;
    ll_decision_t d;
    LL_REQUIRE(fx_place(&w, &a, 501, 100, 60, &h, &d) == LL_REJECT_NONE);
    ll_command_t close = fx_cmd(LL_CMD_CLOSE, &a.account_id, 0, NULL);
    LL_CHECK_EQ_INT(fx_run(&w, &a, &close, &d), LL_REJECT_HOLDS_OPEN);
    LL_CHECK_CONTAINS(d.detail, "100");
    /* Holds come before the balance: the refusal names what to do first. */
    LL_REQUIRE(fx_settle(&w, &a, &h, NULL, LL_CMD_CAPTURE_HOLD, 40, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(fx_run(&w, &a, &close, &d), LL_REJECT_BALANCE_NOT_ZERO);
    ll_command_t wd = fx_cmd(LL_CMD_WITHDRAW, &a.account_id, 60, "EUR");
    LL_REQUIRE(fx_run(&w, &a, &wd, &d) == LL_REJECT_NONE);
    LL_CHECK_EQ_INT(fx_run(&w, &a, &close, &d), LL_REJECT_NONE);
    /* A closed account takes no new hold. */
    LL_CHECK_EQ_INT(fx_place(&w, &a, 502, 1, 60, &h, &d), LL_REJECT_ACCOUNT_CLOSED);
}

/* ---- the hold record ----------------------------------------------------------------------- */

LL_TEST(test_hold_record_follows_its_events) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a;
    funded(&w, &a, 1, 1000);
    ll_hold_t h;
    ll_decision_t d;
    ll_command_t place = fx_cmd(LL_CMD_PLACE_HOLD, &a.account_id, 300, "EUR");
    place.hold_id = fx_uuid(501);
    place.expires_in_s = 60;
    snprintf(place.reference, sizeof place.reference, "card 1234");
    ll_hold_init(&h, &place.hold_id);
    LL_CHECK_EQ_INT(h.status, LL_HOLD_NONE);
    LL_REQUIRE(fx_run(&w, &a, &place, &d) == LL_REJECT_NONE);
    ll_event_t placed = d.events[0];
    LL_REQUIRE(ll_hold_apply(&h, &placed, NULL) == 0);
    LL_CHECK_EQ_STR(h.reference, "card 1234");
    LL_CHECK_EQ_STR(h.currency.code, "EUR");
    LL_CHECK_EQ_INT(h.placed_at_us, placed.occurred_at_us);
    LL_CHECK_EQ_INT(h.settled_at_us, 0);
    LL_REQUIRE(fx_settle(&w, &a, &h, NULL, LL_CMD_CAPTURE_HOLD, 120, &d) == LL_REJECT_NONE);
    /* The capture carries the hold's reference. */
    LL_CHECK_EQ_STR(d.events[0].data.movement.reference, "card 1234");
    LL_CHECK_EQ_INT(h.captured_minor, 120);
    LL_CHECK_EQ_INT(h.amount_minor, 300);
    for (int s = LL_HOLD_NONE; s <= LL_HOLD_EXPIRED; s++)
        LL_CHECK_EQ_INT(ll_hold_status_from_name(ll_hold_status_name((ll_hold_status_t)s)), s);
    LL_CHECK_EQ_INT(ll_hold_status_from_name("bogus"), LL_HOLD_NONE);
    LL_CHECK_EQ_INT(ll_hold_status_from_name(NULL), LL_HOLD_NONE);
    LL_CHECK_EQ_STR(ll_hold_status_name((ll_hold_status_t)99), "none");
}

/* ll_hold_apply takes only the next event of its own hold, with the hold's amounts. */
LL_TEST(test_hold_record_refusals) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, b;
    funded(&w, &a, 1, 1000);
    funded(&w, &b, 2, 1000);
    ll_hold_t h, tmp;
    ll_decision_t d;
    LL_REQUIRE(fx_place(&w, &a, 501, 300, 60, &h, &d) == LL_REJECT_NONE);
    ll_event_t placed = d.events[0];
    ll_hold_t open = h;
    ll_account_t a_open = a;
    LL_REQUIRE(fx_settle(&w, &a, &h, NULL, LL_CMD_CAPTURE_HOLD, 100, &d) == LL_REJECT_NONE);
    ll_event_t captured = d.events[0];
    ll_command_t dep = fx_cmd(LL_CMD_DEPOSIT, &a.account_id, 5, "EUR");
    LL_REQUIRE(fx_run(&w, &a, &dep, &d) == LL_REJECT_NONE);
    ll_event_t deposit = d.events[0];
    /* A release decided on the open hold, never applied (the capture won). */
    ll_command_t rel = fx_cmd(LL_CMD_RELEASE_HOLD, &a.account_id, 0, NULL);
    rel.hold_id = open.hold_id;
    ll_command_meta_t meta = fx_meta(&w);
    ll_decide_hold(&a_open, &open, NULL, &rel, &meta, &d);
    LL_REQUIRE(d.rejection == LL_REJECT_NONE);
    ll_event_t released = d.events[0];

    typedef struct {
        const ll_hold_t *start;
        ll_event_t ev;
        const char *why;
    } refusal_t;
    refusal_t cases[8];
    size_t n = 0;
    cases[n++] = (refusal_t){&open, deposit, "not an event of this hold"};
    cases[n++] = (refusal_t){&open, placed, "placed twice"};
    cases[n++] = (refusal_t){&h, released, "captured, not open"};
    cases[n++] = (refusal_t){&h, captured, "captured, not open"};
    ll_hold_init(&tmp, &open.hold_id);
    cases[n++] = (refusal_t){&tmp, released, "none, not open"};
    ll_event_t other = released; /* another hold's id */
    other.data.movement.hold_id = fx_uuid(502);
    cases[n++] = (refusal_t){&open, other, "not an event of this hold"};
    ll_event_t elsewhere = released; /* the right hold, on another account */
    elsewhere.account_id = b.account_id;
    cases[n++] = (refusal_t){&open, elsewhere, "another account"};
    ll_event_t less = released; /* releases less than was held */
    less.data.movement.amount_minor = 299;
    cases[n++] = (refusal_t){&open, less, "amounts differ"};
    for (size_t i = 0; i < n; i++) {
        ll_hold_t copy = *cases[i].start;
        ll_error_t err = {""};
        LL_CHECK_EQ_INT(ll_hold_apply(&copy, &cases[i].ev, &err), LL_EINVAL);
        LL_CHECK_CONTAINS(err.msg, cases[i].why);
        LL_CHECK(memcmp(&copy, cases[i].start, sizeof copy) == 0);
    }
    /* A capture whose parts do not add up to the hold. */
    ll_event_t bad = captured;
    bad.data.movement.released_minor += 1;
    ll_hold_t copy = open;
    ll_error_t err = {""};
    LL_CHECK_EQ_INT(ll_hold_apply(&copy, &bad, &err), LL_EINVAL);
    LL_CHECK_CONTAINS(err.msg, "amounts differ");
    /* ... or that takes more than the hold by releasing a negative rest. */
    bad = captured;
    bad.data.movement.amount_minor = 350;
    bad.data.movement.released_minor = -50;
    LL_CHECK_EQ_INT(ll_hold_apply(&copy, &bad, &err), LL_EINVAL);
    LL_CHECK(memcmp(&copy, &open, sizeof copy) == 0);
    /* ... or whose parts overflow int64 (hostile input: refused, not undefined). */
    bad = captured;
    bad.data.movement.released_minor = INT64_MAX;
    LL_CHECK_EQ_INT(ll_hold_apply(&copy, &bad, &err), LL_EINVAL);
    /* ... or in another currency than the hold's. */
    bad = released;
    memcpy(bad.data.movement.currency.code, "USD", 4);
    LL_CHECK_EQ_INT(ll_hold_apply(&copy, &bad, &err), LL_EINVAL);
    LL_CHECK(memcmp(&copy, &open, sizeof copy) == 0);
    /* The untampered release applies to the open record. */
    LL_CHECK_EQ_INT(ll_hold_apply(&copy, &released, &err), 0);
    LL_CHECK_EQ_INT(copy.status, LL_HOLD_RELEASED);
    LL_CHECK_EQ_INT(copy.captured_minor, 0);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_place_reserves_without_moving_the_balance),
        LL_CASE(test_place_rejections),
        LL_CASE(test_holds_count_against_the_credit_limit),
        LL_CASE(test_capture_in_part_releases_the_rest),
        LL_CASE(test_capture_to_another_account_is_a_transfer),
        LL_CASE(test_capture_rejections),
        LL_CASE(test_capture_to_a_full_account_is_refused),
        LL_CASE(test_the_expiry_instant),
        LL_CASE(test_a_hold_ends_once),
        LL_CASE(test_unknown_holds_are_not_found),
        LL_CASE(test_holds_on_frozen_accounts),
        LL_CASE(test_close_waits_for_open_holds),
        LL_CASE(test_hold_record_follows_its_events),
        LL_CASE(test_hold_record_refusals),
    };
    return ll_test_main(argc, argv, "holds", cases, LL_CASES(cases));
}
