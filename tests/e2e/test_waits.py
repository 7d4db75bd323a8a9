#!/usr/bin/env python3
"""End-to-end: what a min_version wait and an audit page past the end cost the read store and
the event store (issue: waits that poll the read store 100 times in 2 s; a page past the end
that replays the whole stream). A ledger of this suite's own (database, MongoDB database, topic,
projector group) with its own command service, relay, projector and query APIs.

The accounts the waits are about are opened and projected before the query API under test
starts, so its live view does not hold them (its tail starts at the projector's committed
offsets): their waits are answered from the read store, which is what costs.
- With the projector stopped, eight waits of one customer for versions not there make (almost)
  no read-store look in 2 s, and end 503 not-yet-visible at the deadline.
- Once the projector writes the version, the wait is answered within milliseconds.
- An account the tail never saw, and a query API without the live view (its gentle back-off),
  stay bounded too.
- GET .../audit?from_version past the account's version answers the empty page from the
  account's version alone: no event read, a few ms, on an account of 2,000 events; huge values
  are answered (INT64_MAX) or refused (beyond int64) correctly."""
import concurrent.futures as cf
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from ll_e2e import (BIN, Service, check, drop_ledger, eq, free_port, ledger_env, own_ledger, post,  # noqa: E402
                    prometheus, request, run, stop_all, token, wait_until)

DB = "ledgerline_waits"
ENV = ledger_env(DB, "waits")
CMD, QRY, BARE, PROJ = free_port(), free_port(), free_port(), free_port()
BENCH = os.path.join(os.path.dirname(BIN), "bench")
PROBLEM = "https://ledgerline.dev/problems/"
CUSTOMER = f"waiter-{uuid.uuid4().hex[:8]}"
CUSTOMER_TOKEN = token(sub=CUSTOMER, role="customer")
READS = 'ledgerline_query_wait_store_reads_total{service="query"}'
EVENTS_READ = 'ledgerline_query_store_events_read_total{service="query"}'
LONG_EVENTS = 2000
INT64_MAX = 2**63 - 1

ACCOUNTS = []  # opened and projected before the query API under test started
services = {}


def service(name, binary, args, port=None, env=None):
    return Service(name, args, port=port, env=dict(ENV, **(env or {})), binary=os.path.join(BIN, f"ledgerline-{binary}"))


def projector():
    return service("projector", "projector", ["--metrics-listen", f"127.0.0.1:{PROJ}"]).start()


def deposit(a, amount=1):
    s, _, b = post(f"/v1/accounts/{a}/deposits", {"amount_minor": amount, "currency": "EUR"}, port=CMD)
    eq(s, 201, b)
    return b["version"]


def metric(port, series):
    return prometheus(port).get(series, 0)


def wait(a, version, port=QRY, auth=CUSTOMER_TOKEN):
    t0 = time.time()
    s, h, b = request("GET", f"/v1/accounts/{a}?min_version={version}", port=port, auth=auth)
    return s, h, b, time.time() - t0


def store_version(a):
    """The version MongoDB's read model holds of a (through the query API without a live view)."""
    s, _, b = request("GET", f"/v1/accounts/{a}", port=BARE, auth=CUSTOMER_TOKEN)
    return b["version"] if s == 200 else 0


def held():
    return metric(QRY, 'ledgerline_query_view_accounts{service="query",kind="held"}')


def test_waits_cost_no_read_while_the_projector_is_stopped():
    eq(services["projector"].stop(), 0, "the projector's exit (a sanitizer report?)")
    a, b = ACCOUNTS[0], ACCOUNTS[1]
    v = deposit(a)  # the tail sees it; the read store will not have it while the projector is stopped
    wait_until(lambda: metric(QRY, 'ledgerline_query_view_events_total{service="query",outcome="read"}') >= 1, 10,
               "the tail to see the deposit")
    eq(held(), 0, "precondition: the live view holds none of the accounts (their waits read the store)")
    before = metric(QRY, READS)
    t0 = time.time()
    with cf.ThreadPoolExecutor(8) as ex:
        # Four for the version the tail has seen but the projector has not written, four for a
        # version that does not exist at all.
        futures = [ex.submit(wait, a, v) for _ in range(4)] + [ex.submit(wait, b, 9) for _ in range(4)]
        answers = [f.result() for f in futures]
    elapsed = time.time() - t0
    reads = metric(QRY, READS) - before
    print(f"    8 waits of one customer for 2 s: {reads:.0f} read-store looks in all", flush=True)
    eq([s for s, _, _, _ in answers], [503] * 8, "each wait ends 503 at its deadline")
    eq({body["type"] for _, _, body, _ in answers}, {PROBLEM + "not-yet-visible"})
    eq({h.get("retry-after") for _, h, _, _ in answers}, {"1"})
    check(all(1.8 < t < 3.0 for _, _, _, t in answers), f"each waited about 2 s: {[t for *_, t in answers]}")
    check(elapsed < 3.5, f"the eight ran at once: {elapsed:.1f} s")
    check(reads < 10, f"8 waits made {reads:.0f} read-store looks (before: about 100 each)")


