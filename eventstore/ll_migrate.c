/* ll_migrate.c - see ll_migrate.h. */
#include "ll_migrate.h"

#include "ll_pg.h"
#include "ll_sha256.h"

#include <stdlib.h>
#include <string.h>

/* Any fixed key: only ledgerline's migration runs take it. */
#define MIGRATE_LOCK_KEY "7301942"

static const char bootstrap_sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                    " version int PRIMARY KEY,"
                                    " name text NOT NULL,"
                                    " checksum text NOT NULL,"
                                    " applied_at timestamptz NOT NULL DEFAULT now())";

int ll_migrate_latest_version(void) {
    return ll_migration_count ? ll_migrations[ll_migration_count - 1].version : 0;
}

/* sql with every @APP_ROLE@ replaced by role (already quoted). Caller frees. */
static char *substitute_role(const char *sql, const char *role) {
    static const char token[] = "@APP_ROLE@";
    size_t count = 0, role_len = strlen(role), tok_len = sizeof token - 1;
    for (const char *p = strstr(sql, token); p; p = strstr(p + tok_len, token)) count++;
    char *out = malloc(strlen(sql) + count * role_len + 1);
    if (out == NULL) return NULL;
    char *w = out;
    for (const char *p = sql;;) {
        const char *hit = strstr(p, token);
        size_t n = hit ? (size_t)(hit - p) : strlen(p);
        memcpy(w, p, n);
        w += n;
        if (hit == NULL) break;
        memcpy(w, role, role_len);
        w += role_len;
        p = hit + tok_len;
    }
    *w = '\0';
    return out;
}

/* The recorded checksum of version v into out (65 bytes), or "" when not applied. */
static int applied_checksum(PGconn *conn, int v, char *out, ll_error_t *err) {
    char vtext[16];
    snprintf(vtext, sizeof vtext, "%d", v);
    const char *params[1] = {vtext};
    PGresult *res = ll_pg_query(conn, "SELECT checksum FROM schema_migrations WHERE version = $1::int", 1,
                                params, PGRES_TUPLES_OK, err);
    if (res == NULL) return LL_EIO;
    out[0] = '\0';
    if (PQntuples(res) == 1) snprintf(out, LL_SHA256_HEX_LEN + 1, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* Applies one migration in its own transaction and records it. */
static int apply_one(PGconn *conn, const ll_migration_t *m, const char *role, const char *checksum,
                     ll_error_t *err) {
    char *sql = substitute_role(m->sql, role);
    if (sql == NULL) return ll_error_set(err, LL_ENOMEM, "out of memory");
    char vtext[16];
    snprintf(vtext, sizeof vtext, "%d", m->version);
    const char *params[3] = {vtext, m->name, checksum};
    int rc = ll_pg_exec(conn, "BEGIN", err);
    if (rc == 0) rc = ll_pg_exec(conn, sql, err);
    if (rc == 0) {
        PGresult *res = ll_pg_query(
            conn, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1::int, $2, $3)", 3,
            params, PGRES_COMMAND_OK, err);
        rc = res ? 0 : LL_EIO;
        PQclear(res);
    }
    if (rc == 0) rc = ll_pg_exec(conn, "COMMIT", err);
    if (rc != 0) {
        ll_error_t ignored;
        ll_pg_exec(conn, "ROLLBACK", &ignored);
        char why[LL_ERROR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        ll_error_set(err, LL_EIO, "migration %s failed and was rolled back: %.400s", m->name, why);
    }
    free(sql);
    return rc;
}

static int apply_all(PGconn *conn, const char *role, FILE *progress, ll_error_t *err) {
    for (size_t i = 0; i < ll_migration_count; i++) {
        const ll_migration_t *m = &ll_migrations[i];
        char checksum[LL_SHA256_HEX_LEN + 1], recorded[LL_SHA256_HEX_LEN + 1];
        if (ll_sha256_hex(m->sql, strlen(m->sql), checksum) != 0)
            return ll_error_set(err, LL_EIO, "SHA-256 failed");
        int rc = applied_checksum(conn, m->version, recorded, err);
        if (rc != 0) return rc;
        if (recorded[0] != '\0') {
            if (strcmp(recorded, checksum) != 0)
                return ll_error_set(err, LL_EINVAL,
                                    "migration %s was edited after it was applied (checksum differs); "
                                    "applied migrations are history: add a new one instead",
                                    m->name);
            continue;
        }
        if ((rc = apply_one(conn, m, role, checksum, err)) != 0) return rc;
        if (progress != NULL) fprintf(progress, "applied migration %s\n", m->name);
    }
    return 0;
}

int ll_migrate_apply(PGconn *conn, const char *app_role, FILE *progress, ll_error_t *err) {
    char *role = PQescapeIdentifier(conn, app_role, strlen(app_role));
    if (role == NULL) return ll_error_set(err, LL_EINVAL, "pg_app_role: cannot quote \"%.64s\"", app_role);
    /* "relation already exists, skipping" notices are expected on every run after the first. */
    int rc = ll_pg_exec(conn, "SET client_min_messages = warning", err);
    if (rc == 0) rc = ll_pg_exec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err);
    if (rc == 0) {
        char grant[256];
        snprintf(grant, sizeof grant, "GRANT SELECT ON schema_migrations TO %s", role);
        rc = ll_pg_exec(conn, bootstrap_sql, err);
        if (rc == 0) rc = ll_pg_exec(conn, grant, err);
        if (rc == 0) rc = apply_all(conn, role, progress, err);
        ll_error_t ignored;
        ll_pg_exec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", &ignored);
    }
    PQfreemem(role);
    return rc;
}

int ll_migrate_check(PGconn *conn, ll_error_t *err) {
    int want = ll_migrate_latest_version();
    PGresult *res = PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    int have = -1;
    if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        have = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (have == want) return 0;
    if (have < 0)
        return ll_error_set(err, LL_EINVAL,
                            "the database has no ledgerline schema: run ledgerline-migrate (make migrate)");
    if (have < want)
        return ll_error_set(err, LL_EINVAL,
                            "the schema is at version %d, this build needs %d: run ledgerline-migrate", have,
                            want);
    return ll_error_set(err, LL_EINVAL,
                        "the schema is at version %d, newer than this build knows (%d): upgrade the binaries",
                        have, want);
}
