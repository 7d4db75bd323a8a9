/* Integration: the read model's documents against the local FerretDB (docs/read-side.md): what
 * the writes plan and execute is what a load reads back, pages seal as they fill, writing the
 * same events again (a crash, a second writer) changes nothing, an account document another
 * writer moved is a conflict and never overwritten, an insert seen half done is read up to its
 * first hole, and statement items come back newest first across open and sealed pages; holds,
 * captures, limits, freezes and payments load back with their figures.
 * Needs `make up`. Uses its own database, dropped at the start. */
#include "../unit/domain_fixture.h"
#include "../unit/rm_depth_fixture.h"
#include "ll_config.h"
#include "ll_rm_store.h" /* the collections, to seed and inspect documents */
#include "ll_read_model_writes.h"
#include "ll_test.h"

#include <mongoc/mongoc.h>
#include <string.h>

extern char **environ;

#define DB "ledgerline_test_read_model"
#define P  LL_READ_MODEL_PAGE_VERSIONS

static mongoc_client_t *client;
static ll_read_model_t rm;
static fx_world_t world;
static uint64_t next_account = 100;

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
    fx_world_init(&world);
    return 0;
}

static void teardown(void) {
    ll_read_model_close(&rm);
    mongoc_client_destroy(client);
}

/* An account's stream: opened, then n-1 deposits of 1..n-1 (every 5th a withdrawal of 1). */
typedef struct {
    ll_account_t state; /* after all events */
    ll_event_t events[200];
    int n;
} stream_t;

static void make_stream(stream_t *s, int n) {
    ll_decision_t d;
    memset(s, 0, sizeof *s);
    ll_uuid_t id = fx_uuid(next_account++);
    ll_account_init(&s->state, &id);
    ll_command_t open = fx_cmd(LL_CMD_OPEN, &id, 0, "EUR");
    if (fx_run(&world, &s->state, &open, &d) != LL_REJECT_NONE) abort();
    s->events[s->n++] = d.events[0];
    for (int i = 1; i < n; i++) {
        ll_command_t c =
            i % 5 == 0 ? fx_cmd(LL_CMD_WITHDRAW, &id, 1, "EUR") : fx_cmd(LL_CMD_DEPOSIT, &id, i, "EUR");
        snprintf(c.reference, sizeof c.reference, "ref \"%d\"", i);
        if (fx_run(&world, &s->state, &c, &d) != LL_REJECT_NONE) abort();
        s->events[s->n++] = d.events[0];
    }
}

static int conflicts;
static void count_conflict(void *ctx, int tag) {
    (void)ctx, (void)tag;
    conflicts++;
}

/* Writes events [from, to) of s on top of *held (what the read model holds); *held moves on. */
static int write_range(const stream_t *s, int from, int to, ll_rm_account_t *held) {
    ll_error_t err = {""};
    ll_rm_writes_t *w = ll_rm_writes_new();
    ll_rm_account_t after;
    int rc = ll_rm_writes_add(w, held, NULL, &s->events[from], (size_t)(to - from), &after, 7, &err);
    if (rc == 0) rc = ll_rm_writes_execute(w, &rm, count_conflict, NULL, &err);
    if (rc != 0) fprintf(stderr, "  write_range: %s\n", err.msg);
    ll_rm_writes_free(w);
    if (rc == 0) *held = after;
    return rc;
}

static void empty_held(ll_rm_account_t *held, const stream_t *s) {
    memset(held, 0, sizeof *held);
    ll_account_init(&held->state, &s->state.account_id);
}

/* The statement as the query API assembles it: unsealed items, then sealed pages downwards. */
typedef struct {
    int64_t versions[256];
    int n;
} seen_t;

static int collect(void *ctx, int64_t version, const char *json, uint32_t len) {
    seen_t *s = ctx;
    (void)json, (void)len;
    s->versions[s->n++] = version;
    return 0;
}

