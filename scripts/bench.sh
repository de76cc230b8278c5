#!/usr/bin/env bash
# How much slower is a node with crigate in front? Builds crigate and the
# benchmarks, starts a private containerd + runc (scripts/containerd-up.sh)
# with the test images, starts crigate in front of it, runs crigate-bench
# (every scenario, containerd and crigate alternating) and crigate-microbench,
# prints the Markdown table and writes bench-results.md and bench-results.json.
# Not part of the test run.
#
# Usage: scripts/bench.sh [crigate-bench flags]   (as root)
#   e.g. scripts/bench.sh --scenarios version,gated --calls 500
#   CRIGATE_RUN_DIR            everything lives here (default /tmp/crigate-bench,
#                              apart from the tests' /tmp/crigate-run)
#   CRIGATE_BUILD_DIR          build tree (default <repo>/build)
#   CRIGATE_SKIP_BUILD=1       use the binaries already in CRIGATE_BUILD_DIR
#   CRIGATE_BENCH_OUT          where bench-results.{md,json} go (default $CRIGATE_RUN_DIR)
#   CRIGATE_BENCH_MICRO=0      skip the micro-benchmarks
#   CRIGATE_BENCH_POLICY_TOML  TOML file appended to the gating crigate's config:
#                              the policy sections ([privilege], [trust], [token])
#                              the gated scenarios then measure
#   CRIGATE_BENCH_CLOUD_TOML   TOML file with the [cloud] section pointing at a
#                              loopback cloud; starts a third crigate (policy +
#                              cloud) for the gated-cloud-hit/-miss scenarios
#   CRIGATE_BENCH_CLOUD_CMD    command that serves that loopback cloud, started
#                              first and stopped at the end
#   CRIGATE_BENCH_FRONT_END    server.front_end of every crigate: relay (default) or grpc
#   CRIGATE_KEEP_UP=1          leave containerd and the crigates running
set -euo pipefail
: "${CRIGATE_RUN_DIR:=/tmp/crigate-bench}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root (containerd, runc)"
build_dir=${CRIGATE_BUILD_DIR:-$CRIGATE_REPO_ROOT/build}
out_dir=${CRIGATE_BENCH_OUT:-$CRIGATE_RUN_DIR}
bench_dir=$CRIGATE_RUN_DIR/bench
bench_bin=$build_dir/test/bench/crigate-bench
micro_bin=$build_dir/test/bench/crigate-microbench
crigate_bin=$build_dir/cri/daemon/crigate

bash "$CRIGATE_SCRIPTS_DIR/install-deps.sh" --if-missing
if [[ ${CRIGATE_SKIP_BUILD:-0} != 1 ]]; then
  log "building crigate and the benchmarks in $build_dir"
  cmake -S "$CRIGATE_REPO_ROOT" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null \
    || die "cmake could not configure $build_dir"
  targets=(crigate crigate-bench)
  if [[ ${CRIGATE_BENCH_MICRO:-1} == 1 ]]; then targets+=(crigate-microbench); fi
  cmake --build "$build_dir" -j "$(nproc)" --target "${targets[@]}" >/dev/null \
    || die "build failed (is test/bench in the build: add_subdirectory(bench) in test/CMakeLists.txt, libbenchmark-dev installed?)"
fi
for b in "$crigate_bin" "$bench_bin"; do [[ -x $b ]] || die "$b missing"; done
[[ ${CRIGATE_BENCH_MICRO:-1} != 1 || -x $micro_bin ]] || die "$micro_bin missing (libbenchmark-dev)"

mkdir -p "$out_dir"
rm -rf "$bench_dir" && mkdir -p "$bench_dir/pod-logs"

