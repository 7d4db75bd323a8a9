/* ll_rate_limit.h - token buckets per client key ("ip:127.0.0.1", "sub:alice"), bounded memory.
 *
 * Each key gets a bucket of `burst` requests refilled at `per_second`. The table is set
 * associative with a fixed number of slots: a new key takes a slot whose bucket is full again
 * (an idle client loses nothing by being forgotten), else the least recently seen one. So an
 * attacker cycling through addresses can only make others' buckets fresh, never emptier.
 *
 * Pure: the caller supplies the time. Not thread-safe: the HTTP loop thread owns it.
 */
#ifndef LL_RATE_LIMIT_H
#define LL_RATE_LIMIT_H

#include <stddef.h>
#include <stdint.h>

#define LL_RATE_KEY_BYTES_MAX 160 /* "sub:" + a token subject (LL_OWNER_BYTES_MAX) fits */

typedef struct ll_rate_limit ll_rate_limit_t;

/* per_second 0 turns limiting off (every take succeeds). slots: table size (rounded up). NULL
 * when out of memory. */
ll_rate_limit_t *ll_rate_limit_create(int64_t per_second, int64_t burst, size_t slots);
void ll_rate_limit_destroy(ll_rate_limit_t *rl);

/* Takes one request from key's bucket at now_us. Returns 0 when allowed, else the seconds the
 * client should wait before retrying (>= 1, for Retry-After). */
int64_t ll_rate_limit_take(ll_rate_limit_t *rl, const char *key, int64_t now_us);

#endif
