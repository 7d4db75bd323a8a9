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
    static ll_event_t events[FX_EVERY_TYPE_MAX];
    size_t n = fx_every_type(events);
    LL_CHECK_EQ_INT(n, 26);
    int seen[LL_EVENT_TYPE_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        seen[events[i].type]++;
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
    for (int ty = LL_EVENT_NONE + 1; ty < LL_EVENT_TYPE_COUNT; ty++) LL_CHECK(seen[ty] > 0);
}

LL_TEST(test_canonical_form_sorted_compact) {
    char buf[LL_EVENT_JSON_BYTES_MAX];
    deposit_json(buf, sizeof buf);
    LL_CHECK(strncmp(buf, "{\"account_id\":\"00000000-0000-4000-8000-000000000001\",\"actor\":", 60) == 0);
    LL_CHECK(strstr(buf, " ") == NULL || strstr(buf, "invoice 42") != NULL); /* spaces only inside strings */
    LL_CHECK(strstr(buf, ": ") == NULL && strstr(buf, ", ") == NULL);
    LL_CHECK_CONTAINS(buf,
                      "\"data\":{\"amount_minor\":1000000000000000,\"balance_after_minor\":1000000000000000,"
                      "\"currency\":\"EUR\",\"frozen\":false,\"held_after_minor\":0,\"overdraft_limit_minor\":0,"
                      "\"reference\":\"invoice 42 / <b>&amp;</b>\"}");
    LL_CHECK_CONTAINS(buf, "\"schema_version\":2,");
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
        {"\"schema_version\":2", "\"schema_version\":3",
         "schema_version: 3 is newer than this build reads (2)"},
        {"\"schema_version\":2", "\"schema_version\":0", "schema_version: must be an integer in 1.."},
        {"\"frozen\":false", "\"frozen\":\"false\"", "data.frozen: must be true or false"},
        {"\"frozen\":false", "\"frozen\":0", "data.frozen: must be true or false"},
        {"\"frozen\":false", "\"frozen\":null", "data.frozen: must be true or false"},
        {"\"frozen\":false,", "", "data.frozen: missing"},
        {"\"held_after_minor\":0", "\"held_after_minor\":-1", "data.held_after_minor: must be an integer in 0.."},
        {"\"held_after_minor\":0", "\"held_after_minor\":0.0", "data.held_after_minor: must be an integer"},
        {"\"held_after_minor\":0,", "", "data.held_after_minor: missing"},
        {"\"overdraft_limit_minor\":0", "\"overdraft_limit_minor\":-1",
         "data.overdraft_limit_minor: must be an integer in 0..1000000000000000"},
        {"\"overdraft_limit_minor\":0", "\"overdraft_limit_minor\":1000000000000001",
         "data.overdraft_limit_minor: must be an integer in 0..1000000000000000"},
        {"\"balance_after_minor\":1000000000000000", "\"balance_after_minor\":\"1\"",
         "data.balance_after_minor: must be an integer"},
        {"\"reference\":", "\"payment_id\":\"00000000-0000-4000-8000-000000000009\",\"reference\":",
         "data.payment_id: unknown field"},
        {"\"reference\":", "\"hold_id\":\"00000000-0000-4000-8000-000000000009\",\"reference\":",
         "data.hold_id: unknown field"},
        {"\"reference\":", "\"released_minor\":0,\"reference\":", "data.released_minor: unknown field"},
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

/* ---- every type's data, strictly ------------------------------------------------------- */

/* Indices in fx_every_type's history (checked against their types below). */
enum {
    EV_OPENED = 0,
    EV_DEPOSIT = 3,
    EV_SENT = 5,
    EV_RECEIVED = 6,
    EV_PLACED = 7,
    EV_CAPTURED_TO = 8,
    EV_CAPTURED_OUT = 11,
    EV_EXPIRED = 14,
    EV_LIMIT = 15,
    EV_FROZEN = 16,
    EV_UNFROZEN = 18,
    EV_PAY_SENT = 19,
    EV_PAY_RECEIVED = 20,
    EV_RELEASED = 23,
    EV_CLOSED = 25,
};

/* The envelope of event i of fx_every_type as a JSON object (new reference). */
static json_t *every_json(size_t i) {
    static ll_event_t events[FX_EVERY_TYPE_MAX];
    fx_every_type(events);
    json_t *env = ll_event_to_json(&events[i], true);
    if (env == NULL) abort();
    return env;
}

/* Decodes env (as canonical text); returns the decoder's code with err set. */
static int decode_json(const json_t *env, ll_event_t *ev, ll_error_t *err) {
    char *text = json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL) abort();
    int rc = ll_event_decode(text, strlen(text), ev, err);
    free(text);
    return rc;
}

