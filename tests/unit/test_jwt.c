/* Unit tests of lib/ll_jwt: HS256 bearer tokens checked as RFC 8725 asks. A published vector
 * pins the HMAC and base64url; a local signer makes tokens with any header and claims, so every
 * refusal (alg none or other, tampering, expiry, bad claims, malformed input) is exercised. */
#include "ll_jwt.h"
#include "ll_test.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#define NOW    1764000000LL
#define SECRET "0123456789abcdef0123456789abcdef-current"
#define OLD    "0123456789abcdef0123456789abcdef-previous"

/* base64url without padding, via OpenSSL's base64. */
static void b64url(const void *in, size_t n, char *out) {
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    while (len > 0 && out[len - 1] == '=') len--;
    out[len] = '\0';
    for (char *c = out; *c; c++) *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
}

/* header.payload.signature with the given JSON texts, signed with secret. */
static void make(const char *header, const char *payload, const char *secret, char *out) {
    char h[512], p[1024];
    b64url(header, strlen(header), h);
    b64url(payload, strlen(payload), p);
    sprintf(out, "%s.%s", h, p);
    unsigned char sig[32];
    unsigned int n;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)out, strlen(out), sig, &n);
    strcat(out, ".");
    b64url(sig, 32, out + strlen(out));
}

static ll_jwt_result_t check(const char *token, ll_principal_t *who) {
    const char *secrets[] = {SECRET, OLD};
    ll_error_t err = {""};
    return ll_jwt_verify(token, strlen(token), secrets, 2, NOW, who, &err);
}

static const char *hs256 = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

LL_TEST(test_published_vector_signature_verifies) {
    /* RFC 7519-style example of jwt.io: valid signature, but no exp and no role. */
    const char *token =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwia"
        "WF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    const char *secrets[] = {"your-256-bit-secret"};
    ll_principal_t who;
    ll_error_t err = {""};
    LL_CHECK_EQ_INT(ll_jwt_verify(token, strlen(token), secrets, 1, NOW, &who, &err), LL_JWT_BAD_CLAIMS);
    const char *wrong[] = {"not-the-secret-not-the-secret-not-the"};
    LL_CHECK_EQ_INT(ll_jwt_verify(token, strlen(token), wrong, 1, NOW, &who, &err), LL_JWT_BAD_SIGNATURE);
}

LL_TEST(test_sign_then_verify) {
    char token[LL_JWT_BYTES_MAX];
    ll_error_t err = {""};
    LL_REQUIRE(ll_jwt_sign("alice", LL_ROLE_CUSTOMER, NOW, 600, SECRET, token, sizeof token, &err) == 0);
    ll_principal_t who;
    LL_CHECK_EQ_INT(check(token, &who), LL_JWT_OK);
    LL_CHECK_EQ_STR(who.sub, "alice");
    LL_CHECK_EQ_INT(who.role, LL_ROLE_CUSTOMER);
    LL_CHECK_EQ_INT(who.exp_s, NOW + 600);
    LL_CHECK_EQ_INT(ll_jwt_sign("x", LL_ROLE_AUDITOR, NOW, 60, "short", token, sizeof token, &err),
                    LL_EINVAL);
    LL_CHECK_EQ_INT(ll_jwt_sign("x", LL_ROLE_AUDITOR, NOW, 60, SECRET, token, 20, &err), LL_ELIMIT);
}

LL_TEST(test_the_previous_secret_still_verifies) {
    char token[LL_JWT_BYTES_MAX];
    ll_error_t err = {""};
    LL_REQUIRE(ll_jwt_sign("bob", LL_ROLE_OPERATOR, NOW, 600, OLD, token, sizeof token, &err) == 0);
    ll_principal_t who;
    LL_CHECK_EQ_INT(check(token, &who), LL_JWT_OK);
    const char *only_current[] = {SECRET, NULL};
    LL_CHECK_EQ_INT(ll_jwt_verify(token, strlen(token), only_current, 2, NOW, &who, &err),
                    LL_JWT_BAD_SIGNATURE);
}

