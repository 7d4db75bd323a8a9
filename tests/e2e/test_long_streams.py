#!/usr/bin/env python3
"""End-to-end: the audit routes on an account of 100,000 events (a database of this suite's own,
the events made and chained by domain/ through bench/gen_events.c and loaded by COPY). A page
costs what it returns in memory, and verification and balance-as-of read the stream in chunks:
the query API's peak memory must not grow with the stream. Needs PostgreSQL and Kafka (the
query API's live view follows a topic of this suite's own)."""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from ll_e2e import BIN, Service, check, eq, ledger_env, own_ledger, request, run, sql_superuser  # noqa: E402

QRY = 18480
EVENTS = 100_000
DB = "ledgerline_long_streams"
ENV = ledger_env(DB, "long-streams")
OWNER = ENV["LEDGERLINE_PG_MIGRATE_CONNINFO"]
BENCH = os.path.join(os.path.dirname(BIN), "bench")
ACCOUNT = None


def load():
    """One account with EVENTS events in an event store of its own."""
    own_ledger(DB, ENV)
    with tempfile.TemporaryDirectory() as tmp:
        ids = os.path.join(tmp, "ids.txt")
        out = subprocess.run([os.path.join(BENCH, "gen_events"), "--copy", tmp, "--events", str(EVENTS), "--accounts",
                              "1", "--ids", ids], capture_output=True, text=True, timeout=300)
        eq(out.returncode, 0, f"gen_events: {out.stderr}")
        for table in ("events", "account_state"):
            out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", OWNER, "-c",
                                  f"\\copy {table} FROM '{tmp}/{table}.copy'"], capture_output=True, text=True)
            eq(out.returncode, 0, f"copy {table}: {out.stderr}")
        with open(ids) as f:
            return f.read().split()[0]


def peak_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int([line for line in f if line.startswith("VmHWM:")][0].split()[1])


def test_verify_balance_and_pages_of_a_long_stream(query):
    a = ACCOUNT
    request("GET", f"/v1/accounts/{a}/audit?from_version=1&limit=1", port=QRY)  # warm up the worker
    before = peak_kib(query.proc.pid)
    t = time.time()
    s, _, v = request("GET", f"/v1/accounts/{a}/audit/verify", port=QRY, timeout=120)
    verify_s = time.time() - t
    eq((s, v.get("ok"), v.get("events_checked")), (200, True, EVENTS), v)
    s, _, b = request("GET", f"/v1/accounts/{a}/balance?as_of=9999-01-01T00:00:00Z", port=QRY, timeout=120)
    eq((s, b.get("version")), (200, EVENTS), b)
    s, _, page = request("GET", f"/v1/accounts/{a}/audit?from_version={EVENTS - 9}", port=QRY, timeout=120)
    eq(s, 200, page)
    eq([i["state_after"]["version"] for i in page["items"]], list(range(EVENTS - 9, EVENTS + 1)))
    eq(page["items"][-1]["state_after"]["balance_minor"], b["balance_minor"], "the page's last state is the balance")
    eq(page["next_cursor"], None)
    s, _, page = request("GET", f"/v1/accounts/{a}/audit?from_version=50000&limit=3", port=QRY, timeout=120)
    eq(([i["state_after"]["version"] for i in page["items"]], page["next_cursor"]), ([50000, 50001, 50002], "50003"))
    grown = peak_kib(query.proc.pid) - before
    print(f"  verify {verify_s:.1f} s; peak memory grew {grown} KiB over {EVENTS} events", flush=True)
    check(grown < 32 * 1024, f"the query API's peak memory grew {grown} KiB: it must not hold the stream")


def events_read():
    s, _, text = request("GET", "/metrics", port=QRY, auth=None)
    eq(s, 200, "metrics")
    text = text if isinstance(text, str) else text.decode()
    return int(float([line.split()[-1] for line in text.splitlines()
                      if line.startswith("ledgerline_query_store_events_read_total")][0]))


def test_a_late_audit_page_reads_only_what_it_returns(query):
    # #18 item 6: a page costs what it returns. The state before the page comes from the opening
    # and the event right before it, which the page's first event must link to.
    a, limit = ACCOUNT, 50
    for start in (EVENTS - 1000, EVENTS - 1000 + 7):
        before = events_read()
        s, _, page = request("GET", f"/v1/accounts/{a}/audit?from_version={start}&limit={limit}", port=QRY)
        read = events_read() - before
        eq(s, 200, page)
        eq([i["state_after"]["version"] for i in page["items"]], list(range(start, start + limit)))
        eq(page["integrity_error"], None, "the page links to the event before it")
        check(read <= limit + 3, f"a page of {limit} at version {start} read {read} events of the store")
        for item in page["items"]:
            data = item["event"]["data"]
            if "balance_after_minor" in data:
                eq(item["state_after"]["balance_minor"], data["balance_after_minor"], "state after each event")
        if start == EVENTS - 1000:
            first = page
    eq(page["items"][: limit - 7], first["items"][7:], "two pages agree on the versions both show")
    s, _, b = request("GET", f"/v1/accounts/{a}/balance?as_of=9999-01-01T00:00:00Z", port=QRY, timeout=120)
    s, _, last = request("GET", f"/v1/accounts/{a}/audit?from_version={EVENTS}", port=QRY)
    eq(last["items"][0]["state_after"]["balance_minor"], b["balance_minor"], "the last page ends at the balance")


if __name__ == "__main__":
    ACCOUNT = load()
    # ASan keeps freed memory in quarantine (256 MB by default): peak memory would measure that.
    env = dict(ENV, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:quarantine_size_mb=1")
    with Service("query", ["--listen", f"127.0.0.1:{QRY}", "--workers", "1"], port=QRY, env=env) as q:
        code = run({n: (lambda f=f: f(q)) for n, f in dict(globals()).items() if n.startswith("test_")}, "long_streams")
    sql_superuser(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", db="postgres")
    sys.exit(code)
