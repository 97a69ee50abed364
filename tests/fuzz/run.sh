#!/usr/bin/env bash
# Runs every built fuzz target for a bounded time on a copy of its seed corpus.
# Fails on any crash, leak or sanitizer report.   usage: run.sh BUILD_DIR SECONDS
set -euo pipefail
bin_dir=$1; secs=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
status=0
shopt -s nullglob
for bin in "$bin_dir"/fuzz_*; do
  [[ -x $bin && -f $bin ]] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  work=$(mktemp -d)
  [[ -d $here/corpus/$name ]] && cp -r "$here/corpus/$name/." "$work/"
  echo "fuzz $name: ${secs}s"
  if ! "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
       -print_final_stats=0 "$work" >"$work.log" 2>&1; then
    echo "fuzz $name FAILED:"; tail -50 "$work.log"; status=1
  fi
  rm -rf "$work" "$work.log"
done
exit $status
