/* Integration: no read-model query scans a collection on the local FerretDB.
 *
 * Fills a generation of its own database with 20,000 accounts (account documents, events,
 * sealed pages: enough that a scan would be the planner's last choice, not a cheap one), then
 * runs every query shape the projector, the query API and the tools issue (an account with its
 * open page, a version probe, a sealed page, a sealed page's time (statements by time), the active
 * generation, the writes that seal a page and move an account document) and checks in FerretDB's PostgreSQL
 * database that not one of its tables was read sequentially (pg_stat_user_tables.seq_scan). Then the same on
 * a store holding only one account's 320 sealed pages, where the planner is most tempted to read the table
 * whole. A control query FerretDB cannot push down ({_id: {$in: [...]}}) must show up as a scan, so the check
 * can fail. Needs `make up`. LL_TEST_FERRETDB_PG: libpq conninfo of FerretDB's database (default: the local
 * stack's). */
#include "../unit/domain_fixture.h"
#include "ll_config.h"
#include "ll_rm_store.h" /* the collections, to seed and inspect documents */
#include "ll_read_model_writes.h"
#include "ll_rm_times.h"
#include "ll_test.h"

#include <libpq-fe.h>
#include <mongoc/mongoc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#define DB       "ledgerline_test_indexes"
#define SMALL_DB DB "_small" /* test_a_small_store_is_read_by_index_too's */
#define ACCOUNTS 20000
#define LONG     300 /* accounts with sealed pages */
#define P        LL_READ_MODEL_PAGE_VERSIONS

static mongoc_client_t *client;
static ll_read_model_t rm;
static PGconn *pg;
static fx_world_t world;

/* Sum of seq_scan and of idx_scan over the read-model tables of the test database's schema.
 * read_model_meta is left out: it holds a document per generation, so the planner rightly
 * reads it whole (a constant cost, whatever the store's size). */
static int scans(const char *schema, const char *tables, long long *seq, long long *idx) {
    PGresult *r = PQexec(pg, "SELECT pg_stat_clear_snapshot()");
    PQclear(r);
    const char *params[2] = {schema, tables};
    r = PQexecParams(pg,
                     "SELECT coalesce(sum(seq_scan), 0), coalesce(sum(idx_scan), 0) FROM pg_stat_user_tables"
                     " WHERE schemaname = $1 AND relname SIMILAR TO $2 AND relname NOT LIKE '\\_ferretdb\\_%'"
                     " AND relname NOT LIKE 'read\\_model\\_meta%'",
                     2, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (ok) *seq = atoll(PQgetvalue(r, 0, 0)), *idx = atoll(PQgetvalue(r, 0, 1));
    PQclear(r);
    return ok ? 0 : -1;
}

/* Each table's counters, when a check failed. */
static void print_scans(const char *schema) {
    const char *params[1] = {schema};
    PGresult *r = PQexecParams(pg,
                               "SELECT relname, seq_scan, idx_scan, n_live_tup FROM pg_stat_user_tables"
                               " WHERE schemaname = $1",
                               1, NULL, params, NULL, NULL, 0);
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++)
        fprintf(stderr, "  %s: %s sequential scans, %s index scans, %s rows\n", PQgetvalue(r, i, 0),
                PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
    PQclear(r);
}

/* The counters once every backend has reported: FerretDB's idle connections flush their
 * statistics within PostgreSQL's 10 s idle interval, so the counters must have reached
 * at_least scans of either kind and then not moved for 11 s. */
static int settled_scans(const char *schema, const char *tables, long long at_least, long long *seq,
                         long long *idx) {
    long long s0 = -1, i0 = -1;
    int still = 0;
    for (int i = 0; i < 600; i++) {
        if (scans(schema, tables, seq, idx) != 0) return -1;
        still = *seq == s0 && *idx == i0 ? still + 1 : 0;
        s0 = *seq, i0 = *idx;
        if (*seq + *idx >= at_least && still >= 22) return 0;
        usleep(500000);
    }
    return -1;
}

static int insert(mongoc_collection_t *coll, bson_t **docs, size_t n) {
    ll_error_t err = {""};
    int rc = ll_read_model_insert(&rm, coll, (const bson_t *const *)docs, n, NULL, NULL, &err);
    if (rc != 0) fprintf(stderr, "  insert: %s\n", err.msg);
    for (size_t i = 0; i < n; i++) bson_destroy(docs[i]);
    return rc;
}

/* Statistics for the planner, as autovacuum would have them on a store of this size. */
static void analyze(const char *schema) {
    const char *params[1] = {schema};
    PGresult *r = PQexecParams(pg,
                               "SELECT format('ANALYZE %I.%I', schemaname, relname) FROM pg_stat_user_tables"
                               " WHERE schemaname = $1",
                               1, NULL, params, NULL, NULL, 0);
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++)
        PQclear(PQexec(pg, PQgetvalue(r, i, 0)));
    PQclear(r);
}

