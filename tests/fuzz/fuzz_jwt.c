/* libFuzzer target: the bearer-token parser and verifier (lib/ll_jwt.c), the first thing every
 * request's hostile bytes reach. It must never crash or leak; a token it accepts must carry a
 * valid subject and role. The fuzzer cannot forge the HMAC, so it mostly explores the header,
 * base64url and JSON paths before the signature, which is where the risk is. */
#include "ll_jwt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "fuzz-secret-0123456789abcdef0123456789"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *secrets[LL_JWT_SECRETS_MAX] = {SECRET, ""};
    ll_principal_t who;
    ll_error_t err;
    if (ll_jwt_verify((const char *)data, size, secrets, LL_JWT_SECRETS_MAX, 1764000000, &who, &err) != LL_JWT_OK)
        return 0;
    size_t n = strlen(who.sub);
    if (n == 0 || n > LL_OWNER_BYTES_MAX) abort();
    for (size_t i = 0; i < n; i++)
        if (who.sub[i] < 0x21 || who.sub[i] > 0x7e) abort();
    if (ll_role_name(who.role) == NULL) abort();
    return 0;
}
