/* ll_commit_watch.c - see ll_commit_watch.h. */
#include "ll_commit_watch.h"

#include "ll_clock.h"
#include "ll_kafka.h"
#include "ll_log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define WANT_MS       100  /* a wait's ask keeps its partition fetched this long */
#define STALE_MS      1000 /* an answer older than this tells nothing any more */
#define FETCH_TIMEOUT 1000 /* one OffsetFetch, Kafka unreachable included */
#define IDLE_WAKE_MS  1000 /* the idle thread looks at stop this often */

struct ll_commit_watch {
    const ll_config_t *cfg;
    rd_kafka_t *consumer;
    pthread_t thread;
    pthread_mutex_t mu; /* with wake: the thread sleeps while no wait asks */
    pthread_cond_t wake;
    atomic_int stop;
    atomic_int span; /* partitions below it have been asked about */
    /* per partition: asked for until (ms), the last answer (offset or -1: none), when it was asked */
    atomic_llong wanted_until[LL_COMMIT_WATCH_PARTITIONS_MAX], asked_since[LL_COMMIT_WATCH_PARTITIONS_MAX];
    atomic_llong committed[LL_COMMIT_WATCH_PARTITIONS_MAX];
    atomic_llong fetched_ms[LL_COMMIT_WATCH_PARTITIONS_MAX];
    atomic_uint_fast64_t fetches, errors;
};

static int any_wanted(ll_commit_watch_t *w, int64_t now) {
    int span = atomic_load(&w->span);
    for (int p = 0; p < span; p++)
        if (atomic_load(&w->wanted_until[p]) >= now) return 1;
    return 0;
}

/* One OffsetFetch for every partition a wait asked about lately; 0 when none was asked. */
static int fetch_wanted(ll_commit_watch_t *w, int *failed) {
    int64_t t0 = ll_clock_ms();
    int span = atomic_load(&w->span);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(span > 0 ? span : 1);
    for (int p = 0; p < span; p++)
        if (atomic_load(&w->wanted_until[p]) >= t0)
            rd_kafka_topic_partition_list_add(parts, w->cfg->kafka_topic_events, p);
    int n = parts->cnt;
    if (n > 0) {
        rd_kafka_resp_err_t e = rd_kafka_committed(w->consumer, parts, FETCH_TIMEOUT);
        atomic_fetch_add(&w->fetches, 1);
        for (int i = 0; e == RD_KAFKA_RESP_ERR_NO_ERROR && i < parts->cnt; i++) {
            const rd_kafka_topic_partition_t *tp = &parts->elems[i];
            if ((e = tp->err) != RD_KAFKA_RESP_ERR_NO_ERROR) break;
            atomic_store(&w->committed[tp->partition], tp->offset >= 0 ? tp->offset : -1);
            atomic_store(&w->fetched_ms[tp->partition], t0); /* as of when it was asked */
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            atomic_fetch_add(&w->errors, 1);
            if (!*failed) /* once per outage: waits poll the read store meanwhile */
                ll_log_line("warn", "query", "projector offsets: cannot fetch; waits poll the read model",
                            NULL, rd_kafka_err2str(e));
        }
        *failed = e != RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_poll(w->consumer, 0); /* serves what the client queued (logs, errors) */
    int64_t left = t0 + LL_COMMIT_WATCH_POLL_MS - ll_clock_ms();
    if (n > 0 && left > 0) ll_sleep_ms(left);
    return n;
}

static void *run(void *arg) {
    ll_commit_watch_t *w = arg;
    int failed = 0;
    while (!atomic_load(&w->stop)) {
        if (fetch_wanted(w, &failed) > 0) continue;
        pthread_mutex_lock(&w->mu);
        while (!atomic_load(&w->stop) && !any_wanted(w, ll_clock_ms())) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_sec += IDLE_WAKE_MS / 1000;
            pthread_cond_timedwait(&w->wake, &w->mu, &until);
        }
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

/* The idle thread's lock and wake-up, on the monotonic clock. Returns 0 or -1. */
static int init_wake(ll_commit_watch_t *w) {
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) return -1;
    int ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&w->wake, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (ok && pthread_mutex_init(&w->mu, NULL) == 0) return 0;
    if (ok) pthread_cond_destroy(&w->wake);
    return -1;
}

ll_commit_watch_t *ll_commit_watch_start(const ll_config_t *cfg, ll_error_t *err) {
    ll_commit_watch_t *w = calloc(1, sizeof *w);
    if (w == NULL) {
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    w->cfg = cfg;
    for (int p = 0; p < LL_COMMIT_WATCH_PARTITIONS_MAX; p++) atomic_init(&w->fetched_ms[p], INT64_MIN / 2);
    if (init_wake(w) != 0) {
        free(w);
        ll_error_set(err, LL_EIO, "cannot make the offset watch's lock");
        return NULL;
    }
    /* Only to read the projector group's committed offsets: it never subscribes, joins, reads
     * or commits. */
    const char *const settings[] = {"bootstrap.servers", cfg->kafka_bootstrap_servers,
                                    "group.id",          cfg->kafka_projector_group,
                                    "client.id",         "ledgerline-query-commits",
                                    NULL};
    w->consumer = ll_kafka_client(RD_KAFKA_CONSUMER, LL_KAFKA_READER_SETTINGS, settings, err);
    if (w->consumer == NULL || pthread_create(&w->thread, NULL, run, w) != 0) {
        if (w->consumer != NULL) {
            rd_kafka_destroy(w->consumer);
            ll_error_set(err, LL_EIO, "cannot start the offset watch thread");
        }
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    return w;
}

int64_t ll_commit_watch_get(ll_commit_watch_t *w, int32_t partition) {
    if (partition < 0 || partition >= LL_COMMIT_WATCH_PARTITIONS_MAX) return LL_COMMIT_NONE;
    int64_t now = ll_clock_ms();
    if (atomic_exchange(&w->wanted_until[partition], now + WANT_MS) < now) {
        /* A new ask: the thread may be asleep. */
        atomic_store(&w->asked_since[partition], now);
        int span = atomic_load(&w->span);
        while (span <= partition && !atomic_compare_exchange_weak(&w->span, &span, partition + 1)) {
        }
        pthread_mutex_lock(&w->mu);
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->mu);
    }
    if (now - atomic_load(&w->fetched_ms[partition]) <= STALE_MS) {
        int64_t c = atomic_load(&w->committed[partition]);
        return c >= 0 ? c : LL_COMMIT_NONE;
    }
    /* No recent answer: the first one of this ask is coming, unless Kafka has not answered since. */
    return now - atomic_load(&w->asked_since[partition]) < STALE_MS ? LL_COMMIT_PENDING : LL_COMMIT_NONE;
}

void ll_commit_watch_stats(ll_commit_watch_t *w, ll_commit_watch_stats_t *out) {
    out->errors = atomic_load(&w->errors); /* first: a fetch is counted before its failure */
    out->fetches = atomic_load(&w->fetches);
}

void ll_commit_watch_stop(ll_commit_watch_t *w) {
    if (w == NULL) return;
    atomic_store(&w->stop, 1);
    pthread_mutex_lock(&w->mu);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    rd_kafka_consumer_close(w->consumer); /* it never joined: nothing to leave or commit */
    rd_kafka_destroy(w->consumer);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
