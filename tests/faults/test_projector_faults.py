#!/usr/bin/env python3
"""Faults: the projector killed with -9 around halts and gaps (#18 item 3).
- An account halted by an event the projector refuses, and the event store cannot answer for
  (its own copy of that event is refused too: the store was tampered with), stays halted across
  a kill -9 (the halt is recorded in the read model's halts_g<N> before the event is
  dead-lettered), shows in /metrics and the projector's /readyz, and its later events are not
  projected. (A refused copy the store can answer for is replaced by the store's event:
  tests/faults/test_projector_order.py.)
- A gap (the topic skipped an account's event: here the relay is stopped and only the later
  event is produced) is closed from the event store, also when the projector is killed with -9
  while the later event waits in the topic: after the restart the read model equals the store.
A ledger of this suite's own (database, MongoDB database, topic, group), so no halt lingers in
the stack's read model. Needs PostgreSQL, Kafka and FerretDB."""
import json
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from ll_e2e import (BIN, KAFKA, Service, check, create_topic, drop_ledger, eq, kafka_messages, ledger_env,  # noqa: E402
                    own_ledger, post, prometheus, request, run, tamper_amount, wait_until)

CMD, METRICS = 18580, 18582
DB_OWNER = None
DB = "ledgerline_projector_faults"
ENV = ledger_env(DB, "projector-faults")
TOPIC = ENV["LEDGERLINE_KAFKA_TOPIC_EVENTS"]
ENV["LEDGERLINE_KAFKA_TOPIC_DLQ"] = f"{TOPIC}.dlq"
PROJECTOR_ARGS = ["--metrics-ms", "1000", "--metrics-listen", f"127.0.0.1:{METRICS}"]
HALTED = 'ledgerline_projector_halted_accounts{service="projector"}'
APPLIED = 'ledgerline_projector_events_total{service="projector",outcome="applied"}'


def metric(name):
    return prometheus(METRICS).get(name, 0)


def open_account(owner):
    s, _, b = post("/v1/accounts", {"owner": owner, "currency": "EUR"}, port=CMD)
    eq(s, 201, b)
    return b["account_id"]


def stored(account, version):
    out = subprocess.run(["psql", "-X", "-q", "-At", ENV["LEDGERLINE_PG_MIGRATE_CONNINFO"], "-c",
                          f"SELECT envelope FROM events WHERE account_id = '{account}' AND version = {version}"],
                         capture_output=True, text=True)
    eq(out.returncode, 0, out.stderr)
    return out.stdout.strip()


def produce(key, value):
    out = subprocess.run(["kcat", "-P", "-b", KAFKA, "-t", TOPIC, "-k", key], input=value, capture_output=True,
                         text=True, timeout=30)
    eq(out.returncode, 0, out.stderr)


def test_a_refused_event_halts_the_account_across_restarts(ledger):
    a = open_account("halts-a")
    wait_until(lambda: metric(APPLIED) >= 1, 30, "the opening projected")
    # Version 2 of a altered in the event store itself before the relay publishes it: its hash no
    # longer matches, and the store has no other copy to answer with. Refused, never guessed.
    since = int(time.time() * 1000) - 1000
    eq(ledger["relay"].stop(), 0, "the relay's exit code")
    eq(post(f"/v1/accounts/{a}/deposits", {"amount_minor": 5, "currency": "EUR"}, port=CMD)[0], 201)
    tamper_amount(a, 2, 5, 6, db=DB)
    ledger["relay"] = Service("relay", ["--poll-ms", "200"], env=ENV).start()
    wait_until(lambda: metric(HALTED) == 1, 30, "the account halted")
    s, _, body = request("GET", "/readyz", port=METRICS, auth=None)
    eq((s, body.get("type")), (503, "https://ledgerline.dev/problems/not-ready"), f"/readyz with a halt: {body}")
    check("1 accounts halted" in body["detail"], body)
    dead = [m for m in kafka_messages(f"{TOPIC}.dlq", since) if m["key"] == a]
    eq(len(dead), 1, "the refused event dead-lettered once")
    # A kill -9 keeps the halt: it is recorded in the read model, not only in memory.
    ledger["projector"].kill9()
    ledger["projector"] = Service("projector", PROJECTOR_ARGS, port=METRICS, env=ENV).start()
    wait_until(lambda: metric(HALTED) == 1, 30, "the halt read back after the restart")
    eq(request("GET", "/readyz", port=METRICS, auth=None)[0], 503, "still not ready")
    # The account's real version 2 is not projected onto what was refused; others go on.
    applied = metric(APPLIED)
    eq(post(f"/v1/accounts/{a}/deposits", {"amount_minor": 7, "currency": "EUR"}, port=CMD)[0], 201)
    b = open_account("halts-b")
    wait_until(lambda: metric(APPLIED) >= applied + 1, 30, "the other account projected")
    time.sleep(1.5)  # a metrics period: the deposit, published before b, has been seen
    eq(metric(APPLIED), applied + 1, f"only {b}'s opening applied, not the halted account's deposit")


def test_a_gap_is_closed_from_the_store_across_a_kill(ledger):
    healed = 'ledgerline_projector_healed_events_total{service="projector"}'
    a = open_account("gap-a")
    wait_until(lambda: projected(a), 30, "the opening projected")
    eq(ledger["relay"].stop(), 0, "the relay's exit code")
    try:
        for amount in (5, 7, 9):
            eq(post(f"/v1/accounts/{a}/deposits", {"amount_minor": amount, "currency": "EUR"}, port=CMD)[0], 201)
        ledger["projector"].kill9()
        produce(a, stored(a, 4))  # only the last one reaches the topic, while no projector runs
        ledger["projector"] = Service("projector", PROJECTOR_ARGS, port=METRICS, env=ENV).start()
        wait_until(lambda: projected(a), 30, "versions 2 and 3 read from the store, then 4")
        # /metrics shows a snapshot taken after the batch (within a quarter of a second).
        wait_until(lambda: metric(healed) == 2, 10, "two events read from the event store")
    finally:
        ledger["relay"] = Service("relay", ["--poll-ms", "200"], env=ENV).start()
    dups = 'ledgerline_projector_events_total{service="projector",outcome="duplicate"}'
    wait_until(lambda: metric(dups) >= 3, 30, "the relay's copies seen as duplicates")
    check(projected(a), "the read model still equals the store")


def projected(account):
    """ledgerline-audit reconcile: MongoDB's read model of account equals the event store."""
    out = subprocess.run([os.path.join(BIN, "ledgerline-audit"), "--format", "json", "reconcile", "--account",
                          account], capture_output=True, text=True, timeout=60, env=dict(os.environ, **ENV))
    if out.returncode not in (0, 1):
        raise RuntimeError(f"ledgerline-audit reconcile: {out.stderr}")
    return json.loads(out.stdout) == []


if __name__ == "__main__":
    own_ledger(DB, ENV)
    create_topic(f"{TOPIC}.dlq")
    ledger = {}
    with Service("command", ["--listen", f"127.0.0.1:{CMD}"], port=CMD, env=ENV):
        ledger["relay"] = Service("relay", ["--poll-ms", "200"], env=ENV).start()
        ledger["projector"] = Service("projector", PROJECTOR_ARGS, port=METRICS, env=ENV).start()
        code = run({n: (lambda f=f: f(ledger)) for n, f in dict(globals()).items() if n.startswith("test_")},
                   "projector_faults")
        for name in ("projector", "relay"):
            if ledger[name].stop() != 0:
                print(f"  FAIL the {name} exited non-zero")
                code = 1
    drop_ledger(DB)
    sys.exit(code)
