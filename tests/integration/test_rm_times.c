/* Integration: the time index of sealed pages (readmodel/ll_rm_times.h) against the local
 * FerretDB. Every page sealed has its times_g document saying when its last version occurred,
 * whoever sealed it: the projector's writes in batches cut anywhere (the page's last version in
 * the batch, or sealed later from what events_g holds after a writer stopped between events and
 * pages), writing the same events again, and the rebuild's builder; a page not sealed has none.
 * Needs `make up`. Uses its own database, dropped at the start and the end. */
#include "../unit/domain_fixture.h"
#include "ll_config.h"
#include "ll_rm_store.h" /* the collections, to seed and inspect documents */
#include "ll_read_model_writes.h"
#include "ll_rm_builder.h"
#include "ll_rm_times.h"
#include "ll_test.h"

#include <mongoc/mongoc.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

#define DB "ledgerline_test_rm_times"
#define P  LL_READ_MODEL_PAGE_VERSIONS
#define N  (5 * P + 7) /* five pages sealed, the sixth open */

static mongoc_client_t *client;
static ll_config_t cfg;
static ll_read_model_t rm;
static fx_world_t world;
static uint64_t next_account = 500;

typedef struct {
    ll_event_t events[N];
    ll_account_t after[N]; /* the state after events[i] */
} stream_t;

/* Opened, then deposits; every 3rd command 0..2 s later than the one before (ties included). */
static void make_stream(stream_t *s) {
    ll_decision_t d;
    ll_account_t a;
    ll_uuid_t id = fx_uuid(next_account++);
    ll_account_init(&a, &id);
    for (int i = 0; i < N; i++) {
        ll_command_t c = fx_cmd(i == 0 ? LL_CMD_OPEN : LL_CMD_DEPOSIT, &id, i == 0 ? 0 : i, "EUR");
        world.clock_us += (i % 3) * 1000000 - 1000000; /* fx_meta adds 1 s: +0, +1 or +2 s in all */
        if (fx_run(&world, &a, &c, &d) != LL_REJECT_NONE) abort();
        s->events[i] = d.events[0];
        s->after[i] = a;
    }
}

static void ignore_conflict(void *ctx, int tag) {
    (void)tag;
    (*(int *)ctx)++;
}

/* Writes events [from, to) of s on top of *held; *held moves on. Returns the conflicts, or -1. */
static int write_range(const stream_t *s, int from, int to, ll_rm_account_t *held) {
    ll_error_t err = {""};
    ll_rm_writes_t *w = ll_rm_writes_new();
    ll_rm_account_t after;
    int conflicts = 0;
    int rc = ll_rm_writes_add(w, held, NULL, &s->events[from], (size_t)(to - from), &after, 1, &err);
    if (rc == 0) rc = ll_rm_writes_execute(w, &rm, ignore_conflict, &conflicts, &err);
    if (rc != 0) fprintf(stderr, "  write_range: %s\n", err.msg);
    ll_rm_writes_free(w);
    if (rc == 0) *held = after;
    return rc == 0 ? conflicts : -1;
}

static void empty_held(ll_rm_account_t *held, const stream_t *s) {
    memset(held, 0, sizeof *held);
    ll_account_init(&held->state, &s->events[0].account_id);
}

/* Every sealed page's time is its last version's occurred_at; the open page has none. */
static void check_times(ll_test_ctx_t *t, ll_read_model_t *m, const stream_t *s, int64_t sealed) {
    ll_error_t err = {""};
    for (int64_t page = 0; page <= sealed; page++) {
        int64_t last_us = -1;
        bool found = false;
        LL_REQUIRE(ll_read_model_page_time(m, &s->events[0].account_id, page, &last_us, &found, &err) == 0);
        if (page == sealed) {
            LL_CHECK(!found);
            continue;
        }
        LL_CHECK(found);
        int64_t last_version = ll_rm_page_first(page + 1) - 1; /* events[i] is version i + 1 */
        if (found && last_us != s->events[last_version - 1].occurred_at_us)
            LL_FAIL_AT("page %lld: %lld, want %lld", (long long)page, (long long)last_us,
                       (long long)s->events[last_version - 1].occurred_at_us);
    }
}

static int setup(ll_test_ctx_t *t) {
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
    fx_world_init(&world);
    return 0;
}

static void teardown(void) {
    ll_read_model_close(&rm);
    mongoc_database_t *db = mongoc_client_get_database(client, DB);
    mongoc_database_drop(db, NULL);
    mongoc_database_destroy(db);
    mongoc_client_destroy(client);
}

