/* Unit tests of which outbox rows a relay round may delete (services/ll_outbox_order.c): never
 * an account's row past one of its rows Kafka did not acknowledge. */
#include "ll_outbox_order.h"
#include "ll_test.h"

#define A "0b5c3a2e-0000-4000-8000-00000000000a"
#define B "0b5c3a2e-0000-4000-8000-00000000000b"

LL_TEST(test_all_delivered_all_go) {
    ll_outbox_outcome_t rows[] = {{A, 1}, {B, 1}, {A, 1}};
    unsigned char del[3];
    LL_CHECK_EQ_INT(ll_outbox_deletable(rows, 3, del), 3);
    LL_CHECK(del[0] && del[1] && del[2]);
}

/* The case that reordered a topic: A's first row failed, its second went out. */
LL_TEST(test_a_row_after_an_accounts_hole_stays) {
    ll_outbox_outcome_t rows[] = {{A, 0}, {B, 1}, {A, 1}, {B, 1}, {A, 1}};
    unsigned char del[5];
    LL_CHECK_EQ_INT(ll_outbox_deletable(rows, 5, del), 2);
    LL_CHECK(!del[0]);
    LL_CHECK(del[1] && del[3]); /* another account is not held back */
    LL_CHECK(!del[2] && !del[4]);
}

LL_TEST(test_rows_before_the_hole_go) {
    ll_outbox_outcome_t rows[] = {{A, 1}, {A, 1}, {A, 0}, {A, 1}};
    unsigned char del[4];
    LL_CHECK_EQ_INT(ll_outbox_deletable(rows, 4, del), 2);
    LL_CHECK(del[0] && del[1] && !del[2] && !del[3]);
}

LL_TEST(test_nothing_delivered_nothing_goes) {
    ll_outbox_outcome_t rows[] = {{A, 0}, {B, 0}};
    unsigned char del[2] = {1, 1};
    LL_CHECK_EQ_INT(ll_outbox_deletable(rows, 2, del), 0);
    LL_CHECK(!del[0] && !del[1]);
    LL_CHECK_EQ_INT(ll_outbox_deletable(rows, 0, del), 0);
}

/* Every subset of failures over a mixed round of three accounts: a deleted row never has an
 * undelivered row of its account before it, and every other delivered row is deleted. */
LL_TEST(test_every_failure_pattern) {
    static const char *const ids[] = {A, B, "0b5c3a2e-0000-4000-8000-00000000000c"};
    enum { N = 10 };
    for (int mask = 0; mask < 1 << N; mask++) {
        ll_outbox_outcome_t rows[N];
        unsigned char del[N];
        for (int i = 0; i < N; i++) rows[i] = (ll_outbox_outcome_t){ids[(i * 7) % 3], !(mask >> i & 1)};
        int n = ll_outbox_deletable(rows, N, del), count = 0;
        for (int i = 0; i < N; i++) {
            int hole = 0;
            for (int k = 0; k < i; k++) hole |= !rows[k].delivered && rows[k].account == rows[i].account;
            if (del[i] != (rows[i].delivered && !hole)) LL_FAIL_AT("failures %#x: row %d", (unsigned)mask, i);
            count += del[i];
        }
        LL_CHECK_EQ_INT(n, count);
    }
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {LL_CASE(test_all_delivered_all_go),
                                           LL_CASE(test_a_row_after_an_accounts_hole_stays),
                                           LL_CASE(test_rows_before_the_hole_go),
                                           LL_CASE(test_nothing_delivered_nothing_goes),
                                           LL_CASE(test_every_failure_pattern)};
    return ll_test_main(argc, argv, "outbox_order", cases, LL_CASES(cases));
}
