/* ll_rm_store.h - the read model's own view of MongoDB: the client and collections behind
 * ll_read_model.h, and the few mongoc-level operations readmodel/'s files share. Included only
 * inside readmodel/ (and by tests that seed or inspect documents directly).
 */
#ifndef LL_RM_STORE_H
#define LL_RM_STORE_H

#include "ll_read_model.h"
#include "ll_read_model_docs.h"

#include <mongoc/mongoc.h>

struct ll_rm_client {
    mongoc_client_t *mongo;
    int owned; /* destroyed by ll_rm_client_free; 0: borrowed (ll_rm_client_borrow) */
    char database[128];
};

/* A client over a mongoc client the caller keeps (tests, benchmarks): nothing to free. */
ll_rm_client_t ll_rm_client_borrow(mongoc_client_t *mongo, const char *database);

struct ll_read_model {
    mongoc_client_t *client; /* borrowed */
    char database[128];
    int64_t generation;
    mongoc_collection_t *accounts, *events, *pages, *halts;
    mongoc_collection_t *times; /* times_g<N>: when each sealed page ends (ll_rm_times.h) */
    mongoc_write_concern_t *wc;
};

/* Opens generation's collections in place and ensures their indexes; rm must be closed with
 * ll_read_model_close. Returns 0 or a negative code. */
int ll_read_model_open(ll_read_model_t *rm, mongoc_client_t *client, const char *database, int64_t generation,
                       ll_error_t *err);
void ll_read_model_close(ll_read_model_t *rm);

/* err from a failed MongoDB operation `what`. Returns LL_EIO. */
int ll_rm_mongo_error(ll_error_t *err, const char *what, const bson_error_t *e);

/* The number under key in doc, or 0 when absent or not a number. */
int64_t ll_rm_doc_int64(const bson_t *doc, const char *key);

/* Inserts docs[0..n) into coll, unordered; documents already there (same _id) are fine: every
 * document of ours is written whole and once, so a duplicate is the same document. When
 * duplicates is not NULL, dup[i] is set for each docs[i] that was already there (dup has n
 * entries) and *duplicates counts them. Returns 0 or LL_EIO. */
int ll_read_model_insert(ll_read_model_t *rm, mongoc_collection_t *coll, const bson_t *const *docs, size_t n,
                         bool *dup, size_t *duplicates, ll_error_t *err);

/* The events of one page as read: sorted by version, their documents kept alive. */
typedef struct {
    bson_t *docs[LL_READ_MODEL_PAGE_VERSIONS];
    ll_rm_event_t ev[LL_READ_MODEL_PAGE_VERSIONS];
    int n;
} ll_rm_page_events_t;

/* Reads the events_g documents of page `page` of account id (one query on the page tag).
 * Returns 0 (out to be freed), or a negative code (out empty). */
int ll_rm_read_page_events(ll_read_model_t *rm, const ll_uuid_t *id, int64_t page, ll_rm_page_events_t *out,
                           ll_error_t *err);
void ll_rm_page_events_free(ll_rm_page_events_t *p);

#endif
