/* ll_query_api.c - see ll_query_api.h. Loop side: routing, strict query parameters, job life. */
#include "ll_query_api.h"

#include "ll_access.h"
#include "ll_clock.h"
#include "ll_commit_watch.h"
#include "ll_hash.h"
#include "ll_event_tail.h"
#include "ll_http.h"
#include "ll_limits.h"
#include "ll_problem.h"
#include "ll_query_job.h"
#include "ll_text.h"
#include "ll_time.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define QUERY_QUEUE_MAX 4096
#define PARAM_VALUE_MAX    96   /* the longest: type= with every statement type (72) */
#define READY_CHECK_MAX_MS 5000 /* a check running longer than this is taken for lost */

/* A wait between two looks holds no worker; it is looked at again on the loop thread:
 * - the live view holds the account below the version: the view, every LOOK_VIEW_MS (memory);
 * - the tail knows the version's place in the topic, or that it has not passed it yet: held, in
 *   memory, every LOOK_VIEW_MS, until the projector's group has committed past that place
 *   (ll_commit_watch.h); then a worker reads the store once;
 * - otherwise (no live view, the view full, Kafka not answering, or the store did not have it
 *   once the projector had passed it) a worker polls the read store, gently: POLL_AFTER_MS
 *   after its first, second, ... look, then every 600 ms; the last look at the deadline. At
 *   most 8 looks in a 2 s wait, however it ends. */
#define LOOK_VIEW_MS 2
#define LOOK_POLL_MS 10 /* a polling wait's next look is due within this */
static const int64_t POLL_AFTER_MS[] = {20, 80, 200, 400, 600};
#define POLL_STEPS (int)(sizeof POLL_AFTER_MS / sizeof POLL_AFTER_MS[0])

/* One subject's waits in progress. */
typedef struct {
    uint64_t subject; /* hash of "role:sub"; 0: free */
    int waits;
} waiter_t;

#define WAITERS_MAX QUERY_QUEUE_MAX /* subjects waiting at once: a wait also took a queue slot */

typedef struct ll_query_api ll_query_api_t;

struct ll_query_api {
    ll_http_app_t app;        /* cfg, access: first, for ll_http_app_create */
    ll_query_shared_t shared; /* what the workers borrow */
    ll_account_view_t *view;  /* NULL when query_view_accounts_max is 0 */
    ll_event_tail_t *tail;
    ll_commit_watch_t *watch; /* the projector's committed offsets; NULL without the view */
    ll_offload_t *offload;
    h2o_loop_t *loop;
    h2o_timeout_t look_view, look_poll; /* waits between looks (loop thread) */
    waiter_t waiters[WAITERS_MAX];      /* loop thread */
    size_t n_waiters;
};

/* A job lives until both the worker's answer reached the loop and h2o disposed the request. */
static void job_release(ll_http_job_t *life) {
    ll_query_job_t *job = H2O_STRUCT_FROM_MEMBER(ll_query_job_t, life, life);
    free(job->body);
    free(job);
}

static void job_unref(ll_query_job_t *job) {
    ll_http_job_unref(&job->life);
}

static void send_job(ll_query_job_t *job) {
    const char *headers[5];
    size_t h = 0;
    char retry[16];
    if (job->etag[0]) headers[h++] = "etag", headers[h++] = job->etag;
    if (job->retry_after_s > 0) {
        snprintf(retry, sizeof retry, "%d", job->retry_after_s);
        headers[h++] = "retry-after", headers[h++] = retry;
    }
    headers[h] = NULL;
    ll_http_send(job->life.req, job->status, job->status >= 400 ? LL_PROBLEM_CONTENT_TYPE : "application/json",
                 job->body, strlen(job->body), headers);
}

/* ---- waits: between two looks no worker is held --------------------------------------------- */

/* Counts a wait of subject against LL_WAITS_PER_SUBJECT_MAX. Returns 0, or -1 when it has as
 * many as it may. */
static int waiter_add(ll_query_api_t *api, uint64_t subject) {
    for (size_t i = 0; i < api->n_waiters; i++) {
        if (api->waiters[i].subject != subject) continue;
        if (api->waiters[i].waits >= LL_WAITS_PER_SUBJECT_MAX) return -1;
        api->waiters[i].waits++;
        return 0;
    }
    if (api->n_waiters == WAITERS_MAX) return -1;
    api->waiters[api->n_waiters++] = (waiter_t){subject, 1};
    return 0;
}

