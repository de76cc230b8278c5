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

# What containerd of this instance runs as the crigate runtime, and what the
# shim reads (passed to it through containerd's environment).
CRIGATE_SHIM_BIN_DIR=$CRIGATE_RUN_DIR/bin
CRIGATE_SHIM_KEY_FILE=$CRIGATE_RUN_DIR/approval.key
CRIGATE_SHIM_USED_DIR=$CRIGATE_RUN_DIR/used-approvals
CRIGATE_SHIM_RUNTIME_TOML=$CRIGATE_RUN_DIR/containerd-runtime.toml
export CRIGATE_SHIM_BIN_DIR CRIGATE_SHIM_KEY_FILE CRIGATE_SHIM_USED_DIR CRIGATE_SHIM_RUNTIME_TOML
