#!/usr/bin/env bash
# The install test of the Debian package, on this machine: lintian, dpkg -i,
# the files and their modes, the unit (systemd-analyze verify), then crigate
# run the way its unit runs it (the unit's ExecStart, its RuntimeDirectory,
# NOTIFY_SOCKET) in front of a private containerd, one CRI call through the
# installed socket path, SIGHUP and SIGTERM, and dpkg -r / dpkg -P with what
# each must leave behind. No systemd runs here (PID 1 is not systemd), so the
# unit's sandboxing is verified, not exercised.
#
# It installs crigate system-wide for the length of the test and purges it at
# the end, so it refuses to run where crigate is already installed or
# /etc/crigate or /run/crigate exist. State a run of crigate with the default
# paths left in /var/lib/crigate or /var/log/crigate is moved aside for the
# test and put back after it. The host's own containerd is never touched:
# the private one lives in $CRIGATE_RUN_DIR.
#
# Usage (as root): scripts/package-test.sh [DEB]
#   DEB                 the package to test (default: build it, scripts/package.sh)
#   CRIGATE_PACKAGE_RUN_DIR  private containerd and the test's files
#                       (/tmp/crigate-pkgtest; never the other runs' CRIGATE_RUN_DIR)
#   CRIGATE_BUILD_DIR   build tree with cri_probe, the CRI client (<repo>/build;
#                       the target is built when missing)
set -euo pipefail
CRIGATE_RUN_DIR=${CRIGATE_PACKAGE_RUN_DIR:-/tmp/crigate-pkgtest}
export CRIGATE_RUN_DIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root (dpkg -i)"
for tool in lintian systemd-analyze dpkg-deb /usr/bin/python3; do
  command -v "$tool" >/dev/null || die "$tool missing (scripts/install-deps.sh)"
done
if dpkg-query -W -f='${Status}' crigate 2>/dev/null | grep -qv 'not-installed'; then
  die "crigate is installed here ($(dpkg-query -W -f='${Status}' crigate)); this test would purge it"
fi
for path in /etc/crigate /run/crigate; do
  [[ ! -e $path ]] || die "$path exists: an install of crigate (or a run of it) is here already"
done

build_dir=${CRIGATE_BUILD_DIR:-$CRIGATE_REPO_ROOT/build}
test_dir=$CRIGATE_RUN_DIR/package-test
rm -rf "$test_dir"
mkdir -p "$test_dir"
started=$SECONDS

# What of ours may be anywhere on the system, before anything is installed:
# after the purge, nothing may be added to it.
ours() {
  find /etc /var /usr /lib /run -xdev \( -path /var/tmp -o -path /var/cache/apt \) -prune -o \
    \( -name '*crigate*' -print \) 2>/dev/null | { grep -v "^$CRIGATE_RUN_DIR" || true; } | sort
}
ours >"$test_dir/before"

# dpkg with its output in a file; while another engineer's apt or dpkg holds
# the lock, wait for it (up to 2 min) rather than fail for them.
run_dpkg() { # outfile dpkg-args...
  local out=$1 _
  shift
  for _ in $(seq 60); do
    dpkg "$@" >"$out" 2>&1 && return 0
    grep -q 'lock' "$out" || return 1
    sleep 2
  done
  return 1
}

crigate_pid='' listener_pid='' installed=0 containerd_started=0 saved=()
cleanup() {
  local rc=$? path
  # Every step below runs, whatever the one before it returned.
  set +e
  [[ -n $crigate_pid ]] && ! pid_gone "$crigate_pid" && kill -KILL "$crigate_pid" 2>/dev/null
  [[ -n $listener_pid ]] && kill "$listener_pid" 2>/dev/null && wait "$listener_pid" 2>/dev/null
  if ((installed)) && ! run_dpkg "$test_dir/dpkg-p-cleanup" -P crigate; then
    log "cleanup: dpkg -P crigate failed: $(tail -n 3 "$test_dir/dpkg-p-cleanup")"
  fi
  ((containerd_started)) && bash "$CRIGATE_SCRIPTS_DIR/containerd-down.sh" >/dev/null 2>&1
  for path in "${saved[@]}"; do
    [[ -e $path ]] && rm -rf "$path"  # only what this test's install made
    mv "$test_dir/saved/${path//\//_}" "$path" && log "put back $path"
  done
  ((rc == 0)) || log "FAILED after $((SECONDS - started)) s; files in $test_dir"
  exit "$rc"
}
trap cleanup EXIT
# timeout(1) stops the test with SIGTERM: clean up then too.
trap 'exit 143' TERM INT

for path in /var/lib/crigate /var/log/crigate; do
  if [[ -e $path ]]; then
    mkdir -p "$test_dir/saved"
    mv "$path" "$test_dir/saved/${path//\//_}"
    saved+=("$path")
    log "$path (left by an earlier run) moved aside to $test_dir/saved until the end"
  fi
