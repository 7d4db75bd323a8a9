/* ll_account_cache.c - see ll_account_cache.h. Entries in one array, found by id through an
 * ll_uuid_map of their indexes (grown as accounts are cached, up to what capacity needs); a
 * CLOCK hand over the array picks what to forget. */
#include "ll_account_cache.h"

#include "ll_uuid_map.h"

#include <stdint.h>
#include <stdlib.h>

typedef struct {
    ll_rm_account_t value;
    ll_rm_page_items_t items; /* owned; page < 0: not remembered */
    uint8_t used, recent;
    uint8_t unverified; /* taken on the event store's word (ll_account_cache.h) */
} entry_t;

struct ll_account_cache {
    entry_t *entries;
    ll_uuid_map_t index; /* account id -> uint32_t index into entries */
    size_t capacity, count, hand, fresh; /* fresh: entries never used yet start here */
    size_t items_bytes, items_budget;
};

ll_account_cache_t *ll_account_cache_new(size_t capacity, size_t items_bytes) {
    if (capacity >= UINT32_MAX) return NULL;
    ll_account_cache_t *c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    c->capacity = capacity;
    c->items_budget = items_bytes;
    c->entries = capacity ? calloc(capacity, sizeof *c->entries) : NULL; /* pages come as used */
    /* The index grows with the accounts cached (never past what capacity needs: a full cache
     * evicts before it inserts), so a projector of few accounts does not pay for a million. */
    if (ll_uuid_map_init(&c->index, sizeof(uint32_t), capacity < 4096 ? capacity : 4096) != 0 ||
        (capacity && c->entries == NULL)) {
        ll_account_cache_free(c);
        return NULL;
    }
    return c;
}

static void drop_items(ll_account_cache_t *c, entry_t *e) {
    c->items_bytes -= e->items.len;
    ll_rm_page_items_clear(&e->items);
}

void ll_account_cache_free(ll_account_cache_t *c) {
    if (c == NULL) return;
    for (size_t i = 0; c->entries != NULL && i < c->fresh; i++) drop_items(c, &c->entries[i]);
    free(c->entries);
    ll_uuid_map_free(&c->index);
    free(c);
}

static entry_t *find(const ll_account_cache_t *c, const ll_uuid_t *id) {
    const uint32_t *i = ll_uuid_map_find(&c->index, id);
    return i != NULL ? &c->entries[*i] : NULL;
}

ll_rm_account_t *ll_account_cache_get(ll_account_cache_t *c, const ll_uuid_t *id) {
    entry_t *e = find(c, id);
    if (e == NULL) return NULL;
    e->recent = 1;
    return &e->value;
}

const ll_rm_page_items_t *ll_account_cache_items(const ll_account_cache_t *c, const ll_uuid_t *id) {
    const entry_t *e = find(c, id);
    return e != NULL && e->items.page >= 0 ? &e->items : NULL;
}

void ll_account_cache_take_items(ll_account_cache_t *c, const ll_uuid_t *id, ll_rm_page_items_t *out) {
    entry_t *e = find(c, id);
    *out = LL_RM_PAGE_ITEMS_NONE;
    if (e == NULL) return;
    c->items_bytes -= e->items.len;
    *out = e->items;
    e->items = LL_RM_PAGE_ITEMS_NONE;
}

void ll_account_cache_give_items(ll_account_cache_t *c, const ll_uuid_t *id, ll_rm_page_items_t *items) {
    entry_t *e = find(c, id);
    if (e == NULL || items->page < 0 || c->items_bytes - e->items.len + items->len > c->items_budget) {
        ll_rm_page_items_clear(items);
        return;
    }
    drop_items(c, e);
    e->items = *items;
    c->items_bytes += items->len;
    *items = LL_RM_PAGE_ITEMS_NONE;
}

size_t ll_account_cache_items_bytes(const ll_account_cache_t *c) {
    return c->items_bytes;
}

/* Takes entry i out of the index and frees it. */
static void unlink_entry(ll_account_cache_t *c, uint32_t i) {
    ll_uuid_map_remove(&c->index, &c->entries[i].value.state.account_id);
    drop_items(c, &c->entries[i]);
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

int ll_account_cache_unverified(const ll_account_cache_t *c, const ll_uuid_t *id) {
    const entry_t *e = find(c, id);
    return e != NULL && e->unverified;
}

void ll_account_cache_put(ll_account_cache_t *c, const ll_rm_account_t *a, int unverified) {
    if (c->capacity == 0) return;
    entry_t *have = find(c, &a->state.account_id);
    if (have != NULL) {
        have->value = *a;
        have->recent = 1;
        have->unverified = unverified != 0;
        drop_items(c, have);
        return;
    }
    uint32_t i = take_entry(c);
    uint32_t *at = ll_uuid_map_insert(&c->index, &a->state.account_id, NULL);
    if (at == NULL) { /* out of memory to grow the index: a cache may forget */
        c->entries[i] = (entry_t){.items = LL_RM_PAGE_ITEMS_NONE};
        return;
    }
    c->entries[i] = (entry_t){*a, LL_RM_PAGE_ITEMS_NONE, 1, 0, unverified != 0} /* recent once used again */;
    *at = i;
    c->count++;
}

void ll_account_cache_remove(ll_account_cache_t *c, const ll_uuid_t *id) {
    const uint32_t *i = ll_uuid_map_find(&c->index, id);
    if (i != NULL) unlink_entry(c, *i);
}

void ll_account_cache_clear(ll_account_cache_t *c) {
    ll_uuid_map_clear(&c->index);
    for (size_t i = 0; i < c->fresh; i++) drop_items(c, &c->entries[i]), c->entries[i].used = 0;
    c->count = 0;
}

size_t ll_account_cache_count(const ll_account_cache_t *c) {
    return c->count;
}