static int statement(const stream_t *s, seen_t *out) {
    ll_rm_account_t acc;
    ll_rm_items_t items = {0};
    bool found;
    ll_error_t err = {""};
    out->n = 0;
    if (ll_read_model_load(&rm, &s->state.account_id, &acc, &found, &items, &err) != 0 || !found) return -1;
    for (int64_t v = acc.state.version; v >= ll_rm_page_first(acc.head_page); v--)
        for (size_t i = 0; i < items.n; i++)
            if (items.versions[i] == v) out->versions[out->n++] = v;
    ll_rm_items_free(&items);
    for (int64_t page = acc.head_page - 1; page >= 0; page--)
        if (ll_read_model_sealed_page(&rm, &s->state.account_id, page, INT64_MAX, collect, out, &found,
                                      &err) != 0 ||
            !found)
            return -1;
    return 0;
}

static void check_loads_as(ll_test_ctx_t *t, const stream_t *s, int64_t version) {
    ll_rm_account_t acc;
    bool found = false;
    ll_error_t err = {""};
    LL_REQUIRE(ll_read_model_load(&rm, &s->state.account_id, &acc, &found, NULL, &err) == 0);
    LL_REQUIRE(found);
    LL_CHECK_EQ_INT(acc.state.version, version);
    if (version == s->state.version) {
        LL_CHECK_EQ_INT(acc.state.balance_minor, s->state.balance_minor);
        LL_CHECK_EQ_STR(acc.state.head_hash, s->state.head_hash);
        LL_CHECK_EQ_INT(acc.state.status, s->state.status);
        LL_CHECK_EQ_STR(acc.state.owner, s->state.owner);
    }
    LL_CHECK_EQ_INT(acc.head_page, acc.head_version ? ll_rm_open_page(acc.head_version) : 0);
}

LL_TEST(test_an_account_written_in_batches_loads_back_with_every_page_sealed) {
    static stream_t s;
    make_stream(&s, 3 * P + 5);
    ll_rm_account_t held;
    empty_held(&held, &s);
    int cuts[] = {0, 1, 4, P - 1, P, P + 3, 2 * P + 10, 3 * P + 5};
    for (size_t i = 0; i + 1 < sizeof cuts / sizeof cuts[0]; i++) {
        LL_REQUIRE(write_range(&s, cuts[i], cuts[i + 1], &held) == 0);
        check_loads_as(t, &s, cuts[i + 1]);
    }
    LL_CHECK_EQ_INT(held.head_page, ll_rm_open_page(s.state.version));
    seen_t seen;
    LL_REQUIRE(statement(&s, &seen) == 0);
    /* every version but AccountOpened (1) moves money, newest first */
    LL_CHECK_EQ_INT(seen.n, s.n - 1);
    for (int i = 0; i < seen.n; i++) LL_CHECK_EQ_INT(seen.versions[i], s.n - i);
    bool stored = false;
    ll_error_t err = {""};
    for (int64_t v = 1; v <= s.state.version; v += 7) {
        LL_REQUIRE(ll_read_model_has_version(&rm, &s.state.account_id, v, &stored, &err) == 0);
        LL_CHECK(stored);
    }
    LL_REQUIRE(ll_read_model_has_version(&rm, &s.state.account_id, s.state.version + 1, &stored, &err) == 0);
    LL_CHECK(!stored);
}

LL_TEST(test_a_backlog_in_one_batch_writes_pages_not_events) {
    static stream_t s;
    make_stream(&s, 2 * P + 3);
    ll_rm_account_t held;
    empty_held(&held, &s);
    ll_rm_writes_t *w = ll_rm_writes_new();
    ll_rm_account_t after;
    ll_error_t err = {""};
    LL_REQUIRE(ll_rm_writes_add(w, &held, NULL, s.events, (size_t)s.n, &after, 0, &err) == 0);
    size_t events, pages, heads;
    ll_rm_writes_counts(w, &events, &pages, &heads);
    LL_CHECK_EQ_INT(pages, 2);
    LL_CHECK_EQ_INT(events, (size_t)(s.state.version - ll_rm_page_first(2) + 1)); /* the open page only */
    LL_CHECK_EQ_INT(heads, 1);
    LL_REQUIRE(ll_rm_writes_execute(w, &rm, count_conflict, NULL, &err) == 0);
    ll_rm_writes_free(w);
    check_loads_as(t, &s, s.state.version);
}

