#!/usr/bin/env bash
# Sourced by shim-up.sh and shim-down.sh: where the shim instance lives. It is
# a second private containerd, next to the one containerd-up.sh starts, with
# its own run dir; the test images are shared with the first one.
#
#   CRIGATE_RUN_DIR        the main instance's run dir (/tmp/crigate-run)
#   CRIGATE_SHIM_RUN_DIR   this instance's run dir ($CRIGATE_RUN_DIR-shim)
#   CRIGATE_IMAGE_DIR      the archives to import ($CRIGATE_RUN_DIR/images)
#
# Usage: source "$(dirname "${BASH_SOURCE[0]}")/shim-lib.sh"

_crigate_main_run_dir=${CRIGATE_RUN_DIR:-/tmp/crigate-run}
: "${CRIGATE_SHIM_RUN_DIR:=$_crigate_main_run_dir-shim}"
: "${CRIGATE_IMAGE_DIR:=$_crigate_main_run_dir/images}"
[[ $CRIGATE_SHIM_RUN_DIR == /* ]] || {
  echo "CRIGATE_SHIM_RUN_DIR must be an absolute path" >&2
  exit 1
}
# lib.sh derives every containerd path from CRIGATE_RUN_DIR.
CRIGATE_RUN_DIR=$CRIGATE_SHIM_RUN_DIR
export CRIGATE_SHIM_RUN_DIR CRIGATE_IMAGE_DIR CRIGATE_RUN_DIR
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The wrapper is this instance's containerd-shim-runc-v2: the first one on
# its containerd's PATH. The real runc shim is copied next to it without
# execute permission, so containerd cannot run it by path either; the
# wrapper runs private copies of it. Everything reaches the shim through
# containerd's environment.
CRIGATE_SHIM_BIN_DIR=$CRIGATE_RUN_DIR/bin
CRIGATE_SHIM_REAL_DIR=$CRIGATE_RUN_DIR/real-shim
CRIGATE_SHIM_REAL=$CRIGATE_SHIM_REAL_DIR/containerd-shim-runc-v2
CRIGATE_SHIM_KEY_FILE=$CRIGATE_RUN_DIR/approval.key
CRIGATE_SHIM_APPROVALS=$CRIGATE_RUN_DIR/approvals
CRIGATE_SHIM_EXEC=$CRIGATE_RUN_DIR/shim-exec
export CRIGATE_SHIM_BIN_DIR CRIGATE_SHIM_REAL_DIR CRIGATE_SHIM_REAL CRIGATE_SHIM_KEY_FILE \
  CRIGATE_SHIM_APPROVALS CRIGATE_SHIM_EXEC
