#!/usr/bin/env bash
# Starts a private containerd (own root, state and socket under
# $CRIGATE_RUN_DIR) so tests and the demo never touch the host's containerd,
# configured for this kind of machine: cgroupfs, restrict_oom_score_adj, the
# pause image we build ourselves, no CNI (host-network pods), and plain-http
# pulls from the loopback registry at localhost:5000.
#
# Usage: scripts/containerd-up.sh          (prints the socket path on stdout)
#   CRIGATE_RUN_DIR                  where everything lives (/tmp/crigate-run)
#   CRIGATE_DEFAULT_RUNTIME          CRI default runtime name (runc)
#   CRIGATE_RUNC_HANDLER             1 (default): register the "runc" runtime
#       handler; 0: leave it out, so that no CRI client can choose plain runc
#       (scripts/shim-up.sh, whose default runtime is crigate's shim)
#   CRIGATE_CONTAINERD_EXTRA_CONFIG  file whose TOML is appended to the config,
#       e.g. to register a runtime: [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.NAME]
#       It may add new tables only; repeating one written here (say
#       [plugins."io.containerd.grpc.v1.cri"]) is a TOML error ("duplicated tables").
#   CRIGATE_SNAPSHOTTER              force a snapshotter instead of probing
# containerd inherits this script's environment (PATH finds the shims).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root"
case ${CRIGATE_RUNC_HANDLER:=1} in
  1) ;;
  0) [[ $CRIGATE_DEFAULT_RUNTIME != runc ]] \
       || die "CRIGATE_RUNC_HANDLER=0 needs another CRIGATE_DEFAULT_RUNTIME than runc" ;;
  *) die "CRIGATE_RUNC_HANDLER must be 0 or 1" ;;
esac
command -v containerd >/dev/null || die "containerd not found (scripts/install-deps.sh)"

if pidfile_alive "$CRIGATE_CONTAINERD_PID" "$CRIGATE_CONTAINERD_CONFIG"; then
  log "already running (pid $(<"$CRIGATE_CONTAINERD_PID")); containerd-down.sh first to apply a new config"
  echo "$CRIGATE_CONTAINERD_SOCK"
  exit 0
fi
if containerd_answers; then
  die "$CRIGATE_CONTAINERD_SOCK is served by a containerd we did not start; run scripts/containerd-down.sh"
fi
rm -f "$CRIGATE_CONTAINERD_SOCK" "$CRIGATE_CONTAINERD_SOCK.ttrpc" "$CRIGATE_CONTAINERD_PID"

mkdir -p "$CRIGATE_CONTAINERD_ROOT" "$CRIGATE_CONTAINERD_STATE" \
  "$CRIGATE_CNI_CONF_DIR" "$CRIGATE_CNI_BIN_DIR" "$CRIGATE_CONTAINERD_DIR/certs.d"

# overlayfs needs kernel support and an upper filesystem that takes it (not
# another overlay, not some tmpfs/9p setups); native copies whole layers but
# works anywhere. Probe on the filesystem containerd's root will use.
overlay_works() {
  local d rc=0
  d=$(mktemp -d "$CRIGATE_CONTAINERD_DIR/overlay-probe.XXXXXX")
  mkdir "$d"/{lower,upper,work,merged}
  if mount -t overlay overlay \
       -o "lowerdir=$d/lower,upperdir=$d/upper,workdir=$d/work" "$d/merged" 2>/dev/null; then
    umount "$d/merged"
  else
    rc=1
  fi
  rm -rf "$d"
  return $rc
}
snapshotter=${CRIGATE_SNAPSHOTTER:-}
if [[ -z $snapshotter ]]; then
  if overlay_works; then snapshotter=overlayfs; else snapshotter=native; fi
fi
# Other scripts (import, ctr run) must unpack for the same snapshotter.
echo "$snapshotter" >"$CRIGATE_CONTAINERD_DIR/snapshotter"

# hosts.toml (config_path) rather than the deprecated registry.mirrors: the
# same directory also serves `ctr --hosts-dir`, and 1.6 rejects having both.
reg_hosts=$CRIGATE_CONTAINERD_DIR/certs.d/$CRIGATE_REGISTRY_HOST
mkdir -p "$reg_hosts"
cat >"$reg_hosts/hosts.toml" <<TOML
server = "http://$CRIGATE_REGISTRY_HOST"

