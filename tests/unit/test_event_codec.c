/* Unit tests of domain/ll_event_codec: canonical encoding, round trips of every event type,
 * strict decoding of hostile envelopes (each refused with the field named), upcasting. */
#include "domain_fixture.h"
#include "ll_event_codec.h"
#include "ll_test.h"

#include <stdlib.h>
#include <string.h>

/* The canonical text of the first deposit of make_all_types, NUL-terminated in buf. */
static void deposit_json(char *buf, size_t size) {
    ll_event_t events[8];
    fx_all_types(events);
    size_t len = 0;
    if (ll_event_encode(&events[2], true, buf, size - 1, &len, NULL) != 0) abort();
    buf[len] = '\0';
}

LL_TEST(test_round_trip_every_type) {
    ll_event_t events[8];
    size_t n = fx_all_types(events);
    LL_CHECK_EQ_INT(n, 7);
    for (size_t i = 0; i < n; i++) {
        char buf[LL_EVENT_JSON_BYTES_MAX];
        size_t len = 0;
        ll_error_t err = {""};
        LL_REQUIRE(ll_event_encode(&events[i], true, buf, sizeof buf, &len, &err) == 0);
        ll_event_t back;
        if (ll_event_decode(buf, len, &back, &err) != 0) {
            LL_FAIL_AT("decode %zu: %s: %.*s", i, err.msg, (int)len, buf);
            continue;
        }
        LL_CHECK(memcmp(&back, &events[i], sizeof back) == 0);
        /* Encoding the decoded event yields the same bytes: the form is canonical. */
        char again[LL_EVENT_JSON_BYTES_MAX];
        size_t again_len = 0;
        LL_REQUIRE(ll_event_encode(&back, true, again, sizeof again, &again_len, &err) == 0);
        LL_CHECK(again_len == len && memcmp(again, buf, len) == 0);
    }
}

LL_TEST(test_canonical_form_sorted_compact) {
    char buf[LL_EVENT_JSON_BYTES_MAX];
    deposit_json(buf, sizeof buf);
    LL_CHECK(strncmp(buf, "{\"account_id\":\"00000000-0000-4000-8000-000000000001\",\"actor\":", 60) == 0);
    LL_CHECK(strstr(buf, " ") == NULL || strstr(buf, "invoice 42") != NULL); /* spaces only inside strings */
    LL_CHECK(strstr(buf, ": ") == NULL && strstr(buf, ", ") == NULL);
    LL_CHECK_CONTAINS(buf,
                      "\"data\":{\"amount_minor\":1000000000000000,\"balance_after_minor\":1000000000000000,"
                      "\"currency\":\"EUR\",\"reference\":\"invoice 42 / <b>&amp;</b>\"}");
    LL_CHECK_CONTAINS(buf, "\"occurred_at\":\"2025-11-24T16:00:03.000000Z\"");
}

/* One hostile variation of a valid deposit envelope: replace `from` by `to` in the text. */
typedef struct {
    const char *from, *to, *expect;
} mutation_t;

