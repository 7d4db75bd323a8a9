/* ll_workers.c - see ll_workers.h. One mutex guards the ring and the counters; workers sleep on
 * nonempty, submit_wait and wait_idle on changed (signalled only when someone waits on it). */
#include "ll_workers.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct {
    ll_workers_t *pool;
    pthread_t thread;
    void *ctx;
    void **batch; /* batch_max slots, this thread's only */
} worker_t;

struct ll_workers {
    pthread_mutex_t mu;
    pthread_cond_t nonempty; /* a task queued, or stopping */
    pthread_cond_t changed;  /* a task taken or finished, or stopping */
    size_t waiters;          /* threads waiting on changed */
    void **ring;
    size_t head, count;
    size_t in_progress; /* taken by a worker, run() not returned yet */
    int stopping;
    ll_workers_config_t cfg;
    int started; /* threads running, workers[0..started) */
    worker_t workers[LL_WORKERS_MAX];
};

/* Wakes submit_wait and wait_idle, if any waits. Holds mu. */
static void note_change(ll_workers_t *w) {
    if (w->waiters > 0) pthread_cond_broadcast(&w->changed);
}

/* Takes up to batch_max queued tasks into batch. Holds mu. */
static size_t take(ll_workers_t *w, void **batch) {
    size_t n = 0;
    while (w->count > 0 && n < w->cfg.batch_max) {
        batch[n++] = w->ring[w->head];
        w->head = (w->head + 1) % w->cfg.queue_max;
        w->count--;
    }
    w->in_progress += n;
    note_change(w);
    return n;
}

static void *worker_main(void *p) {
    worker_t *me = p;
    ll_workers_t *w = me->pool;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->count == 0 && !w->stopping) pthread_cond_wait(&w->nonempty, &w->mu);
        size_t n = take(w, me->batch);
        pthread_mutex_unlock(&w->mu);
        if (n == 0) return NULL; /* stopping with nothing left */
        w->cfg.run(me->ctx, me->batch, n, w->cfg.arg);
        pthread_mutex_lock(&w->mu);
        w->in_progress -= n;
        note_change(w);
        pthread_mutex_unlock(&w->mu);
    }
}

/* Makes worker i's context and starts its thread. Returns 0 or a negative code with err set. */
static int start_worker(ll_workers_t *w, int i, ll_error_t *err) {
    worker_t *me = &w->workers[i];
    me->pool = w;
    if ((me->batch = calloc(w->cfg.batch_max, sizeof *me->batch)) == NULL)
        return ll_error_set(err, LL_ENOMEM, "out of memory");
    if (w->cfg.init != NULL && (me->ctx = w->cfg.init(w->cfg.arg, err)) == NULL) {
        if (err == NULL || !err->msg[0]) ll_error_set(err, LL_EIO, "%s: cannot start a worker", w->cfg.name);
        return LL_EIO;
    }
    if (pthread_create(&me->thread, NULL, worker_main, me) != 0) {
        if (w->cfg.fini != NULL && me->ctx != NULL) w->cfg.fini(me->ctx);
        me->ctx = NULL;
        return ll_error_set(err, LL_ENOMEM, "%s: cannot start a thread", w->cfg.name);
    }
    return 0;
}

ll_workers_t *ll_workers_start(const ll_workers_config_t *cfg, ll_error_t *err) {
    const char *name = cfg->name ? cfg->name : "workers";
    if (cfg->threads < 1 || cfg->threads > LL_WORKERS_MAX || cfg->queue_max < 1 || cfg->run == NULL) {
        ll_error_set(err, LL_EINVAL, "%s: 1..%d threads and a non-empty queue", name, LL_WORKERS_MAX);
        return NULL;
    }
    ll_workers_t *w = calloc(1, sizeof *w);
    if (w == NULL || (w->ring = calloc(cfg->queue_max, sizeof *w->ring)) == NULL) {
        free(w);
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    w->cfg = *cfg;
    w->cfg.name = name;
    if (w->cfg.batch_max == 0) w->cfg.batch_max = 1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->nonempty, NULL);
    pthread_cond_init(&w->changed, NULL);
    for (int i = 0; i < cfg->threads; i++) {
        if (start_worker(w, i, err) != 0) {
            free(w->workers[i].batch);
            ll_workers_stop(w);
            return NULL;
        }
        w->started++;
    }
    return w;
}

/* Queues task if there is room. Holds mu. */
static int enqueue(ll_workers_t *w, void *task) {
    if (w->stopping) return LL_WORKERS_STOPPING;
    if (w->count >= w->cfg.queue_max) return LL_WORKERS_FULL;
    w->ring[(w->head + w->count) % w->cfg.queue_max] = task;
    w->count++;
    pthread_cond_signal(&w->nonempty);
    return 0;
}

int ll_workers_submit(ll_workers_t *w, void *task) {
    pthread_mutex_lock(&w->mu);
    int rc = enqueue(w, task);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int ll_workers_submit_wait(ll_workers_t *w, void *task) {
    pthread_mutex_lock(&w->mu);
    int rc;
    w->waiters++;
    while ((rc = enqueue(w, task)) == LL_WORKERS_FULL) pthread_cond_wait(&w->changed, &w->mu);
    w->waiters--;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

size_t ll_workers_pending(ll_workers_t *w) {
    pthread_mutex_lock(&w->mu);
    size_t n = w->count + w->in_progress;
    pthread_mutex_unlock(&w->mu);
    return n;
}

void ll_workers_wait_idle(ll_workers_t *w) {
    pthread_mutex_lock(&w->mu);
    w->waiters++;
    while (w->count > 0 || w->in_progress > 0) pthread_cond_wait(&w->changed, &w->mu);
    w->waiters--;
    pthread_mutex_unlock(&w->mu);
}

size_t ll_workers_cancel(ll_workers_t *w, void (*drop)(void *task, void *arg), void *arg) {
    pthread_mutex_lock(&w->mu);
    size_t n = w->count;
    void **taken = n > 0 ? malloc(n * sizeof *taken) : NULL;
    if (taken == NULL) n = 0; /* out of memory: they stay queued and run */
    for (size_t i = 0; i < n; i++) {
        taken[i] = w->ring[w->head];
        w->head = (w->head + 1) % w->cfg.queue_max;
    }
    w->count -= n;
    if (n > 0) note_change(w);
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < n; i++) drop(taken[i], arg);
    free(taken);
    return n;
}

int ll_workers_threads(const ll_workers_t *w) {
    return w->started;
}

void *ll_workers_ctx(const ll_workers_t *w, int i) {
    return w->workers[i].ctx;
}

void ll_workers_stop(ll_workers_t *w) {
    if (w == NULL) return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->nonempty);
    pthread_cond_broadcast(&w->changed); /* a submit_wait gives up */
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->started; i++) {
        pthread_join(w->workers[i].thread, NULL);
        if (w->cfg.fini != NULL && w->workers[i].ctx != NULL) w->cfg.fini(w->workers[i].ctx);
        free(w->workers[i].batch);
    }
    pthread_cond_destroy(&w->changed);
    pthread_cond_destroy(&w->nonempty);
    pthread_mutex_destroy(&w->mu);
    free(w->ring);
    free(w);
}
