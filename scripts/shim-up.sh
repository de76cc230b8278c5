#!/usr/bin/env bash
# Starts a second private containerd whose CRI default runtime is crigate's
# (containerd-shim-crigate-v2, from the build tree), so that no task starts
# without the gate's approval: for the no-bypass end-to-end test, and to try
# the shim by hand. Installs nothing system-wide: the shim, the approval key
# and the shim's record of used approvals all live in $CRIGATE_SHIM_RUN_DIR,
# and reach containerd (and through it the shims) by its environment.
# No "runc" runtime handler is registered there, so a CRI client cannot pick
# plain runc either.
#
# Usage: scripts/shim-up.sh             start it, import the test images
#        scripts/shim-up.sh --restart   stop this containerd only (shims and
#                                       containers keep running) and start it
#                                       again, as after a crash or an upgrade
# Prints `export NAME=value` lines for a test run (eval them):
#   CRIGATE_SHIM_CONTAINERD_SOCK  its CRI socket
#   CRIGATE_SHIM_KEY_FILE         the approval key (root, 0600): crigate's
#                                 [approval] key_file
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
  [[ -x $CRIGATE_SHIM_BIN_DIR/containerd-shim-crigate-v2 && -s $CRIGATE_SHIM_KEY_FILE ]] \
    || die "no shim instance in $CRIGATE_RUN_DIR to restart (run $0 first)"
  if pidfile_alive "$CRIGATE_CONTAINERD_PID" "$CRIGATE_CONTAINERD_CONFIG"; then
    pid=$(<"$CRIGATE_CONTAINERD_PID")
    log "stopping containerd (pid $pid); its shims keep running"
    kill -TERM "$pid"
    if ! wait_until 15 pid_gone "$pid"; then
      log "containerd $pid ignored SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      wait_until 5 pid_gone "$pid" || die "containerd pid $pid does not die"
    fi
  fi
  # The same snapshotter as before, whatever a new probe would say.
  CRIGATE_SNAPSHOTTER=$(crigate_snapshotter)
  export CRIGATE_SNAPSHOTTER
else
  shim=$build_dir/shim/containerd-shim-crigate-v2
  tool=$build_dir/shim/crigate-approval
  toml=$build_dir/shim/containerd-runtime.toml
  for f in "$shim" "$tool" "$toml"; do
    [[ -r $f ]] || die "$f missing: build first (cmake --build $build_dir)"
  done
  # A copy, not the build tree on PATH: a rebuild cannot change (or half
  # write) what a running containerd execs; run this script again instead.
  mkdir -p "$CRIGATE_SHIM_BIN_DIR"
  install -m 0755 "$shim" "$CRIGATE_SHIM_BIN_DIR/.containerd-shim-crigate-v2.new"
  mv -f "$CRIGATE_SHIM_BIN_DIR/.containerd-shim-crigate-v2.new" \
    "$CRIGATE_SHIM_BIN_DIR/containerd-shim-crigate-v2"
  cp "$toml" "$CRIGATE_SHIM_RUNTIME_TOML"
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
# shim finds its key and its record of used approvals, and how containerd
# finds the shim (the first containerd-shim-crigate-v2 on its PATH).
export CRIGATE_DEFAULT_RUNTIME=crigate CRIGATE_RUNC_HANDLER=0
export CRIGATE_CONTAINERD_EXTRA_CONFIG=$CRIGATE_SHIM_RUNTIME_TOML
export CRIGATE_SHIM_KEY=$CRIGATE_SHIM_KEY_FILE CRIGATE_SHIM_STATE_DIR=$CRIGATE_SHIM_USED_DIR
export PATH=$CRIGATE_SHIM_BIN_DIR:$PATH

bash "$CRIGATE_SCRIPTS_DIR/containerd-up.sh" >/dev/null
if ((!restart)); then
  if [[ ! -r $CRIGATE_PAUSE_ARCHIVE || ! -r $CRIGATE_BUSYBOX_ARCHIVE ]]; then
    bash "$CRIGATE_SCRIPTS_DIR/build-images.sh" >/dev/null
  fi
  bash "$CRIGATE_SCRIPTS_DIR/import-images.sh" >/dev/null
fi
log "containerd with the crigate runtime as CRI default on $CRIGATE_CONTAINERD_SOCK"

printf 'export CRIGATE_SHIM_CONTAINERD_SOCK=%q\n' "$CRIGATE_CONTAINERD_SOCK"
printf 'export CRIGATE_SHIM_KEY_FILE=%q\n' "$CRIGATE_SHIM_KEY_FILE"
printf 'export CRIGATE_SHIM_RUN_DIR=%q\n' "$CRIGATE_RUN_DIR"
printf 'export CRIGATE_BUILD_DIR=%q\n' "$build_dir"