LL_TEST(test_hostile_envelopes_are_refused_naming_the_field) {
    char base[LL_EVENT_JSON_BYTES_MAX];
    deposit_json(base, sizeof base);
    const mutation_t cases[] = {
        {"\"version\":2", "\"version\":2,\"extra\":1", "extra: unknown field"},
        {"\"reference\":", "\"evil\":1,\"reference\":", "data.evil: unknown field"},
        {"\"amount_minor\":1000000000000000", "\"amount_minor\":1000000000000000.0",
         "data.amount_minor: must be an integer"},
        {"\"amount_minor\":1000000000000000", "\"amount_minor\":1e15",
         "data.amount_minor: must be an integer"},
        {"\"amount_minor\":1000000000000000", "\"amount_minor\":\"1000\"",
         "data.amount_minor: must be an integer"},
        {"\"amount_minor\":1000000000000000", "\"amount_minor\":1000000000000001",
         "data.amount_minor: must be an integer in 1..1000000000000000"},
        {"\"amount_minor\":1000000000000000", "\"amount_minor\":0",
         "data.amount_minor: must be an integer in 1.."},
        {"\"amount_minor\":1000000000000000", "\"amount_minor\":99999999999999999999999", "malformed JSON"},
        {"\"amount_minor\":1000000000000000", "\"amount_minor\":null",
         "data.amount_minor: must be an integer"},
        {"\"amount_minor\":1000000000000000,", "", "data.amount_minor: missing"},
        {"\"version\":2", "\"version\":0", "version: must be an integer in 1.."},
        {"\"version\":2", "\"version\":-3", "version: must be an integer in 1.."},
        {"\"version\":2", "\"version\":true", "version: must be an integer"},
        {"\"type\":\"MoneyDeposited\"", "\"type\":\"MoneyPrinted\"", "type: unknown event type"},
        {"\"type\":\"MoneyDeposited\"", "\"type\":\"AccountClosed\"", "data.amount_minor: unknown field"},
        {"\"schema_version\":1", "\"schema_version\":2",
         "schema_version: 2 is newer than this build reads (1)"},
        {"\"schema_version\":1", "\"schema_version\":0", "schema_version: must be an integer in 1.."},
        {"\"currency\":\"EUR\"", "\"currency\":\"eur\"", "data.currency: must be an active ISO 4217"},
        {"\"currency\":\"EUR\"", "\"currency\":\"XXX\"", "data.currency: must be an active ISO 4217"},
        {"\"account_id\":\"00000000-0000-4000-8000-000000000001\"",
         "\"account_id\":\"00000000-0000-4000-8000-00000000000A\"", "account_id: must be a UUID"},
        {"\"account_id\":\"00000000-0000-4000-8000-000000000001\"", "\"account_id\":\"1\"",
         "account_id: must be a UUID"},
        {"\"account_id\":\"00000000-0000-4000-8000-000000000001\",", "", "account_id: missing"},
        {"\"occurred_at\":\"2025-11-24T16:00:03.000000Z\"", "\"occurred_at\":\"2025-11-24T16:00:03Z\"",
         "occurred_at: must be"},
        {"\"occurred_at\":\"2025-11-24T16:00:03.000000Z\"", "\"occurred_at\":\"2025-11-31T16:00:03.000000Z\"",
         "occurred_at: must be UTC RFC 3339"},
        {"\"reference\":\"invoice 42", "\"reference\":\"invoice\\u0007 42",
         "data.reference: must not contain control characters"},
        {"\"reference\":\"invoice 42", "\"reference\":\"in\\u0000voice 42", "malformed JSON"},
        {"\"prev_hash\":\"", "\"prev_hash\":\"X", "prev_hash: must be 64"},
        {"\"hash\":\"", "\"hash\":\"0", "hash: must be"},
        {"\"command_id\":\"", "\"command_id\":\"has space ", "command_id: must be printable ASCII"},
        {"\"actor\":\"operator:test\"", "\"actor\":\"\"", "actor: must be 1 to 144 bytes"},
        {"\"data\":{", "\"data\":[],\"x\":{", "x: unknown field"},
        {"\"global_position\":3", "\"global_position\":3,\"global_position\":4", "malformed JSON"},
        {"\"global_position\":3", "\"global_position\":0", "global_position: must be an integer in 1.."},
    };
    for (size_t i = 0; i < LL_CASES(cases); i++) {
        const char *at = strstr(base, cases[i].from);
        if (at == NULL) {
            LL_FAIL_AT("case %zu: '%s' not in the base envelope", i, cases[i].from);
            continue;
        }
        char mutated[LL_EVENT_JSON_BYTES_MAX + 64];
        size_t prefix = (size_t)(at - base);
        snprintf(mutated, sizeof mutated, "%.*s%s%s", (int)prefix, base, cases[i].to,
                 at + strlen(cases[i].from));
        ll_event_t ev;
        ll_error_t err = {""};
        int rc = ll_event_decode(mutated, strlen(mutated), &ev, &err);
        if (rc == 0)
            LL_FAIL_AT("case %zu decoded: %s", i, mutated);
        else if (strstr(err.msg, cases[i].expect) == NULL)
            LL_FAIL_AT("case %zu: error \"%s\" lacks \"%s\"", i, err.msg, cases[i].expect);
    }
}

LL_TEST(test_non_objects_garbage_and_oversize) {
    const char *bad[] = {"", "[]", "42", "\"x\"", "null", "{", "{}", "{} {}", "{\"a\":1}x", "\xff\xfe{}"};
    for (size_t i = 0; i < LL_CASES(bad); i++) {
        ll_event_t ev;
        ll_error_t err = {""};
        LL_CHECK(ll_event_decode(bad[i], strlen(bad[i]), &ev, &err) != 0);
        LL_CHECK(err.msg[0] != '\0');
    }
    size_t big = LL_EVENT_JSON_BYTES_MAX + 1;
    char *huge = malloc(big);
    LL_REQUIRE(huge != NULL);
    memset(huge, ' ', big);
    ll_event_t ev;
    ll_error_t err = {""};
    LL_CHECK(ll_event_decode(huge, big, &ev, &err) != 0);
    LL_CHECK_CONTAINS(err.msg, "exceeds the limit");
    free(huge);
}

