/* ll_query_api.h - the HTTP face of the query service (docs/design.md, HTTP contract).
 *
 *   GET /v1/accounts/{id}[?min_version=N]          read model; waits (bounded) for min_version
 *   GET /v1/accounts/{id}/transactions[?limit&cursor&from&to&type]  newest first, cursor
 *       pagination; by time [from, to) and type placed by the read model's page times
 *       (ll_statement_filter.h, projector/ll_rm_times.h)
 *   GET /v1/accounts/{id}/balance?as_of=T           replayed from the event store with domain/
 *   GET /v1/accounts/{id}/audit[?from_version&to_version&limit]  events with state_after
 *   GET /v1/accounts/{id}/audit/verify              hash-chain verification of the stored stream
 *   GET /v1/holds/{id}                              a hold as the event store keeps it
 *   GET /healthz, /readyz
 *
 * Requests are parsed and validated on the h2o loop thread (unknown or repeated query
 * parameters are 400). An account read that the live view (ll_account_view.h, kept current by
 * ll_event_tail.h) holds at the version asked for is answered right there; every other read runs
 * on worker threads (ll_offload.h), each with its own MongoDB client and PostgreSQL connection,
 * so a slow query never stalls the loop.
 */
#ifndef LL_QUERY_API_H
#define LL_QUERY_API_H

#include "ll_config.h"
#include "ll_error.h"
#include "ll_route.h"

#include <h2o.h>

typedef struct ll_query_api ll_query_api_t;

ll_query_api_t *ll_query_api_create(const ll_config_t *cfg, ll_error_t *err);

/* Starts workers threads on loop. Returns 0 or a negative code (a database unreachable). */
int ll_query_api_start(ll_query_api_t *api, h2o_loop_t *loop, int workers, ll_error_t *err);

/* The query routes (ll_route.h): the GETs listed above under /v1. */
extern const ll_route_t ll_query_routes[];

/* The request handler (ll_http_handler_fn). */
int ll_query_api_handle(void *api, h2o_req_t *req, const ll_route_match_t *route);

/* The live view's and the event tail's figures in the Prometheus text format: malloc'd text
 * (caller frees), or NULL when out of memory. */
char *ll_query_api_metrics(void *api);
int ll_query_api_drained(void *api);
void ll_query_api_destroy(ll_query_api_t *api);

#endif
