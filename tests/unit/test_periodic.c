/* Unit tests of lib/ll_periodic: the job runs about every interval, not before the first
 * interval, a stop during a long sleep returns at once, a run sees ll_periodic_stopping once a
 * stop was asked for and the stop waits for that run to end. */
#include "ll_clock.h"
#include "ll_periodic.h"
#include "ll_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

typedef struct {
    atomic_int runs;
    atomic_int in_run;    /* a run is on the thread (the long run waits for the stop) */
    atomic_int saw_stop;  /* the long run saw ll_periodic_stopping */
    atomic_int finished;  /* the long run returned */
} counter_t;

static void count(ll_periodic_t *p, void *arg) {
    (void)p;
    counter_t *c = arg;
    atomic_fetch_add(&c->runs, 1);
}

/* Runs until its thread is asked to stop, as a sweep with many pages would. */
static void long_run(ll_periodic_t *p, void *arg) {
    counter_t *c = arg;
    atomic_store(&c->in_run, 1);
    struct timespec ms = {0, 1000000L};
    while (!ll_periodic_stopping(p)) nanosleep(&ms, NULL);
    atomic_store(&c->saw_stop, 1);
    nanosleep(&ms, NULL); /* the stop must still wait for this */
    atomic_store(&c->finished, 1);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

LL_TEST(test_runs_every_interval) {
    counter_t c = {0};
    ll_error_t err = {""};
    ll_periodic_t *p = ll_periodic_start("counter", 10, count, &c, &err);
    LL_REQUIRE(p != NULL);
    sleep_ms(200);
    ll_periodic_stop(p);
    int n = atomic_load(&c.runs);
    LL_CHECK(n >= 3);  /* about 20 in 200 ms; a loaded machine runs fewer */
    LL_CHECK(n <= 21); /* never more often than the interval */
}

LL_TEST(test_first_run_after_one_interval) {
    counter_t c = {0};
    ll_error_t err = {""};
    ll_periodic_t *p = ll_periodic_start("counter", 60000, count, &c, &err);
    LL_REQUIRE(p != NULL);
    sleep_ms(50);
    LL_CHECK_EQ_INT(atomic_load(&c.runs), 0);
    int64_t before = ll_clock_ms();
    ll_periodic_stop(p); /* wakes the minute's sleep at once */
    LL_CHECK(ll_clock_ms() - before < 5000);
    LL_CHECK_EQ_INT(atomic_load(&c.runs), 0);
}

LL_TEST(test_stop_waits_for_the_run_in_flight) {
    counter_t c = {0};
    ll_error_t err = {""};
    ll_periodic_t *p = ll_periodic_start("long job", 1, long_run, &c, &err);
    LL_REQUIRE(p != NULL);
    for (int i = 0; i < 5000 && !atomic_load(&c.in_run); i++) sleep_ms(1);
    LL_REQUIRE(atomic_load(&c.in_run));
    ll_periodic_stop(p);
    LL_CHECK(atomic_load(&c.saw_stop));
    LL_CHECK(atomic_load(&c.finished));
}

LL_TEST(test_stop_of_null) {
    ll_periodic_stop(NULL);
    LL_CHECK(1);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_runs_every_interval),
        LL_CASE(test_first_run_after_one_interval),
        LL_CASE(test_stop_waits_for_the_run_in_flight),
        LL_CASE(test_stop_of_null),
    };
    return ll_test_main(argc, argv, "periodic", cases, LL_CASES(cases));
}