LL_TEST(test_fixture_indices_name_their_types) {
    static ll_event_t e[FX_EVERY_TYPE_MAX];
    fx_every_type(e);
    LL_CHECK_EQ_INT(e[EV_OPENED].type, LL_EVENT_ACCOUNT_OPENED);
    LL_CHECK_EQ_INT(e[EV_DEPOSIT].type, LL_EVENT_MONEY_DEPOSITED);
    LL_CHECK_EQ_INT(e[EV_SENT].type, LL_EVENT_TRANSFER_SENT);
    LL_CHECK_EQ_INT(e[EV_RECEIVED].type, LL_EVENT_TRANSFER_RECEIVED);
    LL_CHECK_EQ_INT(e[EV_PLACED].type, LL_EVENT_HOLD_PLACED);
    LL_CHECK_EQ_INT(e[EV_CAPTURED_TO].type, LL_EVENT_HOLD_CAPTURED);
    LL_CHECK(!ll_uuid_is_nil(&e[EV_CAPTURED_TO].data.movement.transfer_id));
    LL_CHECK_EQ_INT(e[EV_CAPTURED_OUT].type, LL_EVENT_HOLD_CAPTURED);
    LL_CHECK(ll_uuid_is_nil(&e[EV_CAPTURED_OUT].data.movement.transfer_id));
    LL_CHECK_EQ_INT(e[EV_EXPIRED].type, LL_EVENT_HOLD_EXPIRED);
    LL_CHECK_EQ_INT(e[EV_LIMIT].type, LL_EVENT_CREDIT_LIMIT_SET);
    LL_CHECK_EQ_INT(e[EV_FROZEN].type, LL_EVENT_ACCOUNT_FROZEN);
    LL_CHECK_EQ_INT(e[EV_UNFROZEN].type, LL_EVENT_ACCOUNT_UNFROZEN);
    LL_CHECK_EQ_INT(e[EV_PAY_SENT].type, LL_EVENT_TRANSFER_SENT);
    LL_CHECK(!ll_uuid_is_nil(&e[EV_PAY_SENT].data.movement.payment_id));
    LL_CHECK_EQ_INT(e[EV_PAY_RECEIVED].type, LL_EVENT_TRANSFER_RECEIVED);
    LL_CHECK_EQ_INT(e[EV_RELEASED].type, LL_EVENT_HOLD_RELEASED);
    LL_CHECK_EQ_INT(e[EV_CLOSED].type, LL_EVENT_ACCOUNT_CLOSED);
}

/* One change to the data of a valid event: set key to the JSON value (NULL: delete it). */
typedef struct {
    size_t event;
    const char *key, *value, *expect;
} data_mutation_t;

