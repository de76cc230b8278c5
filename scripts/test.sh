#!/usr/bin/env bash
# Runs every test crigate has: the clang-format check, the unit tests, and
# the end-to-end tests that drive the real crigate daemon against a real
# containerd and runc started here (private root, state and socket under $CRIGATE_RUN_DIR), with test
# images built from Debian's packages and served by a loopback registry.
#
# A second private containerd, whose containerd-shim-runc-v2 is crigate's
# shim wrapper (scripts/shim-up.sh), serves the no-bypass tests
# (test/e2e/shim_e2e_test.cc).
#
# Usage: scripts/test.sh [extra ctest args, e.g. -L e2e or -R FrontEnd]
#   CRIGATE_BUILD_DIR   build tree (default: <repo>/build; <dir>-asan for the
#                       sanitizer run of the unit tests)
#   CRIGATE_SANITIZE_TESTS=0  skip the sanitizer run
#   CRIGATE_FUZZ_TESTS=0      skip the fuzz targets (CRIGATE_FUZZ_SECONDS each, 20)
#   CRIGATE_TSAN_TESTS=0      skip the ThreadSanitizer run of the threaded units
#   CRIGATE_KEEP_UP=1   leave containerd and the registry running afterwards
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_dir=${CRIGATE_BUILD_DIR:-$CRIGATE_REPO_ROOT/build}

bash "$CRIGATE_SCRIPTS_DIR/install-deps.sh" --if-missing
bash "$CRIGATE_SCRIPTS_DIR/check-format.sh"

log "building in $build_dir"
cmake -S "$CRIGATE_REPO_ROOT" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j "$(nproc)"

cleanup() {
  if [[ ${CRIGATE_KEEP_UP:-0} != 1 ]]; then
    bash "$CRIGATE_SCRIPTS_DIR/shim-down.sh" || true
    bash "$CRIGATE_SCRIPTS_DIR/registry-down.sh" || true
    bash "$CRIGATE_SCRIPTS_DIR/containerd-down.sh" || true
  fi
}
trap cleanup EXIT

bash "$CRIGATE_SCRIPTS_DIR/containerd-up.sh" >/dev/null
bash "$CRIGATE_SCRIPTS_DIR/build-images.sh" >/dev/null
bash "$CRIGATE_SCRIPTS_DIR/import-images.sh" >/dev/null
bash "$CRIGATE_SCRIPTS_DIR/registry-up.sh" >/dev/null
# Exports CRIGATE_SHIM_CONTAINERD_SOCK, _KEY_FILE, _APPROVALS, _REAL, _RUN_DIR.
shim_env=$(CRIGATE_BUILD_DIR=$build_dir bash "$CRIGATE_SCRIPTS_DIR/shim-up.sh")
eval "$shim_env"

export CRIGATE_RUN_DIR
# End-to-end tests are marked RUN_SERIAL; unit tests share the two cores.
ctest --test-dir "$build_dir" --output-on-failure -j 2 "$@"

# The unit tests once more under AddressSanitizer and UndefinedBehaviorSanitizer
# (leaks included), in a build tree of their own. Only for a whole run: a
# filtered one (extra ctest arguments) skips it, and so does
# CRIGATE_SANITIZE_TESTS=0.
if [[ $# -eq 0 && ${CRIGATE_SANITIZE_TESTS:-1} != 0 ]]; then
  sanitize_dir=${build_dir}-asan
  log "unit tests under address,undefined sanitizers (build in $sanitize_dir)"
  cmake -S "$CRIGATE_REPO_ROOT" -B "$sanitize_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCRIGATE_SANITIZE=address,undefined >/dev/null
  cmake --build "$sanitize_dir" -j "$(nproc)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$sanitize_dir" --output-on-failure -j 2 -LE e2e
fi

# Every libFuzzer target for a short bounded time from its seed corpus
# (scripts/fuzz.sh; clang-14 build tree of its own). Only for a whole run;
# CRIGATE_FUZZ_SECONDS sets the time per target, CRIGATE_FUZZ_TESTS=0 skips.
if [[ $# -eq 0 && ${CRIGATE_FUZZ_TESTS:-1} != 0 ]]; then
  log "fuzz targets, ${CRIGATE_FUZZ_SECONDS:-20} s each"
  bash "$CRIGATE_SCRIPTS_DIR/fuzz.sh" "${CRIGATE_FUZZ_SECONDS:-20}"
fi

# The threaded units once more under ThreadSanitizer (scripts/tsan.sh,
# build-tsan/). Only for a whole run; CRIGATE_TSAN_TESTS=0 skips it.
if [[ $# -eq 0 && ${CRIGATE_TSAN_TESTS:-1} != 0 ]]; then
  log "threaded units under ThreadSanitizer"
  bash "$CRIGATE_SCRIPTS_DIR/tsan.sh"
fi
