/* ll_projector.c - see ll_projector.h. */
#include "ll_projector.h"

#include "ll_account_cache.h"
#include "ll_clock.h"
#include "ll_event_codec.h"
#include "ll_event_reader.h"
#include "ll_kafka.h"
#include "ll_limits.h"
#include "ll_log.h"
#include "ll_projector_metrics.h"
#include "ll_read_model.h"
#include "ll_read_model_writes.h"
#include "ll_rm_follow.h"
#include "ll_rm_pool.h"
#include "ll_uuid_map.h"

#include <assert.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAVE_RETRIES       3
#define RETRY_PAUSE_MS     500
#define GENERATION_CHECK_MS 1000 /* how often read_model_meta is read for a switch */
#define SHARD_ACCOUNTS_MIN 64 /* accounts of a batch worth a writer connection of their own */
#define PUBLISH_MS         50 /* /metrics gets a new snapshot after a batch at most this often (and when idle) */
/* After following a switch to a generation that recorded no resume point (a rebuild of an older
 * release), nothing is taken on the event store's word for this long: the rebuild may still be
 * catching up (--settle-seconds, default 15), and only what the read model holds is sure. */
#define SWITCH_SETTLE_MS 30000
#define STORE_TIMEOUT_MS 5000
#define STORE_RETRY_MS   5000 /* after the store failed: states come from the read model meanwhile */
#define DECODE_PARALLEL_MIN 256 /* messages worth spreading the decoding over the writer threads */
#define STORE_CHUNK         512 /* events read from the event store per query while closing a gap */
#define REJOIN_MIN_MS       5000 /* between two rejoins for paused partitions (rejoin) */
#define REJOIN_PAUSED       1
#define REJOIN_SWITCH       2
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
    int64_t heal_to;  /* bring it up to this version from the store in this batch (INT64_MAX: its head) */
    int more;         /* a gap larger than heal_max: this attempt wrote part of it */
    int store_waits;  /* a gap the store cannot close right now: the batch is retried */
    int hole;         /* events came from the store for it in this batch (counted once written) */
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
    ll_uuid_map_t stopped; /* accounts halted by a refused event -> its version (int64_t) */
    ll_uuid_map_t waiting; /* accounts behind a gap the store could not close yet: the batch retries */
    ll_event_reader_t *store; /* the event store: gaps, states of accounts not remembered */
    long long store_retry_at_ms; /* after a failed read of the store, not before this */
    ll_rm_follower_t follow;  /* the active generation, on mongo: where halts are recorded */
    item_t *items;
    ll_event_t *fold;          /* the applied events of a batch, grouped by account (batch_max) */
    int *order;                /* items grouped by account (batch_max) */
    batch_account_t *accounts; /* the batch's distinct accounts (batch_max) */
    int n_accounts;
    ll_uuid_map_t batch_index; /* account id -> index (int) into accounts; sized for batch_max */
    long long applied, duplicates, gaps, dead_letters, batches, batch_failures;
    uint64_t account_reads, store_states, seal_reads, conflicts, docs_events, docs_pages, docs_accounts, healed_events,
        heal_failures, holes_found, holes_healed, replaced_events;
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
    int64_t newest_ts_ms[LL_PROJECTOR_PARTITIONS_MAX]; /* per partition, of the last committed batch */
    ll_projector_metrics_t *metrics;
    ll_projector_snapshot_t snap; /* scratch for publish() */
} projector_t;

struct shard_task {
    projector_t *p;
    int shard;
};

/* Adds the time since since_us (ll_clock_us) to phase. */
static void phase_add(projector_t *p, ll_projector_phase_t phase, int64_t since_us) {
    int64_t d = ll_clock_us() - since_us;
    if (d > 0) p->phase_us[phase] += (uint64_t)d;
}

/* The projector's lines always carry account_id ("" when none), as dashboards expect. */
static void log_event(const char *level, const char *msg, const char *account, const char *detail) {
    ll_log_line(level, "projector", msg, account ? account : "", detail);
}

/* ---- Kafka --------------------------------------------------------------------------------- */

/* Drops the partitions of parts from the offsets still to be committed: their next owner
 * re-reads from the last committed offset (duplicates are skipped), and an older offset must
 * never overwrite what that owner commits. */
static void forget_uncommitted(projector_t *p, const rd_kafka_topic_partition_list_t *parts) {
    if (p->uncommitted == NULL) return;
    for (int i = 0; i < parts->cnt; i++)
        rd_kafka_topic_partition_list_del(p->uncommitted, parts->elems[i].topic, parts->elems[i].partition);
    if (p->uncommitted->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(p->uncommitted);
        p->uncommitted = NULL;
    }
}

/* The generation an offset was committed for, from its metadata "g<N>" (tag_offsets); 0 when
 * it carries none (committed before offsets were tagged) or something else. */
static int64_t committed_generation(const rd_kafka_topic_partition_t *tp) {
    char text[24];
    if (tp->metadata == NULL || tp->metadata_size < 2 || tp->metadata_size >= sizeof text) return 0;
    memcpy(text, tp->metadata, tp->metadata_size);
    text[tp->metadata_size] = '\0';
    char *end = NULL;
    long long g = text[0] == 'g' ? strtoll(text + 1, &end, 10) : 0;
    return end != NULL && *end == '\0' && g > 0 ? g : 0;
}

/* Where partition resumes for the active generation: its recorded offset, or the beginning for a
 * partition added to the topic since the record was made (all its events came after). */
static int64_t resume_offset(const projector_t *p, int32_t partition) {
    return partition >= 0 && partition < p->n_resume ? p->resume[partition] : RD_KAFKA_OFFSET_BEGINNING;
}

/* The earlier of a position and where the generation resumes (RD_KAFKA_OFFSET_BEGINNING first). */
static int64_t rewound(const projector_t *p, int32_t partition, int64_t position) {
    int64_t r = resume_offset(p, partition);
    if (r == RD_KAFKA_OFFSET_BEGINNING || position < 0) return r;
    return position < r ? position : r;
}

/* Tags every offset of list with the generation its batches were written to: a member that gets
 * the partition later (or this one after a restart) knows whether the read model it projects
 * into holds what came before that offset. */
static void tag_offsets(const projector_t *p, rd_kafka_topic_partition_list_t *list) {
    size_t len = strlen(p->generation_tag);
    for (int i = 0; i < list->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &list->elems[i];
        free(tp->metadata); /* librdkafka frees it with free() too */
        tp->metadata = len > 0 ? malloc(len) : NULL;
        tp->metadata_size = tp->metadata != NULL ? len : 0;
        if (tp->metadata != NULL) memcpy(tp->metadata, p->generation_tag, len);
    }
}

/* Sets where the assigned partitions start. A partition whose committed offset was written for
 * an older generation (a rebuild switched while its offsets moved on in the old one) starts where
 * the active generation resumes, so everything the new generation may lack is projected into it
 * again (duplicates are skipped); the others start at their committed offsets. One whose offset
 * was committed for a newer generation than this projector follows yet, or whose committed offset
 * cannot be read, is paused and the projector rejoins the group once it has looked at the
 * generation again (rejoin): it is never started where it could skip what the generation lacks,
 * nor sent back further than the generation needs. Called inside on_rebalance, before the
 * partitions are assigned; pause_out receives those to pause once they are. */
static void start_assigned(projector_t *p, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                           rd_kafka_topic_partition_list_t *pause_out) {
    if (p->n_resume == 0) return; /* nothing recorded: the committed offsets */
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int attempt = 0; attempt < 3; attempt++)
        if ((e = rd_kafka_committed(rk, parts, 5000)) == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    int moved = 0;
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t g = e == RD_KAFKA_RESP_ERR_NO_ERROR && tp->err == RD_KAFKA_RESP_ERR_NO_ERROR ? committed_generation(tp)
                                                                                               : -1;
        int known = tp->partition >= 0 && tp->partition < LL_PROJECTOR_PARTITIONS_MAX;
        unsigned char *newer = known ? &p->newer_pauses[tp->partition] : NULL;
        if (g > 0 && g < p->generation) {
            tp->offset = rewound(p, tp->partition, tp->offset);
            moved++;
        } else if (g > p->generation && newer != NULL && *newer >= 2) {
            /* Still newer after the generation was checked twice and the group joined again: the
             * active one went back (a switch undone by hand). Its committed offset, as before. */
            tp->offset = RD_KAFKA_OFFSET_INVALID;
            log_event("warn", "an offset committed for a newer generation than the active one", NULL,
                      "started at it");
        } else {
            tp->offset = RD_KAFKA_OFFSET_INVALID; /* the committed offset (or auto.offset.reset) */
            if (g < 0 || g > p->generation) rd_kafka_topic_partition_list_add(pause_out, tp->topic, tp->partition);
        }
        if (newer != NULL) *newer = g > p->generation && *newer < 2 ? (unsigned char)(*newer + 1) : 0;
    }
    if (moved > 0) {
        char detail[96];
        snprintf(detail, sizeof detail, "%d partitions from where generation %lld resumes", moved,
                 (long long)p->generation);
        log_event("info", "partitions start again for the new generation", NULL, detail);
    }
    if (pause_out->cnt > 0) {
        char detail[160];
        snprintf(detail, sizeof detail, "%d partitions paused: %s", pause_out->cnt,
                 e ? rd_kafka_err2str(e) : "committed for a newer generation, or unreadable");
        log_event("warn", "partitions wait until the generation is checked again", NULL, detail);
        if (p->rejoin == 0) p->rejoin = REJOIN_PAUSED;
        p->follow.checked_ms = 0; /* a newer generation is followed first */
    }
}

