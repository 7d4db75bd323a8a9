/* ll_read_model_writes.c - see ll_read_model_writes.h. */
#include "ll_read_model_writes.h"

#include "ll_rm_store.h"
#include "ll_rm_times.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define P LL_READ_MODEL_PAGE_VERSIONS

/* An account planned: its caller's tag, and whether another writer turned out to be ahead. */
typedef struct {
    int tag, conflict;
    int unsealed; /* a page it completes could not be sealed: its account document stays */
} account_t;

/* A page that becomes complete: the items these events brought; those of versions up to
 * known_through (stored before) are read from events_g when the page is sealed. */
typedef struct {
    ll_uuid_t account;
    size_t owner; /* index into accounts */
    int64_t page, known_through;
    int64_t last_us; /* occurred_at of the page's last version, for its times_g document; -1 unknown */
    char *items[P];  /* owned; NULL: no money moved, or not known yet */
} seal_t;

typedef struct {
    ll_account_t state;
    int64_t page, prev_version; /* prev_version 0: insert */
    size_t account;             /* index into accounts */
} head_t;

struct ll_rm_writes {
    account_t *accounts;
    size_t n_accounts, cap_accounts;
    bson_t **events;
    size_t *event_account; /* events[i] is of accounts[event_account[i]] */
    size_t n_events, cap_events;
    seal_t *seals;
    size_t n_seals, cap_seals;
    head_t *heads;
    size_t n_heads, cap_heads;
    size_t seal_reads; /* seals that read earlier items back from events_g */
};

/* Grows *arr (of elem-sized entries, *cap of them) to hold one more. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return 0;
    size_t c = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, c * elem);
    if (p == NULL) return -1;
    *arr = p, *cap = c;
    return 0;
}

ll_rm_writes_t *ll_rm_writes_new(void) {
    return calloc(1, sizeof(ll_rm_writes_t));
}

void ll_rm_writes_clear(ll_rm_writes_t *w) {
    for (size_t i = 0; i < w->n_events; i++) bson_destroy(w->events[i]);
    for (size_t i = 0; i < w->n_seals; i++)
        for (int k = 0; k < P; k++) free(w->seals[i].items[k]);
    w->n_accounts = w->n_events = w->n_seals = w->n_heads = w->seal_reads = 0;
}

void ll_rm_writes_free(ll_rm_writes_t *w) {
    if (w == NULL) return;
    ll_rm_writes_clear(w);
    free(w->accounts);
    free(w->events);
    free(w->event_account);
    free(w->seals);
    free(w->heads);
    free(w);
}

void ll_rm_writes_counts(const ll_rm_writes_t *w, size_t *events, size_t *pages, size_t *heads) {
    *events = w->n_events, *pages = w->n_seals, *heads = w->n_heads;
}

size_t ll_rm_writes_seal_reads(const ll_rm_writes_t *w) {
    return w->seal_reads;
}

static int copy_item(void *ctx, int64_t version, const char *json, size_t len) {
    seal_t *s = ctx;
    char **at = &s->items[version - ll_rm_page_first(s->page)];
    if (*at != NULL) return 0;
    if ((*at = malloc(len + 1)) == NULL) return -1;
    memcpy(*at, json, len); /* json is not terminated: no strndup */
    (*at)[len] = '\0';
    return 0;
}

/* The seal entry of page, added after the last when new (pages come in order): with the items
 * of known when they are that page's through known_through (nothing to read then), else empty. */
static seal_t *seal_of(ll_rm_writes_t *w, size_t first, size_t owner, const ll_uuid_t *account, int64_t page,
                       int64_t known_through, const ll_rm_page_items_t *known) {
    for (size_t i = first; i < w->n_seals; i++)
        if (w->seals[i].page == page) return &w->seals[i];
    if (grow((void **)&w->seals, &w->cap_seals, w->n_seals, sizeof *w->seals) != 0) return NULL;
    seal_t *s = &w->seals[w->n_seals++];
    memset(s, 0, sizeof *s);
    s->account = *account;
    s->owner = owner;
    s->page = page;
    s->last_us = -1;
    s->known_through = known_through >= ll_rm_page_first(page) ? known_through : 0;
    if (s->known_through > 0 && known != NULL && known->page == page && known->through == known_through) {
        if (ll_rm_page_items_each(known, copy_item, s) != 0) return NULL;
        s->known_through = 0; /* every item stored before is here: nothing to read */
    }
    return s;
}

