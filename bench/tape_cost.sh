#!/bin/sh
# Instructions per op of the tape on the 1-element chain (tapegrad, and ADOL-C when built), counted by
# callgrind: the instrumented repeats of an N-op chain minus those of a 3-op chain (the fixed cost of a
# backward call; one op of each kind), over (N - 3) * REPEATS.
# Also prints each side's wall time per op (outside valgrind). Usage: bench/tape_cost.sh [BUILD_DIR] [N] [REPEATS]
set -eu
build=${1:-build}
n=${2:-1000}
reps=${3:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Total instructions of the instrumented part of one run.
count() {
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$tmp/out" "$@" >/dev/null 2>"$tmp/err"
    sed -n 's/^totals: *//p' "$tmp/out"
}

per_op() {  # name, then the program and its arguments before N REPEATS
    name=$1
    shift
    full=$(count "$@" "$n" "$reps")
    base=$(count "$@" 3 "$reps")
    wall=$("$@" "$n" $((reps * 10)) | sed -n 's/.* \([0-9.]*\) us\/op.*/\1/p')
    awk -v f="$full" -v b="$base" -v n="$n" -v r="$reps" -v name="$name" -v w="$wall" \
        'BEGIN { printf "%-22s %10.1f instructions/op %8s us/op\n", name, (f - b) / ((n - 3) * r), w }'
}

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'); chain of $n 1-element ops, $reps repeats"
per_op "tapegrad fwd+bwd" "$build/bench/tapegrad_bench_tape_cost"
per_op "tapegrad fwd (no grad)" "$build/bench/tapegrad_bench_tape_cost" --nograd
if [ -x "$build/bench/tapegrad_bench_adolc" ]; then
    per_op "adolc retape+reverse" "$build/bench/tapegrad_bench_adolc" retape
    per_op "adolc reuse tape" "$build/bench/tapegrad_bench_adolc" reuse
else
    echo "adolc: $build/bench/tapegrad_bench_adolc not built (install libadolc-dev and reconfigure)"
fi
