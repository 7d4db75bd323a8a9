#!/usr/bin/env bash
# The local stack: real PostgreSQL, Kafka (KRaft) and FerretDB (MongoDB protocol) on loopback,
# plus every ledgerline process that has been built. All state lives under var/; each process
# has a pid file under var/run/ and a log under var/log/.
#
# Usage: deploy/local/stack.sh up|down|status|restart [COMPONENT...]
#   up       start what is not running (already up: says so), wait until ready
#   down     stop what this project started, by pid file; nothing else is touched
#   status   one line per component; exit 1 when any is down
#   restart  down then up
#   jwt-secret  print the stack's bearer-token secret (generated on first use, var/secrets/)
#   kafka-topics ARGS  Kafka's topic tool (kafka-topics.sh) against the local brokers, e.g.
#            --describe --topic ledgerline.account-events; growing its partitions: docs/scaling.md
#   pg-conf PORT SOCKET_DIR  print the stack's PostgreSQL server settings for another cluster
#            (the peer bench's, bench/bench_peer.py)
# COMPONENT: postgres kafka ferretdb, and the ledgerline services (see LL_SERVICES below); an
#   instance of a service by its name (projector-2): down and restart of a service name take all
#   of its instances.
# Env: LL_REPLICAS runs several instances of services, e.g. projector:3,query:2,command:2
# (default one of each): instance N is NAME-N, listens 100*(N-1) above the first instance's
# ports (command-2 on 8180, its pid file and log NAME-N.pid, NAME-N.log).
# LL_PG_NODES=2 runs the event store replicated: pg_auto_failover's monitor and two nodes, a
# synchronous standby promoted automatically (deploy/local/postgres-ha.sh, docs/reliability.md);
#   pg-state   the formation's nodes and states (pg_autoctl show state)
# LL_READY_TIMEOUT_S (default 90) bounds each readiness wait; LL_LOG_ROTATE_MB (default 256)
# moves a service's log aside to NAME.log.1 at start once it is larger.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/stack.env"
source "$(dirname "${BASH_SOURCE[0]}")/postgres-ha.sh"
LL_PG_NODES=${LL_PG_NODES:-1}
[[ "$LL_PG_NODES" == 1 || "$LL_PG_NODES" == 2 ]] || { echo "[stack] error: LL_PG_NODES must be 1 or 2" >&2; exit 1; }

INFRA=(postgres kafka ferretdb)
# ledgerline's own long-running processes, started after the infrastructure when their binary
# exists. Each entry: name|binary|arguments. Filled in as the services land.
LL_BIN=${LL_BIN:-$LL_ROOT/build/release/bin}
LL_SERVICES=(
    "command|ledgerline-command|"
    "relay|ledgerline-relay|"
    "projector|ledgerline-projector|"
    "query|ledgerline-query|"
)

say() { printf '[stack] %s\n' "$*"; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1; }

# proc_alive PID: true when PID runs. A zombie counts as dead: where PID 1 does not reap
# orphans (containers), a killed daemon lingers as a zombie and kill -0 still succeeds.
proc_alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ "${stat:0:1}" != Z ]]
}

# pid_alive FILE: true when FILE names a running process.
pid_alive() {
    local f=$1 pid
    [[ -f "$f" ]] || return 1
    pid=$(head -n 1 "$f" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] && proc_alive "$pid"
}

# wait_for NAME CHECK...: runs CHECK until it succeeds or LL_READY_TIMEOUT_S passes.
wait_for() {
    local name=$1; shift
    local deadline=$((SECONDS + LL_READY_TIMEOUT_S))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            die "$name did not become ready within ${LL_READY_TIMEOUT_S}s; see $LL_LOG/$name.log"
        fi
        sleep 0.3
    done
}

tcp_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# port_free NAME PORT: fails with a clear message when something that is not ours listens there.
port_free() {
    local i
    # A server stopped a moment ago may still be closing its listener: give it a few seconds.
    for ((i = 0; i < 20; i++)); do tcp_open "$2" || return 0; sleep 0.5; done
    die "$1: port $2 is already in use by a process this checkout did not start (another checkout's stack? stop it there with make down, or pick other ports: docs/local-stack.md)"
}

