/* Integration: libmongoc reaches the local MongoDB-protocol server (FerretDB) with the configured
 * URI: ping, insert with majority+journal write concern, find it back, delete; a bulk replace
 * larger than the server's connection pool. The writes go to a database of their own (the
 * configured one's name + "_selftest", dropped afterwards), never to the read models of the
 * stack's ledger. Needs `make up`. */
#include "ll_config.h"
#include "ll_test.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <time.h>

extern char **environ;

static mongoc_client_t *client_or_fail(ll_test_ctx_t *t, ll_config_t *cfg) {
    ll_error_t err = {""};
    if (ll_config_load(cfg, NULL, environ, &err) != 0) {
        LL_FAIL_AT("config: %s", err.msg);
        return NULL;
    }
    bson_error_t berr;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(cfg->mongo_uri, &berr);
    if (uri == NULL) {
        LL_FAIL_AT("mongo_uri: %s", berr.message);
        return NULL;
    }
    mongoc_client_t *client = mongoc_client_new_from_uri(uri);
    mongoc_uri_destroy(uri);
    if (client == NULL)
        LL_FAIL_AT("mongoc_client_new_from_uri failed");
    else
        mongoc_client_set_appname(client, "ledgerline-test");
    return client;
}

/* The database this suite writes: beside the configured one, never it. */
static const char *selftest_database(const ll_config_t *cfg) {
    static char name[sizeof cfg->mongo_database + 16];
    snprintf(name, sizeof name, "%s_selftest", cfg->mongo_database);
    return name;
}

/* Drops the suite's database: what a test wrote does not outlive it. */
static void drop_selftest_database(ll_test_ctx_t *t, mongoc_client_t *client, const ll_config_t *cfg) {
    mongoc_database_t *db = mongoc_client_get_database(client, selftest_database(cfg));
    bson_error_t berr;
    if (!mongoc_database_drop(db, &berr)) LL_FAIL_AT("drop %s: %s", selftest_database(cfg), berr.message);
    mongoc_database_destroy(db);
}

LL_TEST(test_mongo_ping) {
    ll_config_t cfg;
    mongoc_client_t *client = client_or_fail(t, &cfg);
    LL_REQUIRE(client != NULL);
    bson_t *cmd = BCON_NEW("ping", BCON_INT32(1));
    bson_t reply;
    bson_error_t berr;
    bool ok = mongoc_client_command_simple(client, "admin", cmd, NULL, &reply, &berr);
    if (!ok) LL_FAIL_AT("ping: %s (is the stack up? make up)", berr.message);
    bson_destroy(&reply);
    bson_destroy(cmd);
    mongoc_client_destroy(client);
}

LL_TEST(test_mongo_insert_find_delete) {
    ll_config_t cfg;
    mongoc_client_t *client = client_or_fail(t, &cfg);
    LL_REQUIRE(client != NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, selftest_database(&cfg), "selftest");
    char id[64];
    snprintf(id, sizeof id, "selftest-%ld-%ld", (long)getpid(), (long)time(NULL));

    mongoc_write_concern_t *wc = mongoc_write_concern_new();
    mongoc_write_concern_set_w(wc, MONGOC_WRITE_CONCERN_W_MAJORITY);
    mongoc_write_concern_set_journal(wc, true);
    bson_t opts = BSON_INITIALIZER;
    LL_CHECK(mongoc_write_concern_append(wc, &opts));

    bson_t *doc =
        BCON_NEW("_id", BCON_UTF8(id), "balance_minor", BCON_INT64(INT64_MAX), "currency", BCON_UTF8("EUR"));
    bson_error_t berr;
    bool ok = mongoc_collection_insert_one(coll, doc, &opts, NULL, &berr);
    if (!ok) LL_FAIL_AT("insert_one: %s", berr.message);

    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    const bson_t *found = NULL;
    int n = 0;
    while (mongoc_cursor_next(cur, &found)) {
        n++;
        bson_iter_t it;
        LL_CHECK(bson_iter_init_find(&it, found, "balance_minor") && BSON_ITER_HOLDS_INT64(&it) &&
                 bson_iter_int64(&it) == INT64_MAX);
    }
    if (mongoc_cursor_error(cur, &berr)) LL_FAIL_AT("find: %s", berr.message);
    LL_CHECK_EQ_INT(n, 1);
    mongoc_cursor_destroy(cur);

    LL_CHECK(mongoc_collection_delete_one(coll, filter, &opts, NULL, &berr));
    bson_destroy(filter);
    bson_destroy(doc);
    bson_destroy(&opts);
    mongoc_write_concern_destroy(wc);
    mongoc_collection_destroy(coll);
    drop_selftest_database(t, client, &cfg);
    mongoc_client_destroy(client);
}

