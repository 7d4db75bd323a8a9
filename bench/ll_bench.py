"""What the benchmark drivers share: running wrk with one of bench/'s Lua scripts, and
percentiles. Each Lua script's done() prints one JSON line that run_wrk reads."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_wrk(port, clients, seconds, script, data_file):
    """Runs wrk (2 threads) with bench/<script> against 127.0.0.1:port, passing data_file to the
    script with an operator's bearer token (every request carries it, the baseline's too, so both
    sides parse the same bytes). Returns rate (requests/s), p50_ms, p99_ms and errors (non-2xx
    and socket errors)."""
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
    from ll_e2e import OPERATOR

    out = subprocess.run(["wrk", "-t", "2", "-c", str(clients), "-d", f"{seconds}s", "-s", os.path.join(HERE, script),
                          f"http://127.0.0.1:{port}", "--", data_file, OPERATOR],
                         capture_output=True, text=True, check=True).stdout
    s = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    return {"rate": s["requests"] / (s["duration_us"] / 1e6), "p50_ms": s["p50_us"] / 1000,
            "p99_ms": s["p99_us"] / 1000, "errors": s["non2xx"] + s["socket_errors"]}


def percentile(values, p):
    """The p-th percentile (nearest rank) of values."""
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]
