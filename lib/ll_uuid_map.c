/* ll_uuid_map.c - see ll_uuid_map.h. */
#include "ll_uuid_map.h"

#include <stdlib.h>
#include <string.h>

#define MIN_CAP ((size_t)16)

static int fits(size_t count, size_t cap) { /* at most 3/4 full */
    return count <= cap / 4 * 3;
}

static unsigned char *slot_at(const ll_uuid_map_t *m, size_t i) {
    return m->slots + i * m->stride;
}

static int is_zero(const unsigned char *key) {
    uint64_t a, b;
    memcpy(&a, key, 8);
    memcpy(&b, key + 8, 8);
    return (a | b) == 0;
}

static size_t home_of(const ll_uuid_map_t *m, const unsigned char *key) {
    return (size_t)(ll_uuid_hash((const ll_uuid_t *)(const void *)key) >> m->shift);
}

/* Empty slots for cap (a power of two >= MIN_CAP) into m; -1 when out of memory or too large. */
static int alloc_table(ll_uuid_map_t *m, size_t cap) {
    if (cap > SIZE_MAX / m->stride || (m->slots = calloc(cap, m->stride)) == NULL) return -1;
    m->cap = cap;
    unsigned bits = 0;
    while (((size_t)1 << bits) < cap) bits++;
    m->shift = 64 - bits;
    return 0;
}

int ll_uuid_map_init(ll_uuid_map_t *m, size_t value_size, size_t expected) {
    memset(m, 0, sizeof *m);
    m->value_size = value_size;
    /* Values keep the alignment their size allows, up to 8: a 4-byte value costs 20 bytes a slot. */
    size_t align = value_size & (~value_size + 1);
    if (align == 0 || align > 8) align = 8;
    m->stride = (sizeof(ll_uuid_t) + value_size + align - 1) / align * align;
    if (expected == 0) return 0;
    size_t cap = MIN_CAP;
    while (!fits(expected, cap)) {
        if (cap > SIZE_MAX / 2) return -1;
        cap *= 2;
    }
    return alloc_table(m, cap);
}

void ll_uuid_map_free(ll_uuid_map_t *m) {
    free(m->slots);
    free(m->nil_slot);
    m->slots = m->nil_slot = NULL;
    m->cap = m->count = 0;
    m->has_nil = 0;
}

void ll_uuid_map_clear(ll_uuid_map_t *m) {
    if (m->slots != NULL) memset(m->slots, 0, m->cap * m->stride);
    m->count = 0;
    m->has_nil = 0;
}

/* The slot of key, or the empty slot where it would go (*found 0; always so for the nil id,
 * whose slot is not in the table). cap > 0. The key is compared as two words: this loop is every
 * lookup's cost. */
static inline size_t probe(const ll_uuid_map_t *m, const unsigned char *key, int *found) {
    uint64_t k0, k1, s0, s1;
    memcpy(&k0, key, 8);
    memcpy(&k1, key + 8, 8);
    size_t mask = m->cap - 1;
    for (size_t i = home_of(m, key);; i = (i + 1) & mask) {
        const unsigned char *s = slot_at(m, i);
        memcpy(&s0, s, 8);
        memcpy(&s1, s + 8, 8);
        if ((s0 | s1) == 0) {
            *found = 0;
            return i;
        }
        if (s0 == k0 && s1 == k1) {
            *found = 1;
            return i;
        }
    }
}

void *ll_uuid_map_find(const ll_uuid_map_t *m, const ll_uuid_t *id) {
    int found = 0;
    size_t i = m->cap > 0 ? probe(m, id->bytes, &found) : 0;
    if (found) return slot_at(m, i) + sizeof(ll_uuid_t);
    return m->has_nil && is_zero(id->bytes) ? m->nil_slot + sizeof(ll_uuid_t) : NULL;
}

/* Doubles the table (or makes the first); -1 when out of memory, m unchanged. */
static int grow(ll_uuid_map_t *m) {
    ll_uuid_map_t bigger = *m;
    if (m->cap > SIZE_MAX / 2 || alloc_table(&bigger, m->cap ? m->cap * 2 : MIN_CAP) != 0) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        const unsigned char *from = slot_at(m, i);
        if (is_zero(from)) continue;
        int found;
        memcpy(slot_at(&bigger, probe(&bigger, from, &found)), from, m->stride);
    }
    free(m->slots);
    *m = bigger;
    return 0;
}

static void *insert_nil(ll_uuid_map_t *m, int *added) {
    if (m->nil_slot == NULL && (m->nil_slot = malloc(m->stride)) == NULL) return NULL;
    if (added != NULL) *added = !m->has_nil;
    if (!m->has_nil) {
        memset(m->nil_slot, 0, m->stride);
        m->has_nil = 1;
        m->count++;
    }
    return m->nil_slot + sizeof(ll_uuid_t);
}

void *ll_uuid_map_insert(ll_uuid_map_t *m, const ll_uuid_t *id, int *added) {
    if (is_zero(id->bytes)) return insert_nil(m, added);
    int found = 0;
    size_t i = 0;
    if (m->cap > 0) i = probe(m, id->bytes, &found);
    if (!found && (m->cap == 0 || !fits(m->count - (size_t)m->has_nil + 1, m->cap))) {
        if (grow(m) != 0) return NULL;
        i = probe(m, id->bytes, &found);
    }
    if (added != NULL) *added = !found;
    unsigned char *s = slot_at(m, i);
    if (!found) {
        memcpy(s, id->bytes, sizeof id->bytes); /* the value is zero already: empty slots are */
        m->count++;
    }
    return s + sizeof(ll_uuid_t);
}

int ll_uuid_map_remove(ll_uuid_map_t *m, const ll_uuid_t *id) {
    if (is_zero(id->bytes)) {
        if (!m->has_nil) return 0;
        m->has_nil = 0;
        m->count--;
        return 1;
    }
    if (m->count == 0 || m->cap == 0) return 0;
    int found;
    size_t hole = probe(m, id->bytes, &found), mask = m->cap - 1;
    if (!found) return 0;
    /* Backward shift: an entry of the run after the hole moves into it unless its home lies
     * cyclically in (hole, j], where the hole is not on its probe path. */
    for (size_t j = (hole + 1) & mask; !is_zero(slot_at(m, j)); j = (j + 1) & mask) {
        size_t home = home_of(m, slot_at(m, j));
        if (((j - home) & mask) < ((j - hole) & mask)) continue;
        memcpy(slot_at(m, hole), slot_at(m, j), m->stride);
        hole = j;
    }
    memset(slot_at(m, hole), 0, m->stride); /* empty slots hold zero values: insert relies on it */
    m->count--;
    return 1;
}

/* Walks the table's slots, then the nil id's (at == cap). */
int ll_uuid_map_next(const ll_uuid_map_t *m, size_t *at, const ll_uuid_t **key, void **value) {
    unsigned char *s = NULL;
    for (; s == NULL && *at < m->cap; (*at)++)
        if (!is_zero(slot_at(m, *at))) s = slot_at(m, *at);
    if (s == NULL && *at == m->cap && m->has_nil) {
        s = m->nil_slot;
        (*at)++;
    }
    if (s == NULL) return 0;
    if (key != NULL) *key = (const ll_uuid_t *)(const void *)s;
    if (value != NULL) *value = s + sizeof(ll_uuid_t);
    return 1;
}
