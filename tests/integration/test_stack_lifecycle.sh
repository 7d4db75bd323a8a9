#!/usr/bin/env bash
# Integration: the local stack script keeps its promises. `up` twice is harmless, a killed
# component is reported DOWN by name, `up` brings back only that one. Leaves the stack up.
set -uo pipefail
cd "$(dirname "$0")/../.."
source deploy/local/stack.env
STACK=deploy/local/stack.sh
INFRA="postgres kafka ferretdb"   # the services are the e2e tests' business
passed=0 failed=0
check() { # check NAME CMD...
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "  ok   $name"
    else failed=$((failed + 1)); echo "  FAIL $name"; fi
}

out=$($STACK up $INFRA 2>&1)
check up_twice_says_already_up grep -q "ferretdb: already up" <<<"$out"
check status_all_up $STACK status $INFRA

pid=$(cat "$LL_RUN/ferretdb.pid")
kill -9 "$pid"
for _ in $(seq 50); do [[ $(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) =~ ^(Z|)$ ]] && break; sleep 0.1; done
status=$($STACK status $INFRA 2>&1); rc=$?
check status_exit_1_when_down test "$rc" -eq 1
check status_names_killed_component grep -Eq '^ferretdb +DOWN' <<<"$status"
check status_others_still_up grep -Eq '^postgres +up' <<<"$status"

out=$($STACK up $INFRA 2>&1)
check up_restarts_only_the_dead_one grep -q "ferretdb: starting" <<<"$out"
check up_leaves_live_ones grep -q "postgres: already up" <<<"$out"
check status_all_up_again $STACK status $INFRA

out=$($STACK status nosuch 2>&1); rc=$?
check unknown_component_is_an_error grep -q "unknown component 'nosuch'" <<<"$out"

# The bearer-token secret: generated once (64 hex digits and nothing else: the first make run
# once captured a log line into it), kept private, the same on the second call.
tmp=$(mktemp -d)
first=$(LL_VAR=$tmp $STACK jwt-secret 2>/dev/null)
second=$(LL_VAR=$tmp $STACK jwt-secret 2>/dev/null)
check jwt_secret_is_64_hex grep -Eqx '[0-9a-f]{64}' <<<"$first"
check jwt_secret_is_stable test "$first" = "$second"
check jwt_secret_file_is_private test "$(stat -c %a "$tmp/secrets/jwt_secret")" = 600
rm -rf "$tmp"

# FerretDB's database gets a GIN index (fastupdate off) on _jsonb->'_id' of every collection
# table it creates, and on _jsonb->'page' of events_g<N> (its @> filters cannot use its own
# btree; deploy/local/ferretdb-indexes.sql), and custom plans only.
fsql() { PGOPTIONS="-c client_min_messages=warning" runuser -u postgres -- psql -X -q -At -h "$LL_PG_SOCKET_DIR" -p "$LL_PG_PORT" -d "$LL_FERRETDB_PG_DB" -c "$1"; }
check ferretdb_index_trigger_installed test "$(fsql "SELECT count(*) FROM pg_event_trigger WHERE evtname = 'ledgerline_indexes'")" = 1
fsql "DROP SCHEMA IF EXISTS ll_gin_check CASCADE; CREATE SCHEMA ll_gin_check; CREATE TABLE ll_gin_check.events_g7 (_jsonb jsonb); CREATE TABLE ll_gin_check.accounts_g7 (_jsonb jsonb); CREATE TABLE ll_gin_check._ferretdb_database_metadata (_jsonb jsonb)"
gin() { fsql "SELECT count(*) FROM pg_indexes WHERE schemaname = 'll_gin_check' AND tablename = '$1' AND indexdef LIKE '%USING gin%' AND indexdef LIKE '%$2%' AND indexdef LIKE '%fastupdate=off%'"; }
check ferretdb_collection_gets_id_gin test "$(gin accounts_g7 "''_id''")" = 1
check ferretdb_events_get_id_and_page_gin test "$(gin events_g7 "''_id''")$(gin events_g7 "''page''")" = 11
check ferretdb_metadata_left_alone test "$(gin _ferretdb_database_metadata _id)" = 0
check ferretdb_custom_plans_only test "$(fsql "SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = current_database() AND 'plan_cache_mode=force_custom_plan' = ANY (s.setconfig)")" = 1
fsql "DROP SCHEMA ll_gin_check CASCADE"

echo "stack_lifecycle: $passed passed, $failed failed"
((failed == 0))
