/* Unit tests of domain/ll_command_codec for the bodies of ledger depth (#33): holds (place,
 * capture, release), credit limits, freezes and payments, happy and hostile. The expiry of a
 * hold is the system's: no body decodes into it. */
#include "ll_command_codec.h"
#include "ll_test.h"

#include <stdio.h>
#include <string.h>

#define MAX_BODY 16384

static int decode(ll_command_type_t type, const char *body, ll_command_t *cmd, ll_error_t *err) {
    return ll_command_decode(type, body, strlen(body), MAX_BODY, cmd, err);
}

static const char *uuid_text(const ll_uuid_t *u, char out[LL_UUID_TEXT_LEN + 1]) {
    ll_uuid_format(u, out);
    return out;
}

LL_TEST(test_hold_bodies) {
    ll_command_t c;
    ll_error_t err = {""};
    char text[LL_UUID_TEXT_LEN + 1];
    LL_REQUIRE(decode(LL_CMD_PLACE_HOLD, "{\"amount_minor\":500,\"currency\":\"EUR\"}", &c, &err) == 0);
    LL_CHECK_EQ_INT(c.type, LL_CMD_PLACE_HOLD);
    LL_CHECK_EQ_INT(c.amount_minor, 500);
    LL_CHECK_EQ_STR(c.currency.code, "EUR");
    LL_CHECK_EQ_STR(c.reference, "");
    LL_CHECK_EQ_INT(c.expires_in_s, LL_HOLD_EXPIRY_DEFAULT_S); /* 7 days unless asked */
    LL_CHECK(ll_uuid_is_nil(&c.hold_id));                      /* the service assigns it */
    LL_REQUIRE(decode(LL_CMD_PLACE_HOLD,
                      "{\"amount_minor\":1,\"currency\":\"USD\",\"reference\":\"card 1234\",\"expires_in_seconds\":1}",
                      &c, &err) == 0);
    LL_CHECK_EQ_INT(c.expires_in_s, 1);
    LL_CHECK_EQ_STR(c.reference, "card 1234");
    LL_REQUIRE(decode(LL_CMD_PLACE_HOLD, "{\"amount_minor\":1,\"currency\":\"EUR\",\"expires_in_seconds\":2592000}", &c,
                      &err) == 0);
    LL_CHECK_EQ_INT(c.expires_in_s, LL_HOLD_EXPIRY_MAX_S);

    LL_REQUIRE(decode(LL_CMD_CAPTURE_HOLD, "{}", &c, &err) == 0);
    LL_CHECK_EQ_INT(c.type, LL_CMD_CAPTURE_HOLD);
    LL_CHECK_EQ_INT(c.amount_minor, 0); /* the whole hold */
    LL_CHECK(ll_uuid_is_nil(&c.to_account_id));
    LL_REQUIRE(decode(LL_CMD_CAPTURE_HOLD,
                      "{\"amount_minor\":250,\"to_account_id\":\"123E4567-E89B-42D3-A456-426614174001\"}", &c,
                      &err) == 0);
    LL_CHECK_EQ_INT(c.amount_minor, 250);
    LL_CHECK_EQ_STR(uuid_text(&c.to_account_id, text), "123e4567-e89b-42d3-a456-426614174001");
    LL_CHECK(ll_uuid_is_nil(&c.transfer_id));

    LL_REQUIRE(decode(LL_CMD_RELEASE_HOLD, " {} ", &c, &err) == 0);
    LL_CHECK_EQ_INT(c.type, LL_CMD_RELEASE_HOLD);
}

