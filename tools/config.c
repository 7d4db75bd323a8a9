/* ledgerline-config: prints the effective configuration (secrets redacted) or checks it.
 * Every ledgerline process loads its configuration the same way (lib/ll_config.h), so this shows
 * exactly what they would run with, and why they would refuse to start. */
#include "ll_cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "Usage: ledgerline-config [--config FILE] [--check]\n"
    "\n"
    "Prints the effective ledgerline configuration as `key = value` lines, secrets as ***.\n"
    "Sources, later wins: built-in defaults (the local stack), the config file, then\n"
    "LEDGERLINE_<KEY> environment variables (e.g. LEDGERLINE_QUERY_LISTEN=0.0.0.0:8081).\n"
    "The file is --config FILE, else $LEDGERLINE_CONFIG, else ./ledgerline.conf if present.\n"
    "\n"
    "  --config FILE  read this config file (it must exist)\n"
    "  --check        print nothing; exit 0 when the configuration is valid\n"
    "  -h, --help     this help\n"
    "\n"
    "Exit status: 0 valid, 1 invalid (the reason names the key), 2 usage error.\n"
    "Example: LEDGERLINE_BODY_BYTES_MAX=32768 ledgerline-config --config prod.conf\n";

int main(int argc, char **argv) {
    const char *path = NULL;
    int check_only = 0;
    const ll_cli_option_t options[] = {
        {.name = "config", .kind = LL_CLI_STR, .out = &path},
        {.name = "check", .kind = LL_CLI_FLAG, .out = &check_only},
        {.name = NULL},
    };
    int parsed = ll_cli_parse("ledgerline-config", usage, options, argc, argv);
    if (parsed != LL_CLI_GO) return parsed == LL_CLI_DONE ? 0 : 2;
    ll_config_t cfg;
    if (ll_cli_load_config("ledgerline-config", path, &cfg) != 0) return 1;
    if (!check_only) ll_config_print(&cfg, stdout);
    return 0;
}
