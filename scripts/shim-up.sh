#!/usr/bin/env bash
# Starts a second private containerd in which crigate's shim wrapper is
# containerd-shim-runc-v2, so that no task starts without the gate's
# approval, whoever asks containerd: CRI, `ctr run` with the default runtime
# io.containerd.runc.v2, or `--runtime <path of the real runc shim>`. For the
# no-bypass end-to-end test, and to try the shim by hand. This is the
# install mode for a node (README, "No bypass"), laid out under
# $CRIGATE_SHIM_RUN_DIR instead of /usr/bin: nothing is installed
# system-wide, and the machine's own containerd-shim-runc-v2 stays as it is.
#
# Usage: scripts/shim-up.sh             start it, import the test images
#        scripts/shim-up.sh --restart   stop this containerd only (shims and
#                                       containers keep running) and start it
#                                       again, as after a crash or an upgrade
# Prints `export NAME=value` lines for a test run (eval them):
#   CRIGATE_SHIM_CONTAINERD_SOCK  its CRI socket
#   CRIGATE_SHIM_KEY_FILE         the approval key (root, 0600): crigate's
#                                 [approval] key_file
#   CRIGATE_SHIM_APPROVALS        crigate's [approval] dir
#   CRIGATE_SHIM_REAL             the real runc shim, mode 0600
#   CRIGATE_SHIM_RUN_DIR          its run dir
#   CRIGATE_BUILD_DIR             the build tree the shim came from
# Environment:
#   CRIGATE_BUILD_DIR     build tree with shim/ built (default <repo>/build)
#   CRIGATE_RUN_DIR, CRIGATE_SHIM_RUN_DIR, CRIGATE_IMAGE_DIR: see shim-lib.sh
#   CRIGATE_SHIM_RUNTIME  passed on to the shim: the runc shim it execs
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/shim-lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root"
restart=0
case ${1:-} in
  "") ;;
  --restart) restart=1 ;;
  *) die "usage: $0 [--restart]" ;;
esac

build_dir=${CRIGATE_BUILD_DIR:-$CRIGATE_REPO_ROOT/build}
mkdir -p "$CRIGATE_RUN_DIR"

if ((restart)); then
  [[ -x $CRIGATE_SHIM_BIN_DIR/containerd-shim-runc-v2 && -s $CRIGATE_SHIM_KEY_FILE ]] \
    || die "no shim instance in $CRIGATE_RUN_DIR to restart (run $0 first)"
  if pidfile_alive "$CRIGATE_CONTAINERD_PID" "$CRIGATE_CONTAINERD_CONFIG"; then
    stop_pids "containerd (its shims keep running)" 15 "" "$(<"$CRIGATE_CONTAINERD_PID")"
  fi
  # The same snapshotter as before, whatever a new probe would say.
  CRIGATE_SNAPSHOTTER=$(crigate_snapshotter)
  export CRIGATE_SNAPSHOTTER
