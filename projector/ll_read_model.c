/* ll_read_model.c - see ll_read_model.h. */
#include "ll_read_model.h"

#include "ll_limits.h"
#include "ll_time.h"

#include <stdio.h>
#include <string.h>

#define META_COLLECTION "read_model_meta"
#define DUPLICATE_KEY   11000

static int mongo_error(ll_error_t *err, const char *what, const bson_error_t *e) {
    return ll_error_set(err, LL_EIO, "MongoDB %s: %s (code %u)", what, e->message, e->code);
}

/* Reads {_id:"active"}.generation; 0 when absent. */
static int read_generation(mongoc_collection_t *meta, int64_t *generation, ll_error_t *err) {
    bson_t *filter = BCON_NEW("_id", BCON_UTF8("active"));
    bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(LL_READ_MODEL_QUERY_MS_MAX));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(meta, filter, opts, NULL);
    const bson_t *doc;
    bson_iter_t it;
    bson_error_t e;
    int rc = 0;
    *generation = 0;
    if (mongoc_cursor_next(cur, &doc) && bson_iter_init_find(&it, doc, "generation") &&
        BSON_ITER_HOLDS_NUMBER(&it))
        *generation = bson_iter_as_int64(&it);
    if (mongoc_cursor_error(cur, &e)) rc = mongo_error(err, "read_model_meta", &e);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    return rc;
}

int ll_read_model_active_generation(mongoc_client_t *client, const char *database, int64_t *generation,
                                    ll_error_t *err) {
    mongoc_collection_t *meta = mongoc_client_get_collection(client, database, META_COLLECTION);
    /* A read on every check; the write happens once, when no generation exists yet (readers
     * poll this every second and must not contend with the projector's writes). */
    int rc = read_generation(meta, generation, err);
    if (rc == 0 && *generation == 0) {
        bson_t *filter = BCON_NEW("_id", BCON_UTF8("active"));
        bson_t *update = BCON_NEW("$setOnInsert", "{", "generation", BCON_INT64(1), "}");
        bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
        bson_error_t e;
        if (!mongoc_collection_update_one(meta, filter, update, opts, NULL, &e))
            rc = mongo_error(err, "read_model_meta", &e);
        bson_destroy(opts);
        bson_destroy(update);
        bson_destroy(filter);
        if (rc == 0) rc = read_generation(meta, generation, err);
    }
    if (rc == 0 && *generation < 1)
        rc = ll_error_set(err, LL_EIO, "read_model_meta: no valid active generation");
    mongoc_collection_destroy(meta);
    return rc;
}

static int ensure_indexes(ll_read_model_t *rm, ll_error_t *err) {
    char name[64];
    snprintf(name, sizeof name, "transactions_g%lld", (long long)rm->generation);
    /* Statements page newest first by version within an account. */
    bson_t *cmd = BCON_NEW("createIndexes", BCON_UTF8(name), "indexes", "[", "{", "key", "{", "account_id",
                           BCON_INT32(1), "version", BCON_INT32(-1), "}", "name",
                           BCON_UTF8("account_version"), "}", "]");
    bson_error_t e;
    bool ok = mongoc_collection_write_command_with_opts(rm->transactions, cmd, NULL, NULL, &e);
    bson_destroy(cmd);
    return ok ? 0 : mongo_error(err, "createIndexes", &e);
}

int ll_read_model_open(ll_read_model_t *rm, mongoc_client_t *client, const char *database, int64_t generation,
                       ll_error_t *err) {
    memset(rm, 0, sizeof *rm);
    rm->client = client;
    rm->generation = generation;
    snprintf(rm->database, sizeof rm->database, "%s", database);
    char accounts[64], transactions[64];
    snprintf(accounts, sizeof accounts, "accounts_g%lld", (long long)generation);
    snprintf(transactions, sizeof transactions, "transactions_g%lld", (long long)generation);
    rm->accounts = mongoc_client_get_collection(client, database, accounts);
    rm->transactions = mongoc_client_get_collection(client, database, transactions);
    rm->wc = mongoc_write_concern_new();
    mongoc_write_concern_set_w(rm->wc, MONGOC_WRITE_CONCERN_W_MAJORITY);
    mongoc_write_concern_set_journal(rm->wc, true);
    int rc = ensure_indexes(rm, err);
    if (rc != 0) ll_read_model_close(rm);
    return rc;
}