def test_a_wait_is_answered_as_soon_as_the_projector_writes():
    a = ACCOUNTS[2]
    v = deposit(a)  # the projector is still stopped (previous test)
    eq(store_version(a), 1, "not in the read store yet")
    written = {}
    stop = threading.Event()

    def watch_store():  # when the read store has it, looked at as often as the query API answers
        while not stop.is_set():
            if store_version(a) >= v:
                written["t"] = time.time()
                return

    watcher = threading.Thread(target=watch_store)
    watcher.start()
    before = metric(QRY, READS)
    try:
        services["projector"] = projector()
        deadline = time.time() + 60
        while time.time() < deadline:  # a client retries a 503 not-yet-visible
            s, _, body, _ = wait(a, v)
            if s == 200:
                answered = time.time()
                break
            eq((s, body["type"]), (503, PROBLEM + "not-yet-visible"))
        else:
            raise AssertionError("never answered once the projector ran")
    finally:
        stop.set()
        watcher.join()
    eq(body["version"], v)
    reads = metric(QRY, READS) - before
    check("t" in written, "the watcher saw the read store reach the version")
    late_ms = (answered - written["t"]) * 1000
    print(f"    answered {late_ms:.1f} ms after the read store was seen to have the version; "
          f"{reads:.0f} read-store looks", flush=True)
    check(late_ms < 100, f"answered {late_ms:.0f} ms after the projector wrote")


def test_a_wait_on_a_running_projector_reads_the_store_about_once():
    wait_until(lambda: store_version(ACCOUNTS[2]) >= 2, 30, "the projector to run")
    times, looks = [], []
    for a in ACCOUNTS[3:8]:
        before = metric(QRY, READS)
        v = deposit(a, 7)
        s, _, body, t = wait(a, v)
        eq((s, body.get("version"), body.get("balance_minor")), (200, v, 7), str(body))
        times.append(t * 1000)
        looks.append(metric(QRY, READS) - before)
    print(f"    deposit -> readable with min_version (read store): median {statistics.median(times):.1f} ms, "
          f"max {max(times):.1f} ms; read-store looks per wait {looks}", flush=True)
    check(max(looks) <= 3, f"read-store looks per wait: {looks}")
    check(max(times) < 1000, f"answered within a second: {times}")


def test_a_wait_for_an_account_never_seen_looks_once_then_at_the_deadline():
    before = metric(QRY, READS)
    s, _, body, t = wait(str(uuid.uuid4()), 1)
    reads = metric(QRY, READS) - before
    eq((s, body["type"]), (503, PROBLEM + "not-yet-visible"))
    print(f"    a missing account's wait: {reads:.0f} read-store looks in {t:.1f} s", flush=True)
    check(reads <= 2, f"{reads:.0f} looks: once (it may predate the tail), once at the deadline")


def test_waits_without_the_live_view_back_off_gently():
    # The query API without a live view knows nothing of the topic: it polls, gently.
    before = metric(BARE, READS)
    with cf.ThreadPoolExecutor(8) as ex:
        answers = list(ex.map(lambda _: wait(ACCOUNTS[1], 99, port=BARE), range(8)))
    reads = metric(BARE, READS) - before
    eq([s for s, *_ in answers], [503] * 8)
    print(f"    8 waits without the live view for 2 s: {reads:.0f} read-store looks "
          f"({reads / 8:.1f} a wait)", flush=True)
    check(reads <= 8 * 8, f"at most 8 looks a wait: {reads:.0f}")


def audit(a, query, auth=None):
    kw = {} if auth is None else {"auth": auth}
    t0 = time.time()
    s, _, b = request("GET", f"/v1/accounts/{a}/audit?{query}", port=QRY, **kw)
    return s, b, (time.time() - t0) * 1000


