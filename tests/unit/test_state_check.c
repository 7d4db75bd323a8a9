/* Unit tests of domain/ll_state_check: a state read back from a store passes when it could have
 * come from folding events, and each invariant it breaks is named. */
#include "ll_state_check.h"
#include "ll_test.h"

#include <stdint.h>
#include <string.h>

static ll_account_t good_account(void) {
    ll_account_t a;
    ll_uuid_t id = {{1}};
    ll_account_init(&a, &id);
    a.version = 7;
    a.status = LL_ACCOUNT_OPEN;
    strcpy(a.owner, "alice");
    strcpy(a.currency.code, "EUR");
    a.balance_minor = 100;
    a.held_minor = 150;
    a.overdraft_limit_minor = 50; /* available -50: exactly the floor */
    a.opened_at_us = 1000;
    a.updated_at_us = 2000;
    memset(a.head_hash, 'a', LL_HASH_HEX_LEN);
    a.head_hash[LL_HASH_HEX_LEN] = '\0';
    return a;
}

static ll_hold_t good_hold(ll_hold_status_t status) {
    ll_hold_t h;
    ll_uuid_t id = {{2}};
    ll_hold_init(&h, &id);
    h.status = status;
    strcpy(h.currency.code, "EUR");
    h.amount_minor = 40;
    h.captured_minor = status == LL_HOLD_CAPTURED ? 30 : 0;
    h.placed_at_us = 1000;
    h.expires_at_us = 5000;
    h.settled_at_us = status == LL_HOLD_OPEN ? 0 : 3000;
    h.placed_version = 3;
    return h;
}

/* Expects check to refuse a, naming `why` in the message. */
#define REFUSED(check, x, why)                                                                                    \
    do {                                                                                                          \
        ll_error_t err_ = {""};                                                                                   \
        LL_CHECK_EQ_INT(check(&(x), &err_), LL_EINVAL);                                                           \
        LL_CHECK_CONTAINS(err_.msg, why);                                                                         \
    } while (0)

LL_TEST(test_an_account_folded_from_events_passes) {
    ll_account_t a = good_account();
    ll_error_t err = {""};
    LL_CHECK_EQ_INT(ll_account_check(&a, &err), 0);
    a.status = LL_ACCOUNT_CLOSED, a.balance_minor = a.held_minor = a.overdraft_limit_minor = 0;
    LL_CHECK_EQ_INT(ll_account_check(&a, &err), 0);
    a = good_account();
    a.frozen = true;
    LL_CHECK_EQ_INT(ll_account_check(&a, &err), 0);
}

LL_TEST(test_each_broken_account_invariant_is_named) {
    ll_account_t a;
    a = good_account(), a.version = 0;
    REFUSED(ll_account_check, a, "version");
    a = good_account(), a.status = LL_ACCOUNT_NONE;
    REFUSED(ll_account_check, a, "status");
    a = good_account(), a.owner[0] = '\0';
    REFUSED(ll_account_check, a, "owner");
    a = good_account(), strcpy(a.currency.code, "eur");
    REFUSED(ll_account_check, a, "currency");
    a = good_account(), strcpy(a.currency.code, "EU");
    REFUSED(ll_account_check, a, "currency");
    a = good_account(), a.head_hash[3] = 'G';
    REFUSED(ll_account_check, a, "head_hash");
    a = good_account(), a.head_hash[10] = '\0';
    REFUSED(ll_account_check, a, "head_hash");
    a = good_account(), a.updated_at_us = a.opened_at_us - 1;
    REFUSED(ll_account_check, a, "updated_at");
    a = good_account(), a.held_minor = -1;
    REFUSED(ll_account_check, a, "held_minor");
    a = good_account(), a.overdraft_limit_minor = -1;
    REFUSED(ll_account_check, a, "overdraft_limit");
    a = good_account(), a.overdraft_limit_minor = LL_AMOUNT_MINOR_MAX + 1;
    REFUSED(ll_account_check, a, "overdraft_limit");
    a = good_account(), a.balance_minor -= 1; /* one below the floor */
    REFUSED(ll_account_check, a, "below");
    a = good_account(), a.balance_minor = INT64_MIN, a.held_minor = 1;
    REFUSED(ll_account_check, a, "overflows");
    a = good_account(), a.status = LL_ACCOUNT_CLOSED, a.held_minor = 0, a.overdraft_limit_minor = 0, a.balance_minor = 5;
    REFUSED(ll_account_check, a, "closed");
    a = good_account(), a.status = LL_ACCOUNT_CLOSED, a.balance_minor = a.held_minor = a.overdraft_limit_minor = 0,
    a.frozen = true;
    REFUSED(ll_account_check, a, "closed");
    a = good_account(), a.version = 1;
    REFUSED(ll_account_check, a, "version 1");
}

LL_TEST(test_a_hold_in_each_status_passes) {
    ll_hold_status_t all[] = {LL_HOLD_OPEN, LL_HOLD_CAPTURED, LL_HOLD_RELEASED, LL_HOLD_EXPIRED};
    for (size_t i = 0; i < 4; i++) {
        ll_hold_t h = good_hold(all[i]);
        ll_error_t err = {""};
        if (ll_hold_check(&h, &err) != 0) LL_FAIL_AT("status %zu: %s", i, err.msg);
    }
}

LL_TEST(test_each_broken_hold_invariant_is_named) {
    ll_hold_t h;
    h = good_hold(LL_HOLD_NONE);
    REFUSED(ll_hold_check, h, "status");
    h = good_hold(LL_HOLD_OPEN), strcpy(h.currency.code, "E1R");
    REFUSED(ll_hold_check, h, "currency");
    h = good_hold(LL_HOLD_OPEN), h.amount_minor = 0;
    REFUSED(ll_hold_check, h, "amount_minor");
    h = good_hold(LL_HOLD_OPEN), h.amount_minor = LL_AMOUNT_MINOR_MAX + 1;
    REFUSED(ll_hold_check, h, "amount_minor");
    h = good_hold(LL_HOLD_OPEN), h.captured_minor = 1;
    REFUSED(ll_hold_check, h, "captured_minor");
    h = good_hold(LL_HOLD_CAPTURED), h.captured_minor = 0;
    REFUSED(ll_hold_check, h, "captured_minor");
    h = good_hold(LL_HOLD_CAPTURED), h.captured_minor = h.amount_minor + 1;
    REFUSED(ll_hold_check, h, "captured_minor");
    h = good_hold(LL_HOLD_RELEASED), h.captured_minor = 5;
    REFUSED(ll_hold_check, h, "captured_minor");
    h = good_hold(LL_HOLD_OPEN), h.settled_at_us = 3000;
    REFUSED(ll_hold_check, h, "settled_at");
    h = good_hold(LL_HOLD_EXPIRED), h.settled_at_us = h.placed_at_us - 1;
    REFUSED(ll_hold_check, h, "settled_at");
    h = good_hold(LL_HOLD_OPEN), h.expires_at_us = h.placed_at_us - 1;
    REFUSED(ll_hold_check, h, "expires_at");
    h = good_hold(LL_HOLD_OPEN), h.placed_version = 0;
    REFUSED(ll_hold_check, h, "placed_version");
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_an_account_folded_from_events_passes),
        LL_CASE(test_each_broken_account_invariant_is_named),
        LL_CASE(test_a_hold_in_each_status_passes),
        LL_CASE(test_each_broken_hold_invariant_is_named),
    };
    return ll_test_main(argc, argv, "state_check", cases, LL_CASES(cases));
}
