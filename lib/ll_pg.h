/* ll_pg.h - small checked wrappers over libpq, shared by every program that talks to PostgreSQL.
 * Parameterised statements only: values never become SQL text. */
#ifndef LL_PG_H
#define LL_PG_H

#include "ll_error.h"

#include <libpq-fe.h>

/* Connects with conninfo. Returns the connection, or NULL with err set (password never shown). */
PGconn *ll_pg_connect(const char *conninfo, ll_error_t *err);

/* Bounds every later statement of conn to ms milliseconds (SET statement_timeout): a statement
 * stuck on a lock fails with SQLSTATE 57014 instead of holding a request forever. 0 is none. */
int ll_pg_set_statement_timeout(PGconn *conn, long long ms, ll_error_t *err);

/* ll_pg_connect, then ll_pg_set_statement_timeout(statement_timeout_ms): how every long-lived
 * connection of ours starts. Returns the connection, or NULL with err set (nothing left open). */
PGconn *ll_pg_connect_bounded(const char *conninfo, long long statement_timeout_ms, ll_error_t *err);

/* Runs a statement without parameters and expects PGRES_COMMAND_OK or PGRES_TUPLES_OK.
 * Returns 0, or LL_EIO with err holding the server's message and SQLSTATE. */
int ll_pg_exec(PGconn *conn, const char *sql, ll_error_t *err);

/* Runs sql with n text parameters and expects status. Returns the result (caller PQclear()s),
 * or NULL with err set. */
PGresult *ll_pg_query(PGconn *conn, const char *sql, int n, const char *const *params, ExecStatusType expect,
                      ll_error_t *err);

/* As ll_pg_query; on failure also copies the SQLSTATE ("23505", "" when none) into sqlstate
 * (may be NULL), so callers decide on the code, never on message text. */
PGresult *ll_pg_query_state(PGconn *conn, const char *sql, int n, const char *const *params,
                            ExecStatusType expect, char sqlstate[6], ll_error_t *err);

/* Checks a result of conn against expect: returns res, or NULL (res cleared) with err set and
 * sqlstate (may be NULL) holding the server's SQLSTATE. A NULL res is conn's failure. */
PGresult *ll_pg_checked(PGconn *conn, PGresult *res, ExecStatusType expect, char sqlstate[6],
                        ll_error_t *err);

/* The SQLSTATE of a failed result ("23505"), or "" when there is none. */
const char *ll_pg_sqlstate(const PGresult *res);

/* True when the connection is gone (so the caller reconnects rather than retrying in place). */
int ll_pg_broken(const PGconn *conn);

#endif