def test_an_audit_page_past_the_end_reads_no_event():
    a = LONG
    s, page, _ = audit(a, f"from_version={LONG_EVENTS}")
    eq((s, [i["state_after"]["version"] for i in page["items"]], page["next_cursor"]), (200, [LONG_EVENTS], None),
       "the last page still holds the last event")
    empty = {"items": [], "next_cursor": None, "integrity_error": None}
    times, read = [], {}
    for f in (LONG_EVENTS + 1, LONG_EVENTS + 2, 9000000000000000000, INT64_MAX):
        for query in (f"from_version={f}", f"from_version={f}&limit=200", f"from_version={f}&to_version={INT64_MAX}"):
            before = metric(QRY, EVENTS_READ)
            s, page, ms = audit(a, query)
            eq((s, page), (200, empty), query)
            read[query] = metric(QRY, EVENTS_READ) - before
            times.append(ms)
    print(f"    an audit page past the end of {LONG_EVENTS} events: median {statistics.median(times):.1f} ms, "
          f"max {max(times):.1f} ms; events read {sorted(set(read.values()))}", flush=True)
    eq({q: n for q, n in read.items() if n}, {}, "events read from the store")
    check(statistics.median(times) < 20, f"a few ms: {times}")
    # Its owner sees the same; another customer and a missing account are 404, as before.
    eq(audit(a, "from_version=9000000000000000000", auth=token(sub="bench-0", role="customer"))[:2], (200, empty))
    eq(audit(a, "from_version=9000000000000000000", auth=CUSTOMER_TOKEN)[0], 404, "another's account")
    eq(audit(str(uuid.uuid4()), "from_version=9000000000000000000")[0], 404, "a missing account")
    for bad in (f"from_version={INT64_MAX + 1}", "from_version=99999999999999999999", "from_version=0",
                f"from_version=9000000000000000000&limit=201", f"to_version={INT64_MAX + 1}", "from_version=-1"):
        s, page, _ = audit(a, bad)
        eq((s, page["type"]), (400, PROBLEM + "invalid-query"), bad)


def load_long_account():
    """One account with LONG_EVENTS events, made and chained by domain/ (bench/gen_events) and
    loaded into this suite's event store."""
    with tempfile.TemporaryDirectory() as tmp:
        ids = os.path.join(tmp, "ids.txt")
        out = subprocess.run([os.path.join(BENCH, "gen_events"), "--copy", tmp, "--events", str(LONG_EVENTS),
                              "--accounts", "1", "--ids", ids], capture_output=True, text=True, timeout=120)
        eq(out.returncode, 0, f"gen_events: {out.stderr}")
        for table in ("events", "account_state"):
            out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", ENV["LEDGERLINE_PG_MIGRATE_CONNINFO"],
                                  "-c", f"\\copy {table} FROM '{tmp}/{table}.copy'"], capture_output=True, text=True)
            eq(out.returncode, 0, f"copy {table}: {out.stderr}")
        # The command service takes positions from the sequence: past the loaded ones.
        out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", ENV["LEDGERLINE_PG_MIGRATE_CONNINFO"], "-c",
                              "SELECT setval('events_position_seq', (SELECT max(global_position) FROM events))"],
                             capture_output=True, text=True)
        eq(out.returncode, 0, f"setval: {out.stderr}")
        with open(ids) as f:
            return f.read().split()[0]


def projected(accounts):
    return all(store_version(a) >= 1 for a in accounts)


def caught_up():
    m = prometheus(PROJ)
    lags = [v for k, v in m.items() if k.startswith("ledgerline_projector_lag_events{")]
    return len(lags) > 0 and sum(lags) == 0


if __name__ == "__main__":
    own_ledger(DB, ENV)
    LONG = load_long_account()
    code = 1
    try:
        with service("command", "command", ["--listen", f"127.0.0.1:{CMD}"], CMD), \
                service("relay", "relay", ["--poll-ms", "20"]), \
                service("query-bare", "query", ["--listen", f"127.0.0.1:{BARE}"], BARE,
                        env={"LEDGERLINE_QUERY_VIEW_ACCOUNTS_MAX": "0"}):
            try:
                services["projector"] = projector()
                for _ in range(8):
                    s, _, b = post("/v1/accounts", {"owner": CUSTOMER, "currency": "EUR"}, port=CMD,
                                   auth=token(sub=CUSTOMER, role="customer"))
                    eq(s, 201, b)
                    ACCOUNTS.append(b["account_id"])
                wait_until(lambda: projected(ACCOUNTS), 60, "the accounts in the read store", interval_s=0.2)
                wait_until(caught_up, 30, "the projector to commit every offset")
                services["query"] = service("query", "query", ["--listen", f"127.0.0.1:{QRY}"], QRY).start()
                wait_until(lambda: metric(QRY, 'ledgerline_query_view_ready{service="query"}') == 1, 30,
                           "the query API's tail to follow the topic")
                code = run(globals(), "waits")
            finally:  # the ones started outside the with, whatever failed
                code |= stop_all([services[n] for n in ("query", "projector") if n in services])
    finally:
        drop_ledger(DB)
    sys.exit(code)
