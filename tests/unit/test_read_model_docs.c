/* Unit tests of readmodel/ll_read_model_docs: the read-model documents built from events and
 * read back (no I/O). */
#include "domain_fixture.h"
#include "rm_depth_fixture.h"
#include "ll_read_model_docs.h"
#include "ll_test.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P LL_READ_MODEL_PAGE_VERSIONS

LL_TEST(test_keys_round_trip_and_refuse_what_is_not_ours) {
    ll_uuid_t id = fx_uuid(7), got;
    char key[LL_RM_KEY_LEN + 1];
    int64_t n = -1;
    ll_rm_key(&id, 123456789012LL, key);
    LL_CHECK_EQ_STR(key, "00000000-0000-4000-8000-000000000007:123456789012");
    LL_REQUIRE(ll_rm_key_parse(key, &got, &n) == 0);
    LL_CHECK(ll_uuid_equal(&got, &id));
    LL_CHECK_EQ_INT(n, 123456789012LL);
    const char *bad[] = {"",
                         "00000000-0000-4000-8000-000000000007",
                         "00000000-0000-4000-8000-000000000007:",
                         "00000000-0000-4000-8000-000000000007:1x",
                         "00000000-0000-4000-8000-000000000007:-1",
                         "00000000-0000-4000-8000-000000000007:99999999999999999999",
                         "x:1",
                         "00000000-0000-4000-8000-00000000000Z:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) LL_CHECK(ll_rm_key_parse(bad[i], &got, &n) != 0);
}

LL_TEST(test_pages_are_fixed_ranges_of_versions) {
    LL_CHECK_EQ_INT(ll_rm_page_of(0), 0);
    LL_CHECK_EQ_INT(ll_rm_page_of(P - 1), 0);
    LL_CHECK_EQ_INT(ll_rm_page_of(P), 1);
    LL_CHECK_EQ_INT(ll_rm_page_first(3), 3 * P);
    LL_CHECK_EQ_INT(ll_rm_open_page(1), 0);
    LL_CHECK_EQ_INT(ll_rm_open_page(P - 2), 0);
    LL_CHECK_EQ_INT(ll_rm_open_page(P - 1), 1); /* the page's last version is in: it seals */
}

/* Every event type, awkward text included: the item is the API's Transaction, in its order. */
LL_TEST(test_items_are_the_api_transaction_for_movements_only) {
    ll_event_t ev[8];
    size_t n = fx_all_types(ev);
    char json[LL_RM_ITEM_JSON_MAX];
    int movements = 0;
    for (size_t i = 0; i < n; i++) {
        int len = ll_rm_item_json(&ev[i], json, sizeof json);
        if (!ll_event_is_movement(ev[i].type)) {
            LL_CHECK_EQ_INT(len, -1);
            continue;
        }
        movements++;
        LL_REQUIRE(len > 0 && (size_t)len == strlen(json));
        json_error_t e;
        json_t *o = json_loads(json, 0, &e);
        LL_REQUIRE(o != NULL);
        const ll_data_movement_t *m = &ev[i].data.movement;
        LL_CHECK_EQ_INT(json_integer_value(json_object_get(o, "version")), ev[i].version);
        LL_CHECK_EQ_INT(json_integer_value(json_object_get(o, "amount_minor")), m->amount_minor);
        LL_CHECK_EQ_INT(json_integer_value(json_object_get(o, "balance_after_minor")),
                        ev[i].after.balance_minor);
        LL_CHECK_EQ_STR(json_string_value(json_object_get(o, "reference")), m->reference);
        LL_CHECK_EQ_STR(json_string_value(json_object_get(o, "type")), ll_event_type_name(ev[i].type));
        int transfer = !ll_uuid_is_nil(&m->transfer_id);
        LL_CHECK_EQ_INT(json_object_size(o), transfer ? 11 : 9);
        LL_CHECK_EQ_INT(json_object_get(o, "counterparty_account_id") != NULL, transfer);
        LL_CHECK(strncmp(json, "{\"event_id\":\"", 13) == 0); /* the order the API always gave */
        json_decref(o);
    }
    LL_CHECK_EQ_INT(movements, 4);
    char tiny[16];
    LL_CHECK_EQ_INT(ll_rm_item_json(&ev[2], tiny, sizeof tiny), -1); /* too small: refused, not cut */
}

LL_TEST(test_an_account_document_round_trips_and_checks_its_page) {
    ll_event_t ev[8];
    fx_all_types(ev);
    ll_account_t a;
    ll_account_init(&a, &ev[0].account_id);
    ll_error_t err = {""};
    for (int i = 0; i < 7; i++)
        if (ll_uuid_equal(&ev[i].account_id, &a.account_id))
            LL_REQUIRE(ll_account_evolve(&a, &ev[i], &err) == 0);
    bson_t *doc = ll_rm_head_doc(&a, ll_rm_open_page(a.version));
    ll_rm_account_t back;
    LL_REQUIRE(ll_rm_head_parse(doc, &back) == 0);
    LL_CHECK(memcmp(&back.state, &a, sizeof a) == 0);
    LL_CHECK_EQ_INT(back.head_version, a.version);
    LL_CHECK_EQ_INT(back.head_page, ll_rm_open_page(a.version));
    bson_destroy(doc);
    doc = ll_rm_head_doc(&a, ll_rm_open_page(a.version) + 1); /* a page that does not follow */
    LL_CHECK(ll_rm_head_parse(doc, &back) != 0);
    bson_destroy(doc);
    bson_t *foreign = BCON_NEW("_id", BCON_UTF8("active"), "generation", BCON_INT64(1));
    LL_CHECK(ll_rm_head_parse(foreign, &back) != 0);
    bson_destroy(foreign);
}

LL_TEST(test_event_documents_carry_the_state_after_and_the_item) {
    ll_event_t ev[8];
    fx_all_types(ev);
    ll_account_t a, replay;
    ll_account_init(&a, &ev[0].account_id);
    ll_error_t err = {""};
    for (int i = 0; i < 7; i++) {
        if (!ll_uuid_equal(&ev[i].account_id, &a.account_id)) continue;
        LL_REQUIRE(ll_account_evolve(&a, &ev[i], &err) == 0);
        if (ev[i].version < 2) {
            replay = a;
            continue;
        }
        bson_t *doc = ll_rm_event_doc(&ev[i], &a, 1);
        ll_rm_event_t e;
        LL_REQUIRE(ll_rm_event_parse(doc, &e) == 0);
        LL_CHECK_EQ_INT(e.version, ev[i].version);
        LL_CHECK_EQ_INT(e.head_version, 1);
        LL_CHECK_EQ_INT(e.item != NULL, ll_event_is_movement(ev[i].type));
        ll_rm_event_apply(&replay, &e);
        LL_CHECK(memcmp(&replay, &a, sizeof a) == 0); /* the read side's state is evolve's */
        /* The newest event's document alone tells all: state, lasting fields, account document. */
        ll_rm_account_t probed;
        LL_REQUIRE(ll_rm_event_account(&a.account_id, &e, &probed) == 0);
        LL_CHECK(memcmp(&probed.state, &a, sizeof a) == 0);
        LL_CHECK_EQ_INT(probed.head_version, 1);
        LL_CHECK_EQ_INT(probed.head_page, 0);
        /* From the state and a rendered item (the rebuild's way), the same document. */
        char item[LL_RM_ITEM_JSON_MAX];
        bson_t *same =
            ll_rm_event_doc_of(&a, ll_rm_item_json(&ev[i], item, sizeof item) > 0 ? item : NULL, 1);
        LL_CHECK(bson_equal(same, doc));
        bson_destroy(same);
        bson_destroy(doc);
    }
    LL_CHECK_EQ_INT(replay.status, LL_ACCOUNT_CLOSED);
}

static int collect(void *ctx, int64_t version, const char *json, uint32_t len) {
    int64_t *seen = ctx;
    (void)json, (void)len;
    seen[++seen[0]] = version;
    return seen[0] == 3; /* stop after three */
}

LL_TEST(test_a_page_gives_its_items_newest_first_below_a_bound) {
    ll_uuid_t id = fx_uuid(9);
    const char *items[P] = {0};
    items[2] = "{\"v\":66}", items[5] = "{\"v\":69}", items[6] = "{\"v\":70}", items[9] = "{\"v\":73}";
    bson_t *doc = ll_rm_page_doc(&id, 2, items); /* versions 64..95 */
    int64_t seen[8] = {0};
    LL_REQUIRE(ll_rm_page_items(doc, 2, INT64_MAX, collect, seen) == 0);
    LL_CHECK_EQ_INT(seen[0], 3); /* stopped by the callback */
    LL_CHECK_EQ_INT(seen[1], 73);
    LL_CHECK_EQ_INT(seen[3], 69);
    memset(seen, 0, sizeof seen);
    LL_REQUIRE(ll_rm_page_items(doc, 2, 70, collect, seen) == 0);
    LL_CHECK_EQ_INT(seen[0], 2);
    LL_CHECK_EQ_INT(seen[1], 69);
    LL_CHECK_EQ_INT(seen[2], 66);
    bson_destroy(doc);
    bson_t *short_page = BCON_NEW("_id", BCON_UTF8("x"), "items", "[", BCON_UTF8(""), "]");
    LL_CHECK(ll_rm_page_items(short_page, 0, INT64_MAX, collect, seen) != 0);
    bson_destroy(short_page);
}

/* A stream of n events: opened, then deposits of 1..n-1. */
static void deposits(ll_event_t *out, int n) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a;
    ll_decision_t d;
    ll_uuid_t id = fx_uuid(42);
    ll_account_init(&a, &id);
    ll_command_t open = fx_cmd(LL_CMD_OPEN, &id, 0, "EUR");
    if (fx_run(&w, &a, &open, &d) != LL_REJECT_NONE) abort();
    out[0] = d.events[0];
    for (int i = 1; i < n; i++) {
        ll_command_t c = fx_cmd(LL_CMD_DEPOSIT, &id, i, "EUR");
        if (fx_run(&w, &a, &c, &d) != LL_REJECT_NONE) abort();
        out[i] = d.events[0];
    }
}

