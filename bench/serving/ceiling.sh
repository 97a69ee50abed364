#!/usr/bin/env bash
# bench/serving/ceiling.sh: how fast `paddock bench` itself can go — the generator against
# paddock_fake_llm (a trivial endpoint with no delays), both on this machine. Three figures:
#   1. tiny non-streaming requests, closed loop (requests/s)
#   2. the same open loop at a fixed rate (achieved rate, late sends)
#   3. streamed tokens: 256-token answers with no gaps, one chunk per token (tokens/s)
# Usage: bench/serving/ceiling.sh [BUILD=build/release]
#   env: GEN_THREADS (generator threads, default 1), FAKE_THREADS (server threads, default 1),
#        CPUS (taskset list for both, default 0,1), RATE (open-loop rate, default 5000), SECONDS_PER (default 10)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build/release}
PADDOCK=$BUILD/src/cli/paddock
FAKE=$BUILD/bench/paddock_fake_llm
[[ -x $FAKE ]] || FAKE=$BUILD/tests/integration/paddock_fake_llm
GT=${GEN_THREADS:-1}; FT=${FAKE_THREADS:-1}; CPUS=${CPUS:-0,1}; RATE=${RATE:-5000}; SECS=${SECONDS_PER:-10}
TMP=$(mktemp -d)
trap 'kill $FPID 2>/dev/null; rm -rf "$TMP"' EXIT
taskset -c "$CPUS" "$FAKE" --port 0 --threads "$FT" >"$TMP/fake.out" &
FPID=$!
for _ in $(seq 50); do grep -q listening "$TMP/fake.out" && break; sleep 0.1; done
URL=$(awk '{print $3}' "$TMP/fake.out")
echo "# $(date -u +%FT%TZ) $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# generator threads $GT, fake server threads $FT, both on CPUs $CPUS"
b() { echo "## paddock bench $*" | sed "s#$URL#URL#"; taskset -c "$CPUS" "$PADDOCK" bench --url "$URL" --model m --quiet --threads "$GT" "$@"; }
b --no-stream -c 64 --duration "$SECS" --input-tokens 8 --output-tokens 1 --json "$TMP/closed.json" | sed -n '1,3p'
b --no-stream --rate "$RATE" --arrival poisson --requests $((RATE * SECS)) --input-tokens 8 --output-tokens 1 \
  --json "$TMP/open.json" | grep -E 'requests|throughput|schedule|errors'
b -c 32 --duration "$SECS" --input-tokens 8 --output-tokens 256 --json "$TMP/stream.json" | sed -n '1,3p'
