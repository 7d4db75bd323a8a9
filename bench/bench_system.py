#!/usr/bin/env python3
"""The whole system at once, as `make run` starts it: does the read side keep pace with what the
command service acknowledges, and stay flat as it grows?

The stack's own seven processes (PostgreSQL, Kafka, FerretDB, command service, relay, projector,
query API, started by deploy/local/stack.sh) with rate limits off, pointed at a database, a
MongoDB database and a topic of this benchmark's own; the load generator (wrk) on the same
machine.
1. Sustained deposits (--seconds at --clients connections) over each of --accounts (accounts
   opened through the system first): acknowledged commands/s; the projector's events/s and its
   ratio to them; lag (events and seconds, sampled twice a second) max, p99 and at the end; the
   drain time after the load; statement pages probed during the load (share answered 200,
   p50/p99).
2. Growth: accounts opened through the system (wrk, POST /v1/accounts) up to --growth, the
   projector's pace while they open; at 10k and at --growth accounts: the projector's events/s
   from a backlog of deposits over the same 10k-account working set spread over all accounts
   (the projector paused with SIGSTOP while it builds, so it keeps what it remembers; one
   untimed run first, so it remembers them), the same right after a projector restart over a
   broad sample (nothing remembered: each account costs a read), and GET of accounts outside
   the live view (a query API with the view off) at --latency-clients connections.
3. Statement pages of one account with --movements movements each: req/s at --clients
   connections against the h2o hello-world (same scaffolding), p50/p99 at --latency-clients;
   from the live view (as served) and from MongoDB (the query API with the view off).

4. One projector or three: part 1's deposits over the first of --accounts, and the projectors'
   events/s from a backlog, with the stack's projector and then with three in its consumer
   group (LL_REPLICAS=projector:3), same run.

5. Ledger depth: at each of --accounts accounts in the system, deposits, 3-leg payments and
   holds placed+captured over a funded working set of up to 10,000 accounts spread over all, each
   for --seconds, same run; the projector's pace under each.

Usage: bench/bench_system.py [--parts load,growth,statements,scale,projectors,ledger] [--accounts 1000,100000]
                             [--seconds 60] [--clients 16] [--growth 1000000]
                             [--movements 10,1000,10000] [--reps 3] [--scale-accounts 1000000]
                             [--scale-events 10000000] [--smoke]
Needs the local stack (make up) and the release build; the stack's ledgerline processes are
restarted with the benchmark's settings and restarted as they were at the end. Writes
bench/results/system.json and system.md.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

from ll_bench import (BENCH_BIN, RESULTS, ROOT, compare, drop_database, finish, finish_wrk, fmt_spread as fmt,
                      flush_writes, load_event_store, owner_conninfo, wait_autovacuum_quiet,
                      fresh_database, owner_sql, percentile, row, run_wrk, save, sh, start_wrk, write_lines)
from ll_e2e import Service, request, token

STACK = os.path.join(ROOT, "deploy", "local", "stack.sh")
CMD, QRY, PROJECTOR, RELAY = 8080, 8081, 8082, 8083
VIEWLESS, HELLO = 18191, 18195
DB = "ledgerline_bench_system"
SERVICES = ("command", "relay", "projector", "query")


class System:
    """The stack's ledgerline processes on the benchmark's own stores."""

    def __init__(self, settings=None):
        """settings: more LEDGERLINE_* settings for the processes, {name: value}."""
        self.secret = sh([STACK, "jwt-secret"]).strip()
        self.auth = token(secret=self.secret)
        self.topic = f"bench.system-{time.time_ns()}"
        self.env = dict(os.environ, LEDGERLINE_RATE_LIMIT_PER_SECOND="0", LEDGERLINE_RATE_LIMIT_IP_PER_SECOND="0",
                        LEDGERLINE_PG_CONNINFO=f"host=127.0.0.1 port=55432 dbname={DB} user=ledgerline "
                                               "password=ledgerline",
                        LEDGERLINE_MONGO_DATABASE=DB, LEDGERLINE_KAFKA_TOPIC_EVENTS=self.topic,
                        LEDGERLINE_KAFKA_PROJECTOR_GROUP=f"{self.topic}.projector", LEDGERLINE_JWT_SECRET=self.secret,
                        # backlog_rate pauses the projector: its partitions stay with it
                        LEDGERLINE_PROJECTOR_SESSION_TIMEOUT_MS="60000", **(settings or {}))

    def __enter__(self):
        # The stack's processes that run now run again at the end, as they were.
        self.running = [s for s in SERVICES if subprocess.run([STACK, "status", s], capture_output=True).returncode == 0]
        fresh_database(DB)
        drop_mongo()
        sh([os.path.join(BENCH_BIN, "gen_events"), "--topic", self.topic, "--events", "0", "--accounts", "0"])
        sh([STACK, "restart"] + list(SERVICES), env=self.env)
        return self

    def __exit__(self, *exc):
        try:
            sh([STACK, "down"] + list(SERVICES))
        finally:
            drop_database(DB)
            drop_mongo()
            if self.running:
                sh([STACK, "up"] + self.running)  # the stack as it was

    def post(self, path, body):
        req = urllib.request.Request(f"http://127.0.0.1:{CMD}{path}", data=json.dumps(body).encode(),
                                     method="POST", headers={"authorization": f"Bearer {self.auth}",
                                                             "content-type": "application/json",
                                                             "idempotency-key": str(uuid.uuid4())})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)

    def pid(self, name):
        with open(os.path.join(ROOT, "var", "run", f"{name}.pid")) as f:
            return int(f.read().split()[0])


def drop_mongo():
    """Drops the benchmark's MongoDB database (ledgerline-rebuild --gc cannot: it is not a generation)."""
    sh([os.path.join(BENCH_BIN, "mongo_bulk"), "--uri", "mongodb://127.0.0.1:57017/", "--database", DB, "--drop"])


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def series(text, name, label=""):
    return [float(v) for v in re.findall(rf'^{name}\{{[^}}]*{label}[^}}]*\}} ([0-9.eE+-]+|NaN)$', text, re.M)]


