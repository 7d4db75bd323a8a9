/* ll_account_cache.c - see ll_account_cache.h. Entries in one array, chained per bucket by
 * index; a CLOCK hand over the array picks what to forget. */
#include "ll_account_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

typedef struct {
    ll_rm_account_t value;
    uint32_t next; /* in the bucket's chain */
    uint8_t used, recent;
} entry_t;

struct ll_account_cache {
    entry_t *entries;
    uint32_t *buckets;
    size_t capacity, mask, count, hand, fresh; /* fresh: entries never used yet start here */
};

ll_account_cache_t *ll_account_cache_new(size_t capacity) {
    if (capacity >= NIL) return NULL;
    ll_account_cache_t *c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    size_t nb = 16;
    while (nb < capacity * 2) nb *= 2;
    c->capacity = capacity;
    c->mask = nb - 1;
    c->entries = capacity ? calloc(capacity, sizeof *c->entries) : NULL; /* pages come as used */
    c->buckets = malloc(nb * sizeof *c->buckets);
    if ((capacity && c->entries == NULL) || c->buckets == NULL) {
        ll_account_cache_free(c);
        return NULL;
    }
    memset(c->buckets, 0xff, nb * sizeof *c->buckets);
    return c;
}

void ll_account_cache_free(ll_account_cache_t *c) {
    if (c == NULL) return;
    free(c->entries);
    free(c->buckets);
    free(c);
}

static uint32_t *bucket(ll_account_cache_t *c, const ll_uuid_t *id) {
    return &c->buckets[(size_t)(ll_uuid_hash(id) >> 20) & c->mask];
}

ll_rm_account_t *ll_account_cache_get(ll_account_cache_t *c, const ll_uuid_t *id) {
    for (uint32_t i = *bucket(c, id); i != NIL; i = c->entries[i].next)
        if (ll_uuid_equal(&c->entries[i].value.state.account_id, id)) {
            c->entries[i].recent = 1;
            return &c->entries[i].value;
        }
    return NULL;
}

/* Unlinks entry i from its chain and frees it. */
static void unlink_entry(ll_account_cache_t *c, uint32_t i) {
    for (uint32_t *at = bucket(c, &c->entries[i].value.state.account_id); *at != NIL;
         at = &c->entries[*at].next)
        if (*at == i) {
            *at = c->entries[i].next;
            break;
        }
    c->entries[i].used = 0;
    c->count--;
}

/* A free entry: one never used, else the first the hand finds not recently used. */
static uint32_t take_entry(ll_account_cache_t *c) {
    if (c->fresh < c->capacity) return (uint32_t)c->fresh++;
    for (;;) {
        entry_t *e = &c->entries[c->hand];
        uint32_t i = (uint32_t)c->hand;
        c->hand = (c->hand + 1) % c->capacity;
        if (!e->used) return i;
        if (e->recent) {
            e->recent = 0;
            continue;
        }
        unlink_entry(c, i);
        return i;
    }
}

void ll_account_cache_put(ll_account_cache_t *c, const ll_rm_account_t *a) {
    if (c->capacity == 0) return;
    ll_rm_account_t *have = ll_account_cache_get(c, &a->state.account_id);
    if (have != NULL) {
        *have = *a;
        return;
    }
    uint32_t i = take_entry(c);
    uint32_t *b = bucket(c, &a->state.account_id);
    c->entries[i] = (entry_t){*a, *b, 1, 0} /* recent once used again */;
    *b = i;
    c->count++;
}

void ll_account_cache_remove(ll_account_cache_t *c, const ll_uuid_t *id) {
    for (uint32_t i = *bucket(c, id); i != NIL; i = c->entries[i].next)
        if (ll_uuid_equal(&c->entries[i].value.state.account_id, id)) {
            unlink_entry(c, i);
            return;
        }
}

void ll_account_cache_clear(ll_account_cache_t *c) {
    memset(c->buckets, 0xff, (c->mask + 1) * sizeof *c->buckets);
    for (size_t i = 0; i < c->fresh; i++) c->entries[i].used = 0;
    c->count = 0;
}

size_t ll_account_cache_count(const ll_account_cache_t *c) {
    return c->count;
}