/* The group moved partitions (served inside rd_kafka_consumer_poll, so never in the middle of
 * writing a batch). Assigned: fetching starts at the group's committed offsets, or where the
 * active generation resumes (start_assigned). Revoked: the
 * messages of those partitions already collected are dropped (collect), what is remembered of
 * their accounts is forgotten (follow_assignment), and their pending offsets are not committed. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t why, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
    projector_t *p = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    char detail[160];
    int len = snprintf(detail, sizeof detail, "partitions");
    for (int i = 0; i < parts->cnt && len < (int)sizeof detail - 8; i++)
        len += snprintf(detail + len, sizeof detail - (size_t)len, " %d", (int)parts->elems[i].partition);
    if (why == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_event("info", "partitions assigned", NULL, detail);
        rd_kafka_topic_partition_list_t *pause = rd_kafka_topic_partition_list_new(1);
        start_assigned(p, rk, parts, pause);
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            e = rd_kafka_assign(rk, parts);
        if (pause->cnt > 0) rd_kafka_pause_partitions(rk, pause);
        rd_kafka_topic_partition_list_destroy(pause);
    } else {
        log_event("info", rd_kafka_assignment_lost(rk) ? "partitions lost" : "partitions revoked", NULL,
                  detail);
        for (int i = 0; i < parts->cnt; i++)
            if (parts->elems[i].partition >= 0 && parts->elems[i].partition < LL_PROJECTOR_PARTITIONS_MAX)
                p->revoked[parts->elems[i].partition] = 1, p->any_revoked = 1;
        forget_uncommitted(p, parts);
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            e = rd_kafka_assign(rk, NULL);
    }
    if (error != NULL) {
        log_event("error", "rebalance", NULL, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_event("error", "rebalance", NULL, rd_kafka_err2str(e));
    }
}

/* Creates the consumer and subscribes it to the events topic (its partitions come with the
 * first polls: on_rebalance). */
static int open_consumer(projector_t *p, ll_error_t *err) {
    const ll_config_t *cfg = p->opt->cfg;
    char session_ms[24], fetch_wait_ms[24], fetch_min_bytes[24];
    snprintf(session_ms, sizeof session_ms, "%lld", (long long)cfg->projector_session_timeout_ms);
    snprintf(fetch_wait_ms, sizeof fetch_wait_ms, "%lld", (long long)cfg->projector_fetch_wait_ms);
    snprintf(fetch_min_bytes, sizeof fetch_min_bytes, "%lld", (long long)cfg->projector_fetch_min_bytes);
    const char *const consumer[] = {
        "bootstrap.servers", cfg->kafka_bootstrap_servers, "group.id", p->opt->group_id, "client.id",
        "ledgerline-projector", "session.timeout.ms",
        session_ms, /* default: the broker's minimum, fast failover */
        "max.poll.interval.ms", "300000",
        /* By default batching over freshness: reads are answered from the query API's live
         * view, which follows the topic on its own; larger fetches cost the broker and the read
         * store less per event (Kafka's CPU 38% -> 27% at 1700 deposits/s). Deployments whose
         * clients read MongoDB directly trade that back (docs/configuration.md). */
        "fetch.wait.max.ms", fetch_wait_ms, "fetch.min.bytes", fetch_min_bytes,
        /* Several projectors share the partitions: a member joining or leaving moves only the
         * partitions that change hands, the others keep being projected meanwhile. */
        "partition.assignment.strategy", "cooperative-sticky",
        /* Partitions added to the topic (docs/scaling.md) are assigned within seconds, not at
         * the default five-minute metadata refresh. */
        "topic.metadata.refresh.interval.ms", "5000", NULL};
    /* Offsets are committed after the batch's writes (commit), never by librdkafka. */
    rd_kafka_conf_t *conf = ll_kafka_conf(LL_KAFKA_LOG_READER_SETTINGS, consumer, err);
    if (conf == NULL) return LL_EINVAL;
    char errstr[512];
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, p);
    p->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (p->consumer == NULL) {
        rd_kafka_conf_destroy(conf);
        return ll_error_set(err, LL_EINVAL, "Kafka consumer: %s", errstr);
    }
    rd_kafka_poll_set_consumer(p->consumer);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, cfg->kafka_topic_events, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(p->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    return e ? ll_error_set(err, LL_EIO, "subscribe: %s", rd_kafka_err2str(e)) : 0;
}

static int open_kafka(projector_t *p, ll_error_t *err) {
    const char *const producer[] = {"bootstrap.servers", p->opt->cfg->kafka_bootstrap_servers, "client.id",
                                    "ledgerline-projector-dlq", NULL};
    p->dlq = ll_kafka_client(RD_KAFKA_PRODUCER, LL_KAFKA_PRODUCER_SETTINGS, producer, err);
    if (p->dlq == NULL) return LL_EINVAL;
    return open_consumer(p, err);
}

/* Leaves the group and joins it again (a generation switch, or partitions whose start could not
 * be decided): every partition it gets is then started by start_assigned, from the offsets
 * committed and the generation they were committed for. Called between batches; closing serves
 * the revocation of everything (on_rebalance), which drops the offsets not committed yet.
 * Returns 0, or LL_EINVAL when the consumer cannot be made again (configuration). */
static int rejoin(projector_t *p, ll_error_t *err) {
    p->rejoin = 0;
    p->last_rejoin_ms = ll_clock_ms();
    log_event("info", "leaving the consumer group to start the partitions again", NULL, "");
    rd_kafka_consumer_close(p->consumer);
    rd_kafka_destroy(p->consumer);
    p->consumer = NULL;
    if (p->uncommitted != NULL) rd_kafka_topic_partition_list_destroy(p->uncommitted);
    p->uncommitted = NULL;
    memset(p->revoked, 0, sizeof p->revoked);
    p->any_revoked = 0;
    p->assignment = 0;
    ll_account_cache_clear(p->cache);
    return open_consumer(p, err);
}

/* Sends a message that cannot be projected to the dead-letter topic and waits for the report.
 * A message too large for the producer (the broker took it; a hostile or broken producer can
 * send one near its limit) goes with its first DEAD_LETTER_KEEP_BYTES and a header saying so:
 * the record must never stop the projector. Returns 0 once Kafka has it. */
