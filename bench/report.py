#!/usr/bin/env python3
"""Writes bench/results/latest.md, the one table of every benchmark's rows (baseline, ours,
ratio, goal), with resident memory per process, and the gnuplot plots (PNG) of throughput and
latency against concurrency and of freshness percentiles; then puts the table into README.md
between its bench markers. Reads what the drivers left in bench/results/*.json, so it can be
rerun on its own.

Usage: bench/report.py [--no-readme]
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.environ.get("LL_BENCH_RESULTS", os.path.join(HERE, "results"))  # as ll_bench.py
PLOTS = os.path.join(RESULTS, "plots")
DRIVERS = [("system", "The whole system: the read side under load and growth"), ("commands", "Commands"),
           ("replicated", "Commands with a synchronous standby"), ("queries", "Queries and freshness"), ("peer", "Against a CDC pipeline (Debezium, Kafka Connect, MongoDB sink)"), ("projector", "Projector and rebuild"), ("scale", "Scale curve")]
README_BEGIN = "<!-- bench:begin (bench/report.py writes this part) -->"
README_END = "<!-- bench:end -->"


def load():
    out = {}
    for name, _ in DRIVERS:
        path = os.path.join(RESULTS, f"{name}.json")
        if os.path.exists(path):
            with open(path) as f:
                out[name] = json.load(f)
    return out


def num(v, unit):
    if v is None:
        return "-"
    digits = 2 if unit == "ms" else 0
    if isinstance(v, dict):
        if v["runs"] > 1:
            return f"{v['median']:.{digits}f} ({v['min']:.{digits}f}-{v['max']:.{digits}f})"
        v = v["median"]
    return f"{v:.{digits}f}"


def ratio(r):
    v = r["ratio"]
    if v is None:
        return "-"
    if isinstance(v, dict):
        text = f"**{v['median']:.2f}**"
        return text + (f" ({v['min']:.2f}-{v['max']:.2f})" if v["runs"] > 1 else "")
    return f"**{v:.2f}**"


def goal(r):
    if not r["goal"]:
        return ""
    return f"{r['goal']} {'met' if r['met'] else '**not met**'}"


def table(data):
    lines = ["| benchmark | baseline | baseline figure | ledgerline | unit | ratio (ours / baseline) | goal |",
             "|---|---|---|---|---|---|---|"]
    for name, title in DRIVERS:
        if name not in data:
            continue
        lines.append(f"| **{title}** ([details]({name}.md), {data[name]['measured']}) | | | | | | |")
        for r in data[name]["rows"]:
            note = f" ({r['note']})" if r.get("note") else ""
            lines.append(f"| {r['name']}{note} | {r['baseline_name']} | {num(r['baseline'], r['unit'])} | "
                         f"{num(r['ours'], r['unit'])} | {r['unit']} | {ratio(r)} | {goal(r)} |")
    return lines


def memory(data):
    lines = ["| process (where measured) | RSS MiB | peak MiB |", "|---|---|---|"]
    for name, _ in DRIVERS:
        for proc, m in sorted(data.get(name, {}).get("rss_mib", {}).items()):
            lines.append(f"| {proc} ({name}) | {m['rss']:.0f} | {m['peak']:.0f} |")
    return lines


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def write_dat(name, header, rows):
    path = os.path.join(PLOTS, name)
    with open(path, "w") as f:
        f.write("# " + " ".join(header) + "\n")
        for r in rows:
            f.write(" ".join(f"{x}" for x in r) + "\n")
    return path


def sweep_plots(title, sweep, base, ours, base_label, ours_label, stem):
    """Throughput and latency (p50, p99) against connections; medians with min-max bars."""
    rows = [[p["clients"]] + [p[f"{side}_{k}"][s] for side in (base, ours) for k in ("rate",) for s in
                              ("median", "min", "max")] + [p[f"{side}_{k}"]["median"] for side in (base, ours)
                                                           for k in ("p50_ms", "p99_ms")] for p in sweep]
    dat = write_dat(f"{stem}.dat", ["clients", f"{base}_rate", "min", "max", f"{ours}_rate", "min", "max",
                                    f"{base}_p50", f"{base}_p99", f"{ours}_p50", f"{ours}_p99"], rows)
    common = ("set terminal pngcairo size 900,520 font 'sans,10'\nset logscale x 2\nset grid\n"
              "set xlabel 'concurrent connections'\nset key top left\n")
    gnuplot(common + f"set output '{PLOTS}/{stem}_throughput.png'\nset title '{title}: throughput'\n"
            "set ylabel 'requests per second (median, min-max bars)'\nset yrange [0:*]\n"
            f"plot '{dat}' using 1:2:3:4 with yerrorlines lw 2 title '{base_label}', "
            f"'{dat}' using 1:5:6:7 with yerrorlines lw 2 title '{ours_label}'\n")
    gnuplot(common + f"set output '{PLOTS}/{stem}_latency.png'\nset title '{title}: latency percentiles'\n"
            "set ylabel 'milliseconds (median of runs)'\nset logscale y\n"
            f"plot '{dat}' using 1:8 with linespoints lw 2 title '{base_label} p50', "
            f"'{dat}' using 1:9 with linespoints lw 2 dt 2 title '{base_label} p99', "
            f"'{dat}' using 1:10 with linespoints lw 2 title '{ours_label} p50', "
            f"'{dat}' using 1:11 with linespoints lw 2 dt 2 title '{ours_label} p99'\n")
    return [f"{stem}_throughput.png", f"{stem}_latency.png"]


def freshness_plot(fresh):
    def med(f, part, key):
        vals = sorted(r[part][key] for r in f["runs"] if r[part])
        return vals[len(vals) // 2] if vals else 0
    rows = []
    for f in fresh:
        rows.append([f'"Kafka floor, load {f["load"]}"'] + [med(f, "floor", k) for k in ("p50_ms", "p99_ms", "p999_ms")])
        rows.append([f'"ledgerline, load {f["load"]}"'] + [med(f, "fresh", k) for k in ("p50_ms", "p99_ms", "p999_ms")])
    dat = write_dat("freshness.dat", ["case", "p50", "p99", "p999"], rows)
    gnuplot("set terminal pngcairo size 900,520 font 'sans,10'\n"
            f"set output '{PLOTS}/freshness.png'\nset title 'Freshness: deposit 201 -> readable, vs the raw Kafka floor'\n"
            "set style data histogram\nset style histogram cluster gap 1\nset style fill solid 0.8 border -1\n"
            "set ylabel 'milliseconds (median of runs)'\nset grid ytics\nset key top left\nset logscale y\n"
            "set xtics rotate by -20 offset -1,0\nset xlabel 'background load: connections of deposits'\n"
            f"plot '{dat}' using 2:xtic(1) title 'p50', '' using 3 title 'p99', '' using 4 title 'p99.9'\n")
    return ["freshness.png"]


def peer_plot(peer):
    """Freshness distributions, commit -> readable, both pipelines, one panel per load."""
    fresh = {int(k): v for k, v in peer.get("freshness", {}).items() if "cdf" in v}
    if not fresh:
        return []
    sides = (("peer", "CDC peer: MongoDB"), ("ledgerline", "ledgerline: MongoDB"),
             ("ledgerline_api", "ledgerline: query API"))
    script = ("set terminal pngcairo size 1200,420 font 'sans,10'\n"
              f"set output '{PLOTS}/peer_freshness.png'\n"
              f"set multiplot layout 1,{len(fresh)} title 'Freshness, commit -> readable: CDC pipeline vs ledgerline'\n"
              "set logscale x\nset grid\nset xlabel 'milliseconds'\nset xrange [0.3:10000]\nset yrange [0:100]\n"
              "set key bottom right opaque box\n")
    for load, r in sorted(fresh.items()):
        dat = write_dat(f"peer_freshness_{load}.dat", ["percentile"] + [s for s, _ in sides],
                        [[q] + [r["cdf"][s][i] for s, _ in sides] for i, q in enumerate(r["cdf_at"])])
        script += (f"set title '{'idle' if load == 0 else f'{load} connections of deposits'}'\n"
                   "set ylabel 'percent of deposits readable'\n"
                   "plot " + ", ".join(f"'{dat}' using {i + 2}:1 with lines lw 2 title '{label}'"
                                       for i, (_, label) in enumerate(sides)) + "\n")
    gnuplot(script + "unset multiplot\n")
    return ["peer_freshness.png"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-readme", action="store_true", help="do not update README.md")
    args = ap.parse_args()
    data = load()
    if not data:
        print("report: no results in bench/results/*.json; run make bench first", file=sys.stderr)
        return 1
    os.makedirs(PLOTS, exist_ok=True)
    plots = []
    if "commands" in data:
        plots += sweep_plots("Deposits", data["commands"]["sweep"], "pgbench", "ledgerline", "pgbench (same SQL)",
                             "ledgerline-command", "commands")
    if "queries" in data:
        plots += sweep_plots("GET account", data["queries"]["account_sweep"], "hello", "query", "h2o hello-world",
                             "ledgerline-query", "queries")
        plots += freshness_plot(data["queries"]["freshness"])
    if "peer" in data:
        plots += peer_plot(data["peer"])
    summary = table(data)
    lines = ["# Benchmarks: the latest figures", "",
             "Every figure is a ratio to a baseline measured in the same run on the same shared 2-core machine; "
             "cells show the median and, over several runs, (min-max). Written by `bench/report.py` from "
             "`make bench` (bench/README.md says what each benchmark does).", ""] + summary + \
            ["", "## Resident memory", ""] + memory(data) + ["", "## Plots", ""] + \
            [f"![{p}](plots/{p})" for p in plots] + [""]
    with open(os.path.join(RESULTS, "latest.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(summary))
    if not args.no_readme:
        readme = os.path.join(ROOT, "README.md")
        with open(readme) as f:
            text = f.read()
        if README_BEGIN in text and README_END in text:
            head, rest = text.split(README_BEGIN, 1)
            _, tail = rest.split(README_END, 1)
            block = "\n".join([README_BEGIN, "", *[line.replace("](", "](bench/results/", 1)
                                                   if line.startswith("| **") else line for line in summary],
                               "", "Plots and memory: [bench/results/latest.md](bench/results/latest.md).", "",
                               README_END])
            with open(readme, "w") as f:
                f.write(head + block + tail)
    print(f"report: wrote {os.path.relpath(RESULTS, ROOT)}/latest.md and {len(plots)} plots")
    return 0


if __name__ == "__main__":
    sys.exit(main())
