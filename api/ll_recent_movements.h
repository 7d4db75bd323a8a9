/* ll_recent_movements.h - the newest statement items of one account, in memory: what the live
 * view answers a statement page from (ll_account_view.h) without a worker or the read store.
 *
 * Holds every movement with a version >= from_version (items as the read model stores them,
 * JSON text, ll_rm_item_json), at most LL_RECENT_MOVEMENTS_MAX of them: adding one more
 * forgets the oldest and moves from_version past it. from_version 1 means the whole history.
 * Not thread-safe: the view's lock covers it.
 */
#ifndef LL_RECENT_MOVEMENTS_H
#define LL_RECENT_MOVEMENTS_H

#include "ll_limits.h"
#include "ll_text.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The default page and one more (to know whether a next page exists). */
#define LL_RECENT_MOVEMENTS_MAX (LL_PAGE_LIMIT_DEFAULT + 1)

typedef struct ll_recent_movements ll_recent_movements_t;

/* Empty, holding every movement from from_version on. NULL when out of memory. */
ll_recent_movements_t *ll_recent_movements_new(int64_t from_version);
void ll_recent_movements_free(ll_recent_movements_t *r);

/* Adds the movement of version (above every one held) with its item json[0..len). Returns 0, or
 * -1 when out of memory (r is then unchanged). */
int ll_recent_movements_add(ll_recent_movements_t *r, int64_t version, const char *json, size_t len);

/* Bytes of memory r takes (for the view's budget). */
size_t ll_recent_movements_bytes(const ll_recent_movements_t *r);

/* Appends to body the statement page of the movements below before, newest first, at most
 * limit: `{"items":[...],"next_cursor":"V"|null}`, and returns true; or returns false (body
 * untouched) when what is held cannot tell that page (older movements would be needed). */
bool ll_recent_movements_page(const ll_recent_movements_t *r, int64_t before, int64_t limit, ll_text_t *body);

#endif
