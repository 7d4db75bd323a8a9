/* ll_projector_state.h - the projector's state and the functions its files share; included
 * only by projector/'s ll_projector*.c. One round: the Kafka side collects a batch
 * (ll_projector_kafka.c), the batch is decoded, folded and written (ll_projector_batch.c) from
 * what is known of its accounts (ll_projector_accounts.c), the offsets are committed
 * (ll_projector_kafka.c) and a snapshot goes to /metrics (ll_projector_report.c); the loop,
 * the generation followed and the halts it holds are ll_projector.c's.
 */
#ifndef LL_PROJECTOR_STATE_H
#define LL_PROJECTOR_STATE_H

#include "ll_account_cache.h"
#include "ll_clock.h"
#include "ll_event_codec.h"
#include "ll_event_reader.h"
#include "ll_kafka.h"
#include "ll_limits.h"
#include "ll_log.h"
#include "ll_projector.h"
#include "ll_projector_metrics.h"
#include "ll_read_model.h"
#include "ll_read_model_writes.h"
#include "ll_rm_follow.h"
#include "ll_rm_pool.h"
#include "ll_uuid_map.h"

#include <assert.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAVE_RETRIES        3
#define RETRY_PAUSE_MS      500
#define GENERATION_CHECK_MS 1000 /* how often read_model_meta is read for a switch */
#define SHARD_ACCOUNTS_MIN  64   /* accounts of a batch worth a writer connection of their own */
#define PUBLISH_MS          50 /* /metrics gets a new snapshot after a batch at most this often (and when idle) */
/* After following a switch to a generation that recorded no resume point (a rebuild of an older
 * release), nothing is taken on the event store's word for this long: the rebuild may still be
 * catching up (--settle-seconds, default 15), and only what the read model holds is sure. */
#define SWITCH_SETTLE_MS       30000
#define STORE_TIMEOUT_MS       5000
#define STORE_RETRY_MS         5000 /* after the store failed: states come from the read model meanwhile */
#define DECODE_PARALLEL_MIN    256  /* messages worth spreading the decoding over the writer threads */
#define STORE_CHUNK            512  /* events read from the event store per query while closing a gap */
#define REJOIN_MIN_MS          5000 /* between two rejoins for paused partitions (rejoin) */
#define REJOIN_PAUSED          1
#define REJOIN_SWITCH          2
#define DEAD_LETTER_KEEP_BYTES 65536 /* of a message too large to dead-letter whole */

typedef struct {
    rd_kafka_message_t *msg;
    ll_event_t ev;
    int checked; /* decoded (or dead-lettered) once: a retried batch does neither again */
    int decoded; /* 0: went to the dead-letter topic */
    int refused; /* a decoded copy sent to the dead-letter topic (refused, or not in the store) */
    int account; /* index into the batch's accounts; -1: not projected (halted account) */
} item_t;

/* One account of a batch: what the read model holds of it, and its events of the batch. */
typedef struct {
    ll_uuid_t id;
    int shard;           /* the writer connection its reads and writes go to */
    int first, n_events; /* its events: items[order[first .. first + n_events)] */
    int n_applied;       /* ... of which these fold: fold[first .. first + n_applied), or own[] */
    ll_event_t *own;     /* once the store was read: the store's events and the batch's, in order */
    int n_own;           /* ... room for this many */
    int healed;          /* ... of which this many came from the store */
    int replaced;        /* ... of which this many stand for a copy the domain refused */
    long long duplicates;
    ll_rm_account_t before, after; /* what the read model holds before and after the batch */
    int remembered;                /* before is not read whole: remembered, or guessed from one event */
    int trusted;                   /* before (or what it was written on) is the event store's word */
    int64_t heal_to; /* bring it up to this version from the store in this batch (INT64_MAX: its head) */
    int more;        /* a gap larger than heal_max: this attempt wrote part of it */
    int store_waits; /* a gap the store cannot close right now: the batch is retried */
    int hole;        /* events came from the store for it in this batch (counted once written) */
    int to_read, read_whole, stale, conflict, done;
    int64_t halt_version; /* halted there (0: not): nothing at or past it is folded, all below is */
} batch_account_t;

typedef struct shard_task shard_task_t;

