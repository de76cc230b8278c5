#!/usr/bin/env bash
# The real local demo: a private containerd + runc, crigate in front of it
# with every policy stage on (caller privilege, image trust, signed token,
# cloud authorization), and a client that talks to crigate exactly as kubelet
# would. It prints each call and what the gate did with it, then crigate's
# log and its audit record.
#
# Everything is made here, under $CRIGATE_RUN_DIR/demo: the operator's token
# key pair (crigate token keygen), a second "attacker" key, the trust store,
# the node's HMAC key for the cloud, the tokens (crigate token issue), the
# reference cloud authorizer (test/authz/crigate-authz.py, a development
# stand-in for OPA or the fleet's service) and crigate's config.
#
# Usage: scripts/demo.sh        (as root; installs Debian packages if missing)
#   CRIGATE_RUN_DIR    where everything lives (default /tmp/crigate-demo)
#   CRIGATE_BUILD_DIR  build tree (default ./build)
#   CRIGATE_KEEP_UP=1  leave containerd, crigate and the authorizer running afterwards
set -euo pipefail
: "${CRIGATE_RUN_DIR:=/tmp/crigate-demo}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root (it starts a private containerd)"
build_dir=${CRIGATE_BUILD_DIR:-$CRIGATE_REPO_ROOT/build}
demo_dir=$CRIGATE_RUN_DIR/demo
node_id=demo-node

bash "$CRIGATE_SCRIPTS_DIR/install-deps.sh" --if-missing
log "building crigate (first build takes a few minutes)"
build_type=()
# An existing build tree keeps its own configuration.
[[ -f $build_dir/CMakeCache.txt ]] || build_type=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
cmake -S "$CRIGATE_REPO_ROOT" -B "$build_dir" -G Ninja "${build_type[@]}" >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target crigate crigate-demo >/dev/null
crigate=$build_dir/cri/daemon/crigate

crigate_pid=
authz_pid=
cleanup() {
  if [[ ${CRIGATE_KEEP_UP:-0} == 1 ]]; then
    log "left running: containerd ($CRIGATE_CONTAINERD_SOCK), crigate ($demo_dir/crigate.sock," \
      "pid $crigate_pid), the authorizer (pid $authz_pid)"
    return
  fi
  if [[ -n $crigate_pid ]]; then
    kill -TERM "$crigate_pid" 2>/dev/null || true
    wait "$crigate_pid" 2>/dev/null || true
  fi
  if [[ -n $authz_pid ]]; then
    kill -TERM "$authz_pid" 2>/dev/null || true
    wait "$authz_pid" 2>/dev/null || true
  fi
  bash "$CRIGATE_SCRIPTS_DIR/containerd-down.sh" >/dev/null 2>&1 || true
}
trap cleanup EXIT

bash "$CRIGATE_SCRIPTS_DIR/containerd-up.sh" >/dev/null
bash "$CRIGATE_SCRIPTS_DIR/build-images.sh" >/dev/null 2>&1
bash "$CRIGATE_SCRIPTS_DIR/import-images.sh" >/dev/null 2>&1

rm -rf "$demo_dir"
mkdir -p "$demo_dir/logs" "$demo_dir/keys"
chmod 0755 "$demo_dir"  # the non-root step connects as another user

# --- keys: the operator's (signs tokens; crigate holds only its .pub) and an
# attacker's, to forge with.
"$crigate" token keygen --type ed25519 --out "$demo_dir/keys/ops" >/dev/null
"$crigate" token keygen --type ed25519 --out "$demo_dir/keys/rogue" >/dev/null
# The node's key for signing its requests to the cloud: owner-only.
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$demo_dir/node.key")

# --- the trust store: the sandbox image, and busybox:1.35 in namespace
# "default" under the restricted Pod Security Standard. Anything else
# (busybox:latest included) matches no rule.
cat >"$demo_dir/trust.toml" <<'TOML'
[[rule]]
name = "sandbox"
image = "registry.k8s.io/pause:3.6"
actions = ["RunPodSandbox"]
allow_host_network = true

[[rule]]
name = "busybox"
image = "docker.io/library/busybox:1.35"
namespaces = ["default"]
profile = "restricted"
allow_host_network = true   # the demo's pods use the host network: no CNI here
TOML

# --- the cloud: the reference authorizer, checking the node's signatures.
cat >"$demo_dir/cloud-rules.toml" <<'TOML'
default = { allow = false, reason = "no rule matched on the reference authorizer" }

[[rules]]
pod = "demo-blocked"
allow = false
reason = "fleet policy: pod demo-blocked is not scheduled to this node"

