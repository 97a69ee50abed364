#!/usr/bin/env bash
# bench/gpu: whole-model CUDA figures next to the copy-bandwidth ceiling measured in the same run,
# on random-weight GGUFs made here by our own generator (paddock_make_test_model).
# Usage: bench/gpu/run.sh SHAPE... (L1 = Llama-3.2-1B shape, L8 = Llama-3.1-8B shape)
#   env: BIN (folder with paddock_bench_gpu and paddock_make_test_model; default build/cuda's),
#        MODELS=/tmp/paddock-gpu, TYPES="q4_K_M q8_0 f16", BATCHES="1 8", PP=512, TG=128, REPS=3
# Output: one JSON line per run (bench_gpu's), prefixed with the shape and type.
set -euo pipefail
cd "$(dirname "$0")/../.."
GEN=${BIN:+$BIN/paddock_make_test_model}; GEN=${GEN:-build/cuda/tests/unit/model/paddock_make_test_model}
BENCH=${BIN:+$BIN/paddock_bench_gpu}; BENCH=${BENCH:-build/cuda/bench/paddock_bench_gpu}
MODELS=${MODELS:-/tmp/paddock-gpu}
TYPES=${TYPES:-"q4_K_M q8_0 f16"}
BATCHES=${BATCHES:-"1 8"}
mkdir -p "$MODELS"
declare -A SHAPES=(
  [L1]="n_embd=2048:n_layer=16:n_head=32:n_head_kv=8:n_ff=8192:n_vocab=128256:n_ctx=131072"
  [L8]="n_embd=4096:n_layer=32:n_head=32:n_head_kv=8:n_ff=14336:n_vocab=128256:n_ctx=131072"
)
for shape in "$@"; do
  for type in $TYPES; do
    case $type in
      q4_K_M) spec="llama:q4_K:type_hi=q6_K:${SHAPES[$shape]}" ;;
      *) spec="llama:$type:${SHAPES[$shape]}" ;;
    esac
    file="$MODELS/${shape}_$type.gguf"
    if [[ ! -f $file ]]; then
      t0=$(date +%s)
      out=$("$GEN" "$MODELS" "$spec")
      mv "$(echo "$out" | awk '{print $3}')" "$file"
      echo "# made $file in $(( $(date +%s) - t0 )) s ($(du -h "$file" | cut -f1))" >&2
    fi
    for b in $BATCHES; do
      line=$("$BENCH" "$file" --pp "${PP:-512}" --tg "${TG:-128}" --batch "$b" --reps "${REPS:-3}" | tail -1)
      echo "{\"shape\":\"$shape\",\"type\":\"$type\",${line#\{}"
    done
  done
done
