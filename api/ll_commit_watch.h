/* ll_commit_watch.h - the projector group's committed offsets, as far as waits need them.
 *
 * A min_version wait on the read store (ll_query_api.c) need not look there before the
 * projector has committed past the event that carries the version: the projector commits a
 * batch's offsets only after writing it. A thread asks Kafka for the group's committed offsets
 * of the partitions some wait asked about (one OffsetFetch for all of them, rd_kafka_committed
 * on a consumer that never joins the group), every LL_COMMIT_WATCH_POLL_MS at most, and only
 * while a wait asks: with no wait pending it sleeps. However many waits, one request a round.
 *
 * Thread-safe: ll_commit_watch_get is called on the HTTP loop, the thread writes atomics.
 */
#ifndef LL_COMMIT_WATCH_H
#define LL_COMMIT_WATCH_H

#include "ll_config.h"
#include "ll_error.h"

#include <stdint.h>

#define LL_COMMIT_WATCH_POLL_MS        5    /* at most one fetch this often */
#define LL_COMMIT_WATCH_PARTITIONS_MAX 1024 /* partitions it can watch */

typedef struct ll_commit_watch ll_commit_watch_t;

/* What ll_commit_watch_get answers besides an offset (>= 0). */
enum {
    LL_COMMIT_PENDING = -1, /* asked for; the first answer is on its way: ask again soon */
    LL_COMMIT_NONE = -2,    /* the group has no offset there, or Kafka does not answer: no help */
};

typedef struct {
    uint64_t fetches, errors; /* OffsetFetch requests made, and those that failed */
} ll_commit_watch_stats_t;

/* Starts the thread; cfg is borrowed and must outlive it. Returns NULL with err set when the
 * Kafka client cannot be configured (an unreachable broker is not an error). */
ll_commit_watch_t *ll_commit_watch_start(const ll_config_t *cfg, ll_error_t *err);

/* The group's committed offset of partition (the next offset it will read: every offset below
 * it is written), as last fetched, or an LL_COMMIT_* value. Asks the thread to keep it fresh
 * for the next 100 ms. */
int64_t ll_commit_watch_get(ll_commit_watch_t *w, int32_t partition);

void ll_commit_watch_stats(ll_commit_watch_t *w, ll_commit_watch_stats_t *out);

/* Stops and joins the thread, frees w. NULL is fine. */
void ll_commit_watch_stop(ll_commit_watch_t *w);

#endif
