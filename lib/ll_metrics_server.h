/* ll_metrics_server.h - the side port of a background process (projector, relay): GET /metrics
 * (Prometheus text) and GET /healthz, served by a thread of its own so the process's main loop
 * never waits on a scraper.
 *
 * render(ctx) runs on the server thread and returns malloc'd Prometheus text (NULL: out of
 * memory). It must only read what the owner publishes under its own lock.
 */
#ifndef LL_METRICS_SERVER_H
#define LL_METRICS_SERVER_H

#include "ll_error.h"

#include <stddef.h>

typedef struct ll_metrics_server ll_metrics_server_t;

/* Says whether the process does its job: 0 ready, else not, with why (a sentence for
 * operators) in detail. Runs on the server thread, under the same rule as render. */
typedef int (*ll_metrics_ready_fn)(void *ctx, char *detail, size_t detail_size);

/* Listens on listen ("HOST:PORT") and starts serving. With ready, GET /readyz answers 200
 * {"status":"ready"} or 503 not-ready with ready's detail; without, /readyz is not served.
 * NULL with err set when it cannot. */
ll_metrics_server_t *ll_metrics_server_start(const char *listen, char *(*render)(void *ctx),
                                             ll_metrics_ready_fn ready, void *ctx, ll_error_t *err);

/* Stops serving (within ~100 ms). The thread then parks until the process exits: h2o 2.2 keeps
 * thread-local memory it cannot free. Returns 1 when it stopped, so render will not be called
 * again; 0 when it did not within 5 s (then ctx must stay alive). NULL is fine (returns 1). */
int ll_metrics_server_stop(ll_metrics_server_t *s);

#endif
