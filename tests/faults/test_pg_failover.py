#!/usr/bin/env python3
"""Event store failover: the local stack's replicated PostgreSQL (LL_PG_NODES=2: pg_auto_failover's
monitor, a primary and a synchronous standby; deploy/local/postgres-ha.sh) under the fault
suite's bank workload. The services reach it by a multi-host conninfo with
target_session_attrs=read-write and are never restarted. In turn:
1. the primary's machine is lost: every process of the node SIGKILLed and its data directory
   removed. The standby is promoted; the time to promotion and to the first acknowledged
   command after the kill are measured. The lost node rejoins as a standby (`stack.sh up
   postgres`: dropped from the monitor, copied from the new primary).
2. the standby is lost (SIGKILL, data kept): writes go on once the monitor has declared it
   lost (the primary alone; docs/reliability.md), and none is acknowledged before (the command
   service's request deadline is 1 s, shorter than that wait); it restarts and catches up.
3. the failover back: the new primary's machine is lost the same way, the first node is
   promoted, and the lost one rejoins.
Then the checks of tests/faults/test_faults.py on the primary of the end, and the query API's
event-store reads (audit/verify) answering from it: every acknowledged
command exactly once, versions contiguous, chains intact, balances add up, every stored event on
the topic, the read model equal to the store. The suite's ledger is its own (database in the
formation, topic, projector group, MongoDB database); the stack's single PostgreSQL, which
keeps FerretDB's storage, is not touched."""
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import ll_e2e  # noqa: E402
import test_faults as tf  # noqa: E402
from ll_cluster import Workload, resolve_unknown  # noqa: E402
from ll_e2e import (ROOT, check, create_topic, eq, ledger_env, paused_stack_services, post,  # noqa: E402
                    wait_until)

STACK = os.path.join(ROOT, "deploy", "local", "stack.sh")
PGHA = os.path.join(ROOT, "var", "pgha")
NODES = {1: 55433, 2: 55434}
MONITOR = 55435
# Both nodes, as the services name them: libpq takes the one that accepts writes.
PG_HOSTS, PG_PORTS = ",".join("127.0.0.1" for _ in NODES), ",".join(str(p) for p in NODES.values())
HOSTS = f"host={PG_HOSTS} port={PG_PORTS} target_session_attrs=read-write connect_timeout=2"


def stack_ha(*args):
    out = subprocess.run([STACK, *args], capture_output=True, text=True,
                         env=dict(os.environ, LL_PG_NODES="2", LL_READY_TIMEOUT_S="180"))
    if out.returncode != 0:
        raise RuntimeError(f"LL_PG_NODES=2 stack.sh {' '.join(args)}: {out.stdout}{out.stderr}")
    return out.stdout


def states():
    """{node number: (reported, assigned)} as the monitor sees them ({} when it does not answer)."""
    out = subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(MONITOR), "-U", "autoctl_node", "-d",
                          "pg_auto_failover", "-c",
                          "SELECT nodename, reportedstate, goalstate FROM pgautofailover.node"],
                         capture_output=True, text=True, timeout=10)
    rows = [line.split("|") for line in out.stdout.splitlines() if line]
    return {int(name[4:]): (rep, goal) for name, rep, goal in rows if name.startswith("node")}


def node_sql(n, sql):
    """What sql prints on node n, as the postgres superuser over its socket; None when it fails."""
    out = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-h", os.path.join(PGHA, "socket"),
                          "-p", str(NODES[n]), "-d", "postgres", "-c", sql], capture_output=True, text=True, timeout=5)
    return out.stdout if out.returncode == 0 else None


def writable(n):
    """True when node n answers as a primary (not in recovery) and takes a write."""
    out = node_sql(n, "SELECT pg_is_in_recovery(); SHOW transaction_read_only")
    return out is not None and out.split() == ["f", "off"]


def primary():
    s = states()
    for n, (rep, goal) in s.items():
        if rep == goal and rep in ("primary", "wait_primary", "single"):
            return n
    return None


def replicating():
    s = states()
    return sorted(v for v in s.values()) == [("primary", "primary"), ("secondary", "secondary")]