# The running projectors (stack.sh instance names and metrics ports): one, or three in part 4.
PROJECTORS = {"projector": PROJECTOR}


def progress():
    """What the read side has done and how far behind it is: (applied events, lag events, lag s)."""
    ps, r = [metrics(port) for port in PROJECTORS.values()], metrics(RELAY)
    applied = sum(series(p, "ledgerline_projector_events_total", 'outcome="applied"')[0] for p in ps)
    lag_events = sum(sum(series(p, "ledgerline_projector_lag_events")) for p in ps) + \
        series(r, "ledgerline_relay_outbox_depth")[0]
    lag_s = max([v for p in ps for v in series(p, "ledgerline_projector_lag_seconds") if v == v] + [0]) + \
        series(r, "ledgerline_relay_oldest_undelivered_seconds")[0]
    return applied, lag_events, lag_s


def events_stored():
    return int(owner_sql(DB, "SELECT count(*) FROM events"))


# Events the projector processes before the running one applied (cold_backlog_rate restarts it).
applied_before = 0


def applied():
    """Events the projector has applied since the benchmark's stores were made."""
    return applied_before + sum(series(metrics(port), "ledgerline_projector_events_total", 'outcome="applied"')[0]
                                for port in PROJECTORS.values())


def wait_published(timeout_s=60):
    """Until the relay has published everything the outbox held."""
    deadline = time.time() + timeout_s
    while series(metrics(RELAY), "ledgerline_relay_outbox_depth")[0] > 0:
        if time.time() > deadline:
            raise RuntimeError(f"the relay did not publish the outbox within {timeout_s}s")
        time.sleep(0.05)


def wait_drained(timeout_s=600):
    """Seconds until the projector has applied every event the store holds (it started with the
    benchmark's empty topic and store, so the two counts compare)."""
    t0 = time.time()
    while time.time() - t0 < timeout_s:
        if applied() >= events_stored():
            return time.time() - t0
        time.sleep(0.05)
    raise RuntimeError(f"the read side did not drain within {timeout_s}s")


