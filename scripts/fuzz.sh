#!/usr/bin/env bash
# Builds the libFuzzer targets (test/fuzz/) with clang-14, address and
# undefined-behaviour sanitizers, in a build tree of their own, and runs each
# for a bounded time from its seed corpus in the tree. New inputs go to a
# scratch corpus in the build tree, never into the repository.
#
# Usage: scripts/fuzz.sh [seconds per target (30)] [target ...]
#   CRIGATE_FUZZ_BUILD_DIR   build tree (default <repo>/build-fuzz)
# Prints one line per target: executions, corpus size, and the verdict; exits
# non-zero on the first crash, leak or timeout, naming the input that caused it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

seconds=${1:-30}
shift || true
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || die "usage: $0 [seconds] [target ...]"
build_dir=${CRIGATE_FUZZ_BUILD_DIR:-$CRIGATE_REPO_ROOT/build-fuzz}
corpus_root=$CRIGATE_REPO_ROOT/test/fuzz/corpus
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(cd "$corpus_root" && ls -1)
fi
command -v clang++-14 >/dev/null || die "clang++-14 is not installed (scripts/install-deps.sh)"

log "building the fuzz targets with clang-14 in $build_dir"
cmake -S "$CRIGATE_REPO_ROOT" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCRIGATE_FUZZ=ON -DCRIGATE_SANITIZE=address,undefined >/dev/null
cmake --build "$build_dir" --target crigate_fuzz_all -j "$(nproc)"

failed=0
for target in "${targets[@]}"; do
  binary=$build_dir/test/fuzz/$target
  seeds=$corpus_root/$target
  [[ -x $binary && -d $seeds ]] || die "no fuzz target $target (test/fuzz/$target.cc, corpus/$target/)"
  work=$build_dir/fuzz-corpus/$target
  artifacts=$build_dir/fuzz-artifacts/$target/
  mkdir -p "$work" "$artifacts"
  out=$build_dir/fuzz-$target.log
  rc=0
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts" "$work" "$seeds" >"$out" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -1)
  if ((rc != 0)); then
    failed=1
    crash=$(grep -o "Test unit written to .*" "$out" | tail -1 || true)
    printf '%-18s FAILED after %s runs (exit %d): %s; log %s\n' "$target" "${runs:-?}" "$rc" \
      "${crash:-see log}" "$out"
  else
    printf '%-18s %12s runs in %ss, corpus %s inputs, no crash\n' "$target" "${runs:-?}" \
      "$seconds" "$(find "$work" -type f | wc -l)"
  fi
done
exit "$failed"