static int dead_letter(projector_t *p, const rd_kafka_message_t *m, const char *reason, ll_error_t *err) {
    char partition[16], offset[24], original[24];
    snprintf(partition, sizeof partition, "%d", (int)m->partition);
    snprintf(offset, sizeof offset, "%lld", (long long)m->offset);
    snprintf(original, sizeof original, "%zu", m->len);
    size_t key_len = m->key_len < 1024 ? m->key_len : 1024;
    const char *topic = p->opt->cfg->kafka_topic_dlq;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->dlq, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(m->key, key_len), RD_KAFKA_V_VALUE(m->payload, m->len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADER("reason", reason, -1),
        RD_KAFKA_V_HEADER("source_partition", partition, -1), RD_KAFKA_V_HEADER("source_offset", offset, -1),
        RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
        e = rd_kafka_producev(p->dlq, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(m->key, key_len),
                              RD_KAFKA_V_VALUE(m->payload, m->len < DEAD_LETTER_KEEP_BYTES ? m->len : DEAD_LETTER_KEEP_BYTES),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADER("reason", reason, -1),
                              RD_KAFKA_V_HEADER("source_partition", partition, -1),
                              RD_KAFKA_V_HEADER("source_offset", offset, -1),
                              RD_KAFKA_V_HEADER("truncated_from_bytes", original, -1), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) e = rd_kafka_flush(p->dlq, 30000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ll_error_set(err, LL_EIO, "dead-letter topic: %s", rd_kafka_err2str(e));
    p->dead_letters++;
    return 0;
}

/* ---- one batch ----------------------------------------------------------------------------- */

/* Drops the collected messages of revoked partitions (they are the next owner's now). */
static int drop_revoked(projector_t *p, int n) {
    int kept = 0;
    for (int i = 0; i < n; i++) {
        int32_t part = p->items[i].msg->partition;
        if (part >= 0 && part < LL_PROJECTOR_PARTITIONS_MAX && p->revoked[part])
            rd_kafka_message_destroy(p->items[i].msg);
        else
            p->items[kept++] = p->items[i];
    }
    memset(p->revoked, 0, sizeof p->revoked);
    p->any_revoked = 0;
    if (kept < n) {
        char detail[64];
        snprintf(detail, sizeof detail, "%d messages", n - kept);
        log_event("info", "collected messages of revoked partitions dropped", NULL, detail);
    }
    return kept;
}

static int collect(projector_t *p, volatile sig_atomic_t *stop) {
    int n = 0;
    long long deadline = 0;
    int64_t first_us = 0;
    while (n < p->opt->batch_max && !*stop) {
        /* Past the window, what is already fetched still joins the batch (poll without
         * waiting): under load the batch takes what arrived while the last one was written,
         * and a window of 0 costs an idle event no wait at all. */
        long long left = deadline ? deadline - ll_clock_ms() : 200;
        int wait = left > 0 ? (int)left : 0;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(p->consumer, wait);
        if (p->any_revoked) n = drop_revoked(p, n);
        if (m == NULL) break; /* idle or the batch window closed: let the loop report and check */
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                log_event("warn", "consumer error", NULL, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        memset(&p->items[n], 0, sizeof p->items[n]);
        p->items[n++].msg = m;
        if (deadline == 0) deadline = ll_clock_ms() + p->opt->batch_ms, first_us = ll_clock_us();
    }
    if (n > 0) phase_add(p, LL_PHASE_COLLECT, first_us);
    return n;
}

/* Decodes slice t->shard of the batch's n_decode messages not decoded yet (a pool task: decoding
 * is pure, and the writer threads are idle meanwhile). */
static int decode_slice(ll_read_model_t *rm, void *arg, ll_error_t *err) {
    (void)rm, (void)err;
    shard_task_t *t = arg;
    projector_t *p = t->p;
    int slices = ll_rm_pool_threads(p->pool);
    int from = (int)((long long)p->n_decode * t->shard / slices);
    int to = (int)((long long)p->n_decode * (t->shard + 1) / slices);
    for (int i = from; i < to; i++) {
        item_t *it = &p->items[i];
        ll_error_t why = {""};
        if (!it->checked) it->decoded = ll_event_decode(it->msg->payload, it->msg->len, &it->ev, &why) == 0;
    }
    return 0;
}

/* Decodes the batch's messages (a large batch on the writer threads at once); an undecodable
 * one goes to the dead-letter topic, once however often the batch is retried (a read-store
 * outage retries it for as long as it lasts). */
static int decode_all(projector_t *p, int n, ll_error_t *err) {
    int64_t t0 = ll_clock_us();
    int parallel = 0;
    if (p->pool != NULL && n >= DECODE_PARALLEL_MIN) {
        p->n_decode = n;
        int s = 0, slices = ll_rm_pool_threads(p->pool);
        ll_error_t ignored = {""};
        for (; s < slices; s++) {
            p->tasks[s] = (shard_task_t){p, s};
            if (ll_rm_pool_submit(p->pool, decode_slice, &p->tasks[s], NULL, &ignored) != 0) break;
        }
        parallel = ll_rm_pool_wait(p->pool, &ignored) == 0 && s == slices; /* else: decoded here */
    }
    for (int i = 0; i < n; i++) {
        item_t *it = &p->items[i];
        if (it->checked) continue;
        ll_error_t why = {""};
        if (!parallel || !it->decoded) /* again for the reason of a refusal */
            it->decoded = ll_event_decode(it->msg->payload, it->msg->len, &it->ev, &why) == 0;
        if (!it->decoded && dead_letter(p, it->msg, why.msg, err) != 0) return LL_EIO;
        if (!it->decoded)
            log_event("error", "undecodable event sent to the dead-letter topic", NULL, why.msg);
        it->checked = 1;
    }
    phase_add(p, LL_PHASE_DECODE, t0);
    return 0;
}

/* Right after following a generation switch that recorded no resume point (a rebuild of an
 * older release): the rebuild may not have caught up yet, so nothing is taken on the store's
 * word meanwhile (gaps are still closed from the store: it is the truth either way). */
static int settling(const projector_t *p) {
    return p->switched_at_ms > 0 && ll_clock_ms() - p->switched_at_ms < SWITCH_SETTLE_MS;
}

/* The event store may be read: configured, and not failing lately. */
static int store_usable(const projector_t *p) {
    return p->store != NULL && ll_clock_ms() >= p->store_retry_at_ms;
}

/* The store could not be read: it is left alone for a while, and the batch is tried again. */
static int store_failed(projector_t *p, batch_account_t *acc, const char *why, ll_error_t *err) {
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&acc->id, text);
    p->store_retry_at_ms = ll_clock_ms() + STORE_RETRY_MS;
    p->heal_failures++;
    acc->store_waits = 1;
    int added;
    if (ll_uuid_map_insert(&p->waiting, &acc->id, &added) == NULL) return ll_error_set(err, LL_ENOMEM, "out of memory");
    if (added) log_event("error", "version gap: the batch waits until the event store can close it", text, why);
    return ll_error_set(err, LL_EIO, "account %s: a version gap the event store cannot close now: %s", text, why);
}

/* Notes that acc is behind a gap the read model cannot tell from the store's word: until its
 * batch commits, a retry reads it from the read model, never takes the store's word for it
 * (recall_from_store skips p->waiting), since a failed round may have written nothing of the
 * events that close it. Returns 0 or LL_ENOMEM. */
static int mark_waiting(projector_t *p, const batch_account_t *acc, ll_error_t *err) {
    return ll_uuid_map_insert(&p->waiting, &acc->id, NULL) == NULL ? ll_error_set(err, LL_ENOMEM, "out of memory")
                                                                   : 0;
}

/* Sends a copy the projector does not apply to the dead-letter topic, once however often the
 * batch is tried. */
static int dead_letter_copy(projector_t *p, item_t *it, const char *why, ll_error_t *err) {
    if (it->refused) return 0;
    if (dead_letter(p, it->msg, why, err) != 0) return LL_EIO;
    it->refused = 1;
    return 0;
}

/* Halts account acc at version: the event store itself cannot tell what comes there (its own
 * event does not fold, or does not decode). Recorded in the generation first (the halt holds
 * across restarts; a retried batch records the same document again), then the copy in hand, if
 * any, dead-lettered; never guessed. The account's events below that version are still written
 * (group keeps them), the later ones wait for an operator (docs/operations.md). */
static int halt_account(projector_t *p, batch_account_t *acc, item_t *it, int64_t version, const char *why,
                        ll_error_t *err) {
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&acc->id, text);
    if (ll_read_model_save_halt(p->follow.rm, &acc->id, version, why, ll_clock_wall_us(), err) != 0 ||
        (it != NULL && dead_letter_copy(p, it, why, err) != 0))
        return LL_EIO;
    log_event("error", "event refused: account halted", text, why);
    int64_t *halted = ll_uuid_map_insert(&p->stopped, &acc->id, NULL);
    if (halted == NULL) return ll_error_set(err, LL_ENOMEM, "out of memory");
    *halted = version;
    p->holes_found++;
    acc->halt_version = version;
    return 0;
}

/* The account of acc was written: if it was behind a gap, the gap is closed. */
static void healed(projector_t *p, const batch_account_t *acc) {
    ll_uuid_map_remove(&p->waiting, &acc->id); /* its gap, if any, is written (fold_account logged it) */
}

/* ---- one batch: accounts, reads, fold, writes ----------------------------------------------- */

/* The batch index of id, added when add is set and it is new; -1 when absent. */
static int account_index(projector_t *p, const ll_uuid_t *id, int add) {
    if (!add) {
        const int *k = ll_uuid_map_find(&p->batch_index, id);
        return k != NULL ? *k : -1;
    }
    int added;
    int *slot = ll_uuid_map_insert(&p->batch_index, id, &added);
    assert(slot != NULL); /* sized for batch_max accounts: never grows */
    if (!added) return *slot;
    int k = p->n_accounts++;
    assert(k < p->opt->batch_max);
    batch_account_t *acc = &p->accounts[k];
    memset(acc, 0, sizeof *acc);
    acc->id = *id;
    acc->shard = 0; /* set once the batch's accounts are known (group) */
    *slot = k;
    return k;
}

/* The account a message is keyed by (the relay keys each event by its account id), when the key
 * is one. */
static int message_account(const rd_kafka_message_t *m, ll_uuid_t *id) {
    char text[LL_UUID_TEXT_LEN + 1];
    if (m->key == NULL || m->key_len != LL_UUID_TEXT_LEN) return 0;
    memcpy(text, m->key, LL_UUID_TEXT_LEN);
    text[LL_UUID_TEXT_LEN] = '\0';
    return ll_uuid_parse(text, false, id) == 0;
}

/* Groups the batch's events by account, each account's events contiguous in p->order and sorted
 * by version (stable): a later version that arrived first is folded after the earlier ones of
 * the same batch, never taken as the account's first. Left out: undecodable messages (their
 * account, when the key names one, is brought up to the event store instead: the copy that
 * could not be read may be the one event it lacks) and a halted account's events from the
 * refused version on (those below it are still written). */
static void group(projector_t *p, int n) {
    for (int k = 0; k < p->n_accounts; k++) {
        free(p->accounts[k].own);
        p->accounts[k].own = NULL;
    }
    ll_uuid_map_clear(&p->batch_index);
    p->n_accounts = 0;
    for (int i = 0; i < n; i++) {
        item_t *it = &p->items[i];
        const int64_t *halted_at;
        ll_uuid_t id;
        it->account = -1;
        if (!it->decoded) {
            if (!message_account(it->msg, &id)) continue;
            batch_account_t *acc = &p->accounts[account_index(p, &id, 1)];
            if ((halted_at = ll_uuid_map_find(&p->stopped, &id)) != NULL)
                acc->halt_version = *halted_at; /* brought up to its halt, no further */
            else
                acc->heal_to = INT64_MAX;
            continue;
        }
        halted_at = ll_uuid_map_find(&p->stopped, &it->ev.account_id);
        int halted = halted_at != NULL;
        int64_t halted_version = halted ? *halted_at : 0;
        /* A halted account stays in the batch even when every copy here is at or past its halt:
         * what is below the halt is brought up from the store (fold_account), also when the
         * batch that halted it failed after recording the halt, or the projector was killed. */
        int k = account_index(p, &it->ev.account_id, 1);
        if (halted) p->accounts[k].halt_version = halted_version;
        if (halted && it->ev.version >= halted_version) continue;
        it->account = k;
        p->accounts[k].n_events++;
    }
    /* Every connection's share costs a transaction per kind of write, whatever its size: a few
     * accounts go to one connection, more are spread over up to all of them. An account's writes
     * stay on one connection within the batch, and batches never overlap. */
    p->batch_shards = (p->n_accounts + SHARD_ACCOUNTS_MIN - 1) / SHARD_ACCOUNTS_MIN;
    if (p->batch_shards > p->n_shards) p->batch_shards = p->n_shards;
    if (p->batch_shards < 1) p->batch_shards = 1;
    for (int k = 0; k < p->n_accounts; k++)
        p->accounts[k].shard = (int)(ll_uuid_hash(&p->accounts[k].id) % (uint64_t)p->batch_shards);
    int at = 0;
    for (int k = 0; k < p->n_accounts; k++) p->accounts[k].first = at, at += p->accounts[k].n_events;
    for (int k = 0; k < p->n_accounts; k++) p->accounts[k].n_events = 0;
    for (int i = 0; i < n; i++) {
        item_t *it = &p->items[i];
        if (it->account < 0) continue;
        batch_account_t *acc = &p->accounts[it->account];
        /* Insertion by version: an account's events almost always arrive in order. */
        int j = acc->first + acc->n_events++;
        while (j > acc->first && p->items[p->order[j - 1]].ev.version > it->ev.version) {
            p->order[j] = p->order[j - 1];
            j--;
        }
        p->order[j] = i;
    }
}

/* The version of acc's first event in the batch; 0 when it has none (brought up to the store). */
static int64_t first_version(const projector_t *p, const batch_account_t *acc) {
    return acc->n_events > 0 ? p->items[p->order[acc->first]].ev.version : 0;
}

/* Reads what the read model holds of the shard's accounts marked to read. An account seen for
 * the first time costs one lookup at most: opened in this batch, nothing (a second opening
 * shows as a conflict when written); else the document of the event before its first one
 * here, which carries all the read model holds of it (falling back to the account document and
 * its open page when that event is sealed into a page or the account must be read whole). Only
 * a whole read is checked from the account document up (trusted stays 0): one event's document
 * is as good as the writer that stored it, which may have taken its state on trust. */
static int read_shard(ll_read_model_t *rm, void *arg, ll_error_t *err) {
    shard_task_t *t = arg;
    projector_t *p = t->p;
    for (int k = 0; k < p->n_accounts; k++) {
        batch_account_t *acc = &p->accounts[k];
        if (acc->shard != t->shard || !acc->to_read) continue;
        int64_t first = first_version(p, acc);
        bool found = false;
        if (first == 0) acc->read_whole = 1; /* only brought up to the store: from what is there */
        acc->trusted = 0;
        if (!acc->read_whole && first == 1) {
            memset(&acc->before, 0, sizeof acc->before);
            ll_account_init(&acc->before.state, &acc->id);
            acc->remembered = 1;
        } else if (!acc->read_whole &&
                   ll_read_model_probe(rm, &acc->id, first - 1, &acc->before, &found, err) != 0) {
            return LL_EIO;
        } else if (found) {
            acc->remembered = acc->trusted = 1;
        } else {
            if (ll_read_model_load(rm, &acc->id, &acc->before, &found, NULL, err) != 0) return LL_EIO;
            acc->remembered = 0;
        }
        acc->to_read = acc->read_whole = 0;
    }
    return 0;
}

static void on_conflict(void *ctx, int k) {
    projector_t *p = ctx;
    p->accounts[k].conflict = 1; /* each account belongs to one shard: no two threads write this */
}

static int write_shard(ll_read_model_t *rm, void *arg, ll_error_t *err) {
    shard_task_t *t = arg;
    return ll_rm_writes_execute(t->p->writes[t->shard], rm, on_conflict, t->p, err);
}

/* Runs fn for every shard on the pool and waits for all. */
static int each_shard(projector_t *p, ll_rm_task_fn fn, ll_error_t *err) {
    for (int s = 0; s < p->batch_shards; s++) {
        p->tasks[s] = (shard_task_t){p, s};
        if (ll_rm_pool_submit(p->pool, fn, &p->tasks[s], NULL, err) != 0) break;
    }
    return ll_rm_pool_wait(p->pool, err) != 0 ? LL_EIO : 0;
}

/* Reads the accounts marked to_read, every shard at once. */
static int read_marked(projector_t *p, ll_error_t *err) {
    int any = 0;
    for (int k = 0; k < p->n_accounts; k++) any |= p->accounts[k].to_read;
    if (!any) return 0;
    int64_t t0 = ll_clock_us();
    int rc = each_shard(p, read_shard, err);
    phase_add(p, LL_PHASE_READ, t0);
    return rc;
}

/* Starts account acc from what the projector remembers, or marks it to be read. */
static void recall(projector_t *p, batch_account_t *acc) {
    const ll_rm_account_t *known = ll_account_cache_get(p->cache, &acc->id);
    acc->remembered = known != NULL;
    if (known != NULL) {
        acc->before = *known;
        acc->trusted = ll_account_cache_unverified(p->cache, &acc->id);
    } else {
        acc->to_read = 1;
    }
}

/* Takes the state of the batch's accounts not remembered from the event store, one query for
 * them all (the read model answers one account per query on the local store: ~0.4 ms of CPU
 * each): the state once the event right before the account's first one here applied, and where
 * its documents stand (ll_rm_head_version). Taken on the store's word (trusted): the event was
 * published (it left the outbox), and a published event came before this one in the account's
 * partition, so this projector's group projected it before the offsets it resumed from, into
 * this generation (a partition whose offsets were committed for another one starts where the
 * generation resumes: start_assigned). That word is wrong when the topic holds the account out
 * of order (a copy of a later event produced before the earlier ones were published again, by
 * hand, a retried delivery or a relay takeover), or lost what it acknowledged. So the account is
 * remembered unverified: a copy of an event at or below what it was written on that arrives
 * later (the earlier events, sent again) makes the projector read it whole and bring it up to the
 * store (fold_account); a hole under a page to seal or an account document elsewhere shows as a
 * conflict at its next seal. Not trusted, so read from the read model: an event still in the
 * outbox, an account behind a gap, anything while the store fails or after a switch that
 * recorded no resume point. */
static void recall_from_store(projector_t *p) {
    if (!store_usable(p) || settling(p)) return;
    int64_t t0 = ll_clock_us();
    int n = 0;
    for (int k = 0; k < p->n_accounts; k++) {
        batch_account_t *acc = &p->accounts[k];
        int64_t first = first_version(p, acc);
        if (!acc->to_read || acc->read_whole || first < 2) continue;
        if (ll_uuid_map_find(&p->waiting, &acc->id) != NULL) continue;
        p->state_ids[n] = acc->id, p->state_versions[n] = first - 1, p->state_account[n] = k;
        n++;
    }
    if (n == 0) return;
    ll_error_t err = {""};
    if (ll_event_reader_states(p->store, p->state_ids, p->state_versions, n, p->states, p->state_found, &err) != 0) {
        p->store_retry_at_ms = ll_clock_ms() + STORE_RETRY_MS;
        log_event("warn", "event store unreadable: accounts read from the read model meanwhile", NULL, err.msg);
    } else {
        for (int i = 0; i < n; i++) {
            if (!p->state_found[i]) continue;
            batch_account_t *acc = &p->accounts[p->state_account[i]];
            int64_t head = ll_rm_head_version(p->states[i].version);
            acc->before = (ll_rm_account_t){p->states[i], head, ll_rm_open_page(head)};
            acc->remembered = acc->trusted = 1, acc->to_read = 0;
            p->store_states++;
        }
    }
    phase_add(p, LL_PHASE_READ, t0);
}

/* Where the account's folded events go: its run of p->fold, or its own array once the store was
 * read for it (the store's events among the batch's, in version order). */
static ll_event_t *folded(projector_t *p, batch_account_t *acc) {
    return acc->own != NULL ? acc->own : &p->fold[acc->first];
}

/* Makes room for extra more folded events (beside the batch's own). Returns 0 or -1. */
static int own_reserve(projector_t *p, batch_account_t *acc, int extra) {
    int need = acc->n_applied + extra + acc->n_events;
    if (acc->own != NULL && acc->n_own >= need) return 0;
    ll_event_t *grown = realloc(acc->own, (size_t)need * sizeof *grown);
    if (grown == NULL) return -1;
    if (acc->own == NULL) memcpy(grown, &p->fold[acc->first], (size_t)acc->n_applied * sizeof *grown);
    acc->own = grown, acc->n_own = need;
    return 0;
}

/* Remembers what the read model now holds of an account written: its state, and the items of
 * its open page, carried on from what was remembered or taken from the events written. */
static void remember(projector_t *p, batch_account_t *acc) {
    ll_rm_page_items_t items;
    ll_account_cache_take_items(p->cache, &acc->id, &items);
    int known = ll_rm_page_items_next(&items, acc->before.state.version, folded(p, acc), (size_t)acc->n_applied);
    ll_account_cache_put(p->cache, &acc->after, acc->trusted);
    if (known == 0) ll_account_cache_give_items(p->cache, &acc->id, &items);
}

/* Reads from the event store the account's events after a->version and below `before`
 * (INT64_MAX: all it holds), at most p->heal_max (projector_heal_events_max), folds them onto *a and adds them to its
 * folded events; STORE_CHUNK at a time, so memory follows what the store holds, not what a copy
 * claims (a forged far-future version costs what the account has). Returns how many (0: the
 * store holds none there); -1 when the store cannot be read (the batch is tried again:
 * store_failed) or memory ran out; -2 when what it holds does not decode or fold onto *a (why
 * set: the account halts there). */
static int from_store(projector_t *p, batch_account_t *acc, ll_account_t *a, int64_t before, ll_error_t *why,
                      ll_error_t *err) {
    int64_t span = before == INT64_MAX ? p->heal_max : before - a->version - 1;
    int max = span < p->heal_max ? (int)span : p->heal_max, total = 0;
    if (max <= 0) return 0;
    /* Tried whatever store_usable says: that back-off spares recall_from_store's optional query,
     * while a gap needs the store and its batch is retried until it answers. */
    while (total < max) {
        int want = max - total < STORE_CHUNK ? max - total : STORE_CHUNK;
        if (own_reserve(p, acc, want) != 0) return ll_error_set(err, LL_ENOMEM, "out of memory"), -1;
        ll_error_t e = {""};
        ll_event_t *out = folded(p, acc) + acc->n_applied;
        bool damaged = false;
        int n = ll_event_reader_after(p->store, &acc->id, a->version, out, want, &damaged, &e);
        if (n < 0) return store_failed(p, acc, e.msg, err), -1;
        for (int i = 0; i < n; i++) /* the store's versions follow on: anything else does not fold */
            if (ll_account_evolve(a, &out[i], why) != LL_EVOLVE_OK) {
                acc->n_applied += i, acc->healed += i;
                acc->hole |= total + i > 0;
                return -2;
            }
        acc->n_applied += n, acc->healed += n, total += n;
        acc->hole |= total > 0;
        if (damaged) return *why = e, -2; /* the rows before it are folded: the halt is right after them */
        if (n < want) break;
    }
    acc->hole |= total > 0;
    return total;
}

/* Folds an event the domain refused (v) onto *a from the event store's own event at that
 * version instead (a broken or forged copy): 1 when the store's applied (the copy is
 * dead-lettered); 0 when the store holds no event there (the copy is of nothing acknowledged:
 * dead-lettered, skipped); -1 with the batch to be tried again; -2 halted. */
static int replace_refused(projector_t *p, batch_account_t *acc, ll_account_t *a, item_t *it, const char *refusal,
                           ll_error_t *err) {
    char why[LL_ERROR_MSG_MAX];
    ll_error_t e = {""};
    int n = from_store(p, acc, a, it->ev.version + 1, &e, err);
    if (n == -1) return -1;
    if (n == -2) {
        snprintf(why, sizeof why, "the copy in the topic is refused (%.200s) and so is the event store's: %.200s", refusal,
                 e.msg);
        return halt_account(p, acc, it, a->version + 1, why, err) != 0 ? -1 : -2;
    }
    if (n == 0) {
        snprintf(why, sizeof why, "refused (%.300s), and the event store holds no event at this version", refusal);
        if (dead_letter_copy(p, it, why, err) != 0) return -1;
        return 0;
    }
    acc->healed -= n, acc->replaced += n; /* not a gap: counted as replaced */
    snprintf(why, sizeof why, "refused (%.300s); the event store's event at this version was applied instead", refusal);
    if (dead_letter_copy(p, it, why, err) != 0) return -1;
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&acc->id, text);
    log_event("warn", "a refused copy replaced by the event store's event", text, refusal);
    return 1;
}

