/* ledgerline-audit: answers auditors' questions from the PostgreSQL event store alone (it works
 * while Kafka or MongoDB are down). Every meaning of an event comes from domain/: replay and
 * balances fold with ll_account_evolve, verification is ll_chain_verify.
 * This file: the command line; ll_audit.h says which file of tools/audit/ does what. */
#include "ll_audit.h"
#include "ll_cli.h"
#include "ll_read_model.h"
#include "ll_time.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "Usage: ledgerline-audit [--config FILE] [--format table|csv|json] COMMAND [OPTIONS]\n"
    "\n"
    "Reads the PostgreSQL event store directly (pg_conninfo); needs neither Kafka nor MongoDB\n"
    "(except reconcile, which compares with the read models in mongo_uri).\n"
    "\n"
    "Commands:\n"
    "  events   [--account ID] [--type TYPE] [--since T] [--until T] [--actor A] [--transfer "
    "ID] [--limit N]\n"
    "           events in store order, filtered\n"
    "  replay   --account ID     every event of the account with the state after it\n"
    "  balance  --account ID --as-of T   balance, held, available, limit and version as of\n"
    "           instant T (RFC 3339)\n"
    "  verify   [--account ID] [--all]   hash chains of one or all accounts; lists broken ones\n"
    "           (--all lists every account); exit 1 when any chain is broken\n"
    "  trace    --transfer ID    both legs of a transfer (a payment's leg, a hold captured to\n"
    "           another account); exit 1 when they do not match\n"
    "  reconcile [--account ID]  event store vs the active read models (needs MongoDB);\n"
    "           lists accounts whose version, balance, held, limit, frozen or status\n"
    "           differ; exit 1 when any does\n"
    "\n"
    "Output: an aligned table (default), or --format csv|json with the same column names.\n"
    "Exit status: 0 fine, 1 tampering or inconsistency found, 2 usage or connection error.\n"
    "\n"
    "Examples:\n"
    "  ledgerline-audit verify\n"
    "  ledgerline-audit --format csv events --account 3f0c...e1 --since 2026-01-01T00:00:00Z\n"
    "  ledgerline-audit balance --account 3f0c...e1 --as-of 2026-06-30T23:59:59Z\n";

/* Options with a text value are OPT_TEXT + their index in args_t's text slots (text_slot). */
enum { OPT_TEXT = 256, OPT_FORMAT = OPT_TEXT + 8, OPT_LIMIT, OPT_ALL };

static const struct option long_options[] = {
    {"account", required_argument, NULL, OPT_TEXT + 0},
    {"type", required_argument, NULL, OPT_TEXT + 1},
    {"since", required_argument, NULL, OPT_TEXT + 2},
    {"until", required_argument, NULL, OPT_TEXT + 3},
    {"actor", required_argument, NULL, OPT_TEXT + 4},
    {"transfer", required_argument, NULL, OPT_TEXT + 5},
    {"as-of", required_argument, NULL, OPT_TEXT + 6},
    {"config", required_argument, NULL, OPT_TEXT + 7},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"all", no_argument, NULL, OPT_ALL},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct {
    options_t o;
    const char *config, *command;
} args_t;

static const char **text_slot(args_t *a, int k) {
    const char **slots[] = {&a->o.account, &a->o.type,     &a->o.since, &a->o.until,
                            &a->o.actor,   &a->o.transfer, &a->o.as_of, &a->config};
    return slots[k];
}

/* What getopt_long returned: c, with its value (optarg), from the argument arg. Returns
 * LL_CLI_GO, LL_CLI_DONE (help printed) or LL_CLI_BAD (said why). */
static int take(args_t *a, int c, const char *arg) {
    switch (c) {
    case 'h':
        fputs(usage, stdout);
        return LL_CLI_DONE;
    case 1: /* no option: the command, once */
        if (a->command != NULL || arg[0] == '-') break;
        a->command = arg;
        return LL_CLI_GO;
    case ':':
        return audit_fail("%s needs a value", arg), LL_CLI_BAD;
    case OPT_ALL:
        a->o.all = 1;
        return LL_CLI_GO;
    case OPT_FORMAT:
        if (ll_table_parse_format(optarg, &a->o.format) == 0) return LL_CLI_GO;
        return audit_fail("--format must be table, csv or json, not %s", optarg), LL_CLI_BAD;
    case OPT_LIMIT:
        if (ll_cli_int_arg(optarg, 1, 1000000, &a->o.limit) == 0) return LL_CLI_GO;
        return audit_fail("--limit must be 1..1000000, not %s", optarg), LL_CLI_BAD;
    default:
        if (c < OPT_TEXT || c >= OPT_FORMAT) break;
        *text_slot(a, c - OPT_TEXT) = optarg;
        return LL_CLI_GO;
    }
    fputs(usage, stderr);
    return audit_fail("unknown argument %s", arg), LL_CLI_BAD;
}

