/* Unit tests of lib/ll_workers: the one worker pool (offload, writers). FIFO order and batches,
 * a full ring refuses, a stop runs what is queued, a failed init undoes the start, cancel and
 * wait_idle. Tasks are ints; a gate holds a worker inside a task while the test looks. */
#include "ll_test.h"
#include "ll_workers.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECORD_MAX 20000
#define GATED      (-1) /* waits in run() until the gate opens */
#define SUBMITS    (-2) /* GATED, then submits another task from run() */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int gate_open, gated_started;
    int ran[RECORD_MAX]; /* tasks in the order run() saw them */
    size_t n_ran, batches, batch_max_seen;
    int inits, init_fail_at, finis; /* init_fail_at: the n-th init (1-based) fails; 0: none */
    int init_sets_err;
    int ctx_mismatch; /* run() got a context that is not one init made */
    ll_workers_t *pool;
    int submit_in_run_rc;
} fixture_t;

typedef struct {
    fixture_t *f;
    int magic;
} thread_ctx_t;

static void fixture_init(fixture_t *f) {
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cond, NULL);
    f->init_sets_err = 1;
    f->submit_in_run_rc = 99;
}

static void fixture_fini(fixture_t *f) {
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->mu);
}

static void *ctx_init(void *arg, ll_error_t *err) {
    fixture_t *f = arg;
    pthread_mutex_lock(&f->mu);
    int n = ++f->inits;
    pthread_mutex_unlock(&f->mu);
    if (n == f->init_fail_at) {
        if (f->init_sets_err) ll_error_set(err, LL_EIO, "store unreachable");
        return NULL;
    }
    thread_ctx_t *c = malloc(sizeof *c); /* ctx_fini frees it: ASan reports one missed */
    if (c != NULL) *c = (thread_ctx_t){f, 0x5eed};
    return c;
}

static void ctx_fini(void *ctx) {
    thread_ctx_t *c = ctx;
    pthread_mutex_lock(&c->f->mu);
    c->f->finis++;
    pthread_mutex_unlock(&c->f->mu);
    free(c);
}

/* Holds mu. */
static void wait_for(fixture_t *f, const int *flag) {
    while (!*flag) pthread_cond_wait(&f->cond, &f->mu);
}

static void run(void *ctx, void **tasks, size_t n, void *arg) {
    fixture_t *f = arg;
    thread_ctx_t *c = ctx;
    pthread_mutex_lock(&f->mu);
    if (c == NULL || c->f != f || c->magic != 0x5eed) f->ctx_mismatch = 1;
    f->batches++;
    if (n > f->batch_max_seen) f->batch_max_seen = n;
    for (size_t i = 0; i < n; i++) {
        int v = (int)(intptr_t)tasks[i];
        if (v == GATED || v == SUBMITS) {
            f->gated_started = 1;
            pthread_cond_broadcast(&f->cond);
            wait_for(f, &f->gate_open);
        }
        if (v == SUBMITS) f->submit_in_run_rc = ll_workers_submit(f->pool, (void *)(intptr_t)7);
        if (f->n_ran < RECORD_MAX) f->ran[f->n_ran++] = v;
    }
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
}

static ll_workers_config_t config(fixture_t *f, int threads, size_t queue_max, size_t batch_max) {
    return (ll_workers_config_t){.name = "test pool",
                                 .threads = threads,
                                 .queue_max = queue_max,
                                 .batch_max = batch_max,
                                 .init = ctx_init,
                                 .fini = ctx_fini,
                                 .run = run,
                                 .arg = f};
}

static void open_gate(fixture_t *f) {
    pthread_mutex_lock(&f->mu);
    f->gate_open = 1;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
}

static void wait_gated_started(fixture_t *f) {
    pthread_mutex_lock(&f->mu);
    wait_for(f, &f->gated_started);
    pthread_mutex_unlock(&f->mu);
}

static void *task(int v) {
    return (void *)(intptr_t)v;
}