static ll_read_model_t small; /* test_a_small_store_is_read_by_index_too's, closed by teardown */
static bool small_open;

static ll_uuid_t ids[ACCOUNTS];
static ll_rm_account_t held[ACCOUNTS];
static ll_event_t next_events[LONG][4]; /* the long accounts' next 4 events, not stored yet */

/* Opens every account with a deposit or two; the first LONG get 3P-3 events (two sealed pages,
 * the third nearly full: their next 4 events seal it). */
static int fill(void) {
    static bson_t *events[4096], *heads[1024], *pages[1024], *times[1024];
    size_t ne = 0, nh = 0, np = 0, nt = 0;
    for (int k = 0; k < ACCOUNTS; k++) {
        ids[k] = fx_uuid(1000000 + (uint64_t)k);
        ll_account_t a;
        ll_account_init(&a, &ids[k]);
        ll_decision_t d;
        int n = k < LONG ? 3 * P - 3 : 2 + k % 3;
        const char *items[P] = {0};
        static char item_text[P][LL_RM_ITEM_JSON_MAX];
        for (int v = 1; v <= n + (k < LONG ? 4 : 0); v++) {
            ll_command_t c = fx_cmd(v == 1 ? LL_CMD_OPEN : LL_CMD_DEPOSIT, &ids[k], v == 1 ? 0 : v, "EUR");
            if (fx_run(&world, &a, &c, &d) != LL_REJECT_NONE) return -1;
            if (v > n) { /* kept for the writes below */
                next_events[k][v - n - 1] = d.events[0];
                continue;
            }
            int64_t page = ll_rm_page_of(v);
            if (page < ll_rm_open_page(n)) { /* sealed */
                int len = ll_rm_item_json(&d.events[0], item_text[v % P], sizeof item_text[0]);
                items[v % P] = len > 0 ? item_text[v % P] : NULL;
                if (v % P == P - 1) {
                    pages[np++] = ll_rm_page_doc(&ids[k], page, items);
                    times[nt++] = ll_rm_time_doc(&ids[k], page, d.events[0].occurred_at_us);
                    memset(items, 0, sizeof items);
                }
            } else if (v >= 2) {
                events[ne++] = ll_rm_event_doc(&d.events[0], &a, n);
            }
            if (v == n) held[k].state = a;
            if (ne == 4096 && insert(rm.events, events, ne) != 0) return -1;
            if (ne == 4096) ne = 0;
        }
        ll_account_t stored = held[k].state;
        held[k].head_version = stored.version;
        held[k].head_page = ll_rm_open_page(stored.version);
        heads[nh++] = ll_rm_head_doc(&stored, held[k].head_page);
        if (nh == 1024 && insert(rm.accounts, heads, nh) != 0) return -1;
        if (np >= 1000 && insert(rm.pages, pages, np) != 0) return -1;
        if (nt >= 1000 && insert(rm.times, times, nt) != 0) return -1;
        if (nh == 1024) nh = 0;
        if (np >= 1000) np = 0;
        if (nt >= 1000) nt = 0;
    }
    if (insert(rm.events, events, ne) != 0 || insert(rm.accounts, heads, nh) != 0 ||
        insert(rm.pages, pages, np) || insert(rm.times, times, nt))
        return -1;
    analyze(DB);
    return 0;
}

