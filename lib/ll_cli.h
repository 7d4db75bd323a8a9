/* ll_cli.h - what every ledgerline program's main() does the same way. */
#ifndef LL_CLI_H
#define LL_CLI_H

#include "ll_config.h"

#include <signal.h>

/* Loads the configuration (ll_config_load with the process environment). On failure prints
 * "PROG: invalid configuration: REASON" to stderr and returns -1. */
int ll_cli_load_config(const char *prog, const char *path, ll_config_t *cfg);

/* SIGTERM and SIGINT set *stop (the program finishes its work and exits); SIGPIPE is ignored
 * (a closed socket is an error return, not a death). */
void ll_cli_stop_on_signals(volatile sig_atomic_t *stop);

/* Parses s as a decimal int in [lo, hi] into *out. Returns 0, or -1 (out untouched). */
int ll_cli_int_arg(const char *s, int lo, int hi, int *out);

/* One option of a program beside -h/--help, as getopt_long takes it: --NAME VALUE (also
 * --NAME=VALUE), or --NAME for a flag; an unambiguous abbreviation is taken too. */
typedef enum { LL_CLI_FLAG, LL_CLI_STR, LL_CLI_INT } ll_cli_kind_t;

typedef struct ll_cli_option {
    const char *name; /* without "--"; NULL ends a list */
    ll_cli_kind_t kind;
    void *out;                       /* FLAG: int * set to 1; STR: const char **; INT: int * */
    int lo, hi;                      /* INT: the range */
    int (*valid)(const char *value); /* STR: NULL, or 0 for a value refused */
    int stops;                       /* FLAG: it is acted on at once (--list): parsing ends there */
} ll_cli_option_t;

#define LL_CLI_GO   0  /* parsed: run */
#define LL_CLI_DONE 1  /* --help printed, or a flag that stops was given: exit 0 after acting on it */
#define LL_CLI_BAD  -1 /* "PROG: bad argument 'ARG'" and the usage printed to stderr */

/* Parses argv[1..] in order by opts (NULL: none but --help). -h/--help prints usage to stdout.
 * An unknown option, a missing or refused value, or an argument that is no option is bad. */
int ll_cli_parse(const char *prog, const char *usage, const ll_cli_option_t *opts, int argc, char **argv);

#endif
