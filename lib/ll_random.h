/* ll_random.h - identifiers from the operating system's CSPRNG (OpenSSL RAND_bytes). */
#ifndef LL_RANDOM_H
#define LL_RANDOM_H

#include "ll_uuid.h"

/* Fills u with a random (version 4) UUID. Returns 0, or -1 when no randomness was available;
 * callers then refuse the command rather than risk a colliding id. */
int ll_uuid_random(ll_uuid_t *u);

#endif
