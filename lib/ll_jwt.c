/* ll_jwt.c - see ll_jwt.h. */
#include "ll_jwt.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIG_BYTES 32 /* HMAC-SHA256 */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding. Returns the length written (out must hold 4*ceil(n/3)+1). */
static size_t b64url_encode(const unsigned char *in, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v =
            (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        if (i + 1 < n) out[o++] = b64url[v >> 6 & 63];
        if (i + 2 < n) out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64url_value(char c) {
    const char *p = c ? strchr(b64url, c) : NULL;
    return p ? (int)(p - b64url) : -1;
}

/* Strict base64url without padding. Returns the decoded length, or -1 (bad character, a length
 * no encoder produces, non-zero trailing bits, or more than out_size bytes). */
static long b64url_decode(const char *in, size_t n, unsigned char *out, size_t out_size) {
    if (n % 4 == 1) return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value(in[i]);
        if (v < 0) return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == out_size) return -1;
            out[o++] = (unsigned char)(acc >> bits & 0xff);
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return -1; /* one encoding per value */
    return (long)o;
}

static int hmac(const char *secret, const char *msg, size_t len, unsigned char sig[SIG_BYTES]) {
    unsigned int n = 0;
    return HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, len, sig, &n) !=
                       NULL &&
                   n == SIG_BYTES
               ? 0
               : -1;
}

const char *ll_role_name(ll_role_t role) {
    switch (role) {
    case LL_ROLE_CUSTOMER:
        return "customer";
    case LL_ROLE_OPERATOR:
        return "operator";
    case LL_ROLE_AUDITOR:
        return "auditor";
    }
    return "unknown";
}

ll_role_t ll_role_parse(const char *name) {
    for (ll_role_t r = LL_ROLE_CUSTOMER; r <= LL_ROLE_AUDITOR; r++)
        if (name != NULL && strcmp(name, ll_role_name(r)) == 0) return r;
    return 0;
}

/* Decodes one base64url part into a JSON object. NULL when it is not one. */
static json_t *json_part(const char *in, size_t n) {
    unsigned char buf[LL_JWT_BYTES_MAX];
    long len = b64url_decode(in, n, buf, sizeof buf);
    if (len < 0) return NULL;
    json_t *v = json_loadb((const char *)buf, (size_t)len, JSON_REJECT_DUPLICATES, NULL);
    if (v != NULL && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

/* Fills *out from the payload's claims; LL_JWT_OK or why not. */
static ll_jwt_result_t claims(json_t *payload, int64_t now_s, ll_principal_t *out, ll_error_t *err) {
    json_t *exp = json_object_get(payload, "exp"), *nbf = json_object_get(payload, "nbf");
    json_t *sub = json_object_get(payload, "sub"), *role = json_object_get(payload, "role");
    if (!json_is_integer(exp) || (nbf != NULL && !json_is_integer(nbf))) {
        ll_error_set(err, LL_EINVAL, "the token must carry an integer exp (and nbf, if any)");
        return LL_JWT_BAD_CLAIMS;
    }
    /* Compared with the leeway on now's side: a claim near INT64_MAX or INT64_MIN cannot overflow. */
    if (json_integer_value(exp) <= now_s - LL_JWT_LEEWAY_S) {
        ll_error_set(err, LL_EINVAL, "the token has expired");
        return LL_JWT_EXPIRED;
    }
    if (nbf != NULL && json_integer_value(nbf) > now_s + LL_JWT_LEEWAY_S) {
        ll_error_set(err, LL_EINVAL, "the token is not valid yet");
        return LL_JWT_NOT_YET_VALID;
    }
    const char *s = json_string_value(sub);
    size_t n = s ? json_string_length(sub) : 0;
    int printable = s != NULL && n >= 1 && n <= LL_OWNER_BYTES_MAX && strlen(s) == n;
    for (size_t i = 0; printable && i < n; i++) printable = s[i] >= 0x20 && s[i] <= 0x7e; /* ASCII only */
    ll_role_t r = ll_role_parse(json_string_value(role));
    if (!printable || r == 0) {
        ll_error_set(err, LL_EINVAL,
                     "the token needs a sub of 1..%d printable ASCII characters and a role of customer, "
                     "operator or auditor",
                     LL_OWNER_BYTES_MAX);
        return LL_JWT_BAD_CLAIMS;
    }
    memcpy(out->sub, s, n + 1);
    out->role = r;
    out->exp_s = json_integer_value(exp);
    return LL_JWT_OK;
}

ll_jwt_result_t ll_jwt_verify(const char *token, size_t len, const char *const *secrets, size_t n_secrets,
                              int64_t now_s, ll_principal_t *out, ll_error_t *err) {
    memset(out, 0, sizeof *out);
    const char *dot1 = len <= LL_JWT_BYTES_MAX ? memchr(token, '.', len) : NULL;
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL) {
        ll_error_set(err, LL_EINVAL, "the token is not a JWS compact serialisation (three parts)");
        return LL_JWT_MALFORMED;
    }
    /* The header first, and nothing else until its alg is the one we accept (RFC 8725 2.1). */
    json_t *header = json_part(token, (size_t)(dot1 - token));
    const char *alg = header ? json_string_value(json_object_get(header, "alg")) : NULL;
    ll_jwt_result_t rc = LL_JWT_OK;
    if (header == NULL) {
        rc = LL_JWT_MALFORMED;
        ll_error_set(err, LL_EINVAL, "the token's header is not a base64url JSON object");
    } else if (alg == NULL || strcmp(alg, "HS256") != 0 || json_object_get(header, "crit") != NULL) {
        rc = LL_JWT_ALG_REFUSED;
        ll_error_set(err, LL_EINVAL, "only HS256 tokens are accepted");
    }
    json_decref(header);
    if (rc != LL_JWT_OK) return rc;
    unsigned char sig[SIG_BYTES + 1], want[SIG_BYTES];
    if (b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), sig, sizeof sig) != SIG_BYTES) {
        ll_error_set(err, LL_EINVAL, "the token's signature is not an HS256 signature");
        return LL_JWT_MALFORMED;
    }
    int matched = 0;
    for (size_t i = 0; i < n_secrets && i < LL_JWT_SECRETS_MAX; i++) {
        if (secrets[i] == NULL || secrets[i][0] == '\0') continue;
        if (hmac(secrets[i], token, (size_t)(dot2 - token), want) != 0) continue;
        matched |= CRYPTO_memcmp(sig, want, SIG_BYTES) == 0; /* constant time */
    }
    if (!matched) {
        ll_error_set(err, LL_EINVAL, "the token's signature does not verify");
        return LL_JWT_BAD_SIGNATURE;
    }
    json_t *payload = json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (payload == NULL) {
        ll_error_set(err, LL_EINVAL, "the token's payload is not a base64url JSON object");
        return LL_JWT_MALFORMED;
    }
    rc = claims(payload, now_s, out, err);
    json_decref(payload);
    if (rc != LL_JWT_OK) memset(out, 0, sizeof *out);
    return rc;
}

