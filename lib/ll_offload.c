/* ll_offload.c - see ll_offload.h. The threads and the queue are an ll_workers pool, the way
 * back to the loop an ll_loop_inbox; this file adds the loop's count of pending jobs. */
#include "ll_offload.h"

#include "ll_loop_inbox.h"
#include "ll_workers.h"

#include <stdlib.h>

struct ll_offload {
    ll_workers_t *workers;
    size_t pending; /* loop thread only */
    ll_loop_inbox_t done;
    void *(*thread_init)(void *, ll_error_t *);
    void *init_arg;
};

/* The pool's init gets the offload; the caller's thread_init its own argument. */
static void *init_thread(void *arg, ll_error_t *err) {
    ll_offload_t *o = arg;
    return o->thread_init(o->init_arg, err);
}

/* Worker thread: one job (batch_max 1), then its done() is sent to the loop. */
static void run_jobs(void *thread_ctx, void **tasks, size_t n, void *arg) {
    ll_offload_t *o = arg;
    for (size_t i = 0; i < n; i++) {
        ll_offload_job_t *job = tasks[i];
        job->run(job, thread_ctx);
        ll_loop_inbox_post(&o->done, &job->_msg);
    }
}

static void on_done(h2o_multithread_message_t *msg, void *arg) {
    ll_offload_t *o = arg;
    ll_offload_job_t *job = H2O_STRUCT_FROM_MEMBER(ll_offload_job_t, _msg, msg);
    o->pending--;
    job->done(job);
}

ll_offload_t *ll_offload_start(h2o_loop_t *loop, int threads, size_t queue_max,
                               void *(*thread_init)(void *, ll_error_t *), void (*thread_fini)(void *),
                               void *arg, ll_error_t *err) {
    ll_offload_t *o = calloc(1, sizeof *o);
    if (o == NULL) {
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    /* The receiver exists before any worker can send to it. */
    ll_loop_inbox_open(&o->done, loop, on_done, o);
    o->thread_init = thread_init;
    o->init_arg = arg;
    ll_workers_config_t cfg = {.name = "offload",
                               .threads = threads,
                               .queue_max = queue_max,
                               .batch_max = 1,
                               .init = init_thread,
                               .fini = thread_fini,
                               .run = run_jobs,
                               .arg = o};
    o->workers = ll_workers_start(&cfg, err);
    if (o->workers == NULL) {
        ll_offload_stop(o);
        return NULL;
    }
    return o;
}

int ll_offload_submit(ll_offload_t *o, ll_offload_job_t *job) {
    if (ll_workers_submit(o->workers, job) != 0) return -1;
    o->pending++;
    return 0;
}

size_t ll_offload_pending(const ll_offload_t *o) {
    return o->pending;
}

void ll_offload_stop(ll_offload_t *o) {
    if (o == NULL) return;
    ll_workers_stop(o->workers); /* runs what is queued; their done() never runs */
    ll_loop_inbox_close(&o->done);
    free(o);
}
