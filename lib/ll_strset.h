/* ll_strset.h - a set of strings (chained hash table), each with an integer the owner may keep
 * beside it (0 unless set). Not thread-safe: one owner thread. */
#ifndef LL_STRSET_H
#define LL_STRSET_H

#include <stddef.h>

typedef struct ll_strset_node ll_strset_node_t;

typedef struct ll_strset {
    ll_strset_node_t **buckets;
    size_t n_buckets, count;
} ll_strset_t;

/* Returns 0, or -1 when out of memory. */
int ll_strset_init(ll_strset_t *s, size_t n_buckets);
void ll_strset_free(ll_strset_t *s);
/* Removes every string; the set stays usable. */
void ll_strset_clear(ll_strset_t *s);

/* Adds s; returns 1 when added, 0 when already present, -1 when out of memory. */
int ll_strset_add(ll_strset_t *set, const char *s);
int ll_strset_contains(const ll_strset_t *set, const char *s);
/* Adds s (when absent) and sets its value; returns 0, or -1 when out of memory. */
int ll_strset_put(ll_strset_t *set, const char *s, long long value);
/* 1 with *value set when s is present, else 0. */
int ll_strset_get(const ll_strset_t *set, const char *s, long long *value);
/* Removes s if present; returns 1 when it was. */
int ll_strset_remove(ll_strset_t *set, const char *s);

#endif