static int note_version(void *ctx, int64_t version, const char *json, size_t len) {
    int64_t *seen = ctx;
    char want[32], item[LL_RM_ITEM_JSON_MAX];
    snprintf(want, sizeof want, "\"version\":%lld", (long long)version);
    if (len == 0 || len >= sizeof item) return -1;
    memcpy(item, json, len); /* json is not terminated */
    item[len] = '\0';
    if (strstr(item, want) == NULL || item[len - 1] != '}') return -1; /* its own item */
    seen[++seen[0]] = version;
    return 0;
}

/* What a writer remembers of the open page follows it batch by batch, starts afresh when a
 * batch begins a page (or all before it is AccountOpened), and is dropped when it does not
 * run through where the batch starts. */
LL_TEST(test_remembered_page_items_follow_the_open_page) {
    static ll_event_t ev[2 * P + 5];
    deposits(ev, 2 * P + 5);
    ll_rm_page_items_t items = LL_RM_PAGE_ITEMS_NONE;
    int64_t seen[2 * P] = {0};
    LL_REQUIRE(ll_rm_page_items_next(&items, 0, ev, 10) == 0); /* versions 1..10 */
    LL_CHECK_EQ_INT(items.page, 0);
    LL_CHECK_EQ_INT(items.through, 10);
    LL_REQUIRE(ll_rm_page_items_next(&items, 10, &ev[10], 10) == 0);
    LL_CHECK_EQ_INT(items.through, 20);
    LL_REQUIRE(ll_rm_page_items_each(&items, note_version, seen) == 0);
    LL_CHECK_EQ_INT(seen[0], 19); /* 2..20: AccountOpened moves no money */
    LL_CHECK_EQ_INT(seen[1], 2);
    LL_CHECK_EQ_INT(seen[19], 20);
    LL_REQUIRE(ll_rm_page_items_next(&items, 20, &ev[20], P + 3 - 20) == 0); /* into page 1 */
    LL_CHECK_EQ_INT(items.page, 1);
    LL_CHECK_EQ_INT(items.through, P + 3);
    memset(seen, 0, sizeof seen);
    LL_REQUIRE(ll_rm_page_items_each(&items, note_version, seen) == 0);
    LL_CHECK_EQ_INT(seen[0], 4);
    LL_CHECK_EQ_INT(seen[1], P);
    /* Not through where the batch starts: dropped. */
    LL_CHECK(ll_rm_page_items_next(&items, P + 4, &ev[P + 4], 2) != 0);
    LL_CHECK_EQ_INT(items.page, -1);
    LL_CHECK(items.packed == NULL);
    /* Nothing remembered, the page begun before the batch: unknown. */
    LL_CHECK(ll_rm_page_items_next(&items, P + 2, &ev[P + 2], 3) != 0);
    /* ... unless all before it is AccountOpened. */
    LL_REQUIRE(ll_rm_page_items_next(&items, 1, &ev[1], 4) == 0);
    LL_CHECK_EQ_INT(items.through, 5);
    memset(seen, 0, sizeof seen);
    LL_REQUIRE(ll_rm_page_items_each(&items, note_version, seen) == 0);
    LL_CHECK_EQ_INT(seen[0], 4);
    LL_CHECK_EQ_INT(seen[1], 2);
    /* A batch that ends a page exactly: the next page is open and known empty. */
    ll_rm_page_items_clear(&items);
    LL_REQUIRE(ll_rm_page_items_next(&items, 0, ev, P - 1) == 0); /* versions 1..31 */
    LL_CHECK_EQ_INT(items.page, 1);
    LL_CHECK_EQ_INT(items.through, P - 1);
    LL_CHECK_EQ_INT(items.len, 0);
    LL_REQUIRE(ll_rm_page_items_next(&items, P - 1, &ev[P - 1], 2) == 0);
    LL_CHECK_EQ_INT(items.through, P + 1);
    /* Events that skip a version are never remembered as the page. */
    LL_CHECK(ll_rm_page_items_next(&items, P + 1, &ev[P + 2], 2) != 0);
    LL_CHECK_EQ_INT(items.page, -1);
    ll_rm_page_items_clear(&items);
}

