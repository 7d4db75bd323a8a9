/* Unit tests of domain/ll_command_codec: the HTTP command bodies, happy and hostile. */
#include "ll_command_codec.h"
#include "ll_test.h"

#include <string.h>

#define MAX_BODY 16384

static int decode(ll_command_type_t type, const char *body, ll_command_t *cmd, ll_error_t *err) {
    return ll_command_decode(type, body, strlen(body), MAX_BODY, cmd, err);
}

LL_TEST(test_valid_bodies) {
    ll_command_t c;
    ll_error_t err = {""};
    LL_REQUIRE(decode(LL_CMD_OPEN, "{\"owner\":\"alice\",\"currency\":\"EUR\"}", &c, &err) == 0);
    LL_CHECK_EQ_INT(c.type, LL_CMD_OPEN);
    LL_CHECK_EQ_STR(c.owner, "alice");
    LL_CHECK_EQ_STR(c.currency.code, "EUR");

    LL_REQUIRE(decode(LL_CMD_DEPOSIT, "{\"amount_minor\":1,\"currency\":\"JPY\"}", &c, &err) == 0);
    LL_CHECK_EQ_INT(c.amount_minor, 1);
    LL_CHECK_EQ_STR(c.reference, "");

    LL_REQUIRE(decode(LL_CMD_WITHDRAW,
                      " {\"reference\":\"rent\",\"currency\":\"EUR\",\"amount_minor\":1000000000000000} ", &c,
                      &err) == 0);
    LL_CHECK_EQ_INT(c.amount_minor, 1000000000000000LL);
    LL_CHECK_EQ_STR(c.reference, "rent");

    LL_REQUIRE(decode(LL_CMD_TRANSFER,
                      "{\"from_account_id\":\"123E4567-E89B-42D3-A456-426614174000\","
                      "\"to_account_id\":\"123e4567-e89b-42d3-a456-426614174001\",\"amount_minor\":5,"
                      "\"currency\":\"EUR\"}",
                      &c, &err) == 0);
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&c.account_id, text);
    LL_CHECK_EQ_STR(text, "123e4567-e89b-42d3-a456-426614174000");
    LL_CHECK_EQ_INT(c.amount_minor, 5);

    LL_REQUIRE(decode(LL_CMD_CLOSE, "{}", &c, &err) == 0);
    LL_CHECK_EQ_INT(c.type, LL_CMD_CLOSE);
}