# wait_gone TENTHS PID...: waits until none of the PIDs runs, at most TENTHS tenths of a second.
wait_gone() {
    local n=$1 i pid alive; shift
    for ((i = 0; i < n; i++)); do
        alive=0
        for pid in "$@"; do proc_alive "$pid" && alive=1; done
        ((alive)) || return 0
        sleep 0.1
    done
}

# stop_pids NAME PID...: SIGTERM to all at once, wait up to 20 s, then SIGKILL what is left.
stop_pids() {
    local name=$1 pid; shift
    kill -TERM "$@" 2>/dev/null || true
    wait_gone 200 "$@"
    for pid in "$@"; do
        if proc_alive "$pid"; then
            say "$name: did not stop in 20s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    wait_gone 50 "$@"
}

# stop_pidfile NAME FILE: stop_pids on the process FILE names.
stop_pidfile() {
    local name=$1 f=$2
    if ! pid_alive "$f"; then rm -f "$f"; say "$name: not running"; return 0; fi
    stop_pids "$name" "$(head -n 1 "$f")"
    rm -f "$f"; say "$name: stopped"
}

# The stack's ports lie in Linux's ephemeral range (32768-60999): an outgoing connection of any
# client may take one of them between port_free and a server's bind (a Kafka node failed to
# start so, once, during the fault suites). Reserved from that range, as root; best effort.
reserve_ports() {
    local f=/proc/sys/net/ipv4/ip_local_reserved_ports cur
    [[ -w "$f" ]] || return 0
    cur=$(cat "$f")
    [[ ",$cur," == *",$LL_PGHA_PORT-"* ]] && return 0
    echo "${cur:+$cur,}$LL_PG_PORT,$LL_PGHA_PORT-$LL_PGHA_MONITOR_PORT,$LL_MONGO_PORT-$((LL_MONGO_PORT + 1)),$LL_KAFKA_PORT-$((LL_KAFKA_PORT + 5))" \
        >"$f" 2>/dev/null || true
}

# --- PostgreSQL -------------------------------------------------------------------------------
# The server refuses to run as root, so the cluster belongs to the postgres user.
pg_as() { runuser -u postgres -- "$@"; }
pg_ready() { "$(pg_bin)/pg_isready" -q -h "$LL_PG_SOCKET_DIR" -p "$LL_PG_PORT"; }
pg_running() { [[ -f "$LL_PG_DATA/postmaster.pid" ]] && pg_as "$(pg_bin)/pg_ctl" -D "$LL_PG_DATA" status >/dev/null 2>&1; }
pg_psql() { pg_as psql -X -q -v ON_ERROR_STOP=1 -h "$LL_PG_SOCKET_DIR" -p "$LL_PG_PORT" "$@"; }

# The server runs as the postgres user, so every directory above its data, socket and log must
# let that user through. A checkout under a private directory (`mktemp -d` makes them 0700)
# gets o+x, traverse only, on each directory in the way, and says so.
pg_reachable() {
    local d="" part parts
    mkdir -p "$LL_VAR"
    IFS=/ read -r -a parts <<<"${LL_VAR#/}"
    for part in "${parts[@]}"; do
        d="$d/$part"
        if ! pg_as test -x "$d"; then
            chmod o+x "$d"
            say "postgres: let the postgres user through $d (o+x: traverse, not read)"
        fi
    done
}

pg_init() {
    [[ -f "$LL_PG_DATA/PG_VERSION" ]] && return 0
    say "postgres: initdb in $LL_PG_DATA"
    mkdir -p "$LL_PG_SOCKET_DIR"
    chown -R postgres:postgres "$LL_VAR/pg"
    pg_initdb "$LL_PG_DATA" "$LL_PG_PORT" "$LL_PG_SOCKET_DIR"
}

# pg_initdb DATA PORT SOCKET_DIR: a cluster with the stack's settings and authentication in
# DATA (the single node's, and the replicated mode's monitor and first node). initdb runs into a
# scratch directory renamed into place, so an interrupted initdb never leaves a half-made cluster
# that looks initialised.
pg_initdb() {
    local data=$1 tmp=$1.initdb
    rm -rf "$tmp"
    mkdir -p "$tmp"
    chown postgres:postgres "$tmp"
    chmod 700 "$tmp"
    pg_as "$(pg_bin)/initdb" -D "$tmp" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >"$LL_LOG/postgres-initdb.log" 2>&1 ||
        die "postgres: initdb failed; see $LL_LOG/postgres-initdb.log"
    pg_conf_lines "$2" "$3" >>"$tmp/postgresql.conf"
    rm -rf "$data"
    mv "$tmp" "$data"
}

