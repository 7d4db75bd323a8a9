/* ll_rm_generations.c - the generations of the read model (ll_read_model.h): which one is
 * active, the others, switching, where projectors resume, retirement. All in read_model_meta. */
#include "ll_limits.h"
#include "ll_rm_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_COLLECTION "read_model_meta"

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
        *generation = ll_rm_doc_int64(doc, "generation");
        int64_t l = ll_rm_doc_int64(doc, "layout");
        if (l > 0) *layout = l;
    }
    if (mongoc_cursor_error(cur, &e)) rc = ll_rm_mongo_error(err, "read_model_meta", &e);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    return rc;
}

int ll_read_model_active_any_layout(ll_rm_client_t *c, int64_t *generation, int64_t *layout, ll_error_t *err) {
    mongoc_collection_t *meta = mongoc_client_get_collection(c->mongo, c->database, META_COLLECTION);
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
            rc = ll_rm_mongo_error(err, "read_model_meta", &e);
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

int ll_read_model_active_generation(ll_rm_client_t *c, int64_t *generation, ll_error_t *err) {
    int64_t layout;
    int rc = ll_read_model_active_any_layout(c, generation, &layout, err);
    if (rc == 0 && layout != LL_READ_MODEL_LAYOUT)
        rc = ll_error_set(err, LL_EINVAL,
                          "read-model generation %lld has layout %lld, this build reads layout %d: run "
                          "`ledgerline-rebuild --from store` once to build it anew (docs/rebuild.md)",
                          (long long)*generation, (long long)layout, LL_READ_MODEL_LAYOUT);
    return rc;
}

int ll_read_model_generations(ll_rm_client_t *c, int64_t *gens, size_t max, size_t *n, ll_error_t *err) {
    mongoc_database_t *db = mongoc_client_get_database(c->mongo, c->database);
    bson_error_t e;
    char **names = mongoc_database_get_collection_names_with_opts(db, NULL, &e);
    mongoc_database_destroy(db);
    if (names == NULL) return ll_rm_mongo_error(err, "listCollections", &e);
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

int ll_read_model_drop_generation(ll_rm_client_t *client, int64_t generation, ll_error_t *err) {
    /* transactions_g<N>: the movements of the layout before pages (a generation built then). */
    static const char *const kinds[] = {"accounts_g", "events_g", "pages_g",
                                        "halts_g",    "times_g",  "transactions_g"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s%lld", kinds[k], (long long)generation);
        mongoc_collection_t *c = mongoc_client_get_collection(client->mongo, client->database, name);
        bson_error_t e;
        bool ok = mongoc_collection_drop(c, &e) || e.code == 26; /* 26: no such collection */
        mongoc_collection_destroy(c);
        if (!ok) return ll_rm_mongo_error(err, "drop", &e);
    }
    return 0;
}

int ll_read_model_switch(ll_rm_client_t *c, int64_t from_generation, int64_t to_generation, int64_t now_us,
                         ll_error_t *err) {
    mongoc_collection_t *meta = mongoc_client_get_collection(c->mongo, c->database, META_COLLECTION);
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
        rc = ll_rm_mongo_error(err, "switch generation", &e);
    else if (ll_rm_doc_int64(&reply, "matchedCount") != 1)
        rc = ll_error_set(err, LL_EINVAL, "generation %lld is no longer active: another switch came first",
                          (long long)from_generation);
    bson_destroy(&reply);
    if (rc == 0 && !mongoc_collection_update_one(meta, rfilter, rupdate, upsert, NULL, &e))
        rc = ll_rm_mongo_error(err, "record the retired generation", &e);
    bson_destroy(upsert);
    bson_destroy(rupdate);
    bson_destroy(rfilter);
    bson_destroy(update);
    bson_destroy(filter);
    mongoc_collection_destroy(meta);
    return rc;
}

int ll_read_model_save_resume(ll_rm_client_t *c, int64_t generation, const char *topic, const int64_t *offsets,
                              int n, ll_error_t *err) {
    mongoc_collection_t *meta = mongoc_client_get_collection(c->mongo, c->database, META_COLLECTION);
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
    int rc = mongoc_collection_replace_one(meta, filter, &doc, opts, NULL, &e) ? 0 : ll_rm_mongo_error(err, "save resume", &e);
    bson_destroy(opts);
    bson_destroy(&doc);
    bson_destroy(filter);
    mongoc_collection_destroy(meta);
    return rc;
}

int ll_read_model_resume(ll_rm_client_t *c, int64_t generation, const char *topic, int64_t *offsets, int max,
                         int *n, ll_error_t *err) {
    mongoc_collection_t *meta = mongoc_client_get_collection(c->mongo, c->database, META_COLLECTION);
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
    int rc = mongoc_cursor_error(cur, &e) ? ll_rm_mongo_error(err, "read_model_meta", &e) : 0;
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(meta);
    return rc;
}

int ll_read_model_retired_at(ll_rm_client_t *c, int64_t generation, int64_t *retired_at_us, ll_error_t *err) {
    mongoc_collection_t *meta = mongoc_client_get_collection(c->mongo, c->database, META_COLLECTION);
    char id[48];
    snprintf(id, sizeof id, "retired_g%lld", (long long)generation);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(meta, filter, NULL, NULL);
    const bson_t *doc;
    bson_error_t e;
    *retired_at_us = 0;
    if (mongoc_cursor_next(cur, &doc)) *retired_at_us = ll_rm_doc_int64(doc, "retired_at_us");
    int rc = mongoc_cursor_error(cur, &e) ? ll_rm_mongo_error(err, "read_model_meta", &e) : 0;
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    mongoc_collection_destroy(meta);
    return rc;
}

