/* ll_access.h - who is asking, and may they ask now: the bearer token of a request (lib/ll_jwt)
 * and the rate limits per client address and per token subject (lib/ll_rate_limit). Shared by
 * the command service and the query API, which then decide what the principal may touch.
 *
 * Order, so that refusals are cheap for attackers to get and costly to exploit: the per-address
 * bucket first (a token-guessing flood spends no HMAC), then the token, then the per-subject
 * bucket. Loop thread only.
 */
#ifndef LL_ACCESS_H
#define LL_ACCESS_H

#include "ll_config.h"
#include "ll_jwt.h"

#include <h2o.h>

typedef struct ll_access ll_access_t;

/* Refuses (NULL, err set) a configuration without jwt_secret: the APIs never run open. */
ll_access_t *ll_access_create(const ll_config_t *cfg, ll_error_t *err);
void ll_access_destroy(ll_access_t *a);

/* Checks req. Returns 0 with *who filled, or -1 after answering 401 (no valid token, with
 * WWW-Authenticate as RFC 6750 asks) or 429 (with Retry-After). */
int ll_access_check(ll_access_t *a, h2o_req_t *req, ll_principal_t *who);

/* Verifies a bearer token at now_s, or finds it verified before: tokens are cached (1024,
 * direct-mapped) because a client sends the same one with every request. A cached token is
 * still refused once expired, and compared in constant time so the cache cannot be probed
 * byte by byte. Exposed for tests; ll_access_check calls it. */
ll_jwt_result_t ll_access_verify(ll_access_t *a, const char *token, size_t len, int64_t now_s,
                                 ll_principal_t *who, ll_error_t *err);

/* The actor recorded in events and used as the idempotency scope: "role:sub". */
void ll_access_actor(const ll_principal_t *who, char *out, size_t out_size);

#endif