LL_TEST(test_deep_nesting_does_not_crash) {
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 16);
    LL_REQUIRE(deep != NULL);
    size_t n = 0;
    deep[n++] = '{';
    deep[n++] = '"';
    deep[n++] = 'a';
    deep[n++] = '"';
    deep[n++] = ':';
    for (size_t i = 0; i < depth; i++) deep[n++] = '[';
    ll_event_t ev;
    ll_error_t err = {""};
    LL_CHECK(ll_event_decode(deep, n, &ev, &err) != 0); /* refused by size before any parsing */
    free(deep);
}

/* A hypothetical history for the hook: this build's current deposit schema is version 2, and
 * version 1 named the amount "amount". The upcaster renames it. */
static int upcast_deposit_v1(json_t *data, ll_error_t *err) {
    json_t *amount = json_object_get(data, "amount");
    if (amount == NULL) return ll_error_set(err, LL_EINVAL, "data.amount: missing in schema version 1");
    json_incref(amount);
    if (json_object_del(data, "amount") != 0 || json_object_set_new(data, "amount_minor", amount) != 0)
        return ll_error_set(err, LL_ENOMEM, "upcast failed");
    return 0;
}

static const ll_upcaster_t v2_upcasters[] = {{LL_EVENT_MONEY_DEPOSITED, 1, upcast_deposit_v1}};
static const ll_event_schema_t schema_v2 = {2, v2_upcasters, 1};

/* The deposit envelope in the old shape: data.amount instead of data.amount_minor. */
static char *old_deposit(int schema_version) {
    char base[LL_EVENT_JSON_BYTES_MAX];
    deposit_json(base, sizeof base);
    json_t *env = json_loads(base, 0, NULL);
    if (env == NULL) abort();
    json_t *data = json_object_get(env, "data");
    json_object_set(data, "amount", json_object_get(data, "amount_minor"));
    json_object_del(data, "amount_minor");
    json_object_set_new(env, "schema_version", json_integer(schema_version));
    char *text = json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(env);
    return text;
}

LL_TEST(test_upcaster_brings_old_schema_to_current_struct) {
    char base[LL_EVENT_JSON_BYTES_MAX];
    deposit_json(base, sizeof base);
    ll_event_t current;
    LL_REQUIRE(ll_event_decode(base, strlen(base), &current, NULL) == 0);

    char *old = old_deposit(1);
    LL_REQUIRE(old != NULL);
    ll_event_t ev;
    ll_error_t err = {""};
    if (ll_event_decode_with(old, strlen(old), &schema_v2, &ev, &err) != 0)
        LL_FAIL_AT("upcast decode: %s", err.msg);
    LL_CHECK_EQ_INT(ev.schema_version, 2);
    LL_CHECK_EQ_INT(ev.data.movement.amount_minor, current.data.movement.amount_minor);
    LL_CHECK_EQ_STR(ev.hash, current.hash);
    /* This build (current 1) reads version 1 as is, so the old field name is unknown to it. */
    LL_CHECK(ll_event_decode(old, strlen(old), &ev, &err) != 0);
    LL_CHECK_CONTAINS(err.msg, "data.amount: unknown field");
    free(old);
}

LL_TEST(test_missing_upcaster_and_newer_version_are_refused) {
    static const ll_event_schema_t no_steps = {2, NULL, 0};
    char *old = old_deposit(1);
    LL_REQUIRE(old != NULL);
    ll_event_t ev;
    ll_error_t err = {""};
    LL_CHECK(ll_event_decode_with(old, strlen(old), &no_steps, &ev, &err) != 0);
    LL_CHECK_CONTAINS(err.msg, "no upcaster from version 1 of MoneyDeposited");
    free(old);
    char *newer = old_deposit(3);
    LL_REQUIRE(newer != NULL);
    LL_CHECK(ll_event_decode_with(newer, strlen(newer), &schema_v2, &ev, &err) != 0);
    LL_CHECK_CONTAINS(err.msg, "schema_version: 3 is newer than this build reads (2)");
    free(newer);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_round_trip_every_type),
        LL_CASE(test_canonical_form_sorted_compact),
        LL_CASE(test_hostile_envelopes_are_refused_naming_the_field),
        LL_CASE(test_non_objects_garbage_and_oversize),
        LL_CASE(test_deep_nesting_does_not_crash),
        LL_CASE(test_upcaster_brings_old_schema_to_current_struct),
        LL_CASE(test_missing_upcaster_and_newer_version_are_refused),
    };
    return ll_test_main(argc, argv, "event_codec", cases, LL_CASES(cases));
}