LL_TEST(test_one_thread_runs_tasks_in_submission_order) {
    fixture_t f;
    fixture_init(&f);
    ll_error_t err = {""};
    ll_workers_config_t cfg = config(&f, 1, 1000, 1);
    ll_workers_t *w = ll_workers_start(&cfg, &err);
    LL_REQUIRE(w != NULL);
    for (int i = 0; i < 1000; i++) LL_CHECK_EQ_INT(ll_workers_submit(w, task(i)), 0);
    ll_workers_wait_idle(w);
    LL_CHECK_EQ_INT(ll_workers_pending(w), 0);
    ll_workers_stop(w);
    LL_CHECK_EQ_INT(f.n_ran, 1000);
    int in_order = 1;
    for (int i = 0; i < 1000; i++) in_order &= f.ran[i] == i;
    LL_CHECK(in_order);
    LL_CHECK_EQ_INT(f.batch_max_seen, 1);
    LL_CHECK_EQ_INT(f.inits, 1);
    LL_CHECK_EQ_INT(f.finis, 1);
    LL_CHECK(!f.ctx_mismatch);
    fixture_fini(&f);
}

LL_TEST(test_a_thread_takes_what_is_queued_as_one_batch_in_order) {
    fixture_t f;
    fixture_init(&f);
    ll_error_t err = {""};
    ll_workers_config_t cfg = config(&f, 1, 100, 8);
    ll_workers_t *w = ll_workers_start(&cfg, &err);
    LL_REQUIRE(w != NULL);
    LL_CHECK_EQ_INT(ll_workers_submit(w, task(GATED)), 0);
    wait_gated_started(&f); /* the worker holds a batch of one; the next 20 queue up */
    for (int i = 0; i < 20; i++) LL_CHECK_EQ_INT(ll_workers_submit(w, task(i)), 0);
    LL_CHECK_EQ_INT(ll_workers_pending(w), 21);
    open_gate(&f);
    ll_workers_wait_idle(w);
    ll_workers_stop(w);
    LL_CHECK_EQ_INT(f.n_ran, 21);
    LL_CHECK_EQ_INT(f.batches, 4); /* 1, then 8 + 8 + 4 */
    LL_CHECK_EQ_INT(f.batch_max_seen, 8);
    int in_order = f.ran[0] == GATED;
    for (int i = 0; i < 20; i++) in_order &= f.ran[i + 1] == i;
    LL_CHECK(in_order);
    fixture_fini(&f);
}

LL_TEST(test_a_full_ring_refuses_and_takes_again_once_drained) {
    fixture_t f;
    fixture_init(&f);
    ll_error_t err = {""};
    ll_workers_config_t cfg = config(&f, 1, 2, 1);
    ll_workers_t *w = ll_workers_start(&cfg, &err);
    LL_REQUIRE(w != NULL);
    LL_CHECK_EQ_INT(ll_workers_submit(w, task(GATED)), 0);
    wait_gated_started(&f); /* taken: the ring is empty again, with room for 2 */
    LL_CHECK_EQ_INT(ll_workers_submit(w, task(1)), 0);
    LL_CHECK_EQ_INT(ll_workers_submit(w, task(2)), 0);
    LL_CHECK_EQ_INT(ll_workers_submit(w, task(3)), LL_WORKERS_FULL);
    LL_CHECK_EQ_INT(ll_workers_pending(w), 3);
    open_gate(&f);
    ll_workers_wait_idle(w);
    LL_CHECK_EQ_INT(ll_workers_submit(w, task(4)), 0);
    ll_workers_stop(w);
    LL_CHECK_EQ_INT(f.n_ran, 4); /* the refused 3 never ran */
    LL_CHECK(f.ran[1] == 1 && f.ran[2] == 2 && f.ran[3] == 4);
    fixture_fini(&f);
}

typedef struct {
    fixture_t *f;
    ll_workers_t *w;
    int rc;
} submitter_t;

static void *submit_waiting(void *p) {
    submitter_t *s = p;
    s->rc = ll_workers_submit_wait(s->w, task(3));
    return NULL;
}