/* Folds the account's events onto what the read model holds. Against a remembered state (or
 * one taken on the store's word, or from one event's document) a gap is first taken for that
 * state being stale: *stale set, nothing folded, the account is read whole. Against the read
 * model read whole, a gap is closed from the event store (an event it lacks is dead-lettered
 * and skipped). A copy of an event at or below a trusted state means the topic delivered the
 * account out of order: read whole, and brought up to at least that state from the store. An
 * event the domain refuses is replaced by the store's event at its version, or halts the
 * account. Last, the account is brought up to heal_to from the store. Returns 0; LL_EIO when
 * the batch must be tried again (the store unreachable); another negative code. */
static int fold_account(projector_t *p, batch_account_t *acc, int *stale, ll_error_t *err) {
    ll_account_t a = acc->before.state;
    acc->n_applied = 0, acc->duplicates = 0, acc->healed = 0, acc->replaced = 0, acc->more = 0;
    for (int j = 0; j < acc->n_events; j++) {
        item_t *it = &p->items[p->order[acc->first + j]];
        if (acc->halt_version > 0 && it->ev.version >= acc->halt_version) break;
        ll_error_t why = {""};
        ll_evolve_t v = ll_account_evolve(&a, &it->ev, &why);
        if (v == LL_EVOLVE_GAP && acc->remembered) {
            *stale = 1;
            return 0;
        }
        if (v == LL_EVOLVE_DUPLICATE && acc->trusted && it->ev.version <= acc->before.state.version) {
            if (acc->heal_to < acc->before.state.version) acc->heal_to = acc->before.state.version;
            *stale = 1;
            return mark_waiting(p, acc, err);
        }
        if (v == LL_EVOLVE_GAP) {
            ll_error_t e = {""};
            p->gaps++;
            if (mark_waiting(p, acc, err) != 0) return LL_ENOMEM;
            int n = from_store(p, acc, &a, it->ev.version, &e, err);
            if (n == -1) return LL_EIO;
            if (n == -2) return halt_account(p, acc, it, a.version + 1, e.msg, err);
            char text[LL_UUID_TEXT_LEN + 1], detail[160];
            ll_uuid_format(&acc->id, text);
            if (a.version + 1 < it->ev.version && n == p->heal_max) {
                snprintf(detail, sizeof detail, "%d events read from the event store, the rest in the next round", n);
                log_event("info", "version gap closing", text, detail);
                acc->more = 1; /* what was read is written; the batch goes on from there */
                return 0;
            }
            if (a.version + 1 < it->ev.version) { /* beyond what the store holds: not acknowledged */
                snprintf(detail, sizeof detail, "version %lld is not in the event store (it holds %lld)",
                         (long long)it->ev.version, (long long)a.version);
                if (!it->refused) log_event("error", "an event the event store does not hold: dead-lettered", text, detail);
                if (dead_letter_copy(p, it, detail, err) != 0) return LL_EIO;
                continue;
            }
            snprintf(detail, sizeof detail, "%d events read from the event store", n);
            log_event("info", "version gap closed", text, detail);
            v = ll_account_evolve(&a, &it->ev, &why);
        }
        if (v == LL_EVOLVE_OK) {
            folded(p, acc)[acc->n_applied++] = it->ev; /* room: from_store reserved the batch's too */
        } else if (v == LL_EVOLVE_DUPLICATE) {
            acc->duplicates++;
        } else if (replace_refused(p, acc, &a, it, why.msg, err) == -1) {
            return LL_EIO; /* (-2: halted at it, halt_version set; 0 or 1: go on) */
        }
    }
    /* Up to heal_to from the store, or, halted, up to the halt: what is below it is written even
     * when a conflict made this the second fold of the batch (the store's events were read while
     * folding the event past the halt, which this fold does not reach). */
    int64_t target = acc->halt_version > 0 ? acc->halt_version - 1 : acc->heal_to;
    if (target > a.version) {
        ll_error_t e = {""};
        if (mark_waiting(p, acc, err) != 0) return LL_ENOMEM;
        int n = from_store(p, acc, &a, target == INT64_MAX ? INT64_MAX : target + 1, &e, err);
        if (n == -1) return LL_EIO;
        if (n == -2) return halt_account(p, acc, NULL, a.version + 1, e.msg, err);
        acc->more = n == p->heal_max;
    }
    return 0;
}

