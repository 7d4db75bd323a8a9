#!/usr/bin/env bash
# Keeps the benchmarks working: each runs for a few seconds on tiny sizes (release build).
set -uo pipefail
cd "$(dirname "$0")/.."
exec bench/bench_commands.py --smoke
