/* ll_rebuild_accounts.h - what a rebuild holds of each account, in an ll_uuid_map by id: what
 * the build folded, and what the verification read back from the new generation. */
#ifndef LL_REBUILD_ACCOUNTS_H
#define LL_REBUILD_ACCOUNTS_H

#include "ll_account.h"
#include "ll_read_model.h"
#include "ll_rm_builder.h"
#include "ll_uuid_map.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    ll_account_t st;
    uint64_t n_tx, sum_tx, xor_tx; /* checksum over its movements (wrapping: not money) */
    int seen, broken, written;
    int64_t in_generation; /* the version the new generation holds, as far as this run knows */
    ll_rm_page_buf_t *buf; /* the build: its page in progress */
    /* the verification's read-back: the account document, and the newest of its events after it */
    int64_t head_page, n_after;
    ll_rm_event_t newest;
} slot_t;

/* An empty map of slot_t. Returns 0, or -1 when out of memory. */
int accounts_init(ll_uuid_map_t *m);

/* The slot of id, or NULL. Valid until the next accounts_add. */
static inline slot_t *accounts_find(const ll_uuid_map_t *m, const ll_uuid_t *id) {
    return ll_uuid_map_find(m, id);
}

/* The slot of id, added as an empty stream (ll_account_init) when absent. NULL when out of
 * memory. Valid until the next accounts_add. */
slot_t *accounts_add(ll_uuid_map_t *m, const ll_uuid_t *id);

/* Walks the slots: `for (size_t at = 0; (s = accounts_next(m, &at)) != NULL;)`; no add meanwhile. */
slot_t *accounts_next(const ll_uuid_map_t *m, size_t *at);

/* Frees the slots (each one's page in progress too); m is empty after. */
void accounts_free(ll_uuid_map_t *m);

/* Adds a movement to s's checksum. */
void checksum_add(slot_t *s, const ll_uuid_t *event_id, int64_t amount_minor);

#endif
