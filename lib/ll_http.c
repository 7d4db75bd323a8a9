/* ll_http.c - see ll_http.h. */
#include "ll_http.h"

#include "ll_clock.h"
#include "ll_http_errors.h"
#include "ll_limits.h"
#include "ll_log.h"
#include "ll_problem.h"
#include "ll_random.h"
#include "ll_time.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    h2o_handler_t super;
    ll_http_server_t *srv;
} dispatch_handler_t;

/* Counted and logged when h2o releases the request: the final status and the whole time it took. */
typedef struct {
    ll_http_server_t *srv;
    h2o_req_t *req;
    const char *route;
    ll_route_match_t match;
    char request_id[LL_HTTP_ID_BYTES_MAX + 1];
    char correlation_id[LL_HTTP_ID_BYTES_MAX + 1];
} observation_t;

void ll_http_peer(h2o_req_t *req, char *out, size_t out_size) {
    struct sockaddr_storage ss;
    h2o_conn_t *conn = req->conn;
    socklen_t len = conn->callbacks->get_peername ? conn->callbacks->get_peername(conn, (struct sockaddr *)&ss) : 0;
    if (len == 0 || getnameinfo((struct sockaddr *)&ss, len, out, (socklen_t)out_size, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(out, out_size, "unknown");
}

const char *ll_http_forwarded_for(h2o_req_t *req, char *out, size_t out_size) {
    /* Proxies append on the right, and the right is what is read: a long header keeps its end. */
    size_t total = 0, n = 0;
    for (ssize_t i = -1; (i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-forwarded-for"), i)) != -1; n++)
        total += (n ? 1 : 0) + req->headers.entries[i].value.len;
    if (n == 0 || out_size == 0) return NULL;
    size_t skip = total > out_size - 1 ? total - (out_size - 1) : 0, at = 0, o = 0;
    n = 0;
    for (ssize_t i = -1; (i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-forwarded-for"), i)) != -1; n++) {
        const h2o_iovec_t *v = &req->headers.entries[i].value;
        if (n && at++ >= skip) out[o++] = ',';
        for (size_t k = 0; k < v->len; k++)
            if (at++ >= skip) out[o++] = v->base[k];
    }
    out[o] = '\0';
    return out;
}

static void log_request(const observation_t *o, double seconds) {
    char peer[LL_HTTP_PEER_BYTES];
    ll_http_peer(o->req, peer, sizeof peer);
    ll_log_t l;
    ll_log_begin(&l, "info", o->srv->service, "request");
    ll_log_str(&l, "request_id", o->request_id);
    ll_log_str(&l, "correlation_id", o->correlation_id);
    /* The method is h2o's token or the client's bytes (escaped by the logger; a long one cut). */
    ll_log_strn(&l, "method", o->req->method.base, o->req->method.len < 16 ? o->req->method.len : 16);
    ll_log_str(&l, "route", o->route);
    ll_log_int(&l, "status", o->req->res.status);
    ll_log_double(&l, "ms", seconds * 1e3, 3);
    ll_log_str(&l, "peer", peer);
    ll_log_end_unflushed(&l); /* ll_http_server_run flushes once per loop turn */
}

static void on_observed(void *p) {
    observation_t *o = p;
    struct timeval now;
    gettimeofday(&now, NULL);
    const struct timeval *t0 = &o->req->timestamps.request_begin_at;
    double seconds = (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_usec - t0->tv_usec) / 1e6;
    if (seconds < 0) seconds = 0;
    if (o->srv->metrics_on) ll_metrics_observe(&o->srv->metrics, o->route, o->req->res.status, seconds);
    if (o->srv->access_log) log_request(o, seconds);
}

int ll_http_id_valid(const char *s) {
    if (*s == '\0') return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("._:-", *s)))
            return 0;
    return 1;
}

/* The request's ids (see ll_http.h): set as request headers for the handlers and echoed. */
static void assign_ids(ll_http_server_t *srv, h2o_req_t *req, observation_t *o) {
    if (ll_http_header(req, "x-request-id", o->request_id, sizeof o->request_id) < 0 || !ll_http_id_valid(o->request_id))
        snprintf(o->request_id, sizeof o->request_id, "%s-%llu", srv->request_prefix,
                 (unsigned long long)++srv->request_seq);
    if (ll_http_header(req, "x-correlation-id", o->correlation_id, sizeof o->correlation_id) < 0 ||
        !ll_http_id_valid(o->correlation_id))
        memcpy(o->correlation_id, o->request_id, sizeof o->correlation_id);
    static const h2o_iovec_t names[2] = {{H2O_STRLIT("x-request-id")}, {H2O_STRLIT("x-correlation-id")}};
    const char *values[2] = {o->request_id, o->correlation_id};
    for (int i = 0; i < 2; i++) {
        h2o_iovec_t v = h2o_iovec_init(values[i], strlen(values[i]));
        /* Drop what the client sent (invalid or repeated) and put the one value in. */
        ssize_t at;
        while ((at = h2o_find_header_by_str(&req->headers, names[i].base, names[i].len, -1)) >= 0)
            h2o_delete_header(&req->headers, at);
        h2o_add_header_by_str(&req->pool, &req->headers, names[i].base, names[i].len, 0, NULL, v.base, v.len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, names[i].base, names[i].len, 0, NULL, v.base,
                              v.len);
    }
}

static int serve_document(ll_http_server_t *srv, h2o_req_t *req) {
    for (const char *const *d = srv->documents; d != NULL && d[0] != NULL; d += 3)
        if (h2o_memis(req->path_normalized.base, req->path_normalized.len, d[0], strlen(d[0])) &&
            (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
             h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))) {
            ll_http_send(req, 200, d[1], d[2], strlen(d[2]), NULL);
            return 1;
        }
    return 0;
}

/* Header and request-target bounds of ll_limits.h. Returns 1 when req was answered. */
static int refuse_oversized(h2o_req_t *req) {
    size_t total = 0;
    for (size_t i = 0; i < req->headers.size; i++)
        total += req->headers.entries[i].name->len + req->headers.entries[i].value.len;
    if (total > LL_HTTP_HEADER_BYTES_MAX) {
        ll_http_problem(req, 431, "headers-too-large", "Request header fields too large",
                        "the request headers exceed 16 KiB");
        return 1;
    }
    if (req->path.len > LL_HTTP_TARGET_BYTES_MAX) {
        ll_http_problem(req, 414, "uri-too-long", "URI too long", "the request target exceeds 8 KiB");
        return 1;
    }
    return 0;
}

const ll_route_t LL_HTTP_ROUTES[] = {
    {"GET", "/healthz", "/healthz", LL_HTTP_HEALTHZ},
    {"GET", "/readyz", "/readyz", LL_HTTP_READYZ},
    {"GET", "/metrics", "/metrics", LL_HTTP_METRICS},
    {"GET", "/openapi.yaml", "/openapi.yaml", LL_HTTP_OPENAPI},
    {NULL, NULL, NULL, 0},
};

/* The operational endpoints answer GET and HEAD only, on every server. Returns 1 when answered. */
static int refuse_other_methods(h2o_req_t *req, const ll_route_match_t *m) {
    if (m->table != LL_HTTP_ROUTES || m->method_ok) return 0;
    ll_http_no_route(req, m);
    return 1;
}

void ll_http_no_route(h2o_req_t *req, const ll_route_match_t *m) {
    if (m->route == NULL || m->method_ok) { /* no route, or one this handler does not serve */
        ll_http_problem(req, 404, "not-found", "Not found", "no such endpoint");
        return;
    }
    char allow[64], detail[16];
    ll_route_allow(m, req->path_normalized, allow, sizeof allow);
    snprintf(detail, sizeof detail, "use %s", m->route->method);
    const char *const headers[] = {"allow", allow, NULL};
    ll_http_problem_headers(req, 405, "method-not-allowed", "Method not allowed", detail, headers);
}

int ll_http_path_uuid(h2o_req_t *req, const ll_route_match_t *route, const char *name, ll_uuid_t *out) {
    int r = ll_route_uuid(route, name, out);
    if (r >= 0) return r;
    /* The words of the problem are the segment's name: "hold_id" -> "hold id", "invalid-hold-id". */
    char words[32], slug[48], title[48], detail[80];
    size_t n = strlen(name) < sizeof words - 1 ? strlen(name) : sizeof words - 1;
    for (size_t i = 0; i < n; i++) words[i] = name[i] == '_' ? ' ' : name[i];
    words[n] = '\0';
    snprintf(slug, sizeof slug, "invalid-%s", words);
    for (char *c = slug; *c; c++)
        if (*c == ' ') *c = '-';
    snprintf(title, sizeof title, "Invalid %s", words);
    snprintf(detail, sizeof detail, "the %s in the path must be a UUID", words);
    ll_http_problem(req, 400, slug, title, detail);
    return -1;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req) {
    ll_http_server_t *srv = ((dispatch_handler_t *)self)->srv;
    observation_t *o = h2o_mem_alloc_shared(&req->pool, sizeof *o, on_observed);
    memset(o, 0, sizeof *o);
    o->srv = srv, o->req = req;
    /* Matched once: the label counts even a request refused below. */
    if (!ll_route_match(srv->routes, req->method, req->path_normalized, &o->match))
        ll_route_match(LL_HTTP_ROUTES, req->method, req->path_normalized, &o->match);
    o->route = ll_route_label(&o->match);
    if (refuse_oversized(req)) return 0;
    assign_ids(srv, req, o);
    if (refuse_other_methods(req, &o->match) || serve_document(srv, req)) return 0;
    if (srv->metrics_on && o->match.route != NULL && o->match.route->op == LL_HTTP_METRICS) {
        char *text = ll_metrics_render(&srv->metrics);
        char *extra = srv->metrics_extra && text ? srv->metrics_extra(srv->app) : NULL;
        if (text == NULL || (srv->metrics_extra && extra == NULL)) {
            free(text);
            ll_http_problem(req, 503, "overloaded", "Service unavailable", "out of memory");
            return 0;
        }
        /* One response body: h2o copies it into the request's pool. */
        size_t a = strlen(text), b = extra ? strlen(extra) : 0;
        h2o_iovec_t body = h2o_iovec_init(h2o_mem_alloc_pool(&req->pool, a + b + 1), a + b);
        memcpy(body.base, text, a);
        if (b) memcpy(body.base + a, extra, b);
        ll_http_send(req, 200, "text/plain; version=0.0.4", body.base, body.len, NULL);
        free(text);
        free(extra);
        return 0;
    }
    return srv->handler(srv->app, req, &o->match);
}

void ll_http_server_routes(ll_http_server_t *srv, const ll_route_t *routes) {
    srv->routes = routes;
}

void ll_http_server_enable_metrics(ll_http_server_t *srv, const char *service) {
    ll_metrics_init(&srv->metrics, service);
    srv->metrics_on = 1;
}

void ll_http_server_add_metrics(ll_http_server_t *srv, char *(*extra)(void *app)) {
    srv->metrics_extra = extra;
}

void ll_http_server_enable_access_log(ll_http_server_t *srv, const char *service) {
    srv->service = service;
    srv->access_log = 1;
}

void ll_http_server_serve_documents(ll_http_server_t *srv, const char *const *documents) {
    srv->documents = documents;
}

void ll_http_server_limit_connections(ll_http_server_t *srv, size_t max) {
    srv->connections_max = max;
}

static void on_accept(h2o_socket_t *listener, const char *err);

static void on_connection_closed(void *data) {
    ll_http_server_t *srv = data;
    srv->connections--;
    if (srv->accept_paused && srv->connections < srv->connections_max && srv->listener != NULL) {
        srv->accept_paused = 0;
        h2o_socket_read_start(srv->listener, on_accept);
    }
}

/* ---- lingering close ------------------------------------------------------------------------
 * h2o answers a body over the entity cap (and a broken one) with an error and closes at once,
 * its own "TODO use lingering close": the client is usually still sending, the kernel resets a
 * connection closed on unread bytes, and the client may lose the answer with it. So, as nginx's
 * lingering_close: the connection's descriptor is duplicated before h2o closes its own; then the
 * duplicate sends FIN after the answer and reads and drops what still comes, until the client
 * closes, LL_HTTP_LINGER_MS pass or LL_HTTP_LINGER_BYTES_MAX were dropped. The connection counts
 * against the cap until then. */
typedef struct {
    ll_http_server_t *srv;
    int fd;             /* the duplicate: the socket outlives h2o's close(2) of its own */
    h2o_socket_t *sock; /* polls fd once h2o has closed its socket; reads are ours */
    size_t dropped;
    h2o_timeout_entry_t deadline;
} linger_t;

typedef struct {
    h2o_filter_t super;
    ll_http_server_t *srv;
} linger_filter_t;

static void linger_end(linger_t *lg) {
    if (h2o_timeout_is_linked(&lg->deadline)) h2o_timeout_unlink(&lg->deadline);
    lg->sock->on_close.cb = on_connection_closed;
    lg->sock->on_close.data = lg->srv;
    h2o_socket_close(lg->sock); /* a reset now, if bytes are still unread: the bounds were met */
    free(lg);
}

static void on_linger_deadline(h2o_timeout_entry_t *entry) {
    linger_end(H2O_STRUCT_FROM_MEMBER(linger_t, deadline, entry));
}

static void on_linger_readable(h2o_socket_t *sock, const char *err) {
    linger_t *lg = sock->data;
    char buf[16384];
    if (err != NULL) {
        linger_end(lg);
        return;
    }
    for (;;) {
        ssize_t n = read(lg->fd, buf, sizeof buf);
        if (n > 0 && (lg->dropped += (size_t)n) < LL_HTTP_LINGER_BYTES_MAX) continue;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        linger_end(lg); /* the client closed, an error, or the byte bound */
        return;
    }
}

/* h2o closed its socket (the answer is written): linger on the duplicate. */
static void on_closed_then_linger(void *data) {
    linger_t *lg = data;
    if (shutdown(lg->fd, SHUT_WR) != 0) { /* the client is gone already */
        close(lg->fd);
        on_connection_closed(lg->srv);
        free(lg);
        return;
    }
    lg->sock = h2o_evloop_socket_create(lg->srv->ctx.loop, lg->fd, H2O_SOCKET_FLAG_DONT_READ);
    lg->sock->data = lg;
    lg->deadline.cb = on_linger_deadline;
    h2o_timeout_link(lg->srv->ctx.loop, &lg->srv->linger_timeout, &lg->deadline);
    h2o_socket_read_start(lg->sock, on_linger_readable);
}

/* On the fallback path, which only h2o's own errors take (ll_http_errors.h): an HTTP/1 answer
 * after which h2o closes gets its connection marked to linger. Without a descriptor or memory
 * to spare it closes as before. */
static void on_setup_linger(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot) {
    ll_http_server_t *srv = ((linger_filter_t *)self)->srv;
    h2o_conn_t *conn = req->conn;
    h2o_socket_t *sock = NULL;
    if (req->version < 0x200 && !req->http1_is_persistent && conn->callbacks->get_socket != NULL)
        sock = conn->callbacks->get_socket(conn);
    if (sock != NULL && sock->on_close.cb == on_connection_closed && sock->on_close.data == srv) {
        linger_t *lg = calloc(1, sizeof *lg);
        int fd = lg != NULL ? fcntl(h2o_socket_get_fd(sock), F_DUPFD_CLOEXEC, 0) : -1;
        if (fd >= 0) {
            lg->srv = srv, lg->fd = fd;
            sock->on_close.cb = on_closed_then_linger;
            sock->on_close.data = lg;
        } else {
            free(lg);
        }
    }
    h2o_setup_next_ostream(req, slot);
}

static void on_accept(h2o_socket_t *listener, const char *err) {
    if (err != NULL) return;
    ll_http_server_t *srv = listener->data;
    /* Accept the pending connections up to the cap; h2o closes what it cannot serve. */
    for (int i = 0; i < 64; i++) {
        if (srv->connections_max && srv->connections >= srv->connections_max) {
            h2o_socket_read_stop(listener); /* the rest wait in the backlog */
            srv->accept_paused = 1;
            return;
        }
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL) return;
        srv->connections++;
        sock->on_close.cb = on_connection_closed;
        sock->on_close.data = srv;
        h2o_accept(&srv->accept_ctx, sock);
    }
}

/* Opens a listening socket on "HOST:PORT". */
static int open_listener(const char *listen_on, ll_error_t *err) {
    char host[256];
    const char *colon = strrchr(listen_on, ':');
    if (colon == NULL || (size_t)(colon - listen_on) >= sizeof host)
        return ll_error_set(err, LL_EINVAL, "listen address \"%s\" is not HOST:PORT", listen_on);
    memcpy(host, listen_on, (size_t)(colon - listen_on));
    host[colon - listen_on] = '\0';
    char *h = host;
    size_t hl = strlen(h);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') h[hl - 1] = '\0', h++;
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(h, colon + 1, &hints, &ai);
    if (gai != 0) return ll_error_set(err, LL_EINVAL, "listen address %s: %s", listen_on, gai_strerror(gai));
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0 ||
        fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return ll_error_set(err, LL_EIO, "cannot listen on %s: %s", listen_on, strerror(e));
    }
    freeaddrinfo(ai);
    return fd;
}