/* Folds the pending accounts of the batch and plans their writes, each on its shard. */
static int plan(projector_t *p, ll_error_t *err) {
    int64_t t0 = ll_clock_us();
    uint64_t reading = p->phase_us[LL_PHASE_READ]; /* a stale account's read is not planning */
    for (int s = 0; s < p->batch_shards; s++) ll_rm_writes_clear(p->writes[s]);
    int any_stale = 0;
    for (int k = 0; k < p->n_accounts; k++) {
        batch_account_t *acc = &p->accounts[k];
        if (acc->done) continue;
        if (fold_account(p, acc, &acc->stale, err) != 0) return LL_EIO;
        if (acc->stale) {
            ll_account_cache_remove(p->cache, &acc->id);
            acc->remembered = 0, acc->to_read = acc->read_whole = 1;
            p->account_reads++;
            any_stale = 1;
        }
    }
    if (any_stale) {
        if (read_marked(p, err) != 0) return LL_EIO;
        for (int k = 0; k < p->n_accounts; k++) {
            batch_account_t *acc = &p->accounts[k];
            if (!acc->stale) continue;
            acc->stale = 0;
            if (fold_account(p, acc, &acc->stale, err) != 0) return LL_EIO;
        }
    }
    for (int k = 0; k < p->n_accounts; k++) {
        batch_account_t *acc = &p->accounts[k];
        if (acc->done) continue;
        acc->conflict = 0;
        acc->after = acc->before;
        /* An account in memory is one whose before came from memory (a read or a conflict
         * removes it): its open page's items, when remembered, spare the read at its seal. */
        const ll_rm_page_items_t *known = ll_account_cache_items(p->cache, &acc->id);
        if (acc->n_applied > 0 && ll_rm_writes_add(p->writes[acc->shard], &acc->before, known, folded(p, acc),
                                                   (size_t)acc->n_applied, &acc->after, k, err) != 0)
            return LL_EIO;
    }
    phase_add(p, LL_PHASE_PLAN, t0 + (int64_t)(p->phase_us[LL_PHASE_READ] - reading));
    return 0;
}