int ll_jwt_sign(const char *sub, ll_role_t role, int64_t now_s, int64_t ttl_s, const char *secret, char *out,
                size_t out_size, ll_error_t *err) {
    if (sub == NULL || sub[0] == '\0' || strlen(sub) > LL_OWNER_BYTES_MAX ||
        ll_role_parse(ll_role_name(role)) == 0 || ttl_s < 1 || secret == NULL || strlen(secret) < 32)
        return ll_error_set(err, LL_EINVAL,
                            "a token needs a sub (1..%d bytes), a role, a ttl >= 1 and a secret of "
                            "at least 32 bytes",
                            LL_OWNER_BYTES_MAX);
    json_t *payload = json_pack("{s:s, s:s, s:I, s:I}", "sub", sub, "role", ll_role_name(role), "iat",
                                (json_int_t)now_s, "exp", (json_int_t)(now_s + ttl_s));
    char *text = payload ? json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(payload);
    if (text == NULL) return ll_error_set(err, LL_ENOMEM, "out of memory");
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char buf[LL_JWT_BYTES_MAX];
    size_t n = strlen(text), need = (sizeof header + n) * 4 / 3 + 64;
    int rc = 0;
    if (need > sizeof buf || need > out_size) {
        rc = ll_error_set(err, LL_ELIMIT, "the token would be longer than %zu bytes", out_size);
    } else {
        size_t o = b64url_encode((const unsigned char *)header, sizeof header - 1, buf);
        buf[o++] = '.';
        o += b64url_encode((const unsigned char *)text, n, buf + o);
        unsigned char sig[SIG_BYTES];
        if (hmac(secret, buf, o, sig) != 0) {
            rc = ll_error_set(err, LL_EINVAL, "HMAC failed");
        } else {
            buf[o++] = '.';
            b64url_encode(sig, SIG_BYTES, buf + o);
            snprintf(out, out_size, "%s", buf);
        }
    }
    free(text);
    return rc;
}
