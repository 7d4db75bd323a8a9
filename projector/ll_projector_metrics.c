/* ll_projector_metrics.c - see ll_projector_metrics.h. */
#include "ll_projector_metrics.h"

#include "ll_clock.h"
#include "ll_metrics.h"
#include "ll_metrics_server.h"
#include "ll_text.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A server that did not stop in time keeps its metrics reachable: render may still read them. */
static struct ll_projector_metrics *volatile still_serving;

struct ll_projector_metrics {
    pthread_mutex_t mu;
    ll_projector_snapshot_t snap; /* the latest published */
    char topic[256];
    ll_metrics_server_t *server;
};

/* A counter's series; help only with its first. */
static void counter(ll_text_t *t, const char *name, const char *help, const char *label, uint64_t v) {
    ll_metrics_series(t, "projector", name, help ? "counter" : NULL, help, label, v);
}

/* A gauge of one series. */
static void gauge(ll_text_t *t, const char *name, const char *help, uint64_t v) {
    ll_metrics_series(t, "projector", name, "gauge", help, "", v);
}

const char *ll_projector_phase_name(ll_projector_phase_t phase) {
    static const char *const names[LL_PROJECTOR_PHASES] = {"collect", "decode", "read",
                                                           "plan",    "write",  "commit"};
    return phase >= 0 && phase < LL_PROJECTOR_PHASES ? names[phase] : "?";
}

/* The counters: events by outcome, batches, reads, the event store's share, documents written. */
static void render_counters(ll_text_t *t, const ll_projector_snapshot_t *s) {
    const char *events = "ledgerline_projector_events_total";
    counter(t, events, "Events by what the projector did with them.", "outcome=\"applied\"", s->applied);
    counter(t, events, NULL, "outcome=\"duplicate\"", s->duplicates);
    counter(t, events, NULL, "outcome=\"gap\"", s->gaps);
    counter(t, events, NULL, "outcome=\"dead_letter\"", s->dead_letters);
    counter(t, "ledgerline_projector_batches_total", "Batches projected and committed.", "", s->batches);
    counter(t, "ledgerline_projector_batch_failures_total", "Batch attempts that failed and were retried.",
            "", s->batch_failures);
    counter(t, "ledgerline_projector_account_reads_total",
            "Accounts read from the read model because the projector did not remember them.", "",
            s->account_reads);
    counter(
        t, "ledgerline_projector_store_states_total",
        "Accounts not remembered whose state was taken from the event store (one query per batch) instead of "
        "the read model.",
        "", s->store_states);
    counter(t, "ledgerline_projector_seal_reads_total",
            "Pages sealed by reading their earlier items back from the read model (not remembered with the "
            "account).",
            "", s->seal_reads);
    counter(t, "ledgerline_projector_healed_events_total",
            "Events applied from the event store to close version gaps (the topic skipped them).", "",
            s->healed_events);
    counter(t, "ledgerline_projector_heal_failures_total",
            "Version gaps the event store could not close when met (unreachable): the batch is retried.", "",
            s->heal_failures);
    const char *holes = "ledgerline_projector_holes_total";
    counter(t, holes,
            "Accounts whose read model turned out to miss events below what it was taken to hold (a later "
            "event came first, a copy was undecodable or refused, a store state trusted wrongly), and those "
            "brought up to the event store since.",
            "outcome=\"found\"", s->holes_found);
    counter(t, holes, NULL, "outcome=\"healed\"", s->holes_healed);
    counter(t, "ledgerline_projector_replaced_events_total",
            "Events whose copy in the topic the domain refused (a broken hash link, a forged copy) while the "
            "event store holds a valid one: the store's was applied, the copy dead-lettered.",
            "", s->replaced_events);
    counter(t, "ledgerline_projector_conflicts_total",
            "Accounts another writer had moved meanwhile: read again and rewritten.", "", s->conflicts);
    const char *docs = "ledgerline_projector_documents_written_total";
    counter(t, docs, "Documents written, by collection.", "collection=\"events\"", s->docs_events);
    counter(t, docs, NULL, "collection=\"pages\"", s->docs_pages);
    counter(t, docs, NULL, "collection=\"accounts\"", s->docs_accounts);
}

/* Time per phase, and the gauges: what is remembered, halted, waiting, the generation. */
static void render_gauges(ll_text_t *t, const ll_projector_snapshot_t *s) {
    ll_text_printf(t,
                   "# HELP ledgerline_projector_busy_seconds_total Time spent in each phase of the batches "
                   "(collect: from a batch's first message to its last).\n"
                   "# TYPE ledgerline_projector_busy_seconds_total counter\n");
    for (int i = 0; i < LL_PROJECTOR_PHASES; i++)
        ll_text_printf(t,
                       "ledgerline_projector_busy_seconds_total{service=\"projector\",phase=\"%s\"} %.6f\n",
                       ll_projector_phase_name((ll_projector_phase_t)i), (double)s->phase_us[i] / 1e6);
    gauge(t, "ledgerline_projector_cached_accounts",
          "Accounts the projector remembers (projector_cache_accounts at most).", s->cache_accounts);
    gauge(t, "ledgerline_projector_cached_items_bytes",
          "Memory the remembered accounts' open-page statement items take (projector_cache_items_bytes at "
          "most): a page seals from them without reading its events back.",
          s->cache_items_bytes);
    gauge(t, "ledgerline_projector_halted_accounts",
          "Accounts stopped by an event the domain refuses, dead-lettered (alarm when > 0).",
          s->halted_accounts);
    gauge(t, "ledgerline_projector_waiting_accounts",
          "Accounts behind a version gap not closed yet: the batch holding them is being written, or, "
          "while the event store cannot be read, retried with nothing after it committed (alarm when "
          "it stays > 0).",
          s->waiting_accounts);
    gauge(t, "ledgerline_projector_generation", "The read-model generation written to.",
          (uint64_t)s->generation);
}

