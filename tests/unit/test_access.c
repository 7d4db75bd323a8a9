/* Unit tests of lib/ll_access's token cache: a cached token gives the same principal, is still
 * refused once expired, and a different token of the same length is never taken for it. */
#include "ll_access.h"
#include "ll_hash.h"
#include "ll_test.h"

#include <string.h>

#define NOW    1764000000LL
#define SECRET "0123456789abcdef0123456789abcdef-access"

static ll_access_t *make(void) {
    static ll_config_t cfg;
    ll_config_init(&cfg);
    snprintf(cfg.jwt_secret, sizeof cfg.jwt_secret, "%s", SECRET);
    ll_error_t err = {""};
    return ll_access_create(&cfg, &err);
}

LL_TEST(test_no_secret_no_service) {
    static ll_config_t cfg;
    ll_config_init(&cfg);
    ll_error_t err = {""};
    LL_CHECK(ll_access_create(&cfg, &err) == NULL);
    LL_CHECK_CONTAINS(err.msg, "jwt_secret is not configured");
}

LL_TEST(test_cached_token_still_expires) {
    ll_access_t *a = make();
    LL_REQUIRE(a != NULL);
    char tok[1024];
    ll_error_t err = {""};
    LL_REQUIRE(ll_jwt_sign("alice", LL_ROLE_CUSTOMER, NOW, 60, SECRET, tok, sizeof tok, &err) == 0);
    ll_principal_t who;
    for (int i = 0; i < 3; i++) { /* the first verifies, the others hit the cache */
        LL_CHECK_EQ_INT(ll_access_verify(a, tok, strlen(tok), NOW + 10, &who, &err), LL_JWT_OK);
        LL_CHECK(strcmp(who.sub, "alice") == 0 && who.role == LL_ROLE_CUSTOMER);
    }
    /* exp + leeway has passed: refused, with the reason, although it was cached. */
    LL_CHECK_EQ_INT(ll_access_verify(a, tok, strlen(tok), NOW + 60 + LL_JWT_LEEWAY_S, &who, &err), LL_JWT_EXPIRED);
    ll_access_destroy(a);
}

/* The cache is direct-mapped on a hash of the token (1024 slots): the tampered copy is chosen
 * to land in the cached token's own slot with the same length, so only a byte-for-byte compare
 * tells them apart. */
LL_TEST(test_a_tampered_copy_of_a_cached_token_is_refused) {
    ll_access_t *a = make();
    LL_REQUIRE(a != NULL);
    char tok[1024], bad[1024];
    ll_error_t err = {""};
    LL_REQUIRE(ll_jwt_sign("alice", LL_ROLE_CUSTOMER, NOW, 60, SECRET, tok, sizeof tok, &err) == 0);
    ll_principal_t who;
    LL_REQUIRE(ll_access_verify(a, tok, strlen(tok), NOW, &who, &err) == LL_JWT_OK);
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t len = strlen(tok), found = 0;
    uint64_t slot = ll_fnv1a(tok, len) % 1024;
    for (size_t i = 0; i < 64 && !found; i++) {
        for (size_t j = 0; j < 64 && !found; j++) {
            memcpy(bad, tok, len + 1);
            bad[len - 3] = b64url[i], bad[len - 2] = b64url[j]; /* the signature's last bytes */
            found = strcmp(bad, tok) != 0 && ll_fnv1a(bad, len) % 1024 == slot;
        }
    }
    LL_REQUIRE(found);
    LL_CHECK(ll_access_verify(a, bad, len, NOW, &who, &err) != LL_JWT_OK);
    LL_CHECK_EQ_INT(ll_access_verify(a, tok, len, NOW, &who, &err), LL_JWT_OK);
    LL_CHECK_EQ_STR(who.sub, "alice");
    ll_access_destroy(a);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {LL_CASE(test_no_secret_no_service), LL_CASE(test_cached_token_still_expires),
                                           LL_CASE(test_a_tampered_copy_of_a_cached_token_is_refused)};
    return ll_test_main(argc, argv, "access", cases, LL_CASES(cases));
}
