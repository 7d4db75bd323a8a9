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

#endif
