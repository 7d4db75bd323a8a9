/* ll_read_model.c - see ll_read_model.h. */
#include "ll_read_model.h"

#include "ll_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_COLLECTION "read_model_meta"
#define DUPLICATE_KEY   11000

static int mongo_error(ll_error_t *err, const char *what, const bson_error_t *e) {
    return ll_error_set(err, LL_EIO, "MongoDB %s: %s (code %u)", what, e->message, e->code);
}

static int64_t get_int64(const bson_t *doc, const char *key);

/* Reads {_id:"active"}: generation (0 when absent) and layout (1 when absent: generations
 * from before the layout was recorded). */
static int read_generation(mongoc_collection_t *meta, int64_t *generation, int64_t *layout, ll_error_t *err) {
    bson_t *filter = BCON_NEW("_id", BCON_UTF8("active"));
    bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(LL_READ_MODEL_QUERY_MS_MAX));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(meta, filter, opts, NULL);
    const bson_t *doc;
    bson_error_t e;
    int rc = 0;
    *generation = 0, *layout = 1;
    if (mongoc_cursor_next(cur, &doc)) {
        *generation = get_int64(doc, "generation");
        int64_t l = get_int64(doc, "layout");
        if (l > 0) *layout = l;
    }
    if (mongoc_cursor_error(cur, &e)) rc = mongo_error(err, "read_model_meta", &e);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    return rc;
}

int ll_read_model_active_any_layout(mongoc_client_t *client, const char *database, int64_t *generation,
                                    int64_t *layout, ll_error_t *err) {
    mongoc_collection_t *meta = mongoc_client_get_collection(client, database, META_COLLECTION);
    /* A read on every check; the write happens once, when no generation exists yet (readers
     * poll this every second and must not contend with the projector's writes). */
    int rc = read_generation(meta, generation, layout, err);
    if (rc == 0 && *generation == 0) {
        bson_t *filter = BCON_NEW("_id", BCON_UTF8("active"));
        bson_t *update = BCON_NEW("$setOnInsert", "{", "generation", BCON_INT64(1), "layout",
                                  BCON_INT64(LL_READ_MODEL_LAYOUT), "}");
        bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
        bson_error_t e;
        if (!mongoc_collection_update_one(meta, filter, update, opts, NULL, &e))
            rc = mongo_error(err, "read_model_meta", &e);
        bson_destroy(opts);
        bson_destroy(update);
        bson_destroy(filter);
        if (rc == 0) rc = read_generation(meta, generation, layout, err);
    }
    if (rc == 0 && *generation < 1)
        rc = ll_error_set(err, LL_EIO, "read_model_meta: no valid active generation");
    mongoc_collection_destroy(meta);
    return rc;
}

int ll_read_model_active_generation(mongoc_client_t *client, const char *database, int64_t *generation,
                                    ll_error_t *err) {
    int64_t layout;
    int rc = ll_read_model_active_any_layout(client, database, generation, &layout, err);
    if (rc == 0 && layout != LL_READ_MODEL_LAYOUT)
        rc = ll_error_set(err, LL_EINVAL,
                          "read-model generation %lld has layout %lld, this build reads layout %d: run "
                          "`ledgerline-rebuild --from store` once to build it anew (docs/rebuild.md)",
                          (long long)*generation, (long long)layout, LL_READ_MODEL_LAYOUT);
    return rc;
}

int ll_read_model_generations(mongoc_client_t *client, const char *database, int64_t *gens, size_t max,
                              size_t *n, ll_error_t *err) {
    mongoc_database_t *db = mongoc_client_get_database(client, database);
    bson_error_t e;
    char **names = mongoc_database_get_collection_names_with_opts(db, NULL, &e);
    mongoc_database_destroy(db);
    if (names == NULL) return mongo_error(err, "listCollections", &e);
    *n = 0;
    for (char **name = names; *name != NULL; name++) {
        char *end = NULL;
        if (strncmp(*name, "accounts_g", 10) != 0) continue;
        long long g = strtoll(*name + 10, &end, 10);
        if (g < 1 || *end != '\0' || *n == max) continue;
        size_t i = (*n)++; /* insertion sort: a handful of generations */
        while (i > 0 && gens[i - 1] > g) gens[i] = gens[i - 1], i--;
        gens[i] = g;
    }
    bson_strfreev(names);
    return 0;
}

int ll_read_model_drop_generation(mongoc_client_t *client, const char *database, int64_t generation,
                                  ll_error_t *err) {
    /* transactions_g<N>: the movements of the layout before pages (a generation built then). */
    static const char *const kinds[] = {"accounts_g", "events_g", "pages_g",
                                        "halts_g",    "times_g",  "transactions_g"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s%lld", kinds[k], (long long)generation);
        mongoc_collection_t *c = mongoc_client_get_collection(client, database, name);
        bson_error_t e;
        bool ok = mongoc_collection_drop(c, &e) || e.code == 26; /* 26: no such collection */
        mongoc_collection_destroy(c);
        if (!ok) return mongo_error(err, "drop", &e);
    }
    return 0;
}

