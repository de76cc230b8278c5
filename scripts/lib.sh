#!/usr/bin/env bash
# Sourced by the other scripts/*.sh so that tests, the demo and CI agree on
# where the private containerd, its registry and the test images live.
# Every path can be moved with CRIGATE_RUN_DIR (one private instance per run
# dir); nothing here touches the host's own /var/lib/containerd.
#
# Usage: source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# runc lives in /usr/sbin, which a non-login root shell may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac
export PATH

CRIGATE_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CRIGATE_REPO_ROOT=$(cd "$CRIGATE_SCRIPTS_DIR/.." && pwd)

: "${CRIGATE_RUN_DIR:=/tmp/crigate-run}"
: "${CRIGATE_IMAGE_DIR:=$CRIGATE_RUN_DIR/images}"
: "${CRIGATE_DEFAULT_RUNTIME:=runc}"
: "${CRIGATE_CONTAINERD_EXTRA_CONFIG:=}"

# containerd's root and state are below containerd/; the files a caller needs
# (socket, log, pid) sit directly in the run dir.
CRIGATE_CONTAINERD_DIR=$CRIGATE_RUN_DIR/containerd
CRIGATE_CONTAINERD_ROOT=$CRIGATE_CONTAINERD_DIR/root
CRIGATE_CONTAINERD_STATE=$CRIGATE_CONTAINERD_DIR/state
CRIGATE_CONTAINERD_CONFIG=$CRIGATE_CONTAINERD_DIR/config.toml
CRIGATE_CONTAINERD_SOCK=$CRIGATE_RUN_DIR/containerd.sock
CRIGATE_CONTAINERD_LOG=$CRIGATE_RUN_DIR/containerd.log
CRIGATE_CONTAINERD_PID=$CRIGATE_RUN_DIR/containerd.pid
# Empty on purpose: tests use host-network pods, which need no CNI.
CRIGATE_CNI_CONF_DIR=$CRIGATE_RUN_DIR/cni/net.d
CRIGATE_CNI_BIN_DIR=$CRIGATE_RUN_DIR/cni/bin

CRIGATE_REGISTRY_DIR=$CRIGATE_RUN_DIR/registry
# One registry per machine on this port (loopback only).
: "${CRIGATE_REGISTRY_PORT:=5000}"
CRIGATE_REGISTRY_ADDR=127.0.0.1:$CRIGATE_REGISTRY_PORT
# The name images are pushed and pulled under; containerd is configured to
# reach it over plain http.
CRIGATE_REGISTRY_HOST=localhost:$CRIGATE_REGISTRY_PORT
CRIGATE_REGISTRY_PID=$CRIGATE_RUN_DIR/registry.pid
CRIGATE_REGISTRY_LOG=$CRIGATE_RUN_DIR/registry.log

# ---- MQTT broker for the cloud channel (scripts/broker-up.sh, broker-down.sh,
# templates in scripts/broker/). Loopback only, TLS with client certificates.
# Everything the broker keeps (config, ACL, PKI, persistence, pid, log) is
# below CRIGATE_BROKER_DIR.
: "${CRIGATE_BROKER_DIR:=$CRIGATE_RUN_DIR/broker}"
# One broker per machine on this port (127.0.0.1 only).
: "${CRIGATE_BROKER_PORT:=18883}"
# Topics are <prefix>/<node id>/{policy,policy/ack,events,status}.
: "${CRIGATE_BROKER_PREFIX:=crigate}"
# One client certificate (CN = the identity = the MQTT username) per name.
# Every identity but CRIGATE_BROKER_CLOUD is a gateway (node id).
: "${CRIGATE_BROKER_CLIENTS:=gw-a gw-b cloud}"
: "${CRIGATE_BROKER_CLOUD:=cloud}"
# Largest payload (a policy bundle) the broker accepts, in bytes.
: "${CRIGATE_BROKER_MESSAGE_LIMIT:=1048576}"
# 1: also a TLS listener (no client certificate) with username/password
# logins on CRIGATE_BROKER_PASSWORD_PORT (empty: CRIGATE_BROKER_PORT + 1);
# one password per identity.
: "${CRIGATE_BROKER_PASSWORDS:=0}"
: "${CRIGATE_BROKER_PASSWORD_PORT:=}"
# 1: the client id is forced to the username (use_username_as_clientid), so
# no client can take over another identity's session by using its client id;
# but then each identity has one connection at a time (the newer one wins).
: "${CRIGATE_BROKER_CLIENTID_LOCK:=0}"
# The name clients connect to: the server certificate is for this name (and
# for IP 127.0.0.1).
CRIGATE_BROKER_HOST=localhost
CRIGATE_BROKER_PKI=$CRIGATE_BROKER_DIR/pki
CRIGATE_BROKER_CA=$CRIGATE_BROKER_PKI/ca.crt
CRIGATE_BROKER_CONFIG=$CRIGATE_BROKER_DIR/mosquitto.conf
CRIGATE_BROKER_ACL=$CRIGATE_BROKER_DIR/acl
CRIGATE_BROKER_PASSWD=$CRIGATE_BROKER_DIR/passwd
CRIGATE_BROKER_PASSWORD_DIR=$CRIGATE_BROKER_DIR/passwords
CRIGATE_BROKER_STATE=$CRIGATE_BROKER_DIR/state
CRIGATE_BROKER_PID=$CRIGATE_BROKER_DIR/mosquitto.pid
CRIGATE_BROKER_LOG=$CRIGATE_BROKER_DIR/mosquitto.log
export CRIGATE_BROKER_DIR CRIGATE_BROKER_PORT CRIGATE_BROKER_PREFIX \
  CRIGATE_BROKER_CLIENTS CRIGATE_BROKER_CLOUD CRIGATE_BROKER_MESSAGE_LIMIT \
  CRIGATE_BROKER_PASSWORDS CRIGATE_BROKER_PASSWORD_PORT CRIGATE_BROKER_CLIENTID_LOCK \
  CRIGATE_BROKER_HOST \
  CRIGATE_BROKER_PKI CRIGATE_BROKER_CA CRIGATE_BROKER_CONFIG CRIGATE_BROKER_ACL \
  CRIGATE_BROKER_PASSWD CRIGATE_BROKER_PASSWORD_DIR CRIGATE_BROKER_STATE \
  CRIGATE_BROKER_PID CRIGATE_BROKER_LOG
