/* ll_rm_pool.c - see ll_rm_pool.h. A bounded queue of tasks under one mutex. */
#include "ll_rm_pool.h"

#include "ll_rm_store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct task {
    struct task *next;
    ll_rm_task_fn fn;
    void *arg;
    void (*done)(void *arg);
} task_t;

typedef struct {
    ll_rm_pool_t *pool;
    pthread_t thread;
    int started;
} worker_t;

struct ll_rm_pool {
    pthread_mutex_t mu;
    pthread_cond_t changed; /* a task queued or taken, a task done, an error, closing */
    task_t *head, *tail;
    size_t queued, queue_max, busy;
    int closing;
    int rc; /* the first error since the last wait; then err holds its message */
    ll_error_t err;
    char uri[1024], database[128];
    int64_t generation;
    int threads;
    worker_t workers[LL_RM_POOL_THREADS_MAX];
};

static void finish_task(task_t *t) {
    if (t->done != NULL) t->done(t->arg);
    free(t);
}

/* Drops every queued task (their done is called). Holds mu. */
static void drop_queued(ll_rm_pool_t *p) {
    while (p->head != NULL) {
        task_t *t = p->head;
        p->head = t->next;
        finish_task(t);
    }
    p->tail = NULL;
    p->queued = 0;
}

static void set_error(ll_rm_pool_t *p, int rc, const ll_error_t *err) {
    pthread_mutex_lock(&p->mu);
    if (p->rc == 0) {
        p->rc = rc;
        p->err = *err;
    }
    drop_queued(p); /* nothing more runs until the caller has seen the error */
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->mu);
}

/* Connects this thread: a client of the pool's URI (once) and its generation opened (createIndexes,
 * a round trip). Returns 0, or a negative code with err set: the read store is unreachable or
 * refuses, and the thread stays closed until the next try. */
static int open_thread(ll_rm_pool_t *p, ll_rm_client_t **client, ll_read_model_t *rm, ll_error_t *err) {
    if (*client == NULL && (*client = ll_rm_client_new(p->uri, p->database, "ledgerline-writer", err)) == NULL)
        return LL_EINVAL;
    return ll_read_model_open(rm, (*client)->mongo, p->database, p->generation, err);
}

static void *worker_main(void *arg) {
    ll_rm_pool_t *p = ((worker_t *)arg)->pool;
    ll_error_t err = {""};
    ll_read_model_t rm;
    memset(&rm, 0, sizeof rm);
    ll_rm_client_t *client = NULL;
    /* Opened at once, so the first tasks find it ready and a store down at start is reported early. */
    int rc = open_thread(p, &client, &rm, &err);
    if (rc != 0) set_error(p, rc, &err);
    int open = rc == 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->head == NULL && !p->closing) pthread_cond_wait(&p->changed, &p->mu);
        task_t *t = p->head;
        if (t != NULL) {
            p->head = t->next;
            if (p->head == NULL) p->tail = NULL;
            p->queued--;
            p->busy++;
            pthread_cond_broadcast(&p->changed); /* room for the submitter */
        }
        pthread_mutex_unlock(&p->mu);
        if (t == NULL) break; /* closing with nothing left */
        ll_error_clear(&err);
        /* A thread that could not open tries again with each task: once the store is back the
         * pool heals, instead of failing this thread's share for as long as it runs. */
        rc = 0;
        if (!open) open = (rc = open_thread(p, &client, &rm, &err)) == 0;
        if (open) rc = t->fn(&rm, t->arg, &err);
        finish_task(t);
        if (rc != 0) set_error(p, rc, &err);
        pthread_mutex_lock(&p->mu);
        p->busy--;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->mu);
    }
    if (open) ll_read_model_close(&rm);
    ll_rm_client_free(client);
    return NULL;
}

void ll_rm_pool_stop(ll_rm_pool_t *p) {
    if (p == NULL) return;
    pthread_mutex_lock(&p->mu);
    p->closing = 1;
    drop_queued(p);
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->threads; i++)
        if (p->workers[i].started) pthread_join(p->workers[i].thread, NULL);
    pthread_cond_destroy(&p->changed);
    pthread_mutex_destroy(&p->mu);
    free(p);
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
    pthread_cond_init(&p->changed, NULL);
    snprintf(p->uri, sizeof p->uri, "%s", mongo_uri);
    snprintf(p->database, sizeof p->database, "%s", database);
    p->generation = generation;
    p->threads = threads;
    p->queue_max = (size_t)threads; /* one waiting task per thread keeps them all busy */
    for (int i = 0; i < threads; i++) {
        p->workers[i].pool = p;
        if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0) {
            ll_error_set(err, LL_ENOMEM, "read-model pool: cannot start a thread");
            ll_rm_pool_stop(p);
            return NULL;
        }
        p->workers[i].started = 1;
    }
    return p;
}

int ll_rm_pool_threads(const ll_rm_pool_t *p) {
    return p->threads;
}

int ll_rm_pool_submit(ll_rm_pool_t *p, ll_rm_task_fn fn, void *arg, void (*done)(void *arg),
                      ll_error_t *err) {
    task_t *t = malloc(sizeof *t);
    if (t == NULL) {
        if (done != NULL) done(arg);
        return ll_error_set(err, LL_ENOMEM, "out of memory");
    }
    *t = (task_t){NULL, fn, arg, done};
    pthread_mutex_lock(&p->mu);
    while (p->queued >= p->queue_max && p->rc == 0) pthread_cond_wait(&p->changed, &p->mu);
    int rc = p->rc;
    if (rc == 0) {
        if (p->tail != NULL)
            p->tail->next = t;
        else
            p->head = t;
        p->tail = t;
        p->queued++;
        pthread_cond_broadcast(&p->changed);
    } else {
        *err = p->err;
    }
    pthread_mutex_unlock(&p->mu);
    if (rc != 0) finish_task(t);
    return rc;
}

int ll_rm_pool_wait(ll_rm_pool_t *p, ll_error_t *err) {
    pthread_mutex_lock(&p->mu);
    while (p->queued > 0 || p->busy > 0) pthread_cond_wait(&p->changed, &p->mu);
    int rc = p->rc;
    if (rc != 0) *err = p->err;
    p->rc = 0;
    ll_error_clear(&p->err);
    pthread_mutex_unlock(&p->mu);
    return rc;
}
