/* ll_metrics_server.c - see ll_metrics_server.h. */
#include "ll_metrics_server.h"

#include "ll_clock.h"
#include "ll_http.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ll_metrics_server {
    char *(*render)(void *ctx);
    ll_metrics_ready_fn ready; /* NULL: no /readyz */
    void *ctx;
    ll_http_server_t srv;
    pthread_t thread;
    volatile sig_atomic_t stop;
    atomic_int parked; /* the server thread stopped serving */
    struct ll_metrics_server *next_retired;
};

/* A stopped server's h2o context is left to the process exit (ll_http_server_dispose); stopped
 * servers stay reachable through this list, so they are neither freed under h2o nor reported
 * leaked. */
static struct ll_metrics_server *retired;
static pthread_mutex_t retired_mu = PTHREAD_MUTEX_INITIALIZER;

static int handle(void *app, h2o_req_t *req, const ll_route_match_t *route) {
    ll_metrics_server_t *m = app;
    int op = route->route != NULL ? route->route->op : 0;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        static const char *const allow[] = {"allow", "GET, HEAD", NULL};
        ll_http_problem_headers(req, 405, "method-not-allowed", "Method not allowed", "use GET", allow);
        return 0;
    }
    if (op == LL_HTTP_HEALTHZ) {
        ll_http_healthy(req);
        return 0;
    }
    if (m->ready != NULL && op == LL_HTTP_READYZ) {
        char detail[256] = "";
        if (m->ready(m->ctx, detail, sizeof detail) == 0)
            ll_http_ready(req);
        else
            ll_http_problem(req, 503, "not-ready", "Not ready", detail);
        return 0;
    }
    if (op != LL_HTTP_METRICS) {
        ll_http_problem(req, 404, "not-found", "Not found",
                        m->ready ? "this port serves GET /metrics, /healthz and /readyz"
                                 : "this port serves GET /metrics and /healthz");
        return 0;
    }
    char *text = m->render(m->ctx);
    if (text == NULL) {
        ll_http_problem(req, 503, "overloaded", "Service unavailable", "out of memory");
        return 0;
    }
    ll_http_send(req, 200, "text/plain; version=0.0.4", text, strlen(text), NULL);
    free(text);
    return 0;
}

static void *serve(void *arg) {
    ll_metrics_server_t *m = arg;
    ll_http_server_run(&m->srv, &m->stop, NULL, 0);
    ll_http_server_dispose(&m->srv);
    atomic_store(&m->parked, 1);
    for (;;) pause();
    return NULL;
}

ll_metrics_server_t *ll_metrics_server_start(const char *listen, char *(*render)(void *ctx),
                                             ll_metrics_ready_fn ready, void *ctx, ll_error_t *err) {
    ll_metrics_server_t *m = calloc(1, sizeof *m);
    if (m == NULL) {
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    m->render = render;
    m->ready = ready;
    m->ctx = ctx;
    /* Small limits: this port takes no bodies and answers at once. */
    if (ll_http_server_init(&m->srv, listen, handle, m, 1024, 5000, err) != 0) {
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
        free(m);
        ll_error_set(err, LL_EIO, "cannot start the metrics thread");
        return NULL;
    }
    return m;
}

int ll_metrics_server_stop(ll_metrics_server_t *m) {
    if (m == NULL) return 1;
    m->stop = 1;
    for (int i = 0; i < 500 && !atomic_load(&m->parked); i++)
        ll_sleep_ms(10); /* it sees stop within 100 ms */
    pthread_mutex_lock(&retired_mu);
    m->next_retired = retired;
    retired = m;
    pthread_mutex_unlock(&retired_mu);
    return atomic_load(&m->parked);
}
