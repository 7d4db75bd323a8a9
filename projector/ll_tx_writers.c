/* ll_tx_writers.c - see ll_tx_writers.h. A bounded queue of batches under one mutex; each thread
 * owns a MongoDB client (libmongoc clients are not thread-safe) and its read-model handle. */
#include "ll_tx_writers.h"

#include "ll_read_model.h"

#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define THREADS_MAX 16

typedef struct batch {
    struct batch *next;
    size_t n;
    ll_event_t events[]; /* n of them */
} batch_t;

typedef struct {
    ll_tx_writers_t *pool;
    pthread_t thread;
    int started;
} writer_t;

struct ll_tx_writers {
    pthread_mutex_t mu;
    pthread_cond_t changed; /* a batch queued or taken, a writer done, an error */
    batch_t *head, *tail;
    size_t queued, queue_max, busy;
    int closing;
    int rc; /* the first error; then err holds its message */
    ll_error_t err;
    char uri[1024], database[128];
    int64_t generation;
    int threads;
    writer_t writers[THREADS_MAX];
};

static void set_error(ll_tx_writers_t *w, int rc, const ll_error_t *err) {
    pthread_mutex_lock(&w->mu);
    if (w->rc == 0) {
        w->rc = rc;
        w->err = *err;
    }
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->mu);
}

static void *writer_main(void *arg) {
    ll_tx_writers_t *w = ((writer_t *)arg)->pool;
    ll_error_t err = {""};
    ll_read_model_t rm;
    memset(&rm, 0, sizeof rm);
    mongoc_client_t *client = mongoc_client_new(w->uri);
    if (client == NULL) {
        ll_error_set(&err, LL_EINVAL, "writer: bad mongo_uri");
        set_error(w, LL_EINVAL, &err);
        return NULL;
    }
    int rc = ll_read_model_open(&rm, client, w->database, w->generation, &err);
    if (rc != 0) set_error(w, rc, &err);
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->head == NULL && !w->closing && w->rc == 0) pthread_cond_wait(&w->changed, &w->mu);
        batch_t *b = w->rc == 0 ? w->head : NULL;
        if (b != NULL) {
            w->head = b->next;
            if (w->head == NULL) w->tail = NULL;
            w->queued--;
            w->busy++;
            pthread_cond_broadcast(&w->changed); /* room for the submitter */
        }
        pthread_mutex_unlock(&w->mu);
        if (b == NULL) break; /* closing with nothing left, or an error somewhere */
        rc = ll_read_model_insert_transactions(&rm, b->events, b->n, &err);
        free(b);
        if (rc != 0) set_error(w, rc, &err);
        pthread_mutex_lock(&w->mu);
        w->busy--;
        pthread_cond_broadcast(&w->changed);
        pthread_mutex_unlock(&w->mu);
    }
    if (rm.accounts != NULL) ll_read_model_close(&rm);
    mongoc_client_destroy(client);
    return NULL;
}

/* Stops the threads, frees what is still queued and the pool. */
static void stop_and_free(ll_tx_writers_t *w) {
    pthread_mutex_lock(&w->mu);
    w->closing = 1;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->threads; i++)
        if (w->writers[i].started) pthread_join(w->writers[i].thread, NULL);
    while (w->head != NULL) {
        batch_t *b = w->head;
        w->head = b->next;
        free(b);
    }
    pthread_cond_destroy(&w->changed);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

ll_tx_writers_t *ll_tx_writers_start(const char *mongo_uri, const char *database, int64_t generation,
                                     int threads, ll_error_t *err) {
    if (threads < 1 || threads > THREADS_MAX || strlen(mongo_uri) >= sizeof((ll_tx_writers_t *)0)->uri ||
        strlen(database) >= sizeof((ll_tx_writers_t *)0)->database) {
        ll_error_set(err, LL_EINVAL, "writers: 1..%d threads, and a shorter mongo_uri or database", THREADS_MAX);
        return NULL;
    }
    ll_tx_writers_t *w = calloc(1, sizeof *w);
    if (w == NULL) {
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->changed, NULL);
    snprintf(w->uri, sizeof w->uri, "%s", mongo_uri);
    snprintf(w->database, sizeof w->database, "%s", database);
    w->generation = generation;
    w->threads = threads;
    w->queue_max = (size_t)threads; /* one waiting batch per writer keeps them all busy */
    for (int i = 0; i < threads; i++) {
        w->writers[i].pool = w;
        if (pthread_create(&w->writers[i].thread, NULL, writer_main, &w->writers[i]) != 0) {
            ll_error_set(err, LL_ENOMEM, "writers: cannot start a thread");
            stop_and_free(w);
            return NULL;
        }
        w->writers[i].started = 1;
    }
    return w;
}

int ll_tx_writers_submit(ll_tx_writers_t *w, const ll_event_t *events, size_t n, ll_error_t *err) {
    if (n == 0) return 0;
    batch_t *b = malloc(sizeof *b + n * sizeof b->events[0]);
    if (b == NULL) return ll_error_set(err, LL_ENOMEM, "out of memory");
    b->next = NULL;
    b->n = n;
    memcpy(b->events, events, n * sizeof events[0]);
    pthread_mutex_lock(&w->mu);
    while (w->queued >= w->queue_max && w->rc == 0) pthread_cond_wait(&w->changed, &w->mu);
    int rc = w->rc;
    if (rc == 0) {
        if (w->tail != NULL)
            w->tail->next = b;
        else
            w->head = b;
        w->tail = b;
        w->queued++;
        pthread_cond_broadcast(&w->changed);
    } else {
        *err = w->err;
        free(b);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int ll_tx_writers_finish(ll_tx_writers_t *w, ll_error_t *err) {
    pthread_mutex_lock(&w->mu);
    while ((w->queued > 0 || w->busy > 0) && w->rc == 0) pthread_cond_wait(&w->changed, &w->mu);
    int rc = w->rc;
    if (rc != 0) *err = w->err;
    pthread_mutex_unlock(&w->mu);
    stop_and_free(w);
    return rc;
}
