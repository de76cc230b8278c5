#!/usr/bin/env bash
# What CI runs (.ci/run): every test (scripts/test.sh) and the checks that
# keep the code clean, each of which fails the run:
#   1. clang-format: the tree is formatted (scripts/check-format.sh), and
#      every include keeps to its floor (scripts/check-layering.sh);
#   2. scripts/test.sh: the build (-Werror) and every unit and end-to-end test;
#      then clang-tidy (.clang-tidy) on every non-test source (scripts/tidy.sh);
#   3. the unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer,
#      leaks included (build tree <build>-asan, -DCRIGATE_SANITIZE=address,undefined);
#   4. every libFuzzer target for a short bounded time from its seed corpus
#      (scripts/fuzz.sh, clang-14, build-fuzz/);
#   5. the threaded units under ThreadSanitizer (scripts/tsan.sh, build-tsan/);
#   6. the Debian package: built, lintian-clean, installed, run as its unit
#      would in front of a private containerd, removed and purged
#      (scripts/package-test.sh, build-deb/);
#   7. the arm64 cross-build of every target and its unit tests under qemu-user
#      (scripts/cross-build.sh arm64, <build>-arm64; installs its own packages),
#      bounded by CRIGATE_ARM64_SECONDS.
#
# Usage: scripts/check.sh
#   CRIGATE_BUILD_DIR          build tree of step 2 (default <repo>/build)
#   CRIGATE_SANITIZE_TESTS=0   skip step 3
#   CRIGATE_FUZZ_TESTS=0       skip step 4; CRIGATE_FUZZ_SECONDS per target (20)
#   CRIGATE_TSAN_TESTS=0       skip step 5
#   CRIGATE_PACKAGE_TESTS=0    skip step 6; CRIGATE_PACKAGE_TEST_SECONDS bounds it (1800)
#   CRIGATE_ARM64_TESTS=0      skip step 7; CRIGATE_ARM64_SECONDS its limit (1800)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_dir=${CRIGATE_BUILD_DIR:-$CRIGATE_REPO_ROOT/build}

bash "$CRIGATE_SCRIPTS_DIR/install-deps.sh" --if-missing
bash "$CRIGATE_SCRIPTS_DIR/check-format.sh"
bash "$CRIGATE_SCRIPTS_DIR/check-layering.sh"

bash "$CRIGATE_SCRIPTS_DIR/test.sh"
CRIGATE_BUILD_DIR=$build_dir bash "$CRIGATE_SCRIPTS_DIR/tidy.sh"

if [[ ${CRIGATE_SANITIZE_TESTS:-1} != 0 ]]; then
  sanitize_dir=${build_dir}-asan
  log "unit tests under address,undefined sanitizers (build in $sanitize_dir)"
  cmake -S "$CRIGATE_REPO_ROOT" -B "$sanitize_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCRIGATE_SANITIZE=address,undefined >/dev/null
  cmake --build "$sanitize_dir" -j "$(nproc)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$sanitize_dir" --output-on-failure -j 2 -LE e2e
fi

if [[ ${CRIGATE_FUZZ_TESTS:-1} != 0 ]]; then
  log "fuzz targets, ${CRIGATE_FUZZ_SECONDS:-20} s each"
  bash "$CRIGATE_SCRIPTS_DIR/fuzz.sh" "${CRIGATE_FUZZ_SECONDS:-20}"
fi

if [[ ${CRIGATE_TSAN_TESTS:-1} != 0 ]]; then
  log "threaded units under ThreadSanitizer"
  bash "$CRIGATE_SCRIPTS_DIR/tsan.sh"
fi

if [[ ${CRIGATE_PACKAGE_TESTS:-1} != 0 ]]; then
  log "the Debian package: build, lintian, install, run, remove, purge"
  # The package build compiles the product again (about 10 min on a busy
  # 2-core machine); the bound stops a hung step, not a slow one.
  CRIGATE_BUILD_DIR=$build_dir timeout --kill-after=60 "${CRIGATE_PACKAGE_TEST_SECONDS:-1800}" \
    bash "$CRIGATE_SCRIPTS_DIR/package-test.sh"
fi

if [[ ${CRIGATE_ARM64_TESTS:-1} != 0 ]]; then
  # Measured on the loaded 2-core VM: 5 min to build, under 2 min of tests.
  log "arm64 cross-build and unit tests under qemu-user (at most ${CRIGATE_ARM64_SECONDS:-1800} s)"
  CRIGATE_ARM64_BUILD_DIR=${build_dir}-arm64 timeout --kill-after=30 "${CRIGATE_ARM64_SECONDS:-1800}" \
    bash "$CRIGATE_SCRIPTS_DIR/cross-build.sh" arm64 ||
    die "arm64 cross-build or its unit tests failed (exit $?; 124: over the time limit)"
fi
log "every check passed"
