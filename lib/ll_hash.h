/* ll_hash.h - FNV-1a over bytes, for the in-memory tables keyed by text (string set, rate
 * limiter, token cache). Not for anything an attacker must not steer: collisions only share a
 * bucket, and each table says why that is harmless. */
#ifndef LL_HASH_H
#define LL_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t ll_fnv1a(const void *data, size_t len) {
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

#endif
