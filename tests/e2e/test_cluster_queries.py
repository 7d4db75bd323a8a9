#!/usr/bin/env python3
"""End-to-end: two query APIs at once, each with its own live view (issue #19, the query tier).

Read-your-writes must hold on whichever instance a client reaches: after each deposit (through
one of two command services), GET with min_version=<the version the 201 gave> on either query
API answers that version (never older, never a 503 once the event is projected), and once an
instance has shown it, its statement page holds the deposit. A query API killed with -9 while the
other serves comes back with an exact view. Two projectors share the partitions meanwhile.
A ledger of this suite's own (database, MongoDB database, topic, group)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from ll_e2e import (BIN, Service, check, create_topic, drop_ledger, eq, free_port, ledger_env, own_ledger,  # noqa: E402
                    post, request, run, stop_all, wait_until)

DB = "ledgerline_cluster_queries"
ENV = ledger_env(DB, "cluster-queries")
ENV["LEDGERLINE_KAFKA_TOPIC_DLQ"] = ENV["LEDGERLINE_KAFKA_TOPIC_EVENTS"] + ".dlq"
CMDS = [free_port(), free_port()]
QRYS = [free_port(), free_port()]


def service(name, binary, args, port=None):
    return Service(name, args, port=port, env=ENV, binary=os.path.join(BIN, f"ledgerline-{binary}"))


def query(i):
    return service(f"query-{i}", "query", ["--listen", f"127.0.0.1:{QRYS[i]}"], QRYS[i]).start()


def open_account(i):
    s, _, b = post("/v1/accounts", {"owner": f"reader-{i}", "currency": "EUR"}, port=CMDS[i % 2])
    eq(s, 201, b)
    return b["account_id"], b["version"]


RETRIES = {"n": 0}


def settled(path, port):
    """GET path, asking again while the answer is 503 not-yet-visible (what a client told so does,
    after its Retry-After): under the full suite's load the projector can be more than the wait's
    2 s behind the live view now and then. Never stale data silently is what is checked; how often
    it had to be asked again is printed."""
    deadline = time.time() + 15
    while True:
        s, h, got = request("GET", path, port=port)
        if s != 503 or time.time() > deadline:
            return s, h, got
        RETRIES["n"] += 1
        time.sleep(0.2)


def read_your_writes(accounts, rounds, qrys, balance):
    """Deposits on the accounts in turn; each read back on the next query API in turn. balance:
    what each account holds so far, kept up to date."""
    worst = 0.0
    for r in range(rounds):
        a = accounts[r % len(accounts)]
        s, _, b = post(f"/v1/accounts/{a}/deposits", {"amount_minor": r + 1, "currency": "EUR"}, port=CMDS[r % 2])
        eq(s, 201, b)
        balance[a] += r + 1
        q = qrys[r % len(qrys)]
        t0 = time.time()
        s, h, got = request("GET", f"/v1/accounts/{a}?min_version={b['version']}", port=q)
        worst = max(worst, time.time() - t0)
        eq(s, 200, f"read your write on {q}: {got}")
        eq((got["version"], got["balance_minor"]), (b["version"], balance[a]), f"{a} on {q}")
        eq(h["etag"], f'"{b["version"]}"')
        # Once an instance showed the version, its statement never shows less.
        s, _, page = settled(f"/v1/accounts/{a}/transactions?limit=1", q)
        eq(s, 200, f"statement on {q}: {page}")
        check(page["items"] and page["items"][0]["version"] == b["version"],
              f"the statement on {q} holds the deposit: {page}")
        # And every other instance answers the same min_version with the same state.
        for other in qrys:
            s, _, got = settled(f"/v1/accounts/{a}?min_version={b['version']}", other)
            eq((s, got.get("version"), got.get("balance_minor")), (200, b["version"], balance[a]), f"on {other}")
    return worst


def test_read_your_writes_on_either_query_api(ledger):
    accounts = [open_account(i)[0] for i in range(8)]
    worst = read_your_writes(accounts, 40, QRYS, {a: 0 for a in accounts})
    print(f"    40 deposits, each read back with min_version on both instances: slowest first read {worst * 1000:.0f} ms"
          f"; 503 not-yet-visible asked again {RETRIES['n']} times so far")


def test_a_query_api_killed_comes_back_exact_while_the_other_serves(ledger):
    accounts = [open_account(i)[0] for i in range(4)]
    balance = {a: 0 for a in accounts}
    read_your_writes(accounts, 8, QRYS, balance)
    ledger["query"][0].kill9()
    read_your_writes(accounts, 8, QRYS[1:], balance)  # the other one serves alone
    ledger["query"][0] = query(0)
    wait_until(lambda: request("GET", "/readyz", port=QRYS[0], auth=None)[0] == 200, 60, "the restarted one ready")
    before = RETRIES["n"]
    read_your_writes(accounts, 8, QRYS, balance)
    print(f"    after the restart: 503 not-yet-visible asked again {RETRIES['n'] - before} times")


if __name__ == "__main__":
    own_ledger(DB, ENV)
    create_topic(ENV["LEDGERLINE_KAFKA_TOPIC_DLQ"])
    code = 1
    ledger = {}
    with service("command", "command", ["--listen", f"127.0.0.1:{CMDS[0]}"], CMDS[0]), \
            service("command-b", "command", ["--listen", f"127.0.0.1:{CMDS[1]}"], CMDS[1]), \
            service("relay", "relay", ["--poll-ms", "200"]), \
            service("projector-1", "projector", ["--metrics-listen", f"127.0.0.1:{free_port()}"]), \
            service("projector-2", "projector", ["--metrics-listen", f"127.0.0.1:{free_port()}"]):
        ledger["query"] = [query(0), query(1)]
        try:
            code = run({n: (lambda f=f: f(ledger)) for n, f in dict(globals()).items() if n.startswith("test_")},
                       "cluster_queries")
        finally:
            code |= stop_all(ledger["query"])
    drop_ledger(DB)
    sys.exit(code)