static int add_event_doc(ll_rm_writes_t *w, bson_t *doc, size_t account) {
    size_t cap = w->cap_events;
    if (doc == NULL || grow((void **)&w->events, &w->cap_events, w->n_events, sizeof *w->events) != 0) {
        bson_destroy(doc);
        return -1;
    }
    if (cap != w->cap_events) {
        size_t *grown = realloc(w->event_account, w->cap_events * sizeof *grown);
        if (grown == NULL) {
            bson_destroy(doc);
            return -1;
        }
        w->event_account = grown;
    }
    w->event_account[w->n_events] = account;
    w->events[w->n_events++] = doc;
    return 0;
}

/* Pages complete before an account's new events but never sealed (a writer stopped in between):
 * sealed now, from what events_g holds. Returns 0 or -1 (out of memory). */
static int seal_left_open(ll_rm_writes_t *w, size_t n_seals, size_t account, const ll_rm_account_t *before,
                          int64_t open, const ll_rm_page_items_t *known) {
    for (int64_t page = before->head_page; page < open; page++) {
        seal_t *s =
            seal_of(w, n_seals, account, &before->state.account_id, page, before->state.version, known);
        if (s == NULL) return -1;
        if (before->state.version == ll_rm_page_first(page + 1) - 1) s->last_us = before->state.updated_at_us;
    }
    return 0;
}

/* Takes back what one ll_rm_writes_add planned past these counts (it ran out of memory). */
static void take_back(ll_rm_writes_t *w, size_t n_events, size_t n_seals, size_t account) {
    for (size_t i = n_events; i < w->n_events; i++) bson_destroy(w->events[i]);
    for (size_t i = n_seals; i < w->n_seals; i++)
        for (int k = 0; k < P; k++) free(w->seals[i].items[k]);
    w->n_events = n_events, w->n_seals = n_seals, w->n_accounts = account;
}

int ll_rm_writes_add(ll_rm_writes_t *w, const ll_rm_account_t *before, const ll_rm_page_items_t *known,
                     const ll_event_t *events, size_t n, ll_rm_account_t *after, int tag, ll_error_t *err) {
    size_t n_events = w->n_events, n_seals = w->n_seals;
    ll_account_t a = before->state;
    /* First fold: where the account ends decides which events get a document of their own,
     * and whether its account document moves. */
    for (size_t i = 0; i < n; i++) {
        ll_error_t why = {""};
        if (ll_account_evolve(&a, &events[i], &why) != LL_EVOLVE_OK)
            return ll_error_set(err, LL_EINVAL, "planning read-model writes: %s", why.msg);
    }
    int64_t open = ll_rm_open_page(a.version); /* every page below it is complete */
    int head_moves = before->head_version == 0 || open > before->head_page;
    /* The account document moves to ll_rm_head_version of where the account ends: a state these
     * events pass through. Unless pages were left unsealed before them (a writer stopped between
     * the pages and the account document, or documents of an older writer): that state is then
     * not in hand, and the document takes the newest one. */
    int64_t head_at = ll_rm_head_version(a.version);
    if (head_moves && head_at < before->state.version) head_at = a.version;
    int64_t head_after = head_moves ? head_at : before->head_version;
    ll_account_t head_state = before->state;
    if (grow((void **)&w->accounts, &w->cap_accounts, w->n_accounts, sizeof *w->accounts) != 0)
        return ll_error_set(err, LL_ENOMEM, "out of memory");
    size_t account = w->n_accounts++;
    w->accounts[account] = (account_t){tag, 0, 0};
    a = before->state;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        ll_error_t ignored = {""};
        ll_account_evolve(&a, &events[i], &ignored); /* succeeded in the first fold */
        if (a.version == head_at) head_state = a;
        const ll_event_t *ev = &events[i];
        int64_t page = ll_rm_page_of(ev->version);
        if (page >= open) {
            if (ev->version >= 2) /* AccountOpened: the account document holds it */
                rc = add_event_doc(w, ll_rm_event_doc(ev, &a, head_after), account);
        } else if (page >= before->head_page) {
            seal_t *s = seal_of(w, n_seals, account, &ev->account_id, page, before->state.version, known);
            char item[LL_RM_ITEM_JSON_MAX];
            int len = ll_rm_item_json(ev, item, sizeof item);
            if (s == NULL ||
                (len > 0 && (s->items[ev->version - ll_rm_page_first(page)] = strdup(item)) == NULL))
                rc = -1;
            else if (ev->version == ll_rm_page_first(page + 1) - 1)
                s->last_us = a.updated_at_us; /* the page's last version: when it ends */
        }
    }
    if (rc == 0) rc = seal_left_open(w, n_seals, account, before, open, known);
    *after = *before;
    after->state = a;
    if (rc == 0 && head_moves) {
        if (grow((void **)&w->heads, &w->cap_heads, w->n_heads, sizeof *w->heads) != 0) {
            rc = -1;
        } else {
            assert(head_state.version == head_at && ll_rm_open_page(head_at) == open);
            w->heads[w->n_heads++] = (head_t){head_state, open, before->head_version, account};
            after->head_version = head_at;
            after->head_page = open;
        }
    }
    if (rc != 0) {
        take_back(w, n_events, n_seals, account);
        return ll_error_set(err, LL_ENOMEM, "out of memory");
    }
    return 0;
}

