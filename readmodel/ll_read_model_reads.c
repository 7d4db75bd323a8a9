/* ll_read_model_reads.c - the read model's reads (ll_read_model.h): an account's state, its
 * statement items, whole generations. Every query is an equality on _id or on events' `page`
 * tag, each bounded by maxTimeMS: a stalled read store becomes an error, never a hang. */
#include "ll_limits.h"
#include "ll_rm_store.h"

#include <stdlib.h>
#include <string.h>

void ll_rm_items_free(ll_rm_items_t *items) {
    for (size_t i = 0; i < items->n; i++) free(items->json[i]);
    free(items->json);
    free(items->versions);
    memset(items, 0, sizeof *items);
}

static int items_add(ll_rm_items_t *items, int64_t version, const char *json, uint32_t len) {
    if (items->n == items->cap) {
        size_t cap = items->cap ? items->cap * 2 : 64;
        int64_t *v = realloc(items->versions, cap * sizeof *v);
        if (v != NULL) items->versions = v;
        char **j = realloc(items->json, cap * sizeof *j);
        if (j != NULL) items->json = j;
        if (v == NULL || j == NULL) return -1;
        items->cap = cap;
    }
    char *copy = malloc((size_t)len + 1);
    if (copy == NULL) return -1;
    memcpy(copy, json, len);
    copy[len] = '\0';
    items->versions[items->n] = version;
    items->json[items->n++] = copy;
    return 0;
}

/* The first document of coll with _id = key, copied into *out (caller destroys); *found false
 * when none. */
static int find_by_id(mongoc_collection_t *coll, const char *key, bson_t *out, bool *found, const char *what,
                      ll_error_t *err) {
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(key));
    bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(LL_READ_MODEL_QUERY_MS_MAX), "limit", BCON_INT64(1));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc;
    bson_error_t e;
    int rc = 0;
    *found = false;
    if (mongoc_cursor_next(cur, &doc)) {
        bson_copy_to(doc, out);
        *found = true;
    }
    if (mongoc_cursor_error(cur, &e)) {
        if (*found) bson_destroy(out);
        *found = false;
        rc = ll_rm_mongo_error(err, what, &e);
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    return rc;
}

void ll_rm_page_events_free(ll_rm_page_events_t *p) {
    for (int i = 0; i < p->n; i++) bson_destroy(p->docs[i]);
    p->n = 0;
}

int ll_rm_read_page_events(ll_read_model_t *rm, const ll_uuid_t *id, int64_t page, ll_rm_page_events_t *out,
                           ll_error_t *err) {
    char tag[LL_RM_KEY_LEN + 1];
    ll_rm_key(id, page, tag);
    bson_t *filter = BCON_NEW("page", BCON_UTF8(tag));
    bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(LL_READ_MODEL_QUERY_MS_MAX));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(rm->events, filter, opts, NULL);
    const bson_t *doc;
    bson_error_t e;
    int rc = 0;
    out->n = 0;
    while (rc == 0 && mongoc_cursor_next(cur, &doc)) {
        ll_rm_event_t ev;
        if (ll_rm_event_parse(doc, &ev) != 0 || ll_rm_page_of(ev.version) != page) {
            rc = ll_error_set(err, LL_EIO, "events document of page %s is not ledgerline's", tag);
            break;
        }
        if (out->n == LL_READ_MODEL_PAGE_VERSIONS) {
            rc = ll_error_set(err, LL_EIO, "page %s has more than %d events", tag,
                              LL_READ_MODEL_PAGE_VERSIONS);
            break;
        }
        /* Insertion sort by version: at most a page's worth, usually arriving in order. */
        int i = out->n++;
        out->docs[i] = bson_copy(doc);
        ll_rm_event_parse(out->docs[i], &out->ev[i]); /* item must point into the kept copy */
        while (i > 0 && out->ev[i - 1].version > out->ev[i].version) {
            ll_rm_event_t t = out->ev[i];
            bson_t *d = out->docs[i];
            out->ev[i] = out->ev[i - 1], out->docs[i] = out->docs[i - 1];
            out->ev[i - 1] = t, out->docs[i - 1] = d;
            i--;
        }
    }
    if (rc == 0 && mongoc_cursor_error(cur, &e)) rc = ll_rm_mongo_error(err, "find events", &e);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    if (rc != 0) ll_rm_page_events_free(out);
    return rc;
}

