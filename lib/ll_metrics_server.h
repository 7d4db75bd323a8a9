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

typedef struct ll_metrics_server ll_metrics_server_t;

/* Listens on listen ("HOST:PORT") and starts serving. NULL with err set when it cannot. */
ll_metrics_server_t *ll_metrics_server_start(const char *listen, char *(*render)(void *ctx), void *ctx,
                                             ll_error_t *err);

/* Stops serving (within ~100 ms). The thread then parks until the process exits: h2o 2.2 keeps
 * thread-local memory it cannot free. Returns 1 when it stopped, so render will not be called
 * again; 0 when it did not within 5 s (then ctx must stay alive). NULL is fine (returns 1). */
int ll_metrics_server_stop(ll_metrics_server_t *s);

#endif
