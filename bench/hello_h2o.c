/* The baseline of the query benchmark: the same h2o scaffolding as ledgerline-query (lib/ll_http)
 * answering every GET with a fixed JSON body of an account's size, doing no other work. */
#include "ll_cli.h"
#include "ll_http.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;

static const char body[] = "{\"account_id\":\"00000000-0000-4000-8000-000000000001\",\"owner\":\"bench\","
                           "\"currency\":\"EUR\",\"status\":\"open\",\"balance_minor\":123456,\"version\":42,"
                           "\"updated_at\":\"2026-11-24T12:00:00.000000Z\"}";

static int handle(void *app, h2o_req_t *req, const ll_route_match_t *route) {
    (void)app, (void)route;
    ll_http_send(req, 200, "application/json", body, sizeof body - 1, NULL);
    return 0;
}

int main(int argc, char **argv) {
    const char *listen_on = argc > 2 && !strcmp(argv[1], "--listen") ? argv[2] : "127.0.0.1:18095";
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("Usage: hello_h2o [--listen HOST:PORT]   (benchmark baseline; SIGTERM stops it)\n");
        return 0;
    }
    ll_cli_stop_on_signals(&stop_requested);
    static ll_http_server_t srv;
    ll_error_t err = {""};
    if (ll_http_server_init(&srv, listen_on, handle, NULL, 1 << 20, 5000, &err) != 0) {
        fprintf(stderr, "hello_h2o: %s\n", err.msg);
        return 1;
    }
    ll_http_server_run(&srv, &stop_requested, NULL, 0);
    ll_http_server_dispose(&srv);
    return 0;
}