LL_TEST(test_submit_wait_blocks_while_full_then_queues) {
    fixture_t f;
    fixture_init(&f);
    ll_error_t err = {""};
    ll_workers_config_t cfg = config(&f, 1, 1, 1);
    ll_workers_t *w = ll_workers_start(&cfg, &err);
    LL_REQUIRE(w != NULL);
    LL_CHECK_EQ_INT(ll_workers_submit(w, task(GATED)), 0);
    wait_gated_started(&f);
    LL_CHECK_EQ_INT(ll_workers_submit(w, task(2)), 0);
    submitter_t s = {&f, w, 99};
    pthread_t th;
    LL_REQUIRE(pthread_create(&th, NULL, submit_waiting, &s) == 0);
    nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    LL_CHECK_EQ_INT(s.rc, 99); /* still waiting: the ring holds 2 */
    open_gate(&f);
    pthread_join(th, NULL);
    LL_CHECK_EQ_INT(s.rc, 0);
    ll_workers_wait_idle(w);
    ll_workers_stop(w);
    LL_CHECK_EQ_INT(f.n_ran, 3);
    LL_CHECK(f.ran[1] == 2 && f.ran[2] == 3);
    fixture_fini(&f);
}

typedef struct {
    fixture_t *f;
    int dropped[8];
    int n;
} dropped_t;

static void drop(void *t, void *arg) {
    dropped_t *d = arg;
    if (d->n < 8) d->dropped[d->n++] = (int)(intptr_t)t;
}

LL_TEST(test_cancel_drops_only_what_no_thread_took_in_order) {
    fixture_t f;
    fixture_init(&f);
    ll_error_t err = {""};
    ll_workers_config_t cfg = config(&f, 1, 8, 4);
    ll_workers_t *w = ll_workers_start(&cfg, &err);
    LL_REQUIRE(w != NULL);
    LL_CHECK_EQ_INT(ll_workers_submit(w, task(GATED)), 0);
    wait_gated_started(&f);
    for (int i = 1; i <= 3; i++) LL_CHECK_EQ_INT(ll_workers_submit(w, task(i)), 0);
    dropped_t d = {&f, {0}, 0};
    LL_CHECK_EQ_INT(ll_workers_cancel(w, drop, &d), 3);
    LL_CHECK(d.n == 3 && d.dropped[0] == 1 && d.dropped[1] == 2 && d.dropped[2] == 3);
    LL_CHECK_EQ_INT(ll_workers_cancel(w, drop, &d), 0);
    open_gate(&f);
    ll_workers_wait_idle(w);
    ll_workers_stop(w);
    LL_CHECK_EQ_INT(f.n_ran, 1); /* the gated one, taken before the cancel */
    fixture_fini(&f);
}

static void *open_gate_later(void *p) {
    nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL); /* the stop has begun by then */
    open_gate(p);
    return NULL;
}

LL_TEST(test_stop_runs_every_queued_task_and_refuses_new_ones) {
    fixture_t f;
    fixture_init(&f);
    ll_error_t err = {""};
    ll_workers_config_t cfg = config(&f, 2, 16, 2);
    ll_workers_t *w = ll_workers_start(&cfg, &err);
    LL_REQUIRE(w != NULL);
    f.pool = w;
    LL_CHECK_EQ_INT(ll_workers_submit(w, task(SUBMITS)), 0);
    wait_gated_started(&f);
    LL_CHECK_EQ_INT(ll_workers_submit(w, task(GATED)), 0); /* the other thread waits too */
    for (int i = 0; i < 10; i++) LL_CHECK_EQ_INT(ll_workers_submit(w, task(100 + i)), 0);
    pthread_t th;
    LL_REQUIRE(pthread_create(&th, NULL, open_gate_later, &f) == 0);
    ll_workers_stop(w); /* returns once the queued tasks ran and both threads joined */
    pthread_join(th, NULL);
    LL_CHECK_EQ_INT(f.n_ran, 12);
    LL_CHECK_EQ_INT(f.submit_in_run_rc, LL_WORKERS_STOPPING);
    int seen = 0;
    for (size_t i = 0; i < f.n_ran; i++)
        if (f.ran[i] >= 100) seen++;
    LL_CHECK_EQ_INT(seen, 10);
    LL_CHECK_EQ_INT(f.finis, 2);
    fixture_fini(&f);
}

