#!/usr/bin/env bash
# Runs test binaries and scripts, adds up their "N passed, N failed" lines and ends with the total.
# A test that exits non-zero without such a line (a crash, a sanitizer report) counts as one failure.
# Usage: tests/run.sh TEST...     Exit status: 0 when nothing failed.
# A TEST may carry arguments in the same word ("tests/faults/test_faults.py --soak").
set -uo pipefail
total_passed=0 total_failed=0
for t in "$@"; do
    read -r -a cmd <<<"$t"
    name=$(basename "${cmd[0]}")
    echo "== $name"
    out=$(mktemp)
    "${cmd[@]}" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '^([A-Za-z0-9_.-]+: )?[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    rm -f "$out"
    if [[ -n "$line" ]]; then
        p=$(sed -E 's/.*\b([0-9]+) passed.*/\1/' <<<"$line")
        f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
        ((rc != 0 && f == 0)) && f=1   # a non-zero exit is a failure even after a clean summary
    else
        p=0 f=1
        echo "  FAIL $name exited $rc without a summary line"
    fi
    total_passed=$((total_passed + p)) total_failed=$((total_failed + f))
done
echo "$total_passed passed, $total_failed failed"
((total_failed == 0))