static void drop_databases(void) {
    const char *names[] = {DB, SMALL_DB};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        mongoc_database_t *db = mongoc_client_get_database(client, names[i]);
        mongoc_database_drop(db, NULL);
        mongoc_database_destroy(db);
    }
}

static int setup(ll_test_ctx_t *t) {
    ll_config_t cfg;
    ll_error_t err = {""};
    if (ll_config_load(&cfg, NULL, environ, &err) != 0) {
        LL_FAIL_AT("config: %s", err.msg);
        return -1;
    }
    const char *conninfo = getenv("LL_TEST_FERRETDB_PG");
    pg = PQconnectdb(conninfo ? conninfo
                              : "host=127.0.0.1 port=55432 dbname=ferretdb user=ferretdb password=ferretdb "
                                "connect_timeout=5");
    if (PQstatus(pg) != CONNECTION_OK) {
        LL_FAIL_AT("FerretDB's PostgreSQL database: %s", PQerrorMessage(pg));
        return -1;
    }
    mongoc_uri_t *uri = mongoc_uri_new_with_error(cfg.mongo_uri, NULL);
    client = uri ? mongoc_client_new_from_uri(uri) : NULL;
    mongoc_uri_destroy(uri);
    if (client == NULL) return -1;
    drop_databases(); /* what an interrupted run left */
    int64_t gen = 0;
    fx_world_init(&world);
    if (ll_read_model_active_generation(&(ll_rm_client_t){.mongo = client, .database = DB}, &gen, &err) != 0 ||
        ll_read_model_open(&rm, client, DB, gen, &err) != 0) {
        LL_FAIL_AT("open: %s", err.msg);
        return -1;
    }
    if (fill() != 0) {
        LL_FAIL_AT("fill");
        return -1;
    }
    return 0;
}

static void teardown(void) {
    ll_read_model_close(&rm);
    if (small_open) ll_read_model_close(&small);
    drop_databases();
    mongoc_client_destroy(client);
    PQfinish(pg);
}

static int item_count(void *ctx, int64_t version, const char *json, uint32_t len) {
    (void)version, (void)json, (void)len;
    (*(int *)ctx)++;
    return 0;
}

static void on_conflict(void *ctx, int tag) {
    (void)tag;
    (*(int *)ctx)++;
}

