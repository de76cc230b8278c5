#!/usr/bin/env bash
# Builds the unit tests of crigate's threaded parts with ThreadSanitizer, in a
# build tree of their own, and runs them: every unit test of policy/ (the
# decision pipeline, its audit log, the token-use store), policy/cloud (the
# authorizer, stage and event sink), policy/channel (the event spool the
# watchdog appends to while the channel's thread drains it), monitor/ (the
# watchdog), cri/ (the peer registry the accept thread shares with grpc's
# threads) and cri/daemon (the READY=1 waiter and the status file's writer).
#
# Usage: scripts/tsan.sh
#   CRIGATE_TSAN_BUILD_DIR   build tree (default <repo>/build-tsan)
# gRPC, protobuf, abseil, OpenSSL and libcurl come from Debian, not
# instrumented: races inside them can be reported falsely. Those seen are
# suppressed, one by one with the reason, in scripts/tsan.supp; nothing in
# crigate's own code is.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_dir=${CRIGATE_TSAN_BUILD_DIR:-$CRIGATE_REPO_ROOT/build-tsan}
# executable[:gtest filter]. monitor_tests' runtime-backend tests run a gRPC
# server in process: the races reported there are inside Debian's
# uninstrumented gRPC and protobuf, not crigate's threads, so only the
# watchdog's own tests run here.
tests=(policy/policy_tests policy/cloud/cloud_tests policy/channel/channel_tests
  "monitor/monitor_tests:WatchdogTest.*:CreateHostWatchdog.*" cri/cri_tests
  "cri/daemon/daemon_tests:ServiceStatus.*:StatusWriter.*")
log "building the threaded units with ThreadSanitizer in $build_dir"
cmake -S "$CRIGATE_REPO_ROOT" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCRIGATE_SANITIZE=thread >/dev/null
targets=()
for test in "${tests[@]}"; do
  binary=${test%%:*}
  targets+=("${binary##*/}")
done
cmake --build "$build_dir" -j "$(nproc)" --target "${targets[@]}"

failed=0
for test in "${tests[@]}"; do
  binary=${test%%:*}
  filter='*'
  [[ $test == *:* ]] && filter=${test#*:}
  name=${binary##*/}
  out=$build_dir/$name.tsan.log
  if TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$CRIGATE_SCRIPTS_DIR/tsan.supp" \
    "$build_dir/$binary" --gtest_filter="$filter" >"$out" 2>&1; then
    printf '%-30s %s\n' "$name" "$(grep -E '^\[  PASSED  \]' "$out")"
  else
    failed=1
    printf '%-30s FAILED; see %s\n' "$name" "$out"
    grep -m1 -A3 "WARNING: ThreadSanitizer" "$out" || true
  fi
done
exit "$failed"
