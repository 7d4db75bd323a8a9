/* ll_strset.c - see ll_strset.h. */
#include "ll_strset.h"

#include "ll_hash.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ll_strset_node {
    ll_strset_node_t *next;
    long long value;
    char s[]; /* NUL-terminated */
};

static size_t hash(const char *s) {
    return (size_t)ll_fnv1a(s, strlen(s));
}

int ll_strset_init(ll_strset_t *s, size_t n_buckets) {
    s->buckets = calloc(n_buckets, sizeof *s->buckets);
    s->n_buckets = n_buckets;
    s->count = 0;
    return s->buckets ? 0 : -1;
}

void ll_strset_clear(ll_strset_t *s) {
    for (size_t i = 0; s->buckets != NULL && i < s->n_buckets; i++) {
        for (ll_strset_node_t *n = s->buckets[i], *next; n != NULL; n = next) {
            next = n->next;
            free(n);
        }
        s->buckets[i] = NULL;
    }
    s->count = 0;
}

void ll_strset_free(ll_strset_t *s) {
    ll_strset_clear(s);
    free(s->buckets);
    s->buckets = NULL;
}

static ll_strset_node_t *find(const ll_strset_t *set, const char *s) {
    for (ll_strset_node_t *n = set->buckets[hash(s) % set->n_buckets]; n != NULL; n = n->next)
        if (strcmp(n->s, s) == 0) return n;
    return NULL;
}

int ll_strset_contains(const ll_strset_t *set, const char *s) {
    return find(set, s) != NULL;
}

int ll_strset_get(const ll_strset_t *set, const char *s, long long *value) {
    const ll_strset_node_t *n = find(set, s);
    if (n != NULL) *value = n->value;
    return n != NULL;
}

int ll_strset_put(ll_strset_t *set, const char *s, long long value) {
    if (ll_strset_add(set, s) < 0) return -1;
    find(set, s)->value = value;
    return 0;
}

int ll_strset_add(ll_strset_t *set, const char *s) {
    if (ll_strset_contains(set, s)) return 0;
    size_t len = strlen(s);
    ll_strset_node_t *n = malloc(sizeof *n + len + 1);
    if (n == NULL) return -1;
    memcpy(n->s, s, len + 1);
    n->value = 0;
    ll_strset_node_t **b = &set->buckets[hash(s) % set->n_buckets];
    n->next = *b;
    *b = n;
    set->count++;
    return 1;
}

int ll_strset_remove(ll_strset_t *set, const char *s) {
    for (ll_strset_node_t **p = &set->buckets[hash(s) % set->n_buckets]; *p != NULL; p = &(*p)->next) {
        if (strcmp((*p)->s, s) == 0) {
            ll_strset_node_t *dead = *p;
            *p = dead->next;
            free(dead);
            set->count--;
            return 1;
        }
    }
    return 0;
}
