/* ll_rm_statement.c - see ll_rm_statement.h. */
#include "ll_rm_statement.h"

#include <string.h>

/* Sealed pages a statement by time reads before it looks up where its window starts. */
#define WINDOW_PAGES_BEFORE_SEARCH 4

/* A walk in progress: which items it takes, and whether it is over (the page full, an item
 * older than `from`: so is every later one, or an item that is not ours). */
typedef struct {
    ll_read_model_t *rm;
    const ll_rm_account_t *acc;
    const ll_rm_statement_query_t *q;
    ll_rm_statement_t *out;
    ll_stmt_search_t search;
    bool filtered, older;
} walk_t;

static int take(void *ctx, int64_t version, const char *json, uint32_t len) {
    walk_t *w = ctx;
    if (w->filtered) {
        ll_stmt_verdict_t v = ll_stmt_item(w->q->filter, json, len);
        if (v == LL_STMT_OLDER || v == LL_STMT_BAD) {
            w->older = v == LL_STMT_OLDER, w->out->bad = v == LL_STMT_BAD;
            return 1;
        }
        if (v == LL_STMT_SKIP) return 0;
    }
    if (w->out->count == w->q->limit) {
        w->out->more = true;
        return 1;
    }
    w->q->take(w->q->ctx, version, json, len);
    w->out->count++;
    w->out->last_version = version;
    return 0;
}

/* Whether the walk goes on: neither the page full nor the window's start passed. */
static bool walk_open(const walk_t *w) {
    return !w->out->more && !w->older && !w->out->bad;
}

/* Takes the unsealed pages' items below before, newest first. */
static void take_open(walk_t *w, ll_rm_items_t *items, int64_t before) {
    /* Insertion sort, newest first: a page or two of items. */
    for (size_t i = 1; i < items->n; i++)
        for (size_t j = i; j > 0 && items->versions[j - 1] < items->versions[j]; j--) {
            int64_t v = items->versions[j];
            char *t = items->json[j];
            items->versions[j] = items->versions[j - 1], items->json[j] = items->json[j - 1];
            items->versions[j - 1] = v, items->json[j - 1] = t;
        }
    for (size_t i = 0; i < items->n && walk_open(w); i++)
        if (items->versions[i] < before) take(w, items->versions[i], items->json[i], (uint32_t)strlen(items->json[i]));
}

static int probe_page_time(void *ctx, int64_t page, int64_t *last_us) {
    walk_t *w = ctx;
    ll_error_t err = {""};
    bool found = false;
    w->out->probes++;
    if (ll_read_model_page_time(w->rm, &w->acc->state.account_id, page, last_us, &found, &err) != 0) return LL_EIO;
    return found ? 0 : 1;
}

/* Where a time lies among the account's sealed pages 0..head_page-1, searched lazily: the newest
 * page that can hold an instant before `to` when the window ends before the newest event, and
 * the oldest that can hold one at or after `from` only once the walk has read a few pages (a
 * short window ends at its first movement older than `from` sooner than a search would). A page
 * without a time document (sealed by an older build) leaves the walk unindexed: down to page 0,
 * still exact (every item is filtered, the walk ends at the first older than `from`) and bounded
 * per request. *page is left alone when the index cannot tell. Returns 0 or LL_EIO. */
static int window_bound(walk_t *w, int64_t t, int64_t *page, ll_error_t *err) {
    if (w->out->unindexed) return 0;
    int64_t found = 0;
    int rc = ll_stmt_lower_bound(&w->search, t, &found);
    if (rc < 0) return ll_error_set(err, LL_EIO, "the times of the read model's pages are unavailable");
    if (rc > 0) { /* a page without its time: walk without the index */
        w->out->unindexed = true;
        return 0;
    }
    *page = found;
    return 0;
}

/* The sealed pages below before, newest first, down to where the window starts. */
static int walk_sealed(walk_t *w, int64_t before, ll_error_t *err) {
    const ll_stmt_filter_t *f = w->q->filter;
    int64_t head_page = w->acc->head_page, lowest = 0;
    int64_t page = ll_rm_page_of(before - 1) < head_page ? ll_rm_page_of(before - 1) : head_page - 1;
    bool start_known = !f->has_from; /* lowest found, or nothing to find */
    for (int read = 0; page >= lowest && walk_open(w); page--, read++) {
        if (!start_known && read == WINDOW_PAGES_BEFORE_SEARCH) {
            start_known = true;
            if (window_bound(w, f->from_us, &lowest, err) != 0) return LL_EIO;
            if (page < lowest) break; /* every page below ends before `from` */
        }
        if (read == LL_RM_STATEMENT_PAGES_MAX) {
            w->out->stopped_at = ll_rm_page_first(page + 1);
            break;
        }
        bool found = false;
        int rc = ll_read_model_sealed_page(w->rm, &w->acc->state.account_id, page, before, take, w, &found, err);
        if (rc != 0) return rc;
        if (!found) return ll_error_set(err, LL_EIO, "a sealed page of the statement is missing");
    }
    return 0;
}

int ll_read_model_statement(ll_read_model_t *rm, const ll_rm_account_t *acc, ll_rm_items_t *open,
                            const ll_rm_statement_query_t *q, ll_rm_statement_t *out, ll_error_t *err) {
    memset(out, 0, sizeof *out);
    walk_t w = {.rm = rm, .acc = acc, .q = q, .out = out, .filtered = ll_stmt_filter_active(q->filter)};
    const ll_stmt_filter_t *f = q->filter;
    int64_t before = q->cursor > 0 ? q->cursor : INT64_MAX;
    ll_stmt_search_init(&w.search, acc->head_page, acc->state.opened_at_us, acc->state.updated_at_us,
                        acc->state.version, probe_page_time, &w);
    if (f->has_to && before == INT64_MAX && f->to_us <= acc->state.updated_at_us) {
        /* Pages above the first one ending at or after `to` begin after it: the walk starts below. */
        int64_t end = acc->head_page;
        if (window_bound(&w, f->to_us, &end, err) != 0) return LL_EIO;
        if (end < acc->head_page) before = ll_rm_page_first(end + 1);
    }
    take_open(&w, open, before);
    return walk_sealed(&w, before, err);
}
