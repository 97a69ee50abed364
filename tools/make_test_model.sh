#!/usr/bin/env bash
# Writes deterministic random-weight GGUF test models: tools/make_test_model.sh OUT_DIR SPEC...
# SPEC is "arch:type[:key=value...]" (tests/unit/model/test_model.h), e.g. "gemma2:q4_K",
# "llama:q8_0:n_layer=16". Prints "<name> <sha256> <path> <n_vocab>" per model.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/dev}
[[ -d $BUILD ]] || cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPADDOCK_CUDA=OFF -DPADDOCK_BENCH=OFF >/dev/null
nice cmake --build "$BUILD" -j2 --target paddock_make_test_model >/dev/null
exec "$BUILD/tests/unit/model/paddock_make_test_model" "$@"
