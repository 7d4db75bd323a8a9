/* Unit tests of lib/ll_problem: every problem is RFC 9457 JSON with its type and title, whatever
 * bytes the detail quotes. */
#include "ll_problem.h"
#include "ll_test.h"

#include <jansson.h>
#include <string.h>

static json_t *rendered(ll_test_ctx_t *t, const char *detail, char *out, size_t size) {
    int n = ll_problem_render(out, size, 400, "invalid-request", "Invalid request", detail);
    LL_CHECK(n > 0);
    json_t *doc = json_loads(out, 0, NULL);
    LL_CHECK(doc != NULL);
    return doc;
}

LL_TEST(test_a_detail_that_is_not_utf8_keeps_the_problem_whole) {
    char out[1024];
    json_t *doc = rendered(t, "unknown field \"\xff\xfe\xc0\xaf\xed\xa0\x80\"", out, sizeof out);
    LL_REQUIRE(doc != NULL);
    LL_CHECK_EQ_STR(json_string_value(json_object_get(doc, "type")), "https://ledgerline.dev/problems/invalid-request");
    LL_CHECK_EQ_STR(json_string_value(json_object_get(doc, "title")), "Invalid request");
    LL_CHECK_EQ_INT(json_integer_value(json_object_get(doc, "status")), 400);
    /* 0xff, 0xfe, an overlong '/', a surrogate: each byte a '?' */
    LL_CHECK_EQ_STR(json_string_value(json_object_get(doc, "detail")), "unknown field \"???????\"");
    json_decref(doc);
}

LL_TEST(test_valid_utf8_and_quotes_are_kept) {
    char out[1024];
    json_t *doc = rendered(t, "owner \"Zo\xc3\xab\" \xe2\x82\xac \xf0\x9f\x92\xb6", out, sizeof out);
    LL_REQUIRE(doc != NULL);
    LL_CHECK_EQ_STR(json_string_value(json_object_get(doc, "detail")), "owner \"Zo\xc3\xab\" \xe2\x82\xac \xf0\x9f\x92\xb6");
    json_decref(doc);
}

LL_TEST(test_a_long_detail_is_cut_not_dropped) {
    char detail[4096], out[2048];
    memset(detail, 'x', sizeof detail - 1);
    detail[sizeof detail - 1] = '\0';
    json_t *doc = rendered(t, detail, out, sizeof out);
    LL_REQUIRE(doc != NULL);
    LL_CHECK(json_string_length(json_object_get(doc, "detail")) > 0);
    LL_CHECK_EQ_STR(json_string_value(json_object_get(doc, "title")), "Invalid request");
    json_decref(doc);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {LL_CASE(test_a_detail_that_is_not_utf8_keeps_the_problem_whole),
                                           LL_CASE(test_valid_utf8_and_quotes_are_kept),
                                           LL_CASE(test_a_long_detail_is_cut_not_dropped)};
    return ll_test_main(argc, argv, "problem", cases, LL_CASES(cases));
}
