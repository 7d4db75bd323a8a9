/* ll_metrics.h - HTTP metrics in the Prometheus text format: requests by route and status, and
 * a latency histogram by route. Loop-thread only (no locks). Routes are the labels of a
 * service's route table ("/v1/accounts/{id}/deposits", ll_route.h), anything else is "other":
 * label cardinality stays bounded whatever clients send. */
#ifndef LL_METRICS_H
#define LL_METRICS_H

#include "ll_text.h"

#include <stddef.h>
#include <stdint.h>

#define LL_METRICS_SERIES_MAX 128 /* (route, status) pairs; more are counted as dropped */
#define LL_METRICS_BUCKETS    12

typedef struct {
    const char *route; /* a route label (static storage) */
    int status;
    uint64_t count;
    uint64_t buckets[LL_METRICS_BUCKETS]; /* cumulative counts per le bound, the last is +Inf */
    double sum_s;
} ll_metrics_series_t;

typedef struct ll_metrics {
    const char *service; /* the service label */
    ll_metrics_series_t series[LL_METRICS_SERIES_MAX];
    size_t n_series;
    uint64_t dropped;
} ll_metrics_t;

void ll_metrics_init(ll_metrics_t *m, const char *service);

/* route: a label of static storage (ll_route_label); series are told apart by its address. */
void ll_metrics_observe(ll_metrics_t *m, const char *route, int status, double seconds);

/* Appends one series of a service's own metric to t: first, when type ("counter", "gauge") is
 * not NULL, its # HELP and # TYPE lines (give them with the metric's first series only); then
 * name{service="SERVICE"[,labels]} value. labels: "" or `key="value"` pairs, constants only. */
void ll_metrics_series(ll_text_t *t, const char *service, const char *name, const char *type,
                       const char *help, const char *labels, uint64_t value);

/* As ll_metrics_series for a real value (seconds, ratios), printed with 9 significant digits. */
void ll_metrics_series_real(ll_text_t *t, const char *service, const char *name, const char *type,
                            const char *help, const char *labels, double value);

/* Renders everything; returns a malloc'd NUL-terminated text (caller frees) or NULL. */
char *ll_metrics_render(const ll_metrics_t *m);

#endif