/* Events in partition p not projected yet; 0 also while its offsets are not known. */
static long long partition_lag(const ll_partition_progress_t *p) {
    return p->high >= 0 && p->committed >= 0 && p->high > p->committed ? p->high - p->committed : 0;
}

/* Per partition: events not projected yet, and while behind the age of the newest projected. */
static void render_lag(ll_text_t *t, const ll_projector_snapshot_t *s, const char *topic, int64_t now_ms) {
    ll_text_printf(t, "# HELP ledgerline_projector_lag_events Events in the partition not projected yet.\n"
                      "# TYPE ledgerline_projector_lag_events gauge\n");
    for (int i = 0; i < s->n_partitions; i++) {
        const ll_partition_progress_t *p = &s->partitions[i];
        ll_text_printf(
            t, "ledgerline_projector_lag_events{service=\"projector\",topic=\"%s\",partition=\"%d\"} %lld\n",
            topic, (int)p->partition, partition_lag(p));
    }
    ll_text_printf(t,
                   "# HELP ledgerline_projector_lag_seconds While behind: age of the newest event projected "
                   "from the partition.\n# TYPE ledgerline_projector_lag_seconds gauge\n");
    for (int i = 0; i < s->n_partitions; i++) {
        const ll_partition_progress_t *p = &s->partitions[i];
        int behind = partition_lag(p) > 0;
        char value[32] = "0";
        if (behind && p->newest_ts_ms < 0)
            strcpy(value, "NaN");
        else if (behind)
            snprintf(value, sizeof value, "%.3f",
                     (double)(now_ms > p->newest_ts_ms ? now_ms - p->newest_ts_ms : 0) / 1e3);
        ll_text_printf(
            t, "ledgerline_projector_lag_seconds{service=\"projector\",topic=\"%s\",partition=\"%d\"} %s\n",
            topic, (int)p->partition, value);
    }
}

char *ll_projector_metrics_render(const ll_projector_snapshot_t *s, const char *topic, int64_t now_ms) {
    ll_text_t t;
    ll_text_init(&t);
    render_counters(&t, s);
    render_gauges(&t, s);
    render_lag(&t, s, topic, now_ms);
    return ll_text_take(&t);
}

int ll_projector_ready(const ll_projector_snapshot_t *s, char *detail, size_t detail_size) {
    if (s->generation <= 0) {
        snprintf(detail, detail_size, "not projecting yet: no read-model generation opened");
        return -1;
    }
    if (s->halted_accounts > 0) {
        snprintf(detail, detail_size,
                 "%llu accounts halted by a refused event (see the log and the dead-letter topic); "
                 "the others are projected",
                 (unsigned long long)s->halted_accounts);
        return -1;
    }
    return 0;
}

static int ready_latest(void *ctx, char *detail, size_t detail_size) {
    ll_projector_metrics_t *m = ctx;
    pthread_mutex_lock(&m->mu);
    int rc = ll_projector_ready(&m->snap, detail, detail_size);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* The server thread's view: the latest snapshot, rendered under the lock. */
static char *render_latest(void *ctx) {
    ll_projector_metrics_t *m = ctx;
    pthread_mutex_lock(&m->mu);
    char *text = ll_projector_metrics_render(&m->snap, m->topic, ll_clock_wall_us() / 1000);
    pthread_mutex_unlock(&m->mu);
    return text;
}

ll_projector_metrics_t *ll_projector_metrics_start(const char *listen, const char *topic, ll_error_t *err) {
    ll_projector_metrics_t *m = calloc(1, sizeof *m);
    if (m == NULL) {
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(m->topic, sizeof m->topic, "%s", topic);
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        ll_error_set(err, LL_EIO, "mutex");
        return NULL;
    }
    m->server = ll_metrics_server_start(listen, render_latest, ready_latest, m, err);
    if (m->server == NULL) {
        pthread_mutex_destroy(&m->mu);
        free(m);
        return NULL;
    }
    return m;
}

void ll_projector_metrics_publish(ll_projector_metrics_t *m, const ll_projector_snapshot_t *s) {
    pthread_mutex_lock(&m->mu);
    m->snap = *s;
    pthread_mutex_unlock(&m->mu);
}

void ll_projector_metrics_stop(ll_projector_metrics_t *m) {
    if (m == NULL) return;
    if (!ll_metrics_server_stop(m->server)) {
        still_serving = m;
        return;
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}
