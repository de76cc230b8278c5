#!/usr/bin/env bash
# clang-tidy (the repository's .clang-tidy) on crigate's own sources: every
# .cc under cri/, policy/, monitor/ and shim/ but tests, test helpers and
# benchmarks. Needs a configured build tree for compile_commands.json.
#
# Usage: scripts/tidy.sh [file...]
#   CRIGATE_BUILD_DIR   build tree (default <repo>/build; configured if missing)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_dir=${CRIGATE_BUILD_DIR:-$CRIGATE_REPO_ROOT/build}
if [[ ! -f $build_dir/compile_commands.json ]]; then
  cmake -S "$CRIGATE_REPO_ROOT" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
# The generated CRI headers must exist for the sources that include them.
cmake --build "$build_dir" --target crigate_proto >/dev/null

cd "$CRIGATE_REPO_ROOT"
if [[ $# -gt 0 ]]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files 'cri/*.cc' 'policy/*.cc' 'monitor/*.cc' 'shim/*.cc' |
    grep -v -e '_test\.cc$' -e '/testing' -e 'bench' -e 'policy/testing\.cc$')
fi
log "clang-tidy on ${#files[@]} files"
run-clang-tidy-14 -quiet -p "$build_dir" -j "$(nproc)" "${files[@]}" >"$build_dir/tidy.log" 2>&1 ||
  status=$?
grep -E '(warning|error): ' "$build_dir/tidy.log" | sort -u || true
if [[ ${status:-0} -ne 0 ]]; then
  die "clang-tidy found the above (full output: $build_dir/tidy.log)"
fi
log "clang-tidy clean"