LL_TEST(test_limit_and_freeze_bodies) {
    ll_command_t c;
    ll_error_t err = {""};
    LL_REQUIRE(decode(LL_CMD_SET_CREDIT_LIMIT, "{\"overdraft_limit_minor\":0}", &c, &err) == 0);
    LL_CHECK_EQ_INT(c.type, LL_CMD_SET_CREDIT_LIMIT);
    LL_CHECK_EQ_INT(c.overdraft_limit_minor, 0);
    LL_REQUIRE(decode(LL_CMD_SET_CREDIT_LIMIT, "{\"overdraft_limit_minor\":1000000000000000}", &c, &err) == 0);
    LL_CHECK_EQ_INT(c.overdraft_limit_minor, LL_AMOUNT_MINOR_MAX);
    LL_REQUIRE(decode(LL_CMD_FREEZE, "{\"reason\":\"case 7: court order\"}", &c, &err) == 0);
    LL_CHECK_EQ_INT(c.type, LL_CMD_FREEZE);
    LL_CHECK_EQ_STR(c.reason, "case 7: court order");
    char body[LL_FREEZE_REASON_BYTES_MAX + 32];
    snprintf(body, sizeof body, "{\"reason\":\"%0*d\"}", LL_FREEZE_REASON_BYTES_MAX, 0);
    LL_CHECK_EQ_INT(decode(LL_CMD_FREEZE, body, &c, &err), 0);
    LL_CHECK_EQ_INT(strlen(c.reason), LL_FREEZE_REASON_BYTES_MAX);
    LL_REQUIRE(decode(LL_CMD_UNFREEZE, "{}", &c, &err) == 0);
    LL_CHECK_EQ_INT(c.type, LL_CMD_UNFREEZE);
}

LL_TEST(test_payment_bodies) {
    ll_command_t c;
    ll_error_t err = {""};
    char text[LL_UUID_TEXT_LEN + 1];
    LL_REQUIRE(decode(LL_CMD_PAYMENT,
                      "{\"legs\":[{\"from_account_id\":\"123e4567-e89b-42d3-a456-426614174000\","
                      "\"to_account_id\":\"123E4567-E89B-42D3-A456-426614174001\",\"amount_minor\":990,"
                      "\"currency\":\"EUR\"},{\"currency\":\"EUR\",\"amount_minor\":10,"
                      "\"to_account_id\":\"123e4567-e89b-42d3-a456-426614174002\","
                      "\"from_account_id\":\"123e4567-e89b-42d3-a456-426614174000\"}],\"reference\":\"order 9\"}",
                      &c, &err) == 0);
    LL_CHECK_EQ_INT(c.type, LL_CMD_PAYMENT);
    LL_CHECK_EQ_INT(c.leg_count, 2);
    LL_CHECK_EQ_STR(uuid_text(&c.legs[0].to_account_id, text), "123e4567-e89b-42d3-a456-426614174001");
    LL_CHECK_EQ_STR(uuid_text(&c.legs[1].from_account_id, text), "123e4567-e89b-42d3-a456-426614174000");
    LL_CHECK_EQ_INT(c.legs[0].amount_minor, 990);
    LL_CHECK_EQ_INT(c.legs[1].amount_minor, 10);
    LL_CHECK_EQ_STR(c.legs[1].currency.code, "EUR");
    LL_CHECK_EQ_STR(c.reference, "order 9");
    LL_CHECK(ll_uuid_is_nil(&c.payment_id)); /* the service assigns it */
    /* 16 legs, the most. */
    static char body[MAX_BODY];
    size_t n = (size_t)snprintf(body, sizeof body, "{\"legs\":[");
    for (int i = 0; i < LL_PAYMENT_LEGS_MAX + 1; i++) {
        n += (size_t)snprintf(body + n, sizeof body - n,
                              "%s{\"from_account_id\":\"123e4567-e89b-42d3-a456-4266141740%02d\","
                              "\"to_account_id\":\"123e4567-e89b-42d3-a456-426614174099\",\"amount_minor\":%d,"
                              "\"currency\":\"EUR\"}",
                              i ? "," : "", i, i + 1);
        if (i == LL_PAYMENT_LEGS_MAX - 1) {
            char sixteen[MAX_BODY];
            snprintf(sixteen, sizeof sixteen, "%.*s]}", (int)n, body);
            LL_REQUIRE(decode(LL_CMD_PAYMENT, sixteen, &c, &err) == 0);
            LL_CHECK_EQ_INT(c.leg_count, LL_PAYMENT_LEGS_MAX);
            LL_CHECK_EQ_INT(c.legs[15].amount_minor, 16);
            LL_CHECK_EQ_STR(c.reference, "");
        }
    }
    snprintf(body + n, sizeof body - n, "]}");
    LL_CHECK_EQ_INT(decode(LL_CMD_PAYMENT, body, &c, &err), LL_EINVAL);
    LL_CHECK_CONTAINS(err.msg, "legs: must be an array of 1 to 16 legs");
}

