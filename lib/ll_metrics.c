/* ll_metrics.c - see ll_metrics.h. */
#include "ll_metrics.h"

#include "ll_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double bounds_s[LL_METRICS_BUCKETS - 1] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025,
                                                        0.05,   0.1,   0.25,  0.5,   1.0};

void ll_metrics_init(ll_metrics_t *m, const char *service) {
    memset(m, 0, sizeof *m);
    m->service = service;
}

void ll_metrics_observe(ll_metrics_t *m, const char *route, int status, double seconds) {
    ll_metrics_series_t *s = NULL;
    for (size_t i = 0; i < m->n_series && s == NULL; i++)
        if (m->series[i].route == route && m->series[i].status == status) s = &m->series[i];
    if (s == NULL) {
        if (m->n_series == LL_METRICS_SERIES_MAX) {
            m->dropped++;
            return;
        }
        s = &m->series[m->n_series++];
        s->route = route;
        s->status = status;
    }
    s->count++;
    s->sum_s += seconds;
    for (int b = 0; b < LL_METRICS_BUCKETS; b++)
        if (b == LL_METRICS_BUCKETS - 1 || seconds <= bounds_s[b]) s->buckets[b]++;
}

static void series(ll_text_t *t, const char *service, const char *name, const char *type, const char *help,
                   const char *labels, const char *value) {
    if (type != NULL) ll_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    ll_text_printf(t, "%s{service=\"%s\"%s%s} %s\n", name, service, labels[0] ? "," : "", labels, value);
}

void ll_metrics_series(ll_text_t *t, const char *service, const char *name, const char *type,
                       const char *help, const char *labels, uint64_t value) {
    char v[32];
    snprintf(v, sizeof v, "%llu", (unsigned long long)value);
    series(t, service, name, type, help, labels, v);
}

void ll_metrics_series_real(ll_text_t *t, const char *service, const char *name, const char *type,
                            const char *help, const char *labels, double value) {
    char v[32];
    snprintf(v, sizeof v, "%.9g", value);
    series(t, service, name, type, help, labels, v);
}

char *ll_metrics_render(const ll_metrics_t *m) {
    ll_text_t t;
    ll_text_init(&t);
    ll_text_printf(
        &t, "# HELP ledgerline_http_requests_total HTTP requests answered, by route template and status.\n"
            "# TYPE ledgerline_http_requests_total counter\n");
    for (size_t i = 0; i < m->n_series; i++)
        ll_text_printf(&t, "ledgerline_http_requests_total{service=\"%s\",route=\"%s\",status=\"%d\"} %llu\n",
                       m->service, m->series[i].route, m->series[i].status,
                       (unsigned long long)m->series[i].count);
    ll_text_printf(
        &t, "# HELP ledgerline_http_request_duration_seconds Time from request start to response end.\n"
            "# TYPE ledgerline_http_request_duration_seconds histogram\n");
    /* One histogram per route: the status series of a route added up. */
    for (size_t i = 0; i < m->n_series; i++) {
        int first = 1;
        for (size_t j = 0; j < i; j++) first &= m->series[j].route != m->series[i].route;
        if (!first) continue;
        uint64_t buckets[LL_METRICS_BUCKETS] = {0}, count = 0;
        double sum = 0;
        for (size_t j = i; j < m->n_series; j++) {
            if (m->series[j].route != m->series[i].route) continue;
            for (int b = 0; b < LL_METRICS_BUCKETS; b++) buckets[b] += m->series[j].buckets[b];
            count += m->series[j].count;
            sum += m->series[j].sum_s;
        }
        for (int b = 0; b < LL_METRICS_BUCKETS; b++) {
            char le[16];
            if (b == LL_METRICS_BUCKETS - 1)
                snprintf(le, sizeof le, "+Inf");
            else
                snprintf(le, sizeof le, "%g", bounds_s[b]);
            ll_text_printf(
                &t,
                "ledgerline_http_request_duration_seconds_bucket{service=\"%s\",route=\"%s\",le=\"%s\"} "
                "%llu\n",
                m->service, m->series[i].route, le, (unsigned long long)buckets[b]);
        }
        ll_text_printf(&t, "ledgerline_http_request_duration_seconds_sum{service=\"%s\",route=\"%s\"} %.6f\n",
                       m->service, m->series[i].route, sum);
        ll_text_printf(&t,
                       "ledgerline_http_request_duration_seconds_count{service=\"%s\",route=\"%s\"} %llu\n",
                       m->service, m->series[i].route, (unsigned long long)count);
    }
    ll_text_printf(&t,
                   "# HELP ledgerline_metrics_series_dropped_total Observations beyond the series limit.\n"
                   "# TYPE ledgerline_metrics_series_dropped_total counter\n"
                   "ledgerline_metrics_series_dropped_total{service=\"%s\"} %llu\n",
                   m->service, (unsigned long long)m->dropped);
    return ll_text_take(&t);
}
