/* ll_jwt.h - bearer tokens: JWS compact serialisation, HS256 only (RFC 7515, 7519), checked as
 * RFC 8725 asks: the algorithm is pinned (the header must say HS256; "none" and every other
 * algorithm are refused before any signature work), the signature is compared in constant time,
 * "exp" is required and "nbf" honoured, and the claims ledgerline relies on ("sub", "role") are
 * validated strictly. Two secrets may be configured (the current one and the previous one) so
 * keys can rotate without logging everyone out.
 *
 * Pure apart from OpenSSL's HMAC: the caller supplies the time. Nothing is allocated that
 * survives a call.
 */
#ifndef LL_JWT_H
#define LL_JWT_H

#include "ll_error.h"
#include "ll_limits.h"

#include <stddef.h>
#include <stdint.h>

#define LL_JWT_BYTES_MAX   4096 /* a token longer than this is refused unread */
#define LL_JWT_LEEWAY_S    30   /* clock skew allowed on exp and nbf */
#define LL_JWT_SECRETS_MAX 2    /* current and previous */

typedef enum { LL_ROLE_CUSTOMER = 1, LL_ROLE_OPERATOR, LL_ROLE_AUDITOR } ll_role_t;

/* Who a valid token speaks for. */
typedef struct {
    char sub[LL_OWNER_BYTES_MAX + 1]; /* 1..LL_OWNER_BYTES_MAX bytes of printable text */
    ll_role_t role;
    int64_t exp_s; /* seconds since the epoch */
} ll_principal_t;

/* Why a token was refused; each is a distinct client-facing reason. */
typedef enum {
    LL_JWT_OK = 0,
    LL_JWT_MALFORMED,     /* not three base64url parts, bad JSON, too long */
    LL_JWT_ALG_REFUSED,   /* header alg is not HS256 (including "none") */
    LL_JWT_BAD_SIGNATURE, /* no configured secret produced this signature */
    LL_JWT_EXPIRED,       /* exp in the past (beyond the leeway) */
    LL_JWT_NOT_YET_VALID, /* nbf in the future (beyond the leeway) */
    LL_JWT_BAD_CLAIMS,    /* exp missing, sub or role missing or invalid */
} ll_jwt_result_t;

/* Verifies token (len bytes, not NUL-terminated needed) against secrets[0..n_secrets) (NULL or
 * "" entries are skipped) at wall time now_s. On LL_JWT_OK fills *out; otherwise err says why
 * (safe to show a client: it never contains the token or a secret). */
ll_jwt_result_t ll_jwt_verify(const char *token, size_t len, const char *const *secrets, size_t n_secrets,
                              int64_t now_s, ll_principal_t *out, ll_error_t *err);

/* Writes a token for sub and role, issued at now_s and valid for ttl_s seconds, signed with
 * secret, into out (NUL-terminated). Returns 0, or LL_EINVAL (bad input) / LL_ELIMIT (out too
 * small) with err set. */
int ll_jwt_sign(const char *sub, ll_role_t role, int64_t now_s, int64_t ttl_s, const char *secret, char *out,
                size_t out_size, ll_error_t *err);

/* "customer", "operator", "auditor"; parse returns 0 for an unknown name. */
const char *ll_role_name(ll_role_t role);
ll_role_t ll_role_parse(const char *name);

#endif
