#!/usr/bin/env python3
"""Faults: the events topic grows from 6 to 12 partitions while the system runs (issue #19).

Deposits keep coming through a command service while docs/scaling.md's procedure is followed:
stop the relay (commands are still acknowledged; their events wait in the outbox), wait until
the projectors have applied everything published, add the partitions
(`deploy/local/stack.sh kafka-topics --alter --partitions 12`), start the relay again. Two
projectors (one consumer group) and a query API run throughout and must take the new
partitions on without a restart.
Afterwards: every acknowledged deposit is in the store exactly once; in Kafka, each account's
events run in version order, and an account that moved to another partition has every event of
the old one before every event of the new one; all 12 partitions are projected to their end; the
read model equals the store (`ledgerline-audit reconcile`), nothing halted or waiting; and the
query API answers every account at its stored version and balance (its live view follows the
new partitions).
A ledger of this suite's own (database, MongoDB database, topic, group). Needs PostgreSQL, Kafka
and FerretDB."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from ll_cluster import Deposits, held, lag, ledger_reconcile, ledger_sql, projector_metric  # noqa: E402
from ll_e2e import (BIN, Service, check, create_topic, drop_ledger, eq, free_port, kafka_messages,  # noqa: E402
                    ledger_env, own_ledger, post, request, run, stack, stop_all, wait_until)

DB = "ledgerline_partition_growth"
ENV = ledger_env(DB, "partition-growth")
ENV["LEDGERLINE_KAFKA_TOPIC_DLQ"] = ENV["LEDGERLINE_KAFKA_TOPIC_EVENTS"] + ".dlq"
TOPIC = ENV["LEDGERLINE_KAFKA_TOPIC_EVENTS"]
CMD, QRY = free_port(), free_port()
ACCOUNTS = 30


def test_partitions_grow_from_6_to_12_while_deposits_go_on(ledger):
    since_ms = int(time.time() * 1000) - 1000
    accounts = []
    for i in range(ACCOUNTS):
        s, _, b = post("/v1/accounts", {"owner": f"growth-{i}", "currency": "EUR"}, port=CMD)
        eq(s, 201, b)
        accounts.append(b["account_id"])
    ps = ledger["projectors"]
    load = Deposits(accounts, [CMD], 2)
    load.start()
    time.sleep(3)
    # The procedure (docs/scaling.md, "Growing the events topic").
    eq(ledger["relay"].stop(), 0, "the relay's exit code")
    t_paused = time.time()
    wait_until(lambda: all(lag(p.port) == 0 for p in ps), 60, "the projectors to apply everything published")
    out = stack("kafka-topics", "--alter", "--topic", TOPIC, "--partitions", "12")
    check("rror" not in out, out)
    ledger["relay"] = Service("relay", ["--poll-ms", "200"], env=ENV).start()
    paused_s = time.time() - t_paused
    wait_until(lambda: set().union(*(held(p.port) for p in ps)) == set(range(12)), 60,
               "the projectors to hold all 12 partitions")
    held_s = time.time() - t_paused
    time.sleep(4)
    load.stop.set()
    load.join()
    eq(load.errors, [], "every deposit acknowledged")
    print(f"    relay paused {paused_s:.1f} s; 12 partitions held {held_s:.1f} s after the pause began; "
          f"{sum(load.acked.values())} deposits")

    for a in accounts:
        eq(ledger_sql(ENV, f"SELECT count(*) FROM events WHERE account_id = '{a}' AND type = 'MoneyDeposited'"),
           [[str(load.acked.get(a, 0))]], f"{a}: each acknowledged deposit once")
    wait_until(lambda: ledger_sql(ENV, "SELECT count(*) FROM outbox") == [["0"]], 60, "the outbox to drain")

    # Order per account in Kafka: versions rise within a partition, and an account that moved
    # has all of its old partition's events before its new one's.
    per_account = {}
    for m in kafka_messages(TOPIC, since_ms):
        per_account.setdefault(m["key"], []).append((m["partition"], m["offset"], json.loads(m["payload"])["version"]))
    moved = 0
    for a in accounts:
        msgs = per_account.get(a, [])
        parts = sorted({p for p, _, _ in msgs})
        check(len(parts) <= 2, f"{a} in partitions {parts}")
        spans = []
        for p in parts:
            versions = [v for q, _, v in sorted(msgs) if q == p]
            check(versions == sorted(versions), f"{a}: versions out of order in partition {p}: {versions}")
            spans.append((min(versions), max(versions), p))
        if len(spans) == 2:
            moved += 1
            first, second = sorted(spans)
            check(first[1] < second[0], f"{a}: its two partitions overlap: {spans}")
    check(moved > 0, "some accounts moved to new partitions")
    print(f"    {moved} of {ACCOUNTS} accounts moved to another partition, each in order")

    wait_until(lambda: set().union(*(held(p.port) for p in ps)) == set(range(12)) and all(lag(p.port) == 0 for p in ps),
               60, "all 12 partitions projected to their end")
    wait_until(lambda: ledger_reconcile(ENV) == [], 60, "the read model to equal the store", interval_s=1)
    for p in ps:
        eq(projector_metric(p.port, "ledgerline_projector_halted_accounts"), 0, "no account halted")
        eq(projector_metric(p.port, "ledgerline_projector_waiting_accounts"), 0, "no account behind a gap")
    # Plain GETs, no min_version: a live view that did not follow the new partitions would keep
    # answering the moved accounts' last state before the growth.
    for a in accounts:
        version, balance = ledger_sql(ENV, f"SELECT version, balance_minor FROM account_state WHERE account_id = '{a}'")[0]
        want = (200, int(version), int(balance))
        wait_until(lambda a=a: (lambda r: (r[0], r[2].get("version"), r[2].get("balance_minor")))(
            request("GET", f"/v1/accounts/{a}", port=QRY)) == want, 30, f"{a} on the query API at v{version}")


if __name__ == "__main__":
    own_ledger(DB, ENV)
    create_topic(ENV["LEDGERLINE_KAFKA_TOPIC_DLQ"])
    ledger = {"projectors": []}
    try:
        ledger["command"] = Service("command", ["--listen", f"127.0.0.1:{CMD}"], port=CMD, env=ENV).start()
        ledger["query"] = Service("query", ["--listen", f"127.0.0.1:{QRY}"], port=QRY, env=ENV).start()
        ledger["relay"] = Service("relay", ["--poll-ms", "200"], env=ENV).start()
        for n in (1, 2):
            port = free_port()
            ledger["projectors"].append(
                Service(f"projector-{n}", ["--metrics-ms", "1000", "--metrics-listen", f"127.0.0.1:{port}"],
                        port=port, env=ENV, binary=os.path.join(BIN, "ledgerline-projector")).start())
        wait_until(lambda: set().union(*(held(p.port) for p in ledger["projectors"])) == set(range(6)), 60,
                   "two projectors sharing 6 partitions")
        code = run({n: (lambda f=f: f(ledger)) for n, f in dict(globals()).items() if n.startswith("test_")},
                   "partition_growth")
    finally:
        code_stop = stop_all([ledger[k] for k in ("command", "query", "relay") if k in ledger] +
                             ledger["projectors"])
    drop_ledger(DB)
    sys.exit(code or code_stop)