# The stack's server settings (the single node's, and each replicated node's).
pg_conf_lines() {
    cat <<EOF
# ledgerline local stack
listen_addresses = '127.0.0.1'
port = $1
unix_socket_directories = '$2'
max_connections = 200
shared_buffers = 1GB         # the read model at 1M accounts fits (bench_system.py)
# Checkpoints by time, not every 30 s of sustained load: each one makes the next write of
# every page a full-page image in the WAL, and the read model's indexes touch pages at random.
max_wal_size = 4GB
checkpoint_timeout = 10min
wal_compression = lz4
wal_level = replica
synchronous_commit = on
fsync = on
log_min_duration_statement = 1000
EOF
}

pg_bootstrap() {
    # Roles and database; idempotent. Schema objects come from the migrations, not from here.
    pg_psql -d postgres <<EOF
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', '$LL_PG_OWNER_USER', '$LL_PG_OWNER_PASSWORD')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$LL_PG_OWNER_USER') \gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', '$LL_PG_APP_USER', '$LL_PG_APP_PASSWORD')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$LL_PG_APP_USER') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', '$LL_PG_DB', '$LL_PG_OWNER_USER')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$LL_PG_DB') \gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', '$LL_FERRETDB_PG_USER', '$LL_FERRETDB_PG_PASSWORD')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$LL_FERRETDB_PG_USER') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', '$LL_FERRETDB_PG_DB', '$LL_FERRETDB_PG_USER')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$LL_FERRETDB_PG_DB') \gexec
EOF
    pg_psql -d "$LL_PG_DB" <<EOF
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO $LL_PG_OWNER_USER;
GRANT USAGE ON SCHEMA public TO $LL_PG_APP_USER;
EOF
    pg_psql -q -d "$LL_FERRETDB_PG_DB" >/dev/null <"$LL_ROOT/deploy/local/ferretdb-indexes.sql"
}

up_postgres() {
    ((LL_PG_NODES == 1)) || { up_postgres_ha; return; }
    if pg_running; then
        say "postgres: already up on 127.0.0.1:$LL_PG_PORT"
        pg_bootstrap # idempotent: a stack from an older checkout gets the roles it now needs
        return 0
    fi
    port_free postgres "$LL_PG_PORT"
    pg_reachable
    pg_init
    say "postgres: starting on 127.0.0.1:$LL_PG_PORT"
    touch "$LL_LOG/postgres.log"; chown postgres:postgres "$LL_LOG/postgres.log"
    pg_as "$(pg_bin)/pg_ctl" -D "$LL_PG_DATA" -l "$LL_LOG/postgres.log" -w -t "$LL_READY_TIMEOUT_S" start >/dev/null ||
        die "postgres did not start; see $LL_LOG/postgres.log"
    wait_for postgres pg_ready
    pg_bootstrap
    head -n 1 "$LL_PG_DATA/postmaster.pid" >"$LL_RUN/postgres.pid"
}

down_postgres() {
    ((LL_PG_NODES == 1)) || { down_postgres_ha; return; }
    if ! pg_running; then rm -f "$LL_RUN/postgres.pid"; say "postgres: not running"; return 0; fi
    pg_as "$(pg_bin)/pg_ctl" -D "$LL_PG_DATA" -m fast -w -t 60 stop >/dev/null || die "postgres did not stop"
    rm -f "$LL_RUN/postgres.pid"; say "postgres: stopped"
}

status_postgres() { if ((LL_PG_NODES == 1)); then pg_running && pg_ready; else status_postgres_ha; fi; }

# The services' and the migration's conninfo when the event store is replicated: every node,
# libpq picks the primary. A setting already in the environment wins.
export_pg_conninfo() {
    ((LL_PG_NODES == 1)) && return 0
    LEDGERLINE_PG_CONNINFO=${LEDGERLINE_PG_CONNINFO:-$(pgha_conninfo "$LL_PG_APP_USER" "$LL_PG_APP_PASSWORD" ledgerline)}
    LEDGERLINE_PG_MIGRATE_CONNINFO=${LEDGERLINE_PG_MIGRATE_CONNINFO:-$(pgha_conninfo "$LL_PG_OWNER_USER" "$LL_PG_OWNER_PASSWORD" ledgerline-migrate)}
    export LEDGERLINE_PG_CONNINFO LEDGERLINE_PG_MIGRATE_CONNINFO
}