static void waiter_done(ll_query_api_t *api, ll_query_job_t *job) {
    if (job->waiter == 0) return;
    for (size_t i = 0; i < api->n_waiters; i++) {
        if (api->waiters[i].subject != job->waiter) continue;
        if (--api->waiters[i].waits == 0) api->waiters[i] = api->waiters[--api->n_waiters];
        break;
    }
    job->waiter = 0;
}

/* The job's end: its answer (if the client is still there) and its flight reference. */
static void finish(ll_query_job_t *job) {
    if (job->life.req != NULL) send_job(job);
    waiter_done(job->api, job);
    job_unref(job);
}

static void on_look_again(h2o_timeout_entry_t *entry);
static ll_view_result_t answer_from_view(ll_query_api_t *api, h2o_req_t *req, const ll_query_job_t *job);

/* Parks job until its next look. The first wait of a request counts against its subject. */
static void wait_between_looks(ll_query_job_t *job, h2o_timeout_t *until) {
    ll_query_api_t *api = job->api;
    if (job->waiter == 0) {
        uint64_t subject = job->subject ? job->subject : 1;
        if (waiter_add(api, subject) != 0) {
            free(job->body);
            job->body = NULL;
            job->retry_after_s = 1;
            ll_query_problem(job, 429, "too-many-waits", "Too many waits",
                             "this client already waits for as many reads as it may; retry");
            finish(job);
            return;
        }
        job->waiter = subject;
    }
    job->timer.cb = on_look_again;
    h2o_timeout_link(api->loop, until, &job->timer);
}

typedef enum {
    GATE_READ, /* the version can be in the read store: a worker looks */
    GATE_HOLD, /* it cannot be there yet: wait in memory for the tail and the projector */
    GATE_POLL, /* nothing tells: poll the store, gently */
} gate_t;

/* Whether job's read store look for job->wait_version is worth making now. The tail started
 * at the projector's committed offsets (ll_account_view_seen): a version it has not passed
 * comes after that start, and one it has passed is written once the projector's group has
 * committed past where the tail read it. Reads nothing but memory. */
static gate_t store_gate(ll_query_api_t *api, ll_query_job_t *job) {
    if (api->watch == NULL || job->gate_opened_for >= job->wait_version) return GATE_POLL;
    int64_t seen = 0;
    ll_view_position_t at = {0, 0};
    ll_view_seen_t r = ll_account_view_seen(api->view, &job->account_id, &seen, &at);
    if (r == LL_SEEN_AT && seen >= job->wait_version) {
        int64_t committed = ll_commit_watch_get(api->watch, at.partition);
        if (committed == LL_COMMIT_NONE) return GATE_POLL;
        if (committed > at.offset) {
            job->gate_opened_for = job->wait_version; /* one look; a miss (a generation switch) polls */
            return GATE_READ;
        }
        return GATE_HOLD;
    }
    /* A statement waits for a version the view holds: passed by the tail or read from the store. */
    if (r == LL_SEEN_UNKNOWN || job->kind != LL_Q_ACCOUNT) return GATE_POLL;
    /* Not passed yet: it comes after the tail's start. An account the tail never saw may have
     * it from before: one look. */
    return r == LL_SEEN_NEVER && job->store_looks == 0 ? GATE_READ : GATE_HOLD;
}

/* Sends job to a worker; 503 when the queue is full. */
static void to_worker(ll_query_api_t *api, ll_query_job_t *job) {
    if (ll_offload_submit(api->offload, &job->super) != 0) {
        job->retry_after_s = 1;
        ll_query_problem(job, 503, "overloaded", "Service unavailable", "too many queries queued");
        finish(job);
    }
}

/* The next look of a wait: the live view on this thread when it holds the account; else the
 * read store by a worker when it can have the version (store_gate); else the wait goes on. */
