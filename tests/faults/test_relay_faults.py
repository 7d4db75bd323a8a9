#!/usr/bin/env python3
"""The relay's delivery state when Kafka does not answer, on a ledgerline of its own (a database
and a topic made for this suite; no other relay publishes them).

- The broker unreachable: every round gives up waiting (a short --delivery-wait-ms) and
  publishes its rows again, while the reports of the rounds before it arrive later (the
  producer's 30 s message timeout); then SIGTERM while messages are still queued, with reports
  arriving during the exit flush. The relay (ASan build) must never touch a round's state after
  it is gone, must exit 0, and must have deleted no outbox row.
- Then a relay on the real broker publishes every row, each account's versions in order on the
  topic (the first copy of each version comes after the first copy of the one before it), and
  empties the outbox: every deleted row is on the topic.

Which rows a round may delete when only some were acknowledged is tested in
tests/unit/test_outbox_order.c; a projector healing a gap once the missing event arrives in
tests/e2e/test_read_side.py."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from ll_e2e import (Service, check, eq, free_port, kafka_messages, ledger_env, own_ledger, post, run,  # noqa: E402
                    sql_superuser, wait_until)

CMD = 18780
DB = "ledgerline_relay_faults"
ENV = ledger_env(DB, "relay-faults")
TOPIC = ENV["LEDGERLINE_KAFKA_TOPIC_EVENTS"]


def db_rows(query):
    return [line.split("|") for line in sql_superuser(query, db=DB).splitlines() if line]


def commands():
    """Three accounts, a few movements each: outbox rows of several accounts interleaved."""
    accounts = []
    with Service("command", ["--listen", f"127.0.0.1:{CMD}"], port=CMD, env=ENV):
        for i in range(3):
            s, _, b = post("/v1/accounts", {"owner": f"relay-fault-{i}", "currency": "EUR"}, port=CMD)
            eq(s, 201, f"open: {b}")
            accounts.append(b["account_id"])
        for k in range(4):
            for a in accounts:
                s, _, b = post(f"/v1/accounts/{a}/deposits", {"amount_minor": 100 + k, "currency": "EUR"}, port=CMD)
                eq(s, 201, f"deposit: {b}")
    return accounts


def test_reports_after_the_round_gave_up_and_after_sigterm():
    own_ledger(DB, ENV)
    accounts = commands()
    rows = int(db_rows("SELECT count(*) FROM outbox")[0][0])
    eq(rows, 15, "outbox rows to publish")
    since = int(time.time() * 1000) - 1000
    dead = dict(ENV, LEDGERLINE_KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}")
    relay = Service("relay", ["--delivery-wait-ms", "1000", "--poll-ms", "100"], env=dead).start()
    # Rounds give up after 1 s and publish again; the first reports come at the producer's
    # 30 s message timeout, while later rounds run.
    time.sleep(33)
    check(relay.proc.poll() is None, f"the relay runs on (see {relay.log_path})")
    code = relay.stop(timeout_s=40)  # queued messages: reports during the exit flush, the rest purged
    log = open(relay.log_path, errors="replace").read()
    check("AddressSanitizer" not in log, f"no sanitizer report; see {relay.log_path}")
    eq(code, 0, f"the relay's exit code; see {relay.log_path}")
    eq(int(db_rows("SELECT count(*) FROM outbox")[0][0]), rows, "no outbox row deleted without the broker")

    with Service("relay", [], env=ENV):
        wait_until(lambda: int(db_rows("SELECT count(*) FROM outbox")[0][0]) == 0, 60, "the outbox emptied")
    stored = {a: int(db_rows(f"SELECT max(version) FROM events WHERE account_id = '{a}'")[0][0]) for a in accounts}
    first = {}
    for i, m in enumerate(kafka_messages(TOPIC, since)):
        v = int(json.loads(m["payload"])["version"])
        first.setdefault(m["key"], {}).setdefault(v, i)
    for a in accounts:
        seen = first.get(a, {})
        eq(sorted(seen), list(range(1, stored[a] + 1)), f"every version of {a} on the topic")
        order = [seen[v] for v in range(1, stored[a] + 1)]
        eq(order, sorted(order), f"{a}'s versions first appear in order")
    sql_superuser(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", db="postgres")


if __name__ == "__main__":
    sys.exit(run(globals(), "relay_faults"))
