/* ledgerline-token: prints a bearer token (HS256 JWT) for the configured jwt_secret, or checks
 * one. For local use, tests and operators; production tokens come from the identity provider. */
#include "ll_cli.h"
#include "ll_clock.h"
#include "ll_jwt.h"

#include <stdio.h>
#include <string.h>

#define TTL_MAX_S (30 * 86400)

static const char usage[] =
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
    "  --config FILE   configuration file (ledgerline-config --help)\n"
    "  -h, --help      this help\n"
    "\n"
    "Example:\n"
    "  curl -H \"Authorization: Bearer $(ledgerline-token --sub alice --role customer)\" ...\n"
    "Exit status: 0 done; 1 the token does not verify; 2 bad arguments or configuration.\n";

static int role_valid(const char *role) {
    return ll_role_parse(role) != 0;
}

int main(int argc, char **argv) {
    const char *config = NULL, *sub = NULL, *role = NULL, *verify = NULL;
    int ttl = 3600;
    const ll_cli_option_t options[] = {
        {.name = "config", .kind = LL_CLI_STR, .out = &config},
        {.name = "sub", .kind = LL_CLI_STR, .out = &sub},
        {.name = "role", .kind = LL_CLI_STR, .out = &role, .valid = role_valid},
        {.name = "ttl", .kind = LL_CLI_INT, .out = &ttl, .lo = 1, .hi = TTL_MAX_S},
        {.name = "verify", .kind = LL_CLI_STR, .out = &verify},
        {.name = NULL},
    };
    int parsed = ll_cli_parse("ledgerline-token", usage, options, argc, argv);
    if (parsed != LL_CLI_GO) return parsed == LL_CLI_DONE ? 0 : 2;
    if (verify == NULL && (sub == NULL || role == NULL)) {
        fprintf(stderr, "ledgerline-token: --sub and --role are required (or --verify TOKEN)\n");
        fputs(usage, stderr);
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