LL_TEST(test_writing_the_same_events_again_changes_nothing) {
    static stream_t s;
    make_stream(&s, P + 10);
    ll_rm_account_t held, stale;
    empty_held(&held, &s);
    LL_REQUIRE(write_range(&s, 0, 20, &held) == 0);
    stale = held;
    LL_REQUIRE(write_range(&s, 20, P + 10, &held) == 0);
    /* A second writer with an older picture writes the same events: the same documents again,
     * and its account document is refused (the stored one moved on). */
    conflicts = 0;
    LL_REQUIRE(write_range(&s, 20, P + 10, &stale) == 0);
    LL_CHECK_EQ_INT(conflicts, 1);
    check_loads_as(t, &s, s.state.version);
    seen_t seen;
    LL_REQUIRE(statement(&s, &seen) == 0);
    LL_CHECK_EQ_INT(seen.n, s.n - 1);
}

LL_TEST(test_an_account_document_moved_by_another_writer_is_a_conflict) {
    static stream_t s;
    make_stream(&s, 2 * P + 4);
    ll_rm_account_t mine, theirs;
    empty_held(&mine, &s);
    LL_REQUIRE(write_range(&s, 0, 5, &mine) == 0);
    theirs = mine;
    LL_REQUIRE(write_range(&s, 5, P + 2, &theirs) == 0); /* seals page 0, moves the document */
    conflicts = 0;
    /* Mine still thinks the document is at version 1: its page-sealing write must not land. */
    ll_rm_account_t behind = mine;
    LL_REQUIRE(write_range(&s, 5, 2 * P + 4, &behind) == 0);
    LL_CHECK_EQ_INT(conflicts, 1);
    ll_rm_account_t acc;
    bool found;
    ll_error_t err = {""};
    LL_REQUIRE(ll_read_model_load(&rm, &s.state.account_id, &acc, &found, NULL, &err) == 0);
    LL_CHECK_EQ_INT(acc.head_version, theirs.head_version); /* never overwritten */
    /* Read again and written again, it lands (the events of page 2 the stale writer stored are
     * written again, the same: reported, harmless). */
    LL_REQUIRE(write_range(&s, (int)acc.state.version, 2 * P + 4, &acc) == 0);
    check_loads_as(t, &s, s.state.version);
    LL_REQUIRE(ll_read_model_load(&rm, &s.state.account_id, &acc, &found, NULL, &err) == 0);
    LL_CHECK_EQ_INT(acc.head_version, ll_rm_head_version(2 * P + 4));
}

LL_TEST(test_a_new_account_created_by_another_writer_is_a_conflict) {
    static stream_t s;
    make_stream(&s, 3);
    ll_rm_account_t a, b;
    empty_held(&a, &s);
    empty_held(&b, &s);
    LL_REQUIRE(write_range(&s, 0, 3, &a) == 0);
    conflicts = 0;
    LL_REQUIRE(write_range(&s, 0, 2, &b) == 0);
    LL_CHECK_EQ_INT(conflicts, 1);
    check_loads_as(t, &s, 3);
}

/* Removes the events_g documents of page `page` of s's account (what a seal would read back). */
static int drop_page_events(const stream_t *s, int64_t page) {
    char tag[LL_RM_KEY_LEN + 1];
    ll_rm_key(&s->state.account_id, page, tag);
    bson_t *filter = BCON_NEW("page", BCON_UTF8(tag));
    bool ok = mongoc_collection_delete_many(rm.events, filter, NULL, NULL, NULL);
    bson_destroy(filter);
    return ok ? 0 : -1;
}

