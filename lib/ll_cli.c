/* ll_cli.c - see ll_cli.h. */
#include "ll_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int ll_cli_load_config(const char *prog, const char *path, ll_config_t *cfg) {
    ll_error_t err = {""};
    if (ll_config_load(cfg, path, environ, &err) == 0) return 0;
    fprintf(stderr, "%s: invalid configuration: %s\n", prog, err.msg);
    return -1;
}

/* One flag for the process: signal handlers cannot take arguments. */
static volatile sig_atomic_t *stop_flag;

static void on_stop_signal(int sig) {
    (void)sig;
    if (stop_flag != NULL) *stop_flag = 1;
}

void ll_cli_stop_on_signals(volatile sig_atomic_t *stop) {
    stop_flag = stop;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int ll_cli_int_arg(const char *s, int lo, int hi, int *out) {
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}
