/* ll_http_errors.h - the errors h2o answers by itself (a body over the entity cap, a malformed
 * chunked body) as problem details too, so that every error a client sees is
 * application/problem+json (docs/errors.md), never h2o's text/plain. */
#ifndef LL_HTTP_ERRORS_H
#define LL_HTTP_ERRORS_H

#include <h2o.h>
#include <stddef.h>

/* Rewrites every response of host's fallback path, which only h2o's own errors take (the
 * dispatcher is registered on "/"). entity_bytes_max is quoted in the 413's detail. */
void ll_http_errors_as_problems(h2o_hostconf_t *host, size_t entity_bytes_max);

/* The problem body for an error h2o answered with status: into out, returns its length. */
size_t ll_http_error_problem(int status, size_t entity_bytes_max, char *out, size_t size);

#endif
