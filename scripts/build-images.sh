#!/usr/bin/env bash
# Builds the two test images as OCI image-layout archives, with no network:
# no registry is reachable here, so busybox comes from Debian's busybox-static
# binary and the sandbox (pause) image from scripts/pause/pause.c. Layers and
# archives are reproducible (sorted entries, mtime 0, owner 0:0, gzip -n), so
# the digests only change when the inputs do (busybox-static, gcc/libc, this
# script).
#
# Usage: scripts/build-images.sh
#   CRIGATE_IMAGE_DIR   output dir (default $CRIGATE_RUN_DIR/images), gets
#     busybox.oci.tar, pause.oci.tar   OCI archives (ctr import, skopeo oci-archive:)
#     busybox/, pause/                 the same layouts unpacked (skopeo oci:)
#     digests.txt                      "<name> <manifest digest>" per image
# Needs: coreutils, tar, gzip, jq (Debian package jq), gcc + libc6-dev,
# busybox-static (scripts/install-deps.sh installs them).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for tool in jq gcc readelf tar gzip sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh)"
done
BUSYBOX=${CRIGATE_BUSYBOX_BIN:-/bin/busybox}
[[ -x $BUSYBOX ]] || die "$BUSYBOX missing (apt-get install busybox-static)"
# The dynamically linked busybox package would need a libc in the image.
if readelf -l "$BUSYBOX" 2>/dev/null | grep -q 'program interpreter'; then
  die "$BUSYBOX is dynamically linked (apt-get install busybox-static)"
fi

case $(dpkg --print-architecture) in
  amd64) ARCH=amd64 ;;
  arm64) ARCH=arm64 ;;
  ppc64el) ARCH=ppc64le ;;
  s390x) ARCH=s390x ;;
  riscv64) ARCH=riscv64 ;;
  *) die "no OCI architecture mapping for $(dpkg --print-architecture)" ;;
esac

export LC_ALL=C
umask 022
# A fixed creation time: part of the config, hence of every digest.
EPOCH_ISO=1970-01-01T00:00:00Z

work=$(mktemp -d "${TMPDIR:-/tmp}/crigate-images.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Reproducible tar of a directory's content: entries listed explicitly in
# byte order without a "./" prefix (as in registry layers), so neither the
# filesystem's readdir order nor the build time leaks into the digest.
repro_tar() { # dir -> tar on stdout
  (cd "$1" && find . -mindepth 1 -printf '%P\n' | sort) |
    tar --create --file=- --directory="$1" --no-recursion --files-from=- \
      --format=posix --pax-option='exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime' \
      --mtime=@0 --owner=0 --group=0 --numeric-owner
}

# Moves a file into the layout's blob store; prints "<digest> <size>".
add_blob() { # layout file
  local hex size
  hex=$(sha256sum "$2" | cut -d' ' -f1)
  size=$(stat -c %s "$2")
  mkdir -p "$1/blobs/sha256"
  mv "$2" "$1/blobs/sha256/$hex"
  echo "sha256:$hex $size"
}

# Writes an OCI layout for one single-layer image and its archive.
#   build_image <short> <rootfs> <config.config JSON> <full name>...
build_image() {
  local short=$1 rootfs=$2 runconf=$3; shift 3
  local layout=$work/$short diff_id layer layer_size cfg cfg_size man man_size ref
  mkdir -p "$layout"

  repro_tar "$rootfs" >"$work/$short.layer.tar"
  diff_id=sha256:$(sha256sum "$work/$short.layer.tar" | cut -d' ' -f1)
  gzip -n -9 <"$work/$short.layer.tar" >"$work/$short.layer.tar.gz"
  read -r layer layer_size < <(add_blob "$layout" "$work/$short.layer.tar.gz")

  jq -n -S -c --arg arch "$ARCH" --arg created "$EPOCH_ISO" --arg diff "$diff_id" \
    --argjson config "$runconf" '{
      architecture: $arch, os: "linux", created: $created, config: $config,
      rootfs: {type: "layers", diff_ids: [$diff]},
      history: [{created: $created, created_by: "crigate scripts/build-images.sh"}]
    }' | tr -d '\n' >"$work/$short.config.json"
  read -r cfg cfg_size < <(add_blob "$layout" "$work/$short.config.json")

  jq -n -S -c --arg cfg "$cfg" --argjson cfgsize "$cfg_size" \
    --arg layer "$layer" --argjson layersize "$layer_size" '{
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cfg, size: $cfgsize},
      layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $layer, size: $layersize}]
    }' | tr -d '\n' >"$work/$short.manifest.json"
  read -r man man_size < <(add_blob "$layout" "$work/$short.manifest.json")

  # One index entry per name. ref.name holds the tag, as the OCI spec and
  # skopeo (oci-archive:FILE:TAG) expect; io.containerd.image.name holds the
  # full name, which `ctr images import` uses as is (without it ctr would
  # invent "import-<date>:<tag>" names).
  printf '%s\n' "$@" | jq -R . | jq -s -S -c --arg arch "$ARCH" \
    --arg man "$man" --argjson mansize "$man_size" '{
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [.[] | {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: $man, size: $mansize,
        platform: {architecture: $arch, os: "linux"},
        annotations: {
          "io.containerd.image.name": .,
          "org.opencontainers.image.ref.name": (. | sub("^.*:"; ""))
        }
      }]
    }' >"$layout/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  repro_tar "$layout" >"$work/$short.oci.tar"

  for ref in "$@"; do echo "$ref $man"; done >>"$work/digests.txt"
  log "$short: manifest $man (layer $layer_size bytes gzip'd)"
}