int ll_http_server_init(ll_http_server_t *srv, const char *listen_on, ll_http_handler_fn handler, void *app,
                        size_t entity_bytes_max, uint64_t request_timeout_ms, ll_error_t *err) {
    memset(srv, 0, sizeof *srv);
    srv->service = "http";
    ll_uuid_t u;
    if (ll_uuid_random(&u) != 0) memset(&u, 0, sizeof u);
    snprintf(srv->request_prefix, sizeof srv->request_prefix, "%02x%02x%02x%02x", u.bytes[0], u.bytes[1],
             u.bytes[2], u.bytes[3]);
    srv->handler = handler;
    srv->app = app;
    h2o_config_init(&srv->config);
    srv->config.server_name = h2o_iovec_init(H2O_STRLIT("ledgerline"));
    srv->config.max_request_entity_size = entity_bytes_max;
    srv->config.http1.req_timeout = request_timeout_ms;
    h2o_hostconf_t *host =
        h2o_config_register_host(&srv->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    ll_http_errors_as_problems(host, entity_bytes_max);
    linger_filter_t *lf = (linger_filter_t *)h2o_create_filter(&host->fallback_path, sizeof *lf);
    lf->super.on_setup_ostream = on_setup_linger;
    lf->srv = srv;
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    dispatch_handler_t *dh = (dispatch_handler_t *)h2o_create_handler(path, sizeof *dh);
    dh->super.on_req = on_req;
    dh->srv = srv;
    int fd = open_listener(listen_on, err);
    if (fd < 0) {
        h2o_config_dispose(&srv->config);
        return fd;
    }
    h2o_context_init(&srv->ctx, h2o_evloop_create(), &srv->config);
    h2o_timeout_init(srv->ctx.loop, &srv->linger_timeout, LL_HTTP_LINGER_MS);
    srv->ctx_ready = 1;
    srv->accept_ctx.ctx = &srv->ctx;
    srv->accept_ctx.hosts = srv->config.hosts;
    srv->listener = h2o_evloop_socket_create(srv->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    srv->listener->data = srv;
    h2o_socket_read_start(srv->listener, on_accept);
    return 0;
}

int ll_http_server_run(ll_http_server_t *srv, volatile sig_atomic_t *stop, int (*drained)(void *app),
                       int drain_ms) {
    while (!*stop) {
        h2o_evloop_run(srv->ctx.loop, 100);
        fflush(stdout); /* access log lines of this turn, in one write */
    }
    /* Stop accepting; finish what was accepted. HTTP/2 peers get GOAWAY. */
    h2o_context_request_shutdown(&srv->ctx);
    if (srv->listener != NULL) {
        if (!srv->accept_paused) h2o_socket_read_stop(srv->listener);
        h2o_socket_close(srv->listener);
        srv->listener = NULL;
    }
    int64_t deadline = ll_clock_ms() + drain_ms;
    while ((drained == NULL || !drained(srv->app)) && ll_clock_ms() < deadline)
        h2o_evloop_run(srv->ctx.loop, 50);
    /* Let the last responses flush. */
    for (int i = 0; i < 5; i++) h2o_evloop_run(srv->ctx.loop, 10);
    fflush(stdout);
    return 0;
}

void ll_http_server_dispose(ll_http_server_t *srv) {
    if (srv->listener != NULL) {
        h2o_socket_close(srv->listener);
        srv->listener = NULL;
    }
    /* The context and config are left to the process exit on purpose: h2o 2.2 cannot close idle
     * keep-alive connections from outside, and h2o_context_dispose asserts while any exist. The
     * server struct stays reachable, so nothing is reported as leaked. */
}

const char *ll_http_reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 431:
        return "Request Header Fields Too Large";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

void ll_http_send(h2o_req_t *req, int status, const char *content_type, const char *body, size_t len,
                  const char *const *extra_headers) {
    req->res.status = status;
    req->res.reason = ll_http_reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    for (const char *const *h = extra_headers; h != NULL && h[0] != NULL; h += 2) {
        h2o_iovec_t name = h2o_strdup(&req->pool, h[0], SIZE_MAX);
        h2o_iovec_t value = h2o_strdup(&req->pool, h[1], SIZE_MAX);
        h2o_add_header_by_str(&req->pool, &req->res.headers, name.base, name.len, 0, NULL, value.base,
                              value.len);
    }
    /* h2o_send_inline leaves the length unset; without it HTTP/1.1 cannot keep the connection. */
    req->res.content_length = len;
    h2o_send_inline(req, body, len);
}

void ll_http_problem_headers(h2o_req_t *req, int status, const char *slug, const char *title,
                             const char *detail, const char *const *extra_headers) {
    char body[1024];
    int n = ll_problem_render(body, sizeof body, status, slug, title, detail);
    ll_http_send(req, status, LL_PROBLEM_CONTENT_TYPE, body, n < 0 ? strlen(body) : (size_t)n, extra_headers);
}

void ll_http_problem(h2o_req_t *req, int status, const char *slug, const char *title, const char *detail) {
    ll_http_problem_headers(req, status, slug, title, detail, NULL);
}

void ll_http_healthy(h2o_req_t *req) {
    static const char body[] = "{\"status\":\"ok\"}";
    ll_http_send(req, 200, "application/json", body, sizeof body - 1, NULL);
}

void ll_http_ready(h2o_req_t *req) {
    static const char body[] = "{\"status\":\"ready\"}";
    ll_http_send(req, 200, "application/json", body, sizeof body - 1, NULL);
}

int ll_http_header(const h2o_req_t *req, const char *name, char *out, size_t out_size) {
    ssize_t at = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    if (at < 0) return -1;
    if (h2o_find_header_by_str(&req->headers, name, strlen(name), at) >= 0) return -2;
    const h2o_iovec_t *v = &req->headers.entries[at].value;
    if (v->len >= out_size) return -2;
    memcpy(out, v->base, v->len);
    out[v->len] = '\0';
    return (int)v->len;
}
