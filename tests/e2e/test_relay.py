#!/usr/bin/env python3
"""End-to-end: the relay publishes every committed event to Kafka, per account in version order,
through a late-committing transaction, a kill -9 of the relay, a standby taking over, and a
broker outage. Real PostgreSQL and Kafka; its own ledgerline-command (port 18080) and relays.

A ledger of its own (database, topic), made and dropped here: the suite writes a hand-made event
straight into the tables (a transaction held open) and counts the whole outbox, neither of which
may touch the stack's ledger."""
import collections
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "vectors"))
from check_vectors import canonical  # noqa: E402
import ll_e2e  # noqa: E402
from ll_e2e import (PG, OWNER, Service, check, drop_ledger, eq, kafka_messages, ledger_env, own_ledger,  # noqa: E402
                    post, prometheus, run, stack, wait_until)

DB = "ledgerline_relay_test"
ENV = ledger_env(DB, "relay-test")
TOPIC = ENV["LEDGERLINE_KAFKA_TOPIC_EVENTS"]
RELAY_ARGS = ["--poll-ms", "200", "--metrics-ms", "1000"]


def sql(query, **kw):
    return ll_e2e.sql(query, db=DB, **kw)


def open_account(owner="relay-test"):
    s, _, b = post("/v1/accounts", {"owner": owner, "currency": "EUR"}, port=18080)
    eq(s, 201, str(b))
    return b["account_id"]


def deposit(acct, amount=1):
    return post(f"/v1/accounts/{acct}/deposits", {"amount_minor": amount, "currency": "EUR"}, port=18080)


def outbox_empty():
    return sql("SELECT count(*) FROM outbox")[0][0] == "0"


def check_published(accounts, since_ms):
    """Every stored event of accounts is in Kafka since since_ms, keyed by account, with its exact
    envelope and headers; per account the first occurrences run 1..N (duplicates may follow)."""
    wait_until(outbox_empty, 90, "the outbox to drain")
    stored = {}
    for a in accounts:
        rows = sql(f"SELECT version, event_id, type, envelope FROM events WHERE account_id = '{a}' ORDER BY version")
        stored[a] = {int(v): (eid, typ, env) for v, eid, typ, env in rows}
    seen = collections.defaultdict(list)
    for m in kafka_messages(TOPIC, since_ms):
        if m["key"] not in stored:
            continue
        event = json.loads(m["payload"])
        eq(event["account_id"], m["key"], "key is the account id")
        eid, typ, env = stored[m["key"]][event["version"]]
        eq(m["payload"], env, "payload is the stored envelope")
        headers = dict(zip(m["headers"][::2], m["headers"][1::2]))
        eq(headers, {"type": typ, "schema_version": "2"}, "headers")
        seen[m["key"]].append((m["partition"], event["version"]))
    for a in accounts:
        partitions = {p for p, _ in seen[a]}
        eq(len(partitions), 1, f"{a} in one partition")
        high, firsts = 0, []
        for _, v in seen[a]:
            if v > high:
                firsts.append(v)
                high = v
        eq(firsts, sorted(stored[a]), f"{a}: every version once, in order (first occurrences)")
    return seen


def test_every_committed_event_arrives_in_version_order():
    since = int(time.time() * 1000) - 1000
    accounts = [open_account() for _ in range(6)]
    threads = [threading.Thread(target=lambda a=a: [deposit(a, i + 1) for i in range(15)]) for a in accounts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check_published(accounts, since)


def late_open_event(position, account):
    env = {"account_id": account, "actor": "test:late-commit", "command_id": f"late-{account}",
           "correlation_id": "", "data": {"currency": "EUR", "owner": "late"}, "event_id": str(uuid.uuid4()),
           "global_position": position, "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime()),
           "prev_hash": "0" * 64, "schema_version": 2, "type": "AccountOpened", "version": 1}
    env["hash"] = hashlib.sha256(canonical(env)).hexdigest()
    return env


def test_a_transaction_that_commits_late_is_not_skipped():
    since = int(time.time() * 1000) - 1000
    position = int(sql("SELECT nextval('events_position_seq')")[0][0])
    account = str(uuid.uuid4())
    env = late_open_event(position, account)
    text = canonical(env).decode().replace("'", "''")
    us = int(time.time() * 1e6)
    held = subprocess.Popen(["psql", "-X", "-q", "-h", PG["host"], "-p", PG["port"], "-U", OWNER[0], "-d", DB,
                             "-v", "ON_ERROR_STOP=1"], stdin=subprocess.PIPE, text=True,
                            env=dict(os.environ, PGPASSWORD=OWNER[1], PGAPPNAME="ll-late-commit"))
    held.stdin.write(
        "BEGIN;\n"
        f"INSERT INTO events (global_position, account_id, version, event_id, type, schema_version, occurred_at,"
        f" command_id, hash, envelope) VALUES ({position}, '{account}', 1, '{env['event_id']}', 'AccountOpened', 2,"
        f" '{env['occurred_at']}', '{env['command_id']}', '{env['hash']}', '{text}');\n"
        f"INSERT INTO outbox (global_position, account_id) VALUES ({position}, '{account}');\n"
        f"INSERT INTO account_state (account_id, version, status, owner, currency, balance_minor, opened_at_us,"
        f" updated_at_us, head_hash) VALUES ('{account}', 1, 'open', 'late', 'EUR', 0, {us}, {us}, '{env['hash']}');\n"
        "NOTIFY ledgerline_outbox;\n")
    held.stdin.flush()
    wait_until(lambda: sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'll-late-commit'"
                           " AND state = 'idle in transaction'")[0][0] == "1", 10, "the held transaction")
    # Later positions commit and are published while the earlier one is still open.
    others = [open_account() for _ in range(3)]
    for a in others:
        deposit(a)
    wait_until(outbox_empty, 30, "the others to be published")
    held.stdin.write("COMMIT;\n")
    held.stdin.close()
    eq(held.wait(timeout=10), 0, "held transaction committed")
    seen = check_published(others + [account], since)
    eq([v for _, v in seen[account]], [1], "the late event was published")


