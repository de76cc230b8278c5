#!/usr/bin/env bash
# Stops the private containerd from containerd-up.sh and everything it left:
# tasks, shims and their containers, mounts under the run dir, and its root
# and state, so the next containerd-up.sh starts clean. Safe to run when
# nothing runs. Keeps the built images, the registry (registry-down.sh) and
# containerd.log (for post-mortems; each start appends a header).
#
# Usage: scripts/containerd-down.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root"

# Pids whose argv contains every given string (argv joined by spaces, with a
# trailing space so "SOCK " never matches a longer path).
pids_with_args() {
  local p cmd s
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    for s in "$@"; do [[ $cmd == *"$s"* ]] || continue 2; done
    echo "${p#/proc/}"
  done
}

# All descendants of a pid, deepest last.
descendants() {
  local kids k
  kids=$(ps -o pid= --ppid "$1" 2>/dev/null || true)
  for k in $kids; do echo "$k"; descendants "$k"; done
}

# True when none of the pids exists any more, not even as a zombie.
procs_absent() {
  local p
  for p in "$@"; do [[ ! -e /proc/$p ]] || return 1; done
}

# Leftover shims of *this* instance only: they carry our socket in argv.
our_shims() {
  local p
  for p in $(pids_with_args "-address $CRIGATE_CONTAINERD_SOCK "); do
    [[ $(basename "$(readlink "/proc/$p/exe" 2>/dev/null || echo x)") == containerd-shim* ]] && echo "$p"
  done
  return 0
}

# 1. While containerd still answers, let it kill and delete its tasks: that
#    also removes runc state, cgroups and rootfs mounts the proper way.
if containerd_answers; then
  for ns in $(ctr_private namespaces ls -q 2>/dev/null); do
    for id in $(ctr_private -n "$ns" tasks ls -q 2>/dev/null); do
      timeout 10 ctr --address "$CRIGATE_CONTAINERD_SOCK" -n "$ns" tasks kill --all --signal SIGKILL "$id" >/dev/null 2>&1 || true
    done
    for id in $(ctr_private -n "$ns" tasks ls -q 2>/dev/null); do
      timeout 10 ctr --address "$CRIGATE_CONTAINERD_SOCK" -n "$ns" tasks delete --force "$id" >/dev/null 2>&1 || true
    done
  done
fi

# 2. containerd itself: from the pid file, or any process still running
#    with our config (a lost pid file must not leave it behind).
pids=$(
  if pidfile_alive "$CRIGATE_CONTAINERD_PID" "$CRIGATE_CONTAINERD_CONFIG"; then
    cat "$CRIGATE_CONTAINERD_PID"
  fi
  pids_with_args containerd "--config $CRIGATE_CONTAINERD_CONFIG "
)
pids=$(sort -u <<<"$pids")
if [[ -n $pids ]]; then
  # shellcheck disable=SC2086 # one pid per word
  stop_pids containerd 10 "" $pids
else
  log "containerd not running"
fi

# 3. Shims outlive containerd by design. Kill their containers first and let
#    the shim reap them (a killed shim would leave them to PID 1), then the
#    shims.
for shim in $(our_shims); do
  id=$(tr '\0' ' ' 2>/dev/null <"/proc/$shim/cmdline" | sed -n 's/.* -id \([^ ]*\) .*/\1/p')
  log "killing leftover shim $shim (task ${id:-?}) and its processes"
  mapfile -t kids < <(descendants "$shim")
  if ((${#kids[@]})); then
    kill -KILL "${kids[@]}" 2>/dev/null || true
    wait_until 3 procs_absent "${kids[@]}" || true
  fi
  kill -KILL "$shim" 2>/dev/null || true
  wait_until 5 pid_gone "$shim" || log "shim $shim still there"
done

# Then runc's view of every task bundle of ours: `runc delete --force` also
# removes the container's cgroups. One shim serves a whole CRI pod, so walk
# the bundles, not the shims. CRI tasks keep runc state in our state dir
# (runtime option Root), ctr's tasks in the default /run/containerd/runc.
task_dir=$CRIGATE_CONTAINERD_STATE/io.containerd.runtime.v2.task
for bundle in "$task_dir"/*/*; do
  [[ -d $bundle ]] || continue
  id=${bundle##*/} ns=${bundle%/*}; ns=${ns##*/}
  for root in "$CRIGATE_CONTAINERD_STATE/runc/$ns" "/run/containerd/runc/$ns"; do
    if [[ -d $root/$id ]]; then
      runc --root "$root" delete --force "$id" >/dev/null 2>&1 \
        || log "runc delete $ns/$id failed; its cgroups may remain"
    fi
  done
  # A killed shim leaves its socket in /run/containerd/s.
  addr=$(cat "$bundle/address" 2>/dev/null || true)
  if [[ $addr == unix:///run/containerd/s/* ]]; then rm -f "${addr#unix://}"; fi
done

# 4. Mounts under the run dir (rootfs overlays, sandbox shm, netns bind
#    mounts), deepest first; lazily if busy. Never delete through a mount.
mounts_under_run() {
  awk -v pre="$CRIGATE_RUN_DIR/" 'index($5, pre) == 1 {print $5}' /proc/self/mountinfo |
    awk '{print length, $0}' | sort -rn | cut -d' ' -f2-
}
for _ in 1 2 3 4 5; do
  m=$(mounts_under_run)
  [[ -z $m ]] && break
  while read -r mp; do
    umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true
  done <<<"$m"
done
if m=$(mounts_under_run) && [[ -n $m ]]; then
  die "still mounted under $CRIGATE_RUN_DIR, not deleting state: $(tr '\n' ' ' <<<"$m")"
fi

# 5. State. --one-file-system: a mount we could not see must not be followed.
rm -rf --one-file-system "${CRIGATE_CONTAINERD_DIR:?}" "$CRIGATE_RUN_DIR/cni" \
  "$CRIGATE_CONTAINERD_SOCK" "$CRIGATE_CONTAINERD_SOCK.ttrpc" "$CRIGATE_CONTAINERD_PID"
log "containerd down; $CRIGATE_CONTAINERD_DIR removed"
