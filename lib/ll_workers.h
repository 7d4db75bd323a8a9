/* ll_workers.h - a pool of worker threads fed from one bounded FIFO ring of tasks.
 *
 * Why: blocking work (libpq, libmongoc) must run off the h2o loop, on threads that each own a
 * context (their connections: those clients are not thread-safe). Every pool in ledgerline is
 * this one mechanism; its users add only what they do with a task.
 *
 * Ordering: tasks are taken in submission order. A thread takes up to batch_max queued tasks at
 * once (group commit) and runs them in order; with several threads, batches run side by side.
 * A task is opaque to the pool (void *): the submitter keeps ownership, run() decides its fate.
 */
#ifndef LL_WORKERS_H
#define LL_WORKERS_H

#include "ll_error.h"

#include <stddef.h>

#define LL_WORKERS_MAX 32

/* What ll_workers_submit returns besides 0: nothing was queued. */
enum { LL_WORKERS_FULL = -1, LL_WORKERS_STOPPING = -2 };

typedef struct ll_workers ll_workers_t;

typedef struct {
    const char *name; /* in error messages */
    int threads;      /* 1..LL_WORKERS_MAX */
    size_t queue_max; /* tasks queued and not yet taken, at most (>= 1) */
    size_t batch_max; /* tasks a thread takes at once (0 counts as 1) */
    /* Makes one thread's context, on the thread calling ll_workers_start, before that thread
     * starts; NULL with err set fails the start. NULL init: every context is NULL. */
    void *(*init)(void *arg, ll_error_t *err);
    /* Frees a context init made, after its thread has been joined. May be NULL. */
    void (*fini)(void *ctx);
    /* Runs tasks[0..n) (1 <= n <= batch_max) on a worker thread with its context. */
    void (*run)(void *ctx, void **tasks, size_t n, void *arg);
    void *arg; /* passed to init and run */
} ll_workers_config_t;

/* Starts cfg->threads threads (cfg is copied). Returns NULL with err set when cfg is out of
 * range, memory runs out, an init fails or a thread cannot start (those started are stopped). */
ll_workers_t *ll_workers_start(const ll_workers_config_t *cfg, ll_error_t *err);

/* Queues task without blocking. Returns 0, LL_WORKERS_FULL (queue_max tasks wait) or
 * LL_WORKERS_STOPPING: then the pool never saw task (back-pressure: the caller refuses). */
int ll_workers_submit(ll_workers_t *w, void *task);

/* Queues task, blocking while the queue is full. Returns 0 or LL_WORKERS_STOPPING. */
int ll_workers_submit_wait(ll_workers_t *w, void *task);

/* Tasks queued or being run (a batch counts until run() returns). */
size_t ll_workers_pending(ll_workers_t *w);

/* Blocks until nothing is queued or being run. */
void ll_workers_wait_idle(ll_workers_t *w);

/* Takes every queued task no thread has taken yet out of the queue and calls drop(task, arg) on
 * each, in order, outside the pool's lock (so drop may submit). Returns how many. Any thread. */
size_t ll_workers_cancel(ll_workers_t *w, void (*drop)(void *task, void *arg), void *arg);

int ll_workers_threads(const ll_workers_t *w);

/* Thread i's context (0 <= i < ll_workers_threads), as init made it. Shared with that thread:
 * read only what is safe to read from another thread. */
void *ll_workers_ctx(const ll_workers_t *w, int i);

/* Refuses new tasks (submit answers LL_WORKERS_STOPPING), lets the threads run every task still
 * queued, joins them, calls fini on each context and frees the pool. NULL is fine. Not from a
 * worker thread; until it returns only the pool's own threads (run) may still call on w. */
void ll_workers_stop(ll_workers_t *w);

#endif