/* A writer that remembers the items of an account's open page seals it from them: with its
 * events gone from events_g, the page still seals with every item; without them it cannot. */
LL_TEST(test_a_page_seals_from_remembered_items_without_reading_them_back) {
    static stream_t s, other;
    make_stream(&s, P + 5);
    make_stream(&other, P + 5);
    ll_rm_account_t held, other_held;
    empty_held(&held, &s);
    empty_held(&other_held, &other);
    LL_REQUIRE(write_range(&s, 0, 20, &held) == 0);
    LL_REQUIRE(write_range(&other, 0, 20, &other_held) == 0);
    ll_rm_page_items_t items = LL_RM_PAGE_ITEMS_NONE;
    LL_REQUIRE(ll_rm_page_items_next(&items, 0, s.events, 20) == 0);
    LL_CHECK_EQ_INT(items.page, 0);
    LL_CHECK_EQ_INT(items.through, 20);
    LL_REQUIRE(drop_page_events(&s, 0) == 0);
    LL_REQUIRE(drop_page_events(&other, 0) == 0);

    ll_error_t err = {""};
    ll_rm_writes_t *w = ll_rm_writes_new();
    ll_rm_account_t after;
    LL_REQUIRE(ll_rm_writes_add(w, &held, &items, &s.events[20], (size_t)(P + 5 - 20), &after, 0, &err) == 0);
    LL_REQUIRE(ll_rm_writes_execute(w, &rm, count_conflict, NULL, &err) == 0);
    ll_rm_writes_free(w);
    ll_rm_page_items_clear(&items);
    check_loads_as(t, &s, s.state.version);
    seen_t seen;
    LL_REQUIRE(statement(&s, &seen) == 0);
    LL_CHECK_EQ_INT(seen.n, s.n - 1); /* every movement, the sealed page's from memory */

    /* Items that do not run through what the writer holds are not used: the seal reads. */
    ll_rm_page_items_t behind = LL_RM_PAGE_ITEMS_NONE;
    LL_REQUIRE(ll_rm_page_items_next(&behind, 0, other.events, 19) == 0);
    w = ll_rm_writes_new();
    LL_REQUIRE(ll_rm_writes_add(w, &other_held, &behind, &other.events[20], (size_t)(P + 5 - 20), &after, 0, &err) == 0);
    conflicts = 0;
    LL_CHECK_EQ_INT(ll_rm_writes_execute(w, &rm, count_conflict, NULL, &err), 0);
    LL_CHECK_EQ_INT(conflicts, 1); /* never sealed without them: read again */
    ll_rm_writes_free(w);
    ll_rm_page_items_clear(&behind);
    bool found = true;
    LL_REQUIRE(ll_read_model_sealed_page(&rm, &other.state.account_id, 0, INT64_MAX, collect, &seen, &found, &err) ==
               0);
    LL_CHECK(!found);
}

/* A writer that took an account to hold more than the read model does (it trusted the event
 * store, or its memory, and a hole was left underneath: a dead-lettered event, documents
 * removed): the write that completes the page finds the hole, seals nothing and leaves the
 * account document where it is; read whole and written from there, the account is whole. */