LL_TEST(test_alg_none_and_others_are_refused_before_the_signature) {
    char token[2048];
    ll_principal_t who;
    const char *claims = "{\"exp\":1764000600,\"role\":\"operator\",\"sub\":\"mallory\"}";
    const char *headers[] = {"{\"alg\":\"none\",\"typ\":\"JWT\"}",
                             "{\"alg\":\"HS512\"}",
                             "{\"alg\":\"RS256\"}",
                             "{\"typ\":\"JWT\"}",
                             "{\"alg\":\"hs256\"}",
                             "{\"alg\":\"HS256\",\"crit\":[\"x\"]}"};
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        make(headers[i], claims, SECRET, token);
        LL_CHECK_EQ_INT(check(token, &who), LL_JWT_ALG_REFUSED);
    }
    /* The classic: alg none with an empty signature. */
    char h[128], p[256];
    b64url(headers[0], strlen(headers[0]), h);
    b64url(claims, strlen(claims), p);
    snprintf(token, sizeof token, "%s.%s.", h, p);
    LL_CHECK_EQ_INT(check(token, &who), LL_JWT_ALG_REFUSED);
    LL_CHECK_EQ_STR(who.sub, "");
}

LL_TEST(test_tampered_payload_is_refused) {
    char token[2048], forged[2048];
    ll_principal_t who;
    make(hs256, "{\"exp\":1764000600,\"role\":\"customer\",\"sub\":\"alice\"}", SECRET, token);
    LL_CHECK_EQ_INT(check(token, &who), LL_JWT_OK);
    /* The same signature on an operator's claims. */
    make(hs256, "{\"exp\":1764000600,\"role\":\"operator\",\"sub\":\"alice\"}", SECRET, forged);
    strcpy(strrchr(forged, '.'), strrchr(token, '.'));
    LL_CHECK_EQ_INT(check(forged, &who), LL_JWT_BAD_SIGNATURE);
    make(hs256, "{\"exp\":1764000600,\"role\":\"customer\",\"sub\":\"alice\"}",
         "another secret, 32 bytes long!!!", token);
    LL_CHECK_EQ_INT(check(token, &who), LL_JWT_BAD_SIGNATURE);
}

LL_TEST(test_time_claims) {
    char token[2048];
    ll_principal_t who;
    make(hs256, "{\"exp\":1763999000,\"role\":\"customer\",\"sub\":\"a\"}", SECRET, token);
    LL_CHECK_EQ_INT(check(token, &who), LL_JWT_EXPIRED);
    make(hs256, "{\"exp\":1763999990,\"role\":\"customer\",\"sub\":\"a\"}", SECRET,
         token); /* within leeway */
    LL_CHECK_EQ_INT(check(token, &who), LL_JWT_OK);
    make(hs256, "{\"exp\":1764009999,\"nbf\":1764005000,\"role\":\"customer\",\"sub\":\"a\"}", SECRET, token);
    LL_CHECK_EQ_INT(check(token, &who), LL_JWT_NOT_YET_VALID);
    make(hs256, "{\"role\":\"customer\",\"sub\":\"a\"}", SECRET, token); /* exp is required */
    LL_CHECK_EQ_INT(check(token, &who), LL_JWT_BAD_CLAIMS);
    make(hs256, "{\"exp\":\"1764009999\",\"role\":\"customer\",\"sub\":\"a\"}", SECRET, token);
    LL_CHECK_EQ_INT(check(token, &who), LL_JWT_BAD_CLAIMS);
    /* Extreme claims are compared without overflow (UBSan aborts on a signed overflow). */
    make(hs256, "{\"exp\":9223372036854775807,\"role\":\"customer\",\"sub\":\"a\"}", SECRET, token);
    LL_CHECK_EQ_INT(check(token, &who), LL_JWT_OK);
    make(hs256, "{\"exp\":-9223372036854775808,\"role\":\"customer\",\"sub\":\"a\"}", SECRET, token);
    LL_CHECK_EQ_INT(check(token, &who), LL_JWT_EXPIRED);
    make(hs256, "{\"exp\":1764009999,\"nbf\":-9223372036854775808,\"role\":\"customer\",\"sub\":\"a\"}",
         SECRET, token);
    LL_CHECK_EQ_INT(check(token, &who), LL_JWT_OK);
    make(hs256, "{\"exp\":9223372036854775807,\"nbf\":9223372036854775807,\"role\":\"customer\",\"sub\":\"a\"}",
         SECRET, token);
    LL_CHECK_EQ_INT(check(token, &who), LL_JWT_NOT_YET_VALID);
}

