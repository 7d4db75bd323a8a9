/* ll_event_tail.c - see ll_event_tail.h. */
#include "ll_event_tail.h"

#include "ll_clock.h"
#include "ll_event_codec.h"
#include "ll_kafka.h"
#include "ll_log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAIL_BATCH_MAX     256  /* events applied under one lock */
#define TAIL_RETRY_MS      1000 /* between attempts to reach Kafka */
#define TAIL_KAFKA_TIMEOUT 5000 /* metadata and committed-offset requests */
#define TAIL_GROWTH_MS     5000 /* how often the topic's partition count is looked at */

struct ll_event_tail {
    const ll_config_t *cfg;
    ll_account_view_t *view;
    rd_kafka_t *consumer;
    pthread_t thread;
    atomic_int stop;
    atomic_uint_fast64_t events, undecodable;
    atomic_int assigned;
    int partitions;          /* assigned so far: 0 .. partitions-1 */
    long long next_growth_ms; /* when to look for partitions added to the topic */
    ll_event_t batch[TAIL_BATCH_MAX];
    ll_view_position_t at[TAIL_BATCH_MAX]; /* where each was read: waits follow the projector by it */
};

static void log_warn(const char *msg, const char *detail) {
    ll_log_line("warn", "query", msg, NULL, detail);
}

/* Assigns the topic's partitions not assigned yet: all of them at first, at the projector
 * group's committed offset (the log's beginning where the group has none); those added to the
 * topic since, later, at their beginning: the projector may have committed past events of an
 * account that moved there before this tail looked, and a view that skipped them would keep
 * that account's older state (a partition added while running holds only what came since).
 * Returns 0, or -1 with err set (retry later). */
static int assign_at_projector_offsets(ll_event_tail_t *t, ll_error_t *err) {
    const char *topic = t->cfg->kafka_topic_events;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(t->consumer, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rkt ? rd_kafka_metadata(t->consumer, 0, rkt, &md, TAIL_KAFKA_TIMEOUT)
                                : RD_KAFKA_RESP_ERR__INVALID_ARG;
    if (rkt) rd_kafka_topic_destroy(rkt);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ll_error_set(err, LL_EIO, "metadata: %s", rd_kafka_err2str(e));
    int n = md->topic_cnt == 1 && md->topics[0].err == 0 ? md->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(md);
    if (n <= 0) return ll_error_set(err, LL_EIO, "topic %s has no partitions (yet)", topic);
    if (n <= t->partitions) return 0;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n - t->partitions);
    for (int i = t->partitions; i < n; i++) rd_kafka_topic_partition_list_add(parts, topic, i);
    int added = t->partitions > 0;
    e = added ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_committed(t->consumer, parts, TAIL_KAFKA_TIMEOUT);
    for (int i = 0; e == RD_KAFKA_RESP_ERR_NO_ERROR && i < parts->cnt; i++) {
        if (parts->elems[i].err) e = parts->elems[i].err;
        if (added || parts->elems[i].offset < 0) parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_error_t *ae = NULL;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && (ae = rd_kafka_incremental_assign(t->consumer, parts)) != NULL) {
        ll_error_set(err, LL_EIO, "assign: %s", rd_kafka_error_string(ae));
        rd_kafka_error_destroy(ae);
        rd_kafka_topic_partition_list_destroy(parts);
        return -1;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ll_error_set(err, LL_EIO, "projector offsets: %s", rd_kafka_err2str(e));
    if (t->partitions > 0) {
        char detail[64];
        snprintf(detail, sizeof detail, "%d -> %d partitions", t->partitions, n);
        ll_log_line("info", "query", "event tail: partitions added to the topic followed", NULL, detail);
    }
    t->partitions = n;
    return 0;
}

/* Decodes m into the batch; counts what does not decode. Takes ownership of m. */
static size_t take(ll_event_tail_t *t, rd_kafka_message_t *m, size_t n) {
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            log_warn("event tail: consumer error", rd_kafka_message_errstr(m));
    } else if (ll_event_decode(m->payload, m->len, &t->batch[n], NULL) == 0) {
        t->at[n] = (ll_view_position_t){m->partition, m->offset};
        n++;
    } else {
        atomic_fetch_add(&t->undecodable, 1);
    }
    rd_kafka_message_destroy(m);
    return n;
}

static void *run(void *arg) {
    ll_event_tail_t *t = arg;
    while (!atomic_load(&t->stop)) {
        if (!atomic_load(&t->assigned)) {
            ll_error_t err = {""};
            if (assign_at_projector_offsets(t, &err) != 0) {
                log_warn("event tail: not following the topic yet; reads use the read model", err.msg);
                for (int i = 0; i < TAIL_RETRY_MS / 100 && !atomic_load(&t->stop); i++) ll_sleep_ms(100);
                continue;
            }
            atomic_store(&t->assigned, 1);
            ll_account_view_set_ready(t->view);
            t->next_growth_ms = ll_clock_ms() + TAIL_GROWTH_MS;
        }
        if (ll_clock_ms() >= t->next_growth_ms) { /* partitions added while running (docs/scaling.md) */
            ll_error_t err = {""};
            if (assign_at_projector_offsets(t, &err) != 0)
                log_warn("event tail: could not look for added partitions", err.msg);
            t->next_growth_ms = ll_clock_ms() + TAIL_GROWTH_MS;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(t->consumer, 100);
        if (m == NULL) continue;
        size_t n = take(t, m, 0);
        /* Whatever else has already arrived joins the batch: one lock, one wake-up. */
        while (n < TAIL_BATCH_MAX && (m = rd_kafka_consumer_poll(t->consumer, 0)) != NULL) n = take(t, m, n);
        if (n > 0) ll_account_view_apply_at(t->view, t->batch, t->at, n);
        atomic_fetch_add(&t->events, n);
    }
    return NULL;
}

ll_event_tail_t *ll_event_tail_start(const ll_config_t *cfg, ll_account_view_t *view, ll_error_t *err) {
    ll_event_tail_t *t = calloc(1, sizeof *t);
    if (t == NULL) {
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    t->cfg = cfg;
    t->view = view;
    const char *const settings[] = {"bootstrap.servers", cfg->kafka_bootstrap_servers,
                                    /* Only to read the projector's committed offsets: this client
                                     * assigns partitions itself, never joins, never commits. */
                                    "group.id", cfg->kafka_projector_group, "client.id",
                                    "ledgerline-query-tail", "fetch.wait.max.ms", "10", NULL};
    t->consumer = ll_kafka_client(RD_KAFKA_CONSUMER, LL_KAFKA_LOG_READER_SETTINGS, settings, err);
    if (t->consumer == NULL) {
        free(t);
        return NULL;
    }
    rd_kafka_poll_set_consumer(t->consumer);
    if (pthread_create(&t->thread, NULL, run, t) != 0) {
        rd_kafka_destroy(t->consumer);
        free(t);
        ll_error_set(err, LL_EIO, "cannot start the event tail thread");
        return NULL;
    }
    return t;
}

void ll_event_tail_stats(ll_event_tail_t *t, ll_event_tail_stats_t *out) {
    out->events = atomic_load(&t->events);
    out->undecodable = atomic_load(&t->undecodable);
    out->assigned = atomic_load(&t->assigned);
}

void ll_event_tail_stop(ll_event_tail_t *t) {
    if (t == NULL) return;
    atomic_store(&t->stop, 1);
    pthread_join(t->thread, NULL);
    rd_kafka_consumer_close(t->consumer); /* nothing to commit: it never does */
    rd_kafka_destroy(t->consumer);
    free(t);
}
