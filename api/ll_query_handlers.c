/* ll_query_handlers.c - the reads behind each query endpoint, on worker threads. Every meaning
 * of an event (balance as of T, state after each event, chain verification) comes from domain/. */
#include "ll_clock.h"
#include "ll_event_codec.h"
#include "ll_hash_chain.h"
#include "ll_limits.h"
#include "ll_pg.h"
#include "ll_problem.h"
#include "ll_query_job.h"
#include "ll_replay.h"
#include "ll_rm_statement.h"
#include "ll_text.h"
#include "ll_time.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GENERATION_CHECK_MS     1000

void ll_query_problem(ll_query_job_t *job, int status, const char *slug, const char *title,
                      const char *detail) {
    char body[1024];
    ll_problem_render(body, sizeof body, status, slug, title, detail);
    free(job->body);
    job->body = strdup(body);
    job->status = status;
}

/* Takes ownership of text (NULL: it could not be rendered, 500) as the 200 body. */
static void respond_text(ll_query_job_t *job, char *text) {
    if (text == NULL) {
        ll_query_problem(job, 500, "internal", "Internal error", "the response could not be rendered");
        return;
    }
    free(job->body);
    job->body = text;
    job->status = 200;
}

/* Takes ownership of v; renders it as the 200 body. */
static void respond_json(ll_query_job_t *job, json_t *v) {
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    respond_text(job, text);
}

/* ---- worker lifecycle ---------------------------------------------------------------------- */

static int reconnect_pg(void *worker, ll_error_t *err);