/* ---- holds, limits, freezes, payments (#33) ------------------------------------------------ */

static json_t *item_of(const ll_event_t *ev) {
    char json[LL_RM_ITEM_JSON_MAX];
    int len = ll_rm_item_json(ev, json, sizeof json);
    return len > 0 ? json_loads(json, 0, NULL) : NULL;
}

static int uuid_field_is(json_t *o, const char *key, const ll_uuid_t *want) {
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(want, text);
    const char *got = json_string_value(json_object_get(o, key));
    return got != NULL && strcmp(got, text) == 0;
}

/* A capture is a statement line with its hold (and its transfer when it went to an account);
 * payment legs name their payment; placing, releasing, expiring a hold, limits and freezes are
 * no lines. */
LL_TEST(test_items_of_captures_and_payment_legs_carry_their_links) {
    static dx_stream_t s;
    fx_world_t w;
    fx_world_init(&w);
    LL_REQUIRE(dx_depth_stream(&w, &s, 1, 2, 0) == 0);
    static const int lines[] = {2, 5, 8, 10, 11, 12}; /* A's versions that move its balance */
    int line = 0;
    for (int i = 0; i < s.n_a; i++) {
        const ll_event_t *ev = &s.ev_a[i];
        json_t *o = item_of(ev);
        int want = line < 6 && lines[line] == ev->version;
        LL_CHECK_EQ_INT(o != NULL, want);
        line += want;
        if (o == NULL) continue;
        LL_CHECK_EQ_INT(json_integer_value(json_object_get(o, "balance_after_minor")),
                        ev->after.balance_minor);
        LL_CHECK_EQ_STR(json_string_value(json_object_get(o, "type")), ll_event_type_name(ev->type));
        json_decref(o);
    }
    LL_CHECK_EQ_INT(line, 6);
    /* v5: 200 of h1's 300 to B: a line of 200 with the hold, the 100 released and the transfer. */
    json_t *o = item_of(&s.ev_a[4]);
    LL_REQUIRE(o != NULL);
    LL_CHECK_EQ_STR(json_string_value(json_object_get(o, "type")), "HoldCaptured");
    LL_CHECK_EQ_INT(json_integer_value(json_object_get(o, "amount_minor")), 200);
    LL_CHECK_EQ_INT(json_integer_value(json_object_get(o, "released_minor")), 100);
    LL_CHECK_EQ_STR(json_string_value(json_object_get(o, "reference")), "card auth \"1\"");
    LL_CHECK(uuid_field_is(o, "hold_id", &s.ev_a[2].data.movement.hold_id));
    LL_CHECK(uuid_field_is(o, "transfer_id", &s.capture_transfer_id));
    LL_CHECK(uuid_field_is(o, "counterparty_account_id", &s.b.account_id));
    LL_CHECK(json_object_get(o, "payment_id") == NULL);
    LL_CHECK_EQ_INT(json_object_size(o), 13);
    json_decref(o);
    /* ... and B's leg of it: a plain TransferReceived naming A. */
    o = item_of(&s.ev_b[1]);
    LL_REQUIRE(o != NULL);
    LL_CHECK(uuid_field_is(o, "transfer_id", &s.capture_transfer_id));
    LL_CHECK(uuid_field_is(o, "counterparty_account_id", &s.a.account_id));
    LL_CHECK(json_object_get(o, "hold_id") == NULL);
    LL_CHECK_EQ_INT(json_object_size(o), 11);
    json_decref(o);
    /* v10: h4 captured whole, to no account: a withdrawal-like line, nothing released. */
    o = item_of(&s.ev_a[9]);
    LL_REQUIRE(o != NULL);
    LL_CHECK_EQ_INT(json_integer_value(json_object_get(o, "amount_minor")), 50);
    LL_CHECK_EQ_INT(json_integer_value(json_object_get(o, "released_minor")), 0);
    LL_CHECK(json_object_get(o, "transfer_id") == NULL &&
             json_object_get(o, "counterparty_account_id") == NULL);
    LL_CHECK_EQ_INT(json_object_size(o), 11);
    json_decref(o);
    /* Payment legs: the transfer's fields and the payment's id, on both sides. */
    const ll_event_t *legs[] = {&s.ev_a[10], &s.ev_a[11], &s.ev_b[2], &s.ev_b[3]};
    for (int i = 0; i < 4; i++) {
        o = item_of(legs[i]);
        LL_REQUIRE(o != NULL);
        LL_CHECK(uuid_field_is(o, "payment_id", &s.payment_id));
        LL_CHECK(uuid_field_is(o, "transfer_id", &legs[i]->data.movement.transfer_id));
        LL_CHECK_EQ_INT(json_object_size(o), 12);
        json_decref(o);
    }
}

