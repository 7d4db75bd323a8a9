/* ll_command_api.c - see ll_command_api.h. */
#include "ll_command_api.h"

#include "ll_access.h"
#include "ll_http_app.h"
#include "ll_command_codec.h"
#include "ll_hold_expiry.h"
#include "ll_http.h"
#include "ll_idempotency_pruner.h"
#include "ll_json.h"
#include "ll_log.h"
#include "ll_loop_inbox.h"
#include "ll_metrics.h"
#include "ll_problem.h"
#include "ll_strset.h"
#include "ll_text.h"
#include "ll_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct ll_command_api ll_command_api_t;

struct ll_command_api {
    ll_http_app_t app; /* cfg, access: first, for ll_http_app_create */
    ll_writer_pool_t *writers;
    ll_idempotency_pruner_t *pruner; /* expired Idempotency-Keys, in the background */
    ll_hold_expiry_t *expiry;        /* holds past expires_at, in the background */
    ll_loop_inbox_t answers;         /* finished writes, back on the loop */
    ll_strset_t inflight;            /* "scope\nkey" of commands not yet answered (loop thread only) */
    size_t pending;                  /* jobs submitted and not yet completed (loop thread only) */
};

/* One command between the loop and a writer. life: the request's reference (until h2o disposes
 * it) and the write's (until its completion reached the loop), ll_http_app.h. */
typedef struct {
    ll_write_t w;
    h2o_multithread_message_t msg;
    ll_http_job_t life;
    char inflight_key[LL_ACTOR_BYTES_MAX + LL_COMMAND_ID_BYTES_MAX + 2];
    struct timespec started;
} job_t;

static void job_release(ll_http_job_t *life) {
    free(H2O_STRUCT_FROM_MEMBER(job_t, life, life));
}

/* ---- completion (loop thread) -------------------------------------------------------------- */

