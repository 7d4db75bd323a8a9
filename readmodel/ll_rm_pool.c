/* ll_rm_pool.c - see ll_rm_pool.h. The threads and the queue are an ll_workers pool (one task
 * per thread waiting, one taken at a time); this file adds each thread's read model, opened on
 * the thread itself, and the first error, which stops the tasks until ll_rm_pool_wait. */
#include "ll_rm_pool.h"

#include "ll_rm_store.h"
#include "ll_workers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ll_rm_task_fn fn; /* NULL: only open the thread (start's warm-up) */
    void *arg;
    void (*done)(void *arg);
} task_t;

/* One thread's connection: libmongoc clients are not thread-safe. */
typedef struct {
    ll_rm_client_t *client;
    ll_read_model_t rm;
    int open;
} thread_t;

struct ll_rm_pool {
    ll_workers_t *workers;
    pthread_mutex_t mu; /* guards rc and err */
    int rc;             /* the first error since the last wait; then err holds its message */
    ll_error_t err;
    char uri[1024], database[128];
    int64_t generation;
};

static void finish_task(task_t *t) {
    if (t->done != NULL) t->done(t->arg);
    free(t);
}

static void drop_task(void *task, void *arg) {
    (void)arg;
    finish_task(task);
}

static int failed(ll_rm_pool_t *p) {
    pthread_mutex_lock(&p->mu);
    int rc = p->rc;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void set_error(ll_rm_pool_t *p, int rc, const ll_error_t *err) {
    pthread_mutex_lock(&p->mu);
    if (p->rc == 0) {
        p->rc = rc;
        p->err = *err;
    }
    pthread_mutex_unlock(&p->mu);
    ll_workers_cancel(p->workers, drop_task, NULL); /* nothing more runs until the caller has seen it */
}

/* Connects this thread: a client of the pool's URI (once) and its generation opened (createIndexes,
 * a round trip). Returns 0, or a negative code with err set: the read store is unreachable or
 * refuses, and the thread stays closed until its next task tries again. */
static int open_thread(ll_rm_pool_t *p, thread_t *me, ll_error_t *err) {
    if (me->client == NULL &&
        (me->client = ll_rm_client_new(p->uri, p->database, "ledgerline-writer", err)) == NULL)
        return LL_EINVAL;
    return ll_read_model_open(&me->rm, me->client->mongo, p->database, p->generation, err);
}

/* Not connected here: init runs for one thread after another on the starting thread, and with
 * the store down each open would wait out the server selection in turn. */
static void *init_thread(void *arg, ll_error_t *err) {
    (void)arg;
    thread_t *me = calloc(1, sizeof *me);
    if (me == NULL) ll_error_set(err, LL_ENOMEM, "out of memory");
    return me;
}

static void fini_thread(void *ctx) {
    thread_t *me = ctx;
    if (me->open) ll_read_model_close(&me->rm);
    ll_rm_client_free(me->client);
    free(me);
}

/* One task (batch_max 1). A thread that could not open tries again with each task: once the
 * store is back the pool heals, instead of failing this thread's share for as long as it runs. */
static void run_task(void *ctx, void **tasks, size_t n, void *arg) {
    (void)n;
    thread_t *me = ctx;
    ll_rm_pool_t *p = arg;
    task_t *t = tasks[0];
    if (failed(p)) { /* taken while the error was being set: it never runs */
        finish_task(t);
        return;
    }
    ll_error_t err = {""};
    int rc = 0;
    if (!me->open) me->open = (rc = open_thread(p, me, &err)) == 0;
    if (me->open && t->fn != NULL) rc = t->fn(&me->rm, t->arg, &err);
    finish_task(t);
    if (rc != 0) set_error(p, rc, &err);
}

void ll_rm_pool_stop(ll_rm_pool_t *p) {
    if (p == NULL) return;
    if (p->workers != NULL) ll_workers_cancel(p->workers, drop_task, NULL);
    ll_workers_stop(p->workers); /* lets the tasks being run finish */
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* One open per thread at once, in parallel, while the caller goes on: the first tasks find their
 * connection ready and a store down at start is reported early (the pool's error). */
static void warm_up(ll_rm_pool_t *p, int threads) {
    for (int i = 0; i < threads; i++) {
        task_t *t = calloc(1, sizeof *t);
        if (t == NULL) return; /* the threads open with their first task instead */
        if (ll_workers_submit(p->workers, t) != 0) {
            free(t);
            return;
        }
    }
}

ll_rm_pool_t *ll_rm_pool_start(const char *mongo_uri, const char *database, int64_t generation, int threads,
                               ll_error_t *err) {
    if (threads < 1 || threads > LL_RM_POOL_THREADS_MAX ||
        strlen(mongo_uri) >= sizeof((ll_rm_pool_t *)0)->uri ||
        strlen(database) >= sizeof((ll_rm_pool_t *)0)->database) {
        ll_error_set(err, LL_EINVAL, "read-model pool: 1..%d threads, and a shorter mongo_uri or database",
                     LL_RM_POOL_THREADS_MAX);
        return NULL;
    }
    ll_rm_pool_t *p = calloc(1, sizeof *p);
    if (p == NULL) {
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    snprintf(p->uri, sizeof p->uri, "%s", mongo_uri);
    snprintf(p->database, sizeof p->database, "%s", database);
    p->generation = generation;
    /* One waiting task per thread keeps them all busy. */
    ll_workers_config_t cfg = {.name = "read-model pool",
                               .threads = threads,
                               .queue_max = (size_t)threads,
                               .batch_max = 1,
                               .init = init_thread,
                               .fini = fini_thread,
                               .run = run_task,
                               .arg = p};
    if ((p->workers = ll_workers_start(&cfg, err)) == NULL) {
        ll_rm_pool_stop(p);
        return NULL;
    }
    warm_up(p, threads);
    return p;
}

int ll_rm_pool_threads(const ll_rm_pool_t *p) {
    return ll_workers_threads(p->workers);
}

/* A task queued in the instant a running one fails is dropped by run_task (done called); the
 * caller meets the error at its next submit or wait. */
int ll_rm_pool_submit(ll_rm_pool_t *p, ll_rm_task_fn fn, void *arg, void (*done)(void *arg),
                      ll_error_t *err) {
    task_t *t = malloc(sizeof *t);
    if (t == NULL) {
        if (done != NULL) done(arg);
        return ll_error_set(err, LL_ENOMEM, "out of memory");
    }
    *t = (task_t){fn, arg, done};
    pthread_mutex_lock(&p->mu);
    int rc = p->rc;
    if (rc != 0) *err = p->err;
    pthread_mutex_unlock(&p->mu);
    if (rc == 0 && ll_workers_submit_wait(p->workers, t) != 0)
        rc = ll_error_set(err, LL_EIO, "read-model pool: stopping");
    if (rc != 0) finish_task(t);
    return rc;
}

int ll_rm_pool_wait(ll_rm_pool_t *p, ll_error_t *err) {
    ll_workers_wait_idle(p->workers);
    pthread_mutex_lock(&p->mu);
    int rc = p->rc;
    if (rc != 0) *err = p->err;
    p->rc = 0;
    ll_error_clear(&p->err);
    pthread_mutex_unlock(&p->mu);
    return rc;
}
