/* ll_pg_prepared.h - named prepared statements of one connection, prepared on first use.
 *
 * A statement sent with PQexecParams is parsed and planned again on every execution; for the
 * write side's short transactions that was a third of PostgreSQL's CPU. A statement of fixed
 * text (arrays instead of a variable number of VALUES rows) is prepared once per session and
 * then only bound and executed, its plan cached by the server.
 *
 *   static ll_pg_prepared_t ps;  (one per connection; ll_pg_prepared_clear() when it is replaced)
 *   res = ll_pg_prepared_query(&ps, conn, "ll_lock_accounts", "SELECT ... = ANY($1::uuid[])", ...);
 *
 * A name always goes with the same text (a different text under a known name is refused: a
 * programming error). Another session is told apart by its PGconn and its backend's pid, so
 * a connection re-made at the same address prepares again before it executes; still, whoever
 * replaces a connection calls ll_pg_prepared_clear(). A session that lost its statements (a
 * pooler that discards them) is noticed (SQLSTATE 26000) and the statement prepared again: a
 * failed round trip, and inside a transaction its end.
 */
#ifndef LL_PG_PREPARED_H
#define LL_PG_PREPARED_H

#include "ll_error.h"

#include <libpq-fe.h>
#include <stdint.h>

#define LL_PG_PREPARED_MAX 16 /* statements per connection; more run unprepared */

/* The settings of a session whose every statement is a prepared index lookup (the command
 * service's store, the relay): each statement is planned once (generic), and only index paths
 * are taken, whatever the tables' statistics say at that moment. Planned against an empty,
 * never-analyzed table (a fresh deployment) the generic plan of the store's responses' UPDATE
 * was a hash join over a scan of idempotency_keys, kept until the next analyze while the table
 * grew; the outbox, a queue, always looks small to the planner while dead rows pile up. */
#define LL_PG_PREPARED_SESSION_SQL "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off"

typedef struct ll_pg_prepared {
    const PGconn *conn; /* the session the statements below live in: this PGconn ... */
    int backend_pid;    /* ... and this backend (a PQreset, or a new PGconn at a freed one's address) */
    int n;
    struct {
        const char *name; /* a string literal of the caller's */
        char *sql;
    } stmt[LL_PG_PREPARED_MAX];
    uint64_t prepares; /* PQprepare calls so far (tests, metrics) */
} ll_pg_prepared_t;

void ll_pg_prepared_init(ll_pg_prepared_t *ps);

/* Forgets every statement (call it when the connection is replaced); frees what it holds. */
void ll_pg_prepared_clear(ll_pg_prepared_t *ps);

/* Runs sql, prepared as name on conn the first time, with n text parameters, and expects
 * status. Returns the result (caller PQclear()s), or NULL with err set and sqlstate (may be
 * NULL) holding the server's SQLSTATE. */
PGresult *ll_pg_prepared_query(ll_pg_prepared_t *ps, PGconn *conn, const char *name, const char *sql, int n,
                               const char *const *params, ExecStatusType expect, char sqlstate[6],
                               ll_error_t *err);

#endif
