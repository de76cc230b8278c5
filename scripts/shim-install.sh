#!/usr/bin/env bash
# Installs crigate's shim wrapper on a node as containerd's runc shims, with
# Debian's containerd package: the distribution's shims are diverted
# (dpkg-divert, so package upgrades keep them aside) to a root-only
# directory without execute permission, and the wrapper takes their names.
# Then every runc task containerd starts, whoever asks (CRI, ctr, the Go API
# with the runtime name or the usual path), needs crigate's approval.
#
#   /usr/bin/containerd-shim-runc-v2   the wrapper (io.containerd.runc.v2)
#   /usr/bin/containerd-shim-runc-v1   the wrapper (io.containerd.runc.v1)
#   /usr/bin/containerd-shim           diverted, no replacement: the v1 linux
#                                      runtime (io.containerd.runtime.v1.linux)
#                                      runs runc without a v2 shim
#   /usr/lib/crigate/shim/             the real shims, mode 0600, dir 0700
#   /etc/crigate/approval.key          created if missing (root, 0600)
#
# The wrapper's built-in paths match these (shim/CMakeLists.txt): the real
# shim, the key, /run/crigate/approvals, /var/lib/crigate/shim-exec. crigate
# needs [approval] enabled = true. Restart containerd afterwards; running
# shims are not affected.
#
# Usage (as root): scripts/shim-install.sh [--uninstall]
#   CRIGATE_BUILD_DIR   build tree holding shim/ (default <repo>/build)
#   CRIGATE_SHIM_PREFIX install root, for trying it in a scratch tree ("" = /)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root"
command -v dpkg-divert >/dev/null || die "dpkg-divert missing: this script is for Debian nodes"
prefix=${CRIGATE_SHIM_PREFIX:-}
build_dir=${CRIGATE_BUILD_DIR:-$CRIGATE_REPO_ROOT/build}
real_dir=$prefix/usr/lib/crigate/shim
wrapped=(containerd-shim-runc-v2 containerd-shim-runc-v1)
diverted=("${wrapped[@]}" containerd-shim)

divert() { # divert NAME: move /usr/bin/NAME aside, keep it non-executable
  local name=$1 from=$prefix/usr/bin/$1 to=$real_dir/$1
  if ! dpkg-divert --list "$from" | grep -q .; then
    dpkg-divert --local --rename --divert "$to" --add "$from" >/dev/null
    log "diverted $from to $to"
  fi
  # A statoverride, not a chmod: a containerd upgrade writes the new shim to
  # the diverted path with the package's mode (0755), and dpkg applies the
  # override to it, so the real shim never becomes executable again.
  if [[ -z $prefix ]] && ! dpkg-statoverride --list "$to" >/dev/null; then
    dpkg-statoverride --add root root 0600 "$to"
  fi
  [[ -e $to ]] && chmod 0600 "$to"
  return 0
}

undivert() {
  local name=$1 from=$prefix/usr/bin/$1 to=$real_dir/$1
  dpkg-divert --list "$from" | grep -q . || return 0
  if dpkg-statoverride --list "$to" >/dev/null; then dpkg-statoverride --remove "$to"; fi
  rm -f "$from"
  [[ -e $to ]] && chmod 0755 "$to"
  dpkg-divert --local --rename --divert "$to" --remove "$from" >/dev/null
  log "restored $from"
}

case ${1:-} in
  --uninstall)
    for name in "${diverted[@]}"; do undivert "$name"; done
    rmdir "$real_dir" 2>/dev/null || true
    log "uninstalled; restart containerd to use the distribution's shims"
    exit 0
    ;;
  "") ;;
  *) die "usage: $0 [--uninstall]" ;;
esac

shim=$build_dir/shim/containerd-shim-crigate-v2
tool=$build_dir/shim/crigate-approval
for f in "$shim" "$tool"; do [[ -x $f ]] || die "$f missing: build first"; done
install -d -m 0700 "$real_dir"
for name in "${diverted[@]}"; do divert "$name"; done
for name in "${wrapped[@]}"; do
  install -s -m 0755 "$shim" "$prefix/usr/bin/.$name.crigate-new"
  mv -f "$prefix/usr/bin/.$name.crigate-new" "$prefix/usr/bin/$name"
done
install -d -m 0700 "$prefix/etc/crigate"
if [[ ! -e $prefix/etc/crigate/approval.key ]]; then
  (umask 077 && "$tool" keygen "$prefix/etc/crigate/approval.key")
  log "new approval key $prefix/etc/crigate/approval.key"
fi
log "installed; restart containerd, and enable [approval] in crigate's config"
