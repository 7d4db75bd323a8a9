#!/usr/bin/env bash
# Keeps the benchmarks working: each runs for a few seconds on tiny sizes (release build),
# writing its results under var/ (never over bench/results/), then bench/report.py makes the
# table and the plots from them.
set -uo pipefail
cd "$(dirname "$0")/.."
export LL_BENCH_RESULTS=var/bench/smoke-results
rm -rf "$LL_BENCH_RESULTS"
passed=0 failed=0
for step in "bench/bench_commands.py --smoke" "bench/bench_replicated.py --smoke" "bench/bench_queries.py --smoke" "bench/bench_projector.py --smoke" \
            "bench/bench_scale.py --smoke" "bench/bench_system.py --smoke" "bench/bench_peer.py --smoke" \
            "bench/report.py --no-readme"; do
    name=$(basename "${step%% *}" .py)
    if $step >"var/log/$name-smoke.log" 2>&1; then
        passed=$((passed + 1)); echo "  ok   $step"
    else
        failed=$((failed + 1)); echo "  FAIL $step (var/log/$name-smoke.log)"
    fi
done
echo "bench_smoke: $passed passed, $failed failed"
((failed == 0))
