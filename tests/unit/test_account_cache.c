/* Unit tests of projector/ll_account_cache: what the projector remembers, bounded. */
#include "domain_fixture.h"
#include "ll_account_cache.h"
#include "ll_test.h"

#include <stdlib.h>
#include <string.h>

static ll_rm_account_t account_at(uint64_t n, int64_t version) {
    ll_rm_account_t a;
    memset(&a, 0, sizeof a);
    ll_uuid_t id = fx_uuid(n);
    ll_account_init(&a.state, &id);
    a.state.version = version;
    return a;
}

LL_TEST(test_put_get_replace_remove_clear) {
    ll_account_cache_t *c = ll_account_cache_new(100, 1 << 20);
    LL_REQUIRE(c != NULL);
    ll_rm_account_t a = account_at(1, 3), b = account_at(2, 7);
    LL_CHECK(ll_account_cache_get(c, &a.state.account_id) == NULL);
    ll_account_cache_put(c, &a, 0);
    ll_account_cache_put(c, &b, 0);
    a.state.version = 4;
    ll_account_cache_put(c, &a, 0); /* replaces */
    LL_CHECK_EQ_INT(ll_account_cache_count(c), 2);
    LL_CHECK_EQ_INT(ll_account_cache_get(c, &a.state.account_id)->state.version, 4);
    ll_account_cache_remove(c, &a.state.account_id);
    LL_CHECK(ll_account_cache_get(c, &a.state.account_id) == NULL);
    LL_CHECK_EQ_INT(ll_account_cache_get(c, &b.state.account_id)->state.version, 7);
    ll_account_cache_clear(c);
    LL_CHECK_EQ_INT(ll_account_cache_count(c), 0);
    LL_CHECK(ll_account_cache_get(c, &b.state.account_id) == NULL);
    ll_account_cache_put(c, &b, 0); /* usable after a clear */
    LL_CHECK(ll_account_cache_get(c, &b.state.account_id) != NULL);
    ll_account_cache_free(c);
}

/* Full: the least recently used goes; what was used lately stays. */
LL_TEST(test_full_forgets_what_was_not_used_lately) {
    ll_account_cache_t *c = ll_account_cache_new(4, 1 << 20);
    LL_REQUIRE(c != NULL);
    for (uint64_t i = 1; i <= 4; i++) {
        ll_rm_account_t a = account_at(i, (int64_t)i);
        ll_account_cache_put(c, &a, 0);
    }
    ll_rm_account_t probe = account_at(1, 0);
    for (int round = 0; round < 3; round++) {
        ll_account_cache_get(c, &probe.state.account_id); /* 1 is in use */
        ll_rm_account_t a = account_at(10 + (uint64_t)round, 1);
        ll_account_cache_put(c, &a, 0);
        LL_CHECK_EQ_INT(ll_account_cache_count(c), 4);
        LL_CHECK(ll_account_cache_get(c, &probe.state.account_id) != NULL);
        LL_CHECK(ll_account_cache_get(c, &a.state.account_id) != NULL);
    }
    ll_account_cache_free(c);
}

LL_TEST(test_capacity_zero_remembers_nothing) {
    ll_account_cache_t *c = ll_account_cache_new(0, 1 << 20);
    LL_REQUIRE(c != NULL);
    ll_rm_account_t a = account_at(1, 1);
    ll_account_cache_put(c, &a, 0);
    LL_CHECK(ll_account_cache_get(c, &a.state.account_id) == NULL);
    ll_account_cache_free(c);
}

LL_TEST(test_many_accounts_through_a_small_cache) {
    ll_account_cache_t *c = ll_account_cache_new(1000, 1 << 20);
    LL_REQUIRE(c != NULL);
    for (uint64_t i = 1; i <= 20000; i++) {
        ll_rm_account_t a = account_at(i, (int64_t)i);
        ll_account_cache_put(c, &a, 0);
        if (i % 3 == 0) ll_account_cache_remove(c, &a.state.account_id);
        const ll_rm_account_t *got = ll_account_cache_get(c, &a.state.account_id);
        LL_CHECK(i % 3 == 0 ? got == NULL : got != NULL && got->state.version == (int64_t)i);
    }
    LL_CHECK(ll_account_cache_count(c) <= 1000);
    ll_account_cache_free(c);
}

static ll_rm_page_items_t items_of(size_t bytes) {
    ll_rm_page_items_t items = {0, 1, malloc(bytes), bytes};
    memset(items.packed, 0, bytes);
    return items;
}