void *ll_query_worker_init(void *shared_arg, ll_error_t *err) {
    const ll_query_shared_t *shared = shared_arg;
    const ll_config_t *cfg = shared->cfg;
    ll_query_worker_t *w = calloc(1, sizeof *w);
    if (w == NULL) {
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    w->cfg = cfg;
    w->view = shared->view;
    w->shared = shared_arg;
    w->mongo = ll_rm_client_new(cfg->mongo_uri, cfg->mongo_database, "ledgerline-query", err);
    if (w->mongo == NULL) {
        free(w);
        return NULL;
    }
    ll_rm_follower_init(&w->follow, w->mongo, GENERATION_CHECK_MS);
    w->pg = ll_pg_connect_bounded(cfg->pg_conninfo, cfg->request_timeout_ms, err);
    if (w->pg == NULL || (w->events = ll_event_reader_on(&w->pg)) == NULL) {
        if (w->pg != NULL) ll_error_set(err, LL_ENOMEM, "out of memory");
        ll_query_worker_fini(w);
        return NULL;
    }
    /* A failover or a dropped connection during a long stream: the reader re-makes it between
     * pages and reads on (no transaction spans the reads here). */
    ll_event_reader_on_reconnect(w->events, reconnect_pg, w);
    return w;
}

void ll_query_worker_fini(void *arg) {
    ll_query_worker_t *w = arg;
    if (w == NULL) return;
    ll_rm_follower_close(&w->follow);
    ll_rm_client_free(w->mongo);
    ll_event_reader_free(w->events);
    PQfinish(w->pg);
    free(w);
}

/* Opens (or follows a switch to) the active read-model generation. */
static int read_model(ll_query_worker_t *w, ll_error_t *err) {
    return ll_rm_follow(&w->follow, NULL, err) == 0 ? 0 : LL_EIO;
}

static int pg_ready(ll_query_worker_t *w, ll_error_t *err) {
    if (!ll_pg_broken(w->pg)) return 0;
    PQfinish(w->pg);
    /* A new session, maybe at the old PGconn's address: the reader's statements are not there. */
    ll_event_reader_reset(w->events);
    w->pg = ll_pg_connect_bounded(w->cfg->pg_conninfo, w->cfg->request_timeout_ms, err);
    return w->pg ? 0 : LL_EIO;
}

/* The event reader's way to re-make w->pg (ll_event_reader_on_reconnect). */
static int reconnect_pg(void *worker, ll_error_t *err) {
    return pg_ready(worker, err);
}

/* A dependency failed: counted for /metrics, answered 503 with Retry-After. */
static void unavailable(ll_query_worker_t *w, ll_query_job_t *job, int is_mongo) {
    atomic_fetch_add(is_mongo ? &w->shared->mongo_errors : &w->shared->pg_errors, 1);
    ll_query_problem(job, 503, "storage-unavailable", "Service unavailable",
                     is_mongo ? "the read models are unavailable" : "the event store is unavailable");
    job->retry_after_s = 1;
}

/* ---- read models --------------------------------------------------------------------------- */

/* The figures every account read shows: the balance, what open holds reserve, what is left to
 * spend (balance - held, ll_account_available), the credit line and whether debits are frozen. */
static int add_figures(json_t *o, const ll_account_t *a) {
    int rc = json_object_set_new(o, "balance_minor", json_integer((json_int_t)a->balance_minor));
    rc |= json_object_set_new(o, "held_minor", json_integer((json_int_t)a->held_minor));
    rc |= json_object_set_new(o, "available_minor", json_integer((json_int_t)ll_account_available(a)));
    rc |= json_object_set_new(o, "overdraft_limit_minor", json_integer((json_int_t)a->overdraft_limit_minor));
    rc |= json_object_set_new(o, "frozen", json_boolean(a->frozen));
    return rc;
}

static json_t *account_json(const ll_account_t *a) {
    char id[LL_UUID_TEXT_LEN + 1], updated[LL_TIME_TEXT_LEN + 1];
    ll_uuid_format(&a->account_id, id);
    ll_time_format(a->updated_at_us, updated);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "account_id", id, "owner", a->owner, "currency",
                          a->currency.code, "status", ll_account_status_name(a->status));
    if (o == NULL || add_figures(o, a) != 0 ||
        json_object_set_new(o, "version", json_integer((json_int_t)a->version)) != 0 ||
        json_object_set_new(o, "updated_at", json_string(updated)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *ll_query_account_body(const ll_account_t *a) {
    json_t *v = account_json(a);
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    return text;
}

static void respond_account(ll_query_job_t *job, const ll_account_t *a) {
    snprintf(job->etag, sizeof job->etag, "\"%lld\"", (long long)a->version);
    respond_json(job, account_json(a));
}

void ll_query_not_yet_visible(ll_query_job_t *job) {
    /* Never stale data silently: say it is not visible yet. */
    job->retry_after_s = 1;
    ll_query_problem(job, 503, "not-yet-visible", "Not yet visible",
                     "the read model has not reached min_version yet; retry");
}

/* Whether the read model holds version at_least of job's account (one _id lookup). Returns 1
 * when it does, 0 when not yet, -1 when the read model is unavailable. */
static int has_version(ll_query_worker_t *w, ll_query_job_t *job, int64_t at_least) {
    ll_error_t err = {""};
    bool stored = false;
    atomic_fetch_add(&w->shared->wait_store_reads, 1);
    job->store_looks++;
    if (read_model(w, &err) != 0 ||
        ll_read_model_has_version(w->follow.rm, &job->account_id, at_least, &stored, &err) != 0)
        return -1;
    return stored ? 1 : 0;
}

/* Not there yet: before job's deadline the loop looks again later (job->again, the worker is
 * not held meanwhile: ll_query_api.c); at the deadline, 503 not-yet-visible. */
static void not_yet(ll_query_job_t *job) {
    if (ll_clock_ms() < job->deadline_ms)
        job->again = 1;
    else
        ll_query_not_yet_visible(job);
}

/* What the read model holds of job's account once it reflects version at_least (< 0: any): one
 * look; the state read is offered to the live view. Another's account is as if missing. items
 * (may be NULL) receives the movements of its unsealed pages. Returns 1 with *acc set;
 * otherwise the answer is given (503 storage-unavailable, 404 when there is none and nothing to
 * wait for, 503 not-yet-visible at the deadline) or job->again is set, and returns 0. */
static int await_account(ll_query_worker_t *w, ll_query_job_t *job, int64_t at_least, ll_rm_account_t *acc,
                         ll_rm_items_t *items) {
    ll_error_t err = {""};
    int r = at_least > 0 ? has_version(w, job, at_least) : 1;
    bool found = false;
    if (r < 0 || (r > 0 && (read_model(w, &err) != 0 ||
                            ll_read_model_load(w->follow.rm, &job->account_id, acc, &found, items, &err) != 0))) {
        unavailable(w, job, 1);
        return 0;
    }
    if (found && w->view != NULL) ll_account_view_fill(w->view, ll_read_model_generation(w->follow.rm), &acc->state);
    found = found && ll_query_may_see(job, &acc->state);
    if (found && acc->state.version >= at_least) return 1;
    if (at_least < 0) {
        ll_query_problem(job, 404, "account-not-found", "Account not found", "no such account");
        return 0;
    }
    /* Not stored yet, stored but not yet visible as a whole (a write seen half done), or
     * another's account (which waits like a missing one). */
    not_yet(job);
    return 0;
}

/* The live view first; without a held state, the read model answers (and offers the view what
 * it read). While min_version is not reached the job comes back (job->again) until its
 * deadline: the loop re-checks a view that holds the account on its own, so a held account
 * costs no worker while it waits. */
static void query_account(ll_query_worker_t *w, ll_query_job_t *job) {
    ll_account_t a;
    if (w->view != NULL) {
        ll_view_result_t r = ll_account_view_get(w->view, &job->account_id, job->min_version, &a);
        if (r == LL_VIEW_HIT && ll_query_may_see(job, &a)) {
            respond_account(job, &a);
            return;
        }
        if (r == LL_VIEW_BEHIND && ll_clock_ms() < job->deadline_ms) {
            job->again = 1;
            return;
        }
        /* BEHIND at the deadline: the read model gets one look below, then 503. */
    }
    ll_rm_account_t acc;
    if (await_account(w, job, job->min_version, &acc, NULL)) respond_account(job, &acc.state);
}

/* A statement page being rendered (the walk: ll_rm_statement.h): items newest first, and the
 * first page's newest items, kept to offer the live view (keep: how many to keep). */
typedef struct {
    ll_text_t body;
    int64_t count;
    int keep, kept;
    int64_t versions[LL_RECENT_MOVEMENTS_MAX];
    char *json[LL_RECENT_MOVEMENTS_MAX];
} statement_page_t;

static void page_add(void *ctx, int64_t version, const char *json, uint32_t len) {
    statement_page_t *pg = ctx;
    ll_text_printf(&pg->body, "%s%.*s", pg->count ? "," : "", (int)len, json);
    pg->count++;
    if (pg->kept < pg->keep && (pg->json[pg->kept] = strndup(json, len)) != NULL)
        pg->versions[pg->kept++] = version;
    else
        pg->keep = pg->kept; /* out of memory: what is kept must have no holes */
}

/* Offers the live view what the first page read: the newest movements up to the state read,
 * the whole history when complete. */
static void offer_movements(ll_query_worker_t *w, ll_query_job_t *job, statement_page_t *pg, int64_t version,
                            bool complete) {
    if (w->view != NULL && pg->keep > 0)
        ll_account_view_fill_movements(w->view, ll_read_model_generation(w->follow.rm), &job->account_id, version,
                                       pg->versions, (const char *const *)pg->json, (size_t)pg->kept, complete);
    for (int i = 0; i < pg->kept; i++) free(pg->json[i]);
}

/* Drops a page that will not be answered. */
static void page_drop(ll_query_worker_t *w, ll_query_job_t *job, statement_page_t *pg) {
    free(ll_text_take(&pg->body));
    pg->keep = 0;
    offer_movements(w, job, pg, 0, false);
}

/* A statement never shows less than a GET of the account may already have shown (read-your-
 * writes across routes): the live view can be ahead of the read model, so the page waits, as
 * min_version does, until the read model has caught up with the version the view holds. The
 * read model walks the page (ll_rm_statement.h); this renders it. */
static void query_transactions(ll_query_worker_t *w, ll_query_job_t *job) {
    ll_account_t a;
    int64_t shown = -1; /* nothing shown: no wait, a missing account is 404 at once */
    if (w->view != NULL && ll_account_view_peek(w->view, &job->account_id, &a)) {
        if (!ll_query_may_see(job, &a)) { /* another's account: as if missing, at once */
            ll_query_problem(job, 404, "account-not-found", "Account not found", "no such account");
            return;
        }
        shown = a.version;
    }
    ll_rm_account_t acc;
    ll_rm_items_t items = {0};
    job->wait_version = shown > 0 ? shown : 0; /* what a wait (job->again) is for */
    if (!await_account(w, job, shown, &acc, &items)) {
        ll_rm_items_free(&items);
        return;
    }
    statement_page_t pg = {.count = 0};
    /* The newest, unfiltered: worth holding. */
    if (job->cursor <= 0 && !ll_stmt_filter_active(&job->filter)) pg.keep = LL_RECENT_MOVEMENTS_MAX;
    ll_text_init(&pg.body);
    ll_text_printf(&pg.body, "{\"items\":[");
    ll_rm_statement_query_t q = {&job->filter, job->cursor, job->limit, page_add, &pg};
    ll_rm_statement_t st;
    ll_error_t err = {""};
    int rc = ll_read_model_statement(w->follow.rm, &acc, &items, &q, &st, &err);
    ll_rm_items_free(&items);
    atomic_fetch_add(&w->shared->time_probes, (uint_fast64_t)st.probes);
    if (st.unindexed) atomic_fetch_add(&w->shared->unindexed_walks, 1);
    if (rc != 0) {
        page_drop(w, job, &pg);
        unavailable(w, job, 1);
        return;
    }
    if (st.bad) {
        page_drop(w, job, &pg);
        atomic_fetch_add(&w->shared->mongo_errors, 1);
        ll_query_problem(job, 503, "storage-unavailable", "Service unavailable",
                         "a statement item of the read model does not parse; run ledgerline-audit reconcile");
        job->retry_after_s = 1;
        return;
    }
    if (pg.kept < pg.keep && st.more) pg.keep = 0; /* not the newest run of movements */
    /* The whole history only when the walk reached its start and kept every item it found: a
     * page of more than the view keeps is the newest run of them, not all. */
    offer_movements(w, job, &pg, acc.state.version, !st.more && st.stopped_at == 0 && pg.kept == pg.count);
    if (st.more)
        ll_text_printf(&pg.body, "],\"next_cursor\":\"%lld\"}", (long long)st.last_version);
    else if (st.stopped_at > 1)
        ll_text_printf(&pg.body, "],\"next_cursor\":\"%lld\"}", (long long)st.stopped_at);
    else
        ll_text_printf(&pg.body, "],\"next_cursor\":null}");
    respond_text(job, ll_text_take(&pg.body));
}

/* ---- event store --------------------------------------------------------------------------- */

/* Calls each(ctx, envelope, len) for job's events in version order, from from_version up to
 * to_version (< 1: all) and occurred_at <= as_of_us (< 0: any), read a page at a time by the
 * (account_id, version) index; stops early when each returns non-zero. Returns the events
 * passed to each, or -1 with 503 answered. */
static int64_t each_event(ll_query_worker_t *w, ll_query_job_t *job, int64_t from_version, int64_t to_version,
                          int64_t as_of_us, ll_envelope_fn each, void *ctx) {
    ll_error_t err = {""};
    ll_event_range_t range = {from_version > 1 ? from_version - 1 : 0, to_version > 0 ? to_version : INT64_MAX,
                              as_of_us};
    uint64_t rows = ll_event_reader_rows(w->events);
    /* The reader re-makes a broken connection before each page (reconnect_pg). */
    int64_t seen = ll_event_reader_each(w->events, &job->account_id, range, each, ctx, &err);
    atomic_fetch_add(&w->shared->store_events_read, (uint_fast64_t)(ll_event_reader_rows(w->events) - rows));
    if (seen < 0) unavailable(w, job, 0);
    return seen;
}

/* A stream folded event by event; for a customer, a stream whose first event (AccountOpened)
 * names another owner stops there and is answered as a missing one. */
typedef struct {
    ll_query_job_t *job;
    ll_account_t a;
    int bad, hidden;
    ll_error_t err;
} fold_t;

static void fold_init(fold_t *f, ll_query_job_t *job) {
    memset(f, 0, sizeof *f);
    f->job = job;
    ll_account_init(&f->a, &job->account_id);
}

/* Folds one envelope into f->a; returns non-zero (stop) when it does not replay or is hidden. */
static int fold_one(fold_t *f, const char *text, size_t len) {
    ll_event_t ev;
    if (ll_replay_envelope(&f->a, text, len, &ev, &f->err) != 0) return f->bad = 1;
    if (f->a.version == 1 && !ll_query_may_see(f->job, &f->a)) return f->hidden = 1;
    return 0;
}

static int fold_each(void *ctx, const char *text, size_t len) {
    return fold_one(ctx, text, len);
}

static void query_balance(ll_query_worker_t *w, ll_query_job_t *job) {
    fold_t f;
    fold_init(&f, job);
    if (each_event(w, job, 1, -1, job->as_of_us, fold_each, &f) < 0) return;
    if (f.hidden || (f.a.version == 0 && !f.bad)) {
        ll_query_problem(job, 404, "account-not-found", "Account not found", "no such account at as_of");
        return;
    }
    if (f.bad) {
        ll_query_problem(job, 409, "stream-integrity", "Event stream does not replay",
                         "the stored events of this account do not replay; run audit/verify");
        return;
    }
    char id[LL_UUID_TEXT_LEN + 1], when[LL_TIME_TEXT_LEN + 1];
    ll_uuid_format(&f.a.account_id, id);
    ll_time_format(job->as_of_us, when);
    /* The figures as of T too: what was held, available, the limit and a freeze then. */
    json_t *out = json_pack("{s:s, s:s, s:I, s:s}", "account_id", id, "currency", f.a.currency.code,
                            "version", (json_int_t)f.a.version, "as_of", when);
    if (out != NULL && add_figures(out, &f.a) != 0) {
        json_decref(out);
        out = NULL;
    }
    respond_json(job, out);
}

/* An audit page: every event up to the page's end is folded (the states after need the whole
 * prefix), only the page's are kept. */
typedef struct {
    fold_t f;
    int64_t from, to, last;
    json_t *items, *problem;
    int more;
} audit_page_t;

/* A TransferReceived is written by the sender's command: its actor, Idempotency-Key
 * (command_id) and correlation id are the sender's. A customer reading its own stream sees them
 * blanked, with the names in "redacted" (and an AccountFrozen's reason and actor, below); auditors and operators see the event as stored (and
 * hashed: audit/verify checks the stored bytes either way). Returns the item, or NULL. */
static json_t *audit_item(const ll_query_job_t *job, const char *text, size_t len, json_t *state) {
    static const char *const sender_fields[] = {"actor", "command_id", "correlation_id"};
    json_t *event = json_loadb(text, len, 0, NULL);
    json_t *item = json_pack("{s:o, s:o}", "event", event, "state_after", state);
    const char *type = json_string_value(json_object_get(event, "type"));
    if (item == NULL || job->owner_scope[0] == '\0' || type == NULL) return item;
    /* A freeze's reason (a court order, an AML case) is the bank's: telling the customer could
     * tip it off. The customer sees that and when its account was frozen, not why or by whom. */
    if (strcmp(type, "AccountFrozen") == 0) {
        json_object_set_new(json_object_get(event, "data"), "reason", json_string(""));
        json_object_set_new(event, "actor", json_string(""));
        json_object_set_new(item, "redacted", json_pack("[s, s]", "actor", "data.reason"));
        return item;
    }
    if (strcmp(type, "TransferReceived") != 0) return item;
    json_t *names = json_array();
    for (size_t i = 0; i < sizeof sender_fields / sizeof sender_fields[0]; i++) {
        json_object_set_new(event, sender_fields[i], json_string(""));
        json_array_append_new(names, json_string(sender_fields[i]));
    }
    json_object_set_new(item, "redacted", names);
    return item;
}

static int audit_each(void *ctx, const char *text, size_t len) {
    audit_page_t *pg = ctx;
    if (pg->f.a.version == pg->to) { /* one event past the page: a next page exists */
        pg->more = 1;
        return 1;
    }
    if (fold_one(&pg->f, text, len)) {
        if (pg->f.bad) {
            json_decref(pg->problem);
            pg->problem = json_pack("{s:I, s:s}", "version", (json_int_t)(pg->f.a.version + 1), "reason",
                                    pg->f.err.msg);
        }
        return 1;
    }
    const ll_account_t *a = &pg->f.a;
    pg->last = a->version;
    if (a->version < pg->from) return 0;
    json_t *state = json_pack("{s:I, s:s, s:s}", "version", (json_int_t)a->version, "status",
                              ll_account_status_name(a->status), "currency", a->currency.code);
    if (state != NULL && add_figures(state, a) != 0) {
        json_decref(state);
        state = NULL;
    }
    json_array_append_new(pg->items, audit_item(pg->f.job, text, len, state));
    return 0;
}

static int resume_each(void *ctx, const char *text, size_t len) {
    audit_page_t *pg = ctx;
    if (pg->f.a.version == 0) return fold_one(&pg->f, text, len); /* the opening: whose it is */
    ll_event_t ev;
    if (ll_event_decode(text, len, &ev, &pg->f.err) != 0 || ll_replay_resume(&pg->f.a, &ev, &pg->f.err) != 0)
        pg->f.bad = 1;
    return 1;
}

/* A page that starts past version 2 pays for what it returns, not for the stream before it:
 * the state is taken from the opening and from the event right before the page, which the
 * page's first event must link to (ll_replay_resume). Sets *start to the version to fold on from
 * (0: nothing more to read, the account is missing or hidden or pg->problem says why). Returns
 * the events read, or -1 with 503 answered. */
static int64_t audit_resume(ll_query_worker_t *w, ll_query_job_t *job, audit_page_t *pg, int64_t *start) {
    *start = 0;
    int64_t opened = each_event(w, job, 1, 1, -1, resume_each, pg);
    if (opened <= 0 || pg->f.hidden) return opened;
    if (!pg->f.bad) {
        int64_t before = each_event(w, job, job->from_version - 1, job->from_version - 1, -1, resume_each, pg);
        if (before < 0) return -1;
        if (before == 0) /* the stream ends before the page: fold what there is (an empty page) */
            *start = 2;
        else if (!pg->f.bad)
            *start = job->from_version;
    }
    if (pg->f.bad) {
        json_decref(pg->problem);
        pg->problem = json_pack("{s:I, s:s}", "version", (json_int_t)(pg->f.a.version == 0 ? 1 : job->from_version - 1),
                                "reason", pg->f.err.msg);
    }
    return opened;
}

/* A page with nothing in it (past the stream's end, or an empty range) is said from the
 * account's head alone: one lookup by account_state's primary key, no event read. Returns 1
 * when answered so (the account exists, the principal may see it, and the page is empty),
 * 0 when the page must be read (including every other case: missing, hidden, no state row),
 * -1 when answered 503. */
static int audit_nothing_to_read(ll_query_worker_t *w, ll_query_job_t *job, int empty) {
    ll_error_t err = {""};
    ll_state_row_t row;
    int found = ll_event_reader_state_row(w->events, &job->account_id, &row, &err);
    if (found < 0) {
        unavailable(w, job, 0);
        return -1;
    }
    int nothing = found == 1 && (empty || row.version < job->from_version) &&
                  (job->owner_scope[0] == '\0' || strcmp(job->owner_scope, row.owner) == 0);
    if (nothing) respond_json(job, json_pack("{s:[], s:n, s:n}", "items", "next_cursor", "integrity_error"));
    return nothing;
}

static void query_audit(ll_query_worker_t *w, ll_query_job_t *job) {
    /* The page's last version, saturated: from_version may be anything up to INT64_MAX, and one
     * more than the page is read to see whether a next page exists. */
    int64_t page_end =
        job->from_version > INT64_MAX - 1 - job->limit ? INT64_MAX - 1 : job->from_version + job->limit - 1;
    int64_t to = job->to_version > 0 && job->to_version < page_end ? job->to_version : page_end;
    /* to_version below from_version: an empty range of an account that must still exist. */
    int empty = to < job->from_version;
    /* A page that may start past the end (from_version 1 never does). */
    if ((empty || job->from_version > 1) && audit_nothing_to_read(w, job, empty) != 0) return;
    audit_page_t pg = {.from = job->from_version, .to = empty ? -1 : to}; /* empty: only the owner check */
    fold_init(&pg.f, job);
    pg.items = json_array();
    pg.problem = json_null();
    int64_t start = 1, n = 0;
    if (!empty && job->from_version > 2) n = audit_resume(w, job, &pg, &start);
    if (n >= 0 && start > 0 && !pg.f.hidden) {
        int64_t more = each_event(w, job, start, empty ? 1 : to + 1, -1, audit_each, &pg);
        n = more < 0 ? -1 : n + more;
    }
    if (n < 0 || pg.f.hidden || n == 0) {
        if (n >= 0)
            ll_query_problem(job, 404, "account-not-found", "Account not found", "no such account");
        json_decref(pg.items);
        json_decref(pg.problem);
        return;
    }
    if (empty) {
        json_decref(pg.items);
        json_decref(pg.problem);
        respond_json(job, json_pack("{s:[], s:n, s:n}", "items", "next_cursor", "integrity_error"));
        return;
    }
    char next[24];
    snprintf(next, sizeof next, "%lld", (long long)(to + 1));
    respond_json(job, json_pack("{s:o, s:o, s:o}", "items", pg.items, "next_cursor",
                                pg.more && pg.last == to ? json_string(next) : json_null(), "integrity_error",
                                pg.problem));
}

/* Verification, one chunk of the stream at a time: the chain walk holds one event. */
typedef struct {
    fold_t f; /* the first event only: whose account it is */
    ll_chain_walk_t walk;
} verify_t;

static int verify_each(void *ctx, const char *text, size_t len) {
    verify_t *v = ctx;
    if (v->walk.res.events_checked == 0 && v->f.a.version == 0 && fold_one(&v->f, text, len) && v->f.hidden)
        return 1;
    return !ll_chain_walk_next(&v->walk, text, len);
}

static void query_verify(ll_query_worker_t *w, ll_query_job_t *job) {
    ll_error_t err = {""};
    verify_t v;
    fold_init(&v.f, job);
    ll_chain_walk_init(&v.walk);
    int64_t n = each_event(w, job, 1, -1, -1, verify_each, &v);
    if (n < 0) return;
    if (n == 0 || v.f.hidden) {
        ll_query_problem(job, 404, "account-not-found", "Account not found", "no such account");
        return;
    }
    ll_chain_result_t r = v.walk.res;
    /* The state row records the head: a stream cut short at its end is caught here. */
    char id[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&job->account_id, id);
    ll_state_row_t head;
    int found = ll_event_reader_state_row(w->events, &job->account_id, &head, &err);
    if (found < 0) { /* no answer without the end-of-stream check */
        unavailable(w, job, 0);
        return;
    }
    if (found) {
        ll_chain_check_head(&r, head.head_hash, head.version);
    } else if (r.ok) {
        r.ok = false;
        r.first_bad_version = r.events_checked + 1;
        snprintf(r.reason, sizeof r.reason, "no account_state row records the stream's head");
    }
    json_t *out = json_pack("{s:s, s:b, s:I, s:s}", "account_id", id, "ok", r.ok, "events_checked",
                            (json_int_t)r.events_checked, "head_hash", r.head_hash);
    if (!r.ok) {
        json_object_set_new(out, "first_bad_version", json_integer(r.first_bad_version));
        json_object_set_new(out, "reason", json_string(r.reason));
    }
    respond_json(job, out);
}

/* ---- holds --------------------------------------------------------------------------------- */

/* The canonical text of us, or null when it has none. */
static json_t *time_json(int64_t us) {
    char text[LL_TIME_TEXT_LEN + 1];
    return ll_time_format(us, text) == 0 ? json_string(text) : json_null();
}

/* One hold as the API shows it; NULL when out of memory. */
static json_t *hold_json(const ll_hold_t *h) {
    char hold[LL_UUID_TEXT_LEN + 1], account[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&h->hold_id, hold);
    ll_uuid_format(&h->account_id, account);
    int open = h->status == LL_HOLD_OPEN;
    /* What went back to available when it ended: all of it but what a capture took. */
    int64_t released = open ? 0 : h->amount_minor - h->captured_minor;
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:s, s:o, s:o, s:o, s:I}", "hold_id", hold, "account_id",
                     account, "status", ll_hold_status_name(h->status), "amount_minor", (json_int_t)h->amount_minor,
                     "currency", h->currency.code, "captured_minor", (json_int_t)h->captured_minor,
                     "released_minor", (json_int_t)released, "reference", h->reference, "placed_at",
                     time_json(h->placed_at_us), "expires_at", time_json(h->expires_at_us), "settled_at",
                     open ? json_null() : time_json(h->settled_at_us), "placed_version",
                     (json_int_t)h->placed_version);
}

/* GET /v1/holds/{id}: the hold as the event store keeps it (ll_event_reader_hold): current, never
 * behind what a capture or release answered. A hold of an account the caller may not see
 * answers exactly as a missing one (404 hold-not-found). */
static void query_hold(ll_query_worker_t *w, ll_query_job_t *job) {
    ll_error_t err = {""};
    ll_hold_row_t row;
    int found = ll_event_reader_hold(w->events, &job->hold_id, &row, &err);
    if (found < 0) {
        unavailable(w, job, 0);
        return;
    }
    if (!found || (job->owner_scope[0] != '\0' && strcmp(job->owner_scope, row.owner) != 0)) {
        ll_query_problem(job, 404, "hold-not-found", "Hold not found", "no such hold");
        return;
    }
    respond_json(job, hold_json(&row.hold));
}

/* A page of holds being rendered: the first limit; one more says a next page exists. */
typedef struct {
    json_t *items; /* NULL: out of memory */
    int64_t limit, count, last;
    int more;
} holds_page_t;

static int holds_each(void *ctx, const ll_hold_t *h) {
    holds_page_t *pg = ctx;
    if (pg->count == pg->limit) return pg->more = 1;
    json_t *item = hold_json(h);
    if (item == NULL || json_array_append_new(pg->items, item) != 0) {
        json_decref(pg->items);
        pg->items = NULL;
        return 1;
    }
    pg->last = h->placed_version;
    pg->count++;
    return 0;
}

/* GET /v1/accounts/{id}/holds?status=open: a page of the account's open holds, oldest placed
 * first, from the event store in one statement (ll_event_reader_open_holds): at most limit + 1,
 * the one past limit saying a next page exists. Another's account answers exactly as a missing
 * one. */
static void query_holds(ll_query_worker_t *w, ll_query_job_t *job) {
    ll_error_t err = {""};
    char owner[LL_OWNER_BYTES_MAX + 2];
    holds_page_t pg = {.items = json_array(), .limit = job->limit}; /* NULL: read, then 500 */
    int64_t n = ll_event_reader_open_holds(w->events, &job->account_id, job->cursor > 0 ? job->cursor : 0,
                                           job->limit + 1, owner, holds_each, &pg, &err);
    int missing = n == LL_ENOENT || (n >= 0 && job->owner_scope[0] != '\0' && strcmp(job->owner_scope, owner) != 0);
    if (n < 0 || missing) {
        json_decref(pg.items);
        if (missing)
            ll_query_problem(job, 404, "account-not-found", "Account not found", "no such account");
        else
            unavailable(w, job, 0);
        return;
    }
    char next[24];
    snprintf(next, sizeof next, "%lld", (long long)pg.last);
    respond_json(job, pg.items == NULL ? NULL
                                       : json_pack("{s:o, s:o}", "items", pg.items, "next_cursor",
                                                   pg.more ? json_string(next) : json_null()));
}

/* Answers /readyz from state (ll_query_ready_t). */
static void ready_answer(ll_query_job_t *job, int state) {
    if (state == LL_READY_OK) {
        respond_json(job, json_pack("{s:s}", "status", "ready"));
        return;
    }
    ll_query_problem(job, 503, "not-ready", "Not ready",
                     state == LL_READY_NO_PG ? "the event store is not reachable"
                                             : "the read models are not reachable");
    job->retry_after_s = 1;
}

static void query_ready(ll_query_worker_t *w, ll_query_job_t *job) {
    ll_error_t err = {""};
    bool mongo_ok = ll_rm_client_ping(w->mongo, &err) == 0;
    int pg_ok = mongo_ok && pg_ready(w, &err) == 0 && ll_pg_exec(w->pg, "SELECT 1", &err) == 0;
    if (!mongo_ok || !pg_ok) atomic_fetch_add(!mongo_ok ? &w->shared->mongo_errors : &w->shared->pg_errors, 1);
    int state = !mongo_ok ? LL_READY_NO_MONGO : !pg_ok ? LL_READY_NO_PG : LL_READY_OK;
    atomic_fetch_add(&w->shared->ready_checks, 1);
    atomic_store(&w->shared->ready, state);
    atomic_store(&w->shared->ready_checked_ms, ll_clock_ms());
    atomic_store(&w->shared->ready_refreshing_ms, 0);
    ready_answer(job, state);
}

void ll_query_run(ll_offload_job_t *base, void *worker) {
    ll_query_job_t *job = (ll_query_job_t *)base;
    ll_query_worker_t *w = worker;
    static void (*const handlers[])(ll_query_worker_t *, ll_query_job_t *) = {
        [LL_Q_ACCOUNT] = query_account, [LL_Q_TRANSACTIONS] = query_transactions,
        [LL_Q_BALANCE] = query_balance, [LL_Q_AUDIT] = query_audit,
        [LL_Q_VERIFY] = query_verify,   [LL_Q_READY] = query_ready,
        [LL_Q_HOLD] = query_hold,       [LL_Q_HOLDS] = query_holds,
    };
    handlers[job->kind](w, job);
    if (job->body == NULL && !job->again) ll_query_problem(job, 500, "internal", "Internal error", "no response");
}
