#!/usr/bin/env python3
"""Query API throughput and latency, and end-to-end freshness, each next to a same-run baseline.

1. GET /v1/accounts/{id} on random accounts (wrk) against an h2o hello-world built on the same
   server scaffolding (bench/hello_h2o.c): a concurrency sweep (--sweep, default 1..64), --reps
   runs per point alternating which goes first; throughput ratio and latency percentiles.
2. GET /v1/accounts/{id}/transactions (a statement page from MongoDB) the same way, at
   --clients connections, and both reads' latency at --latency-clients connections (where the
   2-core machine is not saturated, so p99 measures the server rather than the queueing).
3. Freshness: a deposit, then GET ?min_version= until it is visible, one after the other,
   --samples per run, at several background loads (--loads: connections of wrk deposits to other
   accounts). Baseline, the floor: bench/kafka_latency.c, one message at a time from
   rd_kafka_producev to a consumer's poll with ledgerline's client settings.
4. Resident memory of every ledgerline process at the end.

Usage: bench/bench_queries.py [--clients 16] [--latency-clients 2] [--sweep 1,2,4,8,16,32,64]
                              [--seconds 5] [--reps 3] [--accounts 200] [--samples 1000]
                              [--loads 0,4,16] [--smoke]
Needs the local stack (make up) and the release build. Starts its own command service, relay,
projector and query API (the stack's relay, projector and query API are paused meanwhile).
Writes bench/results/queries.json and queries.md.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

from ll_bench import (BENCH_BIN, SWEEP, VAR, compare, finish, finish_wrk, fmt_spread as fmt, open_accounts,
                      percentile, percentiles, row, rss_mib, run_wrk, spread, start_wrk, write_lines)
from ll_e2e import Service, paused_stack_services, post, request, wait_until

CMD, QRY, HELLO = 18090, 18091, 18095
TX_PER_ACCOUNT = 5  # deposits per account, so a statement page has rows


def freshness(accounts, samples):
    """samples sequential deposit -> visible rounds: (write ms, 201 -> visible ms)."""
    write_ms, after_ack_ms = [], []
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
    return write_ms, after_ack_ms


def kafka_floor(messages):
    """The raw produce -> consume latency percentiles (ms) on a new empty topic."""
    topic = f"bench.latency-{time.time_ns()}"
    subprocess.run([os.path.join(BENCH_BIN, "gen_events"), "--topic", topic, "--events", "0", "--accounts", "0"],
                   check=True, capture_output=True)
    out = subprocess.run([os.path.join(BENCH_BIN, "kafka_latency"), "--topic", topic, "--messages", str(messages)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"kafka_latency: {out.stderr}")
    s = json.loads(out.stdout.strip().splitlines()[-1])
    return {k.replace("_us", "_ms"): v / 1000 for k, v in s.items() if k.endswith("_us")}


def raw_pages(ids_file, seconds):
    """bench/mongo_find.c: the statement page's MongoDB work alone, one page at a time."""
    out = subprocess.run([os.path.join(BENCH_BIN, "mongo_find"), "--uri", "mongodb://127.0.0.1:57017/",
                          "--database", "ledgerline", "--accounts", ids_file, "--pages", str(150 * seconds)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"mongo_find: {out.stderr}")
    s = json.loads(out.stdout.strip().splitlines()[0])
    return {"rate": s["pages"] / s["seconds"], "p50_ms": s["p50_us"] / 1000, "p99_ms": s["p99_us"] / 1000,
            "errors": 0}  # a failed page fails the program


def raw_compare(reps, seconds, ids_file, paths):
    """GET transactions on one connection vs the raw libmongoc loop of the same queries."""
    def measure(side):
        if side == "raw":
            return raw_pages(ids_file, seconds)
        return run_wrk(QRY, 1, seconds, "get_random.lua", paths["transactions"])
    return compare(reps, "raw", "query", measure, "transactions vs raw libmongoc c=1 ",
                   keys=("rate", "p50_ms", "p99_ms", "errors"))


def read_compare(reps, clients, seconds, paths, label):
    """reps alternating wrk runs of hello and the query API at clients connections."""
    def measure(side):
        return run_wrk(HELLO if side == "hello" else QRY, clients, seconds, "get_random.lua",
                       paths["hello"] if side == "hello" else paths[label])
    return dict(compare(reps, "hello", "query", measure, f"{label} c={clients} "), clients=clients)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--latency-clients", type=int, default=2)
    ap.add_argument("--sweep", default=",".join(map(str, SWEEP)))
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--accounts", type=int, default=200)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--loads", default="0,4,16", help="background deposit connections during freshness runs")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    if args.smoke:
        args.seconds, args.reps, args.accounts, args.samples, args.sweep, args.loads = 1, 1, 10, 30, "2", "0,2"
        args.clients = 2
    sweep = sorted({int(c) for c in args.sweep.split(",")} | {args.clients})
    loads = [int(c) for c in args.loads.split(",")]
    os.makedirs(VAR, exist_ok=True)
    quiet = {"LEDGERLINE_LOG_LEVEL": "warn"}
    services = {
        "ledgerline-command": Service("command", ["--listen", f"127.0.0.1:{CMD}"], port=CMD, env=quiet),
        "ledgerline-relay": Service("relay", ["--poll-ms", "200"]),
        "ledgerline-projector": Service("projector", []),
        "ledgerline-query": Service("query", ["--listen", f"127.0.0.1:{QRY}"], port=QRY),
    }
    hello = Service("hello", ["--listen", f"127.0.0.1:{HELLO}"], port=HELLO, binary=os.path.join(BENCH_BIN, "hello_h2o"))
    with paused_stack_services("relay", "projector", "query"), services["ledgerline-command"], \
            services["ledgerline-relay"], services["ledgerline-projector"], services["ledgerline-query"], hello:
        print(f"[bench] creating {args.accounts} accounts with {TX_PER_ACCOUNT} deposits each", flush=True)
        accounts = open_accounts(CMD, args.accounts, "bench-query", deposits=(100,) * TX_PER_ACCOUNT)
        for a in accounts:
            wait_until(lambda a=a: request("GET", f"/v1/accounts/{a}?min_version={TX_PER_ACCOUNT + 1}",
                                           port=QRY)[0] == 200, 120, "the read model", interval_s=0.2)
        load_accounts = write_lines("load_accounts.txt", open_accounts(CMD, max(10, args.accounts // 2), "bench-load"))
        paths = {"hello": write_lines("hello_paths.txt", [f"/v1/accounts/{a}" for a in accounts]),
                 "account": write_lines("account_paths.txt", [f"/v1/accounts/{a}" for a in accounts]),
                 "transactions": write_lines("transactions_paths.txt",
                                             [f"/v1/accounts/{a}/transactions" for a in accounts])}
        account_sweep = [read_compare(args.reps, c, args.seconds, paths, "account") for c in sweep]
        tx = read_compare(args.reps, args.clients, args.seconds, paths, "transactions")
        account_lat = read_compare(args.reps, args.latency_clients, args.seconds, paths, "account")
        tx_lat = read_compare(args.reps, args.latency_clients, args.seconds, paths, "transactions")
        tx_raw = raw_compare(args.reps, args.seconds, write_lines("account_ids.txt", accounts), paths)
        fresh = []
        for load in loads:
            runs = []
            for rep in range(args.reps):
                print(f"[bench] freshness rep {rep + 1}/{args.reps}, load {load} connections: kafka floor, "
                      f"then {args.samples} deposit -> visible samples", flush=True)
                bg = start_wrk(CMD, load, 3600, "deposit.lua", load_accounts) if load else None
                time.sleep(1 if load else 0)
                floor = kafka_floor(args.samples)  # under the same background load
                write_ms, after_ack_ms = freshness(accounts, args.samples)
                if bg is not None:
                    bg.send_signal(signal.SIGINT)  # wrk stops and reports on SIGINT
                    bg_result = finish_wrk(bg)
                else:
                    bg_result = {"rate": 0, "errors": 0}
                runs.append({"floor": floor, "write": percentiles(write_ms), "fresh": percentiles(after_ack_ms),
                             "load_rate": bg_result["rate"], "load_errors": bg_result["errors"]})
                print(f"[bench]   201 -> visible p50 {runs[-1]['fresh']['p50_ms']:.1f} ms, p99 "
                      f"{runs[-1]['fresh']['p99_ms']:.1f} ms; background {bg_result['rate']:.0f} deposits/s"
                      + f"; kafka floor p50 {floor['p50_ms']:.1f} ms, p99 {floor['p99_ms']:.1f} ms", flush=True)
            fresh.append({"load": load, "runs": runs})
        memory = {}
        for name, svc in services.items():
            rss, peak = rss_mib(svc.proc)
            memory[name] = {"rss": rss, "peak": peak}
    errors = sum(p[f"{s}_errors"]["max"] for p in account_sweep + [tx, account_lat, tx_lat] for s in ("hello", "query"))
    errors += tx_raw["query_errors"]["max"]
    errors += sum(r["load_errors"] for f in fresh for r in f["runs"])
    data = {"account_sweep": account_sweep, "transactions": tx, "account_latency": account_lat,
            "transactions_latency": tx_lat, "transactions_raw": tx_raw, "freshness": fresh, "rss_mib": memory, "errors": errors,
            "args": vars(args)}
    data["rows"] = rows(args, data)
    return finish("queries", data, report(args, data), errors, args.smoke)


def fresh_spread(f, part, key):
    return spread([r[part][key] for r in f["runs"]])


def rows(args, data):
    head = next(p for p in data["account_sweep"] if p["clients"] == args.clients)
    tx, al, tl = data["transactions"], data["account_latency"], data["transactions_latency"]
    out = [
        row(f"GET account req/s at {args.clients} connections", "h2o hello-world, same scaffolding",
            head["hello_rate"], head["query_rate"], "req/s", ratio=head["ratio"], goal=">= 0.6x",
            met=head["ratio"]["median"] >= 0.6),
        row(f"GET account p99 at {args.latency_clients} connections", "hello-world p99", al["hello_p99_ms"],
            al["query_p99_ms"], "ms", goal="<= 2 ms", met=al["query_p99_ms"]["median"] <= 2),
        row(f"GET transactions req/s at {args.clients} connections", "h2o hello-world, same scaffolding",
            tx["hello_rate"], tx["query_rate"], "req/s", ratio=tx["ratio"], goal=">= 0.6x",
            met=tx["ratio"]["median"] >= 0.6),
        row(f"GET transactions p99 at {args.latency_clients} connections", "hello-world p99", tl["hello_p99_ms"],
            tl["query_p99_ms"], "ms", goal="<= 2 ms", met=tl["query_p99_ms"]["median"] <= 2),
    ]
    raw = data["transactions_raw"]
    out.append(row("GET transactions req/s at 1 connection", "raw libmongoc loop, the read model's queries "
                   "for the page (bench/mongo_find.c); ours from the live view", raw["raw_rate"], raw["query_rate"], "req/s", ratio=raw["ratio"]))
    for f in data["freshness"]:
        load = "idle" if f["load"] == 0 else f"{f['load']} connections of deposits in the background"
        for key, label, goal in (("p50_ms", "p50", 5), ("p99_ms", "p99", 25), ("p999_ms", "p99.9", None)):
            floor = fresh_spread(f, "floor", key)
            ours = fresh_spread(f, "fresh", key)
            out.append(row(f"Freshness {label}, deposit 201 -> readable ({load})",
                           f"Kafka produce -> consume {label}, raw librdkafka, same load", floor, ours, "ms",
                           goal=f"<= {goal} ms" if goal else None,
                           met=(ours["median"] <= goal) if goal else None))
    return out


def report(args, data):
    lines = [
        "# Query API vs an h2o hello-world, and end-to-end freshness",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `bench/bench_queries.py --clients "
        f"{args.clients} --latency-clients {args.latency_clients} --sweep {args.sweep} --seconds {args.seconds} "
        f"--reps {args.reps} --accounts {args.accounts} --samples {args.samples} --loads {args.loads}` (release "
        "builds) on a shared 2-core machine that also runs PostgreSQL, Kafka, FerretDB (PostgreSQL backend), wrk "
        "and every ledgerline process. Account reads come from the query API's live view, statement pages from "
        f"MongoDB (docs/read-side.md). Each cell: median (min-max) of {args.reps} runs.",
        "",
        "## GET /v1/accounts/{id} (random accounts) vs hello-world: concurrency sweep",
        "",
        "| connections | hello req/s | hello p50 / p99 ms | query req/s | query p50 / p99 / p99.9 ms | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for p in data["account_sweep"]:
        lines.append(f"| {p['clients']} | {fmt(p['hello_rate'])} | {p['hello_p50_ms']['median']:.2f} / "
                     f"{p['hello_p99_ms']['median']:.2f} | {fmt(p['query_rate'])} | {p['query_p50_ms']['median']:.2f}"
                     f" / {p['query_p99_ms']['median']:.2f} / {p['query_p999_ms']['median']:.2f} | "
                     f"**{fmt(p['ratio'], 2)}** |")
    lines += ["", "## Both reads at a fixed concurrency", "",
              "| read | connections | hello req/s | query req/s | query p50 / p99 ms | hello p99 ms | ratio |",
              "|---|---|---|---|---|---|---|"]
    for label, p in (("account", data["account_latency"]), ("transactions", data["transactions"]),
                     ("transactions", data["transactions_latency"])):
        lines.append(f"| {label} | {p['clients']} | {fmt(p['hello_rate'])} | {fmt(p['query_rate'])} | "
                     f"{p['query_p50_ms']['median']:.2f} / {p['query_p99_ms']['median']:.2f} | "
                     f"{p['hello_p99_ms']['median']:.2f} | **{fmt(p['ratio'], 2)}** |")
    raw = data["transactions_raw"]
    lines += ["", "Statement pages against what the MongoDB-protocol server gives a raw client: bench/mongo_find.c "
              "loads the account with its open page and reads sealed pages by _id (what the handler does when the "
              "live view cannot serve the page), one page at a time; GET transactions on one connection, served by "
              "the live view when it holds the movements (docs/read-side.md):", "",
              "| raw pages/s | raw p50 / p99 ms | query req/s | query p50 / p99 ms | ratio |", "|---|---|---|---|---|",
              f"| {fmt(raw['raw_rate'])} | {raw['raw_p50_ms']['median']:.2f} / {raw['raw_p99_ms']['median']:.2f} | "
              f"{fmt(raw['query_rate'])} | {raw['query_p50_ms']['median']:.2f} / {raw['query_p99_ms']['median']:.2f} "
              f"| **{fmt(raw['ratio'], 2)}** |"]
    lines += ["", "Goal (issue #10): ratio >= 0.60 of hello-world, p99 <= 2 ms.", "",
              "## Freshness: deposit 201 -> visible through GET ?min_version (sequential samples)", "",
              "| background load | deposits/s in the background | Kafka floor p50 / p99 / p99.9 ms | deposit alone p50 / p99 "
              "ms | 201 -> readable p50 ms | p99 ms | p99.9 ms | max ms |", "|---|---|---|---|---|---|---|---|"]
    for f in data["freshness"]:
        lines.append(f"| {f['load']} connections | {statistics.median([r['load_rate'] for r in f['runs']]):.0f} | "
                     f"{fresh_spread(f, 'floor', 'p50_ms')['median']:.1f} / {fresh_spread(f, 'floor', 'p99_ms')['median']:.1f}"
                     f" / {fresh_spread(f, 'floor', 'p999_ms')['median']:.1f} | "
                     f"{fresh_spread(f, 'write', 'p50_ms')['median']:.1f} / "
                     f"{fresh_spread(f, 'write', 'p99_ms')['median']:.1f} | "
                     f"**{fmt(fresh_spread(f, 'fresh', 'p50_ms'), 1)}** | **{fmt(fresh_spread(f, 'fresh', 'p99_ms'), 1)}**"
                     f" | {fmt(fresh_spread(f, 'fresh', 'p999_ms'), 1)} | {fresh_spread(f, 'fresh', 'max_ms')['max']:.1f} |")
    lines += ["", f"{args.samples} samples per run, one deposit at a time. The floor: bench/kafka_latency.c, one "
              "message at a time from rd_kafka_producev to a consumer's poll with ledgerline's client settings, "
              "under the same background load. Goal (issue #10): p50 <= 5 ms, p99 <= 25 ms from the command's "
              "2xx to visible.", "", "## Resident memory at the end", "", "| process | RSS MiB | peak MiB |",
              "|---|---|---|"]
    for name, m in data["rss_mib"].items():
        lines.append(f"| {name} | {m['rss']:.0f} | {m['peak']:.0f} |")
    lines += ["", f"Errors (non-2xx or socket, every run and the background loads): {data['errors']}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
