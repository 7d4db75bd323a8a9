/* ledgerline-query: the query API. Reads MongoDB read models and, for balance-as-of and audit,
 * the PostgreSQL event store; every blocking read runs on a worker thread. */
#include "ll_cli.h"
#include "ll_http.h"
#include "ll_query_api.h"

#include <mongoc/mongoc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;

static void usage(FILE *out) {
    fprintf(
        out,
        "Usage: ledgerline-query [--config FILE] [--listen HOST:PORT] [--workers N]\n"
        "\n"
        "Serves GET /v1/accounts/{id}[?min_version=N], /v1/accounts/{id}/transactions[?limit&cursor],\n"
        "/v1/accounts/{id}/balance?as_of=RFC3339, /v1/accounts/{id}/audit[?from_version&to_version&limit],\n"
        "/v1/accounts/{id}/audit/verify, /healthz, /readyz. min_version waits up to 2 s for the read\n"
        "model (read-your-writes), then answers 503 with Retry-After: never stale data silently.\n"
        "\n"
        "  --config FILE       configuration file (ledgerline-config --help)\n"
        "  --listen HOST:PORT  overrides query_listen (default 127.0.0.1:8081)\n"
        "  --workers N         worker threads, each with a MongoDB and a PostgreSQL connection (default 4)\n"
        "  -h, --help          this help\n"
        "\n"
        "SIGTERM or SIGINT: stop accepting, finish queries in flight, exit 0.\n");
}

int main(int argc, char **argv) {
    const char *path = NULL, *listen_on = NULL;
    int workers = 4;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            path = argv[++i];
        } else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
            listen_on = argv[++i];
        } else if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
            workers = atoi(argv[++i]);
        } else {
            fprintf(stderr, "ledgerline-query: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 1;
        }
    }
    static ll_config_t cfg;
    ll_error_t err = {""};
    if (ll_cli_load_config("ledgerline-query", path, &cfg) != 0) return 1;
    if (listen_on && ll_config_set(&cfg, "query_listen", listen_on, "--listen", &err) != 0) {
        fprintf(stderr, "ledgerline-query: invalid configuration: %s\n", err.msg);
        return 1;
    }
    ll_cli_stop_on_signals(&stop_requested);
    mongoc_init();
    ll_query_api_t *api = ll_query_api_create(&cfg, &err);
    static ll_http_server_t srv;
    int rc = api ? ll_http_server_init(&srv, cfg.query_listen, ll_query_api_handle, api,
                                       LL_HTTP_ENTITY_BYTES_CAP, (uint64_t)cfg.request_timeout_ms, &err)
                 : LL_ENOMEM;
    if (rc == 0) rc = ll_query_api_start(api, srv.ctx.loop, workers, &err);
    if (rc != 0) {
        fprintf(stderr, "ledgerline-query: cannot start: %s\n", err.msg);
        ll_query_api_destroy(api);
        if (srv.ctx_ready) ll_http_server_dispose(&srv);
        mongoc_cleanup();
        return 1;
    }
    fprintf(stdout, "{\"msg\":\"listening\",\"service\":\"query\",\"listen\":\"%s\",\"workers\":%d}\n",
            cfg.query_listen, workers);
    fflush(stdout);
    ll_http_server_run(&srv, &stop_requested, ll_query_api_drained, 10000);
    ll_query_api_destroy(api);
    ll_http_server_dispose(&srv);
    mongoc_cleanup();
    fprintf(stdout, "{\"msg\":\"stopped\",\"service\":\"query\"}\n");
    return 0;
}