/* The longest item there can be still fits: a capture to an account with every optional field
 * and a reference of 140 bytes that all escape to six (what a decoded event may carry). */
LL_TEST(test_the_longest_item_fits) {
    ll_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.event_id = fx_uuid(UINT64_MAX >> 16), ev.account_id = fx_uuid(2);
    ev.version = INT64_MAX;
    ev.type = LL_EVENT_HOLD_CAPTURED;
    ev.occurred_at_us = 253402300799999999LL; /* 9999-12-31T23:59:59.999999Z */
    ll_data_movement_t *m = &ev.data.movement;
    m->amount_minor = LL_AMOUNT_MINOR_MAX;
    m->released_minor = INT64_MAX;
    snprintf(m->currency.code, sizeof m->currency.code, "EUR");
    memset(m->reference, 0x01, LL_REFERENCE_BYTES_MAX);
    m->reference[LL_REFERENCE_BYTES_MAX] = '\0';
    m->transfer_id = fx_uuid(3), m->counterparty_id = fx_uuid(4), m->payment_id = fx_uuid(5),
    m->hold_id = fx_uuid(6);
    ev.after.balance_minor = INT64_MIN;
    char json[LL_RM_ITEM_JSON_MAX];
    int len = ll_rm_item_json(&ev, json, sizeof json);
    LL_CHECK(len > 1200); /* it is long */
    LL_REQUIRE(len > 0);
    json_t *o = json_loads(json, 0, NULL);
    LL_REQUIRE(o != NULL);
    LL_CHECK_EQ_INT(strlen(json_string_value(json_object_get(o, "reference"))), LL_REFERENCE_BYTES_MAX);
    LL_CHECK_EQ_INT(json_object_size(o), 14);
    json_decref(o);
}

