/* Unit tests of the relay's Prometheus page (services/ll_relay.c): every figure of a snapshot
 * under its documented name and unit. Rendering only; no server. */
#include "ll_relay.h"
#include "ll_test.h"

#include <stdlib.h>

LL_TEST(test_snapshot_series) {
    ll_relay_snapshot_t s = {.leader = 1,
                             .outbox_depth = 42,
                             .oldest_undelivered_ms = 1500,
                             .published_total = 1000,
                             .failed_total = 3,
                             .pg_errors = 2,
                             .kafka_errors = 5,
                             .latency_p50_us = 2500,
                             .latency_p99_us = 12000};
    char *text = ll_relay_metrics_render(&s);
    LL_REQUIRE(text != NULL);
    LL_CHECK_CONTAINS(text, "# TYPE ledgerline_relay_outbox_depth gauge\n");
    LL_CHECK_CONTAINS(text, "ledgerline_relay_leader{service=\"relay\"} 1\n");
    LL_CHECK_CONTAINS(text, "ledgerline_relay_outbox_depth{service=\"relay\"} 42\n");
    LL_CHECK_CONTAINS(text, "ledgerline_relay_oldest_undelivered_seconds{service=\"relay\"} 1.5\n");
    LL_CHECK_CONTAINS(text, "ledgerline_relay_published_total{service=\"relay\"} 1000\n");
    LL_CHECK_CONTAINS(text, "ledgerline_relay_failed_total{service=\"relay\"} 3\n");
    LL_CHECK_CONTAINS(text,
                      "ledgerline_relay_dependency_errors_total{service=\"relay\",dependency=\"postgresql\"} 2\n");
    LL_CHECK_CONTAINS(text, "ledgerline_relay_dependency_errors_total{service=\"relay\",dependency=\"kafka\"} 5\n");
    LL_CHECK_CONTAINS(text, "ledgerline_relay_publish_latency_seconds{service=\"relay\",quantile=\"0.5\"} 0.0025\n");
    LL_CHECK_CONTAINS(text, "ledgerline_relay_publish_latency_seconds{service=\"relay\",quantile=\"0.99\"} 0.012\n");
    free(text);
}

LL_TEST(test_unknown_depth_is_minus_one) {
    ll_relay_snapshot_t s = {.outbox_depth = -1};
    char *text = ll_relay_metrics_render(&s);
    LL_REQUIRE(text != NULL);
    LL_CHECK_CONTAINS(text, "ledgerline_relay_outbox_depth{service=\"relay\"} -1\n");
    LL_CHECK_CONTAINS(text, "ledgerline_relay_leader{service=\"relay\"} 0\n");
    free(text);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {LL_CASE(test_snapshot_series), LL_CASE(test_unknown_depth_is_minus_one)};
    return ll_test_main(argc, argv, "relay_metrics", cases, LL_CASES(cases));
}
