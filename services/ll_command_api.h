/* ll_command_api.h - the HTTP face of the command service (docs/design.md, HTTP contract).
 *
 * Runs on the h2o loop thread: routes, validates headers and bodies (every bad input gets a 4xx
 * problem+json before anything reaches the database), refuses a second concurrent request with
 * the same Idempotency-Key (409), and hands the command to the writer pool. The response comes
 * back through an h2o multithread queue, so the loop never waits for PostgreSQL.
 */
#ifndef LL_COMMAND_API_H
#define LL_COMMAND_API_H

#include "ll_config.h"
#include "ll_error.h"
#include "ll_route.h"

#include <h2o.h>

typedef struct ll_command_api ll_command_api_t;

/* Creates the API for cfg (borrowed for the API's lifetime). Returns NULL with err set. */
ll_command_api_t *ll_command_api_create(const ll_config_t *cfg, ll_error_t *err);

/* Connects the writer pool (writers threads) and the completion queue to loop.
 * Returns 0, or a negative code (e.g. PostgreSQL unreachable, schema not current). */
int ll_command_api_start(ll_command_api_t *api, h2o_loop_t *loop, int writers, ll_error_t *err);

/* The command routes (ll_route.h): POST /v1/accounts, /v1/accounts/{account_id}/deposits, ...
 * PUT .../credit-limit, POST /v1/holds/{hold_id}/capture|release, /v1/transfers, /v1/payments. */
extern const ll_route_t ll_command_routes[];

/* The request handler (ll_http_handler_fn). */
int ll_command_api_handle(void *api, h2o_req_t *req, const ll_route_match_t *route);

/* True when no command is queued or being written (ll_http_server_run's drain check). */
int ll_command_api_drained(void *api);

/* More Prometheus text for /metrics: pending commands, database errors. Loop thread. */
char *ll_command_api_metrics(void *api);

/* Stops the writers (finishing queued commands) and frees everything. Call after the loop drained. */
void ll_command_api_destroy(ll_command_api_t *api);

#endif
