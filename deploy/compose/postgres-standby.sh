#!/usr/bin/env bash
# The synchronous standby of compose.yaml. First start: a copy of the primary (pg_basebackup,
# fast checkpoint, -R writes standby.signal and primary_conninfo), named postgres_standby, the
# name the primary's synchronous_standby_names waits for. Then PostgreSQL, streaming.
# Promote it by hand when the primary is lost (docs/operations.md):
#   docker compose exec postgres-standby pg_ctl promote
set -euo pipefail
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    export PGPASSWORD=$PG_REPLICATION_PASSWORD
    until pg_isready -h postgres -q; do sleep 1; done
    pg_basebackup -h postgres -U replicator -D "$PGDATA" -R -X stream --checkpoint=fast \
        -d "application_name=postgres_standby"
    chmod 700 "$PGDATA"
fi
exec postgres -c hot_standby=on -c max_connections=200