/* Projects the batch: reads what is not remembered, folds, writes every shard at once; an
 * account another writer moved is read and written again (SAVE_RETRIES rounds at most); an
 * account whose gap is larger than one read of the store (projector_heal_events_max) is read
 * whole and written again round after round until it is closed, within this call and never
 * taken on the store's word meanwhile (it stays in p->waiting until the batch commits). Returns
 * 0 or a negative code; the accounts of a batch that fails are forgotten (what the read model
 * holds of them is no longer known). */
static int project_all(projector_t *p, int n, ll_error_t *err) {
    group(p, n);
    for (int k = 0; k < p->n_accounts; k++) recall(p, &p->accounts[k]);
    recall_from_store(p);
    for (int k = 0; k < p->n_accounts; k++) p->account_reads += (uint64_t)p->accounts[k].to_read;
    int rc = 0, conflict_rounds = 0;
    for (;;) {
        rc = read_marked(p, err);
        if (rc == 0) rc = plan(p, err);
        int64_t t0 = ll_clock_us();
        if (rc == 0) rc = each_shard(p, write_shard, err);
        phase_add(p, LL_PHASE_WRITE, t0);
        if (rc != 0) break;
        int conflicts = 0, more = 0;
        for (int s = 0; s < p->batch_shards; s++) {
            size_t ev, pg, hd;
            ll_rm_writes_counts(p->writes[s], &ev, &pg, &hd);
            p->docs_events += ev, p->docs_pages += pg, p->docs_accounts += hd;
            p->seal_reads += ll_rm_writes_seal_reads(p->writes[s]);
        }
        for (int k = 0; k < p->n_accounts; k++) {
            batch_account_t *acc = &p->accounts[k];
            if (acc->done) continue;
            if (acc->conflict) { /* read again, fold again, write again */
                conflicts++;
                ll_account_cache_remove(p->cache, &acc->id);
                acc->remembered = 0, acc->to_read = acc->read_whole = 1;
                p->account_reads++;
                continue;
            }
            if (acc->n_applied > 0)
                remember(p, acc);
            else if (ll_account_cache_get(p->cache, &acc->id) == NULL) /* read, nothing new: still worth keeping */
                ll_account_cache_put(p->cache, &acc->after, acc->trusted);
            p->applied += acc->n_applied;
            p->healed_events += (uint64_t)acc->healed; /* counted once written: a retry reads again */
            p->replaced_events += (uint64_t)acc->replaced;
            if (acc->more) { /* written up to where this round read the store: read it whole again */
                acc->remembered = 0, acc->to_read = acc->read_whole = 1; /* (still in p->waiting) */
                more++;
                continue;
            }
            healed(p, acc);
            if (acc->hole) p->holes_found++, p->holes_healed++; /* also when a conflict read it again */
            p->duplicates += acc->duplicates;
            acc->done = 1;
        }
        p->conflicts += (uint64_t)conflicts;
        if (conflicts == 0 && more == 0) break;
        if (conflicts > 0) {
            char detail[64];
            snprintf(detail, sizeof detail, "%d accounts moved by another writer", conflicts);
            log_event("info", "reading them again", NULL, detail);
            if (++conflict_rounds == SAVE_RETRIES) {
                rc = ll_error_set(err, LL_EIO, "%s, %d times in a row", detail, conflict_rounds);
                break;
            }
        }
    }
    if (rc == 0) return 0;
    for (int k = 0; k < p->n_accounts; k++) ll_account_cache_remove(p->cache, &p->accounts[k].id);
    return rc;
}

/* A commit refused because the group is rebalancing or moved on without this member. Retrying
 * the batch would never help: the rebalance needs this member to poll. */
static int group_moved(rd_kafka_resp_err_t e) {
    return e == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS || e == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
           e == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID || e == RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST ||
           e == RD_KAFKA_RESP_ERR__STATE;
}

/* Raises the offset of (topic, partition) in list to at least offset, adding it when absent. */
static void offset_at_least(rd_kafka_topic_partition_list_t *list, const char *topic, int32_t partition,
                            int64_t offset) {
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(list, topic, partition);
    if (tp == NULL) tp = rd_kafka_topic_partition_list_add(list, topic, partition);
    if (offset > tp->offset) tp->offset = offset;
}

/* Remembers offsets (of a batch already written) to commit later, the highest per partition. */
static void keep_uncommitted(projector_t *p, const rd_kafka_topic_partition_list_t *offsets,
                             rd_kafka_resp_err_t why) {
    if (p->uncommitted == NULL) p->uncommitted = rd_kafka_topic_partition_list_new(offsets->cnt);
    for (int i = 0; i < offsets->cnt; i++)
        offset_at_least(p->uncommitted, offsets->elems[i].topic, offsets->elems[i].partition,
                        offsets->elems[i].offset);
    log_event("info", "batch written, offsets committed later: the group is rebalancing", NULL,
              rd_kafka_err2str(why));
}

/* Commits what keep_uncommitted kept, for the partitions still assigned (the others were
 * dropped when revoked). Called between batches, after a poll let the rebalance finish. */
