/* ll_pgq.h - builds one parameterised statement of variable shape (multi-row VALUES for group
 * commit) without ever putting a value into the SQL text.
 *
 *   ll_pgq_t q; ll_pgq_init(&q);
 *   ll_pgq_sql(&q, "INSERT INTO t (a, b) VALUES ");
 *   for each row: ll_pgq_sql(&q, i ? ",(" : "("); ll_pgq_param(&q, a, "uuid"); ll_pgq_sql(&q, ",");
 *                 ll_pgq_paramf(&q, "bigint", "%lld", b); ll_pgq_sql(&q, ")");
 *   PGresult *res = ll_pgq_exec(conn, &q, PGRES_COMMAND_OK, &err); ... ll_pgq_free(&q);
 *
 * A statement of fixed text whatever the number of rows takes its columns as arrays
 * (ll_pgq_array_*: "INSERT INTO t (a, b) SELECT * FROM unnest($1::uuid[], $2::bigint[])") and
 * runs prepared (ll_pgq_exec_prepared): parsed and planned once per session.
 *
 * ll_pgq_sql takes constant SQL only. Allocation failures are remembered and reported by
 * ll_pgq_exec, so callers check once.
 */
#ifndef LL_PGQ_H
#define LL_PGQ_H

#include "ll_error.h"
#include "ll_pg_prepared.h"

#include <libpq-fe.h>
#include <stddef.h>

typedef struct ll_pgq {
    char *sql;
    size_t sql_len, sql_cap;
    char *arena; /* parameter values, NUL-separated */
    size_t arena_len, arena_cap;
    size_t *offsets; /* of each parameter in arena */
    int n, cap;
    int failed;       /* an allocation failed: exec refuses */
    int array_items;  /* items of the array parameter being built; -1 when none is */
    char sqlstate[6]; /* of the last failed exec ("" when none) */
} ll_pgq_t;

void ll_pgq_init(ll_pgq_t *q);
void ll_pgq_reset(ll_pgq_t *q); /* empties, keeps the buffers */
void ll_pgq_free(ll_pgq_t *q);

/* Appends constant SQL text. */
void ll_pgq_sql(ll_pgq_t *q, const char *text);

/* Appends "$N::cast" (or "$N" when cast is NULL) and value as parameter N. */
void ll_pgq_param(ll_pgq_t *q, const char *value, const char *cast);

/* As ll_pgq_param with a printf-formatted value. */
void ll_pgq_paramf(ll_pgq_t *q, const char *cast, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Builds one array parameter, item by item: begin, items (NULL value: a NULL item), end, which
 * appends "$N::cast" (cast names the array type, "uuid[]"). Items are quoted and escaped. */
void ll_pgq_array_begin(ll_pgq_t *q);
void ll_pgq_array_item(ll_pgq_t *q, const char *value);
void ll_pgq_array_itemf(ll_pgq_t *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ll_pgq_array_end(ll_pgq_t *q, const char *cast);

/* Runs the statement. Returns the result (caller PQclear()s) or NULL with err set and q->sqlstate
 * holding the server's SQLSTATE, if any. */
PGresult *ll_pgq_exec(PGconn *conn, ll_pgq_t *q, ExecStatusType expect, ll_error_t *err);

/* As ll_pgq_exec, the statement prepared as name in ps's session on first use (its text must
 * be the same every time: arrays, not a variable number of rows). */
PGresult *ll_pgq_exec_prepared(PGconn *conn, ll_pg_prepared_t *ps, const char *name, ll_pgq_t *q,
                               ExecStatusType expect, ll_error_t *err);

#endif