/* The items of an account's open page go with it while they fit the budget; a new state or
 * forgetting the account drops them (ASan: nothing leaks). */
LL_TEST(test_page_items_stay_within_their_budget) {
    ll_account_cache_t *c = ll_account_cache_new(2, 100);
    LL_REQUIRE(c != NULL);
    ll_rm_account_t a = account_at(1, 3), b = account_at(2, 7), d = account_at(3, 1);
    ll_account_cache_put(c, &a, 0);
    ll_account_cache_put(c, &b, 0);
    ll_rm_page_items_t items = items_of(60);
    ll_account_cache_give_items(c, &a.state.account_id, &items);
    LL_CHECK(items.packed == NULL); /* moved */
    LL_CHECK(ll_account_cache_items(c, &a.state.account_id) != NULL);
    LL_CHECK_EQ_INT(ll_account_cache_items_bytes(c), 60);
    items = items_of(60); /* 120 > 100: not kept */
    ll_account_cache_give_items(c, &b.state.account_id, &items);
    LL_CHECK(ll_account_cache_items(c, &b.state.account_id) == NULL);
    LL_CHECK_EQ_INT(ll_account_cache_items_bytes(c), 60);
    ll_account_cache_take_items(c, &a.state.account_id, &items); /* the caller owns them now */
    LL_CHECK_EQ_INT(items.len, 60);
    LL_CHECK_EQ_INT(ll_account_cache_items_bytes(c), 0);
    ll_account_cache_give_items(c, &a.state.account_id, &items);
    a.state.version = 4;
    ll_account_cache_put(c, &a, 0); /* a new state: the items were of the old one */
    LL_CHECK(ll_account_cache_items(c, &a.state.account_id) == NULL);
    LL_CHECK_EQ_INT(ll_account_cache_items_bytes(c), 0);
    items = items_of(50);
    ll_account_cache_give_items(c, &b.state.account_id, &items);
    ll_account_cache_put(c, &d, 0); /* full: one of them is forgotten, with its items */
    ll_account_cache_put(c, &a, 0);
    LL_CHECK(ll_account_cache_items_bytes(c) <= 50);
    items = items_of(10);
    ll_account_cache_give_items(c, &b.state.account_id, &items); /* to one not remembered: freed */
    ll_account_cache_remove(c, &b.state.account_id);
    LL_CHECK_EQ_INT(ll_account_cache_items_bytes(c), 0);
    items = items_of(10);
    ll_account_cache_give_items(c, &a.state.account_id, &items);
    ll_account_cache_clear(c);
    LL_CHECK_EQ_INT(ll_account_cache_items_bytes(c), 0);
    items = items_of(10);
    ll_account_cache_put(c, &a, 0);
    ll_account_cache_give_items(c, &a.state.account_id, &items);
    ll_account_cache_free(c); /* frees what it holds */
}

/* An account taken on the event store's word stays so marked until put again as verified. */
LL_TEST(test_unverified_is_kept_until_verified) {
    ll_account_cache_t *c = ll_account_cache_new(10, 1 << 20);
    LL_REQUIRE(c != NULL);
    ll_rm_account_t a = account_at(1, 3), b = account_at(2, 5);
    LL_CHECK(!ll_account_cache_unverified(c, &a.state.account_id)); /* not remembered */
    ll_account_cache_put(c, &a, 1);
    ll_account_cache_put(c, &b, 0);
    LL_CHECK(ll_account_cache_unverified(c, &a.state.account_id));
    LL_CHECK(!ll_account_cache_unverified(c, &b.state.account_id));
    a.state.version = 4;
    ll_account_cache_put(c, &a, 0); /* read back: verified */
    LL_CHECK(!ll_account_cache_unverified(c, &a.state.account_id));
    ll_account_cache_put(c, &b, 1);
    ll_account_cache_remove(c, &b.state.account_id);
    LL_CHECK(!ll_account_cache_unverified(c, &b.state.account_id));
    ll_account_cache_free(c);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_put_get_replace_remove_clear),
        LL_CASE(test_full_forgets_what_was_not_used_lately),
        LL_CASE(test_capacity_zero_remembers_nothing),
        LL_CASE(test_many_accounts_through_a_small_cache),
        LL_CASE(test_page_items_stay_within_their_budget),
        LL_CASE(test_unverified_is_kept_until_verified),
    };
    return ll_test_main(argc, argv, "account_cache", cases, LL_CASES(cases));
}
