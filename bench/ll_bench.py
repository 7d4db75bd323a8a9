"""What the benchmark drivers share: wrk and pgbench runs, a bench database of their own,
percentiles and spread, process memory, and the JSON each driver leaves in bench/results/ for
bench/report.py (which writes the one table, latest.md, and the plots).

Every figure a driver reports is a ratio to a baseline measured in the same invocation; runs
are repeated and alternate which side goes first, so a noisy neighbour hits both alike."""
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VAR = os.path.join(ROOT, "var", "bench")
# LL_BENCH_RESULTS: somewhere else (the smoke runs in make test write under var/). A --smoke run
# never writes over the measured results, whoever starts it.
RESULTS = os.environ.get("LL_BENCH_RESULTS", os.path.join(VAR, "smoke-results") if "--smoke" in sys.argv
                         else os.path.join(HERE, "results"))
BENCH_BIN = os.path.join(ROOT, "build", "release", "bench")
os.environ.setdefault("LL_TEST_BIN", os.path.join(ROOT, "build", "release", "bin"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from ll_e2e import OPERATOR, post  # noqa: E402

PG_PORT = "55432"  # the PostgreSQL the helpers below talk to (bench_replicated.py switches it)
PG_SOCKET = os.path.join(ROOT, "var", "pg", "socket")
SWEEP = [1, 2, 4, 8, 16, 32, 64]


def sh(cmd, **kw):
    """Runs cmd; returns its stdout, or raises with everything it printed."""
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({out.returncode}): {out.stdout[-2000:]}{out.stderr[-2000:]}")
    return out.stdout


def app_conninfo(db):
    return f"host=127.0.0.1 port={PG_PORT} dbname={db} user=ledgerline password=ledgerline"


def owner_conninfo(db):
    return f"host=127.0.0.1 port={PG_PORT} dbname={db} user=ledgerline_owner password=ledgerline_owner"


def superuser_sql(*statements, db="postgres"):
    psql = ["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-h", PG_SOCKET, "-p", PG_PORT, "-v", "ON_ERROR_STOP=1", "-d", db]
    for s in statements:
        psql += ["-c", s]
    return sh(psql)


def wait_autovacuum_quiet(timeout_s=900):
    """Waits until no autovacuum worker of the local PostgreSQL has run for two checks in a row
    (a store just loaded or rebuilt is vacuumed and analysed for minutes: measuring meanwhile
    measures that). Returns the seconds waited; gives up quietly after timeout_s."""
    t0, quiet = time.time(), 0
    while time.time() - t0 < timeout_s and quiet < 2:
        busy = superuser_sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")
        workers = re.search(r"^\s*(\d+)\s*$", busy, re.M)
        quiet = quiet + 1 if workers and workers.group(1) == "0" else 0
        time.sleep(2)
    return time.time() - t0


def flush_writes():
    """A PostgreSQL CHECKPOINT, then sync(1): what the store wrote just before (loading, a rebuild,
    a million accounts opened) is on disk, so the kernel's writeback of it does not share the
    cores with what is measured next. Returns the seconds it took."""
    t0 = time.time()
    superuser_sql("CHECKPOINT")
    subprocess.run(["sync"], check=True)
    return time.time() - t0


def owner_sql(db, query):
    return sh(["psql", "-X", "-q", "-At", owner_conninfo(db), "-v", "ON_ERROR_STOP=1", "-c", query])


def fresh_database(db):
    """Drops and recreates db as the real one is made (owner, grants, migrations): a bench never
    touches the stack's own database."""
    superuser_sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", f"CREATE DATABASE {db} OWNER ledgerline_owner")
    superuser_sql("REVOKE ALL ON SCHEMA public FROM PUBLIC", "GRANT USAGE, CREATE ON SCHEMA public TO ledgerline_owner",
                  "GRANT USAGE ON SCHEMA public TO ledgerline", db=db)
    sh([os.path.join(os.environ["LL_TEST_BIN"], "ledgerline-migrate")],
       env=dict(os.environ, LEDGERLINE_PG_MIGRATE_CONNINFO=owner_conninfo(db)))


def load_event_store(db, accounts, events, name):
    """Fills db's empty event store with events over accounts (bench/gen_events.c, streamed
    through a FIFO under var/bench/NAME into psql's \\copy while it generates) and their
    account_state rows; returns the seconds it took."""
    tmp = os.path.join(VAR, name)
    os.makedirs(tmp, exist_ok=True)
    fifo = os.path.join(tmp, "events.copy")
    if os.path.exists(fifo):
        os.remove(fifo)
    os.mkfifo(fifo)
    t0 = time.time()
    copy = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", owner_conninfo(db), "-c",
                             f"\\copy events FROM '{fifo}'"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    gen = subprocess.run([os.path.join(BENCH_BIN, "gen_events"), "--copy", tmp, "--events", str(events), "--accounts",
                          str(accounts)], capture_output=True, text=True)
    _, copy_err = copy.communicate(timeout=3600)
    os.remove(fifo)
    if gen.returncode != 0 or copy.returncode != 0:
        raise RuntimeError(f"loading the store: {gen.stderr} {copy_err}")
    states = os.path.join(tmp, "account_state.copy")
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", owner_conninfo(db), "-c",
                    f"\\copy account_state FROM '{states}'"], check=True, capture_output=True)
    os.remove(states)
    # The command service takes positions from the sequence: past the loaded ones.
    owner_sql(db, "SELECT setval('events_position_seq', (SELECT max(global_position) FROM events)); "
                  "ANALYZE events; ANALYZE account_state")
    return time.time() - t0