void ll_read_model_close(ll_read_model_t *rm) {
    mongoc_collection_destroy(rm->accounts);
    mongoc_collection_destroy(rm->transactions);
    mongoc_write_concern_destroy(rm->wc);
    memset(rm, 0, sizeof *rm);
}

/* ---- accounts ------------------------------------------------------------------------------ */

static int64_t get_int64(const bson_t *doc, const char *key) {
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it) : 0;
}

static void get_utf8(const bson_t *doc, const char *key, char *out, size_t size) {
    bson_iter_t it;
    out[0] = '\0';
    if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
        snprintf(out, size, "%s", bson_iter_utf8(&it, NULL));
}

int ll_read_model_load_account(ll_read_model_t *rm, const ll_uuid_t *id, ll_account_t *a, bool *found,
                               ll_error_t *err) {
    char text[LL_UUID_TEXT_LEN + 1], status[16];
    ll_uuid_format(id, text);
    ll_account_init(a, id);
    *found = false;
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(text));
    /* Bounded: a stalled read store becomes an error, never a hang. */
    bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(LL_READ_MODEL_QUERY_MS_MAX));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(rm->accounts, filter, opts, NULL);
    const bson_t *doc;
    bson_error_t e;
    int rc = 0;
    if (mongoc_cursor_next(cur, &doc)) {
        *found = true;
        a->version = get_int64(doc, "version");
        get_utf8(doc, "status", status, sizeof status);
        a->status = strcmp(status, "closed") == 0 ? LL_ACCOUNT_CLOSED : LL_ACCOUNT_OPEN;
        get_utf8(doc, "owner", a->owner, sizeof a->owner);
        get_utf8(doc, "currency", a->currency.code, sizeof a->currency.code);
        a->balance_minor = get_int64(doc, "balance_minor");
        a->overdraft_limit_minor = get_int64(doc, "overdraft_limit_minor");
        a->opened_at_us = get_int64(doc, "opened_at_us");
        a->updated_at_us = get_int64(doc, "updated_at_us");
        get_utf8(doc, "head_hash", a->head_hash, sizeof a->head_hash);
    }
    if (mongoc_cursor_error(cur, &e)) rc = mongo_error(err, "find account", &e);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    return rc;
}

int ll_read_model_save_account(ll_read_model_t *rm, const ll_account_t *a, int64_t prev_version,
                               ll_error_t *err) {
    char id[LL_UUID_TEXT_LEN + 1], opened[LL_TIME_TEXT_LEN + 1], updated[LL_TIME_TEXT_LEN + 1];
    ll_uuid_format(&a->account_id, id);
    ll_time_format(a->opened_at_us, opened);
    ll_time_format(a->updated_at_us, updated);
    bson_t *filter = prev_version > 0 ? BCON_NEW("_id", BCON_UTF8(id), "version", BCON_INT64(prev_version))
                                      : BCON_NEW("_id", BCON_UTF8(id));
    bson_t *update = BCON_NEW(
        "$set", "{", "account_id", BCON_UTF8(id), "owner", BCON_UTF8(a->owner), "currency",
        BCON_UTF8(a->currency.code), "status", BCON_UTF8(ll_account_status_name(a->status)), "balance_minor",
        BCON_INT64(a->balance_minor), "version", BCON_INT64(a->version), "overdraft_limit_minor",
        BCON_INT64(a->overdraft_limit_minor), "opened_at", BCON_UTF8(opened), "updated_at",
        BCON_UTF8(updated), "opened_at_us", BCON_INT64(a->opened_at_us), "updated_at_us",
        BCON_INT64(a->updated_at_us), "head_hash", BCON_UTF8(a->head_hash), "}");
    bson_t opts = BSON_INITIALIZER;
    mongoc_write_concern_append(rm->wc, &opts);
    if (prev_version == 0) BSON_APPEND_BOOL(&opts, "upsert", true);
    bson_t reply;
    bson_error_t e;
    int rc = 0;
    if (!mongoc_collection_update_one(rm->accounts, filter, update, &opts, &reply, &e)) {
        /* A new account that another writer created meanwhile is a conflict, not a failure. */
        rc = e.code == DUPLICATE_KEY ? ll_error_set(err, LL_EINVAL, "account %s created concurrently", id)
                                     : mongo_error(err, "update account", &e);
    } else if (prev_version > 0 && get_int64(&reply, "matchedCount") == 0) {
        rc = ll_error_set(err, LL_EINVAL, "account %s moved past version %lld concurrently", id,
                          (long long)prev_version);
    }
    bson_destroy(&reply);
    bson_destroy(&opts);
    bson_destroy(update);
    bson_destroy(filter);
    return rc;
}

