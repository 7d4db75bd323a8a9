#!/usr/bin/env python3
"""Commands with a synchronous standby: what acknowledging only replicated commits costs.

Two event stores side by side, in the same run: the stack's single PostgreSQL, and the
replicated one (LL_PG_NODES=2: pg_auto_failover, a primary and a synchronous standby on the same
machine; deploy/local/postgres-ha.sh). On each, a fresh database, a command service and the
same funded accounts; then deposits at --clients connections, four sides measured --reps
times in rotating order: pgbench (the same SQL a command runs, one transaction per command) and
ledgerline, on the single node and on the replicated pair.

Rows: ledgerline replicated / single (the price of the standby), and ledgerline / pgbench on the
replicated pair (group commit pays the standby's round trip once per batch, pgbench once per
transaction).

Usage: bench/bench_replicated.py [--clients 16] [--seconds 5] [--reps 3] [--accounts 1000] [--smoke]
Needs the local stack's PostgreSQL (make up) and the release build; starts the replicated pair
and stops it at the end. Writes bench/results/replicated.json and replicated.md.
"""
import argparse
import os
import subprocess
import sys
import time

import ll_bench
from ll_bench import (ROOT, bench_accounts_table, finish, fmt_spread as fmt, fresh_database, open_accounts, owner_sql,
                      row, run_pgbench, run_wrk, spread, write_lines)
from ll_e2e import Service

DB = "ledgerline_bench_replicated"
PORTS = {"single": 18094, "replicated": 18095}
FUNDS = 10_000_000
STACK = os.path.join(ROOT, "deploy", "local", "stack.sh")
HA_ENV = dict(os.environ, LL_PG_NODES="2", LL_READY_TIMEOUT_S="180")


def primary_port():
    """The port of the replicated pair's primary."""
    for port in ("55433", "55434"):
        out = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-h",
                              os.path.join(ROOT, "var", "pgha", "socket"), "-p", port, "-d", "postgres", "-c",
                              "SELECT pg_is_in_recovery()"], capture_output=True, text=True)
        if out.stdout.strip() == "f":
            return port
    raise RuntimeError("the replicated pair has no primary")