done

# A containerd an interrupted run left in this private run dir would answer
# before the test starts its own.
bash "$CRIGATE_SCRIPTS_DIR/containerd-down.sh" >/dev/null
! containerd_answers || die "a containerd still answers at $CRIGATE_CONTAINERD_SOCK"

# --- the package -----------------------------------------------------------
deb=${1:-}
if [[ -z $deb ]]; then
  deb=$(bash "$CRIGATE_SCRIPTS_DIR/package.sh")
fi
[[ -f $deb ]] || die "no package at $deb"
log "testing $deb ($(stat -c %s "$deb") bytes)"

# Every tag fails the test unless scripts/debian/crigate.lintian-overrides
# justifies it (the overrides ship in the package, so lintian sees them).
lintian --fail-on error,warning --info "$deb" >"$test_dir/lintian" 2>&1 || {
  cat "$test_dir/lintian" >&2
  die "lintian: see above"
}
grep -E '^[EW]: ' "$test_dir/lintian" >&2 && die "lintian warnings or errors (above)"

# --- install -----------------------------------------------------------------
installed=1
run_dpkg "$test_dir/dpkg-i" -i "$deb" || { cat "$test_dir/dpkg-i" >&2; die "dpkg -i failed"; }

for bin in crigate containerd-shim-crigate-v2 crigate-approval crigate-bundle crigate-token; do
  [[ -x /usr/bin/$bin ]] || die "/usr/bin/$bin is missing or not executable"
done
unit=/lib/systemd/system/crigate.service
[[ -f $unit ]] || die "$unit is missing"
# Neither enabled nor started by the package (scripts/debian/rules).
[[ ! -e /etc/systemd/system/multi-user.target.wants/crigate.service ]] ||
  die "the package enabled crigate.service"
expect_mode() { # path mode owner:group
  local got
  got=$(stat -c '%a %U:%G' "$1" 2>/dev/null) || die "$1 is missing"
  [[ $got == "$2 $3" ]] || die "$1 is $got, expected $2 $3"
}
expect_mode /etc/crigate/keys 700 root:root
expect_mode /var/lib/crigate 700 root:root
expect_mode /var/log/crigate 2750 root:adm
expect_mode /etc/crigate/config.toml 644 root:root
expect_mode /etc/crigate/trust.toml 644 root:root
conffiles=$(dpkg-query -W -f='${Conffiles}' crigate)
for f in /etc/crigate/config.toml /etc/crigate/trust.toml; do
  grep -q "^ $f [0-9a-f]\{32\}$" <<<"$conffiles" || die "$f is not a conffile: $conffiles"
done
# The installed config, every key uncommented, against the installed binary.
bash "$CRIGATE_SCRIPTS_DIR/check-shipped-config.sh" /usr/bin/crigate /etc/crigate/config.toml \
  /etc/crigate/trust.toml

systemd-analyze verify "$unit" >"$test_dir/verify" 2>&1 || {
  cat "$test_dir/verify" >&2
  die "systemd-analyze verify $unit failed"
}
# verify exits 0 on some complaints; any line naming the unit is one.
grep -F 'crigate.service' "$test_dir/verify" >&2 && die "systemd-analyze verify complains (above)"
systemd-analyze security --offline=true "$unit" >"$test_dir/security" 2>&1 || true
log "unit: $(grep -o 'Overall exposure level.*' "$test_dir/security" || echo 'no security score')"

# --- run it as the unit would ------------------------------------------------
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[[ $exec_start == "/usr/bin/crigate --config /etc/crigate/config.toml" ]] ||
  die "unexpected ExecStart: $exec_start"
runtime_dir=/run/$(sed -n 's/^RuntimeDirectory=//p' "$unit")
runtime_mode=$(sed -n 's/^RuntimeDirectoryMode=//p' "$unit")
cri_socket=$runtime_dir/crigate.sock

probe=$build_dir/test/e2e/cri_probe
if [[ ! -x $probe ]]; then
  [[ -f $build_dir/build.ninja ]] ||
    cmake -S "$CRIGATE_REPO_ROOT" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build_dir" --target cri_probe >/dev/null
fi

# As an admin would: a token public key (crigate refuses an empty key
# directory), and the installed config pointed at this containerd.
/usr/bin/crigate-token keygen --type ed25519 --out "$test_dir/ops" >/dev/null
install -m 0644 "$test_dir/ops.pub" /etc/crigate/keys/
sed -i "s|^# \[backend\]$|[backend]|; s|^# endpoint = .*|endpoint = \"unix://$CRIGATE_CONTAINERD_SOCK\"|" \
  /etc/crigate/config.toml