typedef struct projector {
    const ll_projector_options_t *opt;
    rd_kafka_t *consumer, *dlq;
    ll_rm_client_t *mongo;                          /* the generation checks */
    ll_rm_pool_t *pool;                             /* the writer connections, on the active generation */
    int64_t generation;                             /* of the pool; 0 none */
    int n_shards;                                   /* writer connections */
    int heal_max;                                   /* events read from the store per round of a gap */
    int batch_shards;                               /* those the batch in hand is spread over */
    ll_rm_writes_t *writes[LL_RM_POOL_THREADS_MAX]; /* per shard, the batch's planned writes */
    shard_task_t *tasks;
    int n_decode; /* the batch's messages, while the pool decodes them */
    ll_account_cache_t *cache;
    uint64_t assignment; /* partitions assigned, as a signature: a change forgets the cache */
    /* Partitions taken away by a rebalance (served inside a poll) whose messages may still be in
     * the batch being collected: dropped before anything is written. */
    unsigned char revoked[LL_PROJECTOR_PARTITIONS_MAX];
    int any_revoked;
    /* Offsets of batches written but not committed because the group was rebalancing: committed
     * with the next chance, for the partitions still held. NULL: none. */
    rd_kafka_topic_partition_list_t *uncommitted;
    ll_uuid_map_t stopped;       /* accounts halted by a refused event -> its version (int64_t) */
    ll_uuid_map_t waiting;       /* accounts behind a gap the store could not close yet: the batch retries */
    ll_event_reader_t *store;    /* the event store: gaps, states of accounts not remembered */
    long long store_retry_at_ms; /* after a failed read of the store, not before this */
    ll_rm_follower_t follow;     /* the active generation, on mongo: where halts are recorded */
    item_t *items;
    ll_event_t *fold;          /* the applied events of a batch, grouped by account (batch_max) */
    int *order;                /* items grouped by account (batch_max) */
    batch_account_t *accounts; /* the batch's distinct accounts (batch_max) */
    int n_accounts;
    ll_uuid_map_t batch_index; /* account id -> index (int) into accounts; sized for batch_max */
    long long applied, duplicates, gaps, dead_letters, batches, batch_failures;
    uint64_t account_reads, store_states, seal_reads, conflicts, docs_events, docs_pages, docs_accounts,
        healed_events, heal_failures, holes_found, holes_healed, replaced_events;
    /* Where the active generation wants its partitions resumed from (ll_read_model_resume):
     * a partition whose committed offset was written for another generation starts there. */
    int64_t resume[LL_PROJECTOR_PARTITIONS_MAX];
    int n_resume; /* partitions recorded; 0: none (an older rebuild, or generation 1) */
    /* Leave the group and join again before the next batch (rejoin): REJOIN_SWITCH at once (a
     * generation switch: nothing may be collected before), REJOIN_PAUSED at most every
     * REJOIN_MIN_MS (partitions whose start could not be decided). */
    int rejoin;
    long long last_rejoin_ms;
    /* Per partition, how many times in a row it was paused for an offset committed for a newer
     * generation than the active one (start_assigned). */
    unsigned char newer_pauses[LL_PROJECTOR_PARTITIONS_MAX];
    char generation_tag[32]; /* "g<N>", the metadata of every offset committed for this generation */
    /* recall_from_store's scratch, batch_max each */
    ll_uuid_t *state_ids;
    int64_t *state_versions;
    ll_account_t *states;
    bool *state_found;
    int *state_account;
    uint64_t phase_us[LL_PROJECTOR_PHASES];
    long long last_report_ms, last_publish_ms;
    long long switched_at_ms; /* when it last followed a generation switch; 0 never */
    long long switch_failed_ms; /* when moving to a new generation last failed; 0 not since */
    int64_t newest_ts_ms[LL_PROJECTOR_PARTITIONS_MAX]; /* per partition, of the last committed batch */
    ll_projector_metrics_t *metrics;
    ll_projector_snapshot_t snap; /* scratch for publish() */
} projector_t;

struct shard_task {
    projector_t *p;
    int shard;
};

/* Adds the time since since_us (ll_clock_us) to phase. */
static inline void phase_add(projector_t *p, ll_projector_phase_t phase, int64_t since_us) {
    int64_t d = ll_clock_us() - since_us;
    if (d > 0) p->phase_us[phase] += (uint64_t)d;
}

/* The projector's lines always carry account_id ("" when none), as dashboards expect. */
static inline void log_event(const char *level, const char *msg, const char *account, const char *detail) {
    ll_log_line(level, "projector", msg, account ? account : "", detail);
}

/* ---- ll_projector_kafka.c: the consumer, its rebalances and offsets, the dead-letter topic ---- */

int projector_open_kafka(projector_t *p, ll_error_t *err);
int projector_rejoin(projector_t *p, ll_error_t *err);
int projector_dead_letter(projector_t *p, const rd_kafka_message_t *m, const char *reason, ll_error_t *err);
int projector_collect(projector_t *p, volatile sig_atomic_t *stop);
int projector_commit(projector_t *p, int n, ll_error_t *err);
void projector_commit_uncommitted(projector_t *p);
void projector_follow_assignment(projector_t *p);
void projector_close_kafka(projector_t *p);

/* ---- ll_projector_accounts.c: the batch's accounts and what is known of them ---- */

int projector_store_failed(projector_t *p, batch_account_t *acc, const char *why, ll_error_t *err);
int projector_mark_waiting(projector_t *p, const batch_account_t *acc, ll_error_t *err);
int projector_dead_letter_copy(projector_t *p, item_t *it, const char *why, ll_error_t *err);
int projector_halt_account(projector_t *p, batch_account_t *acc, item_t *it, int64_t version, const char *why,
                           ll_error_t *err);
void projector_healed(projector_t *p, const batch_account_t *acc);
void projector_group(projector_t *p, int n);
void projector_recall(projector_t *p, batch_account_t *acc);
void projector_recall_from_store(projector_t *p);
int projector_read_marked(projector_t *p, ll_error_t *err);
int projector_each_shard(projector_t *p, ll_rm_task_fn fn, ll_error_t *err);

/* ---- ll_projector_batch.c: decode, fold, plan and write a batch ---- */

int projector_decode_all(projector_t *p, int n, ll_error_t *err);
int projector_project_all(projector_t *p, int n, ll_error_t *err);

/* ---- ll_projector_report.c ---- */

void projector_publish(projector_t *p, int log_now);

#endif