# --- Kafka (KRaft, combined broker + controller) ---------------------------------------------
# LL_KAFKA_BROKERS=1 (default) runs one node; LL_KAFKA_BROKERS=3 runs three (RF=3,
# min.insync.replicas=2, as in deploy/) for the failover tests. Node i listens on
# LL_KAFKA_PORT + 2(i-1) (controller: the next port). The two modes keep separate data
# directories; switch with `stack.sh down kafka` first (same ports).
# One JVM command line for the brokers and the admin tools.
KAFKA_JAVA=(java -Xms256m -Xmx"$LL_KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true
    -Dlog4j.configuration="file:$LL_VAR/kafka/log4j.properties" -cp "$LL_KAFKA_LIBS/*")
kafka_java() { "${KAFKA_JAVA[@]}" "$@"; }

LL_KAFKA_BROKERS=${LL_KAFKA_BROKERS:-1}
[[ "$LL_KAFKA_BROKERS" == 1 || "$LL_KAFKA_BROKERS" == 3 ]] || die "LL_KAFKA_BROKERS must be 1 or 3"
kafka_port() { echo $((LL_KAFKA_PORT + 2 * ($1 - 1))); }
kafka_controller_port() { echo $((LL_KAFKA_PORT + 2 * ($1 - 1) + 1)); }
kafka_dir() { if ((LL_KAFKA_BROKERS == 1)); then echo "$LL_KAFKA_DATA"; else echo "$LL_VAR/kafka3/data-$1"; fi; }
kafka_props() { if ((LL_KAFKA_BROKERS == 1)); then echo "$LL_VAR/kafka/server.properties"; else echo "$LL_VAR/kafka3/server-$1.properties"; fi; }
kafka_pidfile() { if (($1 == 1)); then echo "$LL_RUN/kafka.pid"; else echo "$LL_RUN/kafka-$1.pid"; fi; }
kafka_bootstrap() { local i out=""; for ((i = 1; i <= LL_KAFKA_BROKERS; i++)); do out+="${out:+,}127.0.0.1:$(kafka_port "$i")"; done; echo "$out"; }
KAFKA_RF=$LL_KAFKA_BROKERS
KAFKA_MIN_ISR=$((LL_KAFKA_BROKERS == 3 ? 2 : 1))

kafka_config() {
    local i voters=""
    for ((i = 1; i <= LL_KAFKA_BROKERS; i++)); do voters+="${voters:+,}$i@127.0.0.1:$(kafka_controller_port "$i")"; done
    mkdir -p "$LL_VAR/kafka"
    for ((i = 1; i <= LL_KAFKA_BROKERS; i++)); do
        mkdir -p "$(kafka_dir "$i")" "$(dirname "$(kafka_props "$i")")"
        cat >"$(kafka_props "$i")" <<EOF
# Generated by deploy/local/stack.sh; edit there.
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(kafka_port "$i"),CONTROLLER://127.0.0.1:$(kafka_controller_port "$i")
advertised.listeners=PLAINTEXT://127.0.0.1:$(kafka_port "$i")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$(kafka_dir "$i")
# Topics are created explicitly (partitions, retention), never by a typo in a client.
auto.create.topics.enable=false
num.partitions=$LL_KAFKA_PARTITIONS
default.replication.factor=$KAFKA_RF
min.insync.replicas=$KAFKA_MIN_ISR
offsets.topic.replication.factor=$KAFKA_RF
transaction.state.log.replication.factor=$KAFKA_RF
transaction.state.log.min.isr=$KAFKA_MIN_ISR
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0
log.retention.ms=-1
log.retention.bytes=-1
EOF
    done
    cat >"$LL_VAR/kafka/log4j.properties" <<EOF
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
EOF
}

# Ready: every node is in the cluster's metadata.
kafka_ready() {
    local meta i
    meta=$(kcat -L -b "$(kafka_bootstrap)" -m 3 2>/dev/null) || return 1
    for ((i = 1; i <= LL_KAFKA_BROKERS; i++)); do grep -q "broker $i at" <<<"$meta" || return 1; done
}

