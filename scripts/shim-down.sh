#!/usr/bin/env bash
# Stops the shim instance from shim-up.sh and removes what it left: its
# containerd with every task, shim and mount (containerd-down.sh), runc state
# of its tasks, the copied shim, the approval key and the record of used
# approvals. Keeps containerd.log. Safe to run when nothing runs.
#
# Usage: scripts/shim-down.sh   (CRIGATE_RUN_DIR, CRIGATE_SHIM_RUN_DIR: see shim-lib.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/shim-lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root"

rc=0
bash "$CRIGATE_SCRIPTS_DIR/containerd-down.sh" || rc=$?

# The crigate runtime has no runtime options, so the runc shim keeps runc's
# state in the default root, /run/containerd/runc/<namespace>, which the
# host's own containerd (and any other instance) shares. containerd-down.sh
# deletes the tasks whose bundles it finds; this catches any whose bundle is
# already gone (and the shim socket it would have removed), and touches only
# containers whose bundle lay in this instance's state dir (runc labels each
# with "bundle=<path>").
for state in /run/containerd/runc/*/*/state.json; do
  [[ -f $state ]] || continue
  bundle=$(jq -r '.config.labels[]? | select(startswith("bundle=")) | .[7:]' "$state" 2>/dev/null) \
    || continue
  [[ $bundle == "$CRIGATE_CONTAINERD_STATE"/* ]] || continue
  dir=${state%/state.json}
  id=${dir##*/} root=${dir%/*}
  log "removing leftover runc container $id (root $root)"
  runc --root "$root" delete --force "$id" >/dev/null 2>&1 \
    || { log "runc delete $id failed; its cgroups may remain"; rc=1; }
  # The socket a killed shim leaves: /run/containerd/s/sha256(<address>/<ns>/<id>).
  sock=$(printf '%s' "$CRIGATE_CONTAINERD_SOCK/${root##*/}/$id" | sha256sum | cut -d' ' -f1)
  rm -f "/run/containerd/s/$sock"
done

rm -rf --one-file-system "${CRIGATE_SHIM_BIN_DIR:?}" "${CRIGATE_SHIM_REAL_DIR:?}" \
  "${CRIGATE_SHIM_APPROVALS:?}" "${CRIGATE_SHIM_EXEC:?}" "$CRIGATE_SHIM_KEY_FILE"
((rc == 0)) && log "shim instance down; $CRIGATE_RUN_DIR keeps containerd.log"
exit "$rc"
