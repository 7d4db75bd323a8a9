/* ll_sha256.c - see ll_sha256.h. */
#include "ll_sha256.h"

#include <openssl/evp.h>

int ll_sha256_hex(const void *buf, size_t len, char out[LL_SHA256_HEX_LEN + 1]) {
    unsigned char digest[32];
    unsigned int digest_len = 0;
    out[0] = '\0';
    if (EVP_Digest(buf, len, digest, &digest_len, EVP_sha256(), NULL) != 1 || digest_len != sizeof digest)
        return -1;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof digest; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[LL_SHA256_HEX_LEN] = '\0';
    return 0;
}
