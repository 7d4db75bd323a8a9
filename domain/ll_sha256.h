/* ll_sha256.h - SHA-256 as lower-case hex (OpenSSL). */
#ifndef LL_SHA256_H
#define LL_SHA256_H

#include <stddef.h>

#define LL_SHA256_HEX_LEN 64

/* Writes the hex digest of buf[0..len) and a NUL into out. Returns 0, or -1 if OpenSSL failed
 * (out then holds ""). */
int ll_sha256_hex(const void *buf, size_t len, char out[LL_SHA256_HEX_LEN + 1]);

#endif