def node_processes(pgid, data):
    """The live processes of a node: pg_autoctl's group pgid, and PostgreSQL's, which each start a
    session of their own but work in the data directory. Zombies (nobody may reap them here)
    are dead."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if fields[0] != "Z" and (int(fields[2]) == pgid or cwd == data):
            pids.append(int(pid))
    return pids


def lose_machine(n, keep_data=False):
    """SIGKILL every process of node n at once (pg_autoctl, the server and its backends), then,
    as a lost disk would, remove its data and pg_autoctl's files for it."""
    with open(os.path.join(ROOT, "var", "run", f"postgres-{n}.pid")) as f:
        pgid = int(f.readline())
    data = os.path.join(PGHA, f"node{n}")

    def kill_all():
        for pid in node_processes(pgid, data):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return not node_processes(pgid, data)
    wait_until(kill_all, 30, f"node{n} to die")
    if not keep_data:
        for d in (data, os.path.join(PGHA, "config", "pg_autoctl") + data, os.path.join(PGHA, "share", "pg_autoctl") + data):
            subprocess.run(["rm", "-rf", d], check=True)


def sync_standby_names(n):
    out = node_sql(n, "SHOW synchronous_standby_names")
    return None if out is None else out.strip()


def watch_alone(n, stop, seen):
    """Records in seen[0] when node n's primary stops waiting for a standby (pg_auto_failover
    empties synchronous_standby_names once the monitor has declared the standby lost)."""
    while not stop.is_set():
        if sync_standby_names(n) == "":
            seen[0] = time.time()
            return
        time.sleep(0.05)


def first_ack(t_kill, limit_s=120):
    """Seconds from t_kill until a deposit is acknowledged (201), probing every 0.1 s."""
    while time.time() - t_kill < limit_s:
        try:
            s, _, _ = post(f"/v1/accounts/{tf.PROBE[0]}/deposits", {"amount_minor": 1, "currency": "EUR"},
                           port=tf.CMD)
            if s == 201:
                return time.time() - t_kill
        except Exception:
            pass
        time.sleep(0.1)
    return None


def failover(victim, survivor):
    """Loses victim's machine (the primary) under way; returns (s from the kill to the promotion,
    s from the promotion to the first 201)."""
    eq(primary(), victim, "the node to lose is the primary")
    t_kill = time.time()
    lose_machine(victim)
    promoted = None
    while time.time() - t_kill < 120:
        if primary() == survivor and writable(survivor):
            promoted = time.time() - t_kill
            break
        time.sleep(0.1)
    ack = first_ack(t_kill)
    return promoted, None if ack is None or promoted is None else ack - promoted


def rejoin():
    t0 = time.time()
    stack_ha("up", "postgres")
    wait_until(replicating, 180, "primary and synchronous standby again")
    return time.time() - t0


