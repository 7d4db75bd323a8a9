/* ll_http.h - the HTTP server scaffolding shared by the command service and the query API (h2o
 * with its own event loop): listening socket, request dispatch, graceful stop, and response
 * helpers for JSON and RFC 9457 problem+json.
 *
 * Everything here runs on the loop thread. Bodies passed to the send helpers are copied into the
 * request's memory pool, so callers may free theirs right after the call.
 */
#ifndef LL_HTTP_H
#define LL_HTTP_H

#include "ll_error.h"
#include "ll_metrics.h"
#include "ll_route.h"

#include <h2o.h>
#include <signal.h>
#include <stddef.h>

/* Handles one request; return 0 when a response was or will be sent (h2o's contract). route: the
 * request matched against the server's routes (ll_http_server_routes) and LL_HTTP_ROUTES. */
typedef int (*ll_http_handler_fn)(void *app, h2o_req_t *req, const ll_route_match_t *route);

/* The operational endpoints every server has (GET and HEAD only; other methods are answered
 * 405 here): their ops in LL_HTTP_ROUTES, below a service's own (>= 0). */
enum { LL_HTTP_HEALTHZ = -1, LL_HTTP_READYZ = -2, LL_HTTP_METRICS = -3, LL_HTTP_OPENAPI = -4 };
extern const ll_route_t LL_HTTP_ROUTES[];

typedef struct ll_http_server {
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    ll_http_handler_fn handler;
    void *app;
    const ll_route_t *routes; /* the service's table, or NULL */
    int ctx_ready;
    int metrics_on;
    ll_metrics_t metrics;
    char *(*metrics_extra)(void *app); /* NULL, or more Prometheus text for /metrics (caller frees) */
    const char *service;               /* name in log lines */
    int access_log;                    /* one JSON line per request */
    uint64_t request_seq;              /* request ids: a per-process random prefix and this count */
    char request_prefix[12];
    size_t connections, connections_max; /* open (lingering ones too), and the cap (0: none) */
    h2o_timeout_t linger_timeout;        /* how long a connection h2o refused may linger (ll_http.c) */
    int accept_paused;
    const char *const *documents; /* NULL-terminated path, content type, body triples, or NULL */
} ll_http_server_t;

/* Listens on "HOST:PORT" and routes every request to handler(app, req). entity_bytes_max is a
 * hard cap h2o enforces itself; handlers check the configured body limit below it.
 * request_timeout_ms bounds the time to receive a request. Returns 0 or a negative code. */
int ll_http_server_init(ll_http_server_t *srv, const char *listen, ll_http_handler_fn handler, void *app,
                        size_t entity_bytes_max, uint64_t request_timeout_ms, ll_error_t *err);

/* The service's route table (borrowed for the server's life): every request is matched against
 * it, then against LL_HTTP_ROUTES, before the handler sees it. */
void ll_http_server_routes(ll_http_server_t *srv, const ll_route_t *routes);

/* Counts every request by its route's label and status, with latency, and serves them at
 * GET /metrics (Prometheus text). */
void ll_http_server_enable_metrics(ll_http_server_t *srv, const char *service);

/* Writes one JSON line per request to stdout: time, request and correlation ids, method, route
 * template, status, milliseconds, client address. Buffered; flushed once per loop turn. */
void ll_http_server_enable_access_log(ll_http_server_t *srv, const char *service);

/* Serves fixed documents, unauthenticated: NULL-terminated (path, content type, body) triples,
 * e.g. {"/openapi.yaml", "application/yaml", ll_openapi_yaml, NULL}. Borrowed for the server's life. */
void ll_http_server_serve_documents(ll_http_server_t *srv, const char *const *documents);

/* At most max connections open at once; the listener pauses above it, so further clients wait
 * in the kernel's backlog instead of being refused. A connection that lingers after an error
 * h2o answered itself (413 and the like: see ll_http.c) still counts until it is closed. */
void ll_http_server_limit_connections(ll_http_server_t *srv, size_t max);

/* Appends extra(app) (malloc'd Prometheus text; NULL: out of memory) to every /metrics page. */
void ll_http_server_add_metrics(ll_http_server_t *srv, char *(*extra)(void *app));

/* Runs the loop until *stop becomes non-zero, then closes the listener and keeps serving until
 * drained(app) returns true or drain_ms passes. Returns 0. */
int ll_http_server_run(ll_http_server_t *srv, volatile sig_atomic_t *stop, int (*drained)(void *app),
                       int drain_ms);

/* Closes the listener. Call right before the process exits: the h2o context itself is not
 * disposed (see ll_http.c), so the server cannot be initialised again. */
void ll_http_server_dispose(ll_http_server_t *srv);

/* Sends a complete response. extra_headers: NULL-terminated name/value pairs, or NULL. */
void ll_http_send(h2o_req_t *req, int status, const char *content_type, const char *body, size_t len,
                  const char *const *extra_headers);

/* Sends application/problem+json. */
void ll_http_problem(h2o_req_t *req, int status, const char *slug, const char *title, const char *detail);

/* Answers a request its handler does not serve: 405 with Allow naming the methods its path
 * takes when only the path matched a route, else 404 "no such endpoint". */
void ll_http_no_route(h2o_req_t *req, const ll_route_match_t *route);

/* The {name} segment of the matched route as a UUID (ll_route_uuid). Returns 1 (out set), 0 when
 * the route has no such segment, or -1 after answering 400: for "account_id" the problem
 * invalid-account-id, "Invalid account id", "the account id in the path must be a UUID". */
int ll_http_path_uuid(h2o_req_t *req, const ll_route_match_t *route, const char *name, ll_uuid_t *out);

/* 200 {"status":"ok"}: every server's /healthz. */
void ll_http_healthy(h2o_req_t *req);

/* 200 {"status":"ready"}: every server's /readyz when it can do its job. */
void ll_http_ready(h2o_req_t *req);

/* As ll_http_problem with extra headers (Allow, Retry-After): NULL-terminated name/value pairs. */
void ll_http_problem_headers(h2o_req_t *req, int status, const char *slug, const char *title,
                             const char *detail, const char *const *extra_headers);

/* Every request carries X-Request-Id (the client's when it is 1-64 of [A-Za-z0-9._:-], else a
 * generated one) and X-Correlation-Id (the client's when valid, else the request id): both are
 * echoed in the response, and handlers read them as request headers. */
#define LL_HTTP_ID_BYTES_MAX 64

/* True for an id fit for logs, events and headers: 1 or more of letters, digits and . _ : - */
int ll_http_id_valid(const char *s);

/* The client's address as text ("127.0.0.1", "::1"), or "unknown". */
#define LL_HTTP_PEER_BYTES 64
void ll_http_peer(h2o_req_t *req, char *out, size_t out_size);

/* Every X-Forwarded-For header of req joined with "," in order, into out (size out_size; cut
 * when longer). Returns out, or NULL when there is none. */
const char *ll_http_forwarded_for(h2o_req_t *req, char *out, size_t out_size);

/* Copies the value of request header name (lower case) into out. Returns its length, -1 when
 * absent, -2 when longer than out_size - 1 or repeated. */
int ll_http_header(const h2o_req_t *req, const char *name, char *out, size_t out_size);

/* The standard reason phrase of status ("Created"). */
const char *ll_http_reason(int status);

#endif
