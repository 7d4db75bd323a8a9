#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each (default 10: the short run of make test; make fuzz
# passes more). New corpus entries go to var/fuzz/corpus/<target>/ (seeds in tests/fuzz/corpus/
# are only read); crashes go to var/fuzz/artifacts/. Any crash is a failure: copy the artifact
# into tests/fuzz/corpus/<target>/ and add a regression test before fixing.
# Usage: tests/fuzz/run.sh [SECONDS]    Ends with "fuzz: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
passed=0 failed=0
mkdir -p var/fuzz/artifacts
for bin in build/fuzz/fuzz_*; do
    name=$(basename "$bin"); target=${name#fuzz_}
    mkdir -p "var/fuzz/corpus/$target"
    log=var/fuzz/$name.log
    if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix=var/fuzz/artifacts/"$name"- "var/fuzz/corpus/$target" "tests/fuzz/corpus/$target" \
        >"$log" 2>&1; then
        runs=$(grep -aEo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$')
        echo "  ok   $name (${runs:-?} inputs in ${seconds}s)"
        passed=$((passed + 1))
    else
        echo "  FAIL $name: see $log and var/fuzz/artifacts/"
        grep -E 'ERROR|SUMMARY|==[0-9]+==' "$log" | head -n 5
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
((failed == 0))