int ll_read_model_load(ll_read_model_t *rm, const ll_uuid_t *id, ll_rm_account_t *out, bool *found,
                       ll_rm_items_t *items, ll_error_t *err) {
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(id, text);
    memset(out, 0, sizeof *out);
    ll_account_init(&out->state, id);
    bson_t head;
    int rc = find_by_id(rm->accounts, text, &head, found, "find account", err);
    if (rc != 0 || !*found) return rc;
    if (ll_rm_head_parse(&head, out) != 0 || !ll_uuid_equal(&out->state.account_id, id))
        rc = ll_error_set(err, LL_EIO, "account document %s is not ledgerline's", text);
    bson_destroy(&head);
    /* The events after the account document, page by page while pages fill up (the document
     * moves on only when a page seals, so this is usually one query). Only versions that follow
     * on are taken: an insert of several events may be seen half done, never with a hole. */
    for (int64_t page = out->head_page; rc == 0; page++) {
        ll_rm_page_events_t pe;
        if ((rc = ll_rm_read_page_events(rm, id, page, &pe, err)) != 0) break;
        int64_t expect = out->state.version + 1;
        for (int i = 0; i < pe.n; i++) {
            const ll_rm_event_t *e = &pe.ev[i];
            if (e->version > out->state.version) {
                if (e->version != expect) break;
                ll_rm_event_apply(&out->state, e);
                expect++;
            }
            if (items != NULL && e->item != NULL && items_add(items, e->version, e->item, e->item_len) != 0) {
                rc = ll_error_set(err, LL_ENOMEM, "out of memory");
                break;
            }
        }
        ll_rm_page_events_free(&pe);
        if (out->state.version != ll_rm_page_first(page + 1) - 1) break; /* page not full: the end */
    }
    return rc;
}

int ll_read_model_probe(ll_read_model_t *rm, const ll_uuid_t *id, int64_t version, ll_rm_account_t *out,
                        bool *found, ll_error_t *err) {
    char key[LL_RM_KEY_LEN + 1];
    bson_t doc;
    int rc = 0;
    *found = false;
    if (version >= 2) {
        ll_rm_key(id, version, key);
        if ((rc = find_by_id(rm->events, key, &doc, found, "find event", err)) != 0) return rc;
        if (*found) {
            ll_rm_event_t e;
            if (ll_rm_event_parse(&doc, &e) != 0 || e.version != version ||
                ll_rm_event_account(id, &e, out) != 0)
                rc = ll_error_set(err, LL_EIO, "events document %s is not ledgerline's", key);
            /* Written with later events (its account document is ahead of it): not the newest. */
            else if (e.head_version > e.version)
                *found = false;
            bson_destroy(&doc);
            if (rc != 0 || *found) return rc;
        }
    }
    /* No document of its own (AccountOpened, or sealed into its page by the write that stored
     * it, which moved the account document to it): the account document, if it is there. */
    ll_uuid_format(id, key);
    if ((rc = find_by_id(rm->accounts, key, &doc, found, "find account", err)) != 0 || !*found) return rc;
    if (ll_rm_head_parse(&doc, out) != 0 || !ll_uuid_equal(&out->state.account_id, id))
        rc = ll_error_set(err, LL_EIO, "account document %s is not ledgerline's", key);
    else if (out->state.version != version)
        *found = false;
    bson_destroy(&doc);
    return rc;
}

int ll_read_model_load_account(ll_read_model_t *rm, const ll_uuid_t *id, ll_account_t *a, bool *found,
                               ll_error_t *err) {
    ll_rm_account_t acc;
    int rc = ll_read_model_load(rm, id, &acc, found, NULL, err);
    *a = acc.state;
    return rc;
}

int ll_read_model_has_version(ll_read_model_t *rm, const ll_uuid_t *id, int64_t version, bool *stored,
                              ll_error_t *err) {
    char key[LL_RM_KEY_LEN + 1];
    bson_t doc;
    *stored = false;
    if (version <= 1) { /* AccountOpened lives in the account document */
        ll_uuid_format(id, key);
        int rc = find_by_id(rm->accounts, key, &doc, stored, "find account", err);
        if (*stored) bson_destroy(&doc);
        return rc;
    }
    ll_rm_key(id, version, key);
    int rc = find_by_id(rm->events, key, &doc, stored, "find event", err);
    if (*stored) bson_destroy(&doc);
    if (rc != 0 || *stored) return rc;
    /* An event sealed into its page in the same write as it was stored has no document. */
    ll_rm_key(id, ll_rm_page_of(version), key);
    rc = find_by_id(rm->pages, key, &doc, stored, "find page", err);
    if (*stored) bson_destroy(&doc);
    return rc;
}

