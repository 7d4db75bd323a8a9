/* Unit tests of domain/ll_uuid: strict parsing, canonical formatting, ordering. */
#include "ll_test.h"
#include "ll_uuid.h"

LL_TEST(test_round_trip_lower_case) {
    const char *s = "123e4567-e89b-42d3-a456-426614174000";
    ll_uuid_t u;
    LL_REQUIRE(ll_uuid_parse(s, false, &u) == 0);
    char out[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&u, out);
    LL_CHECK_EQ_STR(out, s);
    LL_CHECK(!ll_uuid_is_nil(&u));
}

LL_TEST(test_upper_case_only_when_allowed) {
    const char *s = "123E4567-E89B-42D3-A456-426614174000";
    ll_uuid_t u;
    LL_CHECK(ll_uuid_parse(s, false, &u) == -1);
    LL_REQUIRE(ll_uuid_parse(s, true, &u) == 0);
    char out[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&u, out);
    LL_CHECK_EQ_STR(out, "123e4567-e89b-42d3-a456-426614174000"); /* normalised */
}

LL_TEST(test_malformed_uuids_are_refused) {
    const char *bad[] = {
        "",
        "123e4567e89b42d3a456426614174000",
        "123e4567-e89b-42d3-a456-42661417400",
        "123e4567-e89b-42d3-a456-4266141740000",
        "123e4567-e89b-42d3-a456_426614174000",
        "123e4567-e89b-42d3-a456-42661417400g",
        "{123e4567-e89b-42d3-a456-426614174000}",
        " 123e4567-e89b-42d3-a456-426614174000",
        "123e4567-e89b-42d3-a456-426614174000 ",
        "123e4567--89b-42d3-a456-426614174000",
        NULL,
    };
    for (size_t i = 0; i < LL_CASES(bad); i++) {
        ll_uuid_t u = {{7}};
        LL_CHECK(ll_uuid_parse(bad[i], true, &u) == -1);
        LL_CHECK_EQ_INT(u.bytes[0], 7);
    }
}

LL_TEST(test_nil_and_compare) {
    ll_uuid_t a, b;
    LL_REQUIRE(ll_uuid_parse("00000000-0000-0000-0000-000000000000", false, &a) == 0);
    LL_CHECK(ll_uuid_is_nil(&a));
    LL_REQUIRE(ll_uuid_parse("00000000-0000-0000-0000-000000000001", false, &b) == 0);
    LL_CHECK(ll_uuid_compare(&a, &b) < 0);
    LL_CHECK(ll_uuid_compare(&b, &a) > 0);
    LL_CHECK(ll_uuid_compare(&a, &a) == 0);
    LL_CHECK(!ll_uuid_equal(&a, &b));
}

LL_TEST(test_hash_differs_by_either_half_and_is_stable) {
    ll_uuid_t a, b, c;
    LL_REQUIRE(ll_uuid_parse("0190f0c2-0000-7000-8000-000000000001", false, &a) == 0);
    LL_REQUIRE(ll_uuid_parse("0190f0c2-0000-7000-8000-000000000002", false, &b) == 0);
    LL_REQUIRE(ll_uuid_parse("0190f0c3-0000-7000-8000-000000000001", false, &c) == 0);
    LL_CHECK(ll_uuid_hash(&a) == ll_uuid_hash(&a));
    LL_CHECK(ll_uuid_hash(&a) >> 40 != ll_uuid_hash(&b) >> 40); /* the high bits carry the low half */
    LL_CHECK(ll_uuid_hash(&a) >> 40 != ll_uuid_hash(&c) >> 40);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_hash_differs_by_either_half_and_is_stable),
        LL_CASE(test_round_trip_lower_case),
        LL_CASE(test_upper_case_only_when_allowed),
        LL_CASE(test_malformed_uuids_are_refused),
        LL_CASE(test_nil_and_compare),
    };
    return ll_test_main(argc, argv, "uuid", cases, LL_CASES(cases));
}
