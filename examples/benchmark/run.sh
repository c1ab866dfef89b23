#!/bin/sh
# Runs the side-by-side benchmark and regenerates docs/benchmarks.md and
# docs/benchmarks-ratios.svg. `make bench` calls this. Extra arguments go to
# benchrun (for example -reps 1 -duration 1s for a quick look).
set -eu
cd "$(dirname "$0")"
exec go run ./cmd/benchrun -out ../../docs "$@"
