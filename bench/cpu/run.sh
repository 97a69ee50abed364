#!/usr/bin/env bash
# bench/cpu: ours vs llama.cpp (node-llama-cpp, same file, same threads) on random-weight GGUF
# models of the Llama-3.2-1B shape (hidden 2048, 16 layers, 32 heads, 8 KV heads, FFN 8192, vocab
# 128256) in Q8_0 and Q4_K_M-like (Q4_K, with Q6_K for attn_v / ffn_down / output), pp512 and
# tg128 tokens/s printed side by side as ratios, plus resident memory at 4k context.
# Usage: bench/cpu/run.sh [THREADS=2]   (env: BUILD=build/bench, MODELS=/tmp/paddock-bench)
# The models (~1.3 GB + ~0.8 GB) are generated once and reused.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${1:-2}
BUILD=${BUILD:-build/bench}
MODELS=${MODELS:-/tmp/paddock-bench}
mkdir -p "$MODELS"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPADDOCK_CUDA=OFF -DPADDOCK_BENCH=OFF >/dev/null
nice cmake --build "$BUILD" -j2 --target paddock_make_test_model paddock_bench_cpu >/dev/null
# Untied output (the real 3.2-1B ties it): 263 M more parameters in the output projection.
SHAPE="n_embd=2048:n_layer=16:n_head=32:n_head_kv=8:n_ff=8192:n_vocab=128256:n_ctx=131072"
declare -A SPEC=([Q8_0]="llama:q8_0:$SHAPE" [Q4_K_M]="llama:q4_K:type_hi=q6_K:$SHAPE")
printf "%-7s %10s %10s %7s %10s %10s %7s\n" model "pp512 ours" "llama.cpp" ratio "tg128 ours" "llama.cpp" ratio
for name in Q8_0 Q4_K_M; do
  file="$MODELS/llama1b_$name.gguf"
  if [[ ! -f $file ]]; then
    out=$("$BUILD/tests/unit/model/paddock_make_test_model" "$MODELS" "${SPEC[$name]}")
    mv "$(echo "$out" | awk '{print $3}')" "$file"
  fi
  ours=$("$BUILD/tests/unit/model/paddock_bench_cpu" "$file" --threads "$THREADS" --pp 512 --tg 128 --ctx 4096)
  theirs=$(node bench/cpu/llamacpp_bench.mjs "$file" "$THREADS" 512 128)
  python3 - "$name" "$ours" "$theirs" <<'PY'
import json, sys
name, o, t = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"{name:7s} {o['pp_tps']:10.2f} {t['pp_tps']:10.2f} {o['pp_tps']/t['pp_tps']:6.2f}x {o['tg_tps']:10.2f} {t['tg_tps']:10.2f} {o['tg_tps']/t['tg_tps']:6.2f}x")
gib = 1 << 30
over = o['rss_bytes'] - o['weight_bytes'] - o['kv_bytes']
print(f"        memory @4k ctx: rss {o['rss_bytes']/gib:.3f} GiB = weights {o['weight_bytes']/gib:.3f} + KV {o['kv_bytes']/gib:.3f} + other {over/gib:.3f} GiB")
PY
done
