/* Unit tests of lib/ll_stats: the percentile rule /metrics and the benchmarks report with. */
#include "ll_stats.h"
#include "ll_test.h"

LL_TEST(test_percentiles_are_nearest_rank_rounded_down) {
    int64_t v[100];
    for (int i = 0; i < 100; i++) v[i] = 100 - i; /* 100 .. 1, unsorted */
    ll_stats_sort(v, 100);
    LL_CHECK_EQ_INT(v[0], 1);
    LL_CHECK_EQ_INT(v[99], 100);
    LL_CHECK_EQ_INT(ll_stats_percentile(v, 100, 50), 51);   /* v[50] */
    LL_CHECK_EQ_INT(ll_stats_percentile(v, 100, 99), 100);  /* v[99] */
    LL_CHECK_EQ_INT(ll_stats_percentile(v, 100, 99.9), 100);
    LL_CHECK_EQ_INT(ll_stats_percentile(v, 100, 100), 100); /* at most the last */
    LL_CHECK_EQ_INT(ll_stats_percentile(v, 100, 0), 1);
}

LL_TEST(test_one_sample_is_every_percentile) {
    int64_t v[1] = {7};
    ll_stats_sort(v, 1);
    LL_CHECK_EQ_INT(ll_stats_percentile(v, 1, 50), 7);
    LL_CHECK_EQ_INT(ll_stats_percentile(v, 1, 99.9), 7);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_percentiles_are_nearest_rank_rounded_down),
        LL_CASE(test_one_sample_is_every_percentile),
    };
    return ll_test_main(argc, argv, "stats", cases, LL_CASES(cases));
}