kafka_topic_exists() { kcat -L -b "$(kafka_bootstrap)" -m 5 -t "$1" 2>/dev/null | grep -q "topic \"$1\" with [1-9]"; }

kafka_create_topics() {
    local t partitions
    for t in "$LL_KAFKA_TOPIC_EVENTS:$LL_KAFKA_PARTITIONS" "$LL_KAFKA_TOPIC_DLQ:$LL_KAFKA_PARTITIONS" "$LL_KAFKA_TOPIC_SELFTEST:1"; do
        partitions=${t##*:}; t=${t%:*}
        kafka_topic_exists "$t" && continue
        say "kafka: creating topic $t ($partitions partitions, RF $KAFKA_RF, infinite retention)"
        kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$(kafka_bootstrap)" \
            --create --if-not-exists --topic "$t" --partitions "$partitions" --replication-factor "$KAFKA_RF" \
            --config retention.ms=-1 --config retention.bytes=-1 --config min.insync.replicas="$KAFKA_MIN_ISR" \
            >>"$LL_LOG/kafka-admin.log" 2>&1 || die "kafka: could not create topic $t; see $LL_LOG/kafka-admin.log"
    done
}

# Starts node i when it is not running (formatting its storage on first use).
kafka_start_node() {
    local i=$1 cluster_id=$2 log
    log=$LL_LOG/kafka.log; ((i > 1)) && log=$LL_LOG/kafka-$i.log
    if pid_alive "$(kafka_pidfile "$i")"; then return 0; fi
    port_free kafka "$(kafka_port "$i")"
    port_free kafka "$(kafka_controller_port "$i")"
    if [[ ! -f "$(kafka_dir "$i")/meta.properties" ]]; then
        kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$(kafka_props "$i")" \
            >>"$LL_LOG/kafka-admin.log" 2>&1 || die "kafka: storage format failed; see $LL_LOG/kafka-admin.log"
    fi
    say "kafka: starting node $i on 127.0.0.1:$(kafka_port "$i")"
    setsid nohup bash -c 'echo $$ >"$0"; exec "${@}"' "$(kafka_pidfile "$i")" \
        "${KAFKA_JAVA[@]}" kafka.Kafka "$(kafka_props "$i")" >>"$log" 2>&1 </dev/null &
}

up_kafka() {
    local i all=1 cluster_id
    for ((i = 1; i <= LL_KAFKA_BROKERS; i++)); do pid_alive "$(kafka_pidfile "$i")" || all=0; done
    if ((all)); then say "kafka: already up on $(kafka_bootstrap)"; kafka_create_topics; return 0; fi
    kafka_config
    # All nodes of a cluster share one id: the first node's, or a new one.
    cluster_id=$(sed -n 's/^cluster.id=//p' "$(kafka_dir 1)/meta.properties" 2>/dev/null || true)
    if [[ -z "$cluster_id" ]]; then
        cluster_id=$(kafka_java kafka.tools.StorageTool random-uuid 2>>"$LL_LOG/kafka-admin.log") ||
            die "kafka: could not generate a cluster id; see $LL_LOG/kafka-admin.log"
    fi
    for ((i = 1; i <= LL_KAFKA_BROKERS; i++)); do kafka_start_node "$i" "$cluster_id"; done
    wait_for kafka kafka_ready
    for ((i = 1; i <= LL_KAFKA_BROKERS; i++)); do
        pid_alive "$(kafka_pidfile "$i")" || die "kafka node $i exited during start-up; see $LL_LOG/kafka*.log"
    done
    kafka_create_topics
}

# Every node at once: a KRaft node stopping after the others has no quorum left for its
# controlled shutdown and would wait it out.
down_kafka() {
    local i f pids=()
    for i in 1 2 3; do
        f=$(kafka_pidfile "$i")
        if pid_alive "$f"; then pids+=("$(head -n 1 "$f")"); fi
    done
    if ((${#pids[@]})); then stop_pids kafka "${pids[@]}"; fi
    rm -f "$LL_RUN"/kafka.pid "$LL_RUN"/kafka-2.pid "$LL_RUN"/kafka-3.pid
    if ((${#pids[@]})); then say "kafka: stopped"; else say "kafka: not running"; fi
}
status_kafka() {
    local i
    for ((i = 1; i <= LL_KAFKA_BROKERS; i++)); do pid_alive "$(kafka_pidfile "$i")" || return 1; done
    kafka_ready
}

# --- FerretDB (MongoDB wire protocol, PostgreSQL backend: its own database) ------------------
# FerretDB's storage: the stack's PostgreSQL, or every replicated node (its driver, pgx, finds the
# primary). Ends with ? or &, for more parameters.
ferretdb_pg_url() {
    if ((LL_PG_NODES == 1)); then
        echo "postgres://$LL_FERRETDB_PG_USER:$LL_FERRETDB_PG_PASSWORD@127.0.0.1:$LL_PG_PORT/$LL_FERRETDB_PG_DB?"
    else
        echo "$(pgha_url "$LL_FERRETDB_PG_USER" "$LL_FERRETDB_PG_PASSWORD" "$LL_FERRETDB_PG_DB")&"
    fi
}

up_ferretdb() {
    if pid_alive "$LL_RUN/ferretdb.pid"; then say "ferretdb: already up on 127.0.0.1:$LL_MONGO_PORT"; return 0; fi
    [[ -x "$LL_FERRETDB_BIN" ]] || die "ferretdb: $LL_FERRETDB_BIN missing; run deploy/local/install.sh"
    status_postgres || die "ferretdb: needs postgres (its storage); start it first: make up"
    port_free ferretdb "$LL_MONGO_PORT"
    mkdir -p "$LL_FERRETDB_STATE"
    say "ferretdb: starting on 127.0.0.1:$LL_MONGO_PORT"
    rotate_log ferretdb
    # --test-batch-size: 1000 documents per INSERT instead of 100 (docs/local-stack.md).
    setsid nohup bash -c 'echo $$ >"$0"; exec "${@}"' "$LL_RUN/ferretdb.pid" \
        "$LL_FERRETDB_BIN" --handler=postgresql \
        --postgresql-url="$(ferretdb_pg_url)plan_cache_mode=force_custom_plan" \
        --state-dir="$LL_FERRETDB_STATE" --listen-addr="127.0.0.1:$LL_MONGO_PORT" \
        --debug-addr="127.0.0.1:$((LL_MONGO_PORT + 1))" --telemetry=disable --log-level=warn --test-batch-size=1000 \
        >>"$LL_LOG/ferretdb.log" 2>&1 </dev/null &
    wait_for ferretdb tcp_open "$LL_MONGO_PORT"
    pid_alive "$LL_RUN/ferretdb.pid" || die "ferretdb exited during start-up; see $LL_LOG/ferretdb.log"
}

down_ferretdb() { stop_pidfile ferretdb "$LL_RUN/ferretdb.pid"; }
status_ferretdb() { pid_alive "$LL_RUN/ferretdb.pid" && tcp_open "$LL_MONGO_PORT"; }

# --- ledgerline services ---------------------------------------------------------------------
service_field() { local IFS='|'; read -r -a f <<<"$1"; echo "${f[$2]:-}"; }
service_entry() {
    local e
    for e in "${LL_SERVICES[@]}"; do [[ "$(service_field "$e" 0)" == "$1" ]] && { echo "$e"; return 0; }; done
    return 1
}

# An instance's service (projector-2 -> projector) and number (2; 1 for the plain name).
instance_service() { echo "${1%-[0-9]*}"; }
instance_number() { if [[ "$1" =~ -([0-9]+)$ ]]; then echo "${BASH_REMATCH[1]}"; else echo 1; fi; }

# How many instances of service LL_REPLICAS asks for (1 when it does not name it).
replicas_of() {
    local item n=1 IFS=,
    for item in ${LL_REPLICAS:-}; do
        [[ "$item" =~ ^([a-z]+):([0-9]+)$ ]] || die "LL_REPLICAS: '$item' is not SERVICE:COUNT (e.g. projector:3,query:2)"
        service_entry "${BASH_REMATCH[1]}" >/dev/null || die "LL_REPLICAS: unknown service '${BASH_REMATCH[1]}'"
        ((BASH_REMATCH[2] >= 1 && BASH_REMATCH[2] <= 9)) || die "LL_REPLICAS: ${BASH_REMATCH[1]} count must be 1..9"
        [[ "${BASH_REMATCH[1]}" == "$1" ]] && n=${BASH_REMATCH[2]}
    done
    echo "$n"
}

# The instances of service: those LL_REPLICAS asks for, and any other still running.
instances_of() {
    local svc=$1 n i f out=()
    n=$(replicas_of "$svc")
    out+=("$svc")
    for ((i = 2; i <= n; i++)); do out+=("$svc-$i"); done
    for f in "$LL_RUN/$svc"-[0-9]*.pid; do
        [[ -e "$f" ]] || continue
        i=${f##*-}; i=${i%.pid}
        ((i > n)) && pid_alive "$f" && out+=("$svc-$i")
    done
    echo "${out[@]}"
}

# Where instance N of a service listens (its API, or its /metrics): 100*(N-1) above the first.
instance_addr() {
    local base
    case "$1" in command) base=8080 ;; query) base=8081 ;; projector) base=8082 ;; relay) base=8083 ;; *) return 0 ;; esac
    echo "127.0.0.1:$((base + 100 * ($2 - 1)))"
}

# The setting that puts instance N of a service on its own ports (none for the first: its
# configuration decides).
instance_env() {
    local key
    ((${2} > 1)) || return 0
    case "$1" in
        command) key=COMMAND_LISTEN ;; query) key=QUERY_LISTEN ;;
        projector) key=PROJECTOR_METRICS_LISTEN ;; relay) key=RELAY_METRICS_LISTEN ;; *) return 0 ;;
    esac
    echo "LEDGERLINE_$key=$(instance_addr "$1" "$2")"
}

