#!/usr/bin/env python3
"""Query API throughput and latency, and end-to-end freshness, each next to a same-run baseline.

1. GET /v1/accounts/{id} on random accounts (wrk) against an h2o hello-world built on the same
   server scaffolding (bench/hello_h2o.c), alternating, repeated: ratio of requests per second
   at --clients connections, and latency percentiles at --latency-clients connections (where the
   2-core machine is not saturated, so p99 measures the server rather than the queueing).
2. Freshness: a deposit, then GET ?min_version= until it is visible, one after the other:
   from the deposit's 201 to visible (the goal), and from sending the deposit to visible,
   next to the deposit alone (the write's own latency).

Usage: bench/bench_queries.py [--clients 16] [--latency-clients 2] [--seconds 10] [--reps 3]
                              [--accounts 200] [--samples 300] [--smoke]
Needs the local stack (make up) and the release build. Starts its own command service, relay,
projector and query API (the stack's relay, projector and query API are paused meanwhile).
Writes bench/results/queries.md.
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
os.environ.setdefault("LL_TEST_BIN", os.path.join(ROOT, "build", "release", "bin"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from ll_bench import percentile, run_wrk  # noqa: E402
from ll_e2e import Service, paused_stack_services, post, request, wait_until  # noqa: E402

CMD, QRY, HELLO = 18090, 18091, 18095
VAR = os.path.join(ROOT, "var", "bench")


def freshness(accounts, samples):
    write_ms, after_ack_ms, visible_ms = [], [], []
    for i in range(samples):
        a = accounts[i % len(accounts)]
        t0 = time.perf_counter()
        s, _, b = post(f"/v1/accounts/{a}/deposits", {"amount_minor": 1, "currency": "EUR"}, port=CMD)
        t1 = time.perf_counter()
        s2, _, _ = request("GET", f"/v1/accounts/{a}?min_version={b['version']}", port=QRY)
        t2 = time.perf_counter()
        if s != 201 or s2 != 200:
            raise RuntimeError(f"freshness sample failed: {s} {s2}")
        write_ms.append((t1 - t0) * 1000)
        after_ack_ms.append((t2 - t1) * 1000)
        visible_ms.append((t2 - t0) * 1000)
    return write_ms, after_ack_ms, visible_ms


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--latency-clients", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--accounts", type=int, default=200)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    if args.smoke:
        args.clients, args.seconds, args.reps, args.accounts, args.samples = 4, 1, 1, 10, 20
    os.makedirs(VAR, exist_ok=True)
    rows = []
    quiet = {"LEDGERLINE_LOG_LEVEL": "warn"}
    with paused_stack_services("relay", "projector", "query"), \
            Service("command", ["--listen", f"127.0.0.1:{CMD}"], port=CMD, env=quiet), \
            Service("relay", ["--poll-ms", "200"]), Service("projector", []), \
            Service("query", ["--listen", f"127.0.0.1:{QRY}"], port=QRY), \
            Service("hello", ["--listen", f"127.0.0.1:{HELLO}"],
                    binary=os.path.join(ROOT, "build", "release", "bench", "hello_h2o")):
        print(f"[bench] creating {args.accounts} accounts", flush=True)
        accounts = []
        for i in range(args.accounts):
            s, _, b = post("/v1/accounts", {"owner": f"bench-query-{i}", "currency": "EUR"}, port=CMD)
            accounts.append(b["account_id"])
            post(f"/v1/accounts/{b['account_id']}/deposits", {"amount_minor": 100, "currency": "EUR"}, port=CMD)
        for a in accounts:
            wait_until(lambda a=a: request("GET", f"/v1/accounts/{a}?min_version=2", port=QRY)[0] == 200, 120,
                       "the read model", interval_s=0.2)
        paths = os.path.join(VAR, "query_paths.txt")
        with open(paths, "w") as f:
            f.write("\n".join(f"/v1/accounts/{a}" for a in accounts) + "\n")
        for rep in range(args.reps):
            order = ["hello", "query"] if rep % 2 == 0 else ["query", "hello"]
            r = {}
            for side in order:
                print(f"[bench] rep {rep + 1}/{args.reps}: {side}", flush=True)
                port = HELLO if side == "hello" else QRY
                r[side] = run_wrk(port, args.clients, args.seconds, "get_random.lua", paths)
                r[side + "_lat"] = run_wrk(port, args.latency_clients, args.seconds, "get_random.lua", paths)
            r["ratio"] = r["query"]["rate"] / r["hello"]["rate"]
            rows.append(r)
            print(f"[bench]   hello {r['hello']['rate']:.0f}/s  query {r['query']['rate']:.0f}/s  "
                  f"ratio {r['ratio']:.2f}", flush=True)
        print(f"[bench] freshness: {args.samples} sequential deposit -> visible samples", flush=True)
        fresh = freshness(accounts, args.samples)
    report(args, rows, *fresh)
    bad = sum(r[s]["errors"] for r in rows for s in ("hello", "query", "hello_lat", "query_lat"))
    if args.smoke:
        print(f"bench_queries_smoke: {int(bad == 0)} passed, {int(bad != 0)} failed")
    return 1 if bad else 0


def report(args, rows, write_ms, after_ack_ms, visible_ms):
    med = lambda side, key: statistics.median(r[side][key] for r in rows)  # noqa: E731
    ratios = sorted(r["ratio"] for r in rows)
    lines = [
        "# Query API vs an h2o hello-world, and end-to-end freshness",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `bench/bench_queries.py "
        f"--clients {args.clients} --latency-clients {args.latency_clients} --seconds {args.seconds} "
        f"--reps {args.reps} --accounts {args.accounts} --samples {args.samples}` (release builds) on a shared "
        "2-core machine that also runs PostgreSQL, Kafka, FerretDB (PostgreSQL backend), wrk and every ledgerline "
        "process. Account reads come from the query API's live view (docs/read-side.md).",
        "",
        "## GET /v1/accounts/{id} (random accounts) vs hello-world (same h2o scaffolding, fixed body)",
        "",
        "| run | hello req/s | hello p50 / p99 ms | query req/s | query p50 / p99 ms | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows, 1):
        h, q = r["hello"], r["query"]
        lines.append(f"| {i} | {h['rate']:.0f} | {h['p50_ms']:.2f} / {h['p99_ms']:.2f} | {q['rate']:.0f} | "
                     f"{q['p50_ms']:.2f} / {q['p99_ms']:.2f} | {r['ratio']:.2f} |")
    lines.append(f"| median | {med('hello', 'rate'):.0f} | {med('hello', 'p50_ms'):.2f} / {med('hello', 'p99_ms'):.2f} "
                 f"| {med('query', 'rate'):.0f} | {med('query', 'p50_ms'):.2f} / {med('query', 'p99_ms'):.2f} | "
                 f"**{statistics.median(ratios):.2f}** (min {ratios[0]:.2f}, max {ratios[-1]:.2f}) |")
    lines += [
        "",
        f"Latency at {args.latency_clients} connections (the machine not saturated):",
        "",
        "| run | hello p50 / p99 ms | query p50 / p99 ms |",
        "|---|---|---|",
    ]
    for i, r in enumerate(rows, 1):
        h, q = r["hello_lat"], r["query_lat"]
        lines.append(f"| {i} | {h['p50_ms']:.2f} / {h['p99_ms']:.2f} | {q['p50_ms']:.2f} / {q['p99_ms']:.2f} |")
    lines += [
        f"| median | {med('hello_lat', 'p50_ms'):.2f} / {med('hello_lat', 'p99_ms'):.2f} | "
        f"{med('query_lat', 'p50_ms'):.2f} / {med('query_lat', 'p99_ms'):.2f} |",
        "",
        "Goal: ratio >= 0.60 with p99 <= 2 ms.",
        "",
        "## Freshness: deposit accepted -> visible through GET ?min_version (sequential)",
        "",
        "| | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|",
        f"| deposit alone (the floor) | {percentile(write_ms, 50):.1f} | {percentile(write_ms, 99):.1f} | {max(write_ms):.1f} |",
        f"| **deposit 201 -> readable** | {percentile(after_ack_ms, 50):.1f} | {percentile(after_ack_ms, 99):.1f} | {max(after_ack_ms):.1f} |",
        f"| deposit sent -> readable | {percentile(visible_ms, 50):.1f} | {percentile(visible_ms, 99):.1f} | {max(visible_ms):.1f} |",
        "",
        "Goal: p50 <= 5 ms, p99 <= 25 ms from the command's 2xx to visible.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.smoke:
        with open(os.path.join(HERE, "results", "queries.md"), "w") as f:
            f.write(text)


if __name__ == "__main__":
    sys.exit(main())
