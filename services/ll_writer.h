/* ll_writer.h - the pool of writer threads between the HTTP loop and PostgreSQL.
 *
 * The HTTP loop never blocks on the database: it submits writes to a bounded queue. Each writer
 * thread owns one connection (ll_store_t) and takes every queued write, up to
 * LL_STORE_BATCH_MAX, into one transaction: under load many commands share a commit (group
 * commit), when idle a command commits alone without waiting. done() is called on the writer
 * thread for every write once its response is decided.
 */
#ifndef LL_WRITER_H
#define LL_WRITER_H

#include "ll_error.h"
#include "ll_write.h"

#include <stddef.h>
#include <stdint.h>

typedef void (*ll_writer_done_fn)(ll_write_t *w, void *ctx);

typedef struct ll_writer_pool ll_writer_pool_t;

/* Starts threads writers, each connected with conninfo (fails fast when PostgreSQL is
 * unreachable or the schema is not current), statements bounded by statement_timeout_ms,
 * idempotency keys kept retention_s (ll_store_open). queue_max bounds queued writes. */
ll_writer_pool_t *ll_writer_pool_start(const char *conninfo, long long statement_timeout_ms,
                                       long long retention_s, int threads,
                                       size_t queue_max,
                                       ll_writer_done_fn done, void *ctx, ll_error_t *err);

/* Queues w (ownership stays with the caller until done(w)). Returns 0, or -1 when the queue is
 * full or the pool is stopping (the caller answers 503). */
int ll_writer_pool_submit(ll_writer_pool_t *p, ll_write_t *w);

/* Writes queued and not yet done. */
size_t ll_writer_pool_pending(ll_writer_pool_t *p);

/* Failed database attempts of all writers so far. */
uint64_t ll_writer_pool_errors(ll_writer_pool_t *p);

/* True when every writer's last database attempt succeeded. */
int ll_writer_pool_healthy(ll_writer_pool_t *p);

/* Refuses new writes, finishes the queued ones, joins the threads and frees the pool. */
void ll_writer_pool_stop(ll_writer_pool_t *p);

#endif
