/* ll_stats.h - percentiles of a set of samples (latencies), for /metrics and the benchmarks. */
#ifndef LL_STATS_H
#define LL_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Sorts v[0..n) ascending. */
void ll_stats_sort(int64_t *v, size_t n);

/* The p-th percentile of sorted[0..n) (n >= 1), nearest rank rounded down:
 * sorted[floor(n * p / 100)], at most the last. */
int64_t ll_stats_percentile(const int64_t *sorted, size_t n, double p);

#endif