LL_TEST(test_no_read_model_query_scans_a_table) {
    long long seq0, idx0, seq1, idx1;
    LL_REQUIRE(settled_scans(DB, "%", 0, &seq0, &idx0) == 0);
    ll_error_t err = {""};
    long long lookups = 0;
    for (int k = 0; k < ACCOUNTS; k += 97) { /* the query API and the projector's first reads */
        ll_rm_account_t acc;
        ll_rm_items_t items = {0};
        bool found = false, stored = false;
        LL_REQUIRE(ll_read_model_load(&rm, &ids[k], &acc, &found, &items, &err) == 0);
        LL_CHECK(found && acc.state.version == held[k].state.version);
        LL_REQUIRE(ll_read_model_has_version(&rm, &ids[k], acc.state.version, &stored, &err) == 0);
        LL_CHECK(stored);
        ll_rm_items_free(&items);
        lookups += 3;
    }
    for (int k = 0; k < LONG; k += 7) { /* older statement pages, and a version only a page holds */
        int n = 0;
        bool found = false, stored = false;
        LL_REQUIRE(ll_read_model_sealed_page(&rm, &ids[k], 1, INT64_MAX, item_count, &n, &found, &err) == 0);
        LL_CHECK(found && n == P);
        LL_REQUIRE(ll_read_model_has_version(&rm, &ids[k], P + 3, &stored, &err) == 0);
        LL_CHECK(stored);
        lookups += 3;
        /* Statements by time: where the sealed pages end (times_g, by _id), one there, one not. */
        int64_t last_us = 0;
        LL_REQUIRE(ll_read_model_page_time(&rm, &ids[k], 1, &last_us, &found, &err) == 0);
        LL_CHECK(found && last_us > 0);
        LL_REQUIRE(ll_read_model_page_time(&rm, &ids[k], 2, &last_us, &found, &err) == 0);
        LL_CHECK(!found);
        lookups += 2;
    }
    int64_t gen;
    for (int i = 0; i < 20; i++) LL_REQUIRE(ll_read_model_active_generation(&(ll_rm_client_t){.mongo = client, .database = DB}, &gen, &err) == 0);
    /* The projector's writes: the long accounts' next events seal page 2 (its earlier events
     * read back by the page tag) and move the account document (a guarded update). */
    ll_rm_writes_t *w = ll_rm_writes_new();
    int conflicts = 0;
    for (int k = 0; k < LONG; k += 11) {
        ll_rm_account_t after;
        LL_REQUIRE(ll_rm_writes_add(w, &held[k], NULL, next_events[k], 4, &after, k, &err) == 0);
        lookups += 2;
    }
    LL_REQUIRE(ll_rm_writes_execute(w, &rm, on_conflict, &conflicts, &err) == 0);
    ll_rm_writes_free(w);
    LL_CHECK_EQ_INT(conflicts, 0);
    LL_REQUIRE(settled_scans(DB, "%", seq0 + idx0 + lookups, &seq1, &idx1) == 0);
    LL_CHECK_EQ_INT(seq1 - seq0, 0);
    if (seq1 != seq0) print_scans(DB);
}