LL_TEST(test_hostile_bodies_name_the_field) {
    struct {
        ll_command_type_t type;
        const char *body, *expect;
    } cases[] = {
        {LL_CMD_OPEN, "{\"owner\":\"a\",\"currency\":\"EUR\",\"balance_minor\":100}",
         "balance_minor: unknown field"},
        {LL_CMD_OPEN, "{\"owner\":\"a\"}", "currency: missing"},
        {LL_CMD_OPEN, "{\"currency\":\"EUR\"}", "owner: missing"},
        {LL_CMD_OPEN, "{\"owner\":\"\",\"currency\":\"EUR\"}", "owner: must be 1 to 128 bytes"},
        {LL_CMD_OPEN, "{\"owner\":7,\"currency\":\"EUR\"}", "owner: must be a string"},
        {LL_CMD_OPEN, "{\"owner\":\"a\\nb\",\"currency\":\"EUR\"}",
         "owner: must not contain control characters"},
        {LL_CMD_OPEN, "{\"owner\":\"a\",\"currency\":\"BTC\"}", "currency: must be an active ISO 4217"},
        {LL_CMD_DEPOSIT, "{\"amount_minor\":10.5,\"currency\":\"EUR\"}", "amount_minor: must be an integer"},
        {LL_CMD_DEPOSIT, "{\"amount_minor\":1.0,\"currency\":\"EUR\"}", "amount_minor: must be an integer"},
        {LL_CMD_DEPOSIT, "{\"amount_minor\":1E2,\"currency\":\"EUR\"}", "amount_minor: must be an integer"},
        {LL_CMD_DEPOSIT, "{\"amount_minor\":\"100\",\"currency\":\"EUR\"}",
         "amount_minor: must be an integer"},
        {LL_CMD_DEPOSIT, "{\"amount_minor\":0,\"currency\":\"EUR\"}",
         "amount_minor: must be an integer in 1..1000000000000000"},
        {LL_CMD_DEPOSIT, "{\"amount_minor\":-1,\"currency\":\"EUR\"}",
         "amount_minor: must be an integer in 1.."},
        {LL_CMD_DEPOSIT, "{\"amount_minor\":1000000000000001,\"currency\":\"EUR\"}",
         "amount_minor: must be an integer in 1.."},
        {LL_CMD_DEPOSIT, "{\"amount_minor\":9223372036854775807,\"currency\":\"EUR\"}",
         "amount_minor: must be an integer in 1.."},
        {LL_CMD_DEPOSIT, "{\"amount_minor\":9223372036854775808,\"currency\":\"EUR\"}", "malformed JSON"},
        {LL_CMD_DEPOSIT, "{\"amount_minor\":1,\"amount_minor\":2,\"currency\":\"EUR\"}", "malformed JSON"},
        {LL_CMD_DEPOSIT, "{\"amount_minor\":1,\"currency\":\"EUR\",\"reference\":null}",
         "reference: must be a string"},
        {LL_CMD_DEPOSIT, "{\"amount_minor\":1,\"currency\":\"EUR\",\"account_id\":\"x\"}",
         "account_id: unknown field"},
        {LL_CMD_DEPOSIT, "{\"amount_minor\":1,\"currency\":\"EUR\"", "malformed JSON"},
        {LL_CMD_DEPOSIT, "[{\"amount_minor\":1,\"currency\":\"EUR\"}]", "must be a JSON object"},
        {LL_CMD_DEPOSIT, "", "malformed JSON"},
        {LL_CMD_DEPOSIT, "{\"amount_minor\":1,\"currency\":\"EUR\"} {}", "malformed JSON"},
        {LL_CMD_DEPOSIT, "{\"amount_minor\":1,\"currency\":\"EUR\",\"reference\":\"\xc3\x28\"}",
         "malformed JSON"},
        {LL_CMD_TRANSFER,
         "{\"from_account_id\":\"nope\",\"to_account_id\":\"123e4567-e89b-42d3-a456-426614174001\",\"amount_"
         "minor\":5,\"currency\":\"EUR\"}",
         "from_account_id: must be a UUID"},
        {LL_CMD_TRANSFER,
         "{\"from_account_id\":\"123e4567-e89b-42d3-a456-426614174001\",\"amount_minor\":5,\"currency\":"
         "\"EUR\"}",
         "to_account_id: missing"},
        {LL_CMD_DEPOSIT, "{\"amount_minor\":1,\"currency\":\"EUR\",\"reference\":\"caf\xc3\xa9\"}",
         "reference: must be printable ASCII"},
        {LL_CMD_OPEN, "{\"owner\":\"\xd0\xb0lice\",\"currency\":\"EUR\"}", "owner: must be printable ASCII"},
        {LL_CMD_CLOSE, "{\"force\":true}", "force: unknown field"},
        {LL_CMD_CLOSE, "{\"\\u0001\\\"\":1}", "??: unknown field"},
    };
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

LL_TEST(test_reference_and_owner_limits) {
    char body[1024];
    char ref[LL_REFERENCE_BYTES_MAX + 2];
    memset(ref, 'r', sizeof ref);
    ref[LL_REFERENCE_BYTES_MAX] = '\0';
    ll_command_t c;
    ll_error_t err = {""};
    snprintf(body, sizeof body, "{\"amount_minor\":1,\"currency\":\"EUR\",\"reference\":\"%s\"}", ref);
    LL_CHECK(decode(LL_CMD_DEPOSIT, body, &c, &err) == 0);
    ref[LL_REFERENCE_BYTES_MAX] = 'r';
    ref[LL_REFERENCE_BYTES_MAX + 1] = '\0';
    snprintf(body, sizeof body, "{\"amount_minor\":1,\"currency\":\"EUR\",\"reference\":\"%s\"}", ref);
    LL_CHECK(decode(LL_CMD_DEPOSIT, body, &c, &err) != 0);
    LL_CHECK_CONTAINS(err.msg, "reference: must be 0 to 140 bytes");
    /* Commands take printable ASCII only, so the limit is in characters as clients count them. */
    snprintf(body, sizeof body, "{\"amount_minor\":1,\"currency\":\"EUR\",\"reference\":\"%s\"}", "\xc3\xa9");
    LL_CHECK(decode(LL_CMD_DEPOSIT, body, &c, &err) != 0);
    LL_CHECK_CONTAINS(err.msg, "reference: must be printable ASCII");
    snprintf(body, sizeof body, "{\"amount_minor\":1,\"currency\":\"EUR\",\"reference\":\"%s\"}", " ~!");
    LL_CHECK(decode(LL_CMD_DEPOSIT, body, &c, &err) == 0);
}

LL_TEST(test_oversized_body_is_a_limit_error) {
    char body[64] = "{\"amount_minor\":1,\"currency\":\"EUR\"}";
    ll_command_t c;
    ll_error_t err = {""};
    LL_CHECK_EQ_INT(ll_command_decode(LL_CMD_DEPOSIT, body, strlen(body), 10, &c, &err), LL_ELIMIT);
    LL_CHECK_CONTAINS(err.msg, "exceeds the limit of 10 bytes");
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_valid_bodies),
        LL_CASE(test_hostile_bodies_name_the_field),
        LL_CASE(test_reference_and_owner_limits),
        LL_CASE(test_oversized_body_is_a_limit_error),
    };
    return ll_test_main(argc, argv, "command_codec", cases, LL_CASES(cases));
}
