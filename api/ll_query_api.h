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

#include "ll_route.h"
#include "ll_service.h"

/* The query routes (ll_route.h): the GETs listed above under /v1. */
extern const ll_route_t ll_query_routes[];

/* The query API for ll_service_main: create borrows the configuration for the API's life; start
 * runs `threads` workers on the loop and fails when a database is unreachable; metrics adds the
 * live view's and the event tail's figures; destroy ends the waits still parked, then the workers. */
extern const ll_service_api_t ll_query_service;

#endif
