/* ll_recent_movements.c - see ll_recent_movements.h. A ring of items, grown on demand up to
 * LL_RECENT_MOVEMENTS_MAX (most accounts have few movements). */
#include "ll_recent_movements.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t version;
    char *json;
    uint32_t len;
} item_t;

struct ll_recent_movements {
    int64_t from_version;
    int first, n, cap; /* items[(first + i) % cap], i = 0 oldest */
    size_t bytes;
    item_t *items;
};

ll_recent_movements_t *ll_recent_movements_new(int64_t from_version) {
    ll_recent_movements_t *r = calloc(1, sizeof *r);
    if (r == NULL) return NULL;
    r->from_version = from_version;
    r->bytes = sizeof *r;
    return r;
}

void ll_recent_movements_free(ll_recent_movements_t *r) {
    if (r == NULL) return;
    for (int i = 0; i < r->n; i++) free(r->items[(r->first + i) % r->cap].json);
    free(r->items);
    free(r);
}

size_t ll_recent_movements_bytes(const ll_recent_movements_t *r) {
    return r->bytes;
}

int ll_recent_movements_add(ll_recent_movements_t *r, int64_t version, const char *json, size_t len) {
    char *copy = malloc(len + 1);
    if (copy == NULL) return -1;
    memcpy(copy, json, len);
    copy[len] = '\0';
    if (r->n == r->cap && r->cap < LL_RECENT_MOVEMENTS_MAX) { /* grow: unroll the ring */
        int cap = r->cap ? r->cap * 2 : 4;
        if (cap > LL_RECENT_MOVEMENTS_MAX) cap = LL_RECENT_MOVEMENTS_MAX;
        item_t *items = malloc((size_t)cap * sizeof *items);
        if (items == NULL) {
            free(copy);
            return -1;
        }
        for (int i = 0; i < r->n; i++) items[i] = r->items[(r->first + i) % r->cap];
        free(r->items);
        r->bytes += (size_t)(cap - r->cap) * sizeof *items;
        r->items = items, r->first = 0, r->cap = cap;
    }
    if (r->n == r->cap) { /* full: forget the oldest */
        item_t *old = &r->items[r->first];
        r->from_version = old->version + 1;
        r->bytes -= old->len + 1;
        free(old->json);
        r->first = (r->first + 1) % r->cap;
        r->n--;
    }
    r->items[(r->first + r->n) % r->cap] = (item_t){version, copy, (uint32_t)len};
    r->n++;
    r->bytes += len + 1;
    return 0;
}

bool ll_recent_movements_page(const ll_recent_movements_t *r, int64_t before, int64_t limit,
                              ll_text_t *body) {
    int newest = r->n - 1; /* the newest held below before */
    while (newest >= 0 && r->items[(r->first + newest) % r->cap].version >= before) newest--;
    int below = newest + 1;
    bool more = below > limit;
    if (!more && r->from_version > 1) return false; /* older movements may exist: not held */
    int shown = more ? (int)limit : below;
    ll_text_append(body, "{\"items\":[", 10);
    for (int i = 0; i < shown; i++) {
        const item_t *it = &r->items[(r->first + newest - i) % r->cap];
        if (i) ll_text_append(body, ",", 1);
        ll_text_append(body, it->json, it->len);
    }
    if (more)
        ll_text_printf(body, "],\"next_cursor\":\"%lld\"}",
                       (long long)r->items[(r->first + newest - shown + 1) % r->cap].version);
    else
        ll_text_printf(body, "],\"next_cursor\":null}");
    return true;
}
