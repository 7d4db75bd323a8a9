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
 *
 * With an account, the statement items of its open page (ll_rm_page_items_t) while they fit
 * in `items_bytes`: sealing that page then writes them without reading events_g back (one
 * read of up to 31 documents per account every 32 events otherwise). An account over the
 * budget keeps its state without them.
 */
#ifndef LL_ACCOUNT_CACHE_H
#define LL_ACCOUNT_CACHE_H

#include "ll_rm_layout.h"

#include <stddef.h>

typedef struct ll_account_cache ll_account_cache_t;

/* capacity 0 gives a cache that holds nothing. NULL when out of memory. */
ll_account_cache_t *ll_account_cache_new(size_t capacity, size_t items_bytes);
void ll_account_cache_free(ll_account_cache_t *c);

/* The remembered account, or NULL. The pointer is valid until the next put, remove or clear. */
ll_rm_account_t *ll_account_cache_get(ll_account_cache_t *c, const ll_uuid_t *id);

/* Remembers a (by a->state.account_id), replacing what was there (its items too). unverified:
 * what the read model holds below a was taken on the event store's word, not read or written by
 * this process (ll_projector.c, recall_from_store); a copy of an event at or below it arriving
 * later then means the word may have been wrong, and the account is read again. */
void ll_account_cache_put(ll_account_cache_t *c, const ll_rm_account_t *a, int unverified);

/* 1 when account id is remembered unverified. */
int ll_account_cache_unverified(const ll_account_cache_t *c, const ll_uuid_t *id);

/* The remembered items of account id, or NULL. Valid until the next put, remove, clear or
 * take of that account. */
const ll_rm_page_items_t *ll_account_cache_items(const ll_account_cache_t *c, const ll_uuid_t *id);

/* Moves the items of account id to *out (the caller owns them; LL_RM_PAGE_ITEMS_NONE when none). */
void ll_account_cache_take_items(ll_account_cache_t *c, const ll_uuid_t *id, ll_rm_page_items_t *out);

/* Moves *items to account id (remembered) when within the budget, else frees them; *items is
 * LL_RM_PAGE_ITEMS_NONE after. */
void ll_account_cache_give_items(ll_account_cache_t *c, const ll_uuid_t *id, ll_rm_page_items_t *items);

/* Memory the remembered items hold. */
size_t ll_account_cache_items_bytes(const ll_account_cache_t *c);

void ll_account_cache_remove(ll_account_cache_t *c, const ll_uuid_t *id);
void ll_account_cache_clear(ll_account_cache_t *c);

size_t ll_account_cache_count(const ll_account_cache_t *c);

#endif