def drop_database(db):
    superuser_sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def bench_accounts_table(db, ids=None):
    """pgbench's map from 1..n to account ids: the given ids, or every account in the store."""
    owner_sql(db, "DROP TABLE IF EXISTS bench_accounts")
    if ids is None:
        owner_sql(db, "CREATE TABLE bench_accounts AS SELECT row_number() OVER (ORDER BY account_id)::int AS n, "
                      "account_id AS id FROM account_state")
    else:
        owner_sql(db, "CREATE TABLE bench_accounts (n int, id uuid NOT NULL)")
        values = ",".join(f"({i + 1},'{a}')" for i, a in enumerate(ids))
        owner_sql(db, f"INSERT INTO bench_accounts VALUES {values}")
    owner_sql(db, "ALTER TABLE bench_accounts ADD PRIMARY KEY (n); GRANT SELECT ON bench_accounts TO ledgerline; "
                  "ANALYZE bench_accounts")
    return int(owner_sql(db, "SELECT count(*) FROM bench_accounts"))


def run_wrk(port, clients, seconds, script, data_file, threads=2, auth=OPERATOR):
    """Runs wrk with bench/<script> against 127.0.0.1:port, passing data_file and an operator's
    bearer token (auth) to the script (every request carries it, the baseline's too, so both
    sides parse the same bytes). Returns rate (requests/s), p50/p90/p99/p999 in ms and errors
    (non-2xx and socket errors)."""
    out = sh(["wrk", "-t", str(min(threads, clients)), "-c", str(clients), "-d", f"{seconds}s", "--timeout", "10s",
              "-s", os.path.join(HERE, script), f"http://127.0.0.1:{port}", "--", data_file, auth])
    s = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    r = {"rate": s["requests"] / (s["duration_us"] / 1e6), "errors": s["non2xx"] + s["socket_errors"]}
    for p in ("p50", "p90", "p99", "p999"):
        r[p + "_ms"] = s[p + "_us"] / 1000
    return r


def start_wrk(port, clients, seconds, script, data_file, threads=1, auth=OPERATOR):
    """wrk in the background (a load while something else is measured); finish it with
    finish_wrk."""
    return subprocess.Popen(["wrk", "-t", str(min(threads, clients)), "-c", str(clients), "-d", f"{seconds}s",
                             "--timeout", "10s", "-s", os.path.join(HERE, script), f"http://127.0.0.1:{port}", "--",
                             data_file, auth],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_wrk(proc):
    out, err = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed: {err}")
    s = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    return {"rate": s["requests"] / (s["duration_us"] / 1e6), "errors": s["non2xx"] + s["socket_errors"]}


def run_pgbench(db, clients, seconds, script, accounts):
    """pgbench with bench/<script> (one transaction per command) on db. Returns rate (tx/s),
    p50/p90/p99/p999 in ms from its per-transaction log, and errors (failed transactions)."""
    os.makedirs(VAR, exist_ok=True)
    for f in glob.glob(os.path.join(VAR, "pgbench_log*")):
        os.remove(f)
    out = sh(["pgbench", "-n", "-h", "127.0.0.1", "-p", PG_PORT, "-U", "ledgerline", "-c", str(clients), "-j",
              str(min(2, clients)), "-T", str(seconds), "-D", f"naccounts={accounts}", "-f",
              os.path.join(HERE, script), "--log", "--log-prefix", os.path.join(VAR, "pgbench_log"), db],
             env=dict(os.environ, PGPASSWORD="ledgerline"))
    tps, failed = pgbench_summary(out)
    lat = []
    for f in glob.glob(os.path.join(VAR, "pgbench_log*")):
        with open(f) as fh:
            lat.extend(int(line.split()[2]) for line in fh if line.strip())
    r = {"rate": tps, "errors": failed}
    for p, q in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)):
        r[p + "_ms"] = percentile(lat, q) / 1000
    return r