class Sampler(threading.Thread):
    """progress() twice a second while a load runs."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples, self.stop = [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.samples.append((time.time(),) + progress())
            self.stop.wait(0.5)


class Prober(threading.Thread):
    """A customer reading statements during the load: one page every 25 ms, random accounts."""

    def __init__(self, auth, accounts):
        super().__init__(daemon=True)
        self.auth, self.accounts, self.stop = auth, accounts, threading.Event()
        self.status, self.ms = {}, []

    def run(self):
        import random
        while not self.stop.is_set():
            a = random.choice(self.accounts)
            t = time.perf_counter()
            try:
                status, _, _ = request("GET", f"/v1/accounts/{a}/transactions", port=QRY, auth=self.auth)
            except OSError:
                status = 0
            self.ms.append((time.perf_counter() - t) * 1000)
            self.status[status] = self.status.get(status, 0) + 1
            self.stop.wait(0.025)


def account_ids(limit=None):
    out = owner_sql(DB, "SELECT account_id FROM account_state ORDER BY account_id" + (f" LIMIT {limit}" if limit else ""))
    return out.split()


def open_accounts(system, target, clients):
    """Opens accounts through the system until the store has target of them (a few more with
    wrk, for large targets); returns the projector's pace meanwhile (accounts/s acknowledged,
    events/s projected, lag), or None when there were enough already."""
    have = int(owner_sql(DB, "SELECT count(*) FROM account_state"))
    if have >= target:
        return None
    sampler = Sampler()
    sampler.start()
    t0, rate, have0 = time.time(), 1000.0, have
    while have < target:
        need = target - have
        if need <= 20000:  # exactly, from a pool of clients
            with ThreadPoolExecutor(clients) as ex:
                list(ex.map(lambda i: system.post("/v1/accounts", {"owner": f"bench-{i}", "currency": "EUR"}),
                            range(need)))
        else:
            seconds = max(1, min(60, int(need / rate * 0.9)))
            r = finish_wrk(start_wrk(CMD, clients, seconds, "open.lua", os.devnull, threads=2, auth=system.auth))
            if r["errors"]:
                raise RuntimeError(f"opening accounts: {r['errors']} errors")
            rate = max(r["rate"], 100)
        have = int(owner_sql(DB, "SELECT count(*) FROM account_state"))
        print(f"[bench] {have} accounts", flush=True)
    load_s = time.time() - t0
    drain = wait_drained()
    sampler.stop.set()
    sampler.join()
    s = sampler.samples
    return {"accounts": have, "opened_per_s": (have - have0) / load_s, "projected_per_s": (s[-1][1] - s[0][1]) / load_s,
            "lag_events_max": max(x[2] for x in s), "lag_s_max": max(x[3] for x in s), "drain_s": drain,
            "seconds": load_s}


def sustained(system, n, args, sample=None):
    """Deposits at --clients connections over n accounts (every sample-th of them, for wrk's
    memory) for --seconds, with the read side watched."""
    open_accounts(system, n, args.clients)
    ids = account_ids()
    deposited = ids[::sample] if sample else ids
    accounts = write_lines("system_accounts.txt", deposited)
    wait_drained()
    sampler, prober = Sampler(), Prober(system.auth, ids)
    sampler.start()
    time.sleep(0.6)
    prober.start()
    applied0, _, _ = progress()
    t0 = time.time()
    load = start_wrk(CMD, args.clients, args.seconds, "deposit.lua", accounts, threads=2, auth=system.auth)
    r = finish_wrk(load)
    t_end = time.time()
    applied1, _, _ = progress()
    prober.stop.set()
    drain = wait_drained()
    sampler.stop.set()
    sampler.join()
    prober.join()
    s = [x for x in sampler.samples if t0 <= x[0] <= t_end]
    acknowledged = r["rate"] * args.seconds  # wrk's own count over its own duration
    projected = (applied1 - applied0) / (t_end - t0)
    lags, lag_s = [x[2] for x in s], [x[3] for x in s]
    ok = prober.status.get(200, 0)
    total = sum(prober.status.values())
    commands = acknowledged / (t_end - t0)
    out = {"accounts": len(ids), "deposited_accounts": len(deposited),
           "commands_per_s": commands, "command_errors": r["errors"],
           "projected_per_s": projected, "ratio": projected / commands,
           "lag_events_max": max(lags), "lag_events_p99": percentile(lags, 99), "lag_events_end": lags[-1],
           "lag_s_max": max(lag_s), "lag_s_p99": percentile(lag_s, 99), "lag_s_end": lag_s[-1], "drain_s": drain,
           "statements": total, "statements_ok_share": ok / total if total else 0,
           "statements_status": {str(k): v for k, v in prober.status.items()},
           "statement_p50_ms": percentile(prober.ms, 50), "statement_p99_ms": percentile(prober.ms, 99)}
    print(f"[bench] {n} accounts: {out['commands_per_s']:.0f} commands/s, projector {projected:.0f} events/s "
          f"({out['ratio']:.2f}x), lag max {out['lag_events_max']:.0f} events / {out['lag_s_max']:.2f} s, drain "
          f"{drain:.1f} s; statements {ok}/{total} 200, p99 {out['statement_p99_ms']:.1f} ms", flush=True)
    return out


def ledger_load(system, script, accounts, args):
    """One workload of the ledger part: wrk with bench/<script> for --seconds at --clients over
    the accounts file; acknowledged requests/s and events/s, the projector's events/s meanwhile
    and its ratio to the events acknowledged, drain after."""
    wait_drained()
    applied0, stored0, t0 = applied(), events_stored(), time.time()
    r = finish_wrk(start_wrk(CMD, args.clients, args.seconds, script, accounts, threads=2, auth=system.auth))
    t_end = time.time()
    applied1, stored1 = applied(), events_stored()
    drain = wait_drained()
    events = (stored1 - stored0) / (t_end - t0)
    projected = (applied1 - applied0) / (t_end - t0)
    out = {"requests_per_s": r["rate"], "errors": r["errors"], "events_per_s": events, "projected_per_s": projected,
           "ratio": projected / events if events else 0, "drain_s": drain}
    print(f"[bench] {script}: {r['rate']:.0f} requests/s, {events:.0f} events/s acknowledged, projector "
          f"{projected:.0f} events/s ({out['ratio']:.2f}x), drain {drain:.1f} s, {r['errors']} errors", flush=True)
    return out


LEDGER_WORKING_SET = 10000  # accounts the ledger part's workloads touch, spread over all of them


def ledger(system, n, args):
    """Ledger depth (issue #33), same run: deposits, then 3-leg payments (two payees and a fee,
    6 events each), then holds placed and captured (2 commands, 2 events each), with n accounts
    in the system, over a working set of up to LEDGER_WORKING_SET of them spread over all (funded
    first); the projector's pace under each."""
    open_accounts(system, n, args.clients)
    ids = account_ids()
    working = ids[::max(1, len(ids) // LEDGER_WORKING_SET)][:LEDGER_WORKING_SET]
    with ThreadPoolExecutor(args.clients) as ex:  # funds for payments and holds
        list(ex.map(lambda a: system.post(f"/v1/accounts/{a}/deposits",
                                          {"amount_minor": 10 ** 12, "currency": "EUR"}), working))
    accounts = write_lines("system_ledger_accounts.txt", working)
    out = {"accounts": len(ids), "working_set": len(working)}
    for name, script in (("deposits", "deposit.lua"), ("payments", "payment.lua"), ("holds", "hold.lua")):
        out[name] = ledger_load(system, script, accounts, args)
    return out


def cpu_seconds():
    """CPU seconds used so far by each kind of process on the machine (postgres backends summed;
    processes that exited are not counted): where a measured interval's time went."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
        except OSError:
            continue
        comm, fields = st[st.index("(") + 1:st.rindex(")")], st[st.rindex(")") + 2:].split()
        kind = "postgres" if comm.startswith("postgres") else comm
        out[kind] = out.get(kind, 0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def cpu_since(before):
    spent = {k: v - before.get(k, 0) for k, v in cpu_seconds().items()}
    return {k: round(v, 2) for k, v in sorted(spent.items(), key=lambda kv: -kv[1]) if v >= 0.05}


def backlog_rate(system, ids, seconds, clients):
    """The projector's events/s from a backlog, with what it remembers: the projector paused
    (SIGSTOP; its Kafka session outlasts the pause, so it keeps its partitions and nothing
    rebalances) while deposits over all of ids go through the command service and the relay,
    then resumed; timed from the resume until it has applied them all."""
    accounts = write_lines("system_backlog_accounts.txt", ids)
    wait_drained()
    applied0 = applied()  # its metrics do not answer while it is stopped
    pids = [system.pid(name) for name in PROJECTORS]
    for pid in pids:
        os.kill(pid, 19)  # SIGSTOP
    try:
        r = finish_wrk(start_wrk(CMD, clients, seconds, "deposit.lua", accounts, threads=2, auth=system.auth))
        stored = events_stored()
        wait_published()
    finally:
        cpu0 = cpu_seconds()
        for pid in pids:
            os.kill(pid, 18)  # SIGCONT
        resumed = time.time()
    backlog = stored - applied0
    seconds_taken = wait_drained()
    return {"backlog_events": backlog, "commands_per_s": r["rate"], "seconds": seconds_taken,
            "events_per_s": backlog / seconds_taken if seconds_taken > 0 else 0, "resumed": resumed,
            "cpu_s": cpu_since(cpu0)}


def cold_backlog_rate(system, ids, seconds, clients):
    """The same after a restart: the projector stopped while the backlog builds, started with
    nothing remembered, timed from its first applied event until it has applied the backlog."""
    global applied_before
    accounts = write_lines("system_backlog_accounts.txt", ids)
    wait_drained()
    stored0 = events_stored()
    sh([STACK, "down", "projector"])
    applied_before = stored0
    try:
        r = finish_wrk(start_wrk(CMD, clients, seconds, "deposit.lua", accounts, threads=2, auth=system.auth))
        backlog = events_stored() - stored0
    finally:
        sh([STACK, "up", "projector"], env=system.env)
    start = None
    deadline = time.time() + 600
    while time.time() < deadline:
        try:
            n = applied() - stored0  # the new process counts from 0
        except OSError:
            n = 0
        if start is None and n > 0:
            start = (time.time(), n)
        if n >= backlog:
            break
        time.sleep(0.02)
    else:
        raise RuntimeError("the restarted projector did not catch up within 600 s")
    seconds_taken = time.time() - start[0]
    return {"backlog_events": backlog, "commands_per_s": r["rate"], "seconds": seconds_taken,
            "events_per_s": (n - start[1]) / seconds_taken if seconds_taken > 0 else 0}


def outside_view(system, ids, args):
    """GET of accounts the live view does not hold: a query API with the view off."""
    paths = write_lines("system_viewless_paths.txt", [f"/v1/accounts/{a}" for a in ids])
    env = dict(system.env, LEDGERLINE_QUERY_VIEW_ACCOUNTS_MAX="0")
    with Service("query", ["--listen", f"127.0.0.1:{VIEWLESS}"], port=VIEWLESS, env=env):
        lat = run_wrk(VIEWLESS, args.latency_clients, args.short_seconds, "get_random.lua", paths, auth=system.auth)
        load = run_wrk(VIEWLESS, args.clients, args.short_seconds, "get_random.lua", paths, auth=system.auth)
    return {"p50_ms": lat["p50_ms"], "p99_ms": lat["p99_ms"], "rate": load["rate"], "errors": lat["errors"] +
            load["errors"]}


WORKING_SET = 10000  # accounts the warm backlog runs deposit into, at every size


def growth(system, args):
    points = []
    for target in sorted({min(10000, args.growth), args.growth}):
        pace = open_accounts(system, target, args.clients)
        ids = account_ids()
        # The warm runs: the same working set at every size (WORKING_SET accounts spread over all
        # of them), remembered after one untimed run, so that only the read model's size differs.
        # The cold runs and the GETs: a broad sample, each account new to the process.
        working = ids[:: max(1, len(ids) // WORKING_SET)]
        sample = ids[:: max(1, len(ids) // 100000)]  # wrk reads the file per thread: a sample
        # The same conditions at every size: the opening just wrote the account documents, and
        # autovacuum's pass over them, or the kernel's writeback of them, would otherwise share
        # the two cores with the runs.
        quiet_s = wait_autovacuum_quiet()
        flush_s = flush_writes()
        print(f"[bench] at {len(ids)} accounts (autovacuum quiet after {quiet_s:.0f} s, writes flushed in "
              f"{flush_s:.0f} s): projector from a backlog, GET outside the live view", flush=True)
        backlog_rate(system, working, args.backlog_seconds, args.clients)  # warm-up
        warm = [backlog_rate(system, working, args.backlog_seconds, args.clients) for _ in range(args.reps)]
        warm.sort(key=lambda b: b["events_per_s"])
        point = {"accounts": len(ids), "working_set": len(working), "autovacuum_wait_s": quiet_s,
                 "flush_s": flush_s, "opening": pace, "backlog": warm[len(warm) // 2],
                 "backlog_runs": warm,
                 "cold": cold_backlog_rate(system, sample, args.backlog_seconds, args.clients),
                 "outside_view": outside_view(system, sample, args)}
        print(f"[bench]   CPU seconds during the median drain: {point['backlog']['cpu_s']}", flush=True)
        print(f"[bench]   projector {point['backlog']['events_per_s']:.0f} events/s from a backlog of "
              f"{point['backlog']['backlog_events']:.0f}, {point['cold']['events_per_s']:.0f} after a restart; "
              f"GET outside the view p50 "
              f"{point['outside_view']['p50_ms']:.2f} ms p99 {point['outside_view']['p99_ms']:.2f} ms", flush=True)
        points.append(point)
    return points


def scale(system, args):
    """The read side at the size users reach: --scale-events events over --scale-accounts accounts
    loaded into the event store (COPY text from bench/gen_events.c: decided, sealed and chained by
    domain/), the read model built from it by ledgerline-rebuild, the stack started on both; then
    part 1's sustained deposits over a sample of the accounts (the projector and the query API
    remember none of them: each is read from the read model the first time)."""
    global applied_before
    sh([STACK, "down"] + list(SERVICES))
    print(f"[bench] loading {args.scale_events} events over {args.scale_accounts} accounts into the event store",
          flush=True)
    load_s = load_event_store(DB, args.scale_accounts, args.scale_events, "system-scale")
    print(f"[bench] loaded in {load_s:.0f} s; ledgerline-rebuild --from store", flush=True)
    t0 = time.time()
    out = sh([os.path.join(os.environ["LL_TEST_BIN"], "ledgerline-rebuild"), "--from", "store", "--settle-seconds",
              "0", "--json"], env=dict(system.env, LEDGERLINE_PG_MIGRATE_CONNINFO=owner_conninfo(DB)))
    rebuild = json.loads(out.strip().splitlines()[-1])
    rebuild["whole_seconds"] = time.time() - t0
    print(f"[bench] rebuilt at {rebuild['events_per_second']:.0f} events/s (build {rebuild['build_seconds']:.0f} s, "
          f"whole {rebuild['whole_seconds']:.0f} s)", flush=True)
    quiet_s = wait_autovacuum_quiet()
    print(f"[bench] autovacuum quiet after {quiet_s:.0f} s", flush=True)
    applied_before = events_stored()  # the projector starts on the empty topic, past them all
    sh([STACK, "restart"] + list(SERVICES), env=system.env)
    n = int(owner_sql(DB, "SELECT count(*) FROM account_state"))
    load = sustained(system, n, args, sample=max(1, n // 100000))
    paths = write_lines("system_viewless_paths.txt", [f"/v1/accounts/{a}" for a in account_ids()[::max(1, n // 100000)]])
    with Service("query", ["--listen", f"127.0.0.1:{VIEWLESS}"], port=VIEWLESS,
                 env=dict(system.env, LEDGERLINE_QUERY_VIEW_ACCOUNTS_MAX="0")):
        lat = run_wrk(VIEWLESS, args.latency_clients, args.short_seconds, "get_random.lua", paths, auth=system.auth)
    return {"events": applied_before, "accounts": n, "load_seconds": load_s, "rebuild": rebuild, "load": load,
            "autovacuum_wait_s": quiet_s,
            "outside_view": {"p50_ms": lat["p50_ms"], "p99_ms": lat["p99_ms"], "errors": lat["errors"]}}


def held(port):
    """The partitions the projector on port holds (one lag series per partition)."""
    return set(re.findall(r'^ledgerline_projector_lag_events\{[^}]*partition="(\d+)"', metrics(port), re.M))


def scale_out(system, args):
    """Part 4: the sustained deposits of part 1 (over the first of --accounts) and the projectors'
    capacity (events/s from a backlog built while they were paused), with the stack's one
    projector and then with three in its consumer group (stack.sh up projector with
    LL_REPLICAS=projector:3: the second and third on 8182 and 8282), same run, same stores."""
    n = int(args.accounts.split(",")[0])
    out = {"accounts": n}
    for count in (1, 3):
        if count == 3:
            sh([STACK, "up", "projector"], env=dict(system.env, LL_REPLICAS="projector:3"))
            PROJECTORS.update({"projector-2": PROJECTOR + 100, "projector-3": PROJECTOR + 200})
            deadline = time.time() + 60
            while not (all(held(p) for p in PROJECTORS.values()) and
                       set().union(*(held(p) for p in PROJECTORS.values())) == {str(i) for i in range(6)}):
                if time.time() > deadline:
                    raise RuntimeError("three projectors did not share the partitions within 60 s")
                time.sleep(0.2)
        try:
            load = sustained(system, n, args)
            backlog = backlog_rate(system, account_ids(), args.backlog_seconds, args.clients)
        finally:
            if count == 3:
                sh([STACK, "down", "projector-2", "projector-3"])
                for name in ("projector-2", "projector-3"):
                    PROJECTORS.pop(name, None)
        out[str(count)] = {"load": load, "backlog": backlog}
        print(f"[bench] {count} projector(s): {load['commands_per_s']:.0f} commands/s, projector "
              f"{load['ratio']:.2f}x; from a backlog {backlog['events_per_s']:.0f} events/s", flush=True)
    return out


def deposit_many(system, account, n):
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda _: system.post(f"/v1/accounts/{account}/deposits", {"amount_minor": 1, "currency": "EUR"}),
                    range(n)))


def statements(system, args):
    out = []
    hello = Service("hello", ["--listen", f"127.0.0.1:{HELLO}"], port=HELLO, binary=os.path.join(BENCH_BIN, "hello_h2o"))
    env = dict(system.env, LEDGERLINE_QUERY_VIEW_ACCOUNTS_MAX="0")
    viewless = Service("query", ["--listen", f"127.0.0.1:{VIEWLESS}"], port=VIEWLESS, env=env)
    with hello, viewless:
        for m in [int(x) for x in args.movements.split(",")]:
            a = system.post("/v1/accounts", {"owner": f"statement-{m}", "currency": "EUR"})["account_id"]
            print(f"[bench] an account with {m} movements", flush=True)
            deposit_many(system, a, m)
            wait_drained()
            path = write_lines(f"system_statement_{m}.txt", [f"/v1/accounts/{a}/transactions"])
            hello_path = write_lines("system_hello.txt", [f"/v1/accounts/{a}"])

            def measure(side, clients):
                port = {"hello": HELLO, "query": QRY, "mongodb": VIEWLESS}[side]
                return run_wrk(port, clients, args.short_seconds, "get_random.lua", hello_path if side == "hello"
                               else path, auth=system.auth)
            rate = compare(args.reps, "hello", "query", lambda s: measure(s, args.clients), f"statement {m} ")
            lat = compare(args.reps, "hello", "query", lambda s: measure(s, args.latency_clients), f"statement {m} ")
            mongo = measure("mongodb", args.latency_clients)
            out.append({"movements": m, "rate": rate, "latency": lat, "mongodb": mongo})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="load,statements,growth,scale,projectors,ledger")
    ap.add_argument("--accounts", default="1000,100000")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--short-seconds", type=int, default=5, help="each wrk run of the read measurements")
    ap.add_argument("--backlog-seconds", type=int, default=10, help="deposits while the projector is paused")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--latency-clients", type=int, default=2)
    ap.add_argument("--growth", type=int, default=1000000)
    ap.add_argument("--movements", default="10,1000,10000")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--scale-accounts", type=int, default=1000000)
    ap.add_argument("--scale-events", type=int, default=10000000)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    if args.smoke:
        args.accounts, args.seconds, args.short_seconds, args.backlog_seconds = "100", 3, 1, 2
        args.growth, args.movements, args.reps, args.clients = 300, "10,60", 1, 4
        args.scale_accounts, args.scale_events = 1000, 20000
    parts = args.parts.split(",")
    data = {"args": vars(args)}
    # Parts not run this time keep what an earlier full run measured (each part says when).
    earlier = os.path.join(RESULTS, "system.json")
    if not args.smoke and os.path.exists(earlier):
        with open(earlier) as f:
            old = json.load(f)
        for part in ("load", "statements", "growth", "scale", "projectors", "ledger"):
            if part not in parts and part in old:
                data[part] = old[part]
                data[f"{part}_measured"] = old.get(f"{part}_measured", old.get("measured"))
    # Each part on stores of its own: account counts start from zero.
    for part in ("load", "statements", "growth", "scale", "projectors", "ledger"):
        if part not in parts:
            continue
        with System() as system:
            if part == "ledger":
                data["ledger"] = [ledger(system, int(n), args) for n in args.accounts.split(",")]
            elif part == "projectors":
                data["projectors"] = scale_out(system, args)
            elif part == "load":
                data["load"] = [sustained(system, int(n), args) for n in args.accounts.split(",")]
            elif part == "statements":
                data["statements"] = statements(system, args)
            elif part == "scale":
                data["scale"] = scale(system, args)
            else:
                data["growth"] = growth(system, args)
        data[f"{part}_measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        save("system", dict(data, partial=True), "")  # what is measured so far survives a failure
    errors = sum(p["command_errors"] for p in data.get("load", []))
    errors += sum(data["projectors"][c]["load"]["command_errors"] for c in ("1", "3")) if data.get("projectors") else 0
    errors += sum(p["outside_view"]["errors"] for p in data.get("growth", []))
    for lg in data.get("ledger") or []:
        errors += sum(lg[w]["errors"] for w in ("deposits", "payments", "holds"))
    if data.get("scale"):
        errors += data["scale"]["load"]["command_errors"] + data["scale"]["outside_view"]["errors"]
    errors += sum(s["rate"]["query_errors"]["max"] + s["latency"]["query_errors"]["max"] + s["mongodb"]["errors"]
                  for s in data.get("statements", []))
    data["errors"] = errors
    data["rows"] = rows(data)
    return finish("system", data, report(args, data), errors, args.smoke)


def stack_cpu_note(small, big):
    """The stack's own CPU per event at both sizes (postgres, FerretDB, Kafka, ledgerline), and
    what else ran meanwhile: whether the read model's size made the work bigger."""
    def per_event(p):
        cpu, n = p["backlog"].get("cpu_s"), p["backlog"]["backlog_events"]
        if not cpu or not n:
            return None
        own = sum(v for k, v in cpu.items() if k in ("postgres", "ferretdb", "java") or k.startswith("ledgerline"))
        return 1e6 * own / n, sum(v for k, v in cpu.items() if k.startswith("kworker"))
    a, b = per_event(small), per_event(big)
    if a is None or b is None:
        return ""
    return (f"; the stack's CPU per event {a[0]:.0f} vs {b[0]:.0f} us, kernel workers {a[1]:.1f} vs {b[1]:.1f} s "
            "during the drain")


def rows(data):
    out = []
    for lg in data.get("ledger") or []:
        d, p, h = lg["deposits"], lg["payments"], lg["holds"]
        r = p["requests_per_s"] / d["requests_per_s"]
        out.append(row(f"3-leg payments/s end to end ({lg['accounts']} accounts, 6 events each)",
                       "deposits/s, same run", d["requests_per_s"], p["requests_per_s"], "req/s", ratio=r,
                       goal=">= 0.25x", met=r >= 0.25,
                       note=f"{p['events_per_s']:.0f} vs {d['events_per_s']:.0f} events/s; one transaction locks "
                       "up to 4 accounts"))
        holds = h["requests_per_s"] / 2
        r = holds / d["requests_per_s"]
        out.append(row(f"Holds placed and captured/s end to end ({lg['accounts']} accounts, 2 commands each)",
                       "deposits/s, same run", d["requests_per_s"], holds, "holds/s", ratio=r, goal=">= 0.4x",
                       met=r >= 0.4, note=f"{h['events_per_s']:.0f} events/s"))
        for name, w in (("deposits", d), ("3-leg payments", p), ("holds placed and captured", h)):
            out.append(row(f"Projector events/s under {name} ({lg['accounts']} accounts, whole system)",
                           "events acknowledged/s, same run",
                           w["events_per_s"], w["projected_per_s"], "events/s", ratio=w["ratio"], goal=">= 1.0x",
                           met=w["ratio"] >= 0.98, note=f"drain {w['drain_s']:.1f} s"))
    for p in data.get("load", []):
        n = p["accounts"]
        out += [
            row(f"Projector events/s, deposits at 16 connections over {n} accounts (whole system)",
                "commands acknowledged/s, same run", p["commands_per_s"], p["projected_per_s"], "events/s",
                ratio=p["ratio"], goal=">= 1.0x", met=p["ratio"] >= 0.98,
                note="the projector cannot pass what is acknowledged: within 2% counts as keeping pace"),
            row(f"Read side drained after the load ({n} accounts)", None, None, p["drain_s"], "s", goal="<= 2 s",
                met=p["drain_s"] <= 2),
            row(f"Projector lag p99 during the load ({n} accounts)", None, None, p["lag_s_p99"], "s", goal="<= 1 s",
                met=p["lag_s_p99"] <= 1, note=f"max {p['lag_s_max']:.2f} s, {p['lag_events_max']:.0f} events"),
            row(f"Deposits acknowledged/s end to end ({n} accounts)", None, None, p["commands_per_s"], "req/s",
                goal=">= 2500", met=p["commands_per_s"] >= 2500),
            row(f"Statement pages answered 200 during the load ({n} accounts)", None, None,
                100 * p["statements_ok_share"], "%", goal=">= 99.9 %", met=p["statements_ok_share"] >= 0.999,
                note=f"{p['statements']} probes"),
            row(f"Statement page p99 during the load ({n} accounts)", None, None, p["statement_p99_ms"], "ms",
                goal="<= 20 ms", met=p["statement_p99_ms"] <= 20),
        ]
    po = data.get("projectors")
    if po:
        one, three = po["1"], po["3"]
        r = three["load"]["commands_per_s"] / one["load"]["commands_per_s"]
        out.append(row(f"Deposits acknowledged/s with 3 projectors (whole system, {po['accounts']} accounts)",
                       "the same with 1 projector, same run", one["load"]["commands_per_s"],
                       three["load"]["commands_per_s"], "req/s", ratio=r, goal="not worse (>= 0.95x)", met=r >= 0.95,
                       note=f"projector {one['load']['ratio']:.2f}x vs {three['load']['ratio']:.2f}x the commands, "
                       f"lag p99 {one['load']['lag_s_p99']:.2f} vs {three['load']['lag_s_p99']:.2f} s"))
        r = three["backlog"]["events_per_s"] / one["backlog"]["events_per_s"]
        out.append(row("Projectors' events/s from a backlog, 3 projectors", "the same with 1 projector, same run",
                       one["backlog"]["events_per_s"], three["backlog"]["events_per_s"], "events/s", ratio=r,
                       goal="not worse (>= 0.95x)", met=r >= 0.95,
                       note="two cores shared by everything: more projectors add no CPU here"))
    sc = data.get("scale")
    if sc:
        p, size = sc["load"], f"{sc['accounts']} accounts, {sc['events']} events"
        out += [
            row(f"Projector events/s, deposits at 16 connections ({size} in the store, none remembered)",
                "commands acknowledged/s, same run", p["commands_per_s"], p["projected_per_s"], "events/s",
                ratio=p["ratio"], goal=">= 1.0x", met=p["ratio"] >= 0.98,
                note=f"drain {p['drain_s']:.1f} s, lag p99 {p['lag_s_p99']:.2f} s"),
            row(f"Statement pages answered 200 during the load ({size})", None, None, 100 * p["statements_ok_share"],
                "%", goal=">= 99.9 %", met=p["statements_ok_share"] >= 0.999,
                note=f"{p['statements']} probes, p99 {p['statement_p99_ms']:.1f} ms"),
            row(f"GET account outside the live view p99 ({size})", None, None, sc["outside_view"]["p99_ms"], "ms",
                goal="<= 5 ms", met=sc["outside_view"]["p99_ms"] <= 5),
            row(f"Rebuild from the store ({size})", None, None, sc["rebuild"]["events_per_second"], "events/s",
                goal=">= 50000", met=sc["rebuild"]["events_per_second"] >= 50000,
                note=f"build {sc['rebuild']['build_seconds']:.0f} s, whole run {sc['rebuild']['whole_seconds']:.0f} s"),
        ]
    g = data.get("growth", [])
    if len(g) >= 2:
        small, big = g[0], g[-1]
        r = big["backlog"]["events_per_s"] / small["backlog"]["events_per_s"]
        out.append(row(f"Projector events/s from a backlog at {big['accounts']} accounts", f"the same at "
                       f"{small['accounts']} accounts", small["backlog"]["events_per_s"], big["backlog"]["events_per_s"],
                       "events/s", ratio=r, goal=">= 0.8x", met=r >= 0.8,
                       note=f"deposits over the same {big.get('working_set', 'sampled')} accounts, remembered"
                       + stack_cpu_note(small, big)))
        rc = big["cold"]["events_per_s"] / small["cold"]["events_per_s"]
        out.append(row(f"Projector events/s right after a restart at {big['accounts']} accounts", f"the same at "
                       f"{small['accounts']} accounts", small["cold"]["events_per_s"], big["cold"]["events_per_s"],
                       "events/s", ratio=rc, note="nothing remembered: the accounts' states come from one "
                       "event-store query per batch (before 30 Nov: one read of the read model each, 3470 vs "
                       "7746 events/s)"))
        out.append(row(f"GET account outside the live view p99 at {big['accounts']} accounts",
                       f"the same at {small['accounts']}", small["outside_view"]["p99_ms"],
                       big["outside_view"]["p99_ms"], "ms", goal="<= 5 ms", met=big["outside_view"]["p99_ms"] <= 5))
    for p in g:
        if p["opening"]:
            o = p["opening"]
            out.append(row(f"Projector while accounts open (to {p['accounts']})", "accounts acknowledged/s",
                           o["opened_per_s"], o["projected_per_s"], "events/s", goal="keeps pace",
                           met=o["drain_s"] <= 2, note=f"drain {o['drain_s']:.1f} s, lag max {o['lag_events_max']:.0f}"))
    s = data.get("statements", [])
    for p in s:
        out.append(row(f"Statement page req/s, {p['movements']} movements in the account", "h2o hello-world",
                       p["rate"]["hello_rate"], p["rate"]["query_rate"], "req/s", ratio=p["rate"]["ratio"],
                       goal=">= 0.3x", met=p["rate"]["ratio"]["median"] >= 0.3))
    if len(s) >= 2:
        lo, hi = s[0]["latency"]["query_p50_ms"]["median"], s[-1]["latency"]["query_p50_ms"]["median"]
        out.append(row(f"Statement page p50 at {s[-1]['movements']} movements", f"at {s[0]['movements']} movements",
                       lo, hi, "ms", goal="within 20 %", met=hi <= lo * 1.2))
        lo, hi = s[0]["mongodb"]["p50_ms"], s[-1]["mongodb"]["p50_ms"]
        out.append(row(f"Statement page from MongoDB (view off) p50 at {s[-1]['movements']} movements",
                       f"at {s[0]['movements']} movements", lo, hi, "ms", note="the read model's own cost"))
    return out


def report(args, data):
    lines = ["# The whole system: the read side under sustained writes and growth", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `bench/bench_system.py "
             f"--parts {args.parts} --accounts {args.accounts} --seconds {args.seconds} --clients {args.clients} "
             f"--growth {args.growth} --movements {args.movements} --reps {args.reps} --scale-accounts "
             f"{args.scale_accounts} --scale-events {args.scale_events}` on a shared 2-core machine: the "
             "stack's PostgreSQL, Kafka, FerretDB and four ledgerline processes (release builds, started by "
             "deploy/local/stack.sh as `make run` does, rate limits off) and wrk, all at once.", ""]
    if data.get("load"):
        lines += [f"## Sustained deposits (measured {data.get('load_measured', '')})", "",
                  "| accounts | commands/s | projector events/s | ratio | lag events max / p99 / end | lag s max / "
                  "p99 | drain s | statements 200 | statement p50 / p99 ms |", "|---|---|---|---|---|---|---|---|---|"]
        for p in data["load"]:
            lines.append(f"| {p['accounts']} | {p['commands_per_s']:.0f} | {p['projected_per_s']:.0f} | "
                         f"**{p['ratio']:.2f}** | {p['lag_events_max']:.0f} / {p['lag_events_p99']:.0f} / "
                         f"{p['lag_events_end']:.0f} | {p['lag_s_max']:.2f} / {p['lag_s_p99']:.2f} | "
                         f"{p['drain_s']:.1f} | {p['statements_ok_share'] * 100:.2f} % of {p['statements']} | "
                         f"{p['statement_p50_ms']:.1f} / {p['statement_p99_ms']:.1f} |")
    if data.get("ledger"):
        lines += ["", f"## Ledger depth: payments and holds against deposits (measured {data.get('ledger_measured', '')})",
                  "", "Each workload for --seconds at --clients connections over a funded working set spread over all "
                  "accounts, same run.", "",
                  "| accounts | working set | workload | requests/s | events/s acknowledged | projector events/s | ratio | "
                  "drain s | errors |", "|---|---|---|---|---|---|---|---|---|"]
        for lg in data["ledger"]:
            for name in ("deposits", "payments", "holds"):
                w = lg[name]
                lines.append(f"| {lg['accounts']} | {lg.get('working_set', lg['accounts'])} | {name} | "
                             f"{w['requests_per_s']:.0f} | {w['events_per_s']:.0f} | {w['projected_per_s']:.0f} | "
                             f"**{w['ratio']:.2f}** | {w['drain_s']:.1f} | {w['errors']} |")
    if data.get("growth"):
        lines += ["", f"## Growth: accounts opened through the system (measured {data.get('growth_measured', '')})", "",
                  "| accounts | opened/s while growing | projected events/s meanwhile | lag max events / s | drain s "
                  "| projector from a backlog, events/s | the same right after a restart | GET outside the view p50 / "
                  "p99 ms, req/s |", "|---|---|---|---|---|---|---|---|"]
        for p in data["growth"]:
            o = p["opening"] or {}
            lines.append(f"| {p['accounts']} | {o.get('opened_per_s', 0):.0f} | {o.get('projected_per_s', 0):.0f} | "
                         f"{o.get('lag_events_max', 0):.0f} / {o.get('lag_s_max', 0):.1f} | {o.get('drain_s', 0):.1f} | "
                         f"{p['backlog']['events_per_s']:.0f} (of {p['backlog']['backlog_events']:.0f}) | "
                         f"{p['cold']['events_per_s']:.0f} (of {p['cold']['backlog_events']:.0f}) | "
                         f"{p['outside_view']['p50_ms']:.2f} / {p['outside_view']['p99_ms']:.2f}, "
                         f"{p['outside_view']['rate']:.0f} |")
        cpu = [p for p in data["growth"] if p["backlog"].get("cpu_s")]
        if cpu:
            lines += ["", "CPU seconds while the projector drained the backlog (the median run; postgres backends "
                          "summed):", ""]
            lines += [f"- {p['accounts']} accounts, {p['backlog']['seconds']:.1f} s: " +
                      ", ".join(f"{k} {v}" for k, v in p["backlog"]["cpu_s"].items()) for p in cpu]
    if data.get("scale"):
        sc = data["scale"]
        p = sc["load"]
        lines += ["", f"## At scale: {sc['accounts']} accounts, {sc['events']} events (measured "
                      f"{data.get('scale_measured', '')})", "",
                  f"Loaded into the event store in {sc['load_seconds']:.0f} s; `ledgerline-rebuild --from store` "
                  f"built and verified the read model at {sc['rebuild']['events_per_second']:.0f} events/s (build "
                  f"{sc['rebuild']['build_seconds']:.0f} s, whole run {sc['rebuild']['whole_seconds']:.0f} s). Then, "
                  f"autovacuum quiet (waited {sc.get('autovacuum_wait_s', 0):.0f} s), the stack started on both, "
                  f"and deposits at {args.clients} connections over "
                  f"{p['deposited_accounts']} of the accounts for {args.seconds} s:", "",
                  "| commands/s | projector events/s | ratio | lag events max / p99 / end | lag s max / p99 | drain s "
                  "| statements 200 | statement p50 / p99 ms | GET outside the view p50 / p99 ms |",
                  "|---|---|---|---|---|---|---|---|---|",
                  f"| {p['commands_per_s']:.0f} | {p['projected_per_s']:.0f} | **{p['ratio']:.2f}** | "
                  f"{p['lag_events_max']:.0f} / {p['lag_events_p99']:.0f} / {p['lag_events_end']:.0f} | "
                  f"{p['lag_s_max']:.2f} / {p['lag_s_p99']:.2f} | {p['drain_s']:.1f} | "
                  f"{p['statements_ok_share'] * 100:.2f} % of {p['statements']} | {p['statement_p50_ms']:.1f} / "
                  f"{p['statement_p99_ms']:.1f} | {sc['outside_view']['p50_ms']:.2f} / "
                  f"{sc['outside_view']['p99_ms']:.2f} |"]
    if data.get("projectors"):
        po = data["projectors"]
        lines += ["", f"## One projector or three (measured {data.get('projectors_measured', '')})", "",
                  f"Deposits at {args.clients} connections over {po['accounts']} accounts for {args.seconds} s with the "
                  "stack's projector, then with three in its consumer group (the partitions shared), same stores; "
                  f"then each way a backlog of {args.backlog_seconds} s of deposits built while the projectors were "
                  "paused, timed from their resume.", "",
                  "| projectors | commands/s | projector events/s | ratio | lag s max / p99 | drain s | from a backlog, "
                  "events/s |", "|---|---|---|---|---|---|---|"]
        for c in ("1", "3"):
            p, b = po[c]["load"], po[c]["backlog"]
            lines.append(f"| {c} | {p['commands_per_s']:.0f} | {p['projected_per_s']:.0f} | **{p['ratio']:.2f}** | "
                         f"{p['lag_s_max']:.2f} / {p['lag_s_p99']:.2f} | {p['drain_s']:.1f} | "
                         f"{b['events_per_s']:.0f} (of {b['backlog_events']:.0f}) |")
    if data.get("statements"):
        lines += ["", f"## Statement pages (limit 50) of one account (measured {data.get('statements_measured', '')})",
                  "",
                  f"| movements | hello req/s | query req/s | ratio | query p50 / p99 ms at {args.latency_clients} "
                  "connections | from MongoDB (view off) p50 / p99 ms |", "|---|---|---|---|---|---|"]
        for p in data["statements"]:
            lines.append(f"| {p['movements']} | {fmt(p['rate']['hello_rate'])} | {fmt(p['rate']['query_rate'])} | "
                         f"**{fmt(p['rate']['ratio'], 2)}** | {p['latency']['query_p50_ms']['median']:.2f} / "
                         f"{p['latency']['query_p99_ms']['median']:.2f} | {p['mongodb']['p50_ms']:.2f} / "
                         f"{p['mongodb']['p99_ms']:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
