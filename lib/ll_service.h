/* ll_service.h - the main() of an HTTP service (command service, query API): arguments,
 * configuration, signals, the h2o server, the API's start, the run loop and a graceful stop. */
#ifndef LL_SERVICE_H
#define LL_SERVICE_H

#include "ll_config.h"
#include "ll_http.h"

typedef struct ll_service_desc {
    const char *program;      /* "ledgerline-command" */
    const char *service;      /* "command": the name in log lines */
    const char *listen_key;   /* config key of the listen address, overridden by --listen */
    const char *threads_flag; /* "--writers" or "--workers" */
    int threads_default, threads_max;
    const char *usage;         /* the whole --help text */
    const ll_route_t *routes;  /* the service's route table (ll_route.h) */
    void *(*create)(const ll_config_t *cfg, ll_error_t *err);
    int (*start)(void *api, h2o_loop_t *loop, int threads, ll_error_t *err);
    ll_http_handler_fn handle;
    int (*drained)(void *api);
    void (*destroy)(void *api);
    char *(*metrics)(void *api); /* optional: more Prometheus text for /metrics */
} ll_service_desc_t;

/* Runs the service until SIGTERM/SIGINT. Returns the process exit status: 0 after a clean stop,
 * 1 when it cannot start (the reason printed), as every service documents. */
int ll_service_main(const ll_service_desc_t *d, int argc, char **argv);

#endif
