# shellcheck shell=bash
# The replicated event store of the local stack (LL_PG_NODES=2): pg_auto_failover's monitor and
# two PostgreSQL nodes on loopback, one primary with a synchronous standby, promoted by the
# monitor when the primary is lost. Sourced by stack.sh, which calls up_/down_/status_postgres_ha
# in place of the single node's functions. Runbook and guarantees: docs/reliability.md.
#
# Layout under var/pgha/: monitor/ node1/ node2/ (data directories), socket/, config/ share/ run/
# (pg_autoctl's own files, kept here rather than in ~postgres), bin/ (the server's programs as
# pg_autoctl runs them); pid files and logs as the other components' (var/run, var/log:
# postgres-monitor, postgres-N). Ports: node N on LL_PGHA_PORT+N-1, the monitor on
# LL_PGHA_MONITOR_PORT.
#
# A node whose data directory is gone (the machine was lost) is dropped from the monitor and
# created again as a standby of the current primary (pg_basebackup): `stack.sh up postgres`.

PGHA_DIR=$LL_VAR/pgha
PGHA_SOCKET=$PGHA_DIR/socket
PGHA_NODES=2

pgha_node_port() { echo $((LL_PGHA_PORT + $1 - 1)); }
pgha_data() { if [[ "$1" == monitor ]]; then echo "$PGHA_DIR/monitor"; else echo "$PGHA_DIR/node$1"; fi; }
pgha_monitor_uri() { echo "postgres://autoctl_node@127.0.0.1:$LL_PGHA_MONITOR_PORT/pg_auto_failover?sslmode=disable"; }

# libpq finds the primary among the nodes by itself (target_session_attrs), after a failover too.
pgha_hosts() { local i h="" p=""; for ((i = 1; i <= PGHA_NODES; i++)); do h+="${h:+,}127.0.0.1"; p+="${p:+,}$(pgha_node_port "$i")"; done; echo "host=$h port=$p"; }
pgha_conninfo() {
    echo "$(pgha_hosts) dbname=$LL_PG_DB user=$1 password=$2 target_session_attrs=read-write connect_timeout=2 application_name=$3"
}
# FerretDB's driver (pgx) takes the same list as a URL.
pgha_url() {
    local i hosts=""
    for ((i = 1; i <= PGHA_NODES; i++)); do hosts+="${hosts:+,}127.0.0.1:$(pgha_node_port "$i")"; done
    echo "postgres://$1:$2@$hosts/$3?target_session_attrs=read-write&connect_timeout=2"
}

# pg_autoctl as the postgres user, its configuration, state and pid files under var/pgha. setpriv
# execs (runuser would stay as a parent), so a background one's pid file names pg_autoctl itself.
pgha_ctl() {
    local how=""
    [[ "${1:-}" == --exec ]] && { how=exec; shift; } # replaces the calling shell (keeps its pid)
    $how setpriv --reuid=postgres --regid=postgres --init-groups env -i HOME="$PGHA_DIR" PATH="$(pg_bin):/usr/bin:/bin" \
        XDG_CONFIG_HOME="$PGHA_DIR/config" XDG_DATA_HOME="$PGHA_DIR/share" XDG_RUNTIME_DIR="$PGHA_DIR/run" \
        PGHOST="$PGHA_SOCKET" pg_autoctl "$@"
}
pgha_monitor_sql() {
    pg_as "$(pg_bin)/psql" -X -q -At -h 127.0.0.1 -p "$LL_PGHA_MONITOR_PORT" -U autoctl_node \
        -d pg_auto_failover -c "$1" 2>/dev/null
}
pgha_pidfile() { echo "$LL_RUN/postgres-$1.pid"; }
pgha_log() { echo "$LL_LOG/postgres-$1.log"; }

# The port of the node that accepts writes now (empty when none does).
pgha_primary_port() {
    local i port
    for ((i = 1; i <= PGHA_NODES; i++)); do
        port=$(pgha_node_port "$i")
        [[ "$(pg_as "$(pg_bin)/psql" -X -At -h "$PGHA_SOCKET" -p "$port" -d postgres \
            -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" == f ]] && { echo "$port"; return 0; }
    done
    return 1
}

# The port of the node the monitor has settled as the primary, once it takes writes: a node
# pg_autoctl is still creating starts and stops its server in between.
pgha_settled_primary() {
    local port
    port=$(pgha_states | awk -F'|' '$3 == $4 && ($3 == "single" || $3 == "primary" || $3 == "wait_primary") {print $2}')
    [[ -n "$port" && "$port" == "$(pgha_primary_port)" ]] && echo "$port"
}

# The nodes' states as the monitor sees them, one line per node: name|port|reported|assigned.
pgha_states() { pgha_monitor_sql "SELECT nodename, nodeport, reportedstate, goalstate FROM pgautofailover.node ORDER BY nodeid"; }

