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

static uint8_t tag_of(uint64_t h) {
    return (uint8_t)(0x80 | ((h >> 24) & 0x7f)); /* bits the home slot does not use below 2^33 slots */
}

static size_t home_of(const ll_uuid_map_t *m, uint64_t h) {
    return (size_t)(h >> m->shift);
}

/* Empty arrays of cap slots (a power of two >= MIN_CAP) into m; -1 when out of memory or too large. */
static int alloc_table(ll_uuid_map_t *m, size_t cap) {
    if (cap > SIZE_MAX / m->stride) return -1;
    m->slots = malloc(cap * m->stride);
    m->tags = calloc(cap, 1);
    if (m->slots == NULL || m->tags == NULL) {
        free(m->slots);
        free(m->tags);
        m->slots = NULL, m->tags = NULL;
        return -1;
    }
    m->cap = cap;
    m->count = 0;
    unsigned bits = 0;
    while (((size_t)1 << bits) < cap) bits++;
    m->shift = 64 - bits;
    return 0;
}

int ll_uuid_map_init(ll_uuid_map_t *m, size_t value_size, size_t expected) {
    memset(m, 0, sizeof *m);
    m->value_size = value_size;
    m->stride = (sizeof(ll_uuid_t) + value_size + 7) / 8 * 8;
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
    free(m->tags);
    m->slots = NULL, m->tags = NULL;
    m->cap = m->count = 0;
}

void ll_uuid_map_clear(ll_uuid_map_t *m) {
    if (m->tags != NULL) memset(m->tags, 0, m->cap);
    m->count = 0;
}

/* The slot of id, or the empty slot where it would go (*found 0). cap > 0. */
static size_t probe(const ll_uuid_map_t *m, const ll_uuid_t *id, uint64_t h, int *found) {
    uint8_t tag = tag_of(h);
    size_t mask = m->cap - 1;
    for (size_t i = home_of(m, h);; i = (i + 1) & mask) {
        if (m->tags[i] == 0) {
            *found = 0;
            return i;
        }
        if (m->tags[i] == tag && memcmp(slot_at(m, i), id->bytes, sizeof id->bytes) == 0) {
            *found = 1;
            return i;
        }
    }
}

void *ll_uuid_map_find(const ll_uuid_map_t *m, const ll_uuid_t *id) {
    if (m->count == 0) return NULL;
    int found;
    size_t i = probe(m, id, ll_uuid_hash(id), &found);
    return found ? slot_at(m, i) + sizeof(ll_uuid_t) : NULL;
}

/* Doubles the table (or makes the first); -1 when out of memory, m unchanged. */
static int grow(ll_uuid_map_t *m) {
    ll_uuid_map_t bigger = *m;
    if (m->cap > SIZE_MAX / 2 || alloc_table(&bigger, m->cap ? m->cap * 2 : MIN_CAP) != 0) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->tags[i] == 0) continue;
        int found;
        const unsigned char *from = slot_at(m, i);
        size_t j = probe(&bigger, (const ll_uuid_t *)(const void *)from, ll_uuid_hash((const void *)from), &found);
        memcpy(slot_at(&bigger, j), from, m->stride);
        bigger.tags[j] = m->tags[i];
        bigger.count++;
    }
    free(m->slots);
    free(m->tags);
    *m = bigger;
    return 0;
}

void *ll_uuid_map_insert(ll_uuid_map_t *m, const ll_uuid_t *id, int *added) {
    uint64_t h = ll_uuid_hash(id);
    int found = 0;
    size_t i = 0;
    if (m->cap > 0) i = probe(m, id, h, &found);
    if (!found && (m->cap == 0 || !fits(m->count + 1, m->cap))) {
        if (grow(m) != 0) return NULL;
        i = probe(m, id, h, &found);
    }
    if (added != NULL) *added = !found;
    unsigned char *s = slot_at(m, i);
    if (!found) {
        memcpy(s, id->bytes, sizeof id->bytes);
        memset(s + sizeof(ll_uuid_t), 0, m->stride - sizeof(ll_uuid_t));
        m->tags[i] = tag_of(h);
        m->count++;
    }
    return s + sizeof(ll_uuid_t);
}

int ll_uuid_map_remove(ll_uuid_map_t *m, const ll_uuid_t *id) {
    if (m->count == 0) return 0;
    int found;
    size_t hole = probe(m, id, ll_uuid_hash(id), &found), mask = m->cap - 1;
    if (!found) return 0;
    /* Backward shift: an entry of the run after the hole moves into it unless its home lies
     * cyclically in (hole, j], where the hole is not on its probe path. */
    for (size_t j = (hole + 1) & mask; m->tags[j] != 0; j = (j + 1) & mask) {
        size_t home = home_of(m, ll_uuid_hash((const void *)slot_at(m, j)));
        if (((j - home) & mask) < ((j - hole) & mask)) continue;
        memcpy(slot_at(m, hole), slot_at(m, j), m->stride);
        m->tags[hole] = m->tags[j];
        hole = j;
    }
    m->tags[hole] = 0;
    m->count--;
    return 1;
}

int ll_uuid_map_next(const ll_uuid_map_t *m, size_t *at, const ll_uuid_t **key, void **value) {
    for (; *at < m->cap; (*at)++) {
        if (m->tags[*at] == 0) continue;
        unsigned char *s = slot_at(m, (*at)++);
        if (key != NULL) *key = (const ll_uuid_t *)(const void *)s;
        if (value != NULL) *value = s + sizeof(ll_uuid_t);
        return 1;
    }
    return 0;
}