def pgbench_summary(out):
    """(transactions/s, failed transactions) from what pgbench printed."""
    tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out)
    return tps, int(failed.group(1)) if failed else 0


def percentiles(values):
    """p50, p99, p99.9 and the max of latencies in ms, and how many there were."""
    return {"p50_ms": percentile(values, 50), "p99_ms": percentile(values, 99),
            "p999_ms": percentile(values, 99.9), "max_ms": max(values), "n": len(values)}


def percentile(values, p):
    """The p-th percentile (nearest rank) of values."""
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def spread(values):
    """median, min, max of values."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}


def compare(reps, baseline, ours, measure, label, keys=("rate", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "errors")):
    """reps runs of measure(baseline) and measure(ours), alternating which goes first. Returns
    the spread of each side's keys over the runs as out["<side>_<key>"], and of the per-run
    ratio ours/baseline rate (each pair measured back to back) as out["ratio"]."""
    runs = alternating(reps, baseline, ours, measure, label=label)
    out = {"ratio": spread([r[ours]["rate"] / r[baseline]["rate"] for r in runs])}
    for side in (baseline, ours):
        for key in keys:
            out[f"{side}_{key}"] = spread([r[side][key] for r in runs])
    print(f"[bench]   {baseline} {out[baseline + '_rate']['median']:.0f}/s  {ours} {out[ours + '_rate']['median']:.0f}/s"
          f"  ratio {out['ratio']['median']:.2f}", flush=True)
    return out


def alternating(reps, first, second, measure, label=""):
    """Runs measure(side) for both sides reps times, alternating which goes first. Returns a list
    of {first: result, second: result} per rep."""
    runs = []
    for rep in range(reps):
        order = [first, second] if rep % 2 == 0 else [second, first]
        r = {}
        for side in order:
            print(f"[bench] {label}rep {rep + 1}/{reps}: {side}", flush=True)
            r[side] = measure(side)
        runs.append(r)
    return runs


def open_accounts(port, n, prefix, deposits=()):
    """Opens n EUR accounts through the command service on port (owners prefix-0, prefix-1, ...),
    each followed by a deposit of every amount in deposits. Returns their ids."""
    ids = []
    for i in range(n):
        status, _, body = post("/v1/accounts", {"owner": f"{prefix}-{i}", "currency": "EUR"}, port=port)
        if status != 201:
            raise RuntimeError(f"open account: {status} {body}")
        ids.append(body["account_id"])
        for amount in deposits:
            status, _, body = post(f"/v1/accounts/{ids[-1]}/deposits", {"amount_minor": amount, "currency": "EUR"},
                                   port=port)
            if status != 201:
                raise RuntimeError(f"deposit: {status} {body}")
    return ids


def write_lines(name, lines):
    """Writes lines to VAR/name (a file for wrk or a baseline program); returns its path."""
    path = os.path.join(VAR, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def fmt_spread(s, digits=0):
    """A spread() as "median (min-max)"."""
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def finish(name, data, text, errors, smoke):
    """A driver's end: prints its report, saves it (save()), says the smoke verdict make test
    counts, and returns the exit status."""
    print(text)
    save(name, data, text)
    if smoke:
        print(f"bench_{name}_smoke: {int(errors == 0)} passed, {int(errors != 0)} failed")
    return 1 if errors else 0


def rss_mib(proc):
    """(current, peak) resident memory of a running process in MiB, from /proc."""
    fields = {}
    with open(f"/proc/{proc.pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    kib = lambda k: int(fields[k].split()[0]) if k in fields else 0  # noqa: E731
    return kib("VmRSS") / 1024, kib("VmHWM") / 1024


def save(name, data, text):
    """Writes RESULTS/<name>.json (what report.py reads), with when and how it was measured, and
    the driver's detailed report RESULTS/<name>.md."""
    data = dict({"measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "command": " ".join(sys.argv)},
                **data)  # a driver's report made again from its last results keeps theirs
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f"{name}.json"), "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(RESULTS, f"{name}.md"), "w") as f:
        f.write(text)


def row(name, baseline_name, baseline, ours, unit, ratio=None, goal=None, met=None, note=""):
    """One row of latest.md: ours and the baseline, each a number or a spread() of runs; the
    ratio ours/baseline: given as the spread() of per-run ratios (each run's pair measured back
    to back), else the ratio of the medians; the goal and whether it is met."""
    def med(v):
        return v["median"] if isinstance(v, dict) else v
    if ratio is not None:
        pass
    elif baseline is not None and ours is not None and med(baseline):
        ratio = med(ours) / med(baseline)
    else:
        ratio = None
    return {"name": name, "baseline_name": baseline_name, "baseline": baseline, "ours": ours, "unit": unit,
            "ratio": ratio, "goal": goal, "met": met, "note": note}
