/* Unit tests of projector/ll_read_model_docs: the read-model documents built from events and
 * read back (no I/O). */
#include "domain_fixture.h"
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

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_keys_round_trip_and_refuse_what_is_not_ours),
        LL_CASE(test_pages_are_fixed_ranges_of_versions),
        LL_CASE(test_items_are_the_api_transaction_for_movements_only),
        LL_CASE(test_an_account_document_round_trips_and_checks_its_page),
        LL_CASE(test_event_documents_carry_the_state_after_and_the_item),
        LL_CASE(test_a_page_gives_its_items_newest_first_below_a_bound),
        LL_CASE(test_remembered_page_items_follow_the_open_page),
    };
    return ll_test_main(argc, argv, "read_model_docs", cases, LL_CASES(cases));
}
