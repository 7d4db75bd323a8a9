/* ll_read_model.c - see ll_read_model.h. */
#include "ll_read_model.h"

#include "ll_limits.h"
#include "ll_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_COLLECTION "read_model_meta"
#define DUPLICATE_KEY   11000

static int mongo_error(ll_error_t *err, const char *what, const bson_error_t *e) {
    return ll_error_set(err, LL_EIO, "MongoDB %s: %s (code %u)", what, e->message, e->code);
}

static int64_t get_int64(const bson_t *doc, const char *key);

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
    static const char *const kinds[] = {"accounts_g", "transactions_g"};
    for (int k = 0; k < 2; k++) {
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
    bson_t *update = BCON_NEW("$set", "{", "generation", BCON_INT64(to_generation), "}");
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

/* The evolve state stored in an account document (see ll_read_model_save_account). */
static void doc_to_account(const bson_t *doc, ll_account_t *a) {
    char status[16];
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

int ll_read_model_load_account(ll_read_model_t *rm, const ll_uuid_t *id, ll_account_t *a, bool *found,
                               ll_error_t *err) {
    char text[LL_UUID_TEXT_LEN + 1];
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
        doc_to_account(doc, a);
    }
    if (mongoc_cursor_error(cur, &e)) rc = mongo_error(err, "find account", &e);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    return rc;
}

int ll_read_model_load_accounts(ll_read_model_t *rm, const ll_uuid_t *ids, size_t n,
                                void (*each)(void *ctx, const ll_account_t *a), void *ctx, ll_error_t *err) {
    bson_t filter = BSON_INITIALIZER, in, list;
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &in);
    BSON_APPEND_ARRAY_BEGIN(&in, "$in", &list);
    for (size_t i = 0; i < n; i++) {
        char key[16], text[LL_UUID_TEXT_LEN + 1];
        const char *k;
        bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
        ll_uuid_format(&ids[i], text);
        bson_append_utf8(&list, k, -1, text, -1);
    }
    bson_append_array_end(&in, &list);
    bson_append_document_end(&filter, &in);
    bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(LL_READ_MODEL_QUERY_MS_MAX));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(rm->accounts, &filter, opts, NULL);
    const bson_t *doc;
    bson_error_t e;
    int rc = 0;
    while (mongoc_cursor_next(cur, &doc)) {
        char text[LL_UUID_TEXT_LEN + 1];
        ll_account_t a;
        ll_uuid_t id;
        get_utf8(doc, "_id", text, sizeof text);
        if (ll_uuid_parse(text, false, &id) != 0) continue; /* not one of ours: never from user input */
        ll_account_init(&a, &id);
        doc_to_account(doc, &a);
        each(ctx, &a);
    }
    if (mongoc_cursor_error(cur, &e)) rc = mongo_error(err, "find accounts", &e);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(&filter);
    return rc;
}

/* A cursor over every document of coll (no filter), bounded per batch by maxTimeMS. */
static mongoc_cursor_t *scan(mongoc_collection_t *coll) {
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts =
        BCON_NEW("maxTimeMS", BCON_INT64(LL_READ_MODEL_QUERY_MS_MAX), "batchSize", BCON_INT32(2000));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &filter, opts, NULL);
    bson_destroy(opts);
    return cur;
}

int ll_read_model_each_account(ll_read_model_t *rm, void (*each)(void *ctx, const ll_account_t *a), void *ctx,
                               ll_error_t *err) {
    mongoc_cursor_t *cur = scan(rm->accounts);
    const bson_t *doc;
    bson_error_t e;
    int rc = 0;
    while (rc == 0 && mongoc_cursor_next(cur, &doc)) {
        char text[LL_UUID_TEXT_LEN + 1];
        ll_uuid_t id;
        ll_account_t a;
        get_utf8(doc, "_id", text, sizeof text);
        if (ll_uuid_parse(text, false, &id) != 0) {
            rc =
                ll_error_set(err, LL_EINVAL, "account document with _id \"%.40s\" is not ledgerline's", text);
            break;
        }
        ll_account_init(&a, &id);
        doc_to_account(doc, &a);
        each(ctx, &a);
    }
    if (rc == 0 && mongoc_cursor_error(cur, &e)) rc = mongo_error(err, "scan accounts", &e);
    mongoc_cursor_destroy(cur);
    return rc;
}

