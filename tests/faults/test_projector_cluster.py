#!/usr/bin/env python3
"""Faults: three projectors share the events topic's partitions (issue #19, the projector tier).

Under a steady load of deposits (two command services, one relay), with three projectors in one
consumer group (cooperative rebalancing): one projector is killed with -9, and its partitions go
to the two left; then a fourth joins and takes some over. Afterwards: every acknowledged deposit
is in the store exactly once, the read model equals the store (`ledgerline-audit reconcile`),
no account is halted or waits behind a gap, and every partition is projected to its end.
Measured and printed: the time from the kill to the survivors holding every partition, and from
the new projector's start to its first partition.
A ledger of this suite's own (database, MongoDB database, topic, group). Needs PostgreSQL, Kafka
and FerretDB."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from ll_cluster import Deposits, held, lag, ledger_reconcile, ledger_sql, projector_metric  # noqa: E402
from ll_e2e import (BIN, Service, check, create_topic, drop_ledger, eq, free_port, ledger_env, own_ledger,  # noqa: E402
                    post, run, stop_all, wait_until)

DB = "ledgerline_projector_cluster"
ENV = ledger_env(DB, "projector-cluster")
ENV["LEDGERLINE_KAFKA_TOPIC_DLQ"] = ENV["LEDGERLINE_KAFKA_TOPIC_EVENTS"] + ".dlq"
PARTITIONS = set(range(6))
CMD_A, CMD_B = free_port(), free_port()


def projector(n):
    port = free_port()
    svc = Service(f"projector-{n}", ["--metrics-ms", "1000", "--metrics-listen", f"127.0.0.1:{port}"], port=port,
                  env=ENV, binary=os.path.join(BIN, "ledgerline-projector"))
    svc.metrics = port
    return svc.start()


def test_projectors_share_partitions_and_survive_a_kill_and_a_join(ledger):
    ps = ledger["projectors"]
    wait_until(lambda: set().union(*(held(p.metrics) for p in ps)) == PARTITIONS and all(held(p.metrics) for p in ps), 60,
               "three projectors holding two partitions each")
    shares = [sorted(held(p.metrics)) for p in ps]
    check(all(len(s) == 2 for s in shares), f"six partitions spread over three: {shares}")
    accounts = []
    for i in range(24):
        s, _, b = post("/v1/accounts", {"owner": f"cluster-{i}", "currency": "EUR"}, port=CMD_A if i % 2 else CMD_B)
        eq(s, 201, b)
        accounts.append(b["account_id"])
    load = Deposits(accounts, [CMD_B, CMD_A], 4)
    load.start()
    time.sleep(4)
    victim = ps.pop(0)
    lost = held(victim.metrics)
    victim.kill9()
    t_kill = time.time()
    wait_until(lambda: set().union(*(held(p.metrics) for p in ps)) == PARTITIONS, 60, "the survivors hold every partition")
    takeover_s = time.time() - t_kill
    time.sleep(2)
    t_join = time.time()
    ps.append(projector(4))
    wait_until(lambda: held(ps[-1].metrics), 60, "the new projector takes partitions")
    join_s = time.time() - t_join
    time.sleep(3)
    load.stop.set()
    load.join()
    eq(load.errors, [], "every deposit acknowledged")
    wait_until(lambda: set().union(*(held(p.metrics) for p in ps)) == PARTITIONS and all(lag(p.metrics) == 0 for p in ps), 60,
               "every partition projected to its end")
    print(f"    killed a projector holding {sorted(lost)}: its partitions held again after {takeover_s:.1f} s; "
          f"a new projector held {sorted(held(ps[-1].metrics))} {join_s:.1f} s after its start; "
          f"{sum(load.acked.values())} deposits")
    for a in accounts:
        rows = ledger_sql(ENV, f"SELECT count(*), coalesce(sum((envelope::jsonb->'data'->>'amount_minor')::bigint), 0)"
                        f" FROM events WHERE account_id = '{a}' AND type = 'MoneyDeposited'")
        eq(rows, [[str(load.acked.get(a, 0)), str(load.acked.get(a, 0))]], f"{a}: each acknowledged deposit once")
    wait_until(lambda: ledger_reconcile(ENV) == [], 60, "the read model equals the event store")
    for p in ps:
        eq(projector_metric(p.metrics, "ledgerline_projector_halted_accounts"), 0, "no account halted")
        eq(projector_metric(p.metrics, "ledgerline_projector_waiting_accounts"), 0, "no account behind a gap")


if __name__ == "__main__":
    own_ledger(DB, ENV)
    create_topic(ENV["LEDGERLINE_KAFKA_TOPIC_DLQ"])
    ledger = {}
    code = 1
    with Service("command", ["--listen", f"127.0.0.1:{CMD_A}"], port=CMD_A, env=ENV), \
            Service("command-b", ["--listen", f"127.0.0.1:{CMD_B}"], port=CMD_B, env=ENV,
                    binary=os.path.join(BIN, "ledgerline-command")), \
            Service("relay", ["--poll-ms", "200"], env=ENV):
        ledger["projectors"] = [projector(n) for n in (1, 2, 3)]
        try:
            code = run({n: (lambda f=f: f(ledger)) for n, f in dict(globals()).items() if n.startswith("test_")},
                       "projector_cluster")
        finally:
            code |= stop_all(ledger["projectors"])
    drop_ledger(DB)
    sys.exit(code)
