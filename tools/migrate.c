/* ledgerline-migrate: brings the PostgreSQL schema to this build's version (eventstore/migrations).
 * Safe to run repeatedly and concurrently; the services refuse to start on an older schema. */
#include "ll_cli.h"
#include "ll_migrate.h"
#include "ll_pg.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "Usage: ledgerline-migrate [--config FILE] [--check] [--list]\n"
    "\n"
    "Applies the pending schema migrations with pg_migrate_conninfo (the schema owner),\n"
    "granting the services' role (pg_app_role) what it needs. Each migration runs in its\n"
    "own transaction; a failure rolls it back and stops. Already applied: nothing to do.\n"
    "\n"
    "  --config FILE  configuration file (see ledgerline-config --help)\n"
    "  --check        apply nothing; exit 0 when the schema is current, 1 otherwise\n"
    "  --list         print the migrations this build carries and exit\n"
    "  -h, --help     this help\n"
    "\n"
    "Exit status: 0 done, 1 failed (the reason is printed), 2 usage error.\n";

int main(int argc, char **argv) {
    const char *path = NULL;
    int check_only = 0, list = 0;
    const ll_cli_option_t options[] = {
        {.name = "config", .kind = LL_CLI_STR, .out = &path},
        {.name = "check", .kind = LL_CLI_FLAG, .out = &check_only},
        {.name = "list", .kind = LL_CLI_FLAG, .out = &list, .stops = 1}, /* at once, as given */
        {.name = NULL},
    };
    int parsed = ll_cli_parse("ledgerline-migrate", usage, options, argc, argv);
    if (parsed == LL_CLI_BAD) return 2;
    if (list)
        for (size_t m = 0; m < ll_migration_count; m++) printf("%s\n", ll_migrations[m].name);
    if (parsed == LL_CLI_DONE) return 0;
    ll_config_t cfg;
    if (ll_cli_load_config("ledgerline-migrate", path, &cfg) != 0) return 1;
    ll_error_t err = {""};
    PGconn *conn = ll_pg_connect(check_only ? cfg.pg_conninfo : cfg.pg_migrate_conninfo, &err);
    if (conn == NULL) {
        fprintf(stderr, "ledgerline-migrate: %s\n", err.msg);
        return 1;
    }
    int rc =
        check_only ? ll_migrate_check(conn, &err) : ll_migrate_apply(conn, cfg.pg_app_role, stdout, &err);
    if (rc == 0 && !check_only) rc = ll_migrate_check(conn, &err);
    PQfinish(conn);
    if (rc != 0) {
        fprintf(stderr, "ledgerline-migrate: %s\n", err.msg);
        return 1;
    }
    printf("schema at version %d\n", ll_migrate_latest_version());
    return 0;
}
