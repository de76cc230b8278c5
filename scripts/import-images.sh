#!/usr/bin/env bash
# Puts the archives from build-images.sh into the private containerd's k8s.io
# namespace, unpacked for its snapshotter and labelled as CRI-managed, so CRI
# (ImageStatus, RunPodSandbox with the pause image, CreateContainer) finds
# them without any registry.
#
# Usage: scripts/import-images.sh [archive.oci.tar ...]
#   default archives: $CRIGATE_IMAGE_DIR/{pause,busybox}.oci.tar
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

containerd_answers || die "containerd does not answer on $CRIGATE_CONTAINERD_SOCK (scripts/containerd-up.sh)"
snapshotter=$(crigate_snapshotter)

archives=("$@")
((${#archives[@]})) || archives=("$CRIGATE_PAUSE_ARCHIVE" "$CRIGATE_BUSYBOX_ARCHIVE")
for a in "${archives[@]}"; do
  [[ -r $a ]] || die "$a missing (scripts/build-images.sh)"
done

for a in "${archives[@]}"; do
  log "importing $(basename "$a") (snapshotter $snapshotter)"
  # The names come from the io.containerd.image.name annotations; importing
  # the same archive again just updates the same images.
  ctr_private -n "$CRIGATE_K8S_NS" images import --snapshotter "$snapshotter" "$a" >&2
  # Every image name in the archive, to label and check below.
  mapfile -t names < <(tar -xOf "$a" index.json |
    jq -r '.manifests[].annotations["io.containerd.image.name"] // empty')
  for name in "${names[@]}"; do
    # What CRI's own PullImage puts on the images it manages.
    ctr_private -n "$CRIGATE_K8S_NS" images label "$name" io.cri-containerd.image=managed >/dev/null
    ctr_private -n "$CRIGATE_K8S_NS" images check "name==$name" | grep -q 'complete' \
      || die "$name: content incomplete after import"
  done
done
ctr_private -n "$CRIGATE_K8S_NS" images ls >&2
