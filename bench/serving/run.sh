#!/usr/bin/env bash
# bench/serving: serving scenarios — `paddock serve` on a random-weight model made by our own
# generator (paddock_make_test_model), driven by `paddock bench`. Each scenario has a CPU size
# (scaled down to run on a development machine) and a GPU size (the shapes of ../shared/PERF.md).
#
# Usage: bench/serving/run.sh [--size cpu|gpu] SCENARIO...
#   target  the users' target: 128-token prompts, 16-64 output tokens, open loop (Poisson),
#           p99 latency objective; a rate sweep raises the rate until it breaks
#   chat    a chat mix: prompts 200-1,000 tokens, outputs 100-300, closed loop
#   long    long-context prefill: prompts 8k-32k tokens (CPU: 2k-4k), few outputs
#   sweep   concurrency sweep: 1, 8, 32, 64 (GPU: to 256), 128-token prompts, 16-64 outputs
# env: BIN   folder with paddock and paddock_make_test_model (default: build/release's, then
#            build/test's for the generator), OUT (results, default build/serving), MODELS (GGUF
#            files, default /tmp/paddock-serving), THREADS (server CPU threads, default 2),
#            DEVICE (serve --device, default cpu for --size cpu, auto for gpu),
#            DURATION (seconds per sweep point, default 20 on the CPU, 60 on the GPU)
# Output: each scenario's table on stdout, OUT/<scenario>.json and OUT/<scenario>.html; every
# command is echoed first (so docs/PERFORMANCE.md can quote it).
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE=cpu
if [[ ${1:-} == --size ]]; then SIZE=$2; shift 2; fi
[[ $SIZE == cpu || $SIZE == gpu ]] || { echo "--size must be cpu or gpu" >&2; exit 2; }
(($#)) || { sed -n '2,20p' "$0" >&2; exit 2; }

find_bin() {  # name, candidate folders...
  local n=$1; shift
  for d in ${BIN:+"$BIN"} "$@"; do [[ -x $d/$n ]] && { echo "$d/$n"; return; }; done
  echo "cannot find $n (set BIN)" >&2; exit 1
}
PADDOCK=$(find_bin paddock build/release/src/cli build/test/src/cli)
GEN=$(find_bin paddock_make_test_model build/release/tests/unit/model build/test/tests/unit/model build/cuda/tests/unit/model)
OUT=${OUT:-build/serving}
MODELS=${MODELS:-/tmp/paddock-serving}
THREADS=${THREADS:-2}
mkdir -p "$OUT" "$MODELS"

# Model shapes: the CPU one is small enough for 64 sequences on 2 cores; the GPU one is L1
# (Llama-3.2-1B) in Q4_K_M, as in bench/gpu/run.sh.
if [[ $SIZE == cpu ]]; then
  SPEC="llama:q8_0:n_embd=512:n_layer=4:n_head=8:n_head_kv=4:n_ff=1536:n_vocab=32000:n_ctx=8192"
  DEVICE=${DEVICE:-cpu}; DURATION=${DURATION:-20}; NUM_CTX=5120; PARALLEL=64
else
  SPEC="llama:q4_K:type_hi=q6_K:n_embd=2048:n_layer=16:n_head=32:n_head_kv=8:n_ff=8192:n_vocab=128256:n_ctx=131072"
  DEVICE=${DEVICE:-auto}; DURATION=${DURATION:-60}; NUM_CTX=34816; PARALLEL=256
fi
GGUF="$MODELS/serving_$SIZE.gguf"
if [[ ! -f $GGUF ]]; then
  out=$("$GEN" "$MODELS" "$SPEC")
  mv "$(echo "$out" | awk '{print $3}')" "$GGUF"
fi
STORE=$(mktemp -d /tmp/paddock-serving-store.XXXXXX)
cleanup() { [[ -n ${SERVER_PID:-} ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; rm -rf "$STORE"; }
trap cleanup EXIT
printf 'FROM %s\nPARAMETER temperature 0.8\n' "$GGUF" > "$STORE/Modelfile"
"$PADDOCK" create "bench-$SIZE" -f "$STORE/Modelfile" --models "$STORE/models" >/dev/null

PORT_FILE="$STORE/serve.log"
"$PADDOCK" serve --host 127.0.0.1:0 --models "$STORE/models" --device "$DEVICE" --threads "$THREADS" \
  --num-parallel "$PARALLEL" --num-ctx "$NUM_CTX" --max-queue 4096 --max-connections 4096 --keep-alive -1 \
  >"$PORT_FILE" 2>"$STORE/serve.err" &
SERVER_PID=$!
for _ in $(seq 100); do grep -q 'listening on' "$PORT_FILE" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.]*:[0-9]*' "$PORT_FILE" | head -1)
[[ -n $URL ]] || { cat "$STORE/serve.err" >&2; exit 1; }
echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -m), load $(cut -d' ' -f1-3 /proc/loadavg); model $SPEC; serve --device $DEVICE --threads $THREADS --num-parallel $PARALLEL"

run() {  # scenario name, bench arguments...
  local name=$1; shift
  local cmd=("$PADDOCK" bench --url "$URL" --model "bench-$SIZE" --calibrate --warmup 4 --seed 1 "$@"
             --json "$OUT/$name.json" --html "$OUT/$name.html")
  echo "## $name: paddock bench ${cmd[*]:2}" | sed "s#$URL#URL#"
  "${cmd[@]}"
}

for s in "$@"; do
  case $SIZE:$s in
    cpu:target) run target --input-tokens 128 --output-tokens 16-64 --sweep rate:1,2,4,8 --requests 64 --slo-latency 2000 ;;
    gpu:target) run target --input-tokens 128 --output-tokens 16-64 --sweep rate:250,500,750,1000,1500 --duration 30 \
                  --slo-latency 120 ;;
    cpu:chat) run chat --api chat --input-tokens 200-1000 --output-tokens 100-300 -c 4 -n 16 ;;
    gpu:chat) run chat --api chat --input-tokens 200-1000 --output-tokens 100-300 -c 64 -n 512 ;;
    cpu:long) run long --input-tokens 2048-4096 --output-tokens 16 -c 2 -n 6 ;;
    gpu:long) run long --input-tokens 8192-32768 --output-tokens 16 -c 4 -n 32 ;;
    cpu:sweep) run sweep --input-tokens 128 --output-tokens 16-64 --sweep 1,8,32,64 --duration "$DURATION" ;;
    gpu:sweep) run sweep --input-tokens 128 --output-tokens 16-64 --sweep 1,8,32,64,128,256 --duration "$DURATION" ;;
    *) echo "unknown scenario $s (target, chat, long, sweep)" >&2; exit 2 ;;
  esac
done