# The local stack's bearer-token secret: generated once, kept under var/ (mode 600). A
# LEDGERLINE_JWT_SECRET already in the environment wins. `make token` signs with the same.
jwt_secret() {
    local f=$LL_VAR/secrets/jwt_secret
    if [[ ! -s "$f" ]]; then
        mkdir -p "$(dirname "$f")"; chmod 700 "$(dirname "$f")"
        (umask 077; openssl rand -hex 32 >"$f.tmp") && mv "$f.tmp" "$f"
        say "generated the local stack's JWT secret: $f" >&2
    fi
    cat "$f"
}

# A log past LL_LOG_ROTATE_MB (default 256) is moved aside to NAME.log.1 when its process
# starts: a day of benchmarks wrote gigabytes of access lines. One old file is kept.
rotate_log() {
    local f=$LL_LOG/$1.log max=$((${LL_LOG_ROTATE_MB:-256} * 1024 * 1024))
    if [[ -f "$f" ]] && (($(stat -c %s "$f") > max)); then mv -f "$f" "$f.1"; fi
    return 0
}

up_service() {
    local e name svc n bin args
    name=$1; svc=$(instance_service "$1"); n=$(instance_number "$1")
    e=$(service_entry "$svc"); bin=$LL_BIN/$(service_field "$e" 1); args=$(service_field "$e" 2)
    if pid_alive "$LL_RUN/$name.pid"; then say "$name: already up"; return 0; fi
    [[ -x "$bin" ]] || { say "$name: not built ($bin); skipped"; return 0; }
    say "$name: starting"
    rotate_log "$name"
    LEDGERLINE_JWT_SECRET=${LEDGERLINE_JWT_SECRET:-$(jwt_secret)}
    export LEDGERLINE_JWT_SECRET
    export_pg_conninfo
    if ((LL_KAFKA_BROKERS > 1)); then
        LEDGERLINE_KAFKA_BOOTSTRAP_SERVERS=${LEDGERLINE_KAFKA_BOOTSTRAP_SERVERS:-$(kafka_bootstrap)}
        export LEDGERLINE_KAFKA_BOOTSTRAP_SERVERS
    fi
    local ienv
    ienv=$(instance_env "$svc" "$n")
    # shellcheck disable=SC2086  # args and ienv are word lists by design
    env $ienv setsid nohup bash -c 'echo $$ >"$0"; exec "${@}"' "$LL_RUN/$name.pid" "$bin" $args \
        >>"$LL_LOG/$name.log" 2>&1 </dev/null &
    sleep 0.3
    pid_alive "$LL_RUN/$name.pid" || die "$name exited during start-up; see $LL_LOG/$name.log"
    case "$svc" in
        command | query) wait_for "$name" curl -sf "http://$(instance_addr "$svc" "$n")/readyz" ;;
    esac
}

