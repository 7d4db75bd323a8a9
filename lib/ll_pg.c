/* ll_pg.c - see ll_pg.h. */
#include "ll_pg.h"

#include <stdio.h>
#include <string.h>

/* Copies the first line of a libpq message (they end in newlines). */
static int set_pg_error(ll_error_t *err, const char *what, const char *msg, const char *sqlstate) {
    size_t len = strcspn(msg, "\n");
    if (sqlstate != NULL && *sqlstate)
        return ll_error_set(err, LL_EIO, "%s: %.*s (SQLSTATE %s)", what, (int)len, msg, sqlstate);
    return ll_error_set(err, LL_EIO, "%s: %.*s", what, (int)len, msg);
}

PGconn *ll_pg_connect(const char *conninfo, ll_error_t *err) {
    PGconn *conn = PQconnectdb(conninfo);
    if (conn == NULL) {
        ll_error_set(err, LL_ENOMEM, "PostgreSQL: out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        set_pg_error(err, "PostgreSQL connection failed", PQerrorMessage(conn), NULL);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

const char *ll_pg_sqlstate(const PGresult *res) {
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

int ll_pg_broken(const PGconn *conn) {
    return conn == NULL || PQstatus(conn) != CONNECTION_OK;
}

PGresult *ll_pg_checked(PGconn *conn, PGresult *res, ExecStatusType expect, char sqlstate[6],
                        ll_error_t *err) {
    if (sqlstate != NULL) sqlstate[0] = '\0';
    if (res == NULL) {
        set_pg_error(err, "PostgreSQL", PQerrorMessage(conn), NULL);
        return NULL;
    }
    if (PQresultStatus(res) != expect) {
        const char *msg = PQresultErrorMessage(res);
        set_pg_error(err, "PostgreSQL", *msg ? msg : PQresStatus(PQresultStatus(res)), ll_pg_sqlstate(res));
        if (sqlstate != NULL) snprintf(sqlstate, 6, "%.5s", ll_pg_sqlstate(res));
        PQclear(res);
        return NULL;
    }
    return res;
}

PGresult *ll_pg_query_state(PGconn *conn, const char *sql, int n, const char *const *params,
                            ExecStatusType expect, char sqlstate[6], ll_error_t *err) {
    return ll_pg_checked(conn, PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0), expect, sqlstate,
                         err);
}

PGresult *ll_pg_query(PGconn *conn, const char *sql, int n, const char *const *params, ExecStatusType expect,
                      ll_error_t *err) {
    return ll_pg_query_state(conn, sql, n, params, expect, NULL, err);
}

int ll_pg_exec(PGconn *conn, const char *sql, ll_error_t *err) {
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
        rc = set_pg_error(err, "PostgreSQL", msg, ll_pg_sqlstate(res));
    }
    PQclear(res);
    return rc;
}

int ll_pg_set_statement_timeout(PGconn *conn, long long ms, ll_error_t *err) {
    char sql[64];
    snprintf(sql, sizeof sql, "SET statement_timeout = %lld", ms < 0 ? 0 : ms);
    return ll_pg_exec(conn, sql, err);
}

PGconn *ll_pg_connect_bounded(const char *conninfo, long long statement_timeout_ms, ll_error_t *err) {
    PGconn *conn = ll_pg_connect(conninfo, err);
    if (conn != NULL && ll_pg_set_statement_timeout(conn, statement_timeout_ms, err) != 0) {
        PQfinish(conn);
        conn = NULL;
    }
    return conn;
}
