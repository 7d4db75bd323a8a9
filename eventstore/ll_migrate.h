/* ll_migrate.h - numbered schema migrations (eventstore/migrations/NNNN_name.sql), embedded in
 * the binaries at build time.
 *
 * ll_migrate_apply runs as the schema owner: it applies, in order and each in its own
 * transaction, every migration not yet recorded in schema_migrations, under an advisory lock so
 * concurrent runs are safe. A recorded migration whose text changed since it was applied is an
 * error: applied migrations are history and never edited. The token @APP_ROLE@ in a migration is
 * replaced by the services' role, quoted as an identifier.
 */
#ifndef LL_MIGRATE_H
#define LL_MIGRATE_H

#include "ll_error.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

typedef struct ll_migration {
    int version;
    const char *name;
    const char *sql;
} ll_migration_t;

extern const ll_migration_t ll_migrations[]; /* generated, ascending versions */
extern const size_t ll_migration_count;

/* The version the schema must have for this build: the last migration's. */
int ll_migrate_latest_version(void);

/* Applies pending migrations on conn (a schema owner's connection), granting to app_role.
 * Writes one line per migration to progress (may be NULL). Returns 0, or a negative code with
 * err set; a failed migration is rolled back entirely and later ones are not attempted. */
int ll_migrate_apply(PGconn *conn, const char *app_role, FILE *progress, ll_error_t *err);

/* Checks, on any connection, that the schema is at ll_migrate_latest_version(). Returns 0, or
 * LL_EINVAL with err saying which version was found and what to run. */
int ll_migrate_check(PGconn *conn, ll_error_t *err);

#endif