LL_TEST(test_each_type_refuses_what_its_data_may_not_hold) {
    static const data_mutation_t cases[] = {
        /* a capture names a destination with both keys or none */
        {EV_CAPTURED_TO, "transfer_id", NULL, "data.to_account_id: only with transfer_id"},
        {EV_CAPTURED_TO, "to_account_id", NULL, "data.to_account_id: missing"},
        {EV_CAPTURED_OUT, "to_account_id", "\"00000000-0000-4000-8000-000000000002\"",
         "data.to_account_id: only with transfer_id"},
        {EV_CAPTURED_OUT, "from_account_id", "\"00000000-0000-4000-8000-000000000002\"",
         "data.from_account_id: unknown field"},
        {EV_CAPTURED_TO, "to_account_id", "\"00000000-0000-4000-8000-000000000001\"",
         "a transfer needs two different accounts"},
        {EV_CAPTURED_TO, "transfer_id", "\"00000000-0000-0000-0000-000000000000\"", "data.transfer_id: must not be"},
        {EV_CAPTURED_TO, "payment_id", "\"00000000-0000-4000-8000-000000000009\"", "data.payment_id: unknown field"},
        {EV_CAPTURED_OUT, "released_minor", "-1", "data.released_minor: must be an integer in 0.."},
        {EV_CAPTURED_OUT, "released_minor", "1000000000000001", "data.released_minor: must be an integer in 0.."},
        {EV_CAPTURED_OUT, "released_minor", NULL, "data.released_minor: missing"},
        {EV_CAPTURED_OUT, "hold_id", NULL, "data.hold_id: missing"},
        {EV_CAPTURED_OUT, "hold_id", "\"h-1\"", "data.hold_id: must be a UUID"},
        {EV_CAPTURED_OUT, "reference", NULL, "data.reference: missing"},
        {EV_CAPTURED_OUT, "expires_at", "\"2025-12-01T16:00:07.000000Z\"", "data.expires_at: unknown field"},
        /* a placement */
        {EV_PLACED, "expires_at", "\"2025-12-01T16:00:07Z\"", "data.expires_at: must be"},
        {EV_PLACED, "expires_at", "\"2025-13-01T16:00:07.000000Z\"", "data.expires_at: must be UTC RFC 3339"},
        {EV_PLACED, "expires_at", "1764604807000000", "data.expires_at: must be a string"},
        {EV_PLACED, "expires_at", NULL, "data.expires_at: missing"},
        {EV_PLACED, "hold_id", NULL, "data.hold_id: missing"},
        {EV_PLACED, "released_minor", "0", "data.released_minor: unknown field"},
        {EV_PLACED, "transfer_id", "\"00000000-0000-4000-8000-000000000009\"", "data.transfer_id: unknown field"},
        {EV_PLACED, "held_after_minor", "-500", "data.held_after_minor: must be an integer in 0.."},
        /* releases and expiries carry no reference */
        {EV_RELEASED, "reference", "\"\"", "data.reference: unknown field"},
        {EV_EXPIRED, "reference", "\"\"", "data.reference: unknown field"},
        {EV_EXPIRED, "expires_at", "\"2025-12-01T16:00:07.000000Z\"", "data.expires_at: unknown field"},
        {EV_EXPIRED, "amount_minor", "0", "data.amount_minor: must be an integer in 1.."},
        {EV_RELEASED, "hold_id", NULL, "data.hold_id: missing"},
        {EV_RELEASED, "frozen", "\"no\"", "data.frozen: must be true or false"},
        /* limits, freezes */
        {EV_LIMIT, "overdraft_limit_minor", "-5", "data.overdraft_limit_minor: must be an integer in 0.."},
        {EV_LIMIT, "overdraft_limit_minor", NULL, "data.overdraft_limit_minor: missing"},
        {EV_LIMIT, "amount_minor", "5", "data.amount_minor: unknown field"},
        {EV_LIMIT, "frozen", "1", "data.frozen: must be true or false"},
        {EV_FROZEN, "reason", "\"\"", "data.reason: must be 1 to 140 bytes"},
        {EV_FROZEN, "reason", NULL, "data.reason: missing"},
        {EV_FROZEN, "reason", "\"a\\u0007b\"", "data.reason: must not contain control characters"},
        {EV_FROZEN, "frozen", "\"true\"", "data.frozen: must be true or false"},
        {EV_UNFROZEN, "reason", "\"lifted\"", "data.reason: unknown field"},
        {EV_UNFROZEN, "balance_after_minor", NULL, "data.balance_after_minor: missing"},
        /* the opening and the closing carry no figures */
        {EV_OPENED, "balance_after_minor", "0", "data.balance_after_minor: unknown field"},
        {EV_CLOSED, "frozen", "false", "data.frozen: unknown field"},
        {EV_CLOSED, "held_after_minor", "0", "data.held_after_minor: unknown field"},
        /* transfer legs and their payment */
        {EV_PAY_SENT, "payment_id", "\"\"", "data.payment_id: must be a UUID"},
        {EV_PAY_SENT, "payment_id", "null", "data.payment_id: must be a UUID"},
        {EV_PAY_SENT, "payment_id", "\"00000000-0000-4000-8000-00000000060A\"", "data.payment_id: must be a UUID"},
        {EV_PAY_SENT, "payment_id", "\"00000000-0000-0000-0000-000000000000\"", "data.payment_id: must not be"},
        {EV_PAY_RECEIVED, "to_account_id", "\"00000000-0000-4000-8000-000000000003\"", "data.to_account_id: unknown field"},
        {EV_SENT, "from_account_id", "\"00000000-0000-4000-8000-000000000002\"", "data.from_account_id: unknown field"},
        {EV_SENT, "to_account_id", NULL, "data.to_account_id: missing"},
        {EV_RECEIVED, "hold_id", "\"00000000-0000-4000-8000-000000000009\"", "data.hold_id: unknown field"},
        {EV_DEPOSIT, "frozen", NULL, "data.frozen: missing"},
    };
    for (size_t i = 0; i < LL_CASES(cases); i++) {
        const data_mutation_t *c = &cases[i];
        json_t *env = every_json(c->event);
        json_t *data = json_object_get(env, "data");
        if (c->value == NULL) {
            LL_REQUIRE(json_object_del(data, c->key) == 0);
        } else {
            json_t *v = json_loads(c->value, JSON_DECODE_ANY, NULL);
            LL_REQUIRE(v != NULL);
            LL_REQUIRE(json_object_set_new(data, c->key, v) == 0);
        }
        ll_event_t ev;
        ll_error_t err = {""};
        if (decode_json(env, &ev, &err) == 0)
            LL_FAIL_AT("case %zu (%s): decoded", i, c->key);
        else if (strstr(err.msg, c->expect) == NULL)
            LL_FAIL_AT("case %zu (%s): error \"%s\" lacks \"%s\"", i, c->key, err.msg, c->expect);
        json_decref(env);
    }
}

