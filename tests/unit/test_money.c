/* Unit tests of domain/ll_money: currencies, checked arithmetic at the int64 limits, amount range. */
#include "ll_money.h"
#include "ll_test.h"

#include <stdint.h>

LL_TEST(test_known_currencies) {
    const char *good[] = {"EUR", "USD", "JPY", "GBP", "CHF", "BHD", "AED", "ZWG"};
    for (size_t i = 0; i < LL_CASES(good); i++) LL_CHECK(ll_currency_valid(good[i]));
}

LL_TEST(test_unknown_or_malformed_currencies) {
    const char *bad[] = {"",    "EU",  "EURO", "eur", "Eur", "XXX", "XTS",
                         "XAU", "ABC", "E1R",  "EU ", " EU", NULL};
    for (size_t i = 0; i < LL_CASES(bad); i++) LL_CHECK(!ll_currency_valid(bad[i]));
}

LL_TEST(test_currency_parse_and_digits) {
    ll_currency_t c = {"???"};
    LL_CHECK(ll_currency_parse("usd", &c) == -1);
    LL_CHECK_EQ_STR(c.code, "???"); /* untouched on failure */
    LL_REQUIRE(ll_currency_parse("JPY", &c) == 0);
    LL_CHECK_EQ_INT(ll_currency_minor_digits(&c), 0);
    LL_REQUIRE(ll_currency_parse("EUR", &c) == 0);
    LL_CHECK_EQ_INT(ll_currency_minor_digits(&c), 2);
    LL_REQUIRE(ll_currency_parse("KWD", &c) == 0);
    LL_CHECK_EQ_INT(ll_currency_minor_digits(&c), 3);
    ll_currency_t d;
    LL_REQUIRE(ll_currency_parse("EUR", &d) == 0);
    LL_CHECK(!ll_currency_equal(&c, &d));
    LL_REQUIRE(ll_currency_parse("KWD", &d) == 0);
    LL_CHECK(ll_currency_equal(&c, &d));
}

LL_TEST(test_add_sub_at_int64_limits) {
    int64_t r = 42;
    LL_CHECK(ll_money_add(INT64_MAX - 1, 1, &r) == 0 && r == INT64_MAX);
    r = 42;
    LL_CHECK(ll_money_add(INT64_MAX, 1, &r) == -1);
    LL_CHECK_EQ_INT(r, 42); /* untouched on overflow */
    LL_CHECK(ll_money_add(INT64_MIN, -1, &r) == -1);
    LL_CHECK(ll_money_add(INT64_MAX, INT64_MIN, &r) == 0 && r == -1);
    LL_CHECK(ll_money_sub(INT64_MIN + 1, 1, &r) == 0 && r == INT64_MIN);
    LL_CHECK(ll_money_sub(INT64_MIN, 1, &r) == -1);
    LL_CHECK(ll_money_sub(0, INT64_MIN, &r) == -1);
    LL_CHECK(ll_money_sub(-1, INT64_MIN, &r) == 0 && r == INT64_MAX);
    LL_CHECK(ll_money_sub(INT64_MAX, -1, &r) == -1);
}

LL_TEST(test_amount_range) {
    LL_CHECK(!ll_amount_valid(0));
    LL_CHECK(!ll_amount_valid(-1));
    LL_CHECK(!ll_amount_valid(INT64_MIN));
    LL_CHECK(ll_amount_valid(1));
    LL_CHECK(ll_amount_valid(1000000000000000LL));
    LL_CHECK(!ll_amount_valid(1000000000000001LL));
    LL_CHECK(!ll_amount_valid(INT64_MAX));
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_known_currencies),
        LL_CASE(test_unknown_or_malformed_currencies),
        LL_CASE(test_currency_parse_and_digits),
        LL_CASE(test_add_sub_at_int64_limits),
        LL_CASE(test_amount_range),
    };
    return ll_test_main(argc, argv, "money", cases, LL_CASES(cases));
}