grep -q "^endpoint = \"unix://$CRIGATE_CONTAINERD_SOCK\"" /etc/crigate/config.toml ||
  die "could not set backend.endpoint in /etc/crigate/config.toml"

notes=$test_dir/notify.jsonl
: >"$notes"
/usr/bin/python3 "$CRIGATE_SCRIPTS_DIR/notify-listen.py" "$test_dir/notify.sock" "$notes" \
  "$cri_socket" "$CRIGATE_CONTAINERD_SOCK" &
listener_pid=$!
wait_until 5 test -S "$test_dir/notify.sock" || die "the notify listener did not start"

# crigate starts before containerd does, so READY=1 has something to wait for.
install -d -m "$runtime_mode" "$runtime_dir"
# shellcheck disable=SC2086 # ExecStart is split into words, as systemd does
NOTIFY_SOCKET=$test_dir/notify.sock $exec_start >"$test_dir/crigate.log" 2>&1 &
crigate_pid=$!
wait_until 10 test -S "$cri_socket" || { cat "$test_dir/crigate.log" >&2; die "crigate did not listen on $cri_socket"; }
wait_until 5 grep -q 'waiting for containerd' "$notes" || die "no STATUS= about waiting for containerd"
sleep 3
grep -q 'READY=1' "$notes" && die "READY=1 while containerd was not running: $(cat "$notes")"
pid_gone "$crigate_pid" && { cat "$test_dir/crigate.log" >&2; die "crigate exited while containerd was down"; }

containerd_started=1
bash "$CRIGATE_SCRIPTS_DIR/containerd-up.sh" >/dev/null
wait_until 15 grep -q 'READY=1' "$notes" ||
  { cat "$test_dir/crigate.log" "$notes" >&2; die "no READY=1 within 15 s of containerd answering"; }
ready=$(grep -m1 'READY=1' "$notes")
[[ $ready == *'"cri_socket": true'* && $ready == *'"containerd_accepts": true'* ]] ||
  die "READY=1 arrived before the socket and containerd were both there: $ready"

# One CRI call through the installed socket path; only containerd answers Version.
answer=$("$probe" --socket "$cri_socket" version)
[[ $answer == "0 " ]] || die "Version through $cri_socket: $answer (expected status 0)"

kill -HUP "$crigate_pid"
wait_until 10 grep -q 'RELOADING=1' "$notes" || die "no RELOADING=1 after SIGHUP"
wait_until 10 eval '[[ $(grep -c "READY=1" "$notes") -ge 2 ]]' ||
  die "no READY=1 after the reload: $(cat "$notes")"

kill -TERM "$crigate_pid"
wait_until 30 pid_gone "$crigate_pid" || die "crigate did not stop within 30 s of SIGTERM"
wait "$crigate_pid" || die "crigate exited with status $? after SIGTERM"
crigate_pid=
grep -q 'STOPPING=1' "$notes" || die "no STOPPING=1 at SIGTERM"
[[ ! -e $cri_socket ]] || die "$cri_socket left behind after SIGTERM"
rm -rf "$runtime_dir"  # as systemd does at stop
# The audit log takes the log directory's group (setgid), for the adm group.
expect_mode /var/log/crigate/audit.jsonl 640 root:adm

# --- remove: the conffiles (with the admin's edit), keys and state stay -----
run_dpkg "$test_dir/dpkg-r" -r crigate || { cat "$test_dir/dpkg-r" >&2; die "dpkg -r failed"; }
[[ ! -e /usr/bin/crigate && ! -e $unit ]] || die "dpkg -r left the programs or the unit"
grep -q "^endpoint = \"unix://$CRIGATE_CONTAINERD_SOCK\"" /etc/crigate/config.toml ||
  die "dpkg -r did not keep the edited /etc/crigate/config.toml"
[[ -d /etc/crigate/keys && -d /var/lib/crigate ]] || die "dpkg -r removed the keys or the state"
[[ $(dpkg-query -W -f='${Status}' crigate) == "deinstall ok config-files" ]] ||
  die "after dpkg -r: $(dpkg-query -W -f='${Status}' crigate)"

# --- purge: nothing of ours remains ------------------------------------------
run_dpkg "$test_dir/dpkg-p" -P crigate || { cat "$test_dir/dpkg-p" >&2; die "dpkg -P failed"; }
installed=0
ours >"$test_dir/after"
left=$(comm -13 "$test_dir/before" "$test_dir/after")
[[ -z $left ]] || die "left after dpkg -P: ${left//$'\n'/ }"
dpkg-query -W crigate >/dev/null 2>&1 && die "dpkg still knows crigate after dpkg -P"

log "passed in $((SECONDS - started)) s (install, unit, READY after containerd, Version, reload, stop, remove, purge)"
