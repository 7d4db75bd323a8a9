/* ll_service.c - see ll_service.h. */
#include "ll_service.h"

#include "ll_cli.h"
#include "ll_log.h"
#include "ll_openapi.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;

int ll_service_begin(const ll_service_start_t *s, int argc, char **argv, ll_config_t *cfg,
                     volatile sig_atomic_t *stop) {
    const char *path = NULL, *listen_on = NULL;
    ll_cli_option_t opts[LL_SERVICE_OPTIONS_MAX + 3] = {
        {.name = "config", .kind = LL_CLI_STR, .out = &path},
        {.name = s->listen_option, .kind = LL_CLI_STR, .out = &listen_on},
    };
    size_t n = 2;
    for (const ll_cli_option_t *o = s->options; o != NULL && o->name != NULL && n < LL_SERVICE_OPTIONS_MAX + 2; o++)
        opts[n++] = *o;
    int parsed = ll_cli_parse(s->program, s->usage, opts, argc, argv);
    if (parsed != LL_CLI_GO) return parsed == LL_CLI_DONE ? 0 : 1;
    if (ll_cli_load_config(s->program, path, cfg) != 0) return 1;
    ll_error_t err = {""};
    char flag[64];
    snprintf(flag, sizeof flag, "--%s", s->listen_option); /* the source its errors name */
    if (listen_on && ll_config_set(cfg, s->listen_key, listen_on, flag, &err) != 0) {
        fprintf(stderr, "%s: invalid configuration: %s\n", s->program, err.msg);
        return 1;
    }
    ll_cli_stop_on_signals(stop);
    return -1;
}

void ll_service_started(const char *service, const char *key, const char *value) {
    ll_log_t l;
    ll_log_begin(&l, "info", service, "started");
    if (key != NULL) ll_log_str(&l, key, value);
    ll_log_end(&l);
}

void ll_service_stopped(const char *service) {
    ll_log_t l;
    ll_log_begin(&l, "info", service, "stopped");
    ll_log_end(&l);
}

int ll_service_end(const char *program, const char *service, int rc, const ll_error_t *err) {
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", program, err->msg);
        return 1;
    }
    ll_service_stopped(service);
    return 0;
}

int ll_service_main(const ll_service_desc_t *d, int argc, char **argv) {
    int threads = d->threads_default;
    const ll_cli_option_t options[] = {
        {.name = d->threads_flag + 2, .kind = LL_CLI_INT, .out = &threads, .lo = 1, .hi = d->threads_max},
        {.name = NULL},
    };
    const ll_service_start_t start = {.program = d->program, .usage = d->usage, .listen_option = "listen",
                                      .listen_key = d->listen_key, .options = options};
    static ll_config_t cfg;
    int rc = ll_service_begin(&start, argc, argv, &cfg, &stop_requested);
    if (rc >= 0) return rc;
    ll_error_t err = {""};
    const char *listen = ll_config_get(&cfg, d->listen_key);
    const ll_service_api_t *a = d->api;
    void *api = a->create(&cfg, &err);
    static ll_http_server_t srv;
    rc = api ? ll_http_server_init(&srv, listen, a->handle, api, LL_HTTP_ENTITY_BYTES_CAP,
                                   (uint64_t)cfg.request_timeout_ms, &err)
             : LL_ENOMEM;
    static const char *const documents[] = {"/openapi.yaml", "application/yaml", ll_openapi_yaml, NULL};
    if (rc == 0) {
        ll_http_server_routes(&srv, a->routes);
        ll_http_server_enable_metrics(&srv, d->service);
        ll_http_server_serve_documents(&srv, documents);
        ll_http_server_limit_connections(&srv, (size_t)cfg.http_connections_max);
        if (cfg.log_level[0] == 'd' || cfg.log_level[0] == 'i') ll_http_server_enable_access_log(&srv, d->service);
    }
    if (rc == 0 && a->metrics) ll_http_server_add_metrics(&srv, a->metrics);
    if (rc == 0) rc = a->start(api, srv.ctx.loop, threads, &err);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot start: %s\n", d->program, err.msg);
        if (api != NULL) a->destroy(api);
        if (srv.ctx_ready) ll_http_server_dispose(&srv);
        return 1;
    }
    ll_log_t l;
    ll_log_begin(&l, "info", d->service, "listening");
    ll_log_str(&l, "listen", listen);
    ll_log_int(&l, d->threads_flag + 2, threads); /* "--threads" -> "threads" */
    ll_log_end(&l);
    ll_http_server_run(&srv, &stop_requested, a->drained, 10000);
    a->destroy(api);
    ll_http_server_dispose(&srv);
    ll_service_stopped(d->service);
    return 0;
}
