/* ll_pg_prepared.c - see ll_pg_prepared.h. */
#include "ll_pg_prepared.h"

#include "ll_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ll_pg_prepared_init(ll_pg_prepared_t *ps) {
    memset(ps, 0, sizeof *ps);
}

void ll_pg_prepared_clear(ll_pg_prepared_t *ps) {
    for (int i = 0; i < ps->n; i++) free(ps->stmt[i].sql);
    ps->n = 0;
    ps->conn = NULL;
    ps->backend_pid = 0;
}

static int find(const ll_pg_prepared_t *ps, const char *name) {
    for (int i = 0; i < ps->n; i++)
        if (strcmp(ps->stmt[i].name, name) == 0) return i;
    return -1;
}

static void forget(ll_pg_prepared_t *ps, int i) {
    free(ps->stmt[i].sql);
    ps->stmt[i] = ps->stmt[--ps->n];
}

/* Prepares sql as name on conn and remembers it. Returns its slot, LL_PG_PREPARED_MAX when
 * there is no room left (run it unprepared), or -1 with err set. */
static int prepare(ll_pg_prepared_t *ps, PGconn *conn, const char *name, const char *sql, int n,
                   char sqlstate[6], ll_error_t *err) {
    if (ps->n == LL_PG_PREPARED_MAX) return LL_PG_PREPARED_MAX;
    char *copy = strdup(sql);
    if (copy == NULL) {
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return -1;
    }
    ps->prepares++;
    PGresult *res = ll_pg_checked(conn, PQprepare(conn, name, sql, n, NULL), PGRES_COMMAND_OK, sqlstate, err);
    if (res == NULL) {
        free(copy);
        return -1;
    }
    PQclear(res);
    ps->stmt[ps->n].name = name;
    ps->stmt[ps->n].sql = copy;
    return ps->n++;
}

PGresult *ll_pg_prepared_query(ll_pg_prepared_t *ps, PGconn *conn, const char *name, const char *sql, int n,
                               const char *const *params, ExecStatusType expect, char sqlstate[6],
                               ll_error_t *err) {
    if (sqlstate != NULL) sqlstate[0] = '\0';
    /* Another session: its statements are not there. The pid too, for a new session behind the
     * same pointer (PQreset, or malloc handing a freed PGconn's address to the next one). */
    int pid = PQbackendPID(conn);
    if (ps->conn != conn || ps->backend_pid != pid) {
        ll_pg_prepared_clear(ps);
        ps->conn = conn;
        ps->backend_pid = pid;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        int i = find(ps, name);
        if (i >= 0 && strcmp(ps->stmt[i].sql, sql) != 0) {
            ll_error_set(err, LL_EINVAL, "statement %s was prepared with another text", name);
            return NULL;
        }
        if (i < 0) i = prepare(ps, conn, name, sql, n, sqlstate, err);
        if (i < 0) return NULL;
        if (i == LL_PG_PREPARED_MAX) return ll_pg_query_state(conn, sql, n, params, expect, sqlstate, err);
        PGresult *res = PQexecPrepared(conn, name, n, params, NULL, NULL, 0);
        if (res != NULL && PQresultStatus(res) != expect && strcmp(ll_pg_sqlstate(res), "26000") == 0 &&
            attempt == 0) {
            PQclear(res); /* the session lost it (DISCARD ALL by a pooler): prepare it again */
            forget(ps, i);
            continue;
        }
        return ll_pg_checked(conn, res, expect, sqlstate, err);
    }
    return NULL; /* not reached: the second attempt returns */
}