def main():
    env = ledger_env("ledgerline", "pgfailover")
    env["LEDGERLINE_MONGO_DATABASE"] = env["LEDGERLINE_KAFKA_PROJECTOR_GROUP"].replace("-", "_")
    env["LEDGERLINE_PG_CONNINFO"] = f"{HOSTS} dbname=ledgerline user=ledgerline password=ledgerline"
    env["LEDGERLINE_PG_MIGRATE_CONNINFO"] = (f"{HOSTS} dbname=ledgerline user={ll_e2e.OWNER[0]} "
                                             f"password={ll_e2e.OWNER[1]}")
    saved_pg, saved_env = dict(ll_e2e.PG), dict(os.environ)
    result, ok = {}, False
    try:
        stack_ha("up", "postgres")
        wait_until(replicating, 180, "primary and synchronous standby")
        create_topic(env["LEDGERLINE_KAFKA_TOPIC_EVENTS"])
        with paused_stack_services("command", "relay", "projector", "query"):
            procs = tf.start_pipeline(env, {"LEDGERLINE_REQUEST_TIMEOUT_MS": "1000"})
            try:
                accounts = tf.open_bank("pg-failover")
                since_ms = int(time.time() * 1000) - 2000
                first = primary()
                other = 3 - first
                with Workload(accounts, 4, 11, lambda: [tf.CMD]) as wl:
                    time.sleep(4)
                    result["promotion_s"], result["first_ack_after_s"] = failover(first, other)
                    result["rejoin_s"] = rejoin()
                    time.sleep(2)
                    # The standby lost: writes wait until the monitor declares it, then go on alone.
                    # None is acknowledged before that, though the request deadline (1 s here)
                    # has passed: PostgreSQL lifts statement_timeout before a COMMIT, so the wait
                    # for the standby is never cancelled into a success on the primary alone.
                    eq(bool(sync_standby_names(other)), True, "the primary waits for its standby")
                    stop, alone = threading.Event(), [None]
                    watcher = threading.Thread(target=watch_alone, args=(other, stop, alone))
                    watcher.start()
                    t_kill = time.time()
                    lose_machine(first, keep_data=True)
                    ack = first_ack(t_kill)
                    watcher.join(30)
                    stop.set()
                    result["standby_lost_first_ack_s"] = ack
                    result["standby_lost_alone_s"] = None if alone[0] is None else alone[0] - t_kill
                    check(alone[0] is not None, "the primary went on alone")
                    # 2xx answered in the wait, past the deadline of a request sent before the
                    # kill (those may have committed with the standby), before the primary went
                    # alone (the watcher's polling may see that up to 0.25 s late).
                    with wl.lock:
                        early = [c for c in wl.commands if c["status"] == "applied"
                                 and t_kill + 1.5 < c["answered_at"] < alone[0] - 0.25]
                    result["standby_lost_acked_while_waiting"] = len(early)
                    check(ack is not None and t_kill + ack >= alone[0] - 0.25 and not early,
                          f"no 201 before the primary went on alone: {result}")
                    wait_until(lambda: primary() == other and states().get(other, ("",))[0] == "wait_primary", 60,
                               "the primary alone (wait_primary)")
                    result["standby_caught_up_s"] = rejoin()
                    time.sleep(2)
                    result["back_promotion_s"], result["back_first_ack_after_s"] = failover(other, first)
                    result["back_rejoin_s"] = rejoin()
                    time.sleep(2)
                commands = wl.commands
                resolve_unknown(commands, lambda: [tf.CMD])
                # The checks read this ledger: its database (any node; libpq picks the primary),
                # topic and MongoDB database. Only here: the stack's services, resumed below, are
                # started from this process's environment.
                os.environ.update(env, PGTARGETSESSIONATTRS="read-write")
                ll_e2e.PG.update(host=PG_HOSTS, port=PG_PORTS)
                tf.TOPIC = env["LEDGERLINE_KAFKA_TOPIC_EVENTS"]
                try:
                    lost, duplicated = tf.verify(accounts, commands, since_ms)
                finally:
                    ll_e2e.PG.clear()
                    ll_e2e.PG.update(saved_pg)
                    os.environ.clear()
                    os.environ.update(saved_env)
                # The query API lived through both failovers: its event-store reads (the audit
                # trail's chain check) find the primary of the end by themselves.
                t0 = time.time()
                for a in accounts:
                    wait_until(lambda a=a: (r := ll_e2e.request("GET", f"/v1/accounts/{a}/audit/verify", port=tf.QRY,
                                                                timeout=30))[0] == 200 and r[2]["ok"] is True,
                               30, f"audit/verify of {a}")
                result["query_event_store_reads_s"] = time.time() - t0
                result.update(commands=len(commands), acknowledged=sum(c["status"] == "applied" for c in commands),
                              unknown_then_resolved=sum(bool(c.get("was_unknown")) for c in commands), lost=lost,
                              duplicated=duplicated)
                ok = all(result.get(k) is not None for k in ("promotion_s", "first_ack_after_s", "standby_lost_first_ack_s",
                                                             "back_promotion_s", "back_first_ack_after_s"))
            finally:
                tf.stop_pipeline(procs)
    except Exception as e:
        result["error"] = str(e)[:800]
    finally:
        # The formation stays on disk (the next run starts it in seconds) but stops: the other
        # suites run on the single node.
        down = subprocess.run([STACK, "down", "postgres"], capture_output=True, text=True,
                              env=dict(os.environ, LL_PG_NODES="2"))
        subprocess.run([os.path.join(os.path.dirname(ll_e2e.BIN), "bench", "mongo_bulk"), "--uri",
                        "mongodb://127.0.0.1:57017/", "--database", env["LEDGERLINE_MONGO_DATABASE"], "--drop"],
                       capture_output=True, timeout=60)
    rounded = {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}
    ok = ok and down.returncode == 0 and "error" not in result
    print(f"  {'ok  ' if ok else 'FAIL'} event store failover: {rounded}", flush=True)
    print(f"pg_failover: {int(ok)} passed, {int(not ok)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
