#!/usr/bin/env bash
# Stops the loopback registry started by registry-up.sh and deletes its
# storage, so the next registry-up.sh starts from nothing. Safe when nothing runs.
#
# Usage: scripts/registry-down.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if pidfile_alive "$CRIGATE_REGISTRY_PID" "$CRIGATE_REGISTRY_DIR/config.yml"; then
  stop_pids registry 10 "" "$(<"$CRIGATE_REGISTRY_PID")"
else
  log "registry not running"
fi
rm -rf "${CRIGATE_REGISTRY_DIR:?}" "$CRIGATE_REGISTRY_PID"
