#!/usr/bin/env bash
# Runs once, when the PostgreSQL volume is new (docker-entrypoint-initdb.d): the roles and the
# database of deploy/local/stack.sh's pg_bootstrap. Schema objects come from ledgerline-migrate.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v owner_pw="$PG_OWNER_PASSWORD" -v app_pw="$PG_APP_PASSWORD" -v repl_pw="$PG_REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator REPLICATION LOGIN PASSWORD :'repl_pw';
CREATE ROLE ledgerline_owner LOGIN PASSWORD :'owner_pw';
CREATE ROLE ledgerline LOGIN PASSWORD :'app_pw';
CREATE DATABASE ledgerline OWNER ledgerline_owner;
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname ledgerline <<'SQL'
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO ledgerline_owner;
GRANT USAGE ON SCHEMA public TO ledgerline;
SQL
# The standby copies and follows the primary as replicator (compose's network only).
echo "host replication replicator all scram-sha-256" >>"$PGDATA/pg_hba.conf"
