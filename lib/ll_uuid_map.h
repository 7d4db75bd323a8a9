/* ll_uuid_map.h - a hash map from ll_uuid_t to a fixed-size value (an index, a pointer, a
 * struct), for every in-memory table keyed by an account id: the projector's cache and batch,
 * the query API's live view, rebuild's accounts.
 *
 * Open addressing with linear probing: keys sit inline beside their values, so a hit costs
 * one slot read (usually one cache line) and the value, instead of a chain of pointers. An
 * all-zero key marks an empty slot; the nil id itself, should it come, lives in a slot of its
 * own beside the table. At most 3/4 full: an insert that would pass that doubles the table. A
 * removal shifts the run behind it back (no tombstones).
 *
 * A value pointer is valid until the next insert that grows, remove or clear (both move
 * values); a table sized by `expected` never grows while it holds at most that many.
 * Values are zeroed when inserted, and aligned as their size allows up to 8 (a size that is a
 * multiple of 8: to 8; of 4: to 4; value_size 0 makes a set). Not thread-safe: one owner (or
 * lock).
 * The hash is not keyed: ids that collide only lengthen a run (the same as any chained table
 * before it), never change an answer.
 */
#ifndef LL_UUID_MAP_H
#define LL_UUID_MAP_H

#include "ll_uuid.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ll_uuid_map {
    unsigned char *slots; /* cap slots of stride bytes: the key (all zero: empty), then the value */
    size_t cap;           /* a power of two (0 before the first insert when expected was 0) */
    size_t count, value_size, stride;
    unsigned char *nil_slot; /* the nil id's slot (allocated when first inserted) */
    int has_nil;
    unsigned shift; /* 64 - log2(cap): a key's home slot is its hash's top bits */
} ll_uuid_map_t;

/* Sized so that `expected` entries fit without growing (0: grows from the first insert).
 * Returns 0, or -1 when out of memory (m is then empty but safe to free). */
int ll_uuid_map_init(ll_uuid_map_t *m, size_t value_size, size_t expected);
void ll_uuid_map_free(ll_uuid_map_t *m);

/* Removes every entry; the table keeps its size. */
void ll_uuid_map_clear(ll_uuid_map_t *m);

/* The value of id, or NULL. */
void *ll_uuid_map_find(const ll_uuid_map_t *m, const ll_uuid_t *id);

/* The value of id, inserted zeroed when absent (*added 1, else 0; added may be NULL). NULL when
 * it had to grow and was out of memory (the table is unchanged). */
void *ll_uuid_map_insert(ll_uuid_map_t *m, const ll_uuid_t *id, int *added);

/* Removes id; returns 1 when it was there. Moves other values (see above). */
int ll_uuid_map_remove(ll_uuid_map_t *m, const ll_uuid_t *id);

static inline size_t ll_uuid_map_count(const ll_uuid_map_t *m) {
    return m->count;
}

/* Walks the entries: `for (size_t at = 0; ll_uuid_map_next(m, &at, &key, &value);)`. No insert
 * or remove while walking; values may be changed. Returns 0 after the last. */
int ll_uuid_map_next(const ll_uuid_map_t *m, size_t *at, const ll_uuid_t **key, void **value);

#endif
