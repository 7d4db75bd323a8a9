/* ll_writer.c - see ll_writer.h. The threads and the queue are an ll_workers pool whose batches
 * are group commits; each thread's context is its ll_store_t. */
#include "ll_writer.h"

#include "ll_store.h"
#include "ll_workers.h"

#include <stdlib.h>

struct ll_writer_pool {
    ll_workers_t *workers;
    ll_writer_done_fn done;
    void *ctx;
    /* What each thread's connection is opened with. */
    const char *conninfo;
    long long statement_timeout_ms, retention_s;
};

static void *open_store(void *arg, ll_error_t *err) {
    ll_writer_pool_t *p = arg;
    return ll_store_open(p->conninfo, p->statement_timeout_ms, p->retention_s, err);
}

static void close_store(void *store) {
    ll_store_close(store);
}

/* Writer thread: every write it took in one transaction, then each one's done(). */
static void write_batch(void *store, void **tasks, size_t n, void *arg) {
    ll_writer_pool_t *p = arg;
    ll_write_t *batch[LL_STORE_BATCH_MAX] = {NULL}; /* n <= batch_max = LL_STORE_BATCH_MAX */
    for (size_t i = 0; i < n; i++) batch[i] = tasks[i];
    ll_store_execute(store, batch, n);
    for (size_t i = 0; i < n; i++) p->done(batch[i], p->ctx);
}

ll_writer_pool_t *ll_writer_pool_start(const char *conninfo, long long statement_timeout_ms,
                                       long long retention_s, int threads, size_t queue_max,
                                       ll_writer_done_fn done, void *ctx, ll_error_t *err) {
    ll_writer_pool_t *p = calloc(1, sizeof *p);
    if (p == NULL) {
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    *p = (ll_writer_pool_t){NULL, done, ctx, conninfo, statement_timeout_ms, retention_s};
    ll_workers_config_t cfg = {.name = "writer pool",
                               .threads = threads,
                               .queue_max = queue_max,
                               .batch_max = LL_STORE_BATCH_MAX,
                               .init = open_store,
                               .fini = close_store,
                               .run = write_batch,
                               .arg = p};
    p->workers = ll_workers_start(&cfg, err);
    p->conninfo = NULL; /* the caller's string: only the start reads it */
    if (p->workers == NULL) {
        free(p);
        return NULL;
    }
    return p;
}

int ll_writer_pool_submit(ll_writer_pool_t *p, ll_write_t *w) {
    return ll_workers_submit(p->workers, w) == 0 ? 0 : -1;
}

size_t ll_writer_pool_pending(ll_writer_pool_t *p) {
    return ll_workers_pending(p->workers);
}

uint64_t ll_writer_pool_errors(ll_writer_pool_t *p) {
    uint64_t n = 0;
    for (int i = 0; i < ll_workers_threads(p->workers); i++)
        n += ll_store_errors(ll_workers_ctx(p->workers, i));
    return n;
}

int ll_writer_pool_healthy(ll_writer_pool_t *p) {
    int threads = ll_workers_threads(p->workers);
    for (int i = 0; i < threads; i++)
        if (!ll_store_healthy(ll_workers_ctx(p->workers, i))) return 0;
    return threads > 0;
}

void ll_writer_pool_stop(ll_writer_pool_t *p) {
    if (p == NULL) return;
    ll_workers_stop(p->workers); /* the queued writes are written and answered first */
    free(p);
}