# ---- end of the MQTT broker block

# CRI images live in this containerd namespace.
CRIGATE_K8S_NS=k8s.io

CRIGATE_BUSYBOX_IMAGE=docker.io/library/busybox:1.35
CRIGATE_BUSYBOX_LATEST=docker.io/library/busybox:latest
CRIGATE_PAUSE_IMAGE=registry.k8s.io/pause:3.6
CRIGATE_REGISTRY_BUSYBOX=$CRIGATE_REGISTRY_HOST/crigate/busybox:1.35
CRIGATE_BUSYBOX_ARCHIVE=$CRIGATE_IMAGE_DIR/busybox.oci.tar
CRIGATE_PAUSE_ARCHIVE=$CRIGATE_IMAGE_DIR/pause.oci.tar

export CRIGATE_RUN_DIR CRIGATE_IMAGE_DIR CRIGATE_DEFAULT_RUNTIME \
  CRIGATE_CONTAINERD_EXTRA_CONFIG CRIGATE_REPO_ROOT CRIGATE_SCRIPTS_DIR \
  CRIGATE_CONTAINERD_DIR CRIGATE_CONTAINERD_ROOT CRIGATE_CONTAINERD_STATE \
  CRIGATE_CONTAINERD_CONFIG CRIGATE_CONTAINERD_SOCK CRIGATE_CONTAINERD_LOG \
  CRIGATE_CONTAINERD_PID CRIGATE_CNI_CONF_DIR CRIGATE_CNI_BIN_DIR \
  CRIGATE_REGISTRY_DIR CRIGATE_REGISTRY_PORT CRIGATE_REGISTRY_ADDR CRIGATE_REGISTRY_HOST \
  CRIGATE_REGISTRY_PID CRIGATE_REGISTRY_LOG CRIGATE_K8S_NS \
  CRIGATE_BUSYBOX_IMAGE CRIGATE_BUSYBOX_LATEST CRIGATE_PAUSE_IMAGE \
  CRIGATE_REGISTRY_BUSYBOX CRIGATE_BUSYBOX_ARCHIVE CRIGATE_PAUSE_ARCHIVE

log() { printf '[crigate %s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ctr against our private instance, never the host's default socket.
ctr_private() { ctr --address "$CRIGATE_CONTAINERD_SOCK" "$@"; }

# True when the pid file names a live process whose command line contains
# the given marker, so a recycled pid is not mistaken for ours.
pidfile_alive() { # pidfile marker
  local pid
  [[ -s $1 ]] || return 1
  pid=$(<"$1")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$2"
}

# Waits up to $1 seconds for the command that follows to succeed.
wait_until() { # seconds cmd...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# A process is gone, or is a zombie nobody reaped yet (same thing for us).
pid_gone() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }   # the state letter follows the comm field's ')'
  [[ ${stat%% *} == Z ]]
}

# Stops each pid: SIGTERM, up to seconds for it to go, then SIGKILL and up
# to 5 s more, or die. what names it in the log; note ends the SIGKILL line.
stop_pids() { # what seconds note pid...
  local what=$1 seconds=$2 note=$3 pid
  shift 3
  for pid in "$@"; do
    log "stopping $what (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "$@"; do
    if ! wait_until "$seconds" pid_gone "$pid"; then
      log "$what $pid ignored SIGTERM; killing it$note"
      kill -KILL "$pid" 2>/dev/null || true
      wait_until 5 pid_gone "$pid" || die "$what pid $pid does not die"
    fi
  done
}

# The snapshotter containerd-up.sh chose; ctr must unpack and run with the
# same one (ctr also reads it from $CONTAINERD_SNAPSHOTTER).
crigate_snapshotter() {
  local f=$CRIGATE_CONTAINERD_DIR/snapshotter
  [[ -s $f ]] || die "no $f: run scripts/containerd-up.sh first"
  cat "$f"
}

# ctr waits 10 s for a socket that does not exist yet: look first, and bound
# the dial so a stale socket fails fast too.
containerd_answers() {
  [[ -S $CRIGATE_CONTAINERD_SOCK ]] &&
    ctr --address "$CRIGATE_CONTAINERD_SOCK" --connect-timeout 2s version >/dev/null 2>&1
}

# The lines a log got since the last "==== ... <script>" header we wrote.
log_since_start() { # logfile [lines]
  awk '/^==== / {buf = ""} {buf = buf $0 "\n"} END {printf "%s", buf}' "$1" 2>/dev/null |
    tail -n "${2:-30}"
}