# Both nodes replicating, the standby synchronous: the monitor's primary/secondary pair.
pgha_replicating() {
    local s
    s=$(pgha_states) || return 1
    grep -q '|primary|primary$' <<<"$s" && grep -q '|secondary|secondary$' <<<"$s"
}

up_pgha_monitor() {
    local data; data=$(pgha_data monitor)
    if pid_alive "$(pgha_pidfile monitor)"; then return 0; fi
    if [[ ! -f "$PGHA_DIR/config/pg_autoctl${data}/pg_autoctl.cfg" ]]; then
        say "postgres: pg_auto_failover monitor in $data"
        pg_initdb "$data" "$LL_PGHA_MONITOR_PORT" "$PGHA_SOCKET" # pg_autoctl adopts an initialised cluster
        echo "shared_buffers = 128MB  # the monitor keeps a few rows" >>"$data/postgresql.conf"
        # The nodes' keepers reach the monitor as autoctl_node over loopback; nobody else can.
        cat >"$data/pg_hba.conf" <<EOF
local   pg_auto_failover autoctl_node                 trust
local   all              all                          peer
host    pg_auto_failover autoctl_node  127.0.0.1/32   trust
host    all              all           127.0.0.1/32   scram-sha-256
EOF
        # Failover within seconds on loopback: a node is lost after 5 s without health checks or
        # reports; the old primary gets 8 s to demote itself (its keeper gives up on the monitor
        # after 5: network_partition_timeout below) before the standby takes writes.
        cat >>"$data/postgresql.conf" <<EOF
pgautofailover.health_check_period = 1000
pgautofailover.health_check_timeout = 1000
pgautofailover.health_check_max_retries = 1
pgautofailover.health_check_retry_delay = 500
pgautofailover.node_considered_unhealthy_timeout = 5000
pgautofailover.primary_demote_timeout = 8000
EOF
        pgha_ctl create monitor --pgctl "$(pgha_bindir)/pg_ctl" --pgdata "$data" --pgport "$LL_PGHA_MONITOR_PORT" --hostname 127.0.0.1 \
            --no-ssl --skip-pg-hba >>"$(pgha_log monitor)" 2>&1 ||
            die "postgres: pg_autoctl create monitor failed; see $(pgha_log monitor)"
        pgha_ctl config set --pgdata "$data" postgresql.listen_addresses 127.0.0.1 >/dev/null
    fi
    port_free "postgres monitor" "$LL_PGHA_MONITOR_PORT"
    pgha_start monitor
    wait_for postgres-monitor pgha_monitor_sql "SELECT 1"
}

# The server's programs as pg_autoctl runs them (from pg_ctl's directory): PostgreSQL's own, but
# pg_basebackup asks for an immediate checkpoint. Its default, a spread one, kept a standby
# rejoining under load waiting 30-90 s before the copy began (pg_autoctl has no option for it).
pgha_bindir() {
    local d=$PGHA_DIR/bin f
    mkdir -p "$d"
    for f in "$(pg_bin)"/*; do [[ "${f##*/}" == pg_basebackup ]] || ln -sfn "$f" "$d/${f##*/}"; done
    printf '#!/bin/sh
exec %s/pg_basebackup --checkpoint=fast "$@"
' "$(pg_bin)" >"$d/pg_basebackup.tmp"
    chmod 755 "$d/pg_basebackup.tmp"; mv -f "$d/pg_basebackup.tmp" "$d/pg_basebackup"
    echo "$d"
}

# Runs `pg_autoctl run` of node N (or monitor) in the background, with its pid file and log.
pgha_start() {
    local n=$1
    setsid nohup bash -c 'echo $$ >"$0"; pgha_ctl --exec run --pgdata "$1"' "$(pgha_pidfile "$n")" "$(pgha_data "$n")" \
        >>"$(pgha_log "$n")" 2>&1 </dev/null &
    sleep 0.3
}