# Ours to stop, by pid.
started_pids=()
cleanup() {
  local pid
  if [[ ${CRIGATE_KEEP_UP:-0} == 1 ]]; then
    log "left running: containerd ($CRIGATE_CONTAINERD_SOCK), crigate pids ${started_pids[*]:-none}"
    return
  fi
  for pid in "${started_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${started_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  bash "$CRIGATE_SCRIPTS_DIR/containerd-down.sh" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Micro-benchmarks first, while nothing of ours runs.
micro_json=
if [[ ${CRIGATE_BENCH_MICRO:-1} == 1 ]]; then
  log "micro-benchmarks"
  micro_json=$bench_dir/micro.json
  "$micro_bin" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
    --benchmark_min_time=0.2 --benchmark_out="$micro_json" --benchmark_out_format=json \
    >"$bench_dir/micro.txt" 2>&1 || { cat "$bench_dir/micro.txt" >&2; die "crigate-microbench failed"; }
fi

bash "$CRIGATE_SCRIPTS_DIR/containerd-up.sh" >/dev/null
bash "$CRIGATE_SCRIPTS_DIR/build-images.sh" >/dev/null
bash "$CRIGATE_SCRIPTS_DIR/import-images.sh" >/dev/null 2>&1

# Starts crigate with a config file; its socket is <name>.sock in the bench
# dir, its pid in $last_pid.
last_pid=
start_crigate() { # name config
  local sock=$bench_dir/$1.sock
  "$crigate_bin" --config "$2" </dev/null >"$bench_dir/$1.log" 2>&1 &
  last_pid=$!
  started_pids+=("$last_pid")
  wait_until 15 test -S "$sock" || { cat "$bench_dir/$1.log" >&2; die "crigate ($1) did not start"; }
}

# The local stages, as a node would run them: root is the super user, a
# trust store that allows the benchmark's images (host-network pods
# included), token keys (no action requires a token, so calls carry none),
# and the audit log on local disk.
"$crigate_bin" token keygen --type ed25519 --out "$bench_dir/ops" >/dev/null
cat >"$bench_dir/trust.toml" <<'TOML'
[[rule]]
name = "benchmark images"
registry = "*"
allow_host_network = true
TOML
default_policy() { # name
  cat <<TOML
[trust]
store = "$bench_dir/trust.toml"
[token]
keys = ["$bench_dir/ops.pub"]
required_for = []
use_store = "$bench_dir/$1-token-uses"
grant_dir = "$bench_dir/$1-token-grants"
[audit]
path = "$bench_dir/$1-audit.jsonl"
TOML
}

base_config() { # name
  cat <<TOML
# Written by scripts/bench.sh.
[server]
socket = "$bench_dir/$1.sock"
front_end = "${CRIGATE_BENCH_FRONT_END:-relay}"
[backend]
endpoint = "unix://$CRIGATE_CONTAINERD_SOCK"
[log]
level = "info"
TOML
  if [[ -z ${CRIGATE_BENCH_POLICY_TOML:-} ]]; then default_policy "$1"; fi
}

# The cloud stage on loopback: the reference authorizer allowing everything,
# unless the caller brings its own.
if [[ -z ${CRIGATE_BENCH_CLOUD_TOML:-} ]]; then
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$bench_dir/node.key"
  chmod 600 "$bench_dir/node.key"
  printf 'default = { allow = true, reason = "benchmark" }\n' >"$bench_dir/cloud-rules.toml"
  cloud_port=${CRIGATE_BENCH_CLOUD_PORT:-18181}
  CRIGATE_BENCH_CLOUD_CMD="exec python3 '$CRIGATE_REPO_ROOT/test/authz/crigate-authz.py' \
    --port $cloud_port --rules '$bench_dir/cloud-rules.toml' --node-key '$bench_dir/node.key'"
  cat >"$bench_dir/cloud.toml" <<TOML
[cloud]
enabled = true
url = "http://127.0.0.1:$cloud_port/v1/data/crigate/allow"
node_key_file = "$bench_dir/node.key"
TOML
  CRIGATE_BENCH_CLOUD_TOML=$bench_dir/cloud.toml
fi

# The crigate under test: default gating, the monitor sampling every second.
# Thresholds of 1.0 can never be exceeded (a ratio is at most 1), so the
# monitor samples everything and never stops a benchmark container, however
# busy the machine is.
{
  base_config crigate
  cat <<'TOML'
[monitor]
enabled = true
interval_ms = 1000
cpu = 1.0
memory = 1.0
pids = 1.0
node_cpu = 1.0
node_memory = 1.0
TOML
  if [[ -n ${CRIGATE_BENCH_POLICY_TOML:-} ]]; then cat "$CRIGATE_BENCH_POLICY_TOML"; fi
} >"$bench_dir/crigate.toml"
start_crigate crigate "$bench_dir/crigate.toml"
gate_pid=$last_pid

# The bare hop: the same daemon gating nothing, to tell the hop's cost from
# the gate's.
{
  base_config crigate-ungated
  printf '[gate]\nmethods = []\n[monitor]\nenabled = false\n'
} >"$bench_dir/crigate-ungated.toml"
start_crigate crigate-ungated "$bench_dir/crigate-ungated.toml"

bench_args=(--direct "$CRIGATE_CONTAINERD_SOCK"
  --gate "$bench_dir/crigate.sock" --gate-pid "$gate_pid" --direct-pid "$(<"$CRIGATE_CONTAINERD_PID")"
  --gate-ungated "$bench_dir/crigate-ungated.sock")

# The cloud stage on loopback, when configured.
if [[ -n ${CRIGATE_BENCH_CLOUD_TOML:-} ]]; then
  if [[ -n ${CRIGATE_BENCH_CLOUD_CMD:-} ]]; then
    bash -c "$CRIGATE_BENCH_CLOUD_CMD" >"$bench_dir/cloud.log" 2>&1 &
    started_pids+=("$!")
    sleep 1  # the authorizer binds its port
  fi
  {
    base_config crigate-cloud
    printf '[monitor]\nenabled = false\n'
    if [[ -n ${CRIGATE_BENCH_POLICY_TOML:-} ]]; then cat "$CRIGATE_BENCH_POLICY_TOML"; fi
    cat "$CRIGATE_BENCH_CLOUD_TOML"
  } >"$bench_dir/crigate-cloud.toml"
  start_crigate crigate-cloud "$bench_dir/crigate-cloud.toml"
  bench_args+=(--gate-cloud "$bench_dir/crigate-cloud.sock")
fi

notes=(--note "Build: $(git -C "$CRIGATE_REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown), $(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || echo '?'); crigate log level info; pods: host network, busybox from Debian's busybox-static.")
if [[ -z ${CRIGATE_BENCH_POLICY_TOML:-} ]]; then
  notes+=(--note "Policy: privilege (root), trust (one rule), token (keys loaded, none required), audit to local disk; the cloud row adds the reference authorizer on loopback.")
fi
# A daemon that parses [monitor] rejects an unknown key in it; one that does
# not have the monitor ignores the section.
printf '[monitor]\nno_such_key = 1\n' >"$bench_dir/probe.toml"
probe=$("$crigate_bin" --config "$bench_dir/probe.toml" --check-config 2>&1 || true)
if grep -q 'monitor.no_such_key' <<<"$probe"; then
  notes+=(--note "Monitor: on in the crigate under test, 1 s interval, thresholds at 1.0 (it samples, never stops a container).")
else
  notes+=(--note "This crigate has no monitor: the monitor rows are its idle cost.")
fi
if [[ -n $micro_json ]]; then bench_args+=(--micro-json "$micro_json"); fi

log "running crigate-bench (progress below; the table follows)"
status=0
"$bench_bin" "${bench_args[@]}" --log-dir "$bench_dir/pod-logs" \
  "${notes[@]}" \
  --markdown "$out_dir/bench-results.md" --json "$out_dir/bench-results.json" "$@" || status=$?
log "results: $out_dir/bench-results.md, $out_dir/bench-results.json; crigate logs in $bench_dir"
exit $status