LL_TEST(test_bad_claims) {
    char token[2048];
    ll_principal_t who;
    const char *payloads[] = {
        "{\"exp\":1764009999,\"role\":\"admin\",\"sub\":\"a\"}",
        "{\"exp\":1764009999,\"role\":\"customer\",\"sub\":\"\"}",
        "{\"exp\":1764009999,\"role\":\"customer\",\"sub\":42}",
        "{\"exp\":1764009999,\"sub\":\"a\"}",
        "{\"exp\":1764009999,\"role\":\"customer\",\"sub\":\"line\\nbreak\"}",
        "{\"exp\":1764009999,\"role\":\"customer\",\"sub\":\"zo\\u00eb\"}", /* printable ASCII only */
        "{\"exp\":1764009999,\"role\":\"customer\",\"sub\":\"del\\u007f\"}",
    };
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        make(hs256, payloads[i], SECRET, token);
        LL_CHECK_EQ_INT(check(token, &who), LL_JWT_BAD_CLAIMS);
    }
    make(hs256, "{\"exp\":1764009999,\"role\":\"customer\",\"sub\":\"a\",\"sub\":\"b\"}", SECRET, token);
    LL_CHECK_EQ_INT(check(token, &who), LL_JWT_MALFORMED); /* duplicate keys */
    make(hs256, "{\"exp\":1764009999,\"role\":\"customer\",\"sub\":\"a\\u0000b\"}", SECRET, token);
    LL_CHECK_EQ_INT(check(token, &who), LL_JWT_MALFORMED); /* a NUL in a string: the parser refuses it */
}

LL_TEST(test_malformed_tokens) {
    char token[LL_JWT_BYTES_MAX + 64];
    ll_principal_t who;
    make(hs256, "{\"exp\":1764009999,\"role\":\"customer\",\"sub\":\"a\"}", SECRET, token);
    char two[sizeof token], four[sizeof token + 4], padded[sizeof token + 4], badchar[sizeof token];
    snprintf(two, sizeof two, "%.*s", (int)(strrchr(token, '.') - token), token);
    snprintf(four, sizeof four, "%s.x", token);
    snprintf(padded, sizeof padded, "%s=", token);
    snprintf(badchar, sizeof badchar, "%s", token);
    badchar[3] = '+';
    const char *cases[] = {"", "a.b", two, four, padded, badchar, "..", "eyJ.eyJ.eyJ"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) LL_CHECK(check(cases[i], &who) != LL_JWT_OK);
    LL_CHECK_EQ_INT(check(two, &who), LL_JWT_MALFORMED);
    LL_CHECK_EQ_INT(check(padded, &who), LL_JWT_MALFORMED);
    memset(token, 'A', sizeof token - 1);
    token[sizeof token - 1] = '\0';
    token[100] = '.', token[200] = '.';
    LL_CHECK_EQ_INT(check(token, &who), LL_JWT_MALFORMED); /* too long: refused unread */
    LL_CHECK_EQ_INT(ll_role_parse("auditor"), LL_ROLE_AUDITOR);
    LL_CHECK_EQ_INT(ll_role_parse("root"), 0);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_published_vector_signature_verifies),
        LL_CASE(test_sign_then_verify),
        LL_CASE(test_the_previous_secret_still_verifies),
        LL_CASE(test_alg_none_and_others_are_refused_before_the_signature),
        LL_CASE(test_tampered_payload_is_refused),
        LL_CASE(test_time_claims),
        LL_CASE(test_bad_claims),
        LL_CASE(test_malformed_tokens),
    };
    return ll_test_main(argc, argv, "jwt", cases, LL_CASES(cases));
}