/* At every version of a stream with holds, a limit and a freeze, the documents carry the
 * figures and read back as evolve's state: the account document, an event's document applied
 * onto the state before it, and the newest event's document alone. */
LL_TEST(test_documents_carry_held_limit_and_frozen_at_every_version) {
    static dx_stream_t s;
    fx_world_t w;
    fx_world_init(&w);
    LL_REQUIRE(dx_depth_stream(&w, &s, 1, 2, 3) == 0);
    ll_account_t a, replay;
    ll_account_init(&a, &s.a.account_id);
    ll_error_t err = {""};
    int saw_held = 0, saw_limit = 0, saw_frozen = 0;
    for (int i = 0; i < s.n_a; i++) {
        LL_REQUIRE(ll_account_evolve(&a, &s.ev_a[i], &err) == LL_EVOLVE_OK);
        saw_held |= a.held_minor != 0, saw_limit |= a.overdraft_limit_minor != 0, saw_frozen |= a.frozen;
        bson_t *head = ll_rm_head_doc(&a, ll_rm_open_page(a.version));
        ll_rm_account_t back;
        LL_REQUIRE(ll_rm_head_parse(head, &back) == 0);
        LL_CHECK(memcmp(&back.state, &a, sizeof a) == 0);
        bson_destroy(head);
        if (a.version < 2) {
            replay = a;
            continue;
        }
        bson_t *doc = ll_rm_event_doc(&s.ev_a[i], &a, 1);
        ll_rm_event_t e;
        LL_REQUIRE(ll_rm_event_parse(doc, &e) == 0);
        LL_CHECK_EQ_INT(e.held_minor, a.held_minor);
        LL_CHECK_EQ_INT(e.overdraft_limit_minor, a.overdraft_limit_minor);
        LL_CHECK_EQ_INT(e.frozen, a.frozen);
        ll_rm_event_apply(&replay, &e);
        LL_CHECK(memcmp(&replay, &a, sizeof a) == 0);
        ll_rm_account_t probed;
        LL_REQUIRE(ll_rm_event_account(&a.account_id, &e, &probed) == 0);
        LL_CHECK(memcmp(&probed.state, &a, sizeof a) == 0);
        /* A figure at 0 / false is not written: an account without them keeps older documents. */
        bson_iter_t it;
        LL_CHECK_EQ_INT(bson_iter_init_find(&it, doc, "held_minor"), a.held_minor != 0);
        LL_CHECK_EQ_INT(bson_iter_init_find(&it, doc, "frozen"), a.frozen);
        bson_destroy(doc);
    }
    LL_CHECK(saw_held && saw_limit && saw_frozen);
    LL_CHECK_EQ_INT(a.balance_minor, -555 + 3);
    LL_CHECK_EQ_INT(a.held_minor, 20);
    LL_CHECK_EQ_INT(a.overdraft_limit_minor, 1000);
    LL_CHECK(a.frozen);
}

