#!/usr/bin/env python3
"""Scale curve: how the headline figures move as the store and the accounts grow.

For each point ACCOUNTS:EVENTS of --points (default 10k:1M and 1M:10M):
1. A fresh event store of the bench's own filled with EVENTS valid events over ACCOUNTS accounts
   (bench/gen_events.c --copy, streamed through a FIFO into psql's \\copy while it generates).
2. Deposits at --clients connections to random accounts of all ACCOUNTS: ledgerline-command
   (wrk) vs pgbench running the same SQL (bench/pgbench_deposit.sql) on the same store, --reps
   runs alternating; the command service's resident memory.
3. Account reads at --clients connections: a query API whose live view follows a topic holding
   every one of the ACCOUNTS accounts (opened and one deposit each), vs the h2o hello-world;
   the query API's resident memory with all of them held.

Usage: bench/bench_scale.py [--points 10000:1000000,1000000:10000000] [--clients 16]
                            [--seconds 5] [--reps 3] [--smoke]
Needs the local stack (make up) and the release build; about 15 minutes with the defaults, and
about 12 GB of disk for the largest store (dropped at the end). Writes bench/results/scale.json
and scale.md.
"""
import argparse
import os
import subprocess
import sys
import time

from ll_bench import (BENCH_BIN, VAR, app_conninfo, bench_accounts_table, compare, drop_database, finish,
                      fmt_spread as fmt, fresh_database, load_event_store, owner_conninfo, owner_sql, row, rss_mib,
                      run_pgbench, run_wrk, write_lines)
from ll_e2e import Service, prometheus

DB = "ledgerline_bench_scale"
CMD, QRY, HELLO = 18090, 18091, 18095


def load_store(accounts, events):
    """Fills a fresh DB with events over accounts; returns (seconds, size in bytes)."""
    fresh_database(DB)
    seconds = load_event_store(DB, accounts, events, "scale")
    size = int(owner_sql(DB, f"SELECT pg_database_size('{DB}')"))
    return seconds, size


def account_ids_file():
    path = os.path.join(VAR, "scale", "accounts.txt")
    with open(path, "w") as f:
        subprocess.run(["psql", "-X", "-q", "-At", owner_conninfo(DB), "-c", "SELECT id FROM bench_accounts ORDER BY n"],
                       stdout=f, check=True)
    return path


def commands(accounts, args):
    env = {"LEDGERLINE_PG_CONNINFO": app_conninfo(DB), "LEDGERLINE_LOG_LEVEL": "warn"}
    n = bench_accounts_table(DB)
    if n != accounts:
        raise RuntimeError(f"{n} accounts in the store, {accounts} expected")
    ids = account_ids_file()
    with Service("command", ["--listen", f"127.0.0.1:{CMD}"], port=CMD, env=env) as svc:
        def measure(side):
            if side == "pgbench":
                return run_pgbench(DB, args.clients, args.seconds, "pgbench_deposit.sql", accounts)
            return run_wrk(CMD, args.clients, args.seconds, "deposit.lua", ids)
        out = compare(args.reps, "pgbench", "ledgerline", measure, f"deposits, {accounts} accounts: ")
        return dict(out, rss=rss_mib(svc.proc))


