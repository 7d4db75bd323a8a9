/* ll_rm_builder.c - see ll_rm_builder.h. Documents are gathered per collection and handed to
 * the pool a thousand at a time. */
#include "ll_rm_builder.h"

#include "ll_rm_pool.h"
#include "ll_rm_store.h"
#include "ll_rm_times.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define P     LL_READ_MODEL_PAGE_VERSIONS
#define CHUNK 1000 /* documents per insert */

/* What one version of the page in progress will need: its item for the page, and for an event
 * document (written only if the page is still open when the account is complete) the state
 * after it; the account's lasting fields come from its final state. */
typedef struct {
    char *item; /* NULL: no money moved */
    int64_t balance_minor, held_minor, overdraft_limit_minor, updated_at_us;
    bool frozen;
    ll_account_status_t status;
    char hash[LL_HASH_HEX_LEN + 1];
    int present;
} version_t;

struct ll_rm_page_buf {
    int64_t page;
    version_t v[P];
    /* Where the account document goes (ll_rm_head_version): the state after AccountOpened, then
     * after the last version of each page sealed (item not kept). */
    int64_t head_version;
    version_t head;
};

enum { KIND_EVENTS, KIND_PAGES, KIND_ACCOUNTS, KIND_TIMES, KINDS };

typedef struct {
    int kind;
    size_t n;
    bson_t *docs[CHUNK];
} chunk_t;

struct ll_rm_builder {
    ll_rm_pool_t *pool;
    chunk_t *pending[KINDS];
    size_t written[KINDS];
};

static int insert_chunk(ll_read_model_t *rm, void *arg, ll_error_t *err) {
    chunk_t *c = arg;
    mongoc_collection_t *coll = c->kind == KIND_EVENTS  ? rm->events
                                : c->kind == KIND_PAGES ? rm->pages
                                : c->kind == KIND_TIMES ? rm->times
                                                        : rm->accounts;
    return ll_read_model_insert(rm, coll, (const bson_t *const *)c->docs, c->n, NULL, NULL, err);
}

static void free_chunk(void *arg) {
    chunk_t *c = arg;
    for (size_t i = 0; i < c->n; i++) bson_destroy(c->docs[i]);
    free(c);
}

static int flush(ll_rm_builder_t *b, int kind, ll_error_t *err) {
    chunk_t *c = b->pending[kind];
    b->pending[kind] = NULL;
    if (c == NULL || c->n == 0) {
        free(c);
        return 0;
    }
    b->written[kind] += c->n;
    return ll_rm_pool_submit(b->pool, insert_chunk, c, free_chunk, err);
}

/* Queues doc (taken over) for collection kind. */
static int add(ll_rm_builder_t *b, int kind, bson_t *doc, ll_error_t *err) {
    if (b->pending[kind] == NULL && (b->pending[kind] = calloc(1, sizeof(chunk_t))) == NULL) {
        bson_destroy(doc);
        return ll_error_set(err, LL_ENOMEM, "out of memory");
    }
    chunk_t *c = b->pending[kind];
    c->kind = kind;
    c->docs[c->n++] = doc;
    return c->n == CHUNK ? flush(b, kind, err) : 0;
}

