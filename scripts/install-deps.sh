#!/usr/bin/env bash
# Installs, from Debian 12's own repositories, everything crigate needs to build
# and to run its tests and demo: no other source is reachable from CI or the
# developers' machines, so this one apt step is the whole toolchain.
#
# Usage: scripts/install-deps.sh [--if-missing] [--arm64]
#   --if-missing                do nothing when every package is already installed
#   --arm64                     also the arm64 cross-build (scripts/cross-build.sh):
#                               the arm64 architecture, the cross compiler, the
#                               :arm64 libraries and qemu-user-static
#   CRIGATE_SKIP_APT_UPDATE=1   skip `apt-get update` (package lists already fresh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_deps=(
  cmake g++ ninja-build pkg-config clang-format
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libssl-dev libfmt-dev libcgroup-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  libtomlplusplus-dev nlohmann-json3-dev libcurl4-openssl-dev
  # The event-loop front end (cri/h2/): HTTP/2 and gzip.
  libnghttp2-dev zlib1g-dev
  # The libFuzzer targets (scripts/fuzz.sh): clang and its fuzzer runtime.
  clang-14 libclang-rt-14-dev
  # clang-tidy (scripts/tidy.sh).
  clang-tidy-14
  # The cloud channel's MQTT client (policy/channel/).
  libmosquitto-dev
  # sd_notify for the Type=notify unit (cri/daemon/service_notify.cc).
  libsystemd-dev
  # The Debian package and its install test (scripts/package.sh, package-test.sh).
  debhelper lintian
  # The metrics endpoint's embedded HTTP server (cri/daemon/metrics_server.h).
  libcivetweb-dev
)
runtime_deps=(
  containerd runc
  # busybox-static: the test image's rootfs; gcc + libc6-dev: the static pause binary.
  busybox-static gcc libc6-dev
  coreutils tar gzip jq python3 curl openssl
  iproute2 util-linux procps psmisc
  # CNI plugins for the (optional) bridge-network pods; tests use host network.
  containernetworking-plugins
  # The loopback registry that lets CRI PullImage really pull, and the tool
  # that pushes our OCI archives into it.
  docker-registry skopeo
  # The cloud channel's broker and the cloud side's clients (scripts/broker-up.sh).
  mosquitto mosquitto-clients
  # The metrics end-to-end test: a real Prometheus scrapes crigate, and the
  # exposition is parsed with the Python client's parser (Debian's python3).
  prometheus python3-prometheus-client
)
# --arm64: the cross compiler and qemu-user (amd64), and the target's
# libraries (:arm64). protoc, grpc_cpp_plugin, cmake and ninja stay the build
# machine's; nlohmann-json3-dev is arch-independent. libsystemd-dev and
# libcivetweb-dev are for the daemon's systemd notification and the metrics
# endpoint, which are being added; their amd64 packages join build_deps with
# those parts.
cross_tools=(crossbuild-essential-arm64 qemu-user-static)
arm64_libs=(
  libgrpc++-dev libprotobuf-dev libssl-dev libfmt-dev libcgroup-dev
  libgtest-dev libgmock-dev libbenchmark-dev libtomlplusplus-dev
  libcurl4-openssl-dev libnghttp2-dev zlib1g-dev libmosquitto-dev
  libsystemd-dev libcivetweb-dev
  # /usr/bin/aarch64-linux-gnu-pkg-config, which reads only the arm64 .pc files.
  pkgconf
)
arm64_libs=("${arm64_libs[@]/%/:arm64}")

if_missing=0
arm64=0
for arg in "$@"; do
  case $arg in
    --if-missing) if_missing=1 ;;
    --arm64) arm64=1 ;;
    *) die "unknown option $arg (usage: install-deps.sh [--if-missing] [--arm64])" ;;
  esac
done

wanted_pkgs=("${build_deps[@]}" "${runtime_deps[@]}")
if [[ $arm64 == 1 ]]; then
  wanted_pkgs+=("${cross_tools[@]}" "${arm64_libs[@]}")
fi

# True when every package named is installed. A name without an architecture
# is the build machine's (dpkg-query lists a Multi-Arch: same package once per
# installed architecture, as name:arch; other packages by name alone).
all_installed() { # package...
  local native installed p
  native=$(dpkg --print-architecture)
  installed=$(dpkg-query -W -f='${binary:Package} ${db:Status-Abbrev}\n' 2>/dev/null |
    awk '$2 == "ii" {print $1}')
  for p in "$@"; do
    if [[ $p == *:* ]]; then
      grep -qxF -e "$p" <<<"$installed" || return 1
    else
      grep -qxF -e "$p" -e "$p:$native" <<<"$installed" || return 1
    fi
  done
}

if [[ $if_missing == 1 ]] && all_installed "${wanted_pkgs[@]}"; then
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (apt-get install)"
export DEBIAN_FRONTEND=noninteractive

apt_update=1
[[ ${CRIGATE_SKIP_APT_UPDATE:-0} == 1 ]] && apt_update=0
if [[ $arm64 == 1 ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  log "dpkg --add-architecture arm64"
  dpkg --add-architecture arm64
  apt_update=1 # the arm64 package lists are not there yet
fi
if [[ $apt_update == 1 ]]; then
  log "apt-get update"
  apt-get update -q
fi

log "apt-get install ${#build_deps[@]} build + ${#runtime_deps[@]} runtime packages"
apt-get install -y -q -o Dpkg::Options::=--force-confold \
  "${build_deps[@]}" "${runtime_deps[@]}"

if [[ $arm64 == 1 ]]; then
  # Two calls: crossbuild-essential-arm64 and the :arm64 libraries in one call
  # did not resolve here ("held broken packages"); one after the other they do.
  # The :arm64 libraries are Multi-Arch: same, so apt upgrades the amd64
  # copies to the same version, and may then prefer removing amd64 packages
  # (seen: g++, dpkg-dev, build-essential) to upgrading them: every package
  # we need is named again so it stays, and --no-remove makes apt stop
  # rather than remove anything else.
  log "apt-get install ${#cross_tools[@]} cross-build tools"
  apt-get install -y -q -o Dpkg::Options::=--force-confold "${cross_tools[@]}"
  log "apt-get install ${#arm64_libs[@]} arm64 libraries"
  apt-get install -y -q --no-remove -o Dpkg::Options::=--force-confold \
    "${arm64_libs[@]}" "${cross_tools[@]}" "${build_deps[@]}" dpkg-dev build-essential
fi

# Debian's docker-registry ships an init script listening on every address at
# :5000; where nothing blocks service starts (no policy-rc.d), postinst may
# have started it. Ours (scripts/registry-up.sh) must own 127.0.0.1:5000.
if [[ -x /etc/init.d/docker-registry ]] && pgrep -x docker-registry >/dev/null \
   && ! pgrep -f -- "$CRIGATE_RUN_DIR/registry" >/dev/null; then
  log "stopping the distro's docker-registry service (port 5000 is ours)"
  /etc/init.d/docker-registry stop || true
fi
log "dependencies installed"
