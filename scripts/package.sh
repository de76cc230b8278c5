#!/usr/bin/env bash
# Builds crigate's Debian package with Debian's own tools (debhelper,
# dpkg-buildpackage -b). The design card keeps debian/ out of the top level,
# so the packaging lives in scripts/debian/ and is laid out here, at build
# time, in a staging copy of the tree: the files git tracks or would track
# (uncommitted edits included), with scripts/debian/ as debian/.
#
# Usage: scripts/package.sh [ARCH]
#   ARCH               the Debian architecture to build for (default: this
#                      machine's); another one (arm64) is cross-built with
#                      dpkg-buildpackage -a, after scripts/install-deps.sh --arm64
#   CRIGATE_DEB_DIR    where the .deb (and .buildinfo, .changes, dbgsym)
#                      goes (default <repo>/build-deb); the staging tree is
#                      its src/ and is rebuilt from scratch each time
#   CRIGATE_DEB_JOBS   parallel compile jobs (default: every core)
# Prints the path of the .deb on stdout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! command -v dpkg-buildpackage >/dev/null || ! command -v dh >/dev/null; then
  die "dpkg-buildpackage/dh missing: scripts/install-deps.sh installs debhelper"
fi

build_arch=$(dpkg --print-architecture)
arch=${1:-$build_arch}
[[ $arch =~ ^[a-z0-9]+$ ]] || die "usage: $0 [ARCH], e.g. arm64"
cross=()
[[ $arch == "$build_arch" ]] || cross=(-a "$arch")
out_dir=${CRIGATE_DEB_DIR:-$CRIGATE_REPO_ROOT/build-deb}
jobs=${CRIGATE_DEB_JOBS:-$(nproc)}
debian_src=$CRIGATE_SCRIPTS_DIR/debian

# One version, said twice: the changelog's must be the CMake project's.
deb_version=$(dpkg-parsechangelog -l "$debian_src/changelog" -S Version)
cmake_version=$(sed -n 's/^project(crigate VERSION \([0-9.]*\).*/\1/p' \
  "$CRIGATE_REPO_ROOT/CMakeLists.txt")
[[ ${deb_version%%-*} == "$cmake_version" ]] ||
  die "scripts/debian/changelog says $deb_version, CMakeLists.txt says $cmake_version"

stage=$out_dir/src/crigate-$deb_version
rm -rf "$out_dir/src"
mkdir -p "$stage"
# --ignore-failed-read: a tracked file deleted in the work tree is left out.
git -C "$CRIGATE_REPO_ROOT" ls-files -z --cached --others --exclude-standard |
  tar -C "$CRIGATE_REPO_ROOT" --null -T - --ignore-failed-read -cf - 2>/dev/null |
  tar -C "$stage" -xf -
cp -a "$debian_src" "$stage/debian"

log "dpkg-buildpackage -b ${cross[*]} in $stage ($jobs jobs)"
started=$(date +%s)
(cd "$stage" && dpkg-buildpackage -b -us -uc "${cross[@]}" -j"$jobs") >"$out_dir/build.log" 2>&1 || {
  tail -n 40 "$out_dir/build.log" >&2
  die "dpkg-buildpackage failed (full log: $out_dir/build.log)"
}
log "built in $(( $(date +%s) - started )) s"

mv -f "$out_dir/src/"*"_${deb_version}_${arch}."* "$out_dir/"
deb=$out_dir/crigate_${deb_version}_${arch}.deb
[[ -f $deb ]] || die "no $deb after the build"
echo "$deb"