/* Fills the items of s stored before these writes (versions up to known_through) from the
 * events of its page. Returns 0; 1 when one is missing (its account marked a conflict: the page
 * is not sealed, nor its account document moved); or a negative code. */
static int fill_from_events(ll_rm_writes_t *w, ll_read_model_t *rm, seal_t *s, ll_error_t *err) {
    int64_t first = ll_rm_page_first(s->page), need_from = first > 2 ? first : 2;
    int64_t last = s->known_through < first + P - 1 ? s->known_through : first + P - 1;
    if (last < need_from) return 0;
    w->seal_reads++;
    ll_rm_page_events_t pe; /* the page query the loads use: one equality on the page tag */
    int rc = ll_rm_read_page_events(rm, &s->account, s->page, &pe, err);
    if (rc != 0) return rc;
    bool seen[P] = {false};
    for (int k = 0; k < pe.n && rc == 0; k++) {
        const ll_rm_event_t *ev = &pe.ev[k];
        if (ev->version > last) continue;
        int i = (int)(ev->version - first);
        seen[i] = true;
        if (i == P - 1) s->last_us = ev->updated_at_us;
        if (ev->item != NULL && s->items[i] == NULL && (s->items[i] = strndup(ev->item, ev->item_len)) == NULL)
            rc = ll_error_set(err, LL_ENOMEM, "out of memory");
    }
    ll_rm_page_events_free(&pe);
    /* A version missing: the account is behind what the plan took it to hold (a writer that
     * trusted its memory or the event store). Sealing would lose it: a conflict, read again. */
    for (int64_t v = need_from; rc == 0 && v <= last; v++)
        if (!seen[v - first]) {
            w->accounts[s->owner].conflict = w->accounts[s->owner].unsealed = 1;
            return 1;
        }
    return rc;
}

/* The event documents, in one unordered insert. One already stored means the account was
 * further along than planned (another writer, or a guess of what the store holds): harmless,
 * the same document, but a conflict, so the caller reads it again. */
static int write_events(ll_rm_writes_t *w, ll_read_model_t *rm, ll_error_t *err) {
    if (w->n_events == 0) return 0;
    bool *dup = calloc(w->n_events, sizeof *dup);
    if (dup == NULL) return ll_error_set(err, LL_ENOMEM, "out of memory");
    size_t duplicates = 0;
    int rc = ll_read_model_insert(rm, rm->events, (const bson_t *const *)w->events, w->n_events, dup,
                                  &duplicates, err);
    for (size_t i = 0; rc == 0 && duplicates > 0 && i < w->n_events; i++)
        if (dup[i]) w->accounts[w->event_account[i]].conflict = 1;
    free(dup);
    return rc;
}

/* The pages that sealed, in one unordered insert (one already there is the same page); then
 * when each ends (times_g), before any account document says they are sealed. */