LL_TEST(test_a_hole_under_a_trusted_state_is_found_by_the_seal_and_healed) {
    static stream_t s;
    make_stream(&s, P + 8);
    ll_rm_account_t held;
    empty_held(&held, &s);
    LL_REQUIRE(write_range(&s, 0, 5, &held) == 0); /* versions 1..5 */
    /* The state at version 12, as the event store tells it; 6..12 never reached the read model. */
    ll_rm_account_t trusted;
    empty_held(&trusted, &s);
    ll_error_t err = {""};
    LL_REQUIRE(ll_account_at(&s.events[0], &s.events[11], &trusted.state, &err) == 0);
    trusted.head_version = ll_rm_head_version(12);
    trusted.head_page = ll_rm_open_page(12);
    conflicts = 0;
    LL_REQUIRE(write_range(&s, 12, 20, &trusted) == 0); /* within page 0: nothing finds the hole yet */
    LL_CHECK_EQ_INT(conflicts, 0);
    check_loads_as(t, &s, 5); /* readers see the account as it was, never past the hole */
    LL_REQUIRE(write_range(&s, 20, P + 3, &trusted) == 0); /* completes page 0 */
    LL_CHECK_EQ_INT(conflicts, 1);
    ll_rm_account_t acc;
    bool found = false;
    LL_REQUIRE(ll_read_model_load(&rm, &s.state.account_id, &acc, &found, NULL, &err) == 0);
    LL_CHECK_EQ_INT(acc.state.version, 5);
    LL_CHECK_EQ_INT(acc.head_version, 1); /* not moved past the unsealed page */
    LL_REQUIRE(ll_read_model_sealed_page(&rm, &s.state.account_id, 0, INT64_MAX, collect, &(seen_t){0}, &found,
                                         &err) == 0);
    LL_CHECK(!found);
    /* Healed: what the read model holds, then every event after it (as the projector does with
     * the store's events). */
    LL_REQUIRE(write_range(&s, 5, P + 8, &acc) == 0);
    check_loads_as(t, &s, s.state.version);
    seen_t seen;
    LL_REQUIRE(statement(&s, &seen) == 0);
    LL_CHECK_EQ_INT(seen.n, s.n - 1);
}

LL_TEST(test_an_insert_seen_half_done_is_read_up_to_its_first_hole) {
    static stream_t s;
    make_stream(&s, 8);
    ll_rm_account_t held;
    empty_held(&held, &s);
    LL_REQUIRE(write_range(&s, 0, 4, &held) == 0); /* versions 1..4 */
    /* versions 5 and 7 stored, 6 not yet */
    ll_account_t st = s.state;
    ll_account_t at5, at7;
    ll_account_init(&at5, &st.account_id);
    ll_error_t err = {""};
    for (int i = 0; i < 5; i++) ll_account_evolve(&at5, &s.events[i], &err);
    at7 = at5;
    ll_account_evolve(&at7, &s.events[5], &err);
    ll_account_evolve(&at7, &s.events[6], &err);
    bson_t *docs[2] = {ll_rm_event_doc(&s.events[4], &at5, 4), ll_rm_event_doc(&s.events[6], &at7, 4)};
    LL_REQUIRE(ll_read_model_insert(&rm, rm.events, (const bson_t *const *)docs, 2, NULL, NULL, &err) == 0);
    bson_destroy(docs[0]);
    bson_destroy(docs[1]);
    check_loads_as(t, &s, 5);
    held.state = at5;
    LL_REQUIRE(write_range(&s, 5, 8, &held) == 0);
    check_loads_as(t, &s, 8);
}

LL_TEST(test_a_missing_account_is_not_found) {
    static stream_t s;
    make_stream(&s, 1);
    ll_rm_account_t acc;
    bool found = true;
    ll_error_t err = {""};
    LL_REQUIRE(ll_read_model_load(&rm, &s.state.account_id, &acc, &found, NULL, &err) == 0);
    LL_CHECK(!found);
    LL_CHECK_EQ_INT(acc.state.version, 0);
}

/* The one-lookup reads a writer starts from: the state at a version from that event's document,
 * or from the account document when that event has none. Whether later events are stored it
 * cannot tell (a writer finds out from a conflict: test_writing_the_same_events_again...). */