/* The figures decode into ev->after for every type that has them; the opening and the closing
 * leave them zero. */
LL_TEST(test_figures_decode_into_after) {
    static ll_event_t events[FX_EVERY_TYPE_MAX];
    size_t n = fx_every_type(events);
    for (size_t i = 0; i < n; i++) {
        json_t *env = ll_event_to_json(&events[i], true);
        LL_REQUIRE(env != NULL);
        json_t *data = json_object_get(env, "data");
        ll_event_t ev;
        ll_error_t err = {""};
        LL_REQUIRE(decode_json(env, &ev, &err) == 0);
        if (events[i].type == LL_EVENT_ACCOUNT_OPENED || events[i].type == LL_EVENT_ACCOUNT_CLOSED) {
            LL_CHECK(json_object_get(data, "frozen") == NULL);
            LL_CHECK(ev.after.balance_minor == 0 && ev.after.held_minor == 0 &&
                     ev.after.overdraft_limit_minor == 0 && !ev.after.frozen);
        } else {
            LL_CHECK_EQ_INT(ev.after.balance_minor, json_integer_value(json_object_get(data, "balance_after_minor")));
            LL_CHECK_EQ_INT(ev.after.held_minor, json_integer_value(json_object_get(data, "held_after_minor")));
            LL_CHECK_EQ_INT(ev.after.overdraft_limit_minor,
                            json_integer_value(json_object_get(data, "overdraft_limit_minor")));
            LL_CHECK_EQ_INT(ev.after.frozen, json_is_true(json_object_get(data, "frozen")));
            LL_CHECK(json_is_boolean(json_object_get(data, "frozen")));
        }
        json_decref(env);
    }
    LL_CHECK(events[EV_FROZEN].after.frozen);
    LL_CHECK_EQ_INT(events[EV_LIMIT].after.overdraft_limit_minor, 5000);
    LL_CHECK_EQ_INT(events[EV_CAPTURED_TO].data.movement.released_minor, 200);
}

/* ---- schema 1 ------------------------------------------------------------------------------ */

/* Event i of fx_every_type as schema 1 would have written it: without the three figures schema 2
 * added (balance_after_minor stays: schema 1 had it). */
