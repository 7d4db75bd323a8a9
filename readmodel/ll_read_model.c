/* ll_read_model.c - see ll_read_model.h: one generation opened, its account documents and halts
 * written, and the unordered insert every writer uses. */
#include "ll_rm_store.h"

#include "ll_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUPLICATE_KEY   11000

int ll_rm_mongo_error(ll_error_t *err, const char *what, const bson_error_t *e) {
    return ll_error_set(err, LL_EIO, "MongoDB %s: %s (code %u)", what, e->message, e->code);
}

int64_t ll_rm_doc_int64(const bson_t *doc, const char *key) {
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it) : 0;
}


/* Real MongoDB serves _id lookups from its own index; the one other query, events by page,
 * needs this one. (On the local FerretDB the GIN indexes of deploy/local/ferretdb-indexes.sql
 * serve both; the btree this makes there is unused.) */
static int ensure_indexes(ll_read_model_t *rm, ll_error_t *err) {
    char name[64];
    snprintf(name, sizeof name, "events_g%lld", (long long)rm->generation);
    bson_t *cmd = BCON_NEW("createIndexes", BCON_UTF8(name), "indexes", "[", "{", "key", "{", "page",
                           BCON_INT32(1), "}", "name", BCON_UTF8("page"), "}", "]");
    bson_error_t e;
    bool ok = mongoc_collection_write_command_with_opts(rm->events, cmd, NULL, NULL, &e);
    bson_destroy(cmd);
    return ok ? 0 : ll_rm_mongo_error(err, "createIndexes", &e);
}

int ll_read_model_open(ll_read_model_t *rm, mongoc_client_t *client, const char *database, int64_t generation,
                       ll_error_t *err) {
    memset(rm, 0, sizeof *rm);
    rm->client = client;
    rm->generation = generation;
    snprintf(rm->database, sizeof rm->database, "%s", database);
    char accounts[64], events[64], pages[64], halts[64], times[64];
    snprintf(accounts, sizeof accounts, "accounts_g%lld", (long long)generation);
    snprintf(events, sizeof events, "events_g%lld", (long long)generation);
    snprintf(pages, sizeof pages, "pages_g%lld", (long long)generation);
    snprintf(halts, sizeof halts, "halts_g%lld", (long long)generation);
    snprintf(times, sizeof times, "times_g%lld", (long long)generation);
    rm->accounts = mongoc_client_get_collection(client, database, accounts);
    rm->events = mongoc_client_get_collection(client, database, events);
    rm->pages = mongoc_client_get_collection(client, database, pages);
    rm->halts = mongoc_client_get_collection(client, database, halts);
    rm->times = mongoc_client_get_collection(client, database, times);
    rm->wc = mongoc_write_concern_new();
    mongoc_write_concern_set_w(rm->wc, MONGOC_WRITE_CONCERN_W_MAJORITY);
    mongoc_write_concern_set_journal(rm->wc, true);
    int rc = ensure_indexes(rm, err);
    if (rc != 0) ll_read_model_close(rm);
    return rc;
}

ll_read_model_t *ll_read_model_new(ll_rm_client_t *c, int64_t generation, ll_error_t *err) {
    ll_read_model_t *rm = malloc(sizeof *rm);
    if (rm == NULL) {
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    if (ll_read_model_open(rm, c->mongo, c->database, generation, err) != 0) {
        free(rm);
        return NULL;
    }
    return rm;
}

void ll_read_model_free(ll_read_model_t *rm) {
    if (rm == NULL) return;
    ll_read_model_close(rm);
    free(rm);
}

int64_t ll_read_model_generation(const ll_read_model_t *rm) {
    return rm->generation;
}

void ll_read_model_close(ll_read_model_t *rm) {
    mongoc_collection_destroy(rm->accounts);
    mongoc_collection_destroy(rm->events);
    mongoc_collection_destroy(rm->pages);
    mongoc_collection_destroy(rm->halts);
    mongoc_collection_destroy(rm->times);
    mongoc_write_concern_destroy(rm->wc);
    memset(rm, 0, sizeof *rm);
}

/* ---- writes -------------------------------------------------------------------------------- */

/* Marks in dup[] the documents reply's writeErrors name as duplicate keys. True when every
 * write error is one (and there is at least one: none means the write failed otherwise). */
static bool only_duplicates(const bson_t *reply, size_t offset, size_t k, bool *dup, size_t *duplicates) {
    bson_iter_t it, arr, item;
    if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it)) return false;
    if (!bson_iter_recurse(&it, &arr)) return false;
    size_t errors = 0;
    while (bson_iter_next(&arr)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&arr) || !bson_iter_recurse(&arr, &item) ||
            !bson_iter_find(&item, "code") || bson_iter_as_int64(&item) != DUPLICATE_KEY)
            return false;
        bson_iter_t idx;
        if (!bson_iter_recurse(&arr, &idx) || !bson_iter_find(&idx, "index") || !BSON_ITER_HOLDS_NUMBER(&idx))
            return false;
        int64_t i = bson_iter_as_int64(&idx);
        if (i < 0 || (size_t)i >= k) return false;
        if (dup != NULL && !dup[offset + (size_t)i]) {
            dup[offset + (size_t)i] = true;
            if (duplicates != NULL) (*duplicates)++;
        }
        errors++;
    }
    return errors > 0;
}

