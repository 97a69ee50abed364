#!/usr/bin/env bash
# bench/cpu: ours vs llama.cpp (node-llama-cpp, same file, same threads) on random-weight GGUF
# models of the Llama-3.2-1B shape (hidden 2048, 16 layers, 32 heads, 8 KV heads, FFN 8192, vocab
# 128256) in Q8_0 and Q4_K_M-like (Q4_K, with Q6_K for attn_v / ffn_down / output): pp512 and
# tg128 tokens/s, medians of ROUNDS interleaved runs (ours and theirs alternate, each after its own
# warm-up), printed side by side as ratios, plus resident memory at 4k context.
# Usage: bench/cpu/run.sh [THREADS=2]
#   env: ROUNDS=3, BUILD=build/bench, MODELS=/tmp/paddock-bench, OUT=$MODELS/results (raw JSON lines)
# The models (~1.6 GB + ~1.0 GB) are generated once and reused.
# AVX2 against AVX2 (machines without AVX-512): PADDOCK_SIMD=avx2 PADDOCK_LLAMACPP_CPU_VARIANT=haswell.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${1:-2}
ROUNDS=${ROUNDS:-3}
BUILD=${BUILD:-build/bench}
MODELS=${MODELS:-/tmp/paddock-bench}
OUT=${OUT:-$MODELS/results}
mkdir -p "$MODELS" "$OUT"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPADDOCK_CUDA=OFF -DPADDOCK_BENCH=ON >/dev/null
nice cmake --build "$BUILD" -j2 --target paddock_make_test_model paddock_bench_cpu >/dev/null
GEN="$BUILD/tests/unit/model/paddock_make_test_model"
BENCH="$BUILD/bench/paddock_bench_cpu"
# Untied output (the real 3.2-1B ties it): 263 M more parameters in the output projection.
SHAPE="n_embd=2048:n_layer=16:n_head=32:n_head_kv=8:n_ff=8192:n_vocab=128256:n_ctx=131072"
declare -A SPEC=([Q8_0]="llama:q8_0:$SHAPE" [Q4_K_M]="llama:q4_K:type_hi=q6_K:$SHAPE")
for name in Q8_0 Q4_K_M; do
  file="$MODELS/llama1b_$name.gguf"
  if [[ ! -f $file ]]; then
    out=$("$GEN" "$MODELS" "${SPEC[$name]}")
    mv "$(echo "$out" | awk '{print $3}')" "$file"
  fi
done
# node-llama-cpp's own cost per generated token: the same tg loop on a tiny model (decode ~free).
tiny=$("$GEN" "$MODELS" "llama:q8_0" | awk '{print $3}')
echo "load before: $(uptime)" | tee "$OUT/load.txt"
rm -f "$OUT"/*.jsonl
for ((r = 1; r <= ROUNDS; ++r)); do
  for name in Q8_0 Q4_K_M; do
    file="$MODELS/llama1b_$name.gguf"
    ours() { nice -n 0 "$BENCH" "$file" --threads "$THREADS" --pp 512 --tg 128 --ctx 4096 --reps 1 >>"$OUT/ours_$name.jsonl"; }
    theirs() { node bench/cpu/llamacpp_bench.mjs "$file" "$THREADS" 512 128 1 128256 >>"$OUT/llamacpp_$name.jsonl"; }
    if ((r % 2)); then ours; theirs; else theirs; ours; fi
    echo "round $r $name done: $(uptime)" >&2
  done
done
node bench/cpu/llamacpp_bench.mjs "$tiny" "$THREADS" 64 128 1 378 >"$OUT/llamacpp_tiny.jsonl"
echo "load after: $(uptime)" | tee -a "$OUT/load.txt"
python3 - "$OUT" <<'PY'
import json, statistics, sys, os
out = sys.argv[1]
rows = lambda f: [json.loads(l) for l in open(os.path.join(out, f)) if l.strip()]
med = lambda xs: statistics.median(xs)
print(f"{'model':7s} {'pp512 ours':>10s} {'llama.cpp':>10s} {'ratio':>6s} {'tg128 ours':>10s} {'llama.cpp':>10s} {'ratio':>6s}   (tokens/s, medians of {len(rows('ours_Q8_0.jsonl'))})")
for name in ("Q8_0", "Q4_K_M"):
    o, t = rows(f"ours_{name}.jsonl"), rows(f"llamacpp_{name}.jsonl")
    opp, ttp = med([x["pp_tps"] for x in o]), med([x["pp_tps"] for x in t])
    otg, ttg = med([x["tg_tps"] for x in o]), med([x["tg_tps"] for x in t])
    print(f"{name:7s} {opp:10.2f} {ttp:10.2f} {opp/ttp:5.2f}x {otg:10.2f} {ttg:10.2f} {otg/ttg:5.2f}x")
    print(f"        runs: ours pp {[round(x['pp_tps'], 2) for x in o]} tg {[round(x['tg_tps'], 2) for x in o]}; "
          f"llama.cpp pp {[round(x['pp_tps'], 2) for x in t]} tg {[round(x['tg_tps'], 2) for x in t]}")
    m, mib = o[-1], 1 << 20
    budget = m["weight_bytes"] + m["kv_bytes"] + 128 * mib
    print(f"        memory @{m['ctx']} ctx: rss {m['rss_bytes']/mib:.0f} MiB (file {m['rss_file_bytes']/mib:.0f} + anon "
          f"{m['rss_anon_bytes']/mib:.0f}) vs weights {m['weight_bytes']/mib:.0f} + KV {m['kv_bytes']/mib:.0f} + fixed 128 "
          f"= {budget/mib:.0f} MiB: {100*(m['rss_bytes']/budget-1):+.1f}%")
tiny = rows("llamacpp_tiny.jsonl")[0]
print(f"node-llama-cpp tg loop on a tiny model: {1000/tiny['tg_tps']:.2f} ms per token (bounds its per-token overhead)")
PY
