/* Unit tests of lib/ll_rate_limit: token buckets per key with bounded memory. Time is supplied,
 * so refill, Retry-After and eviction are exact. */
#include "ll_rate_limit.h"
#include "ll_test.h"

#include <stdio.h>

#define S 1000000LL /* one second in microseconds */

LL_TEST(test_burst_then_refused_with_retry_after) {
    ll_rate_limit_t *rl = ll_rate_limit_create(2, 5, 64);
    LL_REQUIRE(rl != NULL);
    for (int i = 0; i < 5; i++) LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "ip:1", 10 * S), 0);
    LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "ip:1", 10 * S), 1); /* 0.5 s to the next token: 1 s */
    /* Half a second later one token (2/s) is back. */
    LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "ip:1", 10 * S + S / 2), 0);
    LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "ip:1", 10 * S + S / 2), 1);
    ll_rate_limit_destroy(rl);
}

LL_TEST(test_retry_after_rounds_up_for_slow_rates) {
    ll_rate_limit_t *rl = ll_rate_limit_create(1, 1, 8);
    LL_REQUIRE(rl != NULL);
    LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "k", 0), 0);
    LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "k", S / 10), 1);
    ll_rate_limit_destroy(rl);
}

LL_TEST(test_keys_are_independent) {
    ll_rate_limit_t *rl = ll_rate_limit_create(1, 1, 64);
    LL_REQUIRE(rl != NULL);
    LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "sub:alice", 0), 0);
    LL_CHECK(ll_rate_limit_take(rl, "sub:alice", 0) > 0);
    LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "sub:bob", 0), 0);
    ll_rate_limit_destroy(rl);
}

LL_TEST(test_long_idle_refills_without_overflow) {
    ll_rate_limit_t *rl = ll_rate_limit_create(1000000, 3, 8);
    LL_REQUIRE(rl != NULL);
    for (int i = 0; i < 3; i++) ll_rate_limit_take(rl, "k", 0);
    for (int i = 0; i < 3; i++) LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "k", INT64_MAX / 2), 0);
    LL_CHECK(ll_rate_limit_take(rl, "k", INT64_MAX / 2) > 0); /* the burst caps it */
    ll_rate_limit_destroy(rl);
}

LL_TEST(test_off_allows_everything) {
    ll_rate_limit_t *rl = ll_rate_limit_create(0, 1, 8);
    LL_REQUIRE(rl != NULL);
    for (int i = 0; i < 1000; i++) LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "k", 0), 0);
    ll_rate_limit_destroy(rl);
}

/* A flood of new keys in a tiny table never makes a throttled client's bucket emptier: at worst
 * its entry is evicted and it starts full again. And the table stays bounded. */
LL_TEST(test_eviction_only_forgets) {
    ll_rate_limit_t *rl = ll_rate_limit_create(1, 2, 4);
    LL_REQUIRE(rl != NULL);
    LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "victim", 0), 0);
    LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "victim", 0), 0);
    LL_CHECK(ll_rate_limit_take(rl, "victim", 0) > 0);
    char key[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "ip:%d", i);
        LL_CHECK_EQ_INT(ll_rate_limit_take(rl, key, 1), 0); /* each new key starts with its burst */
    }
    /* Ten thousand keys through four slots evicted it: it starts again with its whole burst,
     * never with less than it had (it had none, and would wait a second without the flood). */
    LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "victim", 1), 0);
    LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "victim", 1), 0);
    LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "victim", 1), 1);
    ll_rate_limit_destroy(rl);
}

/* A full (idle) bucket is the one to reuse before a recently limited one. */
LL_TEST(test_idle_full_bucket_evicted_before_active) {
    ll_rate_limit_t *rl = ll_rate_limit_create(1, 1, 1); /* one set of four ways */
    LL_REQUIRE(rl != NULL);
    LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "busy", 100 * S), 0); /* empty now */
    LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "a", 0), 0);          /* refilled by t=100 s */
    LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "b", 0), 0);
    LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "c", 0), 0);
    LL_CHECK_EQ_INT(ll_rate_limit_take(rl, "d", 100 * S), 0); /* evicts an idle one, not "busy" */
    LL_CHECK(ll_rate_limit_take(rl, "busy", 100 * S) > 0);
    ll_rate_limit_destroy(rl);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_burst_then_refused_with_retry_after), LL_CASE(test_retry_after_rounds_up_for_slow_rates),
        LL_CASE(test_keys_are_independent),               LL_CASE(test_long_idle_refills_without_overflow),
        LL_CASE(test_off_allows_everything),              LL_CASE(test_eviction_only_forgets),
        LL_CASE(test_idle_full_bucket_evicted_before_active),
    };
    return ll_test_main(argc, argv, "rate_limit", cases, LL_CASES(cases));
}
