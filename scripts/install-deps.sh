#!/usr/bin/env bash
# Installs, from Debian 12's own repositories, everything crigate needs to build
# and to run its tests and demo: no other source is reachable from CI or the
# developers' machines, so this one apt step is the whole toolchain.
#
# Usage: scripts/install-deps.sh [--if-missing]
#   --if-missing                do nothing when every package is already installed
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

if [[ ${1:-} == --if-missing ]]; then
  wanted=$(( ${#build_deps[@]} + ${#runtime_deps[@]} ))
  present=$(dpkg-query -W -f='${Status}\n' "${build_deps[@]}" "${runtime_deps[@]}" 2>/dev/null \
    | grep -c "install ok installed" || true)
  if [[ $present -eq $wanted ]]; then
    exit 0
  fi
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (apt-get install)"
export DEBIAN_FRONTEND=noninteractive

if [[ ${CRIGATE_SKIP_APT_UPDATE:-0} != 1 ]]; then
  log "apt-get update"
  apt-get update -q
fi

log "apt-get install ${#build_deps[@]} build + ${#runtime_deps[@]} runtime packages"
apt-get install -y -q -o Dpkg::Options::=--force-confold \
  "${build_deps[@]}" "${runtime_deps[@]}"

# Debian's docker-registry ships an init script listening on every address at
# :5000; where nothing blocks service starts (no policy-rc.d), postinst may
# have started it. Ours (scripts/registry-up.sh) must own 127.0.0.1:5000.
if [[ -x /etc/init.d/docker-registry ]] && pgrep -x docker-registry >/dev/null \
   && ! pgrep -f -- "$CRIGATE_RUN_DIR/registry" >/dev/null; then
  log "stopping the distro's docker-registry service (port 5000 is ours)"
  /etc/init.d/docker-registry stop || true
fi
log "dependencies installed"
