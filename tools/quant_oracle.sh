#!/usr/bin/env bash
# Regenerates tests/fixtures/quant/ggml_blocks.bin with llama.cpp's quantizers as the oracle:
# builds tools/quant_oracle_ggml.c against libggml-base.so from node-llama-cpp's prebuilt
# linux-x64 binaries (npm node-llama-cpp@3.21.1, installed under tools/oracles/node_modules) and
# runs it. Usage: tools/quant_oracle.sh   (from the repository root; needs cc)
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=tools/oracles/node_modules/@node-llama-cpp/linux-x64
lib=$pkg/bins/linux-x64
[ -f "$lib/libggml-base.so" ] || { echo "missing $lib/libggml-base.so (npm install in tools/oracles)" >&2; exit 1; }
ver=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$pkg/package.json" | head -1)
out=tests/fixtures/quant/ggml_blocks.bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O1 -std=c11 -o "$tmp/oracle" tools/quant_oracle_ggml.c -L"$(realpath "$lib")" -lggml-base \
  -Wl,-rpath,"$(realpath "$lib")"
"$tmp/oracle" "$out"
cat > tests/fixtures/quant/ggml_blocks.json <<JSON
{
  "oracle": "llama.cpp ggml (libggml-base.so from @node-llama-cpp/linux-x64@$ver)",
  "generator": "tools/quant_oracle.sh (tools/quant_oracle_ggml.c)",
  "file": "ggml_blocks.bin",
  "sha256": "$(sha256sum "$out" | cut -d' ' -f1)"
}
JSON
echo "wrote $out ($(stat -c %s "$out") bytes)"
