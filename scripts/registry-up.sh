#!/usr/bin/env bash
# Starts a loopback-only image registry on 127.0.0.1:5000 and pushes the test
# busybox image into it as localhost:5000/crigate/busybox:1.35. containerd
# 1.6's CRI PullImage always asks a registry, so an imported image alone
# cannot be "pulled"; this gives tests a real pull with no network.
# Debian's docker-registry (distribution 2.8) serves it, Debian's skopeo pushes.
#
# Usage: scripts/registry-up.sh      (after scripts/build-images.sh)
#   CRIGATE_REGISTRY_PORT   port on 127.0.0.1 (5000); pushes as localhost:PORT/...
#   prints the pushed reference on stdout
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for tool in docker-registry skopeo curl; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh)"
done
[[ -r $CRIGATE_BUSYBOX_ARCHIVE ]] || die "$CRIGATE_BUSYBOX_ARCHIVE missing (scripts/build-images.sh)"

config=$CRIGATE_REGISTRY_DIR/config.yml
policy=$CRIGATE_REGISTRY_DIR/policy.json
v2=http://$CRIGATE_REGISTRY_ADDR/v2/
answers() { curl -fsS -o /dev/null --max-time 2 "$v2" 2>/dev/null; }

if pidfile_alive "$CRIGATE_REGISTRY_PID" "$config"; then
  log "registry already running (pid $(<"$CRIGATE_REGISTRY_PID"))"
else
  # Someone else on the port (e.g. the distro's docker-registry service) would
  # take our pushes and hide a broken setup.
  answers && die "something we did not start already serves $v2"
  mkdir -p "$CRIGATE_REGISTRY_DIR/data"
  cat >"$config" <<YAML
# Written by scripts/registry-up.sh: loopback only, no auth, storage in the run dir.
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $CRIGATE_REGISTRY_DIR/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $CRIGATE_REGISTRY_ADDR
  # Fixed, so the log has no warning about a generated one; nothing secret here.
  secret: crigate-loopback-only
  headers:
    X-Content-Type-Options: [nosniff]
YAML
  printf '\n==== %s registry-up\n' "$(date -Is)" >>"$CRIGATE_REGISTRY_LOG"
  setsid docker-registry serve "$config" </dev/null >>"$CRIGATE_REGISTRY_LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$CRIGATE_REGISTRY_PID"
  deadline=$((SECONDS + 15))
  until answers; do
    if pid_gone "$pid" || ((SECONDS >= deadline)); then
      if ! pid_gone "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
      rm -f "$CRIGATE_REGISTRY_PID"
      log "registry did not come up; from $CRIGATE_REGISTRY_LOG:"
      log_since_start "$CRIGATE_REGISTRY_LOG" >&2
      exit 1
    fi
    sleep 0.2
  done
  log "registry up on $CRIGATE_REGISTRY_ADDR (pid $pid)"
fi

# Our own signature policy: the host's /etc/containers/policy.json may be
# missing or stricter, and these are images we built ourselves.
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$policy"

# Pushing again is cheap (blobs already there) and repairs a partial push.
tag=${CRIGATE_BUSYBOX_IMAGE##*:}
log "pushing $CRIGATE_REGISTRY_BUSYBOX"
skopeo --policy "$policy" copy --quiet --dest-tls-verify=false \
  "oci-archive:$CRIGATE_BUSYBOX_ARCHIVE:$tag" "docker://$CRIGATE_REGISTRY_BUSYBOX" >&2

# The registry must hand out the very manifest we built (skopeo keeps it as
# is when the registry takes OCI manifests), so pulls and imports agree.
want=$(awk -v n="$CRIGATE_BUSYBOX_IMAGE" '$1==n {print $2}' "$CRIGATE_IMAGE_DIR/digests.txt")
repo_tag=${CRIGATE_REGISTRY_BUSYBOX#*/}
got=$(curl -fsS --max-time 5 -I \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "http://$CRIGATE_REGISTRY_ADDR/v2/${repo_tag%:*}/manifests/${repo_tag##*:}" |
  tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest" {print $2}')
[[ -n $got ]] || die "registry does not serve $CRIGATE_REGISTRY_BUSYBOX after the push"
[[ $got == "$want" ]] || log "note: registry digest $got differs from the built $want"
log "$CRIGATE_REGISTRY_BUSYBOX is $got"
echo "$CRIGATE_REGISTRY_BUSYBOX"