# --- busybox: the static binary plus one symlink per applet, where busybox
# itself says each applet lives (bin/sh, usr/bin/env, ...).
bb=$work/rootfs-busybox
mkdir -p "$bb"/{bin,sbin,usr/bin,usr/sbin,etc,root,home,var,proc,sys,dev,tmp}
chmod 1777 "$bb/tmp"
chmod 0700 "$bb/root"
install -m 0755 "$BUSYBOX" "$bb/bin/busybox"
while read -r applet; do
  [[ $applet == bin/busybox || -e $bb/$applet || -L $bb/$applet ]] && continue
  ln -s /bin/busybox "$bb/$applet"
done < <("$BUSYBOX" --list-full)
[[ -L $bb/bin/sh ]] || die "busybox has no sh applet"
# Users for run_as_username and `id`; uid 65534 as in Debian and busybox images.
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$bb/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$bb/etc/group"

build_image busybox "$bb" \
  '{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]}' \
  "$CRIGATE_BUSYBOX_IMAGE" "$CRIGATE_BUSYBOX_LATEST"

# --- pause: one static binary. Compiled in its own dir under a fixed name so
# no build path ends up in the binary; -s drops the symbol table.
pz=$work/rootfs-pause
mkdir -p "$pz" "$work/pause-src"
cp "$CRIGATE_SCRIPTS_DIR/pause/pause.c" "$work/pause-src/pause.c"
(cd "$work/pause-src" && gcc -static -O2 -s -Wall -Wextra -o pause pause.c) \
  || die "compiling scripts/pause/pause.c failed (needs gcc and libc6-dev)"
install -m 0755 "$work/pause-src/pause" "$pz/pause"
# 65535:65535 and the Entrypoint as in the upstream pause image.
build_image pause "$pz" \
  '{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Entrypoint":["/pause"],"User":"65535:65535","WorkingDir":"/"}' \
  "$CRIGATE_PAUSE_IMAGE"

# Replace the previous output only once everything built.
mkdir -p "$CRIGATE_IMAGE_DIR"
for short in busybox pause; do
  rm -rf "${CRIGATE_IMAGE_DIR:?}/$short"
  mv "$work/$short" "$CRIGATE_IMAGE_DIR/$short"
  mv "$work/$short.oci.tar" "$CRIGATE_IMAGE_DIR/$short.oci.tar"
done
mv "$work/digests.txt" "$CRIGATE_IMAGE_DIR/digests.txt"
cat "$CRIGATE_IMAGE_DIR/digests.txt"
