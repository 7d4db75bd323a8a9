/* ll_idempotency_pruner.h - deletes Idempotency-Keys past their retention, in the background.
 *
 * One thread with a connection of its own. Every interval (a quarter of the retention, between
 * 1 s and 60 s) it deletes the keys answered more than retention_s ago, in chunks of
 * LL_PRUNE_CHUNK rows, each chunk its own short transaction found by the created_at index and
 * skipping rows another transaction holds (SKIP LOCKED): commands never wait for it. Keys still
 * being decided (status 0) are never touched. Whether a key is expired never depends on it:
 * the store treats a key past retention as new even before it is pruned (ll_store.h). A
 * failure is logged, and the next interval tries again.
 */
#ifndef LL_IDEMPOTENCY_PRUNER_H
#define LL_IDEMPOTENCY_PRUNER_H

#include "ll_error.h"

#include <stdint.h>

#define LL_PRUNE_CHUNK 1000

typedef struct ll_idempotency_pruner ll_idempotency_pruner_t;

/* Starts the thread (it connects, and reconnects, by itself). Returns NULL with err set. */
ll_idempotency_pruner_t *ll_idempotency_pruner_start(const char *conninfo, long long retention_s,
                                                     ll_error_t *err);

/* Keys deleted so far (for /metrics); any thread. */
uint64_t ll_idempotency_pruner_deleted(ll_idempotency_pruner_t *p);

/* Stops the thread (a chunk in flight finishes) and frees p. NULL is fine. */
void ll_idempotency_pruner_stop(ll_idempotency_pruner_t *p);

#endif
