/* ll_periodic.h - a background thread that runs one job about every interval until stopped:
 * the command service's hold expiry sweep and idempotency key pruner.
 *
 * The first run comes one interval after the start, the next one interval after a run ended.
 * A stop wakes the sleeping thread at once; a run in flight finishes first, and a long run may
 * end early by asking ll_periodic_stopping between its steps.
 */
#ifndef LL_PERIODIC_H
#define LL_PERIODIC_H

#include "ll_error.h"

typedef struct ll_periodic ll_periodic_t;

/* One run, on the thread. p: for ll_periodic_stopping. */
typedef void (*ll_periodic_fn)(ll_periodic_t *p, void *arg);

/* Starts the thread: run(p, arg) every interval_ms (>= 1). what names the job in the error
 * ("hold expiry sweep"). Returns NULL with err set. */
ll_periodic_t *ll_periodic_start(const char *what, long long interval_ms, ll_periodic_fn run, void *arg,
                                 ll_error_t *err);

/* 1 once a stop was asked for; any thread. */
int ll_periodic_stopping(ll_periodic_t *p);

/* Asks the thread to stop, waits for it (a run in flight finishes), frees p. NULL is fine.
 * Afterwards what the runs used may be freed by the caller. */
void ll_periodic_stop(ll_periodic_t *p);

#endif
