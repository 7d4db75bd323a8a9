/* ll_writer.c - see ll_writer.h. */
#include "ll_writer.h"

#include "ll_store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WRITERS_MAX 16

struct ll_writer_pool {
    pthread_mutex_t mu;
    pthread_cond_t nonempty;
    ll_write_t **ring; /* queue of capacity cap */
    size_t cap, head, count;
    size_t in_progress; /* taken by a writer, not yet done */
    int stopping;
    ll_writer_done_fn done;
    void *ctx;
    int n_threads;
    pthread_t threads[WRITERS_MAX];
    ll_store_t *stores[WRITERS_MAX];
};

typedef struct {
    ll_writer_pool_t *pool;
    int index;
} writer_arg_t;

static void *writer_main(void *arg) {
    writer_arg_t a = *(writer_arg_t *)arg;
    free(arg);
    ll_writer_pool_t *p = a.pool;
    ll_write_t *batch[LL_STORE_BATCH_MAX];
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->count == 0 && !p->stopping) pthread_cond_wait(&p->nonempty, &p->mu);
        if (p->count == 0 && p->stopping) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        size_t n = 0;
        while (p->count > 0 && n < LL_STORE_BATCH_MAX) {
            batch[n++] = p->ring[p->head];
            p->head = (p->head + 1) % p->cap;
            p->count--;
        }
        p->in_progress += n;
        pthread_mutex_unlock(&p->mu);

        ll_store_execute(p->stores[a.index], batch, n);
        for (size_t i = 0; i < n; i++) p->done(batch[i], p->ctx);

        pthread_mutex_lock(&p->mu);
        p->in_progress -= n;
        pthread_mutex_unlock(&p->mu);
    }
}

ll_writer_pool_t *ll_writer_pool_start(const char *conninfo, long long statement_timeout_ms,
                                       long long retention_s, int threads,
                                       size_t queue_max,
                                       ll_writer_done_fn done, void *ctx, ll_error_t *err) {
    if (threads < 1 || threads > WRITERS_MAX || queue_max < 1) {
        ll_error_set(err, LL_EINVAL, "writer pool: 1..%d threads and a non-empty queue", WRITERS_MAX);
        return NULL;
    }
    ll_writer_pool_t *p = calloc(1, sizeof *p);
    if (p == NULL || (p->ring = calloc(queue_max, sizeof *p->ring)) == NULL) {
        free(p);
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->nonempty, NULL);
    p->cap = queue_max;
    p->done = done;
    p->ctx = ctx;
    for (int i = 0; i < threads; i++) {
        p->stores[i] = ll_store_open(conninfo, statement_timeout_ms, retention_s, err);
        writer_arg_t *arg = p->stores[i] ? malloc(sizeof *arg) : NULL;
        if (arg != NULL) *arg = (writer_arg_t){p, i}; /* before the thread can read it */
        if (arg == NULL || pthread_create(&p->threads[i], NULL, writer_main, arg) != 0) {
            if (p->stores[i] != NULL && arg == NULL) ll_error_set(err, LL_ENOMEM, "out of memory");
            free(arg);
            ll_store_close(p->stores[i]);
            p->stores[i] = NULL;
            ll_writer_pool_stop(p);
            return NULL;
        }
        p->n_threads++;
    }
    return p;
}

int ll_writer_pool_submit(ll_writer_pool_t *p, ll_write_t *w) {
    pthread_mutex_lock(&p->mu);
    int ok = !p->stopping && p->count < p->cap;
    if (ok) {
        p->ring[(p->head + p->count) % p->cap] = w;
        p->count++;
        pthread_cond_signal(&p->nonempty);
    }
    pthread_mutex_unlock(&p->mu);
    return ok ? 0 : -1;
}

size_t ll_writer_pool_pending(ll_writer_pool_t *p) {
    pthread_mutex_lock(&p->mu);
    size_t n = p->count + p->in_progress;
    pthread_mutex_unlock(&p->mu);
    return n;
}

uint64_t ll_writer_pool_errors(ll_writer_pool_t *p) {
    uint64_t n = 0;
    for (int i = 0; i < p->n_threads; i++) n += ll_store_errors(p->stores[i]);
    return n;
}

int ll_writer_pool_healthy(ll_writer_pool_t *p) {
    for (int i = 0; i < p->n_threads; i++)
        if (!ll_store_healthy(p->stores[i])) return 0;
    return p->n_threads > 0;
}

void ll_writer_pool_stop(ll_writer_pool_t *p) {
    if (p == NULL) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->nonempty);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads; i++) {
        pthread_join(p->threads[i], NULL);
        ll_store_close(p->stores[i]);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->nonempty);
    free(p->ring);
    free(p);
}
