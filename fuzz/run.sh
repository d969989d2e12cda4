#!/usr/bin/env bash
# Builds the fuzz targets with clang and runs each for a bounded time from the committed seeds; any finding fails.
#   fuzz/run.sh [seconds per target, default 60]
# A crash, a leak, an allocation over the -malloc_limit_mb bound, a slow input (-timeout) or an
# exception other than tapegrad::FileError stops a target; its input is kept in
# build-fuzz/crash-* (add it to fuzz/corpus/ once fixed: the test suite replays that corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=build-fuzz

cmake -S fuzz -B "$build" -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

status=0
# target, seed directory, dictionary, largest input
for spec in "idx idx idx.dict 16384" "npz npz npz.dict 16384" "npy_header npy npz.dict 10012" \
            "safetensors safetensors safetensors.dict 16384"; do
  read -r target seeds dict max_len <<<"$spec"
  work="$build/corpus-$target"  # what the fuzzer finds goes here, the committed seeds stay as they are
  mkdir -p "$work"
  log="$build/fuzz_$target.log"
  if ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 "$build/fuzz_$target" "$work" "fuzz/corpus/$seeds" \
      -dict="fuzz/$dict" -max_len="$max_len" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -malloc_limit_mb=64 -artifact_prefix="$build/crash-$target-" \
      -print_final_stats=1 >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz_$target: $runs executions in ${seconds}s, $cov, no finding"
  else
    echo "fuzz_$target: FAILED (log: $log)"
    grep -E -A30 '^==[0-9]+==|SUMMARY|Test unit written|uncaught|terminate' "$log" | head -80 || tail -40 "$log"
    status=1
  fi
done
exit $status