static void commit_uncommitted(projector_t *p) {
    if (p->uncommitted == NULL) return;
    tag_offsets(p, p->uncommitted);
    rd_kafka_resp_err_t e = rd_kafka_commit(p->consumer, p->uncommitted, 0);
    if (group_moved(e)) return; /* still rebalancing: the next round */
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_event("warn", "commit of earlier offsets", NULL, rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(p->uncommitted);
    p->uncommitted = NULL;
}

/* Commits, per partition, the offset after the batch's last message. */
static int commit(projector_t *p, int n, ll_error_t *err) {
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < n; i++) {
        rd_kafka_message_t *m = p->items[i].msg;
        offset_at_least(offsets, rd_kafka_topic_name(m->rkt), m->partition, m->offset + 1);
    }
    /* Offsets still waiting from earlier batches go with these (never behind them). */
    for (int i = 0; p->uncommitted != NULL && i < p->uncommitted->cnt; i++)
        offset_at_least(offsets, p->uncommitted->elems[i].topic, p->uncommitted->elems[i].partition,
                        p->uncommitted->elems[i].offset);
    tag_offsets(p, offsets);
    int64_t t0 = ll_clock_us();
    rd_kafka_resp_err_t e = rd_kafka_commit(p->consumer, offsets, 0);
    phase_add(p, LL_PHASE_COMMIT, t0);
    if (group_moved(e)) {
        keep_uncommitted(p, offsets, e);
        e = RD_KAFKA_RESP_ERR_NO_ERROR; /* the batch is written: only its offsets wait */
    } else if (e == RD_KAFKA_RESP_ERR_NO_ERROR && p->uncommitted != NULL) {
        rd_kafka_topic_partition_list_destroy(p->uncommitted);
        p->uncommitted = NULL;
    }
    rd_kafka_topic_partition_list_destroy(offsets);
    if (e) return ll_error_set(err, LL_EIO, "commit offsets: %s", rd_kafka_err2str(e));
    for (int i = 0; i < n; i++) {
        rd_kafka_message_t *m = p->items[i].msg;
        int64_t ts = rd_kafka_message_timestamp(m, NULL);
        if (m->partition >= 0 && m->partition < LL_PROJECTOR_PARTITIONS_MAX &&
            ts > p->newest_ts_ms[m->partition])
            p->newest_ts_ms[m->partition] = ts;
    }
    return 0;
}

/* ---- generation and metrics ---------------------------------------------------------------- */

/* A halt document whose _id is no account id (only a hand could write one) halts nothing. */
static int add_halted(void *ctx, const char *account, int64_t version) {
    ll_uuid_t id;
    if (ll_uuid_parse(account, false, &id) != 0) return 0;
    int64_t *halted = ll_uuid_map_insert(ctx, &id, NULL);
    if (halted == NULL) return LL_ENOMEM;
    *halted = version > 0 ? version : 1;
    return 0;
}

/* Takes the accounts halted in generation gen (the follower's): a halt holds across restarts;
 * a new generation (a rebuild, from the store) starts with its own. */
static int open_halts(projector_t *p, int64_t gen, ll_error_t *err) {
    ll_uuid_map_free(&p->stopped);
    if (ll_uuid_map_init(&p->stopped, sizeof(int64_t), 1024) != 0) return ll_error_set(err, LL_ENOMEM, "out of memory");
    int rc = ll_read_model_halts(p->follow.rm, add_halted, &p->stopped, err);
    if (rc == LL_ENOMEM) return ll_error_set(err, LL_ENOMEM, "out of memory");
    if (rc == 0 && ll_uuid_map_count(&p->stopped) > 0) {
        char detail[64];
        snprintf(detail, sizeof detail, "%zu accounts, recorded in generation %lld", ll_uuid_map_count(&p->stopped),
                 (long long)gen);
        log_event("warn", "halted accounts stay halted", NULL, detail);
    }
    return rc;
}

/* Opens the writer connections on the active generation, and moves them when a rebuild
 * switched it: what the projector remembers of the old one is forgotten, and it rejoins the
 * consumer group, which drops the offsets not committed yet (written to the old one) and starts
 * every partition it gets again from its committed offset, or from where the new generation
 * resumes when that offset was committed for the old one (start_assigned). A generation that
 * recorded no resume point (an older rebuild) is given SWITCH_SETTLE_MS instead, as before. */
static int follow_generation(projector_t *p, ll_error_t *err) {
    if (ll_rm_follow(&p->follow, NULL, err) != 0) return LL_EIO;
    int64_t gen = ll_read_model_generation(p->follow.rm);
    if (p->pool != NULL && gen == p->generation) return 0;
    if (gen != p->generation &&
        ll_read_model_resume(p->mongo, gen, p->opt->cfg->kafka_topic_events, p->resume, LL_PROJECTOR_PARTITIONS_MAX,
                             &p->n_resume, err) != 0)
        return LL_EIO;
    int switching = p->pool != NULL;
    if (switching) {
        ll_rm_pool_stop(p->pool);
        p->pool = NULL;
    }
    ll_account_cache_clear(p->cache);
    if (gen != p->generation) {
        p->generation = gen;
        snprintf(p->generation_tag, sizeof p->generation_tag, "g%lld", (long long)gen);
        if (switching && p->n_resume > 0) {
            p->rejoin = REJOIN_SWITCH; /* before anything more is collected (the main loop) */
        } else if (switching) {
            p->switched_at_ms = ll_clock_ms();
            log_event("warn", "the new generation recorded no resume point (an older rebuild)", NULL,
                      "for 30 s nothing is taken on the event store's word while its settle phase catches up");
        }
    }
    if (open_halts(p, gen, err) != 0) return LL_EIO;
    p->pool = ll_rm_pool_start(p->opt->cfg->mongo_uri, p->opt->cfg->mongo_database, gen, p->n_shards, err);
    if (p->pool == NULL) return LL_EIO;
    char g[64];
    snprintf(g, sizeof g, "generation %lld, %d writers", (long long)gen, p->n_shards);
    log_event("info", "projecting into", NULL, g);
    return 0;
}

/* What the projector remembers is kept only while the partitions it holds stay the same: a
 * partition handed to another projector and back may have moved its accounts meanwhile. */
static void follow_assignment(projector_t *p) {
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(p->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || parts == NULL) return;
    uint64_t sig = (uint64_t)parts->cnt << 56;
    for (int i = 0; i < parts->cnt; i++) sig ^= (uint64_t)1 << (parts->elems[i].partition % 56);
    rd_kafka_topic_partition_list_destroy(parts);
    if (sig != p->assignment) ll_account_cache_clear(p->cache);
    p->assignment = sig;
}

/* Fills p->snap: counters, and per assigned partition the position projected up to (between
 * batches, the committed offset) and the high watermark librdkafka last saw. */
