/* ll_stats.c - see ll_stats.h. */
#include "ll_stats.h"

#include <assert.h>
#include <stdlib.h>

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void ll_stats_sort(int64_t *v, size_t n) {
    qsort(v, n, sizeof v[0], cmp_i64);
}

int64_t ll_stats_percentile(const int64_t *sorted, size_t n, double p) {
    assert(n >= 1);
    size_t i = (size_t)((double)n * p / 100.0);
    return sorted[i < n ? i : n - 1];
}