static void look(ll_query_job_t *job) {
    ll_query_api_t *api = job->api;
    if (job->life.req == NULL) { /* the client went away */
        waiter_done(api, job);
        job_unref(job);
        return;
    }
    int64_t now = ll_clock_ms();
    int due = now >= job->deadline_ms;
    if (job->kind == LL_Q_ACCOUNT && api->view != NULL && !due) {
        ll_view_result_t r = answer_from_view(api, job->life.req, job);
        if (r == LL_VIEW_HIT) { /* answered */
            waiter_done(api, job);
            job_unref(job);
            return;
        }
        if (r == LL_VIEW_BEHIND) {
            wait_between_looks(job, &api->look_view);
            return;
        }
    }
    gate_t g = job->wait_version > 0 ? store_gate(api, job) : GATE_POLL;
    if (g == GATE_HOLD && due) { /* never there: no look needed to say so */
        ll_query_not_yet_visible(job);
        finish(job);
    } else if (g == GATE_HOLD) {
        wait_between_looks(job, &api->look_view);
    } else if (g == GATE_POLL && !due && now < job->next_look_ms) {
        wait_between_looks(job, &api->look_poll);
    } else {
        to_worker(api, job);
    }
}

static void on_look_again(h2o_timeout_entry_t *entry) {
    look(H2O_STRUCT_FROM_MEMBER(ll_query_job_t, timer, entry));
}

static void on_done(ll_offload_job_t *base) {
    ll_query_job_t *job = (ll_query_job_t *)base;
    if (job->again && job->body == NULL) { /* not there yet, before the deadline */
        job->again = 0;
        int k = job->store_looks > POLL_STEPS ? POLL_STEPS - 1 : job->store_looks - 1; /* the look made */
        int64_t next = ll_clock_ms() + (k >= 0 ? POLL_AFTER_MS[k] : 0);
        job->next_look_ms = next < job->deadline_ms ? next : job->deadline_ms;
        look(job);
        return;
    }
    finish(job);
}

/* ---- query parameters ---------------------------------------------------------------------- */

typedef struct {
    const char *name;
    char value[PARAM_VALUE_MAX + 1];
    int present;
} param_t;

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses the query string into params (names allowed for this route). A '+' stays a '+' (so an
 * unencoded RFC 3339 offset works); %XX is decoded. Returns 0, or -1 with detail set. */
static int parse_query(h2o_req_t *req, param_t *params, size_t n, char *detail, size_t detail_size) {
    if (req->query_at == SIZE_MAX) return 0;
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end, *eq = memchr(q, '=', (size_t)(stop - q));
        if (eq == NULL) eq = stop;
        param_t *p = NULL;
        for (size_t i = 0; i < n && p == NULL; i++)
            if (strlen(params[i].name) == (size_t)(eq - q) &&
                memcmp(params[i].name, q, (size_t)(eq - q)) == 0)
                p = &params[i];
        if (p == NULL) {
            snprintf(detail, detail_size, "unknown query parameter \"%.*s\"",
                     (int)((eq - q) > 32 ? 32 : (eq - q)), q);
            return -1;
        }
        if (p->present) {
            snprintf(detail, detail_size, "query parameter %s given twice", p->name);
            return -1;
        }
        size_t k = 0;
        for (const char *v = eq < stop ? eq + 1 : stop; v < stop; v++) {
            int c = (unsigned char)*v;
            if (c == '%' && stop - v >= 3 && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
                c = hexval(v[1]) * 16 + hexval(v[2]);
                v += 2;
            }
            if (k == PARAM_VALUE_MAX || c < 0x20 || c > 0x7e) {
                snprintf(detail, detail_size, "query parameter %s is too long or not printable", p->name);
                return -1;
            }
            p->value[k++] = (char)c;
        }
        p->value[k] = '\0';
        p->present = 1;
        q = stop + (amp ? 1 : 0);
    }
    return 0;
}

