#!/usr/bin/env python3
"""Command throughput and latency: ledgerline-command (deposits over HTTP, wrk) against the
baseline of pgbench running the same SQL a deposit needs, one transaction per command, on the
same PostgreSQL in the same run. Repeated, alternating which side goes first; reports each run,
the median, and the ratio ledgerline / pgbench. Writes bench/results/commands.md.

Usage: bench/bench_commands.py [--clients 16] [--seconds 10] [--reps 3] [--accounts 1000]
                               [--writers 2] [--smoke]
Needs the local stack (make up) and the release build (make build). Uses its own database,
ledgerline_bench, dropped and recreated at the start, so the real one is never touched.
"""
import argparse
import glob
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
os.environ.setdefault("LL_TEST_BIN", os.path.join(ROOT, "build", "release", "bin"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from ll_bench import percentile, run_wrk  # noqa: E402
from ll_e2e import Service, post  # noqa: E402

DB = "ledgerline_bench"
PORT = 18090
VAR = os.path.join(ROOT, "var", "bench")
APP = "host=127.0.0.1 port=55432 dbname=%s user=ledgerline password=ledgerline" % DB
OWNER = "host=127.0.0.1 port=55432 dbname=%s user=ledgerline_owner password=ledgerline_owner" % DB


def sh(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {out.stdout}{out.stderr}")
    return out.stdout


def fresh_database():
    socket_dir = os.path.join(ROOT, "var", "pg", "socket")
    psql = ["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-h", socket_dir, "-p", "55432",
            "-v", "ON_ERROR_STOP=1"]
    sh(psql + ["-d", "postgres", "-c", f"DROP DATABASE IF EXISTS {DB}", "-c",
               f"CREATE DATABASE {DB} OWNER ledgerline_owner"])
    sh(psql + ["-d", DB, "-c", "REVOKE ALL ON SCHEMA public FROM PUBLIC", "-c",
               "GRANT USAGE, CREATE ON SCHEMA public TO ledgerline_owner", "-c",
               "GRANT USAGE ON SCHEMA public TO ledgerline"])
    env = dict(os.environ, LEDGERLINE_PG_MIGRATE_CONNINFO=OWNER)
    sh([os.path.join(os.environ["LL_TEST_BIN"], "ledgerline-migrate")], env=env)


def owner_sql(query):
    return sh(["psql", "-X", "-q", "-At", OWNER, "-v", "ON_ERROR_STOP=1", "-c", query])


def create_accounts(n):
    ids = []
    for i in range(n):
        status, _, body = post("/v1/accounts", {"owner": f"bench{i}", "currency": "EUR"}, port=PORT)
        if status != 201:
            raise RuntimeError(f"open account: {status} {body}")
        ids.append(body["account_id"])
    os.makedirs(VAR, exist_ok=True)
    path = os.path.join(VAR, "accounts.txt")
    with open(path, "w") as f:
        f.write("\n".join(ids) + "\n")
    owner_sql("CREATE TABLE bench_accounts (n int PRIMARY KEY, id uuid NOT NULL)")
    values = ",".join(f"({i + 1},'{a}')" for i, a in enumerate(ids))
    owner_sql(f"INSERT INTO bench_accounts VALUES {values}; GRANT SELECT ON bench_accounts TO ledgerline")
    return path


def run_pgbench(clients, seconds, accounts):
    for f in glob.glob(os.path.join(VAR, "pgbench_log*")):
        os.remove(f)
    out = sh(["pgbench", "-n", "-h", "127.0.0.1", "-p", "55432", "-U", "ledgerline", "-c", str(clients), "-j", "2",
              "-T", str(seconds), "-D", f"naccounts={accounts}", "-f", os.path.join(HERE, "pgbench_deposit.sql"),
              "--log", "--log-prefix", os.path.join(VAR, "pgbench_log"), DB],
             env=dict(os.environ, PGPASSWORD="ledgerline"))
    tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out)
    lat = []
    for f in glob.glob(os.path.join(VAR, "pgbench_log*")):
        with open(f) as fh:
            lat.extend(int(line.split()[2]) for line in fh if line.strip())
    return {"rate": tps, "p50_ms": percentile(lat, 50) / 1000, "p99_ms": percentile(lat, 99) / 1000,
            "errors": int(failed.group(1)) if failed else 0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--accounts", type=int, default=1000)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--smoke", action="store_true", help="tiny run that only checks the bench works")
    args = ap.parse_args()
    if args.smoke:
        args.seconds, args.reps, args.accounts, args.clients = 2, 1, 20, 4
    print(f"[bench] fresh database {DB}", flush=True)
    fresh_database()
    env = {"LEDGERLINE_PG_CONNINFO": APP, "LEDGERLINE_LOG_LEVEL": "warn"}
    rows = []
    with Service("command", ["--listen", f"127.0.0.1:{PORT}", "--writers", str(args.writers)], port=PORT, env=env):
        print(f"[bench] creating {args.accounts} accounts", flush=True)
        path = create_accounts(args.accounts)
        for rep in range(args.reps):
            order = ["pgbench", "ledgerline"] if rep % 2 == 0 else ["ledgerline", "pgbench"]
            result = {}
            for side in order:
                print(f"[bench] rep {rep + 1}/{args.reps}: {side}, {args.clients} clients, {args.seconds}s", flush=True)
                result[side] = (run_pgbench(args.clients, args.seconds, args.accounts) if side == "pgbench"
                                else run_wrk(PORT, args.clients, args.seconds, "deposit.lua", path))
            result["ratio"] = result["ledgerline"]["rate"] / result["pgbench"]["rate"]
            rows.append(result)
            print(f"[bench]   pgbench {result['pgbench']['rate']:.0f}/s  ledgerline "
                  f"{result['ledgerline']['rate']:.0f}/s  ratio {result['ratio']:.2f}", flush=True)
    # Correctness of what was measured: every acknowledged deposit is one event.
    events = int(owner_sql("SELECT count(*) FROM events WHERE type = 'MoneyDeposited'"))
    report(args, rows, events)
    bad = sum(r[s]["errors"] for r in rows for s in ("pgbench", "ledgerline"))
    if args.smoke:  # a test in make test: the bench still runs and nothing failed
        print(f"bench_smoke: {int(bad == 0)} passed, {int(bad != 0)} failed")
    return 1 if bad else 0


def report(args, rows, events):
    med = lambda side, key: statistics.median(r[side][key] for r in rows)  # noqa: E731
    ratios = sorted(r["ratio"] for r in rows)
    lines = [
        "# Command throughput: ledgerline vs pgbench (same SQL, one transaction per command)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `bench/bench_commands.py "
        f"--clients {args.clients} --seconds {args.seconds} --reps {args.reps} --accounts {args.accounts} "
        f"--writers {args.writers}` on a shared 2-core machine (PostgreSQL, the service and the load generator "
        "share it). Deposits to random accounts; every request has a fresh Idempotency-Key.",
        "",
        "| run | pgbench tx/s | pgbench p50 / p99 ms | ledgerline req/s | ledgerline p50 / p99 ms | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows, 1):
        p, l = r["pgbench"], r["ledgerline"]
        lines.append(f"| {i} | {p['rate']:.0f} | {p['p50_ms']:.2f} / {p['p99_ms']:.2f} | {l['rate']:.0f} | "
                     f"{l['p50_ms']:.2f} / {l['p99_ms']:.2f} | {r['ratio']:.2f} |")
    lines.append(f"| median | {med('pgbench', 'rate'):.0f} | {med('pgbench', 'p50_ms'):.2f} / "
                 f"{med('pgbench', 'p99_ms'):.2f} | {med('ledgerline', 'rate'):.0f} | "
                 f"{med('ledgerline', 'p50_ms'):.2f} / {med('ledgerline', 'p99_ms'):.2f} | "
                 f"**{statistics.median(ratios):.2f}** (min {ratios[0]:.2f}, max {ratios[-1]:.2f}) |")
    errors = {s: sum(r[s]["errors"] for r in rows) for s in ("pgbench", "ledgerline")}
    lines += ["", f"Errors: pgbench {errors['pgbench']}, ledgerline {errors['ledgerline']} (non-2xx or socket). "
              f"Deposit events stored: {events}. Goal: ratio >= 1.5.", ""]
    text = "\n".join(lines)
    print(text)
    if not args.smoke:
        with open(os.path.join(HERE, "results", "commands.md"), "w") as f:
            f.write(text)


if __name__ == "__main__":
    sys.exit(main())
