/* ll_account_cache.h - what the projector remembers of the accounts it wrote: a bounded map
 * from account id to what the read model holds of it (ll_rm_account_t).
 *
 * Why: the projector is the only writer of its generation, so what it wrote is what the read
 * model holds; remembering it saves two reads per account per batch (the account document and
 * its open page). Every read it still does is an _id or page lookup, never a scan.
 * Correctness never rests on it: a remembered account that another writer moved shows as a
 * version gap or a refused guarded update, and the projector then drops it and reads again.
 *
 * Bounded: at most `capacity` accounts (about 300 bytes each). When full, the least recently
 * used (approximately: the CLOCK algorithm) is forgotten. Not thread-safe: one owner thread.
 */
#ifndef LL_ACCOUNT_CACHE_H
#define LL_ACCOUNT_CACHE_H

#include "ll_read_model_docs.h"

#include <stddef.h>

typedef struct ll_account_cache ll_account_cache_t;

/* capacity 0 gives a cache that holds nothing. NULL when out of memory. */
ll_account_cache_t *ll_account_cache_new(size_t capacity);
void ll_account_cache_free(ll_account_cache_t *c);

/* The remembered account, or NULL. The pointer is valid until the next put, remove or clear. */
ll_rm_account_t *ll_account_cache_get(ll_account_cache_t *c, const ll_uuid_t *id);

/* Remembers a (by a->state.account_id), replacing what was there. */
void ll_account_cache_put(ll_account_cache_t *c, const ll_rm_account_t *a);

void ll_account_cache_remove(ll_account_cache_t *c, const ll_uuid_t *id);
void ll_account_cache_clear(ll_account_cache_t *c);

size_t ll_account_cache_count(const ll_account_cache_t *c);

#endif