static json_t *as_schema_1(size_t i) {
    json_t *env = every_json(i);
    json_t *data = json_object_get(env, "data");
    json_object_del(data, "held_after_minor");
    json_object_del(data, "overdraft_limit_minor");
    json_object_del(data, "frozen");
    if (json_object_set_new(env, "schema_version", json_integer(1)) != 0) abort();
    return env;
}

LL_TEST(test_schema_1_movement_upcasts_with_zeros) {
    static ll_event_t events[FX_EVERY_TYPE_MAX];
    fx_every_type(events);
    static const size_t movements[] = {EV_DEPOSIT, 4, EV_SENT, EV_RECEIVED, EV_OPENED, EV_CLOSED};
    for (size_t k = 0; k < LL_CASES(movements); k++) {
        json_t *env = as_schema_1(movements[k]);
        ll_event_t ev;
        ll_error_t err = {""};
        if (decode_json(env, &ev, &err) != 0) {
            LL_FAIL_AT("event %zu: %s", movements[k], err.msg);
        } else {
            const ll_event_t *orig = &events[movements[k]];
            LL_CHECK_EQ_INT(ev.schema_version, LL_EVENT_SCHEMA_VERSION_CURRENT);
            LL_CHECK_EQ_INT(ev.type, orig->type);
            LL_CHECK_EQ_INT(ev.after.balance_minor, orig->after.balance_minor);
            LL_CHECK_EQ_INT(ev.after.held_minor, 0);
            LL_CHECK_EQ_INT(ev.after.overdraft_limit_minor, 0);
            LL_CHECK(!ev.after.frozen);
            LL_CHECK_EQ_STR(ev.hash, orig->hash);
            LL_CHECK(memcmp(&ev.data, &orig->data, sizeof ev.data) == 0);
        }
        json_decref(env);
    }
}

LL_TEST(test_schema_1_refuses_what_schema_1_never_wrote) {
    /* Types schema 1 did not have: no upcaster, never guessed. */
    static const size_t newer[] = {EV_PLACED, EV_CAPTURED_TO, EV_CAPTURED_OUT, EV_RELEASED,
                                   EV_EXPIRED, EV_LIMIT,       EV_FROZEN,       EV_UNFROZEN};
    for (size_t k = 0; k < LL_CASES(newer); k++) {
        json_t *env = as_schema_1(newer[k]);
        ll_event_t ev;
        ll_error_t err = {""};
        LL_CHECK(decode_json(env, &ev, &err) != 0);
        char expect[80];
        snprintf(expect, sizeof expect, "no upcaster from version 1 of %s",
                 json_string_value(json_object_get(env, "type")));
        LL_CHECK_CONTAINS(err.msg, expect);
        json_decref(env);
    }
    /* A schema 1 movement carrying what schema 2 added. */
    static const char *const added[] = {"held_after_minor", "overdraft_limit_minor", "frozen"};
    for (size_t k = 0; k < LL_CASES(added); k++) {
        json_t *env = as_schema_1(EV_DEPOSIT);
        LL_REQUIRE(json_object_set_new(json_object_get(env, "data"), added[k],
                                       k == 2 ? json_false() : json_integer(0)) == 0);
        ll_event_t ev;
        ll_error_t err = {""};
        LL_CHECK(decode_json(env, &ev, &err) != 0);
        LL_CHECK_CONTAINS(err.msg, "a schema 1 event cannot carry schema 2 fields");
        json_decref(env);
    }
    /* Payments came with schema 2: a schema 1 leg naming one was not written by any build. */
    json_t *env = as_schema_1(EV_PAY_SENT);
    ll_event_t ev;
    ll_error_t err = {""};
    LL_CHECK(decode_json(env, &ev, &err) != 0);
    LL_CHECK_CONTAINS(err.msg, "a schema 1 event cannot carry schema 2 fields");
    json_decref(env);
    /* A schema 1 movement without its balance is refused as any incomplete event. */
    env = as_schema_1(EV_DEPOSIT);
    json_object_del(json_object_get(env, "data"), "balance_after_minor");
    LL_CHECK(decode_json(env, &ev, &err) != 0);
    LL_CHECK_CONTAINS(err.msg, "data.balance_after_minor: missing");
    json_decref(env);
}

/* ---- the upcasting hook -------------------------------------------------------------------- */

