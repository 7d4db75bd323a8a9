/* ll_route.h - an HTTP service's routes as one table: the router matches a request against it,
 * the metrics take their route label from the match, and tests/unit/test_routes.c checks it
 * against api/openapi.yaml, so a route is written once.
 *
 * A pattern is the OpenAPI path ("/v1/accounts/{account_id}/deposits"): a {name} segment takes
 * any characters but '/', none at all only when more of the path follows ("/v1/accounts//close"
 * names an invalid id; "/v1/accounts/" no account). The label is the pattern as /metrics shows
 * it (every {name} as {id}): static storage, so label cardinality stays bounded.
 */
#ifndef LL_ROUTE_H
#define LL_ROUTE_H

#include "ll_uuid.h"

#include <h2o.h>
#include <stddef.h>

typedef struct ll_route {
    const char *method;  /* "GET" (HEAD too), "POST", "PUT"; NULL ends a table */
    const char *pattern; /* the path as api/openapi.yaml writes it */
    const char *label;   /* the metrics route label */
    int op;              /* what the service does for it (its own enum; ll_http.h's are < 0) */
} ll_route_t;

#define LL_ROUTE_PARAMS_MAX 2

typedef struct ll_route_match {
    const ll_route_t *route; /* NULL: no route has this path */
    const ll_route_t *table; /* the table route is from (the methods a 405 allows) */
    int method_ok;           /* route takes the request's method; else its path matched only */
    size_t n_params;
    h2o_iovec_t params[LL_ROUTE_PARAMS_MAX]; /* the {name} segments, in the pattern's order */
} ll_route_match_t;

/* Matches method and path against table. The first route with the path and the method wins,
 * else the first with the path (method_ok 0). Returns 1 when a route's path matched, else 0
 * (m->route NULL). m is left as it was when nothing matched. */
int ll_route_match(const ll_route_t *table, h2o_iovec_t method, h2o_iovec_t path, ll_route_match_t *m);

/* The metrics label of a match: the route's, or "other". */
const char *ll_route_label(const ll_route_match_t *m);

/* Parameter name of the matched route as a UUID (36 characters, hyphenated). Returns 1 (out
 * set), 0 when the route has no such parameter, -1 when the segment is not a UUID. */
int ll_route_uuid(const ll_route_match_t *m, const char *name, ll_uuid_t *out);

/* The Allow header of a 405 for m's path: the methods of every route of its table with the
 * path, ", "-separated, HEAD after GET ("GET, HEAD", "POST"). Returns the length written. */
size_t ll_route_allow(const ll_route_match_t *m, h2o_iovec_t path, char *out, size_t out_size);

#endif
