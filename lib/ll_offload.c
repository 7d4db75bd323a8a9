/* ll_offload.c - see ll_offload.h. */
#include "ll_offload.h"

#include <pthread.h>
#include <stdlib.h>

#define WORKERS_MAX 32

struct ll_offload {
    pthread_mutex_t mu;
    pthread_cond_t nonempty;
    ll_offload_job_t **ring;
    size_t cap, head, count;
    int stopping;
    size_t pending; /* loop thread only */
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
    void *(*thread_init)(void *, ll_error_t *);
    void (*thread_fini)(void *);
    void *arg;
    int n_threads;
    pthread_t threads[WORKERS_MAX];
    void *ctx[WORKERS_MAX];
};

typedef struct {
    ll_offload_t *o;
    int index;
} worker_arg_t;

static void *worker_main(void *p) {
    worker_arg_t a = *(worker_arg_t *)p;
    free(p);
    ll_offload_t *o = a.o;
    for (;;) {
        pthread_mutex_lock(&o->mu);
        while (o->count == 0 && !o->stopping) pthread_cond_wait(&o->nonempty, &o->mu);
        if (o->count == 0) {
            pthread_mutex_unlock(&o->mu);
            return NULL;
        }
        ll_offload_job_t *job = o->ring[o->head];
        o->head = (o->head + 1) % o->cap;
        o->count--;
        pthread_mutex_unlock(&o->mu);
        job->run(job, o->ctx[a.index]);
        h2o_multithread_send_message(&o->receiver, &job->_msg);
    }
}

static void on_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages) {
    ll_offload_t *o = H2O_STRUCT_FROM_MEMBER(ll_offload_t, receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *msg =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&msg->link);
        ll_offload_job_t *job = H2O_STRUCT_FROM_MEMBER(ll_offload_job_t, _msg, msg);
        o->pending--;
        job->done(job);
    }
}

ll_offload_t *ll_offload_start(h2o_loop_t *loop, int threads, size_t queue_max,
                               void *(*thread_init)(void *, ll_error_t *), void (*thread_fini)(void *),
                               void *arg, ll_error_t *err) {
    if (threads < 1 || threads > WORKERS_MAX || queue_max < 1) {
        ll_error_set(err, LL_EINVAL, "offload: 1..%d workers and a non-empty queue", WORKERS_MAX);
        return NULL;
    }
    ll_offload_t *o = calloc(1, sizeof *o);
    if (o == NULL || (o->ring = calloc(queue_max, sizeof *o->ring)) == NULL) {
        free(o);
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->nonempty, NULL);
    o->cap = queue_max;
    o->thread_init = thread_init;
    o->thread_fini = thread_fini;
    o->arg = arg;
    o->queue = h2o_multithread_create_queue(loop);
    h2o_multithread_register_receiver(o->queue, &o->receiver, on_done);
    for (int i = 0; i < threads; i++) {
        o->ctx[i] = thread_init(arg, err);
        worker_arg_t *wa = o->ctx[i] ? malloc(sizeof *wa) : NULL;
        if (wa != NULL) *wa = (worker_arg_t){o, i};
        if (wa == NULL || pthread_create(&o->threads[i], NULL, worker_main, wa) != 0) {
            free(wa);
            if (o->ctx[i] != NULL) thread_fini(o->ctx[i]);
            o->ctx[i] = NULL;
            if (!err || !err->msg[0]) ll_error_set(err, LL_ENOMEM, "cannot start a worker");
            ll_offload_stop(o);
            return NULL;
        }
        o->n_threads++;
    }
    return o;
}

int ll_offload_submit(ll_offload_t *o, ll_offload_job_t *job) {
    pthread_mutex_lock(&o->mu);
    int ok = !o->stopping && o->count < o->cap;
    if (ok) {
        o->ring[(o->head + o->count) % o->cap] = job;
        o->count++;
        pthread_cond_signal(&o->nonempty);
    }
    pthread_mutex_unlock(&o->mu);
    if (ok) o->pending++;
    return ok ? 0 : -1;
}

size_t ll_offload_pending(const ll_offload_t *o) {
    return o->pending;
}

void ll_offload_stop(ll_offload_t *o) {
    if (o == NULL) return;
    pthread_mutex_lock(&o->mu);
    o->stopping = 1;
    pthread_cond_broadcast(&o->nonempty);
    pthread_mutex_unlock(&o->mu);
    for (int i = 0; i < o->n_threads; i++) {
        pthread_join(o->threads[i], NULL);
        o->thread_fini(o->ctx[i]);
    }
    h2o_multithread_unregister_receiver(o->queue, &o->receiver);
    h2o_multithread_destroy_queue(o->queue);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->nonempty);
    free(o->ring);
    free(o);
}
