#!/usr/bin/env bash
# Keeps the benchmarks working: each runs for a few seconds on tiny sizes (release build).
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0 failed=0
for bench in bench/bench_commands.py bench/bench_queries.py bench/bench_projector.py; do
    if "$bench" --smoke >"var/log/$(basename "$bench" .py)-smoke.log" 2>&1; then
        passed=$((passed + 1)); echo "  ok   $bench --smoke"
    else
        failed=$((failed + 1)); echo "  FAIL $bench --smoke (var/log/$(basename "$bench" .py)-smoke.log)"
    fi
done
echo "bench_smoke: $passed passed, $failed failed"
((failed == 0))