else
  shim=$build_dir/shim/containerd-shim-crigate-v2
  tool=$build_dir/shim/crigate-approval
  real=${CRIGATE_SHIM_RUNTIME:-/usr/bin/containerd-shim-runc-v2}
  for f in "$shim" "$tool" "$real"; do
    [[ -r $f ]] || die "$f missing: build first (cmake --build $build_dir)"
  done
  # Copies, not the build tree on PATH: a rebuild cannot change (or half
  # write) what a running containerd execs; run this script again instead.
  # The wrapper takes the runc shim's name; the real one keeps no execute
  # bit, in a directory only root can enter.
  mkdir -p "$CRIGATE_SHIM_BIN_DIR"
  install -d -m 0700 "$CRIGATE_SHIM_REAL_DIR"
  install -m 0600 "$real" "$CRIGATE_SHIM_REAL.new"
  mv -f "$CRIGATE_SHIM_REAL.new" "$CRIGATE_SHIM_REAL"
  # Under the runc v1 shim's name too: io.containerd.runc.v1 would find the
  # distribution's containerd-shim-runc-v1 on PATH otherwise.
  for name in containerd-shim-runc-v2 containerd-shim-runc-v1; do
    install -m 0755 "$shim" "$CRIGATE_SHIM_BIN_DIR/.$name.new"
    mv -f "$CRIGATE_SHIM_BIN_DIR/.$name.new" "$CRIGATE_SHIM_BIN_DIR/$name"
  done
  # Kept across runs (approvals minted with it stay valid); the daemon and
  # the shim both refuse it unless it is root's, mode 0600.
  if [[ ! -e $CRIGATE_SHIM_KEY_FILE ]]; then
    (umask 077 && "$tool" keygen "$CRIGATE_SHIM_KEY_FILE")
    log "new approval key $CRIGATE_SHIM_KEY_FILE"
  fi
  chown root:root "$CRIGATE_SHIM_KEY_FILE"
  chmod 0600 "$CRIGATE_SHIM_KEY_FILE"
fi

# containerd passes its environment to the shims it starts: this is how the
# wrapper finds its key, the approvals and the real shim, and how containerd
# finds the wrapper (the first containerd-shim-runc-v2 on its PATH). The CRI
# runtime is containerd's usual "runc" (io.containerd.runc.v2), options and all.
# The v1 linux runtime (io.containerd.runtime.v1.linux) runs containerd-shim
# and runc with no v2 shim in between. containerd 1.6's task service cannot
# start with that plugin disabled, so it gets a shim binary that does not
# exist (on a node, shim-install.sh diverts containerd-shim instead).
v1_config=$CRIGATE_RUN_DIR/v1-runtime.toml
cat >"$v1_config" <<'TOML'
[plugins."io.containerd.runtime.v1.linux"]
  shim = "/crigate/refuses/the-v1-linux-runtime"
TOML
export CRIGATE_DEFAULT_RUNTIME=runc CRIGATE_RUNC_HANDLER=1 CRIGATE_CONTAINERD_EXTRA_CONFIG=$v1_config
export CRIGATE_SHIM_KEY=$CRIGATE_SHIM_KEY_FILE CRIGATE_SHIM_APPROVAL_DIR=$CRIGATE_SHIM_APPROVALS
export CRIGATE_SHIM_EXEC_DIR=$CRIGATE_SHIM_EXEC CRIGATE_SHIM_RUNTIME=$CRIGATE_SHIM_REAL
export PATH=$CRIGATE_SHIM_BIN_DIR:$PATH

bash "$CRIGATE_SCRIPTS_DIR/containerd-up.sh" >/dev/null
if ((!restart)); then
  if [[ ! -r $CRIGATE_PAUSE_ARCHIVE || ! -r $CRIGATE_BUSYBOX_ARCHIVE ]]; then
    bash "$CRIGATE_SCRIPTS_DIR/build-images.sh" >/dev/null
  fi
  bash "$CRIGATE_SCRIPTS_DIR/import-images.sh" >/dev/null
fi
log "containerd with crigate's wrapper as containerd-shim-runc-v2 on $CRIGATE_CONTAINERD_SOCK"

printf 'export CRIGATE_SHIM_CONTAINERD_SOCK=%q\n' "$CRIGATE_CONTAINERD_SOCK"
printf 'export CRIGATE_SHIM_KEY_FILE=%q\n' "$CRIGATE_SHIM_KEY_FILE"
printf 'export CRIGATE_SHIM_APPROVALS=%q\n' "$CRIGATE_SHIM_APPROVALS"
printf 'export CRIGATE_SHIM_REAL=%q\n' "$CRIGATE_SHIM_REAL"
printf 'export CRIGATE_SHIM_RUN_DIR=%q\n' "$CRIGATE_RUN_DIR"
printf 'export CRIGATE_BUILD_DIR=%q\n' "$build_dir"