static int write_pages(ll_rm_writes_t *w, ll_read_model_t *rm, ll_error_t *err) {
    if (w->n_seals == 0) return 0;
    int rc = 0;
    size_t n = 0, nt = 0;
    bson_t **pages = calloc(w->n_seals, sizeof *pages), **times = calloc(w->n_seals, sizeof *times);
    if (pages == NULL || times == NULL) rc = ll_error_set(err, LL_ENOMEM, "out of memory");
    for (size_t i = 0; i < w->n_seals && rc == 0; i++) {
        seal_t *s = &w->seals[i];
        int filled = w->accounts[s->owner].unsealed ? 1 : fill_from_events(w, rm, s, err);
        if (filled < 0)
            rc = filled;
        else if (filled == 0 && (pages[n++] = ll_rm_page_doc(&s->account, s->page, (const char *const *)s->items)) ==
                                    NULL)
            rc = ll_error_set(err, LL_ENOMEM, "out of memory");
        else if (filled == 0 && s->last_us >= 0 &&
                 (times[nt++] = ll_rm_time_doc(&s->account, s->page, s->last_us)) == NULL)
            rc = ll_error_set(err, LL_ENOMEM, "out of memory");
    }
    if (rc == 0 && n > 0) rc = ll_read_model_insert(rm, rm->pages, (const bson_t *const *)pages, n, NULL, NULL, err);
    if (rc == 0) rc = ll_read_model_insert_times(rm, (const bson_t *const *)times, nt, err);
    for (size_t i = 0; pages != NULL && i < n; i++)
        if (pages[i] != NULL) bson_destroy(pages[i]);
    for (size_t i = 0; times != NULL && i < nt; i++)
        if (times[i] != NULL) bson_destroy(times[i]);
    free(pages);
    free(times);
    return rc;
}

/* Account documents: the new ones in one insert, the others one guarded update each. */
static int write_heads(ll_rm_writes_t *w, ll_read_model_t *rm, ll_error_t *err) {
    size_t n_new = 0;
    int rc = 0;
    for (size_t i = 0; i < w->n_heads; i++) n_new += w->heads[i].prev_version == 0;
    if (n_new > 0) {
        bson_t **docs = calloc(n_new, sizeof *docs);
        bool *dup = calloc(n_new, sizeof *dup);
        size_t *which = calloc(n_new, sizeof *which), duplicates = 0;
        if (docs == NULL || dup == NULL || which == NULL) rc = ll_error_set(err, LL_ENOMEM, "out of memory");
        for (size_t i = 0, k = 0; rc == 0 && i < w->n_heads; i++)
            if (w->heads[i].prev_version == 0)
                which[k] = i, docs[k++] = ll_rm_head_doc(&w->heads[i].state, w->heads[i].page);
        if (rc == 0)
            rc = ll_read_model_insert(rm, rm->accounts, (const bson_t *const *)docs, n_new, dup, &duplicates,
                                      err);
        for (size_t k = 0; rc == 0 && k < n_new; k++)
            if (dup[k]) w->accounts[w->heads[which[k]].account].conflict = 1; /* created meanwhile */
        for (size_t k = 0; docs != NULL && k < n_new; k++)
            if (docs[k] != NULL) bson_destroy(docs[k]);
        free(docs);
        free(dup);
        free(which);
    }
    for (size_t i = 0; rc == 0 && i < w->n_heads; i++) {
        const head_t *h = &w->heads[i];
        /* An account whose page could not be sealed keeps its document where it is. */
        if (h->prev_version == 0 || w->accounts[h->account].unsealed) continue;
        int r = ll_read_model_save_head(rm, &h->state, h->page, h->prev_version, err);
        if (r == LL_EINVAL)
            w->accounts[h->account].conflict = 1; /* moved meanwhile: never overwritten */
        else
            rc = r;
    }
    return rc;
}

int ll_rm_writes_execute(ll_rm_writes_t *w, ll_read_model_t *rm, void (*conflict)(void *ctx, int tag),
                         void *ctx, ll_error_t *err) {
    int rc = write_events(w, rm, err);
    if (rc == 0) rc = write_pages(w, rm, err);
    if (rc == 0) rc = write_heads(w, rm, err);
    for (size_t i = 0; rc == 0 && i < w->n_accounts; i++)
        if (w->accounts[i].conflict) conflict(ctx, w->accounts[i].tag);
    return rc;
}