ll_rm_builder_t *ll_rm_builder_start(const char *mongo_uri, const char *database, int64_t generation,
                                     int writers, ll_error_t *err) {
    ll_rm_builder_t *b = calloc(1, sizeof *b);
    if (b == NULL) {
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    if ((b->pool = ll_rm_pool_start(mongo_uri, database, generation, writers, err)) == NULL) {
        free(b);
        return NULL;
    }
    return b;
}

void ll_rm_builder_forget(ll_rm_page_buf_t **buf) {
    if (*buf == NULL) return;
    for (int i = 0; i < P; i++) free((*buf)->v[i].item);
    free(*buf);
    *buf = NULL;
}

/* Writes the full page in *buf as a pages_g document and starts the next page. */
static int seal(ll_rm_builder_t *b, ll_rm_page_buf_t *buf, const ll_uuid_t *account, ll_error_t *err) {
    const char *items[P];
    for (int i = 0; i < P; i++) items[i] = buf->v[i].item;
    bson_t *doc = ll_rm_page_doc(account, buf->page, items);
    bson_t *ends = ll_rm_time_doc(account, buf->page, buf->v[P - 1].updated_at_us); /* when it ends */
    for (int i = 0; i < P; i++) free(buf->v[i].item);
    memset(buf->v, 0, sizeof buf->v);
    buf->page++;
    int rc = add(b, KIND_PAGES, doc, err);
    if (rc == 0) return add(b, KIND_TIMES, ends, err);
    bson_destroy(ends);
    return rc;
}

int ll_rm_builder_event(ll_rm_builder_t *b, ll_rm_page_buf_t **buf, const ll_event_t *ev,
                        const ll_account_t *after, ll_error_t *err) {
    int64_t page = ll_rm_page_of(ev->version);
    if (*buf == NULL) {
        if ((*buf = calloc(1, sizeof **buf)) == NULL) return ll_error_set(err, LL_ENOMEM, "out of memory");
        (*buf)->page = page;
    }
    if ((*buf)->page != page)
        return ll_error_set(err, LL_EINVAL, "read-model builder: version %lld out of order",
                            (long long)ev->version);
    int i = (int)(ev->version - ll_rm_page_first(page));
    version_t *v = &(*buf)->v[i];
    char item[LL_RM_ITEM_JSON_MAX];
    int len = ll_rm_item_json(ev, item, sizeof item);
    if (len > 0 && (v->item = strndup(item, (size_t)len)) == NULL)
        return ll_error_set(err, LL_ENOMEM, "out of memory");
    v->balance_minor = after->balance_minor, v->updated_at_us = after->updated_at_us,
    v->status = after->status;
    v->held_minor = after->held_minor, v->overdraft_limit_minor = after->overdraft_limit_minor,
    v->frozen = after->frozen;
    memcpy(v->hash, after->head_hash, sizeof v->hash);
    v->present = ev->version >= 2; /* AccountOpened: the account document holds it */
    if (ev->version == 1 || i == P - 1) {
        (*buf)->head = *v, (*buf)->head.item = NULL;
        (*buf)->head_version = ev->version;
    }
    return i == P - 1 ? seal(b, *buf, &ev->account_id, err) : 0;
}

/* a with the fields that change per version as v says at version (the limit is one of them
 * since CreditLimitSet: never the final state's). */
static ll_account_t state_at(const ll_account_t *a, int64_t version, const version_t *v) {
    ll_account_t at = *a; /* the lasting fields */
    at.version = version;
    at.balance_minor = v->balance_minor, at.updated_at_us = v->updated_at_us, at.status = v->status;
    at.held_minor = v->held_minor, at.overdraft_limit_minor = v->overdraft_limit_minor, at.frozen = v->frozen;
    memcpy(at.head_hash, v->hash, sizeof at.head_hash);
    return at;
}

int ll_rm_builder_account(ll_rm_builder_t *b, ll_rm_page_buf_t **buf, const ll_account_t *a,
                          ll_error_t *err) {
    int rc = 0;
    /* The account document at ll_rm_head_version, as every writer puts it; the newest state when
     * the events did not pass through it (not from version 1). */
    ll_account_t head = *a;
    if (*buf != NULL && (*buf)->head_version == ll_rm_head_version(a->version))
        head = state_at(a, (*buf)->head_version, &(*buf)->head);
    for (int i = 0; *buf != NULL && i < P && rc == 0; i++) {
        const version_t *v = &(*buf)->v[i];
        if (!v->present) continue;
        ll_account_t at = state_at(a, ll_rm_page_first((*buf)->page) + i, v);
        rc = add(b, KIND_EVENTS, ll_rm_event_doc_of(&at, v->item, head.version), err);
    }
    ll_rm_builder_forget(buf);
    if (rc == 0 && a->version > 0)
        rc = add(b, KIND_ACCOUNTS, ll_rm_head_doc(&head, ll_rm_open_page(head.version)), err);
    return rc;
}

int ll_rm_builder_finish(ll_rm_builder_t *b, ll_error_t *err) {
    int rc = 0;
    for (int k = 0; k < KINDS; k++)
        if (rc == 0) rc = flush(b, k, err);
    ll_error_t werr = {""};
    int w = ll_rm_pool_wait(b->pool, &werr);
    if (rc == 0 && w != 0) *err = werr, rc = w;
    for (int k = 0; k < KINDS; k++)
        if (b->pending[k] != NULL) free_chunk(b->pending[k]);
    ll_rm_pool_stop(b->pool);
    free(b);
    return rc;
}

void ll_rm_builder_counts(const ll_rm_builder_t *b, size_t *events, size_t *pages, size_t *accounts) {
    *events = b->written[KIND_EVENTS], *pages = b->written[KIND_PAGES], *accounts = b->written[KIND_ACCOUNTS];
}
