/* ll_cli.c - see ll_cli.h. */
#include "ll_cli.h"

#include <getopt.h>
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

#define CLI_OPTIONS_MAX 16

static int bad_argument(const char *prog, const char *usage, const char *arg) {
    fprintf(stderr, "%s: bad argument '%s'\n", prog, arg);
    fputs(usage, stderr);
    return LL_CLI_BAD;
}

/* Stores optarg as opt asks. Returns 0, or -1 when the value is refused. */
static int take_value(const ll_cli_option_t *opt, const char *value) {
    switch (opt->kind) {
    case LL_CLI_FLAG:
        *(int *)opt->out = 1;
        return 0;
    case LL_CLI_STR:
        if (opt->valid != NULL && !opt->valid(value)) return -1;
        *(const char **)opt->out = value;
        return 0;
    case LL_CLI_INT:
        return ll_cli_int_arg(value, opt->lo, opt->hi, opt->out);
    }
    return -1;
}

int ll_cli_parse(const char *prog, const char *usage, const ll_cli_option_t *opts, int argc, char **argv) {
    struct option longs[CLI_OPTIONS_MAX + 2] = {{"help", no_argument, NULL, 'h'}};
    size_t n = 0;
    for (; opts != NULL && opts[n].name != NULL && n < CLI_OPTIONS_MAX; n++)
        longs[n + 1] = (struct option){opts[n].name, opts[n].kind == LL_CLI_FLAG ? no_argument : required_argument,
                                       NULL, 256 + (int)n};
    longs[n + 1] = (struct option){NULL, 0, NULL, 0};
    /* '+': the first argument that is no option ends the options (it is then refused), as the
     * hand-written loops did; ':' tells a missing value from an unknown option. */
    optind = 0, opterr = 0; /* 0: glibc's getopt starts afresh, even after an earlier parse */
    int c;
    while ((c = getopt_long(argc, argv, "+:h", longs, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return LL_CLI_DONE;
        }
        if (c < 256) return bad_argument(prog, usage, argv[optind - 1]); /* unknown, or no value */
        const ll_cli_option_t *opt = &opts[c - 256];
        if (take_value(opt, optarg) != 0) return bad_argument(prog, usage, optarg);
        if (opt->stops) return LL_CLI_DONE;
    }
    if (optind < argc) return bad_argument(prog, usage, argv[optind]);
    return LL_CLI_GO;
}