static void take_snapshot(projector_t *p) {
    ll_projector_snapshot_t *s = &p->snap;
    *s = (ll_projector_snapshot_t){.applied = (uint64_t)p->applied,
                                   .duplicates = (uint64_t)p->duplicates,
                                   .gaps = (uint64_t)p->gaps,
                                   .dead_letters = (uint64_t)p->dead_letters,
                                   .batches = (uint64_t)p->batches,
                                   .batch_failures = (uint64_t)p->batch_failures,
                                   .halted_accounts = ll_uuid_map_count(&p->stopped),
                                   .waiting_accounts = ll_uuid_map_count(&p->waiting),
                                   .account_reads = p->account_reads,
                                   .store_states = p->store_states,
                                   .seal_reads = p->seal_reads,
                                   .healed_events = p->healed_events,
                                   .heal_failures = p->heal_failures,
                                   .holes_found = p->holes_found,
                                   .holes_healed = p->holes_healed,
                                   .replaced_events = p->replaced_events,
                                   .conflicts = p->conflicts,
                                   .docs_events = p->docs_events,
                                   .docs_pages = p->docs_pages,
                                   .docs_accounts = p->docs_accounts,
                                   .cache_accounts = ll_account_cache_count(p->cache),
                                   .cache_items_bytes = ll_account_cache_items_bytes(p->cache),
                                   .generation = p->generation};
    memcpy(s->phase_us, p->phase_us, sizeof s->phase_us);
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (p->consumer == NULL || rd_kafka_assignment(p->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        parts == NULL)
        return;
    rd_kafka_position(p->consumer, parts);
    for (int i = 0; i < parts->cnt && s->n_partitions < LL_PROJECTOR_PARTITIONS_MAX; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t lo, hi;
        ll_partition_progress_t *out = &s->partitions[s->n_partitions++];
        out->partition = tp->partition;
        out->committed = tp->offset >= 0 ? tp->offset : -1;
        out->high = rd_kafka_get_watermark_offsets(p->consumer, tp->topic, tp->partition, &lo, &hi) ==
                            RD_KAFKA_RESP_ERR_NO_ERROR
                        ? hi
                        : -1;
        out->newest_ts_ms = tp->partition >= 0 && tp->partition < LL_PROJECTOR_PARTITIONS_MAX &&
                                    p->newest_ts_ms[tp->partition] > 0
                                ? p->newest_ts_ms[tp->partition]
                                : -1;
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

/* Publishes a snapshot to /metrics; every metrics_interval_ms also logs the totals. */
static void publish(projector_t *p, int log_now) {
    take_snapshot(p);
    p->last_publish_ms = ll_clock_ms();
    if (p->metrics) ll_projector_metrics_publish(p->metrics, &p->snap);
    if (!log_now && ll_clock_ms() - p->last_report_ms < p->opt->metrics_interval_ms) return;
    long long lag = 0;
    for (int i = 0; i < p->snap.n_partitions; i++) {
        const ll_partition_progress_t *pp = &p->snap.partitions[i];
        if (pp->high > pp->committed && pp->committed >= 0) lag += pp->high - pp->committed;
    }
    ll_log_t l;
    ll_log_begin(&l, "info", "projector", "metrics");
    ll_log_int(&l, "generation", (long long)p->generation);
    ll_log_int(&l, "applied_total", p->applied);
    ll_log_int(&l, "duplicates_total", p->duplicates);
    ll_log_int(&l, "gaps_total", p->gaps);
    ll_log_int(&l, "dead_letters_total", p->dead_letters);
    ll_log_int(&l, "batches_total", p->batches);
    ll_log_int(&l, "halted_accounts", (long long)ll_uuid_map_count(&p->stopped));
    ll_log_int(&l, "waiting_accounts", (long long)ll_uuid_map_count(&p->waiting));
    ll_log_int(&l, "lag_events", lag);
    ll_log_end(&l);
    p->last_report_ms = ll_clock_ms();
}

/* ---- main loop ----------------------------------------------------------------------------- */

static void destroy_items(projector_t *p, int n) {
    for (int i = 0; i < n; i++) rd_kafka_message_destroy(p->items[i].msg);
}

/* Projects and commits one collected batch, retrying until it succeeds or stop is set. */
static void process(projector_t *p, int n, volatile sig_atomic_t *stop) {
    for (;;) {
        ll_error_t e = {""};
        int rc = decode_all(p, n, &e);
        if (rc == 0) rc = project_all(p, n, &e);
        if (rc == 0 && commit(p, n, &e) == 0) {
            p->batches++;
            ll_uuid_map_clear(&p->waiting); /* every account of the batch is written now */
            return;
        }
        p->batch_failures++;
        log_event("warn", "batch failed; retrying it", NULL, e.msg);
        if (*stop) return; /* not committed: the next start re-reads it */
        publish(p, 0);     /* a stuck batch must show in /metrics, not freeze it */
        ll_sleep_ms(RETRY_PAUSE_MS);
    }
}

int ll_projector_run(const ll_projector_options_t *opt, volatile sig_atomic_t *stop, ll_error_t *err) {
    projector_t p;
    memset(&p, 0, sizeof p);
    p.opt = opt;
    int rc = LL_ENOMEM;
    if (opt->batch_max < 1 || opt->batch_max > LL_BATCH_MAX)
        return ll_error_set(err, LL_EINVAL, "batch out of range");
    p.n_shards = (int)opt->cfg->projector_writers;
    p.heal_max = (int)opt->cfg->projector_heal_events_max;
    for (int s = 0; s < p.n_shards; s++)
        if ((p.writes[s] = ll_rm_writes_new()) == NULL) goto done;
    if ((p.items = calloc((size_t)opt->batch_max, sizeof *p.items)) == NULL ||
        (p.fold = calloc((size_t)opt->batch_max, sizeof *p.fold)) == NULL ||
        (p.order = calloc((size_t)opt->batch_max, sizeof *p.order)) == NULL ||
        (p.accounts = calloc((size_t)opt->batch_max, sizeof *p.accounts)) == NULL ||
        (p.state_ids = calloc((size_t)opt->batch_max, sizeof *p.state_ids)) == NULL ||
        (p.state_versions = calloc((size_t)opt->batch_max, sizeof *p.state_versions)) == NULL ||
        (p.states = calloc((size_t)opt->batch_max, sizeof *p.states)) == NULL ||
        (p.state_found = calloc((size_t)opt->batch_max, sizeof *p.state_found)) == NULL ||
        (p.state_account = calloc((size_t)opt->batch_max, sizeof *p.state_account)) == NULL ||
        (p.tasks = calloc((size_t)p.n_shards, sizeof *p.tasks)) == NULL ||
        (p.cache = ll_account_cache_new((size_t)opt->cfg->projector_cache_accounts,
                                         (size_t)opt->cfg->projector_cache_items_bytes)) == NULL ||
        ll_uuid_map_init(&p.stopped, sizeof(int64_t), 1024) != 0 || ll_uuid_map_init(&p.waiting, 0, 1024) != 0 ||
        ll_uuid_map_init(&p.batch_index, sizeof(int), (size_t)opt->batch_max) != 0)
        goto done;
    p.mongo = ll_rm_client_new(opt->cfg->mongo_uri, opt->cfg->mongo_database, "ledgerline-projector", err);
    if (p.mongo == NULL) {
        rc = LL_EINVAL;
        goto done;
    }
    ll_rm_follower_init(&p.follow, p.mongo, GENERATION_CHECK_MS);
    for (int i = 0; i < LL_PROJECTOR_PARTITIONS_MAX; i++) p.newest_ts_ms[i] = -1;
    p.metrics = ll_projector_metrics_start(opt->metrics_listen, opt->cfg->kafka_topic_events, err);
    if (p.metrics == NULL) {
        rc = LL_EINVAL;
        goto done;
    }
    /* The event store closes gaps: without it a gap could only be skipped or waited on for ever. */
    if ((p.store = ll_event_reader_new(opt->cfg->pg_conninfo, STORE_TIMEOUT_MS)) == NULL) goto done;
    if ((rc = open_kafka(&p, err)) != 0) goto done;
    while (!*stop) {
        ll_error_t e = {""};
        if (follow_generation(&p, &e) != 0) { /* checks at most every GENERATION_CHECK_MS */
            log_event("warn", "read models unavailable", NULL, e.msg);
            if (p.pool == NULL) {
                ll_sleep_ms(RETRY_PAUSE_MS);
                continue;
            }
        }
        if ((p.rejoin == REJOIN_SWITCH || (p.rejoin && ll_clock_ms() - p.last_rejoin_ms >= REJOIN_MIN_MS)) &&
            rejoin(&p, err) != 0) {
            rc = LL_EINVAL;
            goto done;
        }
        int n = collect(&p, stop);
        follow_assignment(&p);
        commit_uncommitted(&p);
        if (n > 0) process(&p, n, stop);
        destroy_items(&p, n);
        if (ll_clock_ms() - p.last_publish_ms >= PUBLISH_MS) publish(&p, 0);
    }
    rc = 0;
done:
    if (p.pool != NULL) publish(&p, 1); /* while the consumer can still tell its assignment */
    if (p.consumer != NULL) {
        /* Closing serves a last revocation (on_rebalance): p.uncommitted must still be there. */
        rd_kafka_consumer_close(p.consumer);
        rd_kafka_destroy(p.consumer);
        p.consumer = NULL;
    }
    if (p.uncommitted != NULL) rd_kafka_topic_partition_list_destroy(p.uncommitted);
    p.uncommitted = NULL;
    if (p.dlq != NULL) {
        rd_kafka_flush(p.dlq, 10000);
        rd_kafka_destroy(p.dlq);
    }
    ll_rm_pool_stop(p.pool);
    ll_projector_metrics_stop(p.metrics);
    ll_rm_follower_close(&p.follow);
    ll_rm_client_free(p.mongo);
    ll_uuid_map_free(&p.stopped);
    ll_uuid_map_free(&p.waiting);
    ll_uuid_map_free(&p.batch_index);
    ll_event_reader_free(p.store);
    for (int k = 0; p.accounts != NULL && k < p.n_accounts; k++) free(p.accounts[k].own);
    ll_account_cache_free(p.cache);
    for (int s = 0; s < p.n_shards; s++) ll_rm_writes_free(p.writes[s]);
    free(p.tasks);
    free(p.fold);
    free(p.order);
    free(p.accounts);
    free(p.state_ids);
    free(p.state_versions);
    free(p.states);
    free(p.state_found);
    free(p.state_account);
    free(p.items);
    if (rc == LL_ENOMEM && !err->msg[0]) ll_error_set(err, LL_ENOMEM, "out of memory");
    return rc;
}
