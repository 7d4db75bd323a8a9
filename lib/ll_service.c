/* ll_service.c - see ll_service.h. */
#include "ll_service.h"

#include "ll_cli.h"
#include "ll_log.h"
#include "ll_openapi.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;

int ll_service_main(const ll_service_desc_t *d, int argc, char **argv) {
    const char *path = NULL, *listen_on = NULL;
    int threads = d->threads_default;
    for (int i = 1; i < argc; i++) {
        int bad = 0;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(d->usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            path = argv[++i];
        } else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
            listen_on = argv[++i];
        } else if (!strcmp(argv[i], d->threads_flag) && i + 1 < argc) {
            bad = ll_cli_int_arg(argv[++i], 1, d->threads_max, &threads);
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "%s: bad argument '%s'\n", d->program, argv[i]);
            fputs(d->usage, stderr);
            return 1;
        }
    }
    static ll_config_t cfg;
    ll_error_t err = {""};
    if (ll_cli_load_config(d->program, path, &cfg) != 0) return 1;
    if (listen_on && ll_config_set(&cfg, d->listen_key, listen_on, "--listen", &err) != 0) {
        fprintf(stderr, "%s: invalid configuration: %s\n", d->program, err.msg);
        return 1;
    }
    const char *listen = ll_config_get(&cfg, d->listen_key);
    ll_cli_stop_on_signals(&stop_requested);
    void *api = d->create(&cfg, &err);
    static ll_http_server_t srv;
    int rc = api ? ll_http_server_init(&srv, listen, d->handle, api, LL_HTTP_ENTITY_BYTES_CAP,
                                       (uint64_t)cfg.request_timeout_ms, &err)
                 : LL_ENOMEM;
    static const char *const documents[] = {"/openapi.yaml", "application/yaml", ll_openapi_yaml, NULL};
    if (rc == 0) {
        ll_http_server_routes(&srv, d->routes);
        ll_http_server_enable_metrics(&srv, d->service);
        ll_http_server_serve_documents(&srv, documents);
        ll_http_server_limit_connections(&srv, (size_t)cfg.http_connections_max);
        if (cfg.log_level[0] == 'd' || cfg.log_level[0] == 'i') ll_http_server_enable_access_log(&srv, d->service);
    }
    if (rc == 0 && d->metrics) ll_http_server_add_metrics(&srv, d->metrics);
    if (rc == 0) rc = d->start(api, srv.ctx.loop, threads, &err);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot start: %s\n", d->program, err.msg);
        if (api != NULL) d->destroy(api);
        if (srv.ctx_ready) ll_http_server_dispose(&srv);
        return 1;
    }
    ll_log_t l;
    ll_log_begin(&l, "info", d->service, "listening");
    ll_log_str(&l, "listen", listen);
    ll_log_int(&l, d->threads_flag + 2, threads); /* "--threads" -> "threads" */
    ll_log_end(&l);
    ll_http_server_run(&srv, &stop_requested, d->drained, 10000);
    d->destroy(api);
    ll_http_server_dispose(&srv);
    ll_log_begin(&l, "info", d->service, "stopped");
    ll_log_end(&l);
    return 0;
}