#define INSERT_CHUNK 1000 /* documents per insert command (FerretDB's batch size) */

int ll_read_model_insert(ll_read_model_t *rm, mongoc_collection_t *coll, const bson_t *const *docs, size_t n,
                         bool *dup, size_t *duplicates, ll_error_t *err) {
    if (dup != NULL) memset(dup, 0, n * sizeof *dup);
    if (duplicates != NULL) *duplicates = 0;
    for (size_t at = 0; at < n; at += INSERT_CHUNK) {
        size_t k = n - at < INSERT_CHUNK ? n - at : INSERT_CHUNK;
        bson_t opts = BSON_INITIALIZER, reply;
        BSON_APPEND_BOOL(&opts, "ordered", false); /* independent documents: one failure stops none */
        mongoc_write_concern_append(rm->wc, &opts);
        bson_error_t e;
        bool ok = mongoc_collection_insert_many(coll, (const bson_t **)(docs + at), k, &opts, &reply, &e) ||
                  only_duplicates(&reply, at, k, dup, duplicates);
        bson_destroy(&reply);
        bson_destroy(&opts);
        if (!ok) return ll_rm_mongo_error(err, "insert", &e);
    }
    return 0;
}

int ll_read_model_save_head(ll_read_model_t *rm, const ll_account_t *a, int64_t page, int64_t prev_version,
                            ll_error_t *err) {
    bson_t *doc = ll_rm_head_doc(a, page);
    char id[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&a->account_id, id);
    int rc = 0;
    if (prev_version == 0) {
        bool dup = false;
        const bson_t *one[1] = {doc};
        rc = ll_read_model_insert(rm, rm->accounts, one, 1, &dup, NULL, err);
        if (rc == 0 && dup) rc = ll_error_set(err, LL_EINVAL, "account %s was created concurrently", id);
    } else {
        /* Guarded by the version it was read at: a writer with an older picture never
         * overwrites a newer document. */
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(id), "version", BCON_INT64(prev_version));
        bson_t update = BSON_INITIALIZER, fields = BSON_INITIALIZER, opts = BSON_INITIALIZER, reply;
        bson_iter_t it;
        if (bson_iter_init(&it, doc))
            while (bson_iter_next(&it))
                if (strcmp(bson_iter_key(&it), "_id") != 0)
                    bson_append_iter(&fields, bson_iter_key(&it), -1, &it);
        BSON_APPEND_DOCUMENT(&update, "$set", &fields);
        mongoc_write_concern_append(rm->wc, &opts);
        bson_error_t e;
        if (!mongoc_collection_update_one(rm->accounts, filter, &update, &opts, &reply, &e))
            rc = ll_rm_mongo_error(err, "save account", &e);
        else if (ll_rm_doc_int64(&reply, "matchedCount") != 1)
            rc = ll_error_set(err, LL_EINVAL, "account %s moved past version %lld concurrently", id,
                              (long long)prev_version);
        bson_destroy(&reply);
        bson_destroy(&opts);
        bson_destroy(&fields);
        bson_destroy(&update);
        bson_destroy(filter);
    }
    bson_destroy(doc);
    return rc;
}

/* ---- halted accounts ----------------------------------------------------------------------- */

int ll_read_model_save_halt(ll_read_model_t *rm, const ll_uuid_t *id, int64_t version, const char *reason,
                            int64_t at_us, ll_error_t *err) {
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(id, text);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(text));
    bson_t *doc = BCON_NEW("_id", BCON_UTF8(text), "version", BCON_INT64(version), "reason", BCON_UTF8(reason),
                           "at_us", BCON_INT64(at_us));
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&opts, "upsert", true);
    mongoc_write_concern_append(rm->wc, &opts);
    bson_error_t e;
    int rc = mongoc_collection_replace_one(rm->halts, filter, doc, &opts, NULL, &e) ? 0
                                                                                     : ll_rm_mongo_error(err, "save halt", &e);
    bson_destroy(&opts);
    bson_destroy(doc);
    bson_destroy(filter);
    return rc;
}

int ll_read_model_halts(ll_read_model_t *rm, int (*each)(void *ctx, const char *account, int64_t version),
                        void *ctx, ll_error_t *err) {
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(LL_READ_MODEL_QUERY_MS_MAX), "limit",
                            BCON_INT64(LL_READ_MODEL_HALTS_MAX));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(rm->halts, &filter, opts, NULL);
    const bson_t *doc;
    bson_iter_t it;
    int rc = 0;
    while (rc == 0 && mongoc_cursor_next(cur, &doc))
        if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it))
            rc = each(ctx, bson_iter_utf8(&it, NULL), ll_rm_doc_int64(doc, "version"));
    bson_error_t e;
    if (rc == 0 && mongoc_cursor_error(cur, &e)) rc = ll_rm_mongo_error(err, "find halts", &e);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(&filter);
    return rc;
}
