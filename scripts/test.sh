#!/usr/bin/env bash
# Runs every test crigate has: the unit tests, and the end-to-end tests that
# drive the real crigate daemon against a real containerd and runc started
# here (private root, state and socket under $CRIGATE_RUN_DIR), with test
# images built from Debian's packages and served by a loopback registry.
#
# A second private containerd, whose containerd-shim-runc-v2 is crigate's
# shim wrapper (scripts/shim-up.sh), serves the no-bypass tests
# (test/e2e/shim_e2e_test.cc). A private Mosquitto broker on loopback
# (scripts/broker-up.sh: TLS, client certificates, per-gateway ACL) serves
# the cloud channel's tests (test/e2e/channel_e2e_test.cc, MonitorChannel).
#
# scripts/check.sh, which CI runs, adds the format check, the sanitizer,
# fuzz and ThreadSanitizer runs around this one.
#
# Usage: scripts/test.sh [extra ctest args, e.g. -L e2e or -R FrontEnd]
#   CRIGATE_BUILD_DIR   build tree (default: <repo>/build)
#   CRIGATE_KEEP_UP=1   leave containerd and the registry running afterwards
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_dir=${CRIGATE_BUILD_DIR:-$CRIGATE_REPO_ROOT/build}

bash "$CRIGATE_SCRIPTS_DIR/install-deps.sh" --if-missing

log "building in $build_dir"
cmake -S "$CRIGATE_REPO_ROOT" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j "$(nproc)"

cleanup() {
  if [[ ${CRIGATE_KEEP_UP:-0} != 1 ]]; then
    bash "$CRIGATE_SCRIPTS_DIR/broker-down.sh" || true
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
# Exports CRIGATE_BROKER_HOST, _PORT, _CA, _PKI, _PREFIX, _CLOUD, and with
# passwords on (a second listener for username/password logins) _PASSWORD_PORT
# and _PASSWORD_DIR.
# Exported: the tests restart the broker with the same settings.
export CRIGATE_BROKER_PASSWORDS=1
broker_env=$(bash "$CRIGATE_SCRIPTS_DIR/broker-up.sh")
eval "$broker_env"

export CRIGATE_RUN_DIR
# End-to-end tests are marked RUN_SERIAL; unit tests share the two cores.
ctest --test-dir "$build_dir" --output-on-failure -j 2 "$@"
