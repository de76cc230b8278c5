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
# The cloud channel too: a private Mosquitto on loopback (scripts/broker-up.sh:
# TLS, a client certificate per gateway, per-gateway ACLs) and a cloud key
# that signs policy bundles (crigate bundle sign). At the end the cloud
# pushes a bundle that trusts the image step 2 was refused, and the same
# pod is allowed.
#
# Usage: scripts/demo.sh        (as root; installs Debian packages if missing)
#   CRIGATE_RUN_DIR    where everything lives (default /tmp/crigate-demo)
#   CRIGATE_BUILD_DIR  build tree (default ./build)
#   CRIGATE_KEEP_UP=1  leave containerd, crigate and the authorizer running afterwards
set -euo pipefail
: "${CRIGATE_RUN_DIR:=/tmp/crigate-demo}"
# Not the tests' broker port, so the demo runs next to a test run.
: "${CRIGATE_BROKER_PORT:=18893}"
node_id=demo-node
: "${CRIGATE_BROKER_CLIENTS:=$node_id cloud}"
export CRIGATE_BROKER_PORT CRIGATE_BROKER_CLIENTS
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root (it starts a private containerd)"
build_dir=${CRIGATE_BUILD_DIR:-$CRIGATE_REPO_ROOT/build}
demo_dir=$CRIGATE_RUN_DIR/demo

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
  bash "$CRIGATE_SCRIPTS_DIR/broker-down.sh" >/dev/null 2>&1 || true
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

# --- the cloud channel: a fresh broker (--purge: no bundle retained from an
# earlier demo), and the cloud's bundle key; crigate holds only its .pub.
bash "$CRIGATE_SCRIPTS_DIR/broker-down.sh" --purge >/dev/null 2>&1 || true
broker_env=$(bash "$CRIGATE_SCRIPTS_DIR/broker-up.sh" 2>"$demo_dir/broker-up.log") ||
  { cat "$demo_dir/broker-up.log"; die "the broker did not start"; }
eval "$broker_env"
mkdir -p "$demo_dir/cloud-keys"
"$crigate" token keygen --type ed25519 --out "$demo_dir/cloud" >/dev/null
cp "$demo_dir/cloud.pub" "$demo_dir/cloud-keys/cloud.pub"
as_cloud=(-h "$CRIGATE_BROKER_HOST" -p "$CRIGATE_BROKER_PORT" --cafile "$CRIGATE_BROKER_CA"
  --cert "$CRIGATE_BROKER_PKI/cloud.crt" --key "$CRIGATE_BROKER_PKI/cloud.key")
topic=$CRIGATE_BROKER_PREFIX/$node_id

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
[channel]
enabled = true
host = "$CRIGATE_BROKER_HOST"
port = $CRIGATE_BROKER_PORT
ca_file = "$CRIGATE_BROKER_CA"
cert_file = "$CRIGATE_BROKER_PKI/$node_id.crt"
key_file = "$CRIGATE_BROKER_PKI/$node_id.key"
prefix = "$CRIGATE_BROKER_PREFIX"
bundle_keys = ["$demo_dir/cloud-keys"]
state_dir = "$demo_dir/channel"
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
   cloud channel  Mosquitto on $CRIGATE_BROKER_HOST:$CRIGATE_BROKER_PORT (TLS, a client certificate
                  per gateway, per-gateway ACLs); bundles signed with cloud.key,
                  crigate verifies with cloud-keys/cloud.pub
EOF

status=0
"$build_dir/test/crigate-demo" --gate "$demo_dir/crigate.sock" --log-dir "$demo_dir/logs" \
  --token-allowed "$token_allowed" --token-untrusted "$token_untrusted" \
  --token-blocked "$token_blocked" --token-forged "$token_forged" \
  --token-restricted "$token_restricted" \
  --untrusted-image docker.io/library/busybox:latest || status=$?

echo
echo "== 9. The cloud pushes a signed policy bundle through the broker: busybox:latest is trusted now"
cp "$demo_dir/trust.toml" "$demo_dir/trust-v1.toml"
cat >>"$demo_dir/trust-v1.toml" <<'TOML'

[[rule]]
name = "busybox-latest"
image = "docker.io/library/busybox:latest"
namespaces = ["default"]
profile = "restricted"
allow_host_network = true
TOML
bundle=$("$crigate" bundle sign --key "$demo_dir/cloud.key" --node "$node_id" --version 1 \
  --trust-store "$demo_dir/trust-v1.toml")
mosquitto_sub "${as_cloud[@]}" -t "$topic/policy/ack" -C 1 -W 20 >"$demo_dir/ack.json" 2>&1 &
ack_pid=$!
sleep 0.5  # subscribed before the ack can come
published_at=$(date +%s%N)
mosquitto_pub "${as_cloud[@]}" -q 1 -r -t "$topic/policy" -m "$bundle"
wait_until 20 grep -q "cloud bundle v1 (signed by cloud) is in force" "$demo_dir/crigate.log" ||
  status=1
in_force_ms=$(( ($(date +%s%N) - published_at) / 1000000 ))
wait "$ack_pid" || true
echo "   mosquitto_pub -r -q 1 -t $topic/policy   (bundle v1, ${#bundle} bytes, kid cloud)"
echo "   in force within ${in_force_ms} ms of the publish (loopback; includes this script's polling)"
echo "   ack on $topic/policy/ack: $(cat "$demo_dir/ack.json")"
token_pushed=$(issue ops --img docker.io/library/busybox:latest)
"$build_dir/test/crigate-demo" --gate "$demo_dir/crigate.sock" --log-dir "$demo_dir/logs" \
  --phase pushed --token-pushed "$token_pushed" \
  --untrusted-image docker.io/library/busybox:latest || status=$?

echo
echo "== What crigate logged ($demo_dir/crigate.log)"
sed 's/^/   /' "$demo_dir/crigate.log"
echo
echo "== The audit record ($demo_dir/audit.jsonl: one JSON line per decision; summarised)"
jq -r 'if .type == "policy_bundle" then
  "   \(.time)  BUNDLE  v\(.version) \(.result) (signed by \(.signed_by // "-"))" +
  (if .reason then ": \(.reason)" else "" end)
  else
  "   \(.time)  \(.decision | ascii_upcase)  \(.action)  " +
  (if .caller.uid != null then "uid=\(.caller.uid)  " else "" end) +
  (if .pod.name then "pod=\(.pod.name)  " elif .container_id then "container=\(.container_id[0:12])  " else "" end) +
  (if .decision == "deny"
   then "[\((.stages | last).stage // "-")] \(.code): \(.reason)"
   else "by \([.stages[].stage] | join(", "))  decision \(.decision_id)" end)
  end' "$demo_dir/audit.jsonl"
echo
echo "== What the cloud decided ($demo_dir/authz.log)"
jq -r 'select(.event == "decision") |
  "   \(.time)  \(.action)  allow=\(.allow)  \(.reason)"' "$demo_dir/authz.log"
exit $status