# --- dispatch --------------------------------------------------------------------------------
all_components() { echo "${INFRA[@]}"; local e; for e in "${LL_SERVICES[@]}"; do service_field "$e" 0; done; }

is_infra() { local c; for c in "${INFRA[@]}"; do [[ "$c" == "$1" ]] && return 0; done; return 1; }

check_component() {
    is_infra "$1" || service_entry "$(instance_service "$1")" >/dev/null ||
        die "unknown component '$1' (known: $(all_components | xargs), and NAME-N for instance N)"
}

# The components named, each service name as its instances (an instance name stays itself).
expand_instances() {
    local c out=() more
    for c in "$@"; do
        if is_infra "$c" || [[ "$c" != "$(instance_service "$c")" ]]; then out+=("$c")
        else read -r -a more <<<"$(instances_of "$c")"; out+=("${more[@]}"); fi
    done
    echo "${out[@]}"
}

# Brings the schema to the built binaries' version before any service starts (they refuse an
# older schema). Skipped when the binaries are not built yet.
migrate_schema() {
    local bin=$LL_BIN/ledgerline-migrate
    [[ -x "$bin" ]] || { say "schema: ledgerline-migrate not built; skipped"; return 0; }
    export_pg_conninfo
    "$bin" >>"$LL_LOG/migrate.log" 2>&1 || die "schema migration failed; see $LL_LOG/migrate.log"
    say "schema: $(tail -n 1 "$LL_LOG/migrate.log")"
}

