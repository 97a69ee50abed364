#!/usr/bin/env bash
# Runs every benchmark suite (called by `make bench` with its build directory): the Google
# Benchmark binaries bench/<name>_bench.cpp built in BUILD, the tokenizer comparison with llama.cpp,
# and bench/cpu/run.sh (whole-model CPU speed and memory vs llama.cpp; its own build directory).
# Usage: bench/run.sh [BUILD=build/release]   (env: SKIP="cpu quant tokenizer" to leave suites out)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
SKIP=${SKIP:-}
skip() { [[ " $SKIP " == *" $1 "* ]]; }
if ! skip quant && [[ -x $BUILD/bench/quant_bench ]]; then
  echo "== quant kernels (bench/quant_bench.cpp)"
  nice "$BUILD/bench/quant_bench" --benchmark_min_time=0.2
fi
if ! skip tokenizer && [[ -x $BUILD/bench/tokenizer_bench ]]; then
  echo "== tokenizer vs llama.cpp (bench/tokenizer_bench.mjs)"
  node bench/tokenizer_bench.mjs "$BUILD/bench/tokenizer_bench" 10
fi
if ! skip cpu; then
  echo "== whole model on the CPU vs llama.cpp (bench/cpu/run.sh)"
  bench/cpu/run.sh 2
fi
