/* ll_projector_metrics.c - see ll_projector_metrics.h. */
#include "ll_projector_metrics.h"

#include "ll_clock.h"
#include "ll_http.h"
#include "ll_metrics.h"
#include "ll_text.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A stopped server's h2o context is left to the process exit (ll_http_server_dispose); its
 * owner stays reachable through this, so it is neither freed under h2o nor reported leaked. */
static struct ll_projector_metrics *volatile retired;

struct ll_projector_metrics {
    pthread_mutex_t mu;
    ll_projector_snapshot_t snap; /* the latest published */
    char topic[256];
    ll_http_server_t srv;
    pthread_t thread;
    volatile sig_atomic_t stop;
    atomic_int parked; /* the server thread stopped serving */
};

/* A counter's series; help only with its first. */
static void counter(ll_text_t *t, const char *name, const char *help, const char *label, uint64_t v) {
    ll_metrics_series(t, "projector", name, help ? "counter" : NULL, help, label, v);
}

char *ll_projector_metrics_render(const ll_projector_snapshot_t *s, const char *topic, int64_t now_ms) {
    ll_text_t t;
    ll_text_init(&t);
    const char *events = "ledgerline_projector_events_total";
    counter(&t, events, "Events by what the projector did with them.", "outcome=\"applied\"", s->applied);
    counter(&t, events, NULL, "outcome=\"duplicate\"", s->duplicates);
    counter(&t, events, NULL, "outcome=\"gap\"", s->gaps);
    counter(&t, events, NULL, "outcome=\"dead_letter\"", s->dead_letters);
    counter(&t, "ledgerline_projector_batches_total", "Batches projected and committed.", "", s->batches);
    counter(&t, "ledgerline_projector_batch_failures_total", "Batch attempts that failed and were retried.",
            "", s->batch_failures);
    ll_metrics_series(&t, "projector", "ledgerline_projector_halted_accounts", "gauge",
                      "Accounts stopped by a gap or a refused event (alarm when > 0).", "",
                      s->halted_accounts);
    ll_metrics_series(&t, "projector", "ledgerline_projector_generation", "gauge",
                      "The read-model generation written to.", "", (uint64_t)s->generation);
    ll_text_printf(&t, "# HELP ledgerline_projector_lag_events Events in the partition not projected yet.\n"
                       "# TYPE ledgerline_projector_lag_events gauge\n");
    for (int i = 0; i < s->n_partitions; i++) {
        const ll_partition_progress_t *p = &s->partitions[i];
        long long lag =
            p->high >= 0 && p->committed >= 0 && p->high > p->committed ? p->high - p->committed : 0;
        ll_text_printf(
            &t, "ledgerline_projector_lag_events{service=\"projector\",topic=\"%s\",partition=\"%d\"} %lld\n",
            topic, (int)p->partition, lag);
    }
    ll_text_printf(&t,
                   "# HELP ledgerline_projector_lag_seconds While behind: age of the newest event projected "
                   "from the partition.\n# TYPE ledgerline_projector_lag_seconds gauge\n");
    for (int i = 0; i < s->n_partitions; i++) {
        const ll_partition_progress_t *p = &s->partitions[i];
        int behind = p->high >= 0 && p->committed >= 0 && p->high > p->committed;
        char value[32] = "0";
        if (behind && p->newest_ts_ms < 0)
            strcpy(value, "NaN");
        else if (behind)
            snprintf(value, sizeof value, "%.3f",
                     (double)(now_ms > p->newest_ts_ms ? now_ms - p->newest_ts_ms : 0) / 1e3);
        ll_text_printf(
            &t, "ledgerline_projector_lag_seconds{service=\"projector\",topic=\"%s\",partition=\"%d\"} %s\n",
            topic, (int)p->partition, value);
    }
    return ll_text_take(&t);
}

static int handle(void *app, h2o_req_t *req) {
    ll_projector_metrics_t *m = app;
    int is_get = req->method.len == 3 && memcmp(req->method.base, "GET", 3) == 0;
    if (is_get && req->path_normalized.len == 8 && memcmp(req->path_normalized.base, "/healthz", 8) == 0) {
        ll_http_send(req, 200, "application/json", "{\"status\":\"ok\"}", 15, NULL);
        return 0;
    }
    if (!is_get || req->path_normalized.len != 8 || memcmp(req->path_normalized.base, "/metrics", 8) != 0) {
        ll_http_problem(req, 404, "not-found", "Not found", "this port serves GET /metrics and /healthz");
        return 0;
    }
    pthread_mutex_lock(&m->mu);
    char *text = ll_projector_metrics_render(&m->snap, m->topic, ll_clock_wall_us() / 1000);
    pthread_mutex_unlock(&m->mu);
    if (text == NULL) {
        ll_http_problem(req, 503, "overloaded", "Service unavailable", "out of memory");
        return 0;
    }
    ll_http_send(req, 200, "text/plain; version=0.0.4", text, strlen(text), NULL);
    free(text);
    return 0;
}

/* h2o keeps recycled memory in thread-local lists it has no call to free (h2o 2.2), so this
 * thread never exits: once stopped it parks until the process exits, and LeakSanitizer still
 * sees those lists through the live thread. */
static void *serve(void *arg) {
    ll_projector_metrics_t *m = arg;
    ll_http_server_run(&m->srv, &m->stop, NULL, 0);
    ll_http_server_dispose(&m->srv);
    atomic_store(&m->parked, 1);
    for (;;) pause();
    return NULL;
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
    /* Small limits: this port takes no bodies and answers at once. */
    if (ll_http_server_init(&m->srv, listen, handle, m, 1024, 5000, err) != 0) {
        pthread_mutex_destroy(&m->mu);
        free(m);
        return NULL;
    }
    pthread_attr_t attr;
    int started = 0;
    if (pthread_attr_init(&attr) == 0) {
        started = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
                  pthread_create(&m->thread, &attr, serve, m) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!started) {
        ll_http_server_dispose(&m->srv);
        pthread_mutex_destroy(&m->mu);
        free(m);
        ll_error_set(err, LL_EIO, "cannot start the metrics thread");
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
    m->stop = 1;
    for (int i = 0; i < 500 && !atomic_load(&m->parked); i++)
        ll_sleep_ms(10); /* it sees stop within 100 ms */
    retired = m;
}
