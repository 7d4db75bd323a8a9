/* ll_random.c - see ll_random.h. */
#include "ll_random.h"

#include <openssl/rand.h>

int ll_uuid_random(ll_uuid_t *u) {
    if (RAND_bytes(u->bytes, (int)sizeof u->bytes) != 1) return -1;
    u->bytes[6] = (uint8_t)((u->bytes[6] & 0x0f) | 0x40); /* version 4 */
    u->bytes[8] = (uint8_t)((u->bytes[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    return 0;
}