/* A hypothetical history for the hook: a build whose current deposit schema is version 3, and
 * whose version 2 named the amount "amount". The upcaster renames it. */
static int upcast_deposit_v2(json_t *data, ll_error_t *err) {
    json_t *amount = json_object_get(data, "amount");
    if (amount == NULL) return ll_error_set(err, LL_EINVAL, "data.amount: missing in schema version 2");
    json_incref(amount);
    if (json_object_del(data, "amount") != 0 || json_object_set_new(data, "amount_minor", amount) != 0)
        return ll_error_set(err, LL_ENOMEM, "upcast failed");
    return 0;
}

static const ll_upcaster_t v3_upcasters[] = {{LL_EVENT_MONEY_DEPOSITED, 2, upcast_deposit_v2}};
static const ll_event_schema_t schema_v3 = {3, v3_upcasters, 1};

/* The deposit envelope in the hypothetical old shape: data.amount instead of data.amount_minor. */
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

    char *old = old_deposit(2);
    LL_REQUIRE(old != NULL);
    ll_event_t ev;
    ll_error_t err = {""};
    if (ll_event_decode_with(old, strlen(old), &schema_v3, &ev, &err) != 0)
        LL_FAIL_AT("upcast decode: %s", err.msg);
    LL_CHECK_EQ_INT(ev.schema_version, 3);
    LL_CHECK_EQ_INT(ev.data.movement.amount_minor, current.data.movement.amount_minor);
    LL_CHECK_EQ_INT(ev.after.balance_minor, current.after.balance_minor);
    LL_CHECK_EQ_STR(ev.hash, current.hash);
    /* This build (current 2) reads version 2 as is, so the old field name is unknown to it. */
    LL_CHECK(ll_event_decode(old, strlen(old), &ev, &err) != 0);
    LL_CHECK_CONTAINS(err.msg, "data.amount: unknown field");
    free(old);
}

LL_TEST(test_missing_upcaster_and_newer_version_are_refused) {
    static const ll_event_schema_t no_steps = {3, NULL, 0};
    char *old = old_deposit(2);
    LL_REQUIRE(old != NULL);
    ll_event_t ev;
    ll_error_t err = {""};
    LL_CHECK(ll_event_decode_with(old, strlen(old), &no_steps, &ev, &err) != 0);
    LL_CHECK_CONTAINS(err.msg, "no upcaster from version 2 of MoneyDeposited");
    free(old);
    /* Schema 3 steps from 2 only: a version 1 event finds no first step. */
    old = old_deposit(1);
    LL_REQUIRE(old != NULL);
    LL_CHECK(ll_event_decode_with(old, strlen(old), &schema_v3, &ev, &err) != 0);
    LL_CHECK_CONTAINS(err.msg, "no upcaster from version 1 of MoneyDeposited");
    free(old);
    char *newer = old_deposit(4);
    LL_REQUIRE(newer != NULL);
    LL_CHECK(ll_event_decode_with(newer, strlen(newer), &schema_v3, &ev, &err) != 0);
    LL_CHECK_CONTAINS(err.msg, "schema_version: 4 is newer than this build reads (3)");
    LL_CHECK(ll_event_decode(newer, strlen(newer), &ev, &err) != 0);
    LL_CHECK_CONTAINS(err.msg, "schema_version: 4 is newer than this build reads (2)");
    free(newer);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_round_trip_every_type),
        LL_CASE(test_canonical_form_sorted_compact),
        LL_CASE(test_hostile_envelopes_are_refused_naming_the_field),
        LL_CASE(test_non_objects_garbage_and_oversize),
        LL_CASE(test_deep_nesting_does_not_crash),
        LL_CASE(test_fixture_indices_name_their_types),
        LL_CASE(test_each_type_refuses_what_its_data_may_not_hold),
        LL_CASE(test_figures_decode_into_after),
        LL_CASE(test_schema_1_movement_upcasts_with_zeros),
        LL_CASE(test_schema_1_refuses_what_schema_1_never_wrote),
        LL_CASE(test_upcaster_brings_old_schema_to_current_struct),
        LL_CASE(test_missing_upcaster_and_newer_version_are_refused),
    };
    return ll_test_main(argc, argv, "event_codec", cases, LL_CASES(cases));
}
