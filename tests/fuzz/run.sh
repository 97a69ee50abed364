#!/usr/bin/env bash
# Runs the libFuzzer targets built in BUILD_DIR (fuzz_<name>, seed corpus in corpus/<name>/).
#
#   run.sh BUILD_DIR SECONDS                     make fuzz (part of make test): reproducible
#     1. replays every input of corpus/<name>/ (the seeds and every crash ever found, kept there
#        as a regression input) and fails if any of them crashes;
#     2. fuzzes each target for SECONDS from a copy of its corpus with a fixed seed (FUZZ_SEED,
#        default 1): for one seed libFuzzer tries the same inputs in the same order, so a commit
#        gives the same result on every run (a slower machine only stops earlier in that order).
#        An input that fails is kept as BUILD_DIR/findings/<name>/crash-* (leak-*, timeout-*, oom-*).
#   run.sh --explore BUILD_DIR SECONDS FINDINGS   make fuzz-long: exploratory
#     fuzzes each target for SECONDS with a random seed (printed); every input that crashes,
#     leaks, times out or runs out of memory is saved as FINDINGS/<name>/crash-* (leak-*,
#     timeout-*, oom-*), and the run goes on with the next target. Fails if anything was found.
#   FUZZ_TARGETS="jinja grammar" limits either mode to those targets.
#
# Adding a finding (from fuzz-long, a report, or a hand-made hostile input):
#   1. reproduce it:  BUILD_DIR/fuzz_<name> FINDINGS/<name>/crash-<sha>   (runs that input once)
#   2. fix the cause, with a unit test that fails before the fix;
#   3. keep the input: cp FINDINGS/<name>/crash-<sha> tests/fuzz/corpus/<name>/regress_<what>
#      (a name that says what it was); from then on every `make fuzz` replays it first.
#   If libFuzzer minimised it (-minimize_crash=1), keep the minimised form.
set -euo pipefail
explore=0
if [[ ${1:-} == --explore ]]; then explore=1; shift; fi
bin_dir=$1; secs=${2:-60}; findings=${3:-}
if (( explore )) && [[ -z $findings ]]; then echo "usage: run.sh --explore BUILD_DIR SECONDS FINDINGS" >&2; exit 2; fi
here=$(cd "$(dirname "$0")" && pwd)
limits=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10)
status=0
shopt -s nullglob
for bin in "$bin_dir"/fuzz_*; do
  [[ -x $bin && -f $bin ]] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  if [[ -n ${FUZZ_TARGETS:-} && " $FUZZ_TARGETS " != *" $name "* ]]; then continue; fi
  corpus=("$here/corpus/$name"/*)
  work=$(mktemp -d)
  (( ${#corpus[@]} )) && cp -r "$here/corpus/$name/." "$work/"
  if (( explore )); then
    seed=$(( (RANDOM << 15 | RANDOM) + 1 ))
    mkdir -p "$findings/$name"
    echo "fuzz $name: ${secs}s, seed $seed, findings in $findings/$name/"
    if ! "$bin" "${limits[@]}" -seed="$seed" -max_total_time="$secs" -print_final_stats=0 \
         -artifact_prefix="$findings/$name/" "$work" >"$work.log" 2>&1; then
      echo "fuzz $name (seed $seed) FOUND:"; ls "$findings/$name"; tail -50 "$work.log"; status=1
    fi
  else
    seed=${FUZZ_SEED:-1}
    echo "fuzz $name: replay ${#corpus[@]} corpus inputs, then ${secs}s with seed $seed"
    if (( ${#corpus[@]} )) && ! "$bin" "${limits[@]}" "${corpus[@]}" >"$work.log" 2>&1; then
      echo "fuzz $name FAILED on a corpus input:"; tail -50 "$work.log"; status=1
    else
      mkdir -p "$bin_dir/findings/$name"
      if ! "$bin" "${limits[@]}" -seed="$seed" -max_total_time="$secs" -print_final_stats=0 \
           -artifact_prefix="$bin_dir/findings/$name/" "$work" >"$work.log" 2>&1; then
        echo "fuzz $name FAILED (seed $seed); the input is in $bin_dir/findings/$name/ (keep it: see run.sh):"
        tail -50 "$work.log"; status=1
      fi
    fi
  fi
  rm -rf "$work" "$work.log"
done
exit $status
