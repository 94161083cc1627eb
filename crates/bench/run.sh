#!/usr/bin/env bash
# Runs every Cards Galore benchmark and prints the Markdown tables of BENCHMARKS.md.
#
#   crates/bench/run.sh                 # store level (criterion + paired ratios), CSV import,
#                                       # key operations, rotation variants
#   BENCH_ROTATE_1GB=1 crates/bench/run.sh    # also rotate a 1 GB database
#   BENCH_QUICK=1 crates/bench/run.sh   # smaller import (200k rows), one rotation per size
#
# Other knobs: BENCH_IMPORT_ROWS, BENCH_IMPORT_REPS, BENCH_ROTATE_SIZES, BENCH_ROTATE_REPS,
# BENCH_ROTATE_CACHE=warm, BENCH_PAIRED_ROUNDS, BENCH_PAIRED_SHA256=0 (skip the HMAC-SHA256
# experiment), BENCH_VARIANTS=0 (skip the rotation variants), BENCH_HTTP_SECONDS (per HTTP cell). Temporary databases
# go under /var/tmp and are removed. The tables are also written to target/bench-results.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
out="$target/bench-results.md"
started=$(date +%s)

if [[ "${BENCH_QUICK:-0}" == 1 ]]; then
    export BENCH_IMPORT_ROWS="${BENCH_IMPORT_ROWS:-200000}" BENCH_IMPORT_REPS="${BENCH_IMPORT_REPS:-1}"
    export BENCH_ROTATE_REPS="${BENCH_ROTATE_REPS:-1}" BENCH_VARIANTS_REPS="${BENCH_VARIANTS_REPS:-1}"
    export BENCH_PAIRED_ROUNDS="${BENCH_PAIRED_ROUNDS:-11}"
fi

cargo build --release -q -p cardsgalore-bench --bins
cargo build --release -q -p cardsgalore
rm -rf "$target/criterion"
cargo bench -q -p cardsgalore-bench --bench store >&2

{
    echo "## Benchmark run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
        "$(free -g | awk '/^Mem:/ {print $2}') GiB memory; git $(git rev-parse --short HEAD 2>/dev/null || echo '?');" \
        "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine inflates absolute times; ratios are measured side by side)."
    echo
    "$target/release/report" "$target/criterion"
    BENCH_PAIRED_SHA256="${BENCH_PAIRED_SHA256:-1}" "$target/release/paired"
    "$target/release/import"
    "$target/release/keyops"
    "$target/release/http"
    if [[ "${BENCH_VARIANTS:-1}" == 1 ]]; then
        "$target/release/rotate_variants"
    fi
    echo "Whole run: $(( $(date +%s) - started )) s; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
} | tee "$out"
echo "(tables saved to $out)" >&2