int ll_read_model_sealed_page(ll_read_model_t *rm, const ll_uuid_t *id, int64_t page, int64_t before,
                              int (*each)(void *ctx, int64_t version, const char *json, uint32_t len),
                              void *ctx, bool *found, ll_error_t *err) {
    char key[LL_RM_KEY_LEN + 1];
    bson_t doc;
    ll_rm_key(id, page, key);
    int rc = find_by_id(rm->pages, key, &doc, found, "find page", err);
    if (rc != 0 || !*found) return rc;
    if (ll_rm_page_items(&doc, page, before, each, ctx) != 0)
        rc = ll_error_set(err, LL_EIO, "page document %s is not ledgerline's", key);
    bson_destroy(&doc);
    return rc;
}

/* Every document of coll, to each(ctx, doc). */
static int scan(mongoc_collection_t *coll, int (*each)(void *ctx, const bson_t *doc), void *ctx, ll_error_t *err) {
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts =
        BCON_NEW("maxTimeMS", BCON_INT64(LL_READ_MODEL_QUERY_MS_MAX), "batchSize", BCON_INT32(LL_BATCH_MAX));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &filter, opts, NULL);
    const bson_t *doc;
    bson_error_t e;
    int rc = 0;
    while (rc == 0 && mongoc_cursor_next(cur, &doc)) rc = each(ctx, doc);
    if (rc == 0 && mongoc_cursor_error(cur, &e)) rc = ll_rm_mongo_error(err, "scan", &e);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    return rc;
}

/* What a scan's callbacks are handed, and where a document that is not ours is said. */
typedef struct {
    int (*account)(void *ctx, const ll_rm_account_t *a);
    int (*event)(void *ctx, const ll_uuid_t *account, int64_t version, const ll_rm_event_t *e);
    int (*page)(void *ctx, const ll_uuid_t *account, int64_t page);
    int (*item)(void *ctx, int64_t version, const char *json, uint32_t len);
    void *ctx;
    ll_error_t *err;
} scan_t;

static int scan_account(void *arg, const bson_t *doc) {
    scan_t *s = arg;
    ll_rm_account_t a;
    if (ll_rm_head_parse(doc, &a) != 0)
        return ll_error_set(s->err, LL_EINVAL, "an account document is not ledgerline's");
    return s->account(s->ctx, &a);
}

/* The id of an events_g or pages_g document: its account and number. */
static int doc_key(scan_t *s, const bson_t *doc, ll_uuid_t *account, int64_t *n) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it) ||
        ll_rm_key_parse(bson_iter_utf8(&it, NULL), account, n) != 0)
        return ll_error_set(s->err, LL_EINVAL, "a read-model document's _id is not ledgerline's");
    return 0;
}

static int scan_event(void *arg, const bson_t *doc) {
    scan_t *s = arg;
    ll_uuid_t account;
    int64_t version;
    ll_rm_event_t e;
    int rc = doc_key(s, doc, &account, &version);
    if (rc != 0) return rc;
    if (ll_rm_event_parse(doc, &e) != 0 || e.version != version)
        return ll_error_set(s->err, LL_EINVAL, "an events document is not ledgerline's");
    return s->event(s->ctx, &account, version, &e);
}

static int scan_page(void *arg, const bson_t *doc) {
    scan_t *s = arg;
    ll_uuid_t account;
    int64_t page;
    int rc = doc_key(s, doc, &account, &page);
    if (rc == 0) rc = s->page(s->ctx, &account, page);
    if (rc == 0 && ll_rm_page_items(doc, page, INT64_MAX, s->item, s->ctx) != 0)
        rc = ll_error_set(s->err, LL_EINVAL, "a page document is not ledgerline's");
    return rc;
}

int ll_read_model_scan_accounts(ll_read_model_t *rm, int (*each)(void *ctx, const ll_rm_account_t *a),
                                void *ctx, ll_error_t *err) {
    scan_t s = {.account = each, .ctx = ctx, .err = err};
    return scan(rm->accounts, scan_account, &s, err);
}

int ll_read_model_scan_events(ll_read_model_t *rm,
                              int (*each)(void *ctx, const ll_uuid_t *account, int64_t version,
                                          const ll_rm_event_t *e),
                              void *ctx, ll_error_t *err) {
    scan_t s = {.event = each, .ctx = ctx, .err = err};
    return scan(rm->events, scan_event, &s, err);
}

int ll_read_model_scan_pages(ll_read_model_t *rm, int (*page)(void *ctx, const ll_uuid_t *account, int64_t page),
                             int (*item)(void *ctx, int64_t version, const char *json, uint32_t len),
                             void *ctx, ll_error_t *err) {
    scan_t s = {.page = page, .item = item, .ctx = ctx, .err = err};
    return scan(rm->pages, scan_page, &s, err);
}
