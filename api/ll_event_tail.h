/* ll_event_tail.h - a thread that follows the whole account-events topic for the query API's
 * live view (ll_account_view.h).
 *
 * It reads every partition from the offsets the projector's consumer group has committed
 * (kafka_projector_group), so every event the read model may not have yet is still ahead of it,
 * then marks the view ready. It never joins the group and never commits: the projector's
 * progress is not touched. Each decoded event goes to ll_account_view_apply_at in batches,
 * with the partition and offset it was read at (waits compare them with the projector's); an
 * undecodable message is counted and skipped (the projector dead-letters it). When Kafka is
 * unreachable it keeps retrying; reads are then served from the read model.
 * Partitions added to the topic later are followed within a few seconds (from their start).
 */
#ifndef LL_EVENT_TAIL_H
#define LL_EVENT_TAIL_H

#include "ll_account_view.h"
#include "ll_config.h"
#include "ll_error.h"

#include <stdint.h>

typedef struct ll_event_tail ll_event_tail_t;

typedef struct {
    uint64_t events, undecodable;
    int assigned; /* start offsets fetched and partitions assigned */
} ll_event_tail_stats_t;

/* Starts the thread; cfg and view are borrowed and must outlive it. Returns NULL with err set
 * when the Kafka client cannot be configured (an unreachable broker is not an error). */
ll_event_tail_t *ll_event_tail_start(const ll_config_t *cfg, ll_account_view_t *view, ll_error_t *err);

void ll_event_tail_stats(ll_event_tail_t *t, ll_event_tail_stats_t *out);

/* Stops and joins the thread, closes the consumer, frees t. NULL is fine. */
void ll_event_tail_stop(ll_event_tail_t *t);

#endif
