/* Unit tests of lib/ll_metrics.c's route templates: an id after /v1/accounts/ or /v1/holds/
 * becomes {id}, the rest is kept; anything not listed is "other", so labels stay bounded. */
#include "ll_metrics.h"
#include "ll_test.h"

#include <string.h>

static const char *const routes[] = {"/v1/accounts/{id}", "/v1/accounts/{id}/transactions",
                                     "/v1/holds/{id}",    "/v1/holds/{id}/capture",
                                     "/healthz",          NULL};

static const char *route(const char *path) {
    static ll_metrics_t m;
    ll_metrics_init(&m, "test", routes);
    return ll_metrics_route(&m, path, strlen(path));
}

LL_TEST(test_ids_become_templates) {
    LL_CHECK_EQ_STR(route("/v1/accounts/0f8fad5b-d9cb-469f-a165-70867728950e"), "/v1/accounts/{id}");
    LL_CHECK_EQ_STR(route("/v1/accounts/0f8fad5b-d9cb-469f-a165-70867728950e/transactions"),
                    "/v1/accounts/{id}/transactions");
    LL_CHECK_EQ_STR(route("/v1/holds/0f8fad5b-d9cb-469f-a165-70867728950e"), "/v1/holds/{id}");
    LL_CHECK_EQ_STR(route("/v1/holds/0f8fad5b-d9cb-469f-a165-70867728950e/capture"),
                    "/v1/holds/{id}/capture");
    LL_CHECK_EQ_STR(route("/v1/holds/anything"), "/v1/holds/{id}");
    LL_CHECK_EQ_STR(route("/healthz"), "/healthz");
}

LL_TEST(test_everything_else_is_other) {
    const char *other[] = {"/v1/holds/",
                           "/v1/holds",
                           "/v1/holds/x/release",
                           "/v1/holdsx/y",
                           "/v1/accounts/",
                           "/v1/accounts/x/holds/y",
                           "/v1/holds/0f8fad5b-d9cb-469f-a165-70867728950e/capture/0f8fad5b-d9cb-469f-a165-"
                           "70867728950e/capture/0f8fad5b-d9cb-469f-a165-70867728950e",
                           "",
                           "/"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) LL_CHECK_EQ_STR(route(other[i]), "other");
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {LL_CASE(test_ids_become_templates),
                                           LL_CASE(test_everything_else_is_other)};
    return ll_test_main(argc, argv, "metrics_route", cases, LL_CASES(cases));
}