/* A decimal integer in [lo, hi]. */
static int int_param(const param_t *p, int64_t lo, int64_t hi, int64_t *out) {
    char *end = NULL;
    if (!p->present) return 0;
    errno = 0;
    long long v = strtoll(p->value, &end, 10);
    /* ERANGE: 99999999999999999999 saturates to INT64_MAX; an overflow is an error, not a max. */
    if (p->value[0] == '\0' || *end != '\0' || p->value[0] == ' ' || errno == ERANGE || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* ---- routing ------------------------------------------------------------------------------- */

/* The query routes: the router, the metrics labels and tests/unit/test_routes.c (against
 * api/openapi.yaml) read them here. op: the job's kind. A hold's commands are the command
 * service's. */
const ll_route_t ll_query_routes[] = {
    {"GET", "/v1/accounts/{account_id}", "/v1/accounts/{id}", LL_Q_ACCOUNT},
    {"GET", "/v1/accounts/{account_id}/transactions", "/v1/accounts/{id}/transactions", LL_Q_TRANSACTIONS},
    {"GET", "/v1/accounts/{account_id}/balance", "/v1/accounts/{id}/balance", LL_Q_BALANCE},
    {"GET", "/v1/accounts/{account_id}/audit", "/v1/accounts/{id}/audit", LL_Q_AUDIT},
    {"GET", "/v1/accounts/{account_id}/audit/verify", "/v1/accounts/{id}/audit/verify", LL_Q_VERIFY},
    {"GET", "/v1/accounts/{account_id}/holds", "/v1/accounts/{id}/holds", LL_Q_HOLDS},
    {"GET", "/v1/holds/{hold_id}", "/v1/holds/{id}", LL_Q_HOLD},
    {NULL, NULL, NULL, 0},
};

/* The statement filter of a transactions request from its from, to and type parameters. Returns
 * NULL, or what is wrong. */
static const char *parse_filter(const param_t *from, const param_t *to, const param_t *type,
                                ll_stmt_filter_t *f) {
    memset(f, 0, sizeof *f);
    if ((f->has_from = from->present) && ll_stmt_parse_instant(from->value, &f->from_us) != 0)
        return "from must be an RFC 3339 date-time such as 2026-11-01T00:00:00Z (encode + as %2B)";
    if ((f->has_to = to->present) && ll_stmt_parse_instant(to->value, &f->to_us) != 0)
        return "to must be an RFC 3339 date-time such as 2026-12-01T00:00:00Z (encode + as %2B)";
    if (f->has_from && f->has_to && f->from_us >= f->to_us)
        return "from must be before to: the window is [from, to)";
    if (type->present && ll_stmt_parse_types(type->value, &f->types) != 0)
        return "type must be one or more of MoneyDeposited, MoneyWithdrawn, TransferSent, TransferReceived, "
               "HoldCaptured, separated by commas";
    return NULL;
}

/* Fills the job's parameters for its route; answers and returns -1 on bad input. */
static int parse_params(h2o_req_t *req, ll_query_job_t *job) {
    param_t p[5] = {{0}};
    size_t n = 0;
    switch (job->kind) {
    case LL_Q_ACCOUNT:
        p[n++].name = "min_version";
        break;
    case LL_Q_TRANSACTIONS:
        p[n++].name = "limit", p[n++].name = "cursor";
        p[n++].name = "from", p[n++].name = "to", p[n++].name = "type";
        break;
    case LL_Q_BALANCE:
        p[n++].name = "as_of";
        break;
    case LL_Q_AUDIT:
        p[n++].name = "from_version", p[n++].name = "to_version", p[n++].name = "limit";
        break;
    case LL_Q_HOLDS:
        p[n++].name = "status", p[n++].name = "limit", p[n++].name = "cursor";
        break;
    default:
        break;
    }
    char detail[160];
    if (parse_query(req, p, n, detail, sizeof detail) != 0) {
        ll_http_problem(req, 400, "invalid-query", "Invalid query", detail);
        return -1;
    }
    job->min_version = -1, job->limit = LL_PAGE_LIMIT_DEFAULT, job->cursor = -1;
    job->from_version = 1, job->to_version = -1, job->as_of_us = -1;
    const char *bad = NULL;
    if (job->kind == LL_Q_ACCOUNT && int_param(&p[0], 0, INT64_MAX, &job->min_version))
        bad = "min_version must be an integer >= 0";
    if (job->kind == LL_Q_ACCOUNT && job->min_version >= 0) /* 0: the account, at any version */
        job->wait_version = job->min_version > 0 ? job->min_version : 1;
    if (job->kind == LL_Q_TRANSACTIONS &&
        (int_param(&p[0], 1, LL_PAGE_LIMIT_MAX, &job->limit) || int_param(&p[1], 1, INT64_MAX, &job->cursor)))
        bad = "limit must be 1..200 and cursor a next_cursor value";
    if (job->kind == LL_Q_TRANSACTIONS && bad == NULL) bad = parse_filter(&p[2], &p[3], &p[4], &job->filter);
    if (job->kind == LL_Q_AUDIT && (int_param(&p[0], 1, INT64_MAX, &job->from_version) ||
                                    int_param(&p[1], 1, INT64_MAX, &job->to_version) ||
                                    int_param(&p[2], 1, LL_PAGE_LIMIT_MAX, &job->limit)))
        bad = "from_version and to_version must be integers >= 1, limit 1..200";
    /* Only open holds have an index by account (holds_account_open): a page of settled ones
     * would read every hold the account ever had. */
    if (job->kind == LL_Q_HOLDS && (!p[0].present || strcmp(p[0].value, "open") != 0))
        bad = "status=open is required: only open holds are listed";
    if (job->kind == LL_Q_HOLDS && bad == NULL &&
        (int_param(&p[1], 1, LL_PAGE_LIMIT_MAX, &job->limit) || int_param(&p[2], 1, INT64_MAX, &job->cursor)))
        bad = "limit must be 1..200 and cursor a next_cursor value";
    if (job->kind == LL_Q_BALANCE &&
        (!p[0].present || ll_time_parse_rfc3339_clamped(p[0].value, &job->as_of_us) != 0))
        bad = "as_of must be an RFC 3339 date-time such as 2026-11-24T12:00:00Z (encode + as %2B)";
    if (bad != NULL) {
        ll_http_problem(req, 400, "invalid-query", "Invalid query", bad);
        return -1;
    }
    return 0;
}

/* Answers an account read on the loop thread when the live view holds it at min_version: no
 * worker, no read store. Returns LL_VIEW_HIT when answered; BEHIND when the view holds the
 * account below min_version (a wait looks at it again here); MISS otherwise (a worker's). */
static ll_view_result_t answer_from_view(ll_query_api_t *api, h2o_req_t *req, const ll_query_job_t *job) {
    ll_account_t a;
    if (api->view == NULL) return LL_VIEW_MISS;
    ll_view_result_t r = ll_account_view_get(api->view, &job->account_id, job->min_version, &a);
    /* Another's account goes to a worker, which answers it exactly as a missing one. */
    if (r != LL_VIEW_HIT || !ll_query_may_see(job, &a)) return r == LL_VIEW_HIT ? LL_VIEW_MISS : r;
    char *body = ll_query_account_body(&a);
    if (body == NULL) return LL_VIEW_MISS; /* out of memory: let a worker try */
    char etag[32];
    snprintf(etag, sizeof etag, "\"%lld\"", (long long)a.version);
    const char *const headers[] = {"etag", etag, NULL};
    ll_http_send(req, 200, "application/json", body, strlen(body), headers);
    free(body);
    return LL_VIEW_HIT;
}

/* Answers a statement page on the loop thread when the live view holds the account's
 * movements that page takes. Returns 1 when answered. */
static int statement_from_view(ll_query_api_t *api, h2o_req_t *req, const ll_query_job_t *job) {
    if (api->view == NULL || ll_stmt_filter_active(&job->filter)) return 0; /* by time: the read model */
    ll_text_t body;
    ll_text_init(&body);
    if (!ll_account_view_statement(api->view, &job->account_id, job->owner_scope,
                                   job->cursor > 0 ? job->cursor : INT64_MAX, job->limit, &body)) {
        free(ll_text_take(&body));
        return 0;
    }
    char *text = ll_text_take(&body);
    if (text == NULL) return 0; /* out of memory: let a worker try */
    ll_http_send(req, 200, "application/json", text, strlen(text), NULL);
    free(text);
    return 1;
}

/* Answers /readyz from the last check when it is under LL_READY_CACHE_MS old, or while a check
 * runs (one at a time, unless it hangs past READY_CHECK_MAX_MS). Returns 1 when answered;
 * 0: the caller submits a check. */
static int ready_from_cache(ll_query_api_t *api, h2o_req_t *req) {
    ll_query_shared_t *s = &api->shared;
    int state = atomic_load(&s->ready);
    long long now = ll_clock_ms(), refreshing = atomic_load(&s->ready_refreshing_ms);
    int fresh = now - atomic_load(&s->ready_checked_ms) < LL_READY_CACHE_MS;
    int running = refreshing != 0 && now - refreshing < READY_CHECK_MAX_MS;
    if (state == LL_READY_UNKNOWN || (!fresh && !running)) {
        atomic_store(&s->ready_refreshing_ms, now);
        return 0;
    }
    if (state == LL_READY_OK) {
        ll_http_ready(req);
    } else {
        static const char *const retry[] = {"retry-after", "1", NULL};
        ll_http_problem_headers(req, 503, "not-ready", "Not ready",
                                state == LL_READY_NO_PG ? "the event store is not reachable"
                                                        : "the read models are not reachable",
                                retry);
    }
    return 1;
}

static int submit(ll_query_api_t *api, h2o_req_t *req, ll_query_job_t *job) {
    job->super.run = ll_query_run;
    job->super.done = on_done;
    if (ll_http_job_attach(&job->life, req, job_release) != 0) {
        free(job);
        ll_http_problem(req, 503, "overloaded", "Service unavailable", "out of memory; retry");
        return 0;
    }
    if (job->wait_version > 0 && store_gate(api, job) == GATE_HOLD) { /* it cannot be there yet */
        wait_between_looks(job, &api->look_view);
        return 0;
    }
    if (ll_offload_submit(api->offload, &job->super) != 0) {
        job_unref(job); /* never reached a worker; the request's ref stays */
        static const char *const retry[] = {"retry-after", "1", NULL};
        ll_http_problem_headers(req, 503, "overloaded", "Service unavailable", "too many queries queued",
                                retry);
    }
    return 0;
}

static int query_handle(void *app, h2o_req_t *req, const ll_route_match_t *route) {
    ll_query_api_t *api = app;
    int op = route->route != NULL ? route->route->op : 0, ops = route->table == LL_HTTP_ROUTES;
    if (ops && op == LL_HTTP_HEALTHZ) {
        ll_http_healthy(req);
        return 0;
    }
    ll_query_kind_t kind = ops && op == LL_HTTP_READYZ ? LL_Q_READY : (ll_query_kind_t)op;
    if (kind != LL_Q_READY && (route->table != ll_query_routes || !route->method_ok)) {
        ll_http_no_route(req, route); /* 404, or 405 with Allow */
        return 0;
    }
    if (kind == LL_Q_READY && ready_from_cache(api, req)) return 0;
    ll_principal_t who = {.role = LL_ROLE_OPERATOR};
    if (kind != LL_Q_READY && ll_access_check(api->app.access, req, &who) != 0) return 0;
    ll_uuid_t id;
    int m = ll_http_path_uuid(req, route, "hold_id", &id);
    if (m == 0) m = ll_http_path_uuid(req, route, "account_id", &id);
    if (m < 0) return 0; /* answered 400 */
    ll_query_job_t *job = calloc(1, sizeof *job);
    if (job == NULL) {
        ll_http_problem(req, 503, "overloaded", "Service unavailable", "out of memory; retry");
        return 0;
    }
    job->kind = kind;
    job->api = api;
    job->deadline_ms = ll_clock_ms() + api->app.cfg->min_version_wait_ms;
    char subject[LL_OWNER_BYTES_MAX + 16];
    int n = snprintf(subject, sizeof subject, "%s:%s", ll_role_name(who.role), who.sub);
    job->subject = ll_fnv1a(subject, n > 0 ? (size_t)n : 0);
    if (who.role == LL_ROLE_CUSTOMER) snprintf(job->owner_scope, sizeof job->owner_scope, "%s", who.sub);
    if (kind == LL_Q_HOLD)
        job->hold_id = id;
    else if (kind != LL_Q_READY)
        job->account_id = id;
    if (parse_params(req, job) != 0 ||
        (kind == LL_Q_ACCOUNT && answer_from_view(api, req, job) == LL_VIEW_HIT) ||
        (kind == LL_Q_TRANSACTIONS && statement_from_view(api, req, job))) {
        free(job);
        return 0;
    }
    return submit(api, req, job);
}

static void *query_create(const ll_config_t *cfg, ll_error_t *err) {
    return ll_http_app_create(sizeof(ll_query_api_t), cfg, err);
}

static int query_start(void *app, h2o_loop_t *loop, int workers, ll_error_t *err) {
    ll_query_api_t *api = app;
    if (api->app.cfg->query_view_accounts_max > 0) {
        api->view = ll_account_view_create((size_t)api->app.cfg->query_view_accounts_max,
                                           (size_t)api->app.cfg->query_view_movements_bytes);
        if (api->view == NULL) return ll_error_set(err, LL_ENOMEM, "out of memory for the live view");
        api->tail = ll_event_tail_start(api->app.cfg, api->view, err);
        if (api->tail == NULL) return LL_EINVAL;
        api->watch = ll_commit_watch_start(api->app.cfg, err);
        if (api->watch == NULL) return LL_EINVAL;
    }
    api->shared.cfg = api->app.cfg;
    api->shared.view = api->view;
    api->loop = loop;
    h2o_timeout_init(loop, &api->look_view, LOOK_VIEW_MS);
    h2o_timeout_init(loop, &api->look_poll, LOOK_POLL_MS);
    api->offload = ll_offload_start(loop, workers, QUERY_QUEUE_MAX, ll_query_worker_init,
                                    ll_query_worker_fini, &api->shared, err);
    return api->offload ? 0 : LL_EIO;
}

/* A series of /metrics: its type and help only with a metric's first. */
typedef struct {
    const char *name, *type, *help, *label;
    uint64_t value;
} series_t;

static void render_series(ll_text_t *t, const series_t *rows, size_t n) {
    for (size_t i = 0; i < n; i++)
        ll_metrics_series(t, "query", rows[i].name, rows[i].type, rows[i].help, rows[i].label, rows[i].value);
}

/* The live view's, the tail's and the commit watch's series. */
static void view_metrics(ll_query_api_t *api, ll_text_t *t) {
    ll_account_view_stats_t v;
    ll_event_tail_stats_t tail;
    ll_commit_watch_stats_t watch;
    ll_account_view_stats(api->view, &v);
    ll_event_tail_stats(api->tail, &tail);
    ll_commit_watch_stats(api->watch, &watch);
    const series_t rows[] = {
        {"ledgerline_query_view_accounts", "gauge",
         "Accounts the live view tracks, and those it holds a state for.", "kind=\"tracked\"", v.entries},
        {"ledgerline_query_view_accounts", NULL, NULL, "kind=\"held\"", v.states},
        {"ledgerline_query_view_lookups_total", "counter",
         "Account reads the live view answered (hit) or not.", "result=\"hit\"", v.hits},
        {"ledgerline_query_view_lookups_total", NULL, NULL, "result=\"miss\"", v.misses},
        {"ledgerline_query_view_events_total", "counter",
         "Events the tail read, by what the view did with them.", "outcome=\"read\"", tail.events},
        {"ledgerline_query_view_events_total", NULL, NULL, "outcome=\"applied\"", v.applied},
        {"ledgerline_query_view_events_total", NULL, NULL, "outcome=\"duplicate\"", v.duplicates},
        {"ledgerline_query_view_events_total", NULL, NULL, "outcome=\"dropped_state\"", v.dropped},
        {"ledgerline_query_view_events_total", NULL, NULL, "outcome=\"undecodable\"", tail.undecodable},
        {"ledgerline_query_view_fills_total", "counter", "Read-model documents offered to the view.",
         "result=\"taken\"", v.fills},
        {"ledgerline_query_view_fills_total", NULL, NULL, "result=\"refused\"", v.fills_refused},
        {"ledgerline_query_view_saturated_total", "counter", "Accounts left out because the view was full.",
         "", v.saturated},
        {"ledgerline_query_view_statements_total", "counter",
         "Statement pages the view answered from memory (hit) or not.", "result=\"hit\"", v.statement_hits},
        {"ledgerline_query_view_statements_total", NULL, NULL, "result=\"miss\"", v.statement_misses},
        {"ledgerline_query_view_movement_accounts", "gauge",
         "Accounts whose newest movements the view holds.", "", v.recent_accounts},
        {"ledgerline_query_view_movement_bytes", "gauge",
         "Memory those movements take (query_view_movements_bytes at most).", "", v.recent_bytes},
        {"ledgerline_query_view_movement_evictions_total", "counter",
         "Accounts whose movements were forgotten to stay within the budget.", "", v.recent_evicted},
        {"ledgerline_query_projector_offset_fetches_total", "counter",
         "Fetches of the projector group's committed offsets for waits (one per round, only while "
         "waits are pending), and those that failed.",
         "result=\"ok\"", watch.fetches - watch.errors},
        {"ledgerline_query_projector_offset_fetches_total", NULL, NULL, "result=\"error\"", watch.errors},
        {"ledgerline_query_view_ready", "gauge",
         "1 once the tail follows the topic from the projector's offsets.", "",
         (uint64_t)(v.ready && tail.assigned)},
    };
    render_series(t, rows, sizeof rows / sizeof rows[0]);
}

static char *query_metrics(void *app) {
    ll_query_api_t *api = app;
    ll_query_shared_t *s = &api->shared;
    const series_t rows[] = {
        {"ledgerline_dependency_errors_total", "counter", "Failed reads against a dependency.",
         "dependency=\"mongodb\"", atomic_load(&s->mongo_errors)},
        {"ledgerline_dependency_errors_total", NULL, NULL, "dependency=\"postgresql\"",
         atomic_load(&s->pg_errors)},
        {"ledgerline_query_ready_checks_total", "counter",
         "Dependency checks /readyz ran (its answer is reused for a second).", "",
         atomic_load(&s->ready_checks)},
        {"ledgerline_query_store_events_read_total", "counter",
         "Events read from the event store for audit, verify and as-of answers.", "",
         atomic_load(&s->store_events_read)},
        {"ledgerline_query_wait_store_reads_total", "counter",
         "Read-store looks for a version a read waits for (min_version, statements).", "",
         atomic_load(&s->wait_store_reads)},
        {"ledgerline_query_statement_time_probes_total", "counter",
         "Page-time lookups (times_g) that placed a statement's time window.", "",
         atomic_load(&s->time_probes)},
        {"ledgerline_query_statement_unindexed_total", "counter",
         "Statements by time that met a page sealed without a time document (walked instead).", "",
         atomic_load(&s->unindexed_walks)},
    };
    ll_text_t t;
    ll_text_init(&t);
    render_series(&t, rows, sizeof rows / sizeof rows[0]);
    if (api->view != NULL) view_metrics(api, &t);
    return ll_text_take(&t);
}

static int query_drained(void *app) {
    ll_query_api_t *api = app;
    return api->offload == NULL || ll_offload_pending(api->offload) == 0;
}

/* Ends the waits still parked (at shutdown): each answered 503, its references given back. */
static void end_waits(ll_query_api_t *api, h2o_timeout_t *t) {
    while (!h2o_linklist_is_empty(&t->_entries)) {
        h2o_timeout_entry_t *entry = H2O_STRUCT_FROM_MEMBER(h2o_timeout_entry_t, _link, t->_entries.next);
        h2o_timeout_unlink(entry);
        ll_query_job_t *job = H2O_STRUCT_FROM_MEMBER(ll_query_job_t, timer, entry);
        job->retry_after_s = 1;
        ll_query_problem(job, 503, "not-yet-visible", "Not yet visible", "the service is stopping; retry");
        finish(job);
    }
    h2o_timeout_dispose(api->loop, t);
}

static void query_destroy(void *app) {
    ll_query_api_t *api = app;
    if (api == NULL) return;
    if (api->loop != NULL) {
        end_waits(api, &api->look_view);
        end_waits(api, &api->look_poll);
    }
    ll_offload_stop(api->offload); /* the workers borrow the view */
    ll_commit_watch_stop(api->watch);
    ll_event_tail_stop(api->tail);
    ll_account_view_destroy(api->view);
    ll_http_app_destroy(&api->app);
}

const ll_service_api_t ll_query_service = {
    .routes = ll_query_routes, .create = query_create, .start = query_start, .handle = query_handle,
    .drained = query_drained, .metrics = query_metrics, .destroy = query_destroy};