static double elapsed_ms(const struct timespec *since) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) * 1e3 + (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

static void respond(job_t *job) {
    ll_write_t *w = &job->w;
    char etag[32], location[64];
    const char *headers[7];
    size_t h = 0;
    if (w->version > 0 && !ll_write_failed(w)) {
        snprintf(etag, sizeof etag, "\"%lld\"", (long long)w->version);
        headers[h++] = "etag", headers[h++] = etag;
    }
    if (w->cmd.type == LL_CMD_OPEN && w->status == 201 && w->account_id[0]) {
        snprintf(location, sizeof location, "/v1/accounts/%s", w->account_id);
        headers[h++] = "location", headers[h++] = location;
    }
    if (w->replayed) headers[h++] = "idempotent-replayed", headers[h++] = "true";
    headers[h] = NULL;
    const char *type = ll_write_failed(w) ? LL_PROBLEM_CONTENT_TYPE : "application/json";
    ll_http_send(job->life.req, w->status, type, w->response, strlen(w->response), headers);
}

static void on_completion(h2o_multithread_message_t *msg, void *ctx) {
    ll_command_api_t *api = ctx;
    job_t *job = H2O_STRUCT_FROM_MEMBER(job_t, msg, msg);
    if (job->life.req != NULL) respond(job);
    if (api->app.cfg->log_level[0] == 'd' || api->app.cfg->log_level[0] == 'i') {
        ll_log_t l;
        ll_log_begin(&l, "info", "command", "command");
        ll_log_int(&l, "status", job->w.status);
        ll_log_bool(&l, "replayed", job->w.replayed);
        ll_log_double(&l, "ms", elapsed_ms(&job->started), 3);
        ll_log_str(&l, "correlation_id", job->w.correlation_id);
        ll_log_end_unflushed(&l); /* the loop flushes once per turn */
    }
    ll_strset_remove(&api->inflight, job->inflight_key);
    api->pending--;
    ll_http_job_unref(&job->life);
}

/* Writer thread: hand the finished write to the loop. */
static void on_write_done(ll_write_t *w, void *ctx) {
    ll_command_api_t *api = ctx;
    job_t *job = H2O_STRUCT_FROM_MEMBER(job_t, w, w);
    ll_loop_inbox_post(&api->answers, &job->msg);
}

/* ---- request parsing (loop thread) --------------------------------------------------------- */

/* The command routes: the router, the metrics labels and tests/unit/test_routes.c (against
 * api/openapi.yaml) read them here. op: the command the route sends. */
const ll_route_t ll_command_routes[] = {
    {"POST", "/v1/accounts", "/v1/accounts", LL_CMD_OPEN},
    {"POST", "/v1/accounts/{account_id}/deposits", "/v1/accounts/{id}/deposits", LL_CMD_DEPOSIT},
    {"POST", "/v1/accounts/{account_id}/withdrawals", "/v1/accounts/{id}/withdrawals", LL_CMD_WITHDRAW},
    {"POST", "/v1/accounts/{account_id}/close", "/v1/accounts/{id}/close", LL_CMD_CLOSE},
    {"POST", "/v1/accounts/{account_id}/holds", "/v1/accounts/{id}/holds", LL_CMD_PLACE_HOLD},
    {"PUT", "/v1/accounts/{account_id}/credit-limit", "/v1/accounts/{id}/credit-limit", LL_CMD_SET_CREDIT_LIMIT},
    {"POST", "/v1/accounts/{account_id}/freeze", "/v1/accounts/{id}/freeze", LL_CMD_FREEZE},
    {"POST", "/v1/accounts/{account_id}/unfreeze", "/v1/accounts/{id}/unfreeze", LL_CMD_UNFREEZE},
    {"POST", "/v1/holds/{hold_id}/capture", "/v1/holds/{id}/capture", LL_CMD_CAPTURE_HOLD},
    {"POST", "/v1/holds/{hold_id}/release", "/v1/holds/{id}/release", LL_CMD_RELEASE_HOLD},
    {"POST", "/v1/transfers", "/v1/transfers", LL_CMD_TRANSFER},
    {"POST", "/v1/payments", "/v1/payments", LL_CMD_PAYMENT},
    {NULL, NULL, NULL, 0},
};

/* A matched command route: its command and the ids of its path. */
typedef struct {
    ll_command_type_t type;
    int has_account, has_hold;
    ll_uuid_t account_id, hold_id;
} route_t;

/* Commands only operators may send: an account's credit line and its freezes. */
static int operators_only(ll_command_type_t t) {
    return t == LL_CMD_SET_CREDIT_LIMIT || t == LL_CMD_FREEZE || t == LL_CMD_UNFREEZE;
}

/* If-Match: "N" (a strong ETag from a previous response), or a bare N as many clients send it.
 * Returns the version, -1 when absent, -2 when malformed (weak tags, lists and * included). */
static int64_t parse_if_match(h2o_req_t *req) {
    char v[32];
    int n = ll_http_header(req, "if-match", v, sizeof v);
    if (n == -1) return -1;
    int quoted = n >= 2 && v[0] == '"' && v[n - 1] == '"';
    if (n < 1 || (v[0] == '"' && !quoted) || n - 2 * quoted < 1 || n - 2 * quoted > 18) return -2;
    int64_t version = 0;
    for (int i = quoted; i < n - quoted; i++) {
        if (v[i] < '0' || v[i] > '9' || version > (INT64_MAX - 9) / 10) return -2;
        version = version * 10 + (v[i] - '0');
    }
    return version;
}

static int content_type_ok(h2o_req_t *req) {
    char v[128];
    int n = ll_http_header(req, "content-type", v, sizeof v);
    if (n == -1) return 1; /* absent: the body is JSON by contract */
    if (n < 0) return 0;
    return strncasecmp(v, "application/json", 16) == 0 && (v[16] == '\0' || v[16] == ';' || v[16] == ' ');
}

/* Fills the request part of w from headers, path and body; on a bad request answers it and
 * returns -1. */
static int parse_command(ll_command_api_t *api, h2o_req_t *req, const route_t *route,
                         const ll_principal_t *who, ll_write_t *w) {
    int n = ll_http_header(req, "idempotency-key", w->idem_key, sizeof w->idem_key);
    if (n == -1) {
        ll_http_problem(
            req, 400, "idempotency-key-required", "Idempotency-Key required",
            "every command needs an Idempotency-Key header (1 to 128 printable ASCII characters)");
        return -1;
    }
    if (n < 0 || !ll_json_token_valid(w->idem_key)) {
        ll_http_problem(req, 400, "invalid-idempotency-key", "Invalid Idempotency-Key",
                        "Idempotency-Key must be 1 to 128 printable ASCII characters without spaces");
        return -1;
    }
    if (!content_type_ok(req)) {
        ll_http_problem(req, 415, "unsupported-media-type", "Unsupported media type",
                        "send application/json");
        return -1;
    }
    if (req->entity.len > (size_t)api->app.cfg->body_bytes_max) {
        char detail[96];
        snprintf(detail, sizeof detail, "the body exceeds %lld bytes", (long long)api->app.cfg->body_bytes_max);
        ll_http_problem(req, 413, "body-too-large", "Body too large", detail);
        return -1;
    }
    w->expected_version = parse_if_match(req);
    if (w->expected_version == -2) {
        ll_http_problem(req, 400, "invalid-if-match", "Invalid If-Match",
                        "If-Match must be a version ETag from a previous response, e.g. \"3\"");
        return -1;
    }
    ll_error_t err = {""};
    const char *body = req->entity.base ? req->entity.base : "";
    if (ll_command_decode(route->type, body, req->entity.len, (size_t)api->app.cfg->body_bytes_max, &w->cmd,
                          &err) != 0) {
        ll_http_problem(req, 400, "invalid-request", "Invalid request", err.msg);
        return -1;
    }
    if (who->role == LL_ROLE_CUSTOMER && route->type == LL_CMD_OPEN && strcmp(w->cmd.owner, who->sub) != 0) {
        ll_http_problem(req, 403, "forbidden", "Forbidden",
                        "a customer opens accounts in its own name: owner must be the token's subject");
        return -1;
    }
    /* Which accounts a customer owns is only known inside the store's transaction. */
    if (who->role == LL_ROLE_CUSTOMER) snprintf(w->owner_scope, sizeof w->owner_scope, "%s", who->sub);
    if (route->has_account) w->cmd.account_id = route->account_id;
    if (route->has_hold) w->cmd.hold_id = route->hold_id;
    /* ll_http gave every request one valid X-Correlation-Id (the client's, or the request id). */
    if (ll_http_header(req, "x-correlation-id", w->correlation_id, sizeof w->correlation_id) < 0 ||
        !ll_http_id_valid(w->correlation_id))
        w->correlation_id[0] = '\0';
    ll_access_actor(who, w->actor, sizeof w->actor);
    /* Keys are per principal: nobody can replay, or block, another's stored response. */
    snprintf(w->idem_scope, sizeof w->idem_scope, "%s", w->actor);
    /* The fingerprint covers what the command means: method, path, the version it requires
     * (If-Match: a retry with a corrected ETag is a new request) and exact body. Without
     * If-Match it is what it always was, so keys stored before stay valid; the line cannot be
     * mistaken for a body, which is JSON. */
    char precondition[48] = "";
    if (w->expected_version >= 0)
        snprintf(precondition, sizeof precondition, "if-match: %lld\n", (long long)w->expected_version);
    size_t pre = strlen(precondition);
    size_t len = req->method.len + 1 + req->path_normalized.len + 1 + pre + req->entity.len;
    char *buf = malloc(len);
    if (buf == NULL) {
        ll_http_problem(req, 503, "overloaded", "Service unavailable", "out of memory; retry");
        return -1;
    }
    size_t o = 0;
    memcpy(buf + o, req->method.base, req->method.len), o += req->method.len;
    buf[o++] = ' ';
    memcpy(buf + o, req->path_normalized.base, req->path_normalized.len), o += req->path_normalized.len;
    buf[o++] = '\n';
    memcpy(buf + o, precondition, pre), o += pre;
    if (req->entity.len) memcpy(buf + o, req->entity.base, req->entity.len);
    ll_sha256_hex(buf, len, w->request_hash);
    free(buf);
    return 0;
}

/* ---- handler ------------------------------------------------------------------------------- */

static int handle_get(ll_command_api_t *api, h2o_req_t *req, int op) {
    if (op == LL_HTTP_HEALTHZ) {
        ll_http_healthy(req);
    } else if (op == LL_HTTP_READYZ) {
        if (api->writers != NULL && ll_writer_pool_healthy(api->writers))
            ll_http_ready(req);
        else
            ll_http_problem(req, 503, "not-ready", "Not ready", "the event store is not reachable");
    } else {
        return 1;
    }
    return 0;
}

static void submit(ll_command_api_t *api, h2o_req_t *req, job_t *job) {
    snprintf(job->inflight_key, sizeof job->inflight_key, "%s\n%s", job->w.idem_scope, job->w.idem_key);
    if (ll_strset_contains(&api->inflight, job->inflight_key)) {
        free(job);
        ll_http_problem(req, 409, "idempotency-key-in-use", "Request in progress",
                        "a request with this Idempotency-Key is still being processed; retry later");
        return;
    }
    if (ll_http_job_attach(&job->life, req, job_release) != 0) {
        free(job);
        ll_http_problem(req, 503, "overloaded", "Service unavailable", "out of memory; retry");
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &job->started);
    if (ll_strset_add(&api->inflight, job->inflight_key) < 0 ||
        ll_writer_pool_submit(api->writers, &job->w) != 0) {
        ll_strset_remove(&api->inflight, job->inflight_key);
        ll_http_job_unref(&job->life); /* the write side never saw it; the request's ref stays */
        static const char *const retry[] = {"retry-after", "1", NULL};
        ll_http_problem_headers(req, 503, "overloaded", "Service unavailable",
                                "too many commands queued; retry with the same Idempotency-Key", retry);
        return;
    }
    api->pending++;
}

static int command_handle(void *app, h2o_req_t *req, const ll_route_match_t *m) {
    ll_command_api_t *api = app;
    int op = m->route != NULL ? m->route->op : 0;
    if (m->table == LL_HTTP_ROUTES && m->method_ok && handle_get(api, req, op) == 0) return 0;
    ll_principal_t who;
    if (ll_access_check(api->app.access, req, &who) != 0) return 0;
    if (m->table != ll_command_routes || !m->method_ok) { /* 404, or 405 with Allow */
        ll_http_no_route(req, m);
        return 0;
    }
    route_t route = {.type = (ll_command_type_t)op};
    int has_account = ll_http_path_uuid(req, m, "account_id", &route.account_id);
    int has_hold = has_account < 0 ? -1 : ll_http_path_uuid(req, m, "hold_id", &route.hold_id);
    if (has_account < 0 || has_hold < 0) return 0; /* answered 400 */
    route.has_account = has_account > 0, route.has_hold = has_hold > 0;
    if (who.role == LL_ROLE_AUDITOR) {
        ll_http_problem(req, 403, "forbidden", "Forbidden", "auditors read; they cannot send commands");
        return 0;
    }
    if (who.role != LL_ROLE_OPERATOR && operators_only(route.type)) {
        ll_http_problem(req, 403, "forbidden", "Forbidden", "credit limits and freezes are set by operators");
        return 0;
    }
    job_t *job = calloc(1, sizeof *job);
    if (job == NULL) {
        ll_http_problem(req, 503, "overloaded", "Service unavailable", "out of memory; retry");
        return 0;
    }
    if (parse_command(api, req, &route, &who, &job->w) != 0) {
        free(job);
        return 0;
    }
    submit(api, req, job);
    return 0;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static void *command_create(const ll_config_t *cfg, ll_error_t *err) {
    ll_command_api_t *api = ll_http_app_create(sizeof *api, cfg, err);
    if (api != NULL && ll_strset_init(&api->inflight, 4096) != 0) {
        ll_http_app_destroy(&api->app);
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    return api;
}

static int command_start(void *app, h2o_loop_t *loop, int writers, ll_error_t *err) {
    ll_command_api_t *api = app;
    ll_loop_inbox_open(&api->answers, loop, on_completion, api);
    api->pruner =
        ll_idempotency_pruner_start(api->app.cfg->pg_conninfo, api->app.cfg->idempotency_retention_seconds, err);
    if (api->pruner == NULL) return LL_EIO;
    api->writers = ll_writer_pool_start(api->app.cfg->pg_conninfo, api->app.cfg->request_timeout_ms,
                                        api->app.cfg->idempotency_retention_seconds, writers,
                                        LL_COMMAND_QUEUE_MAX, on_write_done, api, err);
    if (api->writers == NULL) return LL_EIO;
    api->expiry =
        ll_hold_expiry_start(api->app.cfg->pg_conninfo, api->app.cfg->request_timeout_ms,
                             api->app.cfg->idempotency_retention_seconds, api->app.cfg->hold_expiry_interval_ms, err);
    return api->expiry ? 0 : LL_EIO;
}

static char *command_metrics(void *app) {
    ll_command_api_t *api = app;
    ll_text_t t;
    ll_text_init(&t);
    ll_metrics_series(&t, "command", "ledgerline_command_pending", "gauge",
                      "Commands accepted and not yet answered (queued or being written).", "", api->pending);
    ll_metrics_series(&t, "command", "ledgerline_dependency_errors_total", "counter",
                      "Failed attempts against a dependency (retried ones included).",
                      "dependency=\"postgresql\"", api->writers ? ll_writer_pool_errors(api->writers) : 0);
    ll_metrics_series(&t, "command", "ledgerline_idempotency_keys_pruned_total", "counter",
                      "Idempotency-Keys deleted after their retention (idempotency_retention_seconds).", "",
                      ll_idempotency_pruner_deleted(api->pruner));
    ll_metrics_series(
        &t, "command", "ledgerline_holds_expired_total", "counter",
        "Holds this service expired past their expires_at (another service's expiries not counted).", "",
        ll_hold_expiry_expired(api->expiry));
    ll_metrics_series(&t, "command", "ledgerline_hold_expiry_failures_total", "counter",
                      "Hold expiry sweeps or expiries that failed (retried on the next sweep).", "",
                      ll_hold_expiry_failures(api->expiry));
    return ll_text_take(&t);
}

static int command_drained(void *app) {
    ll_command_api_t *api = app;
    return api->pending == 0;
}

static void command_destroy(void *app) {
    ll_command_api_t *api = app;
    if (api == NULL) return;
    ll_hold_expiry_stop(api->expiry);
    ll_writer_pool_stop(api->writers);
    ll_idempotency_pruner_stop(api->pruner);
    ll_loop_inbox_close(&api->answers);
    ll_strset_free(&api->inflight);
    ll_http_app_destroy(&api->app);
}

const ll_service_api_t ll_command_service = {
    .routes = ll_command_routes, .create = command_create, .start = command_start, .handle = command_handle,
    .drained = command_drained, .metrics = command_metrics, .destroy = command_destroy};