/* ---- transactions -------------------------------------------------------------------------- */

static bson_t *transaction_doc(const ll_event_t *ev) {
    const ll_data_movement_t *m = &ev->data.movement;
    char id[LL_UUID_TEXT_LEN + 1], account[LL_UUID_TEXT_LEN + 1], when[LL_TIME_TEXT_LEN + 1];
    ll_uuid_format(&ev->event_id, id);
    ll_uuid_format(&ev->account_id, account);
    ll_time_format(ev->occurred_at_us, when);
    bson_t *doc =
        BCON_NEW("_id", BCON_UTF8(id), "account_id", BCON_UTF8(account), "version", BCON_INT64(ev->version),
                 "type", BCON_UTF8(ll_event_type_name(ev->type)), "amount_minor", BCON_INT64(m->amount_minor),
                 "currency", BCON_UTF8(m->currency.code), "balance_after_minor",
                 BCON_INT64(m->balance_after_minor), "reference", BCON_UTF8(m->reference), "occurred_at",
                 BCON_UTF8(when), "occurred_at_us", BCON_INT64(ev->occurred_at_us));
    if (!ll_uuid_is_nil(&m->transfer_id)) {
        char transfer[LL_UUID_TEXT_LEN + 1], other[LL_UUID_TEXT_LEN + 1];
        ll_uuid_format(&m->transfer_id, transfer);
        ll_uuid_format(&m->counterparty_id, other);
        BSON_APPEND_UTF8(doc, "transfer_id", transfer);
        BSON_APPEND_UTF8(doc, "counterparty_account_id", other);
    }
    return doc;
}

/* True when every write error in reply is a duplicate key (the document is already there). */
static bool only_duplicates(const bson_t *reply) {
    bson_iter_t it, arr, item;
    if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it)) return false;
    if (!bson_iter_recurse(&it, &arr)) return false;
    while (bson_iter_next(&arr)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&arr) || !bson_iter_recurse(&arr, &item) ||
            !bson_iter_find(&item, "code") || bson_iter_as_int64(&item) != DUPLICATE_KEY)
            return false;
    }
    return true;
}

int ll_read_model_insert_transactions(ll_read_model_t *rm, const ll_event_t *events, size_t n,
                                      ll_error_t *err) {
    bson_t *docs[256];
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i <= n && rc == 0; i++) {
        if (i < n && ll_event_is_movement(events[i].type)) docs[k++] = transaction_doc(&events[i]);
        if (k == 0 || (i < n && k < sizeof docs / sizeof docs[0])) continue;
        bson_t opts = BSON_INITIALIZER, reply;
        BSON_APPEND_BOOL(&opts, "ordered", false);
        mongoc_write_concern_append(rm->wc, &opts);
        bson_error_t e;
        if (!mongoc_collection_insert_many(rm->transactions, (const bson_t **)docs, k, &opts, &reply, &e) &&
            !only_duplicates(&reply))
            rc = mongo_error(err, "insert transactions", &e);
        bson_destroy(&reply);
        bson_destroy(&opts);
        for (size_t d = 0; d < k; d++) bson_destroy(docs[d]);
        k = 0;
    }
    for (size_t d = 0; d < k; d++) bson_destroy(docs[d]);
    return rc;
}