cmd_up() {
    local c migrated=0
    reserve_ports
    for c in "$@"; do
        if is_infra "$c"; then
            "up_$c"
        else
            ((migrated)) || { migrate_schema; migrated=1; }
            up_service "$c"
        fi
    done
    [[ " $* " == *" postgres "* ]] && ((migrated == 0)) && migrate_schema
    return 0
}

cmd_down() {
    local c i comps=("$@")
    for ((i = ${#comps[@]} - 1; i >= 0; i--)); do   # reverse start order
        c=${comps[$i]}
        if is_infra "$c"; then "down_$c"; else stop_pidfile "$c" "$LL_RUN/$c.pid"; fi
    done
}

cmd_status() {
    local c rc=0 state where
    for c in "$@"; do
        where=""
        if is_infra "$c"; then
            if "status_$c"; then state=up; else state=DOWN; rc=1; fi
        else
            if pid_alive "$LL_RUN/$c.pid"; then state=up
            elif [[ -x "$LL_BIN/$(service_field "$(service_entry "$(instance_service "$c")")" 1)" ]]; then state=DOWN; rc=1
            else state="not built"; fi
            where="  $(instance_addr "$(instance_service "$c")" "$(instance_number "$c")")"
        fi
        printf '%-12s %s%s\n' "$c" "$state" "$where"
    done
    return $rc
}

main() {
    local cmd=${1:-}; shift || true
    [[ "$cmd" == "-h" || "$cmd" == "--help" || -z "$cmd" ]] && { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }
    [[ "$cmd" == "jwt-secret" ]] && { jwt_secret; exit 0; }
    if [[ "$cmd" == "pg-state" ]]; then
        ((LL_PG_NODES == 2)) || die "pg-state: the event store is one node (LL_PG_NODES=2 runs it replicated)"
        pgha_ctl show state --monitor "$(pgha_monitor_uri)"; exit
    fi
    if [[ "$cmd" == "pg-conf" ]]; then
        (($# == 2)) || die "pg-conf: needs PORT SOCKET_DIR"
        pg_conf_lines "$1" "$2"; exit
    fi
    if [[ "$cmd" == "kafka-topics" ]]; then
        kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$(kafka_bootstrap)" "$@" 2> >(grep -v SLF4J >&2)
        exit
    fi
    mkdir -p "$LL_RUN" "$LL_LOG"
    local comps=("$@")
    ((${#comps[@]})) || read -r -a comps <<<"$(all_components | xargs)"
    local c; for c in "${comps[@]}"; do check_component "$c"; done
    read -r -a comps <<<"$(expand_instances "${comps[@]}")"
    case "$cmd" in
        up) cmd_up "${comps[@]}" ;;
        down) cmd_down "${comps[@]}" ;;
        status) cmd_status "${comps[@]}" ;;
        restart) cmd_down "${comps[@]}"; cmd_up "${comps[@]}" ;;
        *) die "unknown command '$cmd' (up|down|status|restart)" ;;
    esac
}

main "$@"