[[rules]]
action = ["RunPodSandbox", "CreateContainer", "StartContainer"]
namespace = "default"
allow = true
reason = "fleet policy: workloads may run in default"
TOML
python3 "$CRIGATE_REPO_ROOT/test/authz/crigate-authz.py" --port 0 \
  --port-file "$demo_dir/authz.port" --rules "$demo_dir/cloud-rules.toml" \
  --node-key "$demo_dir/node.key" --events "$demo_dir/cloud-events.jsonl" \
  >"$demo_dir/authz.log" 2>&1 &
authz_pid=$!
wait_until 15 test -s "$demo_dir/authz.port" || { cat "$demo_dir/authz.log"; die "the authorizer did not start"; }
authz_port=$(<"$demo_dir/authz.port")

# --- crigate's config: every stage on.
cat >"$demo_dir/crigate.toml" <<TOML
[server]
socket = "$demo_dir/crigate.sock"
socket_mode = "0666"   # any local user may connect; the privilege stage decides
[backend]
endpoint = "unix://$CRIGATE_CONTAINERD_SOCK"
[audit]
path = "$demo_dir/audit.jsonl"
[node]
id = "$node_id"
[privilege]
super_uids = [0]
[trust]
store = "$demo_dir/trust.toml"
[token]
keys = ["$demo_dir/keys/ops.pub"]
use_store = "$demo_dir/token-uses"
grant_dir = "$demo_dir/token-grants"
[cloud]
enabled = true
url = "http://127.0.0.1:$authz_port/v1/data/crigate/allow"
events_url = "http://127.0.0.1:$authz_port/v1/events"
node_key_file = "$demo_dir/node.key"
timeout_ms = 2000
TOML

# --- tokens: the operator issues one per pod for this node and image (a token
# starts one pod sandbox); one is forged with the attacker's key under the
# operator's key id.
issue() { # key extra-args...
  local key=$1; shift
  "$crigate" token issue --key "$demo_dir/keys/$key.key" --sub demo-operator \
    --act RunPodSandbox,CreateContainer,StartContainer --img docker.io/library/busybox:1.35 \
    --node "$node_id" --ttl 10m "$@"
}
token_allowed=$(issue ops)
token_untrusted=$(issue ops)
token_blocked=$(issue ops)
token_restricted=$(issue ops)
token_forged=$(issue rogue --kid ops)

"$crigate" --config "$demo_dir/crigate.toml" 2>"$demo_dir/crigate.log" &
crigate_pid=$!
wait_until 10 test -S "$demo_dir/crigate.sock" || { cat "$demo_dir/crigate.log"; die "crigate did not start"; }

claims=$("$crigate" token verify --pub "$demo_dir/keys/ops.pub" --node "$node_id" "$token_allowed" |
  jq -c '.claims | {sub, act, img, node, jti, expires_in_s: (.exp - .iat)}')
cat <<EOF
crigate is serving the CRI on $demo_dir/crigate.sock, in front of containerd at $CRIGATE_CONTAINERD_SOCK

== Setup (all under $demo_dir)
   token keys     keys/ops.key signs tokens, crigate verifies with keys/ops.pub;
                  keys/rogue.key is an attacker's key crigate does not know
   trust store    trust.toml: registry.k8s.io/pause:3.6 as the sandbox,
                  docker.io/library/busybox:1.35 in namespace default under the
                  restricted profile; nothing else
   cloud          reference authorizer on 127.0.0.1:$authz_port (cloud-rules.toml),
                  requests signed with node.key (mode $(stat -c %a "$demo_dir/node.key"))
   token          $claims
EOF

status=0
"$build_dir/test/crigate-demo" --gate "$demo_dir/crigate.sock" --log-dir "$demo_dir/logs" \
  --token-allowed "$token_allowed" --token-untrusted "$token_untrusted" \
  --token-blocked "$token_blocked" --token-forged "$token_forged" \
  --token-restricted "$token_restricted" \
  --untrusted-image docker.io/library/busybox:latest || status=$?

echo
echo "== What crigate logged ($demo_dir/crigate.log)"
sed 's/^/   /' "$demo_dir/crigate.log"
echo
echo "== The audit record ($demo_dir/audit.jsonl: one JSON line per decision; summarised)"
jq -r '"   \(.time)  \(.decision | ascii_upcase)  \(.action)  " +
  (if .caller.uid != null then "uid=\(.caller.uid)  " else "" end) +
  (if .pod.name then "pod=\(.pod.name)  " elif .container_id then "container=\(.container_id[0:12])  " else "" end) +
  (if .decision == "deny"
   then "[\((.stages | last).stage // "-")] \(.code): \(.reason)"
   else "by \([.stages[].stage] | join(", "))  decision \(.decision_id)" end)' \
  "$demo_dir/audit.jsonl"
echo
echo "== What the cloud decided ($demo_dir/authz.log)"
jq -r 'select(.event == "decision") |
  "   \(.time)  \(.action)  allow=\(.allow)  \(.reason)"' "$demo_dir/authz.log"
exit $status
