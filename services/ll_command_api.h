/* ll_command_api.h - the HTTP face of the command service (docs/design.md, HTTP contract).
 *
 * Runs on the h2o loop thread: routes, validates headers and bodies (every bad input gets a 4xx
 * problem+json before anything reaches the database), refuses a second concurrent request with
 * the same Idempotency-Key (409), and hands the command to the writer pool. The response comes
 * back through an h2o multithread queue, so the loop never waits for PostgreSQL.
 */
#ifndef LL_COMMAND_API_H
#define LL_COMMAND_API_H

#include "ll_route.h"
#include "ll_service.h"

/* The command routes (ll_route.h): POST /v1/accounts, /v1/accounts/{account_id}/deposits, ...
 * PUT .../credit-limit, POST /v1/holds/{hold_id}/capture|release, /v1/transfers, /v1/payments. */
extern const ll_route_t ll_command_routes[];

/* The command service for ll_service_main: create borrows the configuration for the API's life;
 * start connects `threads` writers, the completion queue, the key pruner and the hold expiry,
 * and fails when PostgreSQL is unreachable or its schema not current; drained: no command queued
 * or being written; metrics: pending commands, database errors, pruned keys, expired holds;
 * destroy stops the writers (finishing queued commands) and frees everything. */
extern const ll_service_api_t ll_command_service;

#endif
