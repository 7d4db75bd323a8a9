/* Unit tests of the projector's Prometheus page (projector/ll_projector_metrics.c): the lag
 * arithmetic per partition, in events and seconds. Rendering only; no server. */
#include "ll_projector_metrics.h"
#include "ll_test.h"

#include <stdlib.h>

static ll_projector_snapshot_t snapshot(void) {
    ll_projector_snapshot_t s = {
        .applied = 7, .duplicates = 2, .gaps = 1, .halted_accounts = 1, .waiting_accounts = 2, .generation = 3};
    s.n_partitions = 3;
    s.partitions[0] = (ll_partition_progress_t){0, 100, 100, 1000}; /* caught up */
    s.partitions[1] = (ll_partition_progress_t){1, 40, 50, 7500};   /* 10 behind, newest at 7.5 s */
    s.partitions[2] = (ll_partition_progress_t){2, 0, 5, -1};       /* behind, nothing projected yet */
    return s;
}

LL_TEST(test_lag_in_events_and_seconds_per_partition) {
    ll_projector_snapshot_t s = snapshot();
    char *text = ll_projector_metrics_render(&s, "events", 10000);
    LL_REQUIRE(text != NULL);
    LL_CHECK_CONTAINS(
        text, "ledgerline_projector_lag_events{service=\"projector\",topic=\"events\",partition=\"0\"} 0\n");
    LL_CHECK_CONTAINS(
        text, "ledgerline_projector_lag_events{service=\"projector\",topic=\"events\",partition=\"1\"} 10\n");
    LL_CHECK_CONTAINS(
        text, "ledgerline_projector_lag_events{service=\"projector\",topic=\"events\",partition=\"2\"} 5\n");
    LL_CHECK_CONTAINS(
        text, "ledgerline_projector_lag_seconds{service=\"projector\",topic=\"events\",partition=\"0\"} 0\n");
    LL_CHECK_CONTAINS(
        text,
        "ledgerline_projector_lag_seconds{service=\"projector\",topic=\"events\",partition=\"1\"} 2.500\n");
    LL_CHECK_CONTAINS(
        text,
        "ledgerline_projector_lag_seconds{service=\"projector\",topic=\"events\",partition=\"2\"} NaN\n");
    free(text);
}

LL_TEST(test_counters_and_alarms) {
    ll_projector_snapshot_t s = snapshot();
    char *text = ll_projector_metrics_render(&s, "events", 10000);
    LL_REQUIRE(text != NULL);
    LL_CHECK_CONTAINS(text,
                      "ledgerline_projector_events_total{service=\"projector\",outcome=\"applied\"} 7\n");
    LL_CHECK_CONTAINS(text, "ledgerline_projector_events_total{service=\"projector\",outcome=\"gap\"} 1\n");
    LL_CHECK_CONTAINS(text, "ledgerline_projector_halted_accounts{service=\"projector\"} 1\n");
    LL_CHECK_CONTAINS(text, "ledgerline_projector_waiting_accounts{service=\"projector\"} 2\n");
    LL_CHECK_CONTAINS(text, "ledgerline_projector_generation{service=\"projector\"} 3\n");
    LL_CHECK_CONTAINS(text, "# TYPE ledgerline_projector_lag_seconds gauge\n");
    free(text);
}

/* Where the batches' time went, one series per phase, in seconds. */
LL_TEST(test_busy_seconds_per_phase) {
    ll_projector_snapshot_t s = snapshot();
    s.phase_us[LL_PHASE_WRITE] = 2500000;
    s.phase_us[LL_PHASE_COMMIT] = 1500;
    char *text = ll_projector_metrics_render(&s, "events", 10000);
    LL_REQUIRE(text != NULL);
    LL_CHECK_CONTAINS(text, "ledgerline_projector_busy_seconds_total{service=\"projector\",phase=\"write\"} 2.500000\n");
    LL_CHECK_CONTAINS(text, "ledgerline_projector_busy_seconds_total{service=\"projector\",phase=\"commit\"} 0.001500\n");
    LL_CHECK_CONTAINS(text, "ledgerline_projector_busy_seconds_total{service=\"projector\",phase=\"collect\"} 0.000000\n");
    free(text);
}

LL_TEST(test_unknown_offsets_are_not_lag) {
    ll_projector_snapshot_t s = {0};
    s.n_partitions = 1;
    s.partitions[0] = (ll_partition_progress_t){4, -1, 90, -1};
    char *text = ll_projector_metrics_render(&s, "t", 1);
    LL_REQUIRE(text != NULL);
    LL_CHECK_CONTAINS(text, "partition=\"4\"} 0\n");
    free(text);
}

/* /readyz: not before a generation is open, not while an account is halted; a waiting account
 * (a gap the store could not close yet) alone keeps it ready: it is an alert, not a stop. */
LL_TEST(test_ready_unless_halted) {
    ll_projector_snapshot_t s;
    memset(&s, 0, sizeof s);
    char why[256] = "";
    LL_CHECK(ll_projector_ready(&s, why, sizeof why) != 0);
    LL_CHECK_CONTAINS(why, "no read-model generation");
    s.generation = 3;
    s.waiting_accounts = 2;
    LL_CHECK(ll_projector_ready(&s, why, sizeof why) == 0);
    s.halted_accounts = 1;
    LL_CHECK(ll_projector_ready(&s, why, sizeof why) != 0);
    LL_CHECK_CONTAINS(why, "1 accounts halted");
    s.healed_events = 5;
    char *text = ll_projector_metrics_render(&s, "t", 0);
    LL_REQUIRE(text != NULL);
    LL_CHECK_CONTAINS(text, "ledgerline_projector_healed_events_total{service=\"projector\"} 5");
    free(text);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_lag_in_events_and_seconds_per_partition),
        LL_CASE(test_counters_and_alarms),
        LL_CASE(test_busy_seconds_per_phase),
        LL_CASE(test_unknown_offsets_are_not_lag),
        LL_CASE(test_ready_unless_halted),
    };
    return ll_test_main(argc, argv, "projector_metrics", cases, LL_CASES(cases));
}