def reads(accounts, args, stamp):
    """The query API's live view over a topic of accounts accounts, against hello-world."""
    topic = f"bench.scale-{stamp}-{accounts}"
    ids = os.path.join(VAR, "scale", "view_accounts.txt")
    t0 = time.time()
    subprocess.run([os.path.join(BENCH_BIN, "gen_events"), "--topic", topic, "--events", str(2 * accounts),
                    "--accounts", str(accounts), "--ids", ids], check=True, capture_output=True)
    print(f"[bench]   {2 * accounts} events into {topic} in {time.time() - t0:.0f} s", flush=True)
    with open(ids) as f:
        paths = write_lines("scale/view_paths.txt", [f"/v1/accounts/{line.strip()}" for line in f])
    env = {"LEDGERLINE_KAFKA_TOPIC_EVENTS": topic, "LEDGERLINE_KAFKA_PROJECTOR_GROUP": f"bench-scale-{stamp}",
           "LEDGERLINE_MONGO_DATABASE": f"ledgerline_bench_scale_{stamp}", "LEDGERLINE_PG_CONNINFO": app_conninfo(DB),
           "LEDGERLINE_QUERY_VIEW_ACCOUNTS_MAX": str(max(accounts, 1000000)), "LEDGERLINE_LOG_LEVEL": "warn"}
    held_key = 'ledgerline_query_view_accounts{service="query",kind="held"}'
    with Service("query", ["--listen", f"127.0.0.1:{QRY}"], port=QRY, env=env) as qry, \
            Service("hello", ["--listen", f"127.0.0.1:{HELLO}"], port=HELLO, binary=os.path.join(BENCH_BIN, "hello_h2o")):
        t0 = time.time()
        while prometheus(QRY).get(held_key, 0) < accounts:
            if time.time() - t0 > 900:
                raise RuntimeError(f"the live view holds {prometheus(QRY).get(held_key)} of {accounts} after 900 s")
            time.sleep(0.5)
        fill_s = time.time() - t0
        print(f"[bench]   the view holds {accounts} accounts after {fill_s:.0f} s", flush=True)

        def measure(side):
            return run_wrk(HELLO if side == "hello" else QRY, args.clients, args.seconds, "get_random.lua", paths)
        out = compare(args.reps, "hello", "query", measure, f"reads, {accounts} accounts: ")
        m = prometheus(QRY)
        rss = rss_mib(qry.proc)
    hits = m.get('ledgerline_query_view_lookups_total{service="query",result="hit"}', 0)
    misses = m.get('ledgerline_query_view_lookups_total{service="query",result="miss"}', 0)
    print(f"[bench]   view hits {hits / max(1, hits + misses):.3f}", flush=True)
    return dict(out, rss=rss, fill_seconds=fill_s, hit_ratio=hits / max(1, hits + misses))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", default="10000:1000000,1000000:10000000", help="ACCOUNTS:EVENTS,...")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    if args.smoke:
        args.points, args.seconds, args.reps, args.clients = "100:1000,1000:5000", 1, 1, 4
    points = [tuple(int(x) for x in p.split(":")) for p in args.points.split(",")]
    stamp = time.strftime("%Y%m%d%H%M%S")
    results = []
    try:
        for accounts, events in points:
            print(f"[bench] point: {accounts} accounts, {events} events: loading the store", flush=True)
            load_s, size = load_store(accounts, events)
            print(f"[bench]   loaded in {load_s:.0f} s, {size / 2**30:.2f} GiB", flush=True)
            cmd = commands(accounts, args)
            rd = reads(accounts, args, stamp)
            results.append({"accounts": accounts, "events": events, "load_seconds": load_s, "store_bytes": size,
                            "commands": cmd, "reads": rd})
    finally:
        drop_database(DB)
    errors = sum(r[part][f"{s}_errors"]["max"] for r in results for part, sides in
                 (("commands", ("pgbench", "ledgerline")), ("reads", ("hello", "query"))) for s in sides)
    data = {"points": results, "errors": errors, "args": vars(args), "rows": []}
    for r in results:
        c, q = r["commands"], r["reads"]
        data["rows"] += [
            row(f"Deposits/s at {args.clients} connections, {r['accounts']} accounts, {r['events']} events in the "
                "store", "pgbench, same SQL, same store", c["pgbench_rate"], c["ledgerline_rate"], "req/s",
                ratio=c["ratio"]),
            row(f"GET account req/s at {args.clients} connections, {r['accounts']} accounts in the live view",
                "h2o hello-world", q["hello_rate"], q["query_rate"], "req/s", ratio=q["ratio"]),
        ]
    data["rss_mib"] = {}
    for r in results:
        data["rss_mib"][f"ledgerline-command ({r['accounts']} accounts, {r['events']} events)"] = \
            {"rss": r["commands"]["rss"][0], "peak": r["commands"]["rss"][1]}
        data["rss_mib"][f"ledgerline-query ({r['accounts']} accounts in the view)"] = \
            {"rss": r["reads"]["rss"][0], "peak": r["reads"]["rss"][1]}
    return finish("scale", data, report(args, data), errors, args.smoke)


def report(args, data):
    lines = [
        "# Scale curve: the figures as accounts and events grow",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `bench/bench_scale.py --points "
        f"{args.points} --clients {args.clients} --seconds {args.seconds} --reps {args.reps}` on a shared 2-core "
        f"machine. Each cell: median (min-max) of {args.reps} runs, alternating with the baseline.",
        "",
        "| accounts | events in the store | store size GiB | load s | pgbench deposits/s | ledgerline deposits/s | "
        "ledgerline p50 / p99 ms | ratio | hello req/s | hello p50 / p99 ms | GET account req/s | p50 / p99 ms | ratio "
        "| view filled in s | view hit ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["points"]:
        c, q = r["commands"], r["reads"]
        lines.append(
            f"| {r['accounts']} | {r['events']} | {r['store_bytes'] / 2**30:.2f} | {r['load_seconds']:.0f} | "
            f"{fmt(c['pgbench_rate'])} | {fmt(c['ledgerline_rate'])} | {c['ledgerline_p50_ms']['median']:.2f} / "
            f"{c['ledgerline_p99_ms']['median']:.2f} | **{fmt(c['ratio'], 2)}** | {fmt(q['hello_rate'])} | "
            f"{q['hello_p50_ms']['median']:.2f} / {q['hello_p99_ms']['median']:.2f} | "
            f"{fmt(q['query_rate'])} | {q['query_p50_ms']['median']:.2f} / {q['query_p99_ms']['median']:.2f} | "
            f"**{fmt(q['ratio'], 2)}** | {q['fill_seconds']:.0f} | {q['hit_ratio']:.3f} |")
    lines += ["", "| process | RSS MiB | peak MiB |", "|---|---|---|"]
    for name, m in data["rss_mib"].items():
        lines.append(f"| {name} | {m['rss']:.0f} | {m['peak']:.0f} |")
    lines += [
        "",
        "The store is filled by COPY with valid events (domain/ decided, sealed, hash-chained), as many "
        "deposits per account as the point has events; deposits then go to random accounts of all of them, "
        "so the working set is the whole store. The read point's topic holds each account opened with one "
        "deposit; the query API folds it into its live view before the reads start. Tail latency is the "
        "machine's: where the query API's p99 jumps, the hello-world's beside it jumps alike (after a "
        "10M-event load PostgreSQL is still writing it out). The projector and the "
        "rebuild are not on this curve: at their measured rates (bench/results/projector.md) 10M events "
        "take hours through this machine's MongoDB-protocol server.",
        f"Errors (non-2xx, socket, failed transactions), all runs: {data['errors']}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
