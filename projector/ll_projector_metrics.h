/* ll_projector_metrics.h - the projector's figures, served in the Prometheus text format on a
 * port of its own (projector_metrics_listen): GET /metrics and GET /healthz.
 *
 * The projector thread publishes a snapshot (counters, and per partition the offset it has
 * committed, the high watermark and the timestamp of the newest event it projected); the
 * server thread renders the latest snapshot. One mutex between them; the projector never
 * waits on the HTTP side.
 *
 * Lag per partition: events = high watermark - committed offset; seconds = while events > 0,
 * now - the timestamp of the newest event projected from that partition (how far behind the
 * projected state is), else 0. NaN while behind before anything was projected.
 */
#ifndef LL_PROJECTOR_METRICS_H
#define LL_PROJECTOR_METRICS_H

#include "ll_error.h"

#include <stdint.h>

#define LL_PROJECTOR_PARTITIONS_MAX 1024 /* partitions one projector reports on */

typedef struct {
    int32_t partition;
    int64_t committed;    /* next offset to project; -1 unknown */
    int64_t high;         /* high watermark; -1 unknown */
    int64_t newest_ts_ms; /* Kafka timestamp of the newest event projected; -1 none yet */
} ll_partition_progress_t;

/* Where a batch's time goes, in order: the batch window (first message to last), decoding,
 * reading accounts not remembered, folding and planning, writing, committing offsets. */
typedef enum {
    LL_PHASE_COLLECT,
    LL_PHASE_DECODE,
    LL_PHASE_READ,
    LL_PHASE_PLAN,
    LL_PHASE_WRITE,
    LL_PHASE_COMMIT,
    LL_PROJECTOR_PHASES
} ll_projector_phase_t;

const char *ll_projector_phase_name(ll_projector_phase_t phase); /* "collect", ... */

typedef struct {
    uint64_t applied, duplicates, gaps, dead_letters, batches, batch_failures;
    uint64_t halted_accounts, waiting_accounts;
    uint64_t account_reads;                          /* accounts read from the read model (not remembered) */
    uint64_t store_states;                           /* ... whose state came from the event store instead */
    uint64_t seal_reads;                             /* pages sealed by reading their earlier items back */
    uint64_t healed_events;                          /* events applied from the event store to close gaps */
    uint64_t heal_failures;                          /* gaps the event store could not close yet */
    uint64_t holes_found;                            /* accounts found missing events below what was planned */
    uint64_t holes_healed;                           /* ... and brought up to the event store */
    uint64_t replaced_events;                        /* refused copies replaced by the event store's event */
    uint64_t conflicts;                              /* accounts another writer had moved: read again */
    uint64_t docs_events, docs_pages, docs_accounts; /* documents written, per collection */
    uint64_t cache_accounts;                         /* accounts remembered now */
    uint64_t cache_items_bytes;                      /* ... the open pages' items remembered with them */
    uint64_t phase_us[LL_PROJECTOR_PHASES];          /* time spent per phase of a batch */
    int64_t generation;
    int n_partitions;
    ll_partition_progress_t partitions[LL_PROJECTOR_PARTITIONS_MAX];
} ll_projector_snapshot_t;

typedef struct ll_projector_metrics ll_projector_metrics_t;

/* Listens on listen ("HOST:PORT") and serves from a thread of its own. topic labels the
 * partitions. Returns NULL with err set when it cannot listen. */
ll_projector_metrics_t *ll_projector_metrics_start(const char *listen, const char *topic, ll_error_t *err);

/* Copies s as what /metrics shows from now on. */
void ll_projector_metrics_publish(ll_projector_metrics_t *m, const ll_projector_snapshot_t *s);

/* Renders s as Prometheus text at wall time now_ms: malloc'd (caller frees), NULL when out of
 * memory. Pure: exposed for tests. */
char *ll_projector_metrics_render(const ll_projector_snapshot_t *s, const char *topic, int64_t now_ms);

/* /readyz of s: 0 when projecting; else why not in detail (no generation yet, or accounts halted
 * by a refused event, which need an operator: docs/operations.md). */
int ll_projector_ready(const ll_projector_snapshot_t *s, char *detail, size_t detail_size);

/* Stops the server thread and frees m. NULL is fine. */
void ll_projector_metrics_stop(ll_projector_metrics_t *m);

#endif