/* Documents written by a build before holds (no held_minor, frozen; the limit only in the
 * `account` text of an event) read as an account without holds, limit or freeze. */
LL_TEST(test_documents_of_an_older_build_read_as_no_holds_limit_or_freeze) {
    bson_t *head =
        BCON_NEW("_id", BCON_UTF8("00000000-0000-4000-8000-000000000009"), "owner", BCON_UTF8("o"),
                 "currency", BCON_UTF8("EUR"), "status", BCON_UTF8("open"), "balance_minor", BCON_INT64(70),
                 "version", BCON_INT64(31), "overdraft_limit_minor", BCON_INT64(0), "opened_at",
                 BCON_UTF8("x"), "updated_at", BCON_UTF8("x"), "opened_at_us", BCON_INT64(1), "updated_at_us",
                 BCON_INT64(2), "head_hash", BCON_UTF8(LL_HASH_ZERO), "page", BCON_INT64(1));
    ll_rm_account_t back;
    memset(&back, 0x5a, sizeof back);
    LL_REQUIRE(ll_rm_head_parse(head, &back) == 0);
    LL_CHECK_EQ_INT(back.state.balance_minor, 70);
    LL_CHECK_EQ_INT(back.state.held_minor, 0);
    LL_CHECK_EQ_INT(back.state.overdraft_limit_minor, 0);
    LL_CHECK(!back.state.frozen);
    bson_destroy(head);
    bson_t *ev = BCON_NEW("_id", BCON_UTF8("00000000-0000-4000-8000-000000000009:32"), "page",
                          BCON_UTF8("00000000-0000-4000-8000-000000000009:1"), "version", BCON_INT64(32),
                          "balance_minor", BCON_INT64(71), "status", BCON_UTF8("open"), "updated_at_us",
                          BCON_INT64(3), "hash", BCON_UTF8(LL_HASH_ZERO), "head", BCON_INT64(31), "account",
                          BCON_UTF8("{\"owner\":\"o\",\"currency\":\"EUR\",\"opened_at_us\":1,"
                                    "\"overdraft_limit_minor\":0}"));
    ll_rm_event_t e;
    LL_REQUIRE(ll_rm_event_parse(ev, &e) == 0);
    LL_CHECK(e.held_minor == 0 && e.overdraft_limit_minor == 0 && !e.frozen);
    back.state.held_minor = 5, back.state.frozen = true; /* whatever was there: the event's figures win */
    ll_rm_event_apply(&back.state, &e);
    LL_CHECK(back.state.held_minor == 0 && !back.state.frozen && back.state.balance_minor == 71);
    ll_uuid_t id = fx_uuid(9);
    ll_rm_account_t probed;
    LL_REQUIRE(ll_rm_event_account(&id, &e, &probed) == 0);
    LL_CHECK(probed.state.held_minor == 0 && probed.state.overdraft_limit_minor == 0 && !probed.state.frozen);
    bson_destroy(ev);
}