LL_TEST(test_a_probe_tells_the_newest_state_or_nothing) {
    static stream_t s;
    make_stream(&s, P + 6);
    ll_rm_account_t held, got;
    empty_held(&held, &s);
    bool found = false;
    ll_error_t err = {""};
    LL_REQUIRE(write_range(&s, 0, 1, &held) == 0); /* AccountOpened: the account document only */
    LL_REQUIRE(ll_read_model_probe(&rm, &s.state.account_id, 1, &got, &found, &err) == 0);
    LL_CHECK(found && got.state.version == 1 && got.head_version == 1);
    LL_REQUIRE(write_range(&s, 1, 9, &held) == 0); /* versions 2..9 in one write */
    LL_REQUIRE(ll_read_model_probe(&rm, &s.state.account_id, 9, &got, &found, &err) == 0);
    LL_REQUIRE(found);
    LL_CHECK_EQ_INT(got.state.version, 9);
    LL_CHECK_EQ_STR(got.state.owner, s.state.owner);
    LL_CHECK_EQ_STR(got.state.head_hash, s.events[8].hash);
    LL_CHECK_EQ_INT(got.head_version, held.head_version);
    LL_REQUIRE(ll_read_model_probe(&rm, &s.state.account_id, 7, &got, &found, &err) == 0);
    LL_CHECK(found && got.state.version == 7 &&
             got.state.balance_minor == s.events[6].after.balance_minor);
    LL_REQUIRE(write_range(&s, 9, P - 1, &held) == 0); /* up to version P-1: page 0 seals, no event doc */
    LL_REQUIRE(ll_read_model_probe(&rm, &s.state.account_id, P - 1, &got, &found, &err) == 0);
    LL_CHECK(found && got.state.version == P - 1 && got.head_page == 1);
    LL_REQUIRE(ll_read_model_probe(&rm, &s.state.account_id, P + 3, &got, &found, &err) == 0);
    LL_CHECK(!found); /* not stored */
}

/* Writes events [from, to) of an event array on top of *held. */
static int write_events(const ll_event_t *events, int from, int to, ll_rm_account_t *held) {
    ll_error_t err = {""};
    ll_rm_writes_t *w = ll_rm_writes_new();
    ll_rm_account_t after;
    int rc = ll_rm_writes_add(w, held, NULL, &events[from], (size_t)(to - from), &after, 7, &err);
    if (rc == 0) rc = ll_rm_writes_execute(w, &rm, count_conflict, NULL, &err);
    if (rc != 0) fprintf(stderr, "  write_events: %s\n", err.msg);
    ll_rm_writes_free(w);
    if (rc == 0) *held = after;
    return rc;
}

/* Items of an account newest first, as the query API assembles them; each item's JSON kept. */
typedef struct {
    int64_t versions[256];
    char *json[256];
    int n;
} items_seen_t;

static int collect_item(void *ctx, int64_t version, const char *json, uint32_t len) {
    items_seen_t *s = ctx;
    if (s->n == 256) return 1;
    s->versions[s->n] = version;
    s->json[s->n++] = strndup(json, len);
    return 0;
}

static int statement_items(const ll_uuid_t *id, items_seen_t *out) {
    ll_rm_account_t acc;
    ll_rm_items_t items = {0};
    bool found;
    ll_error_t err = {""};
    out->n = 0;
    if (ll_read_model_load(&rm, id, &acc, &found, &items, &err) != 0 || !found) return -1;
    for (int64_t v = acc.state.version; v >= ll_rm_page_first(acc.head_page); v--)
        for (size_t i = 0; i < items.n; i++)
            if (items.versions[i] == v) collect_item(out, v, items.json[i], (uint32_t)strlen(items.json[i]));
    ll_rm_items_free(&items);
    for (int64_t page = acc.head_page - 1; page >= 0; page--)
        if (ll_read_model_sealed_page(&rm, id, page, INT64_MAX, collect_item, out, &found, &err) != 0 ||
            !found)
            return -1;
    return 0;
}

static void items_seen_free(items_seen_t *s) {
    for (int i = 0; i < s->n; i++) free(s->json[i]);
    s->n = 0;
}

/* An account with holds placed, captured (to another account and not), released and expired, a
 * credit limit used, a payment's legs and a freeze, written in batches that cut anywhere
 * (page 0 seals while a hold is open, the limit used and the account frozen): after each, what
 * loads and what a probe tells is evolve's state to the byte, and the statement has exactly the
 * balance's movements, the captures among them with their hold. */