LL_TEST(test_a_failed_init_undoes_the_start) {
    fixture_t f;
    fixture_init(&f);
    f.init_fail_at = 3;
    ll_error_t err = {""};
    ll_workers_config_t cfg = config(&f, 4, 4, 1);
    LL_CHECK(ll_workers_start(&cfg, &err) == NULL);
    LL_CHECK_EQ_STR(err.msg, "store unreachable");
    LL_CHECK_EQ_INT(f.inits, 3);
    LL_CHECK_EQ_INT(f.finis, 2); /* the two threads started were stopped, their contexts freed */
    fixture_fini(&f);

    fixture_init(&f); /* an init that fails without a reason still gets one */
    f.init_fail_at = 1;
    f.init_sets_err = 0;
    ll_error_clear(&err);
    LL_CHECK(ll_workers_start(&cfg, &err) == NULL);
    LL_CHECK_CONTAINS(err.msg, "test pool: cannot start a worker");
    LL_CHECK_EQ_INT(f.finis, 0);
    fixture_fini(&f);
}

LL_TEST(test_bad_configs_are_refused) {
    fixture_t f;
    fixture_init(&f);
    ll_error_t err = {""};
    ll_workers_config_t bad[] = {config(&f, 0, 4, 1), config(&f, LL_WORKERS_MAX + 1, 4, 1),
                                 config(&f, 1, 0, 1), config(&f, 1, 4, 1)};
    bad[3].run = NULL;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ll_error_clear(&err);
        LL_CHECK(ll_workers_start(&bad[i], &err) == NULL);
        LL_CHECK_CONTAINS(err.msg, "test pool: 1..32 threads");
    }
    LL_CHECK_EQ_INT(f.inits, 0);
    ll_workers_stop(NULL);
    fixture_fini(&f);
}

LL_TEST(test_many_threads_run_each_task_once) {
    static fixture_t f; /* large: off the stack */
    fixture_init(&f);
    ll_error_t err = {""};
    ll_workers_config_t cfg = config(&f, 4, 16, 4);
    ll_workers_t *w = ll_workers_start(&cfg, &err);
    LL_REQUIRE(w != NULL);
    LL_CHECK_EQ_INT(ll_workers_threads(w), 4);
    for (int i = 0; i < 4; i++) LL_CHECK(ll_workers_ctx(w, i) != NULL);
    for (int i = 0; i < RECORD_MAX; i++) LL_CHECK_EQ_INT(ll_workers_submit_wait(w, task(i)), 0);
    ll_workers_wait_idle(w);
    ll_workers_stop(w);
    static unsigned char seen[RECORD_MAX];
    memset(seen, 0, sizeof seen);
    int once = f.n_ran == RECORD_MAX;
    for (size_t i = 0; i < f.n_ran; i++) once &= seen[f.ran[i]]++ == 0;
    LL_CHECK(once);
    LL_CHECK(f.batch_max_seen <= 4);
    LL_CHECK(!f.ctx_mismatch);
    LL_CHECK_EQ_INT(f.finis, 4);
    fixture_fini(&f);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_one_thread_runs_tasks_in_submission_order),
        LL_CASE(test_a_thread_takes_what_is_queued_as_one_batch_in_order),
        LL_CASE(test_a_full_ring_refuses_and_takes_again_once_drained),
        LL_CASE(test_submit_wait_blocks_while_full_then_queues),
        LL_CASE(test_cancel_drops_only_what_no_thread_took_in_order),
        LL_CASE(test_stop_runs_every_queued_task_and_refuses_new_ones),
        LL_CASE(test_a_failed_init_undoes_the_start),
        LL_CASE(test_bad_configs_are_refused),
        LL_CASE(test_many_threads_run_each_task_once),
    };
    return ll_test_main(argc, argv, "workers", cases, LL_CASES(cases));
}