LL_TEST(test_hostile_bodies_name_the_field) {
#define LEG(extra)                                                                                                   \
    "{\"from_account_id\":\"123e4567-e89b-42d3-a456-426614174000\",\"to_account_id\":"                              \
    "\"123e4567-e89b-42d3-a456-426614174001\",\"amount_minor\":5,\"currency\":\"EUR\"" extra "}"
    static const struct {
        ll_command_type_t type;
        const char *body, *expect;
    } cases[] = {
        {LL_CMD_PLACE_HOLD, "{\"currency\":\"EUR\"}", "amount_minor: missing"},
        {LL_CMD_PLACE_HOLD, "{\"amount_minor\":5}", "currency: missing"},
        {LL_CMD_PLACE_HOLD, "{\"amount_minor\":0,\"currency\":\"EUR\"}", "amount_minor: must be an integer in 1.."},
        {LL_CMD_PLACE_HOLD, "{\"amount_minor\":5,\"currency\":\"EUR\",\"expires_in_seconds\":0}",
         "expires_in_seconds: must be an integer in 1..2592000"},
        {LL_CMD_PLACE_HOLD, "{\"amount_minor\":5,\"currency\":\"EUR\",\"expires_in_seconds\":2592001}",
         "expires_in_seconds: must be an integer in 1..2592000"},
        {LL_CMD_PLACE_HOLD, "{\"amount_minor\":5,\"currency\":\"EUR\",\"expires_in_seconds\":\"60\"}",
         "expires_in_seconds: must be an integer"},
        {LL_CMD_PLACE_HOLD, "{\"amount_minor\":5,\"currency\":\"EUR\",\"expires_in_seconds\":60.0}",
         "expires_in_seconds: must be an integer"},
        {LL_CMD_PLACE_HOLD, "{\"amount_minor\":5,\"currency\":\"EUR\",\"hold_id\":\"x\"}", "hold_id: unknown field"},
        {LL_CMD_PLACE_HOLD, "{\"amount_minor\":5,\"currency\":\"EUR\",\"expires_at\":\"2030-01-01T00:00:00Z\"}",
         "expires_at: unknown field"},
        {LL_CMD_PLACE_HOLD, "{\"amount_minor\":5,\"currency\":\"EUR\",\"reference\":\"caf\xc3\xa9\"}",
         "reference: must be printable ASCII"},
        {LL_CMD_CAPTURE_HOLD, "{\"amount_minor\":0}", "amount_minor: must be an integer in 1.."},
        {LL_CMD_CAPTURE_HOLD, "{\"amount_minor\":-5}", "amount_minor: must be an integer in 1.."},
        {LL_CMD_CAPTURE_HOLD, "{\"amount_minor\":null}", "amount_minor: must be an integer"},
        {LL_CMD_CAPTURE_HOLD, "{\"to_account_id\":\"acct-1\"}", "to_account_id: must be a UUID"},
        {LL_CMD_CAPTURE_HOLD, "{\"currency\":\"EUR\"}", "currency: unknown field"},
        {LL_CMD_CAPTURE_HOLD, "{\"transfer_id\":\"123e4567-e89b-42d3-a456-426614174001\"}",
         "transfer_id: unknown field"},
        {LL_CMD_RELEASE_HOLD, "{\"amount_minor\":1}", "amount_minor: unknown field"},
        {LL_CMD_RELEASE_HOLD, "[]", "must be a JSON object"},
        {LL_CMD_SET_CREDIT_LIMIT, "{}", "overdraft_limit_minor: missing"},
        {LL_CMD_SET_CREDIT_LIMIT, "{\"overdraft_limit_minor\":-1}",
         "overdraft_limit_minor: must be an integer in 0..1000000000000000"},
        {LL_CMD_SET_CREDIT_LIMIT, "{\"overdraft_limit_minor\":1000000000000001}",
         "overdraft_limit_minor: must be an integer in 0..1000000000000000"},
        {LL_CMD_SET_CREDIT_LIMIT, "{\"overdraft_limit_minor\":\"5\"}", "overdraft_limit_minor: must be an integer"},
        {LL_CMD_SET_CREDIT_LIMIT, "{\"overdraft_limit_minor\":5,\"currency\":\"EUR\"}", "currency: unknown field"},
        {LL_CMD_FREEZE, "{}", "reason: missing"},
        {LL_CMD_FREEZE, "{\"reason\":\"\"}", "reason: must be 1 to 140 bytes"},
        {LL_CMD_FREEZE, "{\"reason\":\"a\\tb\"}", "reason: must not contain control characters"},
        {LL_CMD_FREEZE, "{\"reason\":\"\xe6\x9d\xb1\"}", "reason: must be printable ASCII"},
        {LL_CMD_FREEZE, "{\"reason\":\"x\",\"until\":1}", "until: unknown field"},
        {LL_CMD_FREEZE, "{\"reason\":5}", "reason: must be a string"},
        {LL_CMD_UNFREEZE, "{\"reason\":\"x\"}", "reason: unknown field"},
        {LL_CMD_PAYMENT, "{}", "legs: must be an array of 1 to 16 legs"},
        {LL_CMD_PAYMENT, "{\"legs\":[]}", "legs: must be an array of 1 to 16 legs"},
        {LL_CMD_PAYMENT, "{\"legs\":{}}", "legs: must be an array of 1 to 16 legs"},
        {LL_CMD_PAYMENT, "{\"legs\":[5]}", "legs[0]: must be an object"},
        {LL_CMD_PAYMENT, "{\"legs\":[" LEG("") ",null]}", "legs[1]: must be an object"},
        {LL_CMD_PAYMENT, "{\"legs\":[" LEG("") "," LEG(",\"reference\":\"x\"") "]}", "legs[1].reference: unknown field"},
        {LL_CMD_PAYMENT, "{\"legs\":[{\"to_account_id\":\"123e4567-e89b-42d3-a456-426614174001\",\"amount_minor\":5,"
                         "\"currency\":\"EUR\"}]}",
         "legs[0].from_account_id: missing"},
        {LL_CMD_PAYMENT, "{\"legs\":[{\"from_account_id\":\"x\"}]}", "legs[0].from_account_id: must be a UUID"},
        {LL_CMD_PAYMENT, "{\"legs\":[{\"from_account_id\":\"123e4567-e89b-42d3-a456-426614174000\",\"to_account_id\":"
                         "\"123e4567-e89b-42d3-a456-426614174001\",\"amount_minor\":0,\"currency\":\"EUR\"}]}",
         "legs[0].amount_minor: must be an integer in 1.."},
        {LL_CMD_PAYMENT, "{\"legs\":[{\"from_account_id\":\"123e4567-e89b-42d3-a456-426614174000\",\"to_account_id\":"
                         "\"123e4567-e89b-42d3-a456-426614174001\",\"amount_minor\":5,\"currency\":\"XBT\"}]}",
         "legs[0].currency: must be an active ISO 4217"},
        {LL_CMD_PAYMENT, "{\"legs\":[" LEG("") "],\"payment_id\":\"123e4567-e89b-42d3-a456-426614174000\"}",
         "payment_id: unknown field"},
        {LL_CMD_PAYMENT, "{\"legs\":[" LEG("") "],\"reference\":\"a\\u0000b\"}", "malformed JSON"},
        {LL_CMD_PAYMENT, "{\"legs\":[" LEG("") "],\"reference\":\"\xc3\xa9\"}", "reference: must be printable ASCII"},
        {LL_CMD_PAYMENT, "{\"legs\":[" LEG("") "],\"legs\":[" LEG("") "]}", "malformed JSON"},
        /* The expiry is the system's sweep, never a body. */
        {LL_CMD_EXPIRE_HOLD, "{}", "unknown command type"},
    };
#undef LEG
    for (size_t i = 0; i < LL_CASES(cases); i++) {
        ll_command_t c;
        ll_error_t err = {""};
        int rc = decode(cases[i].type, cases[i].body, &c, &err);
        if (rc == 0)
            LL_FAIL_AT("case %zu decoded: %s", i, cases[i].body);
        else if (strstr(err.msg, cases[i].expect) == NULL)
            LL_FAIL_AT("case %zu: error \"%s\" lacks \"%s\"", i, err.msg, cases[i].expect);
    }
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_hold_bodies),
        LL_CASE(test_limit_and_freeze_bodies),
        LL_CASE(test_payment_bodies),
        LL_CASE(test_hostile_bodies_name_the_field),
    };
    return ll_test_main(argc, argv, "command_codec_depth", cases, LL_CASES(cases));
}
