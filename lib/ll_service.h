/* ll_service.h - the start-up path of every service: arguments, configuration, signals and the
 * started and stopped lines (ll_service_begin, for the projector and the relay too), and the
 * main() of an HTTP service (command service, query API): the h2o server, the API's start, the
 * run loop and a graceful stop. */
#ifndef LL_SERVICE_H
#define LL_SERVICE_H

#include "ll_cli.h"
#include "ll_config.h"
#include "ll_http.h"

#include <signal.h>

#define LL_SERVICE_OPTIONS_MAX 12 /* a program's own options, beside --config and its listen */

typedef struct ll_service_start {
    const char *program;            /* "ledgerline-relay": the name in its messages */
    const char *usage;              /* the whole --help text */
    const char *listen_option;      /* "listen", "metrics-listen": --OPTION HOST:PORT overrides */
    const char *listen_key;         /* ... this configuration key */
    const ll_cli_option_t *options; /* the program's own (ll_cli.h), or NULL */
} ll_service_start_t;

/* What a service's main does first, the same way everywhere: parses argv (-h/--help, --config
 * FILE, the listen option and s->options, with getopt_long), loads the configuration into cfg,
 * applies the listen override, and has SIGTERM and SIGINT set *stop. Returns -1 to go on, else
 * the exit status to return now: 0 after --help, 1 for bad arguments or configuration (the
 * reason printed to stderr). */
int ll_service_begin(const ll_service_start_t *s, int argc, char **argv, ll_config_t *cfg,
                     volatile sig_atomic_t *stop);

/* The line a background service logs when it starts ("started", with key: value when key is
 * not NULL), and the line every service logs when it stopped cleanly. */
void ll_service_started(const char *service, const char *key, const char *value);
void ll_service_stopped(const char *service);

/* How a background service (projector, relay) ends once its run returned rc: 0 after the stopped
 * line, or 1 after "PROGRAM: reason" on stderr when rc is not 0. Returns the exit status. */
int ll_service_end(const char *program, const char *service, int rc, const ll_error_t *err);

/* What an HTTP service's API (the command service's, the query API's) gives ll_service_main:
 * its routes and the steps of its life. api: what create returned. */
typedef struct ll_service_api {
    const ll_route_t *routes;                                 /* its route table (ll_route.h) */
    void *(*create)(const ll_config_t *cfg, ll_error_t *err); /* NULL with err set */
    int (*start)(void *api, h2o_loop_t *loop, int threads, ll_error_t *err); /* 0, or < 0 with err */
    ll_http_handler_fn handle;
    int (*drained)(void *api);   /* nothing in flight (ll_http_server_run's drain check) */
    char *(*metrics)(void *api); /* optional: more Prometheus text for /metrics (malloc'd) */
    void (*destroy)(void *api);  /* after the loop drained; also after a failed start */
} ll_service_api_t;

typedef struct ll_service_desc {
    const char *program;      /* "ledgerline-command" */
    const char *service;      /* "command": the name in log lines */
    const char *listen_key;   /* config key of the listen address, overridden by --listen */
    const char *threads_flag; /* "--writers" or "--workers" */
    int threads_default, threads_max;
    const char *usage;           /* the whole --help text */
    const ll_service_api_t *api; /* what the service serves */
} ll_service_desc_t;

/* Runs the service until SIGTERM/SIGINT. Returns the process exit status: 0 after a clean stop,
 * 1 when it cannot start (the reason printed), as every service documents. */
int ll_service_main(const ll_service_desc_t *d, int argc, char **argv);

#endif
