/* ll_access.c - see ll_access.h. */
#include "ll_access.h"

#include "ll_clock.h"
#include "ll_client_addr.h"
#include "ll_hash.h"
#include "ll_http.h"
#include "ll_rate_limit.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Clients remembered per table: ~180 bytes each, so 2.9 MiB per table. */
#define RATE_SLOTS 16384
/* Verified tokens remembered (direct-mapped): a client sends the same token with every request,
 * and verifying it (base64url, two JSON parses, HMAC) was a third of a GET's cost. */
#define TOKEN_CACHE_SLOTS 1024
#define TOKEN_CACHE_BYTES_MAX 1024 /* longer tokens are verified every time */

typedef struct {
    size_t len; /* 0: empty */
    char token[TOKEN_CACHE_BYTES_MAX];
    ll_principal_t who;
} cached_token_t;

struct ll_access {
    const char *secrets[LL_JWT_SECRETS_MAX];
    ll_trusted_proxies_t proxies; /* whose X-Forwarded-For names the client */
    ll_rate_limit_t *per_ip, *per_sub;
    cached_token_t *tokens; /* TOKEN_CACHE_SLOTS */
};

ll_access_t *ll_access_create(const ll_config_t *cfg, ll_error_t *err) {
    if (cfg->jwt_secret[0] == '\0') {
        ll_error_set(err, LL_EINVAL,
                     "jwt_secret is not configured: set it (at least 32 random bytes) in the config file or "
                     "LEDGERLINE_JWT_SECRET; the API never runs without authentication");
        return NULL;
    }
    ll_access_t *a = calloc(1, sizeof *a);
    if (a != NULL && ll_trusted_proxies_parse(cfg->trusted_proxies, &a->proxies, err) != 0) {
        free(a);
        return NULL;
    }
    if (a != NULL) {
        a->secrets[0] = cfg->jwt_secret;
        a->secrets[1] = cfg->jwt_secret_previous;
        a->per_ip = ll_rate_limit_create(cfg->rate_limit_ip_per_second, cfg->rate_limit_ip_burst, RATE_SLOTS);
        a->per_sub = ll_rate_limit_create(cfg->rate_limit_per_second, cfg->rate_limit_burst, RATE_SLOTS);
        a->tokens = calloc(TOKEN_CACHE_SLOTS, sizeof *a->tokens);
    }
    if (a == NULL || a->per_ip == NULL || a->per_sub == NULL || a->tokens == NULL) {
        ll_access_destroy(a);
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    return a;
}

void ll_access_destroy(ll_access_t *a) {
    if (a == NULL) return;
    ll_rate_limit_destroy(a->per_ip);
    ll_rate_limit_destroy(a->per_sub);
    free(a->tokens);
    free(a);
}

void ll_access_actor(const ll_principal_t *who, char *out, size_t out_size) {
    snprintf(out, out_size, "%s:%s", ll_role_name(who->role), who->sub);
}

static void too_many(h2o_req_t *req, int64_t retry_s, const char *whose) {
    char retry[24], detail[96];
    snprintf(retry, sizeof retry, "%lld", (long long)retry_s);
    snprintf(detail, sizeof detail, "too many requests from this %s; retry after %lld s", whose,
             (long long)retry_s);
    const char *const headers[] = {"retry-after", retry, NULL};
    ll_http_problem_headers(req, 429, "rate-limited", "Too many requests", detail, headers);
}

static void unauthorized(h2o_req_t *req, const char *detail, int token_given) {
    /* RFC 6750 section 3: the scheme, and error="invalid_token" when a token was presented. */
    const char *const headers[] = {
        "www-authenticate",
        token_given ? "Bearer realm=\"ledgerline\", error=\"invalid_token\"" : "Bearer realm=\"ledgerline\"",
        NULL};
    ll_http_problem_headers(req, 401, "unauthorized", "Unauthorized", detail, headers);
}

static size_t token_slot(const char *t, size_t len) {
    return (size_t)(ll_fnv1a(t, len) % TOKEN_CACHE_SLOTS);
}

ll_jwt_result_t ll_access_verify(ll_access_t *a, const char *token, size_t len, int64_t now_s,
                                 ll_principal_t *who, ll_error_t *err) {
    cached_token_t *c = len <= TOKEN_CACHE_BYTES_MAX ? &a->tokens[token_slot(token, len)] : NULL;
    if (c != NULL && c->len == len && CRYPTO_memcmp(c->token, token, len) == 0) {
        if (now_s - LL_JWT_LEEWAY_S < c->who.exp_s) { /* as ll_jwt_verify decides */
            *who = c->who;
            return LL_JWT_OK;
        }
        c->len = 0; /* expired: verify again to give the precise reason */
    }
    ll_jwt_result_t r = ll_jwt_verify(token, len, a->secrets, LL_JWT_SECRETS_MAX, now_s, who, err);
    if (r == LL_JWT_OK && c != NULL) {
        memcpy(c->token, token, len);
        c->len = len;
        c->who = *who;
    }
    return r;
}

int ll_access_check(ll_access_t *a, h2o_req_t *req, ll_principal_t *who) {
    int64_t now_us = ll_clock_ms() * 1000;
    char key[LL_RATE_KEY_BYTES_MAX + 1], peer[LL_HTTP_PEER_BYTES], client[LL_CLIENT_ADDR_BYTES];
    ll_http_peer(req, peer, sizeof peer);
    char xff[1024];
    ll_client_addr(&a->proxies, peer, ll_http_forwarded_for(req, xff, sizeof xff), client, sizeof client);
    snprintf(key, sizeof key, "ip:%s", client);
    int64_t wait_s = ll_rate_limit_take(a->per_ip, key, now_us);
    if (wait_s > 0) {
        too_many(req, wait_s, "address");
        return -1;
    }
    ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (at < 0) {
        unauthorized(req, "send Authorization: Bearer <token>", 0);
        return -1;
    }
    if (h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, at) >= 0) {
        unauthorized(req, "send exactly one Authorization header", 1);
        return -1;
    }
    h2o_iovec_t v = req->headers.entries[at].value;
    if (v.len < 7 || strncasecmp(v.base, "Bearer ", 7) != 0) {
        unauthorized(req, "the Authorization scheme must be Bearer", 1);
        return -1;
    }
    ll_error_t err = {""};
    if (ll_access_verify(a, v.base + 7, v.len - 7, (int64_t)time(NULL), who, &err) != LL_JWT_OK) {
        unauthorized(req, err.msg, 1);
        return -1;
    }
    snprintf(key, sizeof key, "sub:%s", who->sub);
    wait_s = ll_rate_limit_take(a->per_sub, key, now_us);
    if (wait_s > 0) {
        too_many(req, wait_s, "token subject");
        return -1;
    }
    return 0;
}
