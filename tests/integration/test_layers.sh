#!/usr/bin/env bash
# The build refuses an include that runs back up or sideways: each probe in tests/layers/ includes
# a header its floor may not see, and must fail to compile with that floor's own include paths
# (the Makefile's, `make layer-check`) while compiling with all of them.
cd "$(dirname "$0")/../.." || exit 1
out=$(make -s --no-print-directory layer-check 2>&1)
echo "$out"
grep -qE '^layers: [0-9]+ passed, [0-9]+ failed' <<<"$out" || echo "layers: 0 passed, 1 failed"
