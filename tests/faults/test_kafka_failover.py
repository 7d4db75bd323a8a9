#!/usr/bin/env python3
"""Kafka failover: the local stack's 3-broker mode (KRaft, RF=3, min.insync.replicas=2; the relay
produces with acks=all). Under the fault suite's workload, the broker leading the most
partitions of the events topic gets SIGKILL. Then:
- a new leader is elected for each of its partitions (read from the cluster's metadata);
- the end-to-end probe (deposit 201, then readable via min_version) works again;
- the killed broker restarts and rejoins the in-sync replicas of every partition;
- no acknowledged event is lost or doubled. These are the same checks as tests/faults/test_faults.py:
  the store, Kafka, the read model, the bank invariant, the chains.
The window of each step is reported. Switches the stack's Kafka to 3 brokers for the run and
back to one afterwards. A ledger of its own (database, topic on the 3 brokers, projector group,
MongoDB database), made and dropped here: the stack's ledger never sees the 3-broker cluster."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import ll_e2e  # noqa: E402
import test_faults as tf  # noqa: E402
from ll_cluster import Workload, resolve_unknown  # noqa: E402
from ll_e2e import ROOT, drop_ledger, ledger_env, own_ledger, paused_stack_services, wait_until  # noqa: E402

BOOTSTRAP = "127.0.0.1:59092,127.0.0.1:59094,127.0.0.1:59096"
STACK = os.path.join(ROOT, "deploy", "local", "stack.sh")
VAR = os.path.join(ROOT, "var")
DB = "ledgerline_kafka_failover"
ENV = dict(ledger_env(DB, "kafka-failover"), LEDGERLINE_KAFKA_BOOTSTRAP_SERVERS=BOOTSTRAP)


def stack3(*args):
    # Three JVMs starting cold on two shared cores can take longer than one node's 90 s: this
    # suite is about failover, not about start-up time.
    out = subprocess.run([STACK, *args], capture_output=True, text=True,
                         env=dict(os.environ, LL_KAFKA_BROKERS="3", LL_READY_TIMEOUT_S="240"))
    if out.returncode != 0:
        raise RuntimeError(f"LL_KAFKA_BROKERS=3 stack.sh {' '.join(args)}: {out.stdout}{out.stderr}")


def metadata():
    """{partition: (leader, [isr...])} of the events topic, from any live broker."""
    out = subprocess.run(["kcat", "-L", "-b", BOOTSTRAP, "-t", tf.TOPIC, "-m", "5"], capture_output=True, text=True)
    parts = {}
    for m in re.finditer(r"partition (\d+), leader (-?\d+), replicas: [\d,]+, isrs: ([\d,]*)", out.stdout):
        parts[int(m.group(1))] = (int(m.group(2)), [int(x) for x in m.group(3).split(",") if x])
    return parts


def create_replicated_topic(topic):
    """topic as the 3-broker stack makes its own: 6 partitions, RF=3, min.insync.replicas=2,
    infinite retention (create_topic's are RF=1: a killed leader would take partitions offline)."""
    log4j = os.path.join(VAR, "kafka", "log4j.properties")
    out = subprocess.run(["java", "-Xmx256m", f"-Dlog4j.configuration=file:{log4j}",
                          "-cp", os.path.join(VAR, "kafka", "libs", "*"), "org.apache.kafka.tools.TopicCommand",
                          "--bootstrap-server", BOOTSTRAP, "--create", "--topic", topic, "--partitions", "6",
                          "--replication-factor", "3", "--config", "min.insync.replicas=2", "--config",
                          "retention.ms=-1", "--config", "retention.bytes=-1"],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"creating {topic}: {out.stdout}{out.stderr}")


def main():
    busy = [port for port in (tf.CMD, tf.QRY) if ll_e2e.port_open(port)]
    if busy:  # before Kafka is switched: another run (test_faults' ports) would fail this one late
        print(f"  FAIL ports {busy} are in use: another fault suite running?\nkafka_failover: 0 passed, 1 failed")
        return 1
    result, ok = {}, False
    # The stack's services stay paused until its Kafka is one broker again: resumed earlier, its
    # relay would publish the stack's events to the 3-broker cluster, where its topic never sees them.
    with paused_stack_services("command", "relay", "projector", "query"):
        subprocess.run([STACK, "down", "kafka"], capture_output=True)
        try:
            stack3("up", "kafka")
            own_ledger(DB, ENV, topic_maker=create_replicated_topic)
            tf.TOPIC = ENV["LEDGERLINE_KAFKA_TOPIC_EVENTS"]  # metadata() and tf.verify read it
            procs = tf.start_pipeline(ENV)
            try:
                accounts = tf.open_bank("failover")
                since_ms = int(time.time() * 1000) - 2000
                # A healthy cluster first: every partition with all three replicas in sync (a node
                # that just restarted catches up for a while). Killing the only in-sync replica would
                # rightly leave its partitions offline: unclean election is off.
                wait_until(lambda: (m := metadata()) and all(len(isr) == 3 for _, isr in m.values()), 120,
                           "all replicas in sync")
                with Workload(accounts, 4, 7, lambda: [tf.CMD]) as wl:
                    time.sleep(3)
                    before = metadata()
                    leaders = [leader for leader, _ in before.values()]
                    victim = max(set(leaders), key=leaders.count)
                    led = sorted(p for p, (leader, _) in before.items() if leader == victim)
                    t_kill = time.time()
                    pidfile = os.path.join(ROOT, "var", "run", "kafka.pid" if victim == 1 else f"kafka-{victim}.pid")
                    tf.kill_infra(os.path.basename(pidfile)[:-4])
                    elected = probe_ok = None
                    while time.time() - t_kill < 120 and (elected is None or probe_ok is None):
                        if elected is None:
                            now = metadata()
                            if now and all(now.get(p, (-1, []))[0] not in (victim, -1) for p in led):
                                elected = time.time() - t_kill
                        if probe_ok is None and tf.probe():
                            probe_ok = time.time() - t_kill
                        time.sleep(0.1)
                    time.sleep(2)
                    t_restart = time.time()
                    stack3("up", "kafka")
                    rejoined = None
                    while time.time() - t_restart < 180:
                        now = metadata()
                        if now and all(victim in isr for _, isr in now.values()):
                            rejoined = time.time() - t_restart
                            break
                        time.sleep(0.5)
                    time.sleep(1)
                commands = wl.commands
                resolve_unknown(commands, lambda: [tf.CMD])
                # The checks read this ledger (sql: ll_e2e.PG; ledgerline-audit: the environment),
                # only here: the stack's services resume from this process's environment.
                saved_db, saved_env = ll_e2e.PG["db"], dict(os.environ)
                os.environ.update(ENV)
                ll_e2e.PG["db"] = DB
                try:
                    lost, duplicated = tf.verify(accounts, commands, since_ms)
                finally:
                    ll_e2e.PG["db"] = saved_db
                    os.environ.clear()
                    os.environ.update(saved_env)
                result = {"partitions_led": len(led), "election_s": elected, "probe_recovery_s": probe_ok,
                          "rejoined_isr_s": rejoined, "commands": len(commands),
                          "acknowledged": sum(c["status"] == "applied" for c in commands), "lost": lost,
                          "duplicated": duplicated}
                ok = elected is not None and probe_ok is not None and rejoined is not None
            finally:
                tf.stop_pipeline(procs)
        except Exception as e:
            result["error"] = str(e)[:500]
        finally:
            # Back to the one-broker stack the other suites use; a failure here is a failure of the test.
            down = subprocess.run([STACK, "down", "kafka"], capture_output=True, text=True,
                                  env=dict(os.environ, LL_KAFKA_BROKERS="3"))
            up = subprocess.run([STACK, "up", "kafka"], capture_output=True, text=True)
            if up.returncode != 0:
                ok = False
                print(f"  FAIL restoring the one-broker Kafka:\n{down.stdout}{down.stderr}{up.stdout}{up.stderr}")
            drop_ledger(DB)
    print(f"  {'ok  ' if ok else 'FAIL'} kill -9 the leader of the most partitions: {result}")
    if ok:
        print(f"\n| broker killed | partitions it led | new leaders elected after | end-to-end probe ok after |"
              f" back in every ISR after restart | commands | acknowledged | lost | duplicated |\n"
              f"|---|---|---|---|---|---|---|---|---|\n"
              f"| 1 of 3 (RF=3, min ISR 2) | {result['partitions_led']} | {result['election_s']:.2f} s |"
              f" {result['probe_recovery_s']:.2f} s | {result['rejoined_isr_s']:.2f} s | {result['commands']} |"
              f" {result['acknowledged']} | {result['lost']} | {result['duplicated']} |\n")
    print(f"kafka_failover: {int(ok)} passed, {int(not ok)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
