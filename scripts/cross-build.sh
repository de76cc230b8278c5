#!/usr/bin/env bash
# Cross-builds every target for an arm64 gateway on this amd64 machine, with
# Debian 12's multiarch packages (scripts/install-deps.sh --arm64) and the
# toolchain file scripts/toolchains/aarch64-linux-gnu.cmake, then runs the
# unit tests under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR; no binfmt_misc).
#
# The end-to-end tests (label e2e) are built but not run: they drive a real
# containerd and runc, which would have to be arm64 too, and qemu-user refuses
# the clone() flags runc starts a container with (CLONE_PARENT, namespaces).
# The libFuzzer targets are not built (clang-only instrumentation, run on the
# build machine in scripts/fuzz.sh).
#
# Usage: scripts/cross-build.sh arm64 [extra ctest args, e.g. -R policy]
#   CRIGATE_ARM64_BUILD_DIR     build tree (default <repo>/build-arm64)
#   CRIGATE_ARM64_BUILD_ONLY=1  build, run no tests
#   CRIGATE_ARM64_PACKAGE=0     do not build the arm64 .deb afterwards
#                               (scripts/package.sh arm64, into build-deb/)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

arch=${1:-}
case $arch in
  arm64) toolchain=$CRIGATE_SCRIPTS_DIR/toolchains/aarch64-linux-gnu.cmake ;;
  *) die "usage: cross-build.sh arm64 [ctest args] (arm64 is the one target)" ;;
esac
shift
build_dir=${CRIGATE_ARM64_BUILD_DIR:-$CRIGATE_REPO_ROOT/build-arm64}

bash "$CRIGATE_SCRIPTS_DIR/install-deps.sh" --if-missing --arm64

log "cross-building for $arch in $build_dir"
start=$SECONDS
cmake -S "$CRIGATE_REPO_ROOT" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_TOOLCHAIN_FILE="$toolchain" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
log "built in $((SECONDS - start)) s"

# Every program the product ships must come out as an arm64 executable
# (ELF e_machine 183, EM_AARCH64, little-endian at byte 18).
for program in cri/daemon/crigate shim/containerd-shim-crigate-v2 shim/crigate-approval \
  policy/crigate-token policy/channel/crigate-bundle; do
  machine=$(od -An -tu2 -j18 -N2 "$build_dir/$program" | tr -d ' ')
  [[ $machine == 183 ]] || die "$program is not an arm64 executable (ELF machine $machine)"
done

if [[ ${CRIGATE_ARM64_BUILD_ONLY:-0} != 1 ]]; then
  log "unit tests under $(grep -o 'qemu-[a-z0-9_-]*' "$build_dir/CMakeCache.txt" | head -n1)"
  start=$SECONDS
  ctest --test-dir "$build_dir" --output-on-failure -j 2 -LE e2e "$@"
  log "unit tests passed in $((SECONDS - start)) s"
fi

if [[ ${CRIGATE_ARM64_PACKAGE:-1} != 0 ]]; then
  # The operator's artefact: the same Debian package, cross-built by
  # dpkg-buildpackage -a arm64 (debhelper passes its own cross compilers).
  start=$SECONDS
  deb=$(bash "$CRIGATE_SCRIPTS_DIR/package.sh" "$arch")
  [[ $(dpkg-deb -f "$deb" Architecture) == "$arch" ]] || die "$deb does not say Architecture: $arch"
  unpacked=$(mktemp -d)
  trap 'rm -rf "$unpacked"' EXIT
  dpkg-deb -x "$deb" "$unpacked"
  for program in "$unpacked"/usr/bin/*; do
    machine=$(od -An -tu2 -j18 -N2 "$program" | tr -d ' ')
    [[ $machine == 183 ]] || die "${program##*/} in $deb is not an arm64 executable"
  done
  log "$deb: Architecture: $arch, $(stat -c %s "$deb") bytes, built in $((SECONDS - start)) s"
fi
