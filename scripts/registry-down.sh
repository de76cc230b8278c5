#!/usr/bin/env bash
# Stops the loopback registry started by registry-up.sh and deletes its
# storage, so the next registry-up.sh starts from nothing. Safe when nothing runs.
#
# Usage: scripts/registry-down.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if pidfile_alive "$CRIGATE_REGISTRY_PID" "$CRIGATE_REGISTRY_DIR/config.yml"; then
  pid=$(<"$CRIGATE_REGISTRY_PID")
  log "stopping registry (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_until 10 pid_gone "$pid"; then
    log "registry ignored SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    wait_until 5 pid_gone "$pid" || die "registry pid $pid does not die"
  fi
else
  log "registry not running"
fi
rm -rf "${CRIGATE_REGISTRY_DIR:?}" "$CRIGATE_REGISTRY_PID"