LL_TEST(test_holds_limits_freezes_and_payments_load_back_with_their_figures) {
    static dx_stream_t s;
    LL_REQUIRE(dx_depth_stream(&world, &s, next_account, next_account + 1, P) == 0);
    next_account += 2;
    static ll_account_t states[DX_EVENTS_MAX + 1]; /* states[v]: A once version v applied */
    ll_account_init(&states[0], &s.a.account_id);
    ll_error_t err = {""};
    for (int i = 0; i < s.n_a; i++) {
        states[i + 1] = states[i];
        LL_REQUIRE(ll_account_evolve(&states[i + 1], &s.ev_a[i], &err) == LL_EVOLVE_OK);
    }
    ll_rm_account_t held;
    memset(&held, 0, sizeof held);
    ll_account_init(&held.state, &s.a.account_id);
    int cuts[] = {0, 1, 3, 5, 7, 12, 13, 14, 15, 16, P - 1, P + 1, s.n_a};
    for (size_t i = 0; i + 1 < sizeof cuts / sizeof cuts[0]; i++) {
        LL_REQUIRE(write_events(s.ev_a, cuts[i], cuts[i + 1], &held) == 0);
        const ll_account_t *want = &states[cuts[i + 1]];
        LL_CHECK(memcmp(&held.state, want, sizeof *want) == 0);
        ll_rm_account_t acc;
        bool found = false;
        LL_REQUIRE(ll_read_model_load(&rm, &s.a.account_id, &acc, &found, NULL, &err) == 0 && found);
        LL_CHECK(memcmp(&acc.state, want, sizeof *want) == 0);
        if (memcmp(&acc.state, want, sizeof *want) != 0)
            fprintf(stderr,
                    "  at %d: loaded v%lld balance %lld held %lld limit %lld frozen %d; want v%lld %lld %lld "
                    "%lld %d\n",
                    cuts[i + 1], (long long)acc.state.version, (long long)acc.state.balance_minor,
                    (long long)acc.state.held_minor, (long long)acc.state.overdraft_limit_minor,
                    acc.state.frozen, (long long)want->version, (long long)want->balance_minor,
                    (long long)want->held_minor, (long long)want->overdraft_limit_minor, want->frozen);
        LL_REQUIRE(ll_read_model_probe(&rm, &s.a.account_id, want->version, &acc, &found, &err) == 0);
        LL_CHECK(found && memcmp(&acc.state, want, sizeof *want) == 0);
    }
    /* The account document moved with page 0's seal: frozen, a hold open, the limit in use. */
    LL_CHECK_EQ_INT(held.head_version, P - 1);
    LL_CHECK(states[P - 1].frozen && states[P - 1].held_minor == 20 &&
             states[P - 1].overdraft_limit_minor == 1000);
    LL_CHECK(states[P - 1].balance_minor < 0);
    ll_rm_account_t b_held;
    memset(&b_held, 0, sizeof b_held);
    ll_account_init(&b_held.state, &s.b.account_id);
    LL_REQUIRE(write_events(s.ev_b, 0, s.n_b, &b_held) == 0);
    LL_CHECK(memcmp(&b_held.state, &s.b, sizeof s.b) == 0);

    items_seen_t seen = {0};
    LL_REQUIRE(statement_items(&s.a.account_id, &seen) == 0);
    int64_t want_versions[DX_EVENTS_MAX];
    int n_want = 0;
    for (int i = s.n_a - 1; i >= 0; i--)
        if (s.ev_a[i].after.balance_minor != states[i].balance_minor)
            want_versions[n_want++] = s.ev_a[i].version;
    LL_CHECK_EQ_INT(seen.n, n_want);
    LL_CHECK_EQ_INT(n_want, P + 6); /* the deposits after the freeze, 2, 5, 8, 10, 11, 12 */
    int captures = 0;
    for (int i = 0; i < seen.n && i < n_want; i++) {
        LL_CHECK_EQ_INT(seen.versions[i], want_versions[i]);
        if (strstr(seen.json[i], "\"type\":\"HoldCaptured\"") != NULL) {
            captures++;
            LL_CHECK_CONTAINS(seen.json[i], "\"hold_id\":");
            LL_CHECK_CONTAINS(seen.json[i], "\"released_minor\":");
        }
    }
    LL_CHECK_EQ_INT(captures, 2);
    items_seen_free(&seen);
    LL_REQUIRE(statement_items(&s.b.account_id, &seen) == 0);
    LL_CHECK_EQ_INT(seen.n, 3);
    char transfer[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&s.capture_transfer_id, transfer);
    LL_CHECK(seen.n == 3 && strstr(seen.json[2], transfer) != NULL); /* the capture's leg, oldest */
    items_seen_free(&seen);
}

