/* ll_test_db.h - a PostgreSQL database of a test's own on the local stack, for C tests that write
 * past the API (delete outbox rows, take keys over): made afresh and migrated, then dropped, so
 * the stack's own ledger (database "ledgerline", what `make run` serves) is never touched.
 *
 *   char conninfo[1024];
 *   if (ll_test_db_create("ledgerline_my_test", &cfg, conninfo, sizeof conninfo, &err) != 0) ...
 *   ... the services' role on the test's database: conninfo ...
 *   ll_test_db_drop("ledgerline_my_test", &err);
 *
 * Creating and dropping a database takes the superuser: psql as postgres over the stack's socket
 * (var/pg/socket under the working directory: tests run from the repository root; port
 * LL_PG_PORT, else 55432), as tests/e2e/ll_e2e.py does. The schema is migrated as the owner
 * (pg_migrate_conninfo with the database replaced), granting to pg_app_role.
 */
#ifndef LL_TEST_DB_H
#define LL_TEST_DB_H

#include "ll_config.h"
#include "ll_error.h"
#include "ll_migrate.h"
#include "ll_pg.h"

#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* The stack's own ledger: a test database never has this name. */
#define LL_TEST_DB_SHARED "ledgerline"

/* 0 when db is a plain lower-case identifier (it goes into SQL unquoted) other than the stack's. */
static inline int ll_test_db_name_ok(const char *db, ll_error_t *err) {
    size_t n = strlen(db);
    if (n == 0 || n > 63) return ll_error_set(err, LL_EINVAL, "test database name length %zu", n);
    for (size_t i = 0; i < n; i++)
        if (!((db[i] >= 'a' && db[i] <= 'z') || (db[i] >= '0' && db[i] <= '9') || db[i] == '_'))
            return ll_error_set(err, LL_EINVAL, "test database name '%s': [a-z0-9_] only", db);
    if (strcmp(db, LL_TEST_DB_SHARED) == 0)
        return ll_error_set(err, LL_EINVAL, "refused: '%s' is the stack's own ledger", db);
    return 0;
}

/* Runs one statement as the postgres superuser in database postgres. */
static inline int ll_test_db_superuser(const char *sql, ll_error_t *err) {
    extern char **environ;
    char socket_dir[PATH_MAX];
    if (realpath("var/pg/socket", socket_dir) == NULL)
        return ll_error_set(err, LL_ENOENT,
                            "var/pg/socket not found: run from the repository root (make up)");
    const char *env_port = getenv("LL_PG_PORT");
    char *port = (char *)(env_port && *env_port ? env_port : "55432"), *statement = (char *)sql;
    char *const argv[] = {"runuser",
                          "-u",
                          "postgres",
                          "--",
                          "psql",
                          "-X",
                          "-q",
                          "-v",
                          "ON_ERROR_STOP=1",
                          "-h",
                          socket_dir,
                          "-p",
                          port,
                          "-d",
                          "postgres",
                          "-c",
                          "SET client_min_messages = warning",
                          "-c",
                          statement,
                          NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (rc != 0) return ll_error_set(err, LL_EIO, "runuser: %s", strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return ll_error_set(err, LL_EIO, "waitpid: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return ll_error_set(err, LL_EIO, "superuser psql failed (status %d): %s", status, sql);
    return 0;
}

/* base with its dbname replaced by db, as a keyword/value conninfo (every value quoted). */
static inline int ll_test_db_conninfo(const char *base, const char *db, char *out, size_t size,
                                      ll_error_t *err) {
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(base, &perr);
    if (opts == NULL) {
        ll_error_set(err, LL_EINVAL, "conninfo: %s", perr ? perr : "out of memory");
        PQfreemem(perr);
        return LL_EINVAL;
    }
    size_t len = 0;
    out[0] = '\0';
    int rc = 0;
    for (PQconninfoOption *o = opts; o->keyword != NULL && rc == 0; o++) {
        const char *val = strcmp(o->keyword, "dbname") == 0 ? db : o->val;
        if (val == NULL) continue;
        int w = snprintf(out + len, size - len, "%s%s='", len ? " " : "", o->keyword);
        if (w < 0 || (size_t)w >= size - len)
            rc = LL_ELIMIT;
        else
            len += (size_t)w;
        for (const char *c = val; rc == 0 && *c; c++) { /* quote and backslash escaped */
            if (len + 3 >= size)
                rc = LL_ELIMIT;
            else {
                if (*c == '\'' || *c == '\\') out[len++] = '\\';
                out[len++] = *c;
            }
        }
        if (rc == 0 && len + 2 >= size) rc = LL_ELIMIT;
        if (rc == 0) out[len++] = '\'', out[len] = '\0';
    }
    PQconninfoFree(opts);
    return rc ? ll_error_set(err, rc, "conninfo too long") : 0;
}

/* Makes database db afresh (dropping a leftover), migrates it, and writes the services' conninfo
 * for it (cfg's pg_conninfo, database db) to app_conninfo. */
static inline int ll_test_db_create(const char *db, const ll_config_t *cfg, char *app_conninfo, size_t size,
                                    ll_error_t *err) {
    char sql[256], owner[2048];
    if (ll_test_db_name_ok(db, err) != 0) return LL_EINVAL;
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    if (ll_test_db_superuser(sql, err) != 0) return LL_EIO;
    snprintf(sql, sizeof sql, "CREATE DATABASE %s OWNER ledgerline_owner", db);
    if (ll_test_db_superuser(sql, err) != 0) return LL_EIO;
    if (ll_test_db_conninfo(cfg->pg_migrate_conninfo, db, owner, sizeof owner, err) != 0 ||
        ll_test_db_conninfo(cfg->pg_conninfo, db, app_conninfo, size, err) != 0)
        return LL_EINVAL;
    PGconn *conn = ll_pg_connect(owner, err);
    if (conn == NULL) return LL_EIO;
    int rc = ll_migrate_apply(conn, cfg->pg_app_role, NULL, err);
    PQfinish(conn);
    return rc;
}

/* Drops database db (whoever is still connected). */
static inline int ll_test_db_drop(const char *db, ll_error_t *err) {
    char sql[256];
    if (ll_test_db_name_ok(db, err) != 0) return LL_EINVAL;
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    return ll_test_db_superuser(sql, err);
}

#endif