def test_relay_killed_mid_stream_loses_nothing(relay_holder):
    since = int(time.time() * 1000) - 1000
    accounts = [open_account() for _ in range(3)]
    stop = threading.Event()

    def load(a):
        while not stop.is_set():
            deposit(a)

    threads = [threading.Thread(target=load, args=(a,)) for a in accounts]
    for t in threads:
        t.start()
    time.sleep(1.0)
    relay_holder[0].kill9()
    time.sleep(0.5)
    relay_holder[0] = Service("relay", RELAY_ARGS).start()
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    seen = check_published(accounts, since)
    check(sum(len(v) for v in seen.values()) > 10, "load was published")


def test_a_standby_relay_takes_over(relay_holder):
    since = int(time.time() * 1000) - 1000
    standby = Service("relay", RELAY_ARGS).start()
    time.sleep(1.0)
    a = open_account()
    deposit(a)
    relay_holder[0].kill9()
    relay_holder[0] = standby
    for _ in range(5):
        deposit(a)
    check_published([a], since)


def test_a_paused_publisher_is_taken_over_and_steps_down_when_it_resumes(relay_holder):
    """A publisher that stops answering (SIGSTOP: a frozen VM, a debugger, a GC pause) keeps its
    PostgreSQL session and with it the publisher lock. The standby ends that session once it has
    been silent for --takeover-ms and publishes; the paused one, resumed, finds its session gone,
    deletes nothing and waits as a standby."""
    since = int(time.time() * 1000) - 1000
    paused = relay_holder[0]
    standby = Service("relay", RELAY_ARGS + ["--takeover-ms", "3000"]).start()
    a = open_account()
    deposit(a)
    wait_until(outbox_empty, 10, "published by the first relay")
    paused.proc.send_signal(signal.SIGSTOP)
    try:
        t0 = time.time()
        for _ in range(5):
            eq(deposit(a)[0], 201)
        wait_until(outbox_empty, 30, "published by the standby once the paused one's session ended")
        took = time.time() - t0
    finally:
        paused.proc.send_signal(signal.SIGCONT)
        relay_holder[0] = standby
    try:
        # /metrics is a snapshot at most a second old.
        wait_until(lambda: relay_metrics(standby)['ledgerline_relay_leader{service="relay"}'] == 1, 5,
                   "the standby publishes")
        print(f"    a publisher paused with SIGSTOP: its events published by the standby {took:.1f} s later "
              f"(--takeover-ms 3000)")
        wait_until(lambda: relay_metrics(paused)['ledgerline_relay_leader{service="relay"}'] == 0, 15,
                   "the resumed relay waits as a standby")
        for _ in range(3):
            eq(deposit(a)[0], 201)
        check_published([a], since)
        check(paused.proc.poll() is None, "the resumed relay runs on")
        eq(relay_metrics(paused)['ledgerline_relay_leader{service="relay"}'], 0.0, "and does not publish")
        eq(paused.stop(), 0, "the resumed relay stops cleanly")
    finally:
        paused.stop()  # never left running after a failure: it would take part in later tests


def relay_metrics(relay):
    port = int(relay.args[relay.args.index("--metrics-listen") + 1].rsplit(":", 1)[1])
    return prometheus(port)


def test_broker_outage_delays_but_loses_nothing(relay_holder):
    since = int(time.time() * 1000) - 1000
    published = relay_metrics(relay_holder[0])['ledgerline_relay_published_total{service="relay"}']
    stack("down", "kafka")
    try:
        accounts = [open_account() for _ in range(2)]
        for a in accounts:
            for i in range(10):
                eq(deposit(a, i + 1)[0], 201, "commands succeed while the broker is down")
        time.sleep(1.5)
        depth = int(sql("SELECT count(*) FROM outbox")[0][0])
        check(depth >= 22, f"events wait in the outbox ({depth})")
        # The relay's /metrics shows the backlog (refreshed every second).
        wait_until(lambda: relay_metrics(relay_holder[0])['ledgerline_relay_outbox_depth{service="relay"}'] >= 22,
                   5, "outbox depth in the relay's metrics")
        m = relay_metrics(relay_holder[0])
        check(m['ledgerline_relay_oldest_undelivered_seconds{service="relay"}'] > 0.5, "age of the backlog")
        eq(m['ledgerline_relay_leader{service="relay"}'], 1.0)
    finally:
        stack("up", "kafka")
    check_published(accounts, since)
    wait_until(lambda: relay_metrics(relay_holder[0])['ledgerline_relay_outbox_depth{service="relay"}'] == 0, 10,
               "the drained outbox in the metrics")
    check(relay_metrics(relay_holder[0])['ledgerline_relay_published_total{service="relay"}'] >= published + 22,
          "published counted")


if __name__ == "__main__":
    holder = [None]
    own_ledger(DB, ENV)
    os.environ.update(ENV)  # the services started below
    with Service("command", ["--listen", "127.0.0.1:18080"], port=18080):
        holder[0] = Service("relay", RELAY_ARGS).start()
        tests = {n: (lambda f=f: f(holder)) if f.__code__.co_argcount else f
                 for n, f in dict(globals()).items() if n.startswith("test_")}
        code = run(tests, "relay")
        relay_code = holder[0].stop()
        if relay_code != 0:
            print(f"  FAIL relay exited with {relay_code}; see {holder[0].log_path}")
            code = 1
    drop_ledger(DB)
    sys.exit(code)