/* The projector takes an account it does not remember on the event store's word: the state
 * from AccountOpened and the newest event alone (ll_account_at). Whatever that newest event is
 * (a hold placed, a limit set, a freeze, an expiry), the documents written on top of that state
 * load back as evolve's. */
LL_TEST(test_a_state_taken_from_the_newest_event_alone_writes_the_right_figures) {
    static dx_stream_t s;
    LL_REQUIRE(dx_depth_stream(&world, &s, next_account, next_account + 1, 4) == 0);
    next_account += 2;
    ll_error_t err = {""};
    ll_rm_account_t held;
    memset(&held, 0, sizeof held);
    ll_account_init(&held.state, &s.a.account_id);
    LL_REQUIRE(write_events(s.ev_a, 0, 2, &held) == 0);
    /* From here on, each step starts from the store's word for the event before it. */
    ll_account_t folded = held.state;
    for (int k = 2; k < s.n_a; k++) {
        ll_rm_account_t trusted;
        memset(&trusted, 0, sizeof trusted);
        LL_REQUIRE(ll_account_at(&s.ev_a[0], &s.ev_a[k - 1], &trusted.state, &err) == 0);
        LL_CHECK(memcmp(&trusted.state, &folded, sizeof folded) == 0);
        trusted.head_version = held.head_version, trusted.head_page = held.head_page;
        LL_REQUIRE(write_events(s.ev_a, k, k + 1, &trusted) == 0);
        LL_REQUIRE(ll_account_evolve(&folded, &s.ev_a[k], &err) == LL_EVOLVE_OK);
        ll_rm_account_t acc;
        bool found = false;
        LL_REQUIRE(ll_read_model_load(&rm, &s.a.account_id, &acc, &found, NULL, &err) == 0 && found);
        LL_CHECK(memcmp(&acc.state, &folded, sizeof folded) == 0);
        held = acc;
    }
    LL_CHECK(folded.frozen && folded.held_minor == 20 && folded.overdraft_limit_minor == 1000);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_an_account_written_in_batches_loads_back_with_every_page_sealed),
        LL_CASE(test_a_backlog_in_one_batch_writes_pages_not_events),
        LL_CASE(test_writing_the_same_events_again_changes_nothing),
        LL_CASE(test_an_account_document_moved_by_another_writer_is_a_conflict),
        LL_CASE(test_a_new_account_created_by_another_writer_is_a_conflict),
        LL_CASE(test_a_page_seals_from_remembered_items_without_reading_them_back),
        LL_CASE(test_a_hole_under_a_trusted_state_is_found_by_the_seal_and_healed),
        LL_CASE(test_an_insert_seen_half_done_is_read_up_to_its_first_hole),
        LL_CASE(test_a_missing_account_is_not_found),
        LL_CASE(test_a_probe_tells_the_newest_state_or_nothing),
        LL_CASE(test_holds_limits_freezes_and_payments_load_back_with_their_figures),
        LL_CASE(test_a_state_taken_from_the_newest_event_alone_writes_the_right_figures),
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