int ll_read_model_each_transaction(ll_read_model_t *rm,
                                   void (*each)(void *ctx, const ll_uuid_t *account,
                                                const ll_uuid_t *event_id, int64_t amount_minor),
                                   void *ctx, ll_error_t *err) {
    mongoc_cursor_t *cur = scan(rm->transactions);
    const bson_t *doc;
    bson_error_t e;
    int rc = 0;
    while (rc == 0 && mongoc_cursor_next(cur, &doc)) {
        char id[LL_UUID_TEXT_LEN + 1], account[LL_UUID_TEXT_LEN + 1];
        ll_uuid_t event_id, account_id;
        get_utf8(doc, "_id", id, sizeof id);
        get_utf8(doc, "account_id", account, sizeof account);
        if (ll_uuid_parse(id, false, &event_id) != 0 || ll_uuid_parse(account, false, &account_id) != 0) {
            rc = ll_error_set(err, LL_EINVAL, "transaction document with _id \"%.40s\" is not ledgerline's",
                              id);
            break;
        }
        each(ctx, &account_id, &event_id, get_int64(doc, "amount_minor"));
    }
    if (rc == 0 && mongoc_cursor_error(cur, &e)) rc = mongo_error(err, "scan transactions", &e);
    mongoc_cursor_destroy(cur);
    return rc;
}

/* The fields of a's document (everything but _id). Caller destroys. */
static bson_t *account_fields(const ll_account_t *a) {
    char id[LL_UUID_TEXT_LEN + 1], opened[LL_TIME_TEXT_LEN + 1], updated[LL_TIME_TEXT_LEN + 1];
    ll_uuid_format(&a->account_id, id);
    ll_time_format(a->opened_at_us, opened);
    ll_time_format(a->updated_at_us, updated);
    return BCON_NEW("account_id", BCON_UTF8(id), "owner", BCON_UTF8(a->owner), "currency",
                    BCON_UTF8(a->currency.code), "status", BCON_UTF8(ll_account_status_name(a->status)),
                    "balance_minor", BCON_INT64(a->balance_minor), "version", BCON_INT64(a->version),
                    "overdraft_limit_minor", BCON_INT64(a->overdraft_limit_minor), "opened_at",
                    BCON_UTF8(opened), "updated_at", BCON_UTF8(updated), "opened_at_us",
                    BCON_INT64(a->opened_at_us), "updated_at_us", BCON_INT64(a->updated_at_us), "head_hash",
                    BCON_UTF8(a->head_hash));
}

/* Adds a's write to bulk: an insert when the document must not exist yet (prev_version 0; one
 * created meanwhile fails with a duplicate key instead of being overwritten), else an update
 * guarded by the version it was loaded at. */
static bool add_save(mongoc_bulk_operation_t *bulk, const ll_account_t *a, int64_t prev_version,
                     bson_error_t *e) {
    char id[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&a->account_id, id);
    bson_t *fields = account_fields(a);
    bool ok;
    if (prev_version == 0) {
        bson_t doc = BSON_INITIALIZER;
        BSON_APPEND_UTF8(&doc, "_id", id);
        ok = bson_concat(&doc, fields) && mongoc_bulk_operation_insert_with_opts(bulk, &doc, NULL, e);
        bson_destroy(&doc);
    } else {
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(id), "version", BCON_INT64(prev_version));
        bson_t update = BSON_INITIALIZER;
        ok = BSON_APPEND_DOCUMENT(&update, "$set", fields) &&
             mongoc_bulk_operation_update_one_with_opts(bulk, filter, &update, NULL, e);
        bson_destroy(&update);
        bson_destroy(filter);
    }
    bson_destroy(fields);
    return ok;
}

