/* Unit tests of domain/ll_time: canonical RFC 3339 format and parse, lenient RFC 3339 parse. */
#include "ll_test.h"
#include "ll_time.h"

#include <stdint.h>

LL_TEST(test_format_known_instants) {
    char out[LL_TIME_TEXT_LEN + 1];
    LL_REQUIRE(ll_time_format(0, out) == 0);
    LL_CHECK_EQ_STR(out, "1970-01-01T00:00:00.000000Z");
    LL_REQUIRE(ll_time_format(951782400123456LL, out) == 0); /* leap day 2000 */
    LL_CHECK_EQ_STR(out, "2000-02-29T00:00:00.123456Z");
    LL_REQUIRE(ll_time_format(LL_TIME_US_MAX, out) == 0);
    LL_CHECK_EQ_STR(out, "9999-12-31T23:59:59.999999Z");
    LL_CHECK(ll_time_format(-1, out) == -1);
    LL_CHECK(ll_time_format(LL_TIME_US_MAX + 1, out) == -1);
}

LL_TEST(test_canonical_round_trip_many_instants) {
    /* Step through 400 years plus odd offsets: every formatted instant parses back exactly. */
    for (int64_t us = 0; us < 253402300799999999LL; us += 86399999937LL * 3 + 12345) {
        char out[LL_TIME_TEXT_LEN + 1];
        int64_t back = -1;
        LL_REQUIRE(ll_time_format(us, out) == 0);
        LL_REQUIRE(ll_time_parse_canonical(out, &back) == 0);
        LL_REQUIRE(back == us);
    }
}

LL_TEST(test_canonical_parse_refuses_everything_else) {
    const char *bad[] = {
        "2026-11-24T12:00:00Z",
        "2026-11-24T12:00:00.123Z",
        "2026-11-24T12:00:00.1234567Z",
        "2026-11-24T12:00:00.123456+00:00",
        "2026-11-24t12:00:00.123456Z",
        "2026-11-24 12:00:00.123456Z",
        "2025-02-29T12:00:00.000000Z",
        "2026-13-01T00:00:00.000000Z",
        "2026-11-31T00:00:00.000000Z",
        "2026-11-24T24:00:00.000000Z",
        "2026-11-24T23:60:00.000000Z",
        "2026-11-24T23:59:60.000000Z",
        "1969-12-31T23:59:59.999999Z",
        "2026-11-24T12:00:00.123456Zx",
        "",
        "0000-01-01T00:00:00.000000Z",
        "+026-11-24T12:00:00.123456Z",
        NULL,
    };
    for (size_t i = 0; i < LL_CASES(bad); i++) {
        int64_t us = 42;
        LL_CHECK(ll_time_parse_canonical(bad[i], &us) == -1);
        LL_CHECK_EQ_INT(us, 42);
    }
}

LL_TEST(test_rfc3339_offsets_and_fractions) {
    int64_t us = 0;
    LL_REQUIRE(ll_time_parse_rfc3339("2026-11-24T12:00:00Z", &us) == 0);
    int64_t base = us;
    LL_REQUIRE(ll_time_parse_rfc3339("2026-11-24T13:30:00+01:30", &us) == 0);
    LL_CHECK_EQ_INT(us, base);
    LL_REQUIRE(ll_time_parse_rfc3339("2026-11-24t07:00:00-05:00", &us) == 0);
    LL_CHECK_EQ_INT(us, base);
    LL_REQUIRE(ll_time_parse_rfc3339("2026-11-24 12:00:00.5z", &us) == 0);
    LL_CHECK_EQ_INT(us, base + 500000);
    LL_REQUIRE(ll_time_parse_rfc3339("2026-11-24T12:00:00.123456789Z", &us) == 0);
    LL_CHECK_EQ_INT(us, base + 123456); /* nanoseconds truncated */
}

LL_TEST(test_rfc3339_refusals) {
    const char *bad[] = {"2026-11-24",
                         "2026-11-24T12:00:00",
                         "2026-11-24T12:00:00.Z",
                         "2026-11-24T12:00:00+0100",
                         "2026-11-24T12:00:00+24:00",
                         "2026-11-24T12:00:00.1234567890Z",
                         "1969-12-31T23:59:59Z",
                         "2026-11-24T12:00:00Z trailing",
                         "yesterday"};
    for (size_t i = 0; i < LL_CASES(bad); i++) {
        int64_t us = 42;
        LL_CHECK(ll_time_parse_rfc3339(bad[i], &us) == -1);
        LL_CHECK_EQ_INT(us, 42);
    }
}

/* Query instants (as_of) may name any valid date-time; outside event time they are clamped. */
LL_TEST(test_rfc3339_clamped_for_queries) {
    int64_t us = 42;
    LL_REQUIRE(ll_time_parse_rfc3339_clamped("1880-06-16T07:13:46+13:29", &us) == 0);
    LL_CHECK_EQ_INT(us, LL_TIME_US_MIN);
    LL_REQUIRE(ll_time_parse_rfc3339_clamped("9999-12-31T23:59:59-23:59", &us) == 0);
    LL_CHECK_EQ_INT(us, LL_TIME_US_MAX);
    LL_REQUIRE(ll_time_parse_rfc3339_clamped("2026-11-24T12:00:00Z", &us) == 0);
    int64_t exact = 0;
    LL_REQUIRE(ll_time_parse_rfc3339("2026-11-24T12:00:00Z", &exact) == 0);
    LL_CHECK_EQ_INT(us, exact);
    us = 42;
    LL_CHECK(ll_time_parse_rfc3339_clamped("yesterday", &us) == -1);
    LL_CHECK(ll_time_parse_rfc3339_clamped("0000-01-01T00:00:00Z", &us) == -1);
    LL_CHECK_EQ_INT(us, 42);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_format_known_instants),
        LL_CASE(test_canonical_round_trip_many_instants),
        LL_CASE(test_canonical_parse_refuses_everything_else),
        LL_CASE(test_rfc3339_offsets_and_fractions),
        LL_CASE(test_rfc3339_refusals),
        LL_CASE(test_rfc3339_clamped_for_queries),
    };
    return ll_test_main(argc, argv, "time", cases, LL_CASES(cases));
}
