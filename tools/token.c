/* ledgerline-token: prints a bearer token (HS256 JWT) for the configured jwt_secret, or checks
 * one. For local use, tests and operators; production tokens come from the identity provider. */
#include "ll_cli.h"
#include "ll_clock.h"
#include "ll_jwt.h"

#include <stdio.h>
#include <string.h>

#define TTL_MAX_S (30 * 86400)

static void usage(FILE *out) {
    fprintf(out,
            "Usage: ledgerline-token [--config FILE] --sub SUBJECT --role customer|operator|auditor [--ttl "
            "SECONDS]\n"
            "       ledgerline-token [--config FILE] --verify TOKEN\n"
            "\n"
            "Prints an HS256 bearer token signed with jwt_secret (claims sub, role, iat, exp), or checks\n"
            "TOKEN against jwt_secret and jwt_secret_previous and prints its claims as JSON.\n"
            "\n"
            "  --sub SUBJECT   who the token speaks for (1..128 bytes); a customer owns accounts whose\n"
            "                  owner is this subject\n"
            "  --role ROLE     customer, operator or auditor\n"
            "  --ttl SECONDS   lifetime (default 3600, at most 30 days)\n"
            "  --verify TOKEN  check a token instead of making one\n"
            "\n"
            "Example:\n"
            "  curl -H \"Authorization: Bearer $(ledgerline-token --sub alice --role customer)\" ...\n"
            "Exit status: 0 done; 1 the token does not verify; 2 bad arguments or configuration.\n");
}

int main(int argc, char **argv) {
    const char *config = NULL, *sub = NULL, *role = NULL, *verify = NULL;
    int ttl = 3600;
    for (int i = 1; i < argc; i++) {
        int bad = 0;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config = argv[++i];
        } else if (!strcmp(argv[i], "--sub") && i + 1 < argc) {
            sub = argv[++i];
        } else if (!strcmp(argv[i], "--role") && i + 1 < argc) {
            role = argv[++i];
            bad = ll_role_parse(role) == 0;
        } else if (!strcmp(argv[i], "--ttl") && i + 1 < argc) {
            bad = ll_cli_int_arg(argv[++i], 1, TTL_MAX_S, &ttl);
        } else if (!strcmp(argv[i], "--verify") && i + 1 < argc) {
            verify = argv[++i];
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "ledgerline-token: bad argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (verify == NULL && (sub == NULL || role == NULL)) {
        fprintf(stderr, "ledgerline-token: --sub and --role are required (or --verify TOKEN)\n");
        usage(stderr);
        return 2;
    }
    static ll_config_t cfg;
    if (ll_cli_load_config("ledgerline-token", config, &cfg) != 0) return 2;
    if (cfg.jwt_secret[0] == '\0') {
        fprintf(stderr,
                "ledgerline-token: jwt_secret is not configured: set it (at least 32 bytes) in the config "
                "file or LEDGERLINE_JWT_SECRET\n");
        return 2;
    }
    ll_error_t err = {""};
    int64_t now_s = ll_clock_wall_us() / 1000000;
    if (verify != NULL) {
        const char *secrets[LL_JWT_SECRETS_MAX] = {cfg.jwt_secret, cfg.jwt_secret_previous};
        ll_principal_t who;
        if (ll_jwt_verify(verify, strlen(verify), secrets, LL_JWT_SECRETS_MAX, now_s, &who, &err) !=
            LL_JWT_OK) {
            fprintf(stderr, "ledgerline-token: %s\n", err.msg);
            return 1;
        }
        /* sub is printable (checked); escape what JSON needs. */
        fputs("{\"sub\":\"", stdout);
        for (const char *c = who.sub; *c; c++) {
            if (*c == '"' || *c == '\\') fputc('\\', stdout);
            fputc(*c, stdout);
        }
        printf("\",\"role\":\"%s\",\"exp\":%lld}\n", ll_role_name(who.role), (long long)who.exp_s);
        return 0;
    }
    char token[LL_JWT_BYTES_MAX];
    if (ll_jwt_sign(sub, ll_role_parse(role), now_s, ttl, cfg.jwt_secret, token, sizeof token, &err) != 0) {
        fprintf(stderr, "ledgerline-token: %s\n", err.msg);
        return 2;
    }
    puts(token);
    return 0;
}
