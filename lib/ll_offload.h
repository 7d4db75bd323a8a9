/* ll_offload.h - runs blocking work (libmongoc, libpq) on worker threads for an h2o loop.
 *
 * Each worker owns a context made by thread_init (e.g. its own database connections: those
 * clients are not thread-safe). A job's run() executes on a worker; its done() then executes on
 * the loop thread, where it may answer the request. The loop never blocks on a database.
 */
#ifndef LL_OFFLOAD_H
#define LL_OFFLOAD_H

#include "ll_error.h"

#include <h2o.h>
#include <stddef.h>

typedef struct ll_offload_job {
    void (*run)(struct ll_offload_job *job, void *thread_ctx); /* worker thread */
    void (*done)(struct ll_offload_job *job);                  /* loop thread */
    h2o_multithread_message_t _msg;                            /* private */
} ll_offload_job_t;

typedef struct ll_offload ll_offload_t;

/* Starts threads workers. thread_init(arg, err) makes a worker's context (NULL: failure, start
 * fails); thread_fini frees it. Returns NULL with err set. */
ll_offload_t *ll_offload_start(h2o_loop_t *loop, int threads, size_t queue_max,
                               void *(*thread_init)(void *, ll_error_t *), void (*thread_fini)(void *),
                               void *arg, ll_error_t *err);

/* Queues job. Returns 0, or -1 when the queue is full or stopping (answer 503). */
int ll_offload_submit(ll_offload_t *o, ll_offload_job_t *job);

/* Jobs submitted whose done() has not run yet. Loop thread only. */
size_t ll_offload_pending(const ll_offload_t *o);

/* Finishes queued jobs (their done() runs no more), joins the workers, frees everything. */
void ll_offload_stop(ll_offload_t *o);

#endif