up_pgha_node() {
    local n=$1 data port registered
    data=$(pgha_data "$n"); port=$(pgha_node_port "$n")
    pid_alive "$(pgha_pidfile "$n")" && return 0
    port_free "postgres node$n" "$port"
    if [[ -f "$data/PG_VERSION" && -f "$PGHA_DIR/config/pg_autoctl${data}/pg_autoctl.cfg" ]]; then
        say "postgres: node$n starting on 127.0.0.1:$port"
        pgha_start "$n"
        return 0
    fi
    # A node without its data (never created, or its machine was lost): forget what the monitor and
    # pg_autoctl knew of it, then create it. The first node of a formation is its primary; any
    # later one a synchronous standby copied from the primary.
    registered=$(pgha_monitor_sql "SELECT count(*) FROM pgautofailover.node")
    if pgha_states | grep -q "^node$n|"; then
        say "postgres: node$n lost its data; dropping it from the monitor to add it again as a standby"
        pgha_ctl drop node --monitor "$(pgha_monitor_uri)" --name "node$n" --force >>"$(pgha_log "$n")" 2>&1 ||
            die "postgres: could not drop node$n from the monitor; see $(pgha_log "$n")"
        registered=$((registered - 1))
    fi
    rm -rf "$data" "$PGHA_DIR/config/pg_autoctl${data}" "$PGHA_DIR/share/pg_autoctl${data}"
    if ((registered == 0)); then
        PGHA_CREATED_FIRST=1
        say "postgres: node$n is the formation's first node (primary), initdb in $data"
        pg_initdb "$data" "$port" "$PGHA_SOCKET"
        cat >"$data/pg_hba.conf" <<EOF
local   all          all                                      peer
local   replication  all                                      peer
host    all          pgautofailover_monitor     127.0.0.1/32  trust
host    replication  pgautofailover_replicator  127.0.0.1/32  trust
host    postgres     pgautofailover_replicator  127.0.0.1/32  trust
host    all          all                        127.0.0.1/32  scram-sha-256
EOF
    else
        say "postgres: node$n joins as a standby (pg_basebackup from the primary)"
        mkdir -p "$data"; chown postgres:postgres "$data"; chmod 700 "$data"
    fi
    # Registers with the monitor and, for a standby, copies the primary; returns when done.
    timeout "$LL_READY_TIMEOUT_S" bash -c 'pgha_ctl "$@"' _ create postgres --pgctl "$(pgha_bindir)/pg_ctl" --pgdata "$data" --pgport "$port" \
        --hostname 127.0.0.1 --listen 127.0.0.1 --name "node$n" --no-ssl --skip-pg-hba \
        --monitor "$(pgha_monitor_uri)" >>"$(pgha_log "$n")" 2>&1 ||
        die "postgres: pg_autoctl create postgres (node$n) failed; see $(pgha_log "$n")"
    pgha_ctl config set --pgdata "$data" timeout.network_partition_timeout 5 >/dev/null
    say "postgres: node$n starting on 127.0.0.1:$port"
    pgha_start "$n"
}

up_postgres_ha() {
    local n primary
    mkdir -p "$PGHA_SOCKET" "$PGHA_DIR/run"; chown -R postgres:postgres "$PGHA_DIR"
    export -f pgha_ctl pg_bin; export PGHA_DIR PGHA_SOCKET # for the background and bounded runs
    pg_reachable
    up_pgha_monitor
    # Nodes with data first (one of them is the primary), then the ones to create: a standby
    # copies the primary, so a formation's first node must take writes before the next joins.
    for ((n = 1; n <= PGHA_NODES; n++)); do [[ -f "$(pgha_data "$n")/PG_VERSION" ]] && up_pgha_node "$n"; done
    for ((n = 1; n <= PGHA_NODES; n++)); do
        PGHA_CREATED_FIRST=0
        up_pgha_node "$n"
        ((PGHA_CREATED_FIRST)) && wait_for "postgres-$n" pgha_settled_primary
    done
    wait_for postgres pgha_settled_primary
    primary=$(pgha_settled_primary)
    LL_PG_PORT=$primary LL_PG_SOCKET_DIR=$PGHA_SOCKET pg_bootstrap
    if ! pgha_replicating; then
        say "postgres: waiting for the standby to catch up (synchronous replication)"
        wait_for postgres pgha_replicating
    fi
    say "postgres: replicated, primary on 127.0.0.1:$primary (pg_auto_failover: $(pgha_states | tr '\n' ' '))"
}

down_postgres_ha() {
    local n data pid
    # Standbys first, then the primary, the monitor last: a stop is never taken for a failure.
    for n in $(pgha_states | awk -F'|' '$4 != "primary" && $4 != "wait_primary" {print substr($1, 5)}') \
        $(seq 1 "$PGHA_NODES") monitor; do
        pid_alive "$(pgha_pidfile "$n")" || { rm -f "$(pgha_pidfile "$n")"; continue; }
        data=$(pgha_data "$n")
        pid=$(head -n 1 "$(pgha_pidfile "$n")")
        pgha_ctl stop --pgdata "$data" >/dev/null 2>&1 || true
        wait_gone 300 "$pid"
        proc_alive "$pid" && say "postgres-$n: did not stop in 30s, sending SIGKILL"
        # Its whole process group: pg_autoctl's postgres controller outlives a keeper killed
        # alone, and would start the server again behind the next one's back.
        kill -KILL -- "-$pid" 2>/dev/null || true
        wait_gone 50 "$pid"
        rm -f "$(pgha_pidfile "$n")"; say "postgres-$n: stopped"
    done
}

status_postgres_ha() {
    local n
    for n in monitor $(seq 1 "$PGHA_NODES"); do pid_alive "$(pgha_pidfile "$n")" || return 1; done
    pgha_primary_port >/dev/null
}