def on(setup):
    """Points ll_bench's helpers at the single node or at the replicated pair's primary."""
    if setup == "single":
        ll_bench.PG_PORT, ll_bench.PG_SOCKET = "55432", os.path.join(ROOT, "var", "pg", "socket")
    else:
        ll_bench.PG_PORT, ll_bench.PG_SOCKET = primary_port(), os.path.join(ROOT, "var", "pgha", "socket")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--accounts", type=int, default=1000)
    ap.add_argument("--smoke", action="store_true", help="tiny run that only checks the bench works")
    args = ap.parse_args()
    if args.smoke:
        args.seconds, args.reps, args.accounts, args.clients = 1, 1, 20, 4
    print("[bench] the replicated pair (LL_PG_NODES=2)", flush=True)
    subprocess.run([STACK, "up", "postgres"], env=HA_ENV, check=True, capture_output=True)
    services, paths, sync = {}, {}, ""
    try:
        for setup in ("single", "replicated"):
            on(setup)
            print(f"[bench] {setup}: fresh database {DB} on port {ll_bench.PG_PORT}", flush=True)
            fresh_database(DB)
            if setup == "replicated":
                sync = ll_bench.superuser_sql("SHOW synchronous_standby_names").split("\n")[2].strip()
            services[setup] = Service(
                "command", ["--listen", f"127.0.0.1:{PORTS[setup]}"], port=PORTS[setup],
                env={"LEDGERLINE_PG_CONNINFO": ll_bench.app_conninfo(DB), "LEDGERLINE_LOG_LEVEL": "warn"}).start()
            ids = open_accounts(PORTS[setup], args.accounts, f"bench-{setup}", deposits=(FUNDS,))
            bench_accounts_table(DB, ids)
            paths[setup] = write_lines(f"accounts-{setup}.txt", ids)
        sides = [("pgbench", "single"), ("ledgerline", "single"), ("pgbench", "replicated"),
                 ("ledgerline", "replicated")]
        runs = {s: [] for s in sides}
        for rep in range(args.reps):
            for k in range(len(sides)):
                tool, setup = sides[(k + rep) % len(sides)]
                on(setup)
                print(f"[bench] rep {rep + 1}/{args.reps}: {tool} on {setup}", flush=True)
                if tool == "pgbench":
                    r = run_pgbench(DB, args.clients, args.seconds, "pgbench_deposit.sql", args.accounts)
                else:
                    r = run_wrk(PORTS[setup], args.clients, args.seconds, "deposit.lua", paths[setup])
                runs[(tool, setup)].append(r)
        counts = {}
        for setup in ("single", "replicated"):
            on(setup)
            counts[setup] = int(owner_sql(DB, "SELECT count(*) FROM events WHERE type = 'MoneyDeposited'"))
    finally:
        for svc in services.values():
            svc.stop()
        for setup in ("single", "replicated"):
            try:
                on(setup)
                ll_bench.drop_database(DB)
            except Exception as e:  # the pair may be the thing that failed
                print(f"[bench] could not drop {DB} on {setup}: {e}", flush=True)
        subprocess.run([STACK, "down", "postgres"], env=HA_ENV, capture_output=True)
        on("single")

    def side(tool, setup, key="rate"):
        return spread([r[key] for r in runs[(tool, setup)]])

    def ratio(a, b):
        return spread([x["rate"] / y["rate"] for x, y in zip(runs[a], runs[b])])

    errors = sum(r["errors"] for rs in runs.values() for r in rs)
    price = ratio(("ledgerline", "replicated"), ("ledgerline", "single"))
    vs_pgbench = ratio(("ledgerline", "replicated"), ("pgbench", "replicated"))
    rows = [
        row(f"Deposits/s with a synchronous standby, {args.clients} connections", "ledgerline, single node",
            side("ledgerline", "single"), side("ledgerline", "replicated"), "req/s", ratio=price,
            note="the price of acknowledging only replicated commits"),
        row(f"Deposits/s on the replicated pair, {args.clients} connections", "pgbench on the same pair, same SQL",
            side("pgbench", "replicated"), side("ledgerline", "replicated"), "req/s", ratio=vs_pgbench,
            goal=">= 1.5x", met=vs_pgbench["median"] >= 1.5),
    ]
    data = {"rows": rows, "errors": errors, "events": counts, "synchronous_standby_names": sync, "args": vars(args),
            "sides": {f"{t} {s}": {k: spread([r[k] for r in runs[(t, s)]]) for k in ("rate", "p50_ms", "p99_ms")}
                      for t, s in runs}}
    return finish("replicated", data, report(args, data), errors, args.smoke)


def report(args, data):
    lines = [
        "# Commands with a synchronous standby",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `bench/bench_replicated.py --clients "
        f"{args.clients} --seconds {args.seconds} --reps {args.reps} --accounts {args.accounts}` on a shared 2-core "
        "machine: the single PostgreSQL, the replicated pair (pg_auto_failover, primary and synchronous standby, "
        f"`synchronous_standby_names = {data['synchronous_standby_names']}`), the services and the load "
        f"generators all share it. Deposits on random accounts of {args.accounts}; each cell the median "
        f"(min-max) of {args.reps} runs, the four sides rotating which goes first.",
        "",
        "| setup | pgbench tx/s | pgbench p50 / p99 ms | ledgerline req/s | ledgerline p50 / p99 ms |",
        "|---|---|---|---|---|",
    ]
    for setup in ("single", "replicated"):
        p, ll = data["sides"][f"pgbench {setup}"], data["sides"][f"ledgerline {setup}"]
        lines.append(f"| {setup} | {fmt(p['rate'])} | {p['p50_ms']['median']:.2f} / {p['p99_ms']['median']:.2f} | "
                     f"{fmt(ll['rate'])} | {ll['p50_ms']['median']:.2f} / {ll['p99_ms']['median']:.2f} |")
    price, vs = data["rows"][0]["ratio"], data["rows"][1]["ratio"]
    lines += [
        "",
        f"ledgerline replicated / single: **{fmt(price, 2)}**; ledgerline / pgbench on the replicated pair: "
        f"**{fmt(vs, 2)}**. Errors, all runs: {data['errors']}.",
        "",
        "Why: a commit on the pair returns once the standby has flushed it, one more round trip and fsync per "
        "commit. pgbench pays it per transaction; the command service's group commit pays it once per batch "
        "of many connections' commands (docs/write-side.md), so its lead over pgbench grows with the standby. "
        "On one machine the standby's fsync shares the disk with the primary's: on two machines with their "
        "own disks the price is the network round trip instead.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
