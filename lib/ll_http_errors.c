/* ll_http_errors.c - see ll_http_errors.h. h2o sends its own errors with h2o_send_error_*,
 * which binds the request to the host's fallback path when no handler took it and then runs that
 * path's filters: a filter there swaps the text/plain body for a problem. */
#include "ll_http_errors.h"

#include "ll_problem.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    h2o_filter_t super;
    size_t entity_bytes_max;
} errors_filter_t;

typedef struct {
    h2o_ostream_t super;
    h2o_iovec_t body; /* in the request's pool */
    int sent;
} problem_ostream_t;

/* The errors h2o answers itself, and how they read as problems (the 413's detail gets the cap). */
static const struct {
    int status;
    const char *slug, *title, *detail;
} known[] = {
    {400, "invalid-request", "Invalid request", "the request is not well-formed HTTP"},
    {408, "request-timeout", "Request timeout", "the request did not arrive in time"},
    {413, "body-too-large", "Body too large", NULL /* with the cap, below */},
    {414, "uri-too-long", "URI too long", "the request target is too long"},
    {431, "headers-too-large", "Request header fields too large", "the request headers are too large"},
};

size_t ll_http_error_problem(int status, size_t entity_bytes_max, char *out, size_t size) {
    char detail[128];
    const char *slug = "http-error", *title = "HTTP error";
    snprintf(detail, sizeof detail, "the server refused the request (HTTP %d)", status);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].status == status) {
            slug = known[i].slug, title = known[i].title;
            if (status == 413)
                snprintf(detail, sizeof detail, "the body exceeds %zu bytes", entity_bytes_max);
            else
                snprintf(detail, sizeof detail, "%s", known[i].detail);
        }
    int n = ll_problem_render(out, size, status, slug, title, detail);
    return n < 0 ? strlen(out) : (size_t)n;
}

/* Whatever the generator sends, the problem goes out instead, once. */
static void on_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state) {
    (void)bufs, (void)bufcnt;
    problem_ostream_t *o = (problem_ostream_t *)self;
    int first = !o->sent;
    o->sent = 1;
    h2o_ostream_send_next(&o->super, req, first ? &o->body : NULL, first ? 1 : 0, state);
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot) {
    errors_filter_t *f = (errors_filter_t *)self;
    if (req->res.status >= 400) {
        char body[512];
        size_t n = ll_http_error_problem(req->res.status, f->entity_bytes_max, body, sizeof body);
        problem_ostream_t *o = (problem_ostream_t *)h2o_add_ostream(req, sizeof *o, slot);
        o->super.do_send = on_send;
        o->body = h2o_strdup(&req->pool, body, n);
        o->sent = 0;
        ssize_t at = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
        if (at != -1) h2o_delete_header(&req->res.headers, at);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT(LL_PROBLEM_CONTENT_TYPE));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
        req->res.content_length = n;
        slot = &o->super.next;
    }
    h2o_setup_next_ostream(req, slot);
}

void ll_http_errors_as_problems(h2o_hostconf_t *host, size_t entity_bytes_max) {
    errors_filter_t *f = (errors_filter_t *)h2o_create_filter(&host->fallback_path, sizeof *f);
    f->super.on_setup_ostream = on_setup_ostream;
    f->entity_bytes_max = entity_bytes_max;
}
