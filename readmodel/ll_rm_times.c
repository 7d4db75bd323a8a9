/* ll_rm_times.c - see ll_rm_times.h. */
#include "ll_rm_times.h"

#include "ll_limits.h"
#include "ll_time.h"

#include <string.h>

bson_t *ll_rm_time_doc(const ll_uuid_t *account, int64_t page, int64_t last_us) {
    char id[LL_RM_KEY_LEN + 1];
    ll_rm_key(account, page, id);
    return BCON_NEW("_id", BCON_UTF8(id), "last_us", BCON_INT64(last_us));
}

int ll_rm_time_parse(const bson_t *doc, int64_t *last_us) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, "last_us") || !BSON_ITER_HOLDS_NUMBER(&it)) return -1;
    int64_t us = bson_iter_as_int64(&it);
    if (us < LL_TIME_US_MIN || us > LL_TIME_US_MAX) return -1;
    *last_us = us;
    return 0;
}

int ll_read_model_insert_times(ll_read_model_t *rm, const bson_t *const *docs, size_t n, ll_error_t *err) {
    return n == 0 ? 0 : ll_read_model_insert(rm, rm->times, docs, n, NULL, NULL, err);
}

int ll_read_model_page_time(ll_read_model_t *rm, const ll_uuid_t *id, int64_t page, int64_t *last_us,
                            bool *found, ll_error_t *err) {
    char key[LL_RM_KEY_LEN + 1];
    ll_rm_key(id, page, key);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(key));
    bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(LL_READ_MODEL_QUERY_MS_MAX), "limit", BCON_INT64(1));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(rm->times, filter, opts, NULL);
    const bson_t *doc;
    bson_error_t e;
    int rc = 0;
    *found = false;
    if (mongoc_cursor_next(cur, &doc)) {
        if (ll_rm_time_parse(doc, last_us) == 0)
            *found = true;
        else
            rc = ll_error_set(err, LL_EIO, "times document %s is not ledgerline's", key);
    }
    if (rc == 0 && mongoc_cursor_error(cur, &e))
        rc = ll_error_set(err, LL_EIO, "MongoDB find page time: %s (code %u)", e.message, e.code);
    if (rc != 0) *found = false;
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    return rc;
}