/* True when every write error in reply is a duplicate key (the document is already there). */
static bool only_duplicates(const bson_t *reply) {
    bson_iter_t it, arr, item;
    if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it)) return false;
    if (!bson_iter_recurse(&it, &arr)) return false;
    int errors = 0; /* none at all: the write failed for another reason (connection, command) */
    while (bson_iter_next(&arr)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&arr) || !bson_iter_recurse(&arr, &item) ||
            !bson_iter_find(&item, "code") || bson_iter_as_int64(&item) != DUPLICATE_KEY)
            return false;
        errors++;
    }
    return errors > 0;
}

int ll_read_model_save_account(ll_read_model_t *rm, const ll_account_t *a, int64_t prev_version,
                               ll_error_t *err) {
    const ll_account_t *one[1] = {a};
    size_t conflicts = 0;
    int rc = ll_read_model_save_accounts(rm, one, &prev_version, 1, &conflicts, err);
    if (rc == 0 && conflicts > 0) {
        char id[LL_UUID_TEXT_LEN + 1];
        ll_uuid_format(&a->account_id, id);
        rc = ll_error_set(err, LL_EINVAL, "account %s moved past version %lld concurrently", id,
                          (long long)prev_version);
    }
    return rc;
}

/* Executes one bulk of the writes of accounts[i] for i in idx[0..k). Adds the documents another
 * writer moved or created to *conflicts. Returns 0 or LL_EIO. */
static int save_bulk(ll_read_model_t *rm, const ll_account_t *const *accounts, const int64_t *prev_versions,
                     const size_t *idx, size_t k, size_t *conflicts, ll_error_t *err) {
    bson_t opts = BSON_INITIALIZER, reply;
    BSON_APPEND_BOOL(&opts, "ordered", false); /* independent documents: one failure stops none */
    mongoc_write_concern_append(rm->wc, &opts);
    mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(rm->accounts, &opts);
    bson_destroy(&opts);
    bson_error_t e;
    int rc = 0;
    for (size_t j = 0; j < k && rc == 0; j++)
        if (!add_save(bulk, accounts[idx[j]], prev_versions[idx[j]], &e))
            rc = mongo_error(err, "save accounts", &e);
    if (rc == 0) {
        bool ok = mongoc_bulk_operation_execute(bulk, &reply, &e) != 0;
        if (!ok && !only_duplicates(&reply)) {
            rc = mongo_error(err, "save accounts", &e);
        } else {
            /* Not matched (another writer moved it) or a duplicate key (another writer created
             * it): conflicts, which the caller resolves by reloading. */
            int64_t written = get_int64(&reply, "nMatched") + get_int64(&reply, "nInserted");
            *conflicts += written >= (int64_t)k ? 0 : k - (size_t)written;
        }
        bson_destroy(&reply);
    }
    mongoc_bulk_operation_destroy(bulk);
    return rc;
}

int ll_read_model_save_accounts(ll_read_model_t *rm, const ll_account_t *const *accounts,
                                const int64_t *prev_versions, size_t n, size_t *conflicts, ll_error_t *err) {
    *conflicts = 0;
    size_t idx[LL_READ_MODEL_UPDATES_PER_COMMAND], k = 0;
    int rc = 0;
    /* Inserts (new documents) first, then updates; each command at most
     * LL_READ_MODEL_UPDATES_PER_COMMAND writes of one kind (ll_limits.h says why). */
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        for (size_t i = 0; i < n && rc == 0; i++) {
            if ((prev_versions[i] == 0) != (pass == 0)) continue;
            idx[k++] = i;
            if (k == LL_READ_MODEL_UPDATES_PER_COMMAND) {
                rc = save_bulk(rm, accounts, prev_versions, idx, k, conflicts, err);
                k = 0;
            }
        }
        if (k > 0 && rc == 0) rc = save_bulk(rm, accounts, prev_versions, idx, k, conflicts, err);
        k = 0;
    }
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
