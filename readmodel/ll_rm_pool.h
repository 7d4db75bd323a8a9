/* ll_rm_pool.h - threads that work on one read-model generation at once, each on its own
 * MongoDB connection (libmongoc clients are not thread-safe).
 *
 * Why: a write to the read store is a round trip, and on the local FerretDB every updated
 * document is a PostgreSQL transaction of its own; one connection leaves the server's other
 * core idle and waits out every commit. The projector hands each thread the accounts of one
 * share of a batch (an account's writes stay on one thread, in order); a rebuild streams
 * batches of fresh documents through it while it reads and folds the store.
 */
#ifndef LL_RM_POOL_H
#define LL_RM_POOL_H

#include "ll_error.h"
#include "ll_limits.h"
#include "ll_read_model.h"

#include <stdint.h>

typedef struct ll_rm_pool ll_rm_pool_t;

/* A task: runs on some thread with that thread's read model; returns 0 or a negative code
 * with err set. */
typedef int (*ll_rm_task_fn)(ll_read_model_t *rm, void *arg, ll_error_t *err);

#define LL_RM_POOL_THREADS_MAX LL_READ_MODEL_WRITERS_MAX

/* Starts threads (1..LL_RM_POOL_THREADS_MAX), each with its own client of mongo_uri and
 * generation of database opened. A thread that cannot open (the store unreachable) reports it as
 * the pool's error and tries again with each task it takes, failing that task while it still
 * cannot: the pool heals when the store comes back. Returns the pool or NULL with err set. */
ll_rm_pool_t *ll_rm_pool_start(const char *mongo_uri, const char *database, int64_t generation, int threads,
                               ll_error_t *err);

int ll_rm_pool_threads(const ll_rm_pool_t *p);

/* Queues fn(rm, arg); blocks while every thread is busy and one task per thread waits. When
 * the task has run (or will never run: an earlier task failed, or the pool stops), done(arg)
 * is called if not NULL. Returns 0, or the first error any task met (nothing more runs then,
 * and done(arg) has been called). */
int ll_rm_pool_submit(ll_rm_pool_t *p, ll_rm_task_fn fn, void *arg, void (*done)(void *arg), ll_error_t *err);

/* Waits until every queued task has run. Returns 0, or the first error a task met since the
 * last ll_rm_pool_wait (which this clears: the pool takes tasks again). */
int ll_rm_pool_wait(ll_rm_pool_t *p, ll_error_t *err);

/* Stops the threads (queued tasks are dropped, done called) and frees the pool. NULL is fine. */
void ll_rm_pool_stop(ll_rm_pool_t *p);

#endif
