/* Unit tests of lib/ll_cli.c's option parsing (getopt_long): every spelling the hand-written
 * loops took is taken, values are checked, anything else is a bad argument, and --help and a
 * flag that stops end the parse at once. */
#include "ll_cli.h"
#include "ll_test.h"

#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *config, *name;
    int count, flag, list;
} opts_t;

static int name_valid(const char *v) {
    return strcmp(v, "bad") != 0;
}

/* Parses the space-separated words of line. The words outlive the call (the options point into
 * them, as into a real argv), until the next parse. */
static int parse(const char *line, opts_t *o) {
    static char buf[256];
    char *argv[16] = {"prog"};
    int argc = 1;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *w = strtok(buf, " "); w != NULL && argc < 15; w = strtok(NULL, " ")) argv[argc++] = w;
    argv[argc] = NULL;
    memset(o, 0, sizeof *o);
    o->count = 7;
    const ll_cli_option_t options[] = {
        {.name = "config", .kind = LL_CLI_STR, .out = &o->config},
        {.name = "name", .kind = LL_CLI_STR, .out = &o->name, .valid = name_valid},
        {.name = "count", .kind = LL_CLI_INT, .out = &o->count, .lo = 1, .hi = 10},
        {.name = "flag", .kind = LL_CLI_FLAG, .out = &o->flag},
        {.name = "list", .kind = LL_CLI_FLAG, .out = &o->list, .stops = 1},
        {.name = NULL},
    };
    /* What it prints is not under test here: stdout and stderr go to /dev/null meanwhile. */
    fflush(stdout), fflush(stderr);
    int saved[2] = {dup(1), dup(2)}, null = open("/dev/null", O_WRONLY);
    dup2(null, 1), dup2(null, 2);
    int rc = ll_cli_parse("prog", "usage\n", options, argc, argv);
    fflush(stdout), fflush(stderr);
    dup2(saved[0], 1), dup2(saved[1], 2);
    close(saved[0]), close(saved[1]), close(null);
    return rc;
}

LL_TEST(test_spellings_taken) {
    opts_t o;
    LL_CHECK_EQ_INT(parse("", &o), LL_CLI_GO);
    LL_CHECK_EQ_INT(o.count, 7); /* untouched when not given */
    LL_CHECK_EQ_INT(parse("--config a.conf --count 3 --flag --name x", &o), LL_CLI_GO);
    LL_CHECK_EQ_STR(o.config, "a.conf");
    LL_CHECK_EQ_INT(o.count, 3);
    LL_CHECK_EQ_INT(o.flag, 1);
    LL_CHECK_EQ_STR(o.name, "x");
    LL_CHECK_EQ_INT(parse("--count=10 --config=b", &o), LL_CLI_GO);
    LL_CHECK_EQ_INT(o.count, 10);
    LL_CHECK_EQ_STR(o.config, "b");
    LL_CHECK_EQ_INT(parse("--config x --config y", &o), LL_CLI_GO); /* the last wins, as before */
    LL_CHECK_EQ_STR(o.config, "y");
}

LL_TEST(test_bad_arguments) {
    opts_t o;
    const char *bad[] = {"--bogus", "--count", "--count 0", "--count 11", "--count x", "--count 3x",
                         "stray", "--flag stray", "--name bad", "--flag=1", "-x", "-", "--config"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (parse(bad[i], &o) != LL_CLI_BAD) LL_FAIL_AT("'%s' was taken", bad[i]);
}

LL_TEST(test_help_and_stops_end_the_parse) {
    opts_t o;
    LL_CHECK_EQ_INT(parse("--help", &o), LL_CLI_DONE);
    LL_CHECK_EQ_INT(parse("-h --bogus", &o), LL_CLI_DONE);
    LL_CHECK_EQ_INT(parse("--bogus --help", &o), LL_CLI_BAD);
    LL_CHECK_EQ_INT(parse("--list --bogus", &o), LL_CLI_DONE);
    LL_CHECK_EQ_INT(o.list, 1);
    LL_CHECK_EQ_INT(parse("--bogus --list", &o), LL_CLI_BAD);
    LL_CHECK_EQ_INT(o.list, 0);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {LL_CASE(test_spellings_taken), LL_CASE(test_bad_arguments),
                                           LL_CASE(test_help_and_stops_end_the_parse)};
    return ll_test_main(argc, argv, "cli", cases, LL_CASES(cases));
}