LL_TEST(test_batches_cut_anywhere_write_every_sealed_pages_time) {
    static const int cuts[][6] = {
        {N, 0}, {1, N, 0}, {P - 1, P, P + 1, N, 0}, {2, 40, 63, 64, 65, N}, {31, 33, 95, 96, 160, N},
    };
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        static stream_t s;
        make_stream(&s);
        ll_rm_account_t held;
        empty_held(&held, &s);
        int from = 0;
        for (int k = 0; k < 6 && cuts[c][k] > from; k++) {
            LL_REQUIRE(write_range(&s, from, cuts[c][k], &held) == 0);
            from = cuts[c][k];
        }
        LL_REQUIRE(from == N);
        check_times(t, &rm, &s, ll_rm_open_page(N));
        /* Written again (a retried batch, a second writer): the same documents, no error. */
        ll_rm_account_t again;
        empty_held(&again, &s);
        LL_CHECK(write_range(&s, 0, N, &again) >= 0);
        check_times(t, &rm, &s, ll_rm_open_page(N));
    }
}

/* A writer stopped after the events of a full page and before its page: the next writer seals
 * it from events_g, and its time from the document of its last version. */
LL_TEST(test_a_page_sealed_later_from_events_gets_its_time) {
    ll_error_t err = {""};
    /* What that writer left: the account document at version 1 and the events of versions
     * 2..last (documents of the page each is in; none sealed). */
    static const int lasts[] = {P - 1, P + 1}; /* page 0 just full; one version past it */
    for (size_t c = 0; c < sizeof lasts / sizeof lasts[0]; c++) {
        static stream_t s;
        make_stream(&s);
        int last = lasts[c];
        bson_t *docs[P + 1];
        size_t n = 0;
        for (int v = 2; v <= last; v++) docs[n++] = ll_rm_event_doc(&s.events[v - 1], &s.after[v - 1], 1);
        LL_REQUIRE(ll_read_model_insert(&rm, rm.events, (const bson_t *const *)docs, n, NULL, NULL, &err) ==
                   0);
        for (size_t i = 0; i < n; i++) bson_destroy(docs[i]);
        LL_REQUIRE(ll_read_model_save_head(&rm, &s.after[0], 0, 0, &err) == 0);
        int64_t last_us;
        bool found = true;
        LL_REQUIRE(ll_read_model_page_time(&rm, &s.events[0].account_id, 0, &last_us, &found, &err) == 0);
        LL_CHECK(!found);
        /* The next writer holds the account at `last`, its page 0 complete and never sealed. */
        ll_rm_account_t held = {.state = s.after[last - 1], .head_version = 1, .head_page = 0};
        LL_REQUIRE(write_range(&s, last, N, &held) >= 0);
        check_times(t, &rm, &s, ll_rm_open_page(N));
    }
}

LL_TEST(test_the_rebuilds_builder_writes_every_sealed_pages_time) {
    ll_error_t err = {""};
    static stream_t s[3];
    ll_rm_builder_t *b = ll_rm_builder_start(cfg.mongo_uri, DB, 2, 2, &err);
    LL_REQUIRE(b != NULL);
    ll_rm_page_buf_t *bufs[3] = {NULL, NULL, NULL};
    for (int k = 0; k < 3; k++) make_stream(&s[k]);
    for (int i = 0; i < N; i++) /* accounts interleaved, as the rebuild reads them */
        for (int k = 0; k < 3; k++)
            LL_REQUIRE(ll_rm_builder_event(b, &bufs[k], &s[k].events[i], &s[k].after[i], &err) == 0);
    for (int k = 0; k < 3; k++) LL_REQUIRE(ll_rm_builder_account(b, &bufs[k], &s[k].after[N - 1], &err) == 0);
    LL_REQUIRE(ll_rm_builder_finish(b, &err) == 0);
    ll_read_model_t g2;
    LL_REQUIRE(ll_read_model_open(&g2, client, DB, 2, &err) == 0);
    for (int k = 0; k < 3; k++) check_times(t, &g2, &s[k], ll_rm_open_page(N));
    ll_read_model_close(&g2);
    LL_CHECK(ll_read_model_drop_generation(&(ll_rm_client_t){.mongo = client, .database = DB}, 2, &err) == 0);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_batches_cut_anywhere_write_every_sealed_pages_time),
        LL_CASE(test_a_page_sealed_later_from_events_gets_its_time),
        LL_CASE(test_the_rebuilds_builder_writes_every_sealed_pages_time),
    };
    mongoc_init();
    ll_test_ctx_t ctx = {"setup", 0}, *t = &ctx;
    if (setup(t) != 0) {
        printf("rm_times: 0 passed, 1 failed\n");
        return 1;
    }
    int rc = ll_test_main(argc, argv, "rm_times", cases, LL_CASES(cases));
    teardown();
    mongoc_cleanup();
    return rc;
}