/* The detector works: a query FerretDB evaluates in Go reads the whole table. */
LL_TEST(test_a_query_that_is_not_pushed_down_shows_as_a_scan) {
    long long seq0, idx0, seq1, idx1;
    LL_REQUIRE(settled_scans(DB, "%", 0, &seq0, &idx0) == 0);
    char a[LL_UUID_TEXT_LEN + 1], b[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&ids[1], a);
    ll_uuid_format(&ids[2], b);
    bson_t *filter = BCON_NEW("_id", "{", "$in", "[", BCON_UTF8(a), BCON_UTF8(b), "]", "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(rm.accounts, filter, NULL, NULL);
    const bson_t *doc;
    int n = 0;
    while (mongoc_cursor_next(cur, &doc)) n++;
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    LL_CHECK_EQ_INT(n, 2);
    LL_REQUIRE(settled_scans(DB, "%", seq0 + idx0 + 1, &seq1, &idx1) == 0); /* its scan reported */
    LL_CHECK(seq1 > seq0);
}

/* A small store: one account's sealed pages (a statement of 10,000 movements) and nothing else.
 * A page document is large, so PostgreSQL keeps it out of line (TOAST) and the table's own pages
 * are few: priced as one operator, `_jsonb -> '_id'` made reading the table whole look cheaper
 * than the index, and every row was then detoasted (2.2 ms for one page by _id at 343 pages,
 * 0.1 ms from the index). ferretdb-indexes.sql prices the field access as what it is. */
#define SMALL_PAGES 320
/* Only the pages and times tables are checked here: the others hold one document or none, which
 * the planner rightly reads whole (a constant cost). */
#define PAGES_TABLES "(pages|times)\\_g%"

LL_TEST(test_a_small_store_is_read_by_index_too) {
    ll_error_t err = {""};
    int64_t gen = 0;
    LL_REQUIRE(ll_read_model_active_generation(&(ll_rm_client_t){.mongo = client, .database = SMALL_DB}, &gen, &err) == 0);
    LL_REQUIRE(ll_read_model_open(&small, client, SMALL_DB, gen, &err) == 0);
    small_open = true;
    ll_uuid_t id = fx_uuid(777);
    ll_account_t a;
    ll_account_init(&a, &id);
    static char item_text[P][LL_RM_ITEM_JSON_MAX];
    const char *items[P] = {0};
    static bson_t *pages[SMALL_PAGES], *times[SMALL_PAGES];
    size_t np = 0;
    for (int64_t v = 1; v <= (int64_t)SMALL_PAGES * P - 1; v++) {
        ll_command_t c = fx_cmd(v == 1 ? LL_CMD_OPEN : LL_CMD_DEPOSIT, &id, v == 1 ? 0 : v, "EUR");
        ll_decision_t d;
        LL_REQUIRE(fx_run(&world, &a, &c, &d) == LL_REJECT_NONE);
        int len = ll_rm_item_json(&d.events[0], item_text[v % P], sizeof item_text[0]);
        items[v % P] = len > 0 ? item_text[v % P] : NULL;
        if (v % P == P - 1) {
            times[np] = ll_rm_time_doc(&id, ll_rm_page_of(v), d.events[0].occurred_at_us);
            LL_REQUIRE((pages[np++] = ll_rm_page_doc(&id, ll_rm_page_of(v), items)) != NULL);
            memset(items, 0, sizeof items);
        }
    }
    bson_t *head = ll_rm_head_doc(&a, ll_rm_open_page(a.version));
    LL_REQUIRE(
        ll_read_model_insert(&small, small.pages, (const bson_t *const *)pages, np, NULL, NULL, &err) == 0);
    LL_REQUIRE(
        ll_read_model_insert(&small, small.accounts, (const bson_t *const *)&head, 1, NULL, NULL, &err) == 0);
    LL_REQUIRE(ll_read_model_insert_times(&small, (const bson_t *const *)times, np, &err) == 0);
    for (size_t i = 0; i < np; i++) bson_destroy(pages[i]), bson_destroy(times[i]);
    bson_destroy(head);
    analyze(SMALL_DB);
    long long seq0, idx0, seq1, idx1;
    LL_REQUIRE(settled_scans(SMALL_DB, PAGES_TABLES, 0, &seq0, &idx0) == 0);
    long long lookups = 0;
    /* A statement by time placing its window: a search over the 320 pages' times (by _id). */
    for (int64_t page = 0; page < SMALL_PAGES; page += 9) {
        int64_t last_us = 0;
        bool found = false;
        LL_REQUIRE(ll_read_model_page_time(&small, &id, page, &last_us, &found, &err) == 0);
        LL_CHECK(found && last_us > 0);
        lookups++;
    }
    for (int64_t page = SMALL_PAGES - 1; page >= SMALL_PAGES - 40; page--) { /* a client paging back */
        int n = 0;
        bool found = false;
        LL_REQUIRE(ll_read_model_sealed_page(&small, &id, page, INT64_MAX, item_count, &n, &found, &err) ==
                   0);
        LL_CHECK(found && n == P);
        ll_rm_account_t acc;
        LL_REQUIRE(ll_read_model_load(&small, &id, &acc, &found, NULL, &err) == 0);
        LL_CHECK(found && acc.state.version == a.version);
        lookups++;
    }
    LL_REQUIRE(settled_scans(SMALL_DB, PAGES_TABLES, seq0 + idx0 + lookups, &seq1, &idx1) == 0);
    LL_CHECK_EQ_INT(seq1 - seq0, 0);
    if (seq1 != seq0) print_scans(SMALL_DB);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_no_read_model_query_scans_a_table),
        LL_CASE(test_a_query_that_is_not_pushed_down_shows_as_a_scan),
        LL_CASE(test_a_small_store_is_read_by_index_too),
    };
    mongoc_init();
    ll_test_ctx_t ctx = {"setup", 0}, *t = &ctx;
    if (setup(t) != 0) {
        printf("read_model_indexes: 0 passed, 1 failed\n");
        return 1;
    }
    int rc = ll_test_main(argc, argv, "read_model_indexes", cases, LL_CASES(cases));
    teardown();
    mongoc_cleanup();
    return rc;
}