[host."http://$CRIGATE_REGISTRY_HOST"]
  capabilities = ["pull", "resolve", "push"]
TOML

runc_handler=
if [[ $CRIGATE_RUNC_HANDLER == 1 ]]; then
  runc_handler=$(cat <<TOML

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          # runc's state with ours, not in the host's /run/containerd/runc.
          Root = "$CRIGATE_CONTAINERD_STATE/runc"
TOML
)
fi

cat >"$CRIGATE_CONTAINERD_CONFIG" <<TOML
# Written by scripts/containerd-up.sh; edits are overwritten on the next start.
version = 2
root = "$CRIGATE_CONTAINERD_ROOT"
state = "$CRIGATE_CONTAINERD_STATE"
# Snapshotters that can never work here only add noise to the log.
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "$CRIGATE_CONTAINERD_SOCK"

[debug]
  level = "info"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$CRIGATE_CONTAINERD_ROOT/opt"

  [plugins."io.containerd.grpc.v1.cri"]
    # Lowering oom_score_adj is denied on this machine; without this runc
    # fails with "can't get final child's PID from pipe".
    restrict_oom_score_adj = true
    # Built by scripts/build-images.sh from scripts/pause/pause.c.
    sandbox_image = "$CRIGATE_PAUSE_IMAGE"
    # No systemd as PID 1: cgroupfs driver.
    systemd_cgroup = false
    # Pod netns mounts under our state dir, so containerd-down.sh finds them.
    netns_mounts_under_state_dir = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"

    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "$CRIGATE_CNI_BIN_DIR"
      conf_dir = "$CRIGATE_CNI_CONF_DIR"

    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "$snapshotter"
      default_runtime_name = "$CRIGATE_DEFAULT_RUNTIME"
$runc_handler

    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "$CRIGATE_CONTAINERD_DIR/certs.d"
TOML

if [[ -n $CRIGATE_CONTAINERD_EXTRA_CONFIG ]]; then
  [[ -r $CRIGATE_CONTAINERD_EXTRA_CONFIG ]] \
    || die "CRIGATE_CONTAINERD_EXTRA_CONFIG=$CRIGATE_CONTAINERD_EXTRA_CONFIG is not readable"
  { printf '\n# Appended from %s\n' "$CRIGATE_CONTAINERD_EXTRA_CONFIG"
    cat "$CRIGATE_CONTAINERD_EXTRA_CONFIG"; } >>"$CRIGATE_CONTAINERD_CONFIG"
fi

log "starting containerd (snapshotter $snapshotter, default runtime $CRIGATE_DEFAULT_RUNTIME)"
printf '\n==== %s containerd-up\n' "$(date -Is)" >>"$CRIGATE_CONTAINERD_LOG"
# setsid: its own session, so the caller's terminal signals and job control
# leave it (and the shims it starts) alone until containerd-down.sh.
setsid containerd --config "$CRIGATE_CONTAINERD_CONFIG" \
  </dev/null >>"$CRIGATE_CONTAINERD_LOG" 2>&1 &
pid=$!
echo "$pid" >"$CRIGATE_CONTAINERD_PID"

alive() { ! pid_gone "$pid"; }
deadline=$((SECONDS + 20))
until containerd_answers; do
  if ! alive || ((SECONDS >= deadline)); then
    if alive; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -f "$CRIGATE_CONTAINERD_PID"
    log "containerd did not come up; from $CRIGATE_CONTAINERD_LOG:"
    log_since_start "$CRIGATE_CONTAINERD_LOG" >&2
    exit 1
  fi
  sleep 0.2
done
# The CRI plugin loads after the socket answers, and a plugin that failed to
# load is only in the log: check it so a broken config fails here, not later.
if ! ctr_private plugins ls 2>/dev/null | awk '$2=="cri" && $4=="ok"' | grep -q .; then
  log "containerd runs but its CRI plugin did not load; from $CRIGATE_CONTAINERD_LOG:"
  log_since_start "$CRIGATE_CONTAINERD_LOG" >&2
  exit 1
fi
log "containerd up (pid $pid) after ${SECONDS}s"
echo "$CRIGATE_CONTAINERD_SOCK"
