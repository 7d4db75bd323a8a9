/* Unit tests of api/ll_recent_movements: the newest statement items of an account in memory,
 * and which pages they can tell. */
#include "ll_recent_movements.h"
#include "ll_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add(ll_recent_movements_t *r, int64_t v) {
    char json[32];
    int n = snprintf(json, sizeof json, "{\"version\":%lld}", (long long)v);
    if (ll_recent_movements_add(r, v, json, (size_t)n) != 0) abort();
}

/* The page as text, or NULL when not told. */
static char *page(const ll_recent_movements_t *r, int64_t before, int64_t limit) {
    ll_text_t t;
    ll_text_init(&t);
    if (!ll_recent_movements_page(r, before, limit, &t)) {
        free(ll_text_take(&t));
        return NULL;
    }
    return ll_text_take(&t);
}

LL_TEST(test_a_whole_history_tells_every_page) {
    ll_recent_movements_t *r = ll_recent_movements_new(1);
    LL_REQUIRE(r != NULL);
    char *p = page(r, INT64_MAX, 50);
    LL_CHECK_EQ_STR(p, "{\"items\":[],\"next_cursor\":null}");
    free(p);
    for (int64_t v = 2; v <= 6; v++) add(r, v);
    p = page(r, INT64_MAX, 2);
    LL_CHECK_EQ_STR(p, "{\"items\":[{\"version\":6},{\"version\":5}],\"next_cursor\":\"5\"}");
    free(p);
    p = page(r, 5, 50);
    LL_CHECK_EQ_STR(p, "{\"items\":[{\"version\":4},{\"version\":3},{\"version\":2}],\"next_cursor\":null}");
    free(p);
    ll_recent_movements_free(r);
}

/* Past the limit the oldest go, and pages reaching below what is held are not told. */
LL_TEST(test_held_movements_are_bounded_and_say_what_they_cannot_tell) {
    ll_recent_movements_t *r = ll_recent_movements_new(1);
    LL_REQUIRE(r != NULL);
    size_t empty = ll_recent_movements_bytes(r);
    for (int64_t v = 2; v < 2 + 3 * LL_RECENT_MOVEMENTS_MAX; v++) add(r, v);
    int64_t newest = 1 + 3 * LL_RECENT_MOVEMENTS_MAX;
    LL_CHECK(ll_recent_movements_bytes(r) > empty);
    char *p = page(r, INT64_MAX, LL_RECENT_MOVEMENTS_MAX - 1); /* the default page: told */
    LL_REQUIRE(p != NULL);
    char want[64];
    snprintf(want, sizeof want, "{\"items\":[{\"version\":%lld}", (long long)newest);
    LL_CHECK(strncmp(p, want, strlen(want)) == 0);
    free(p);
    LL_CHECK(page(r, INT64_MAX, LL_RECENT_MOVEMENTS_MAX) == NULL); /* would need one more */
    LL_CHECK(page(r, newest - 10, 50) == NULL);
    ll_recent_movements_free(r);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_a_whole_history_tells_every_page),
        LL_CASE(test_held_movements_are_bounded_and_say_what_they_cannot_tell),
    };
    return ll_test_main(argc, argv, "recent_movements", cases, LL_CASES(cases));
}
