/* ll_audit.h - ledgerline-audit's commands and what they share. One file each: events
 * (ll_audit_events.c), replay and balance (ll_audit_account.c), verify (ll_audit_verify.c),
 * trace (ll_audit_trace.c), reconcile (ll_audit_reconcile.c); the rows they print
 * (ll_audit_rows.c); the command line (audit_main.c). */
#ifndef LL_AUDIT_H
#define LL_AUDIT_H

#include "ll_account.h"
#include "ll_config.h"
#include "ll_event.h"
#include "ll_event_reader.h"
#include "ll_pg.h"
#include "ll_progress.h"
#include "ll_table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXIT_FINDING 1 /* tampering or an inconsistency was found */
#define EXIT_USAGE   2 /* bad arguments, configuration or connection */

typedef struct {
    const char *account, *type, *since, *until, *actor, *transfer, *as_of;
    int all;
    int limit;
    ll_table_format_t format;
} options_t;

/* A command: reads pg (and, reconcile, the read models of cfg), prints, returns the exit status. */
typedef int (*audit_command_fn)(PGconn *pg, const options_t *o, const ll_config_t *cfg);

int audit_events(PGconn *pg, const options_t *o, const ll_config_t *cfg);
int audit_replay(PGconn *pg, const options_t *o, const ll_config_t *cfg);
int audit_balance(PGconn *pg, const options_t *o, const ll_config_t *cfg);
int audit_verify(PGconn *pg, const options_t *o, const ll_config_t *cfg);
int audit_trace(PGconn *pg, const options_t *o, const ll_config_t *cfg);
int audit_reconcile(PGconn *pg, const options_t *o, const ll_config_t *cfg);

/* ---- shared (ll_audit_rows.c) ---- */

/* Prints "ledgerline-audit: MESSAGE" and returns the usage/connection exit status. */
int audit_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void fmt_i64(char *buf, size_t size, int64_t v);

/* An account's figures, the columns of AUDIT_FIGURE_COLUMNS: balance, held, available and
 * overdraft limit as text, and frozen. */
#define AUDIT_FIGURES 5
/* clang-format off */
#define AUDIT_FIGURE_COLUMNS \
    {"balance_minor", 1}, {"held_minor", 1}, {"available_minor", 1}, {"overdraft_limit_minor", 1}, {"frozen", 0}
/* clang-format on */
typedef struct {
    char text[4][24];
    const char *cell[AUDIT_FIGURES]; /* into text, and "true" / "false" */
} audit_figures_t;

void fmt_figures(const ll_account_t *a, audit_figures_t *out);

/* The table of `events` and `trace`: one row per decoded event. */
ll_table_t *event_table_new(void);
int add_event_row(ll_table_t *t, const ll_event_t *ev);

/* Prints t in o's format and frees it. Returns 0 or EXIT_USAGE. */
int print_table(ll_table_t *t, const options_t *o);

/* Prints a table of findings: when it has rows, or always as JSON (an empty list). Frees it. */
int print_findings(ll_table_t *t, const options_t *o);

/* --account parsed into *id, or NULL when not given (every account). */
const ll_uuid_t *audit_account(const options_t *o, ll_uuid_t *id);

/* Starts p with the store's total of --account's (or every account's) events, or of accounts
 * (events false). Returns 0, or EXIT_USAGE (said why). */
int start_progress(ll_event_reader_t *store, const options_t *o, ll_progress_t *p, const char *phase, bool events);

#endif
