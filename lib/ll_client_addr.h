/* ll_client_addr.h - the client's address behind trusted proxies.
 *
 * Behind a TLS proxy every connection comes from the proxy: a per-address rate limit would put
 * all clients in one bucket. A request from a configured proxy (trusted_proxies: addresses or
 * CIDR ranges, IPv4 or IPv6) names its client in X-Forwarded-For; each proxy appends the address
 * it received from, so the list is read from the right, and the first address that is not a
 * trusted proxy is the client (a client can write anything to the left of it, nothing to the
 * right). From any other peer the header is ignored. Pure: no I/O.
 */
#ifndef LL_CLIENT_ADDR_H
#define LL_CLIENT_ADDR_H

#include "ll_error.h"

#include <stddef.h>

#define LL_TRUSTED_PROXIES_MAX 32
#define LL_CLIENT_ADDR_BYTES   64 /* an IPv6 text address with room */

typedef struct {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix; /* bits */
} ll_cidr_t;

typedef struct {
    ll_cidr_t nets[LL_TRUSTED_PROXIES_MAX];
    size_t n;
} ll_trusted_proxies_t;

/* Parses "10.0.0.1, 10.1.0.0/16, fd00::/8" (empty: none). Returns 0, or LL_EINVAL with err
 * naming the entry. */
int ll_trusted_proxies_parse(const char *list, ll_trusted_proxies_t *out, ll_error_t *err);

/* Whether the text address addr is one of t's. */
int ll_trusted_proxies_contains(const ll_trusted_proxies_t *t, const char *addr);

/* The client of a request from peer carrying X-Forwarded-For xff (NULL or "" when none) into
 * out: peer when it is not a trusted proxy; else the rightmost entry of xff that is not one (all
 * of them trusted: the leftmost; a malformed entry ends the walk at the last good one, or peer). */
void ll_client_addr(const ll_trusted_proxies_t *t, const char *peer, const char *xff, char *out, size_t out_len);

#endif