/* One bulk write replacing more existing documents than the store's connection pool holds (what
 * the MongoDB Kafka sink sends under load). FerretDB v1.24.2 unpatched kept a pool connection per
 * statement to the end of the command and hung every client for good
 * (deploy/local/ferretdb-patches); the store must answer it, and answer others afterwards. */
#define BULK_DOCS 200
LL_TEST(test_mongo_bulk_replace_of_existing_documents) {
    ll_config_t cfg;
    mongoc_client_t *client = client_or_fail(t, &cfg);
    LL_REQUIRE(client != NULL);
    mongoc_collection_t *coll =
        mongoc_client_get_collection(client, selftest_database(&cfg), "selftest_bulk");
    bson_error_t berr;
    mongoc_collection_drop(coll, NULL); /* a previous run's, if any */
    mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(coll, NULL);
    for (int i = 0; i < BULK_DOCS; i++) {
        bson_t *doc = BCON_NEW("_id", BCON_INT32(i), "v", BCON_INT32(0));
        LL_CHECK(mongoc_bulk_operation_insert_with_opts(bulk, doc, NULL, &berr));
        bson_destroy(doc);
    }
    bson_t reply;
    if (!mongoc_bulk_operation_execute(bulk, &reply, &berr)) LL_FAIL_AT("insert: %s", berr.message);
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(bulk);

    bulk = mongoc_collection_create_bulk_operation_with_opts(coll, NULL);
    for (int i = 0; i < BULK_DOCS; i++) {
        bson_t *filter = BCON_NEW("_id", BCON_INT32(i)), *doc = BCON_NEW("v", BCON_INT32(1));
        LL_CHECK(mongoc_bulk_operation_replace_one_with_opts(bulk, filter, doc, NULL, &berr));
        bson_destroy(filter);
        bson_destroy(doc);
    }
    if (!mongoc_bulk_operation_execute(bulk, &reply, &berr)) LL_FAIL_AT("bulk replace: %s", berr.message);
    bson_iter_t it;
    LL_CHECK(bson_iter_init_find(&it, &reply, "nModified") && bson_iter_as_int64(&it) == BULK_DOCS);
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(bulk);

    bson_t *count_filter = BCON_NEW("v", BCON_INT32(1));
    int64_t replaced = mongoc_collection_count_documents(coll, count_filter, NULL, NULL, NULL, &berr);
    if (replaced < 0) LL_FAIL_AT("count after the bulk: %s", berr.message);
    LL_CHECK_EQ_INT(replaced, BULK_DOCS);
    bson_destroy(count_filter);
    LL_CHECK(mongoc_collection_drop(coll, &berr));
    mongoc_collection_destroy(coll);
    drop_selftest_database(t, client, &cfg);
    mongoc_client_destroy(client);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_mongo_ping),
        LL_CASE(test_mongo_insert_find_delete),
        LL_CASE(test_mongo_bulk_replace_of_existing_documents),
    };
    mongoc_init();
    int rc = ll_test_main(argc, argv, "mongo_roundtrip", cases, LL_CASES(cases));
    mongoc_cleanup();
    return rc;
}