/* argv in order (options before and after the command alike; "--" ends the options). */
static int parse(int argc, char **argv, args_t *a) {
    optind = 0, opterr = 0; /* 0: glibc's getopt starts afresh; we say what is wrong ourselves */
    int rc = LL_CLI_GO;
    while (rc == LL_CLI_GO) {
        int at = optind > 0 ? optind : 1; /* the argument getopt_long reads now */
        /* '-': arguments that are no option come back in order, as 1; ':': a missing value. */
        int c = getopt_long(argc, argv, "-:h", long_options, NULL);
        if (c == -1) break;
        rc = take(a, c, c == 1 ? optarg : argv[at]);
    }
    for (int i = optind; rc == LL_CLI_GO && i < argc; i++) rc = take(a, 1, argv[i]);
    return rc;
}

static int valid_uuid(const char *s) {
    ll_uuid_t u;
    return s == NULL || ll_uuid_parse(s, true, &u) == 0;
}

static int valid_time(const char *s) {
    int64_t us;
    return s == NULL || ll_time_parse_rfc3339(s, &us) == 0;
}

#define NEEDS_ACCOUNT  1
#define NEEDS_AS_OF    2
#define NEEDS_TRANSFER 4

typedef struct {
    const char *name;
    audit_command_fn run;
    int needs;      /* NEEDS_*: the options it cannot run without */
    int read_model; /* it reads MongoDB too */
} command_t;

static const command_t commands[] = {
    {"events", audit_events, 0, 0},
    {"replay", audit_replay, NEEDS_ACCOUNT, 0},
    {"balance", audit_balance, NEEDS_ACCOUNT | NEEDS_AS_OF, 0},
    {"verify", audit_verify, 0, 0},
    {"trace", audit_trace, NEEDS_TRANSFER, 0},
    {"reconcile", audit_reconcile, 0, 1},
};

/* The command to run, its options checked; NULL when refused (said why). */
static const command_t *command_of(const args_t *a) {
    const options_t *o = &a->o;
    if (a->command == NULL) return fputs(usage, stderr), NULL;
    if (!valid_uuid(o->account) || !valid_uuid(o->transfer))
        return audit_fail("%s", "--account and --transfer take UUIDs"), NULL;
    if (!valid_time(o->since) || !valid_time(o->until) || !valid_time(o->as_of))
        return audit_fail(
                   "%s",
                   "--since, --until and --as-of take RFC 3339 date-times such as 2026-11-24T12:00:00Z"),
               NULL;
    if (o->type != NULL && ll_event_type_from_name(o->type) == LL_EVENT_NONE)
        return audit_fail("unknown event type %s", o->type), NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const command_t *c = &commands[i];
        if (strcmp(a->command, c->name) != 0) continue;
        int has = (o->account ? NEEDS_ACCOUNT : 0) | (o->as_of ? NEEDS_AS_OF : 0) |
                  (o->transfer ? NEEDS_TRANSFER : 0);
        if ((c->needs & has) != c->needs)
            return audit_fail("%s: required option missing (see --help)", c->name), NULL;
        return c;
    }
    audit_fail("unknown command %s (events, replay, balance, verify, trace, reconcile)", a->command);
    return NULL;
}

int main(int argc, char **argv) {
    args_t a = {.o = {.limit = 1000, .format = LL_TABLE_TEXT}};
    int parsed = parse(argc, argv, &a);
    if (parsed != LL_CLI_GO) return parsed == LL_CLI_DONE ? 0 : EXIT_USAGE;
    const command_t *command = command_of(&a);
    if (command == NULL) return EXIT_USAGE;
    ll_config_t cfg;
    if (ll_cli_load_config("ledgerline-audit", a.config, &cfg) != 0) return EXIT_USAGE;
    ll_error_t err = {""};
    PGconn *pg = ll_pg_connect(cfg.pg_conninfo, &err);
    if (pg == NULL) return audit_fail("%s", err.msg);
    if (command->read_model) ll_rm_library_init();
    int rc = command->run(pg, &a.o, &cfg);
    if (command->read_model) ll_rm_library_cleanup();
    PQfinish(pg);
    return rc;
}
