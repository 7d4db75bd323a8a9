/* Integration: the read-model writes the projector relies on, against the local FerretDB: a new
 * account document is created once and never overwritten by a writer that thought it absent,
 * version-guarded updates refuse a moved document, bulk saves beyond one command's limit
 * (LL_READ_MODEL_UPDATES_PER_COMMAND) all land, and one query loads many accounts. Needs `make up`.
 * Uses its own database, dropped at the start. */
#include "ll_config.h"
#include "ll_limits.h"
#include "ll_random.h"
#include "ll_read_model.h"
#include "ll_test.h"

#include <mongoc/mongoc.h>
#include <string.h>

extern char **environ;

#define DB   "ledgerline_test_read_model"
#define MANY (3 * LL_READ_MODEL_UPDATES_PER_COMMAND + 5)

static mongoc_client_t *client;
static ll_read_model_t rm;

static int setup(ll_test_ctx_t *t) {
    ll_config_t cfg;
    ll_error_t err = {""};
    if (ll_config_load(&cfg, NULL, environ, &err) != 0) {
        LL_FAIL_AT("config: %s", err.msg);
        return -1;
    }
    mongoc_uri_t *uri = mongoc_uri_new_with_error(cfg.mongo_uri, NULL);
    client = uri ? mongoc_client_new_from_uri(uri) : NULL;
    mongoc_uri_destroy(uri);
    if (client == NULL) return -1;
    mongoc_database_t *db = mongoc_client_get_database(client, DB);
    mongoc_database_drop(db, NULL); /* absent is fine */
    mongoc_database_destroy(db);
    if (ll_read_model_open(&rm, client, DB, 1, &err) != 0) {
        LL_FAIL_AT("open: %s", err.msg);
        return -1;
    }
    return 0;
}

static void teardown(void) {
    ll_read_model_close(&rm);
    mongoc_client_destroy(client);
}

static ll_account_t account(int64_t version, int64_t balance) {
    ll_account_t a;
    ll_uuid_t id;
    if (ll_uuid_random(&id) != 0) abort();
    ll_account_init(&a, &id);
    a.version = version;
    a.status = LL_ACCOUNT_OPEN;
    a.balance_minor = balance;
    snprintf(a.owner, sizeof a.owner, "test");
    snprintf(a.currency.code, sizeof a.currency.code, "EUR");
    return a;
}

static int64_t stored_balance(const ll_account_t *a) {
    ll_account_t got;
    bool found = false;
    ll_error_t err = {""};
    if (ll_read_model_load_account(&rm, &a->account_id, &got, &found, &err) != 0 || !found) return -1;
    return got.balance_minor;
}

LL_TEST(test_a_created_document_is_never_overwritten_as_new) {
    ll_error_t err = {""};
    ll_account_t a = account(1, 10), stale = a;
    stale.balance_minor = 99;
    LL_REQUIRE(ll_read_model_save_account(&rm, &a, 0, &err) == 0);
    /* A second writer that loaded "no document" before the first one wrote. */
    LL_CHECK_EQ_INT(ll_read_model_save_account(&rm, &stale, 0, &err), LL_EINVAL);
    LL_CHECK_EQ_INT(stored_balance(&a), 10);
}

LL_TEST(test_updates_are_guarded_by_the_loaded_version) {
    ll_error_t err = {""};
    ll_account_t a = account(1, 10);
    LL_REQUIRE(ll_read_model_save_account(&rm, &a, 0, &err) == 0);
    a.version = 2, a.balance_minor = 20;
    LL_CHECK_EQ_INT(ll_read_model_save_account(&rm, &a, 5, &err), LL_EINVAL); /* moved meanwhile */
    LL_CHECK_EQ_INT(stored_balance(&a), 10);
    LL_CHECK_EQ_INT(ll_read_model_save_account(&rm, &a, 1, &err), 0);
    LL_CHECK_EQ_INT(stored_balance(&a), 20);
}

static int loaded;
static void count_loaded(void *ctx, const ll_account_t *a) {
    (void)ctx;
    if (a->version == 2) loaded++;
}

LL_TEST(test_bulk_saves_past_one_command_and_counts_conflicts) {
    static ll_account_t accounts[MANY];
    const ll_account_t *ptrs[MANY];
    int64_t prev[MANY];
    ll_uuid_t ids[MANY];
    size_t conflicts = 99;
    ll_error_t err = {""};
    for (int i = 0; i < MANY; i++) {
        accounts[i] = account(1, i);
        ptrs[i] = &accounts[i];
        prev[i] = 0;
        ids[i] = accounts[i].account_id;
    }
    LL_REQUIRE(ll_read_model_save_accounts(&rm, ptrs, prev, MANY, &conflicts, &err) == 0);
    LL_CHECK_EQ_INT(conflicts, 0);
    for (int i = 0; i < MANY; i++) accounts[i].version = 2, prev[i] = 1;
    prev[3] = 7, prev[MANY - 1] = 7; /* two that another writer moved */
    LL_REQUIRE(ll_read_model_save_accounts(&rm, ptrs, prev, MANY, &conflicts, &err) == 0);
    LL_CHECK_EQ_INT(conflicts, 2);
    loaded = 0;
    LL_REQUIRE(ll_read_model_load_accounts(&rm, ids, MANY, count_loaded, NULL, &err) == 0);
    LL_CHECK_EQ_INT(loaded, MANY - 2);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_a_created_document_is_never_overwritten_as_new),
        LL_CASE(test_updates_are_guarded_by_the_loaded_version),
        LL_CASE(test_bulk_saves_past_one_command_and_counts_conflicts),
    };
    mongoc_init();
    ll_test_ctx_t ctx = {"setup", 0}, *t = &ctx;
    if (setup(t) != 0) {
        printf("read_model: 0 passed, 1 failed\n");
        return 1;
    }
    int rc = ll_test_main(argc, argv, "read_model", cases, LL_CASES(cases));
    teardown();
    mongoc_cleanup();
    return rc;
}