int ll_read_model_switch(mongoc_client_t *client, const char *database, int64_t from_generation,
                         int64_t to_generation, int64_t now_us, ll_error_t *err) {
    mongoc_collection_t *meta = mongoc_client_get_collection(client, database, META_COLLECTION);
    char retired[48];
    snprintf(retired, sizeof retired, "retired_g%lld", (long long)from_generation);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8("active"), "generation", BCON_INT64(from_generation));
    bson_t *update = BCON_NEW("$set", "{", "generation", BCON_INT64(to_generation), "layout",
                              BCON_INT64(LL_READ_MODEL_LAYOUT), "}");
    bson_t *rfilter = BCON_NEW("_id", BCON_UTF8(retired));
    bson_t *rupdate = BCON_NEW("$set", "{", "retired_at_us", BCON_INT64(now_us), "}");
    bson_t *upsert = BCON_NEW("upsert", BCON_BOOL(true));
    bson_t reply;
    bson_error_t e;
    int rc = 0;
    if (!mongoc_collection_update_one(meta, filter, update, NULL, &reply, &e))
        rc = mongo_error(err, "switch generation", &e);
    else if (get_int64(&reply, "matchedCount") != 1)
        rc = ll_error_set(err, LL_EINVAL, "generation %lld is no longer active: another switch came first",
                          (long long)from_generation);
    bson_destroy(&reply);
    if (rc == 0 && !mongoc_collection_update_one(meta, rfilter, rupdate, upsert, NULL, &e))
        rc = mongo_error(err, "record the retired generation", &e);
    bson_destroy(upsert);
    bson_destroy(rupdate);
    bson_destroy(rfilter);
    bson_destroy(update);
    bson_destroy(filter);
    mongoc_collection_destroy(meta);
    return rc;
}

int ll_read_model_save_resume(mongoc_client_t *client, const char *database, int64_t generation, const char *topic,
                              const int64_t *offsets, int n, ll_error_t *err) {
    mongoc_collection_t *meta = mongoc_client_get_collection(client, database, META_COLLECTION);
    char id[48];
    snprintf(id, sizeof id, "resume_g%lld", (long long)generation);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    bson_t doc = BSON_INITIALIZER, arr;
    BSON_APPEND_UTF8(&doc, "_id", id);
    BSON_APPEND_UTF8(&doc, "topic", topic);
    BSON_APPEND_ARRAY_BEGIN(&doc, "offsets", &arr);
    for (int i = 0; i < n; i++) {
        char key[16];
        const char *k;
        bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
        BSON_APPEND_INT64(&arr, k, offsets[i]);
    }
    bson_append_array_end(&doc, &arr);
    bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
    bson_error_t e;
    int rc = mongoc_collection_replace_one(meta, filter, &doc, opts, NULL, &e) ? 0 : mongo_error(err, "save resume", &e);
    bson_destroy(opts);
    bson_destroy(&doc);
    bson_destroy(filter);
    mongoc_collection_destroy(meta);
    return rc;
}

int ll_read_model_resume(mongoc_client_t *client, const char *database, int64_t generation, const char *topic,
                         int64_t *offsets, int max, int *n, ll_error_t *err) {
    mongoc_collection_t *meta = mongoc_client_get_collection(client, database, META_COLLECTION);
    char id[48];
    snprintf(id, sizeof id, "resume_g%lld", (long long)generation);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(LL_READ_MODEL_QUERY_MS_MAX));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(meta, filter, opts, NULL);
    const bson_t *doc;
    bson_iter_t it, arr;
    bson_error_t e;
    *n = 0;
    if (mongoc_cursor_next(cur, &doc) && bson_iter_init_find(&it, doc, "topic") && BSON_ITER_HOLDS_UTF8(&it) &&
        strcmp(bson_iter_utf8(&it, NULL), topic) == 0 && bson_iter_init_find(&it, doc, "offsets") &&
        BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &arr))
        while (*n < max && bson_iter_next(&arr))
            offsets[(*n)++] = BSON_ITER_HOLDS_NUMBER(&arr) ? bson_iter_as_int64(&arr) : 0;
    int rc = mongoc_cursor_error(cur, &e) ? mongo_error(err, "read_model_meta", &e) : 0;
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(meta);
    return rc;
}

int ll_read_model_retired_at(mongoc_client_t *client, const char *database, int64_t generation,
                             int64_t *retired_at_us, ll_error_t *err) {
    mongoc_collection_t *meta = mongoc_client_get_collection(client, database, META_COLLECTION);
    char id[48];
    snprintf(id, sizeof id, "retired_g%lld", (long long)generation);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(meta, filter, NULL, NULL);
    const bson_t *doc;
    bson_error_t e;
    *retired_at_us = 0;
    if (mongoc_cursor_next(cur, &doc)) *retired_at_us = get_int64(doc, "retired_at_us");
    int rc = mongoc_cursor_error(cur, &e) ? mongo_error(err, "read_model_meta", &e) : 0;
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    mongoc_collection_destroy(meta);
    return rc;
}

static int64_t get_int64(const bson_t *doc, const char *key) {
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
    return ok ? 0 : mongo_error(err, "createIndexes", &e);
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
        if (!ok) return mongo_error(err, "insert", &e);
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
            rc = mongo_error(err, "save account", &e);
        else if (get_int64(&reply, "matchedCount") != 1)
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
                                                                                     : mongo_error(err, "save halt", &e);
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
            rc = each(ctx, bson_iter_utf8(&it, NULL), get_int64(doc, "version"));
    bson_error_t e;
    if (rc == 0 && mongoc_cursor_error(cur, &e)) rc = mongo_error(err, "find halts", &e);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(&filter);
    return rc;
}
