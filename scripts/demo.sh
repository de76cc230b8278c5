#!/usr/bin/env bash
# The real local demo: a private containerd + runc, crigate in front of it,
# and a client that talks to crigate exactly as kubelet would. It prints each
# call and what the gate did with it, then crigate's own log.
#
# Usage: scripts/demo.sh        (as root; installs Debian packages if missing)
#   CRIGATE_RUN_DIR   where everything lives (default /tmp/crigate-demo)
#   CRIGATE_KEEP_UP=1 leave containerd and crigate running afterwards
set -euo pipefail
: "${CRIGATE_RUN_DIR:=/tmp/crigate-demo}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_dir=${CRIGATE_BUILD_DIR:-$CRIGATE_REPO_ROOT/build}
demo_dir=$CRIGATE_RUN_DIR/demo

bash "$CRIGATE_SCRIPTS_DIR/install-deps.sh" --if-missing
log "building crigate (first build takes a few minutes)"
cmake -S "$CRIGATE_REPO_ROOT" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target crigate crigate-demo >/dev/null

crigate_pid=
cleanup() {
  if [[ ${CRIGATE_KEEP_UP:-0} == 1 ]]; then
    log "left running: containerd ($CRIGATE_CONTAINERD_SOCK), crigate ($demo_dir/crigate.sock)"
    return
  fi
  [[ -n $crigate_pid ]] && kill -TERM "$crigate_pid" 2>/dev/null && wait "$crigate_pid" 2>/dev/null
  bash "$CRIGATE_SCRIPTS_DIR/containerd-down.sh" >/dev/null 2>&1 || true
}
trap cleanup EXIT

bash "$CRIGATE_SCRIPTS_DIR/containerd-up.sh" >/dev/null
bash "$CRIGATE_SCRIPTS_DIR/build-images.sh" >/dev/null 2>&1
bash "$CRIGATE_SCRIPTS_DIR/import-images.sh" >/dev/null 2>&1

rm -rf "$demo_dir" && mkdir -p "$demo_dir/logs"
cat >"$demo_dir/crigate.toml" <<TOML
[server]
socket = "$demo_dir/crigate.sock"
[backend]
endpoint = "unix://$CRIGATE_CONTAINERD_SOCK"
TOML

"$build_dir/cri/crigate" --config "$demo_dir/crigate.toml" 2>"$demo_dir/crigate.log" &
crigate_pid=$!
for _ in $(seq 100); do [[ -S $demo_dir/crigate.sock ]] && break; sleep 0.05; done
[[ -S $demo_dir/crigate.sock ]] || { cat "$demo_dir/crigate.log"; die "crigate did not start"; }

echo "crigate is serving the CRI on $demo_dir/crigate.sock, in front of containerd at $CRIGATE_CONTAINERD_SOCK"
status=0
"$build_dir/test/crigate-demo" --gate "$demo_dir/crigate.sock" --log-dir "$demo_dir/logs" || status=$?

echo
echo "== What crigate logged ($demo_dir/crigate.log)"
sed 's/^/   /' "$demo_dir/crigate.log"
exit $status
