/* ledgerline-command: the command service. HTTP on an h2o event loop; commands are decided with
 * domain/ and written by a pool of writer threads (group commit) to PostgreSQL. */
#include "ll_cli.h"
#include "ll_command_api.h"
#include "ll_http.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;

static void usage(FILE *out) {
    fprintf(out,
            "Usage: ledgerline-command [--config FILE] [--listen HOST:PORT] [--writers N]\n"
            "\n"
            "Serves the command API (POST /v1/accounts, /v1/accounts/{id}/deposits, /withdrawals, /close,\n"
            "/v1/transfers; GET /healthz, /readyz). Every POST needs an Idempotency-Key header.\n"
            "Commands are appended to the PostgreSQL event store (pg_conninfo) with their outbox rows;\n"
            "the relay (ledgerline-relay) publishes them to Kafka.\n"
            "\n"
            "  --config FILE       configuration file (ledgerline-config --help)\n"
            "  --listen HOST:PORT  overrides command_listen (default 127.0.0.1:8080)\n"
            "  --writers N         writer threads, each with one PostgreSQL connection (default 2)\n"
            "  -h, --help          this help\n"
            "\n"
            "SIGTERM or SIGINT: stop accepting, finish queued commands, exit 0.\n"
            "Exit status: 0 after a clean stop, 1 when it cannot start (the reason is printed).\n");
}

int main(int argc, char **argv) {
    const char *path = NULL, *listen_on = NULL;
    int writers = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            path = argv[++i];
        } else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
            listen_on = argv[++i];
        } else if (!strcmp(argv[i], "--writers") && i + 1 < argc) {
            writers = atoi(argv[++i]);
        } else {
            fprintf(stderr, "ledgerline-command: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 1;
        }
    }
    static ll_config_t cfg;
    ll_error_t err = {""};
    if (ll_cli_load_config("ledgerline-command", path, &cfg) != 0) return 1;
    if (listen_on && ll_config_set(&cfg, "command_listen", listen_on, "--listen", &err) != 0) {
        fprintf(stderr, "ledgerline-command: invalid configuration: %s\n", err.msg);
        return 1;
    }
    ll_cli_stop_on_signals(&stop_requested);

    ll_command_api_t *api = ll_command_api_create(&cfg, &err);
    static ll_http_server_t srv;
    int rc = api ? ll_http_server_init(&srv, cfg.command_listen, ll_command_api_handle, api,
                                       LL_HTTP_ENTITY_BYTES_CAP, (uint64_t)cfg.request_timeout_ms, &err)
                 : LL_ENOMEM;
    if (rc == 0) rc = ll_command_api_start(api, srv.ctx.loop, writers, &err);
    if (rc != 0) {
        fprintf(stderr, "ledgerline-command: cannot start: %s\n", err.msg);
        ll_command_api_destroy(api);
        if (srv.ctx_ready) ll_http_server_dispose(&srv);
        return 1;
    }
    fprintf(stdout, "{\"msg\":\"listening\",\"service\":\"command\",\"listen\":\"%s\",\"writers\":%d}\n",
            cfg.command_listen, writers);
    fflush(stdout);
    ll_http_server_run(&srv, &stop_requested, ll_command_api_drained, 10000);
    ll_command_api_destroy(api);
    ll_http_server_dispose(&srv);
    fprintf(stdout, "{\"msg\":\"stopped\",\"service\":\"command\"}\n");
    return 0;
}