/* Figures no account can have, or of the wrong type, make a document not ours. */
LL_TEST(test_documents_with_impossible_figures_are_not_ours) {
    ll_account_t a;
    ll_uuid_t id = fx_uuid(11);
    ll_account_init(&a, &id);
    a.status = LL_ACCOUNT_OPEN, a.version = 40;
    snprintf(a.owner, sizeof a.owner, "o");
    snprintf(a.currency.code, sizeof a.currency.code, "EUR");
    memcpy(a.head_hash, LL_HASH_ZERO, sizeof a.head_hash);
    struct {
        int64_t balance, held, limit;
        int ok;
    } cases[] = {{100, 30, 0, 1}, {-900, 100, 1000, 1}, {-901, 100, 1000, 0},        {0, -1, 0, 0},
                 {0, 0, -1, 0},   {INT64_MIN, 1, 0, 0}, {INT64_MIN, 0, INT64_MAX, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        a.balance_minor = cases[i].balance, a.held_minor = cases[i].held,
        a.overdraft_limit_minor = cases[i].limit;
        ll_rm_account_t back;
        bson_t *head = ll_rm_head_doc(&a, ll_rm_open_page(a.version));
        LL_CHECK_EQ_INT(ll_rm_head_parse(head, &back) == 0, cases[i].ok);
        bson_destroy(head);
        ll_rm_event_t e;
        bson_t *doc = ll_rm_event_doc_of(&a, NULL, 31);
        LL_CHECK_EQ_INT(ll_rm_event_parse(doc, &e) == 0, cases[i].ok);
        bson_destroy(doc);
    }
    /* Of the wrong type. */
    a.balance_minor = 0, a.held_minor = 0, a.overdraft_limit_minor = 0;
    const char *keys[] = {"held_minor", "frozen"};
    for (int k = 0; k < 2; k++) {
        bson_t *head = ll_rm_head_doc(&a, ll_rm_open_page(a.version)), *bad = bson_new();
        bson_copy_to_excluding_noinit(head, bad, keys[k], NULL);
        BSON_APPEND_UTF8(bad, keys[k], "1");
        ll_rm_account_t back;
        LL_CHECK(ll_rm_head_parse(bad, &back) != 0);
        bson_destroy(bad);
        bson_destroy(head);
        bson_t *doc = ll_rm_event_doc_of(&a, NULL, 31);
        BSON_APPEND_UTF8(doc, keys[k], "1");
        ll_rm_event_t e;
        LL_CHECK(ll_rm_event_parse(doc, &e) != 0);
        bson_destroy(doc);
    }
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_keys_round_trip_and_refuse_what_is_not_ours),
        LL_CASE(test_pages_are_fixed_ranges_of_versions),
        LL_CASE(test_items_are_the_api_transaction_for_movements_only),
        LL_CASE(test_an_account_document_round_trips_and_checks_its_page),
        LL_CASE(test_event_documents_carry_the_state_after_and_the_item),
        LL_CASE(test_a_page_gives_its_items_newest_first_below_a_bound),
        LL_CASE(test_remembered_page_items_follow_the_open_page),
        LL_CASE(test_items_of_captures_and_payment_legs_carry_their_links),
        LL_CASE(test_the_longest_item_fits),
        LL_CASE(test_documents_carry_held_limit_and_frozen_at_every_version),
        LL_CASE(test_documents_of_an_older_build_read_as_no_holds_limit_or_freeze),
        LL_CASE(test_documents_with_impossible_figures_are_not_ours),
    };
    return ll_test_main(argc, argv, "read_model_docs", cases, LL_CASES(cases));
}
