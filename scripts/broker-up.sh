#!/usr/bin/env bash
# Starts a private MQTT broker (Mosquitto 2.0) for the cloud channel, on
# 127.0.0.1 only: TLS with a client certificate required, the certificate's
# CN as the MQTT username, and an ACL that confines each gateway to its own
# topics (scripts/broker/acl.in). Persistence is on, so retained policy
# bundles, persistent sessions and queued QoS 1 messages survive
# broker-down.sh + broker-up.sh. Makes a test PKI with openssl the first time
# and reuses it. Already running: says so, checks it answers, prints the
# exports again (it refuses if the settings changed: broker-down.sh first).
# Templates and the layout of $CRIGATE_BROKER_DIR: scripts/broker/README.md.
#
# Usage: scripts/broker-up.sh
# Prints `export NAME=value` lines for a test run (eval them):
#   CRIGATE_BROKER_HOST    localhost: the name in the server certificate
#                          (its IP SAN 127.0.0.1 works too)
#   CRIGATE_BROKER_PORT    the TLS port
#   CRIGATE_BROKER_CA      the CA certificate (PEM) that signed the server
#                          and every client certificate
#   CRIGATE_BROKER_PKI     the directory with <identity>.crt and <identity>.key
#   CRIGATE_BROKER_PREFIX  the topic prefix: <prefix>/<node id>/...
#   CRIGATE_BROKER_CLOUD   the cloud's identity (the others are gateways)
#   CRIGATE_BROKER_MESSAGE_LIMIT  largest payload the broker accepts
#   CRIGATE_BROKER_DIR, CRIGATE_BROKER_LOG  its state directory and log
#   with CRIGATE_BROKER_PASSWORDS=1 also:
#   CRIGATE_BROKER_PASSWORD_PORT  TLS port for username/password logins
#   CRIGATE_BROKER_PASSWORD_DIR   a file per identity holding its password
# Environment (defaults in lib.sh):
#   CRIGATE_RUN_DIR           run dir; the broker's is $CRIGATE_RUN_DIR/broker
#   CRIGATE_BROKER_DIR        or set it directly
#   CRIGATE_BROKER_PORT       port on 127.0.0.1 (18883)
#   CRIGATE_BROKER_PREFIX     topic prefix (crigate)
#   CRIGATE_BROKER_CLIENTS    identities that get a client certificate
#                             ("gw-a gw-b cloud"); the cloud's is always made
#   CRIGATE_BROKER_CLOUD      the cloud's identity (cloud)
#   CRIGATE_BROKER_MESSAGE_LIMIT  payload limit in bytes (1048576)
#   CRIGATE_BROKER_PASSWORDS  1: the username/password listener too (0)
#   CRIGATE_BROKER_PASSWORD_PORT  its port (CRIGATE_BROKER_PORT + 1)
#   CRIGATE_BROKER_CLIENTID_LOCK  1: client id := username, see
#                             scripts/broker/README.md (0)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

(($# == 0)) || die "usage: $0 (settings come from the environment, see the header)"
for tool in mosquitto mosquitto_sub openssl timeout setsid; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install mosquitto mosquitto-clients openssl)"
done

templates=$CRIGATE_SCRIPTS_DIR/broker
pki=$CRIGATE_BROKER_PKI
cloud=$CRIGATE_BROKER_CLOUD
port=$CRIGATE_BROKER_PORT

# ---- Settings. Everything below ends up in mosquitto's config, its ACL or
# file names, so only plain values pass.
is_port() { [[ $1 =~ ^[1-9][0-9]{0,4}$ ]] && (($1 <= 65535)); }
is_port "$port" || die "CRIGATE_BROKER_PORT=$port is not a port number"
[[ $CRIGATE_BROKER_DIR == /* && $CRIGATE_BROKER_DIR != *[[:space:]#]* ]] \
  || die "CRIGATE_BROKER_DIR=$CRIGATE_BROKER_DIR: need an absolute path without blanks or '#'"
# Topic levels without wildcards, '%' or a leading '$'.
[[ $CRIGATE_BROKER_PREFIX =~ ^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$ ]] \
  || die "CRIGATE_BROKER_PREFIX=$CRIGATE_BROKER_PREFIX: need topic levels of [A-Za-z0-9_.-]"
if [[ ! $CRIGATE_BROKER_MESSAGE_LIMIT =~ ^[1-9][0-9]{0,8}$ ]] || ((CRIGATE_BROKER_MESSAGE_LIMIT > 268000000)); then
  die "CRIGATE_BROKER_MESSAGE_LIMIT=$CRIGATE_BROKER_MESSAGE_LIMIT: need 1..268000000 bytes"
fi
packet_limit=$((CRIGATE_BROKER_MESSAGE_LIMIT + 65536))
case $CRIGATE_BROKER_PASSWORDS in
  0 | "") passwords=0 ;;
  1) passwords=1 ;;
  *) die "CRIGATE_BROKER_PASSWORDS=$CRIGATE_BROKER_PASSWORDS: 0 or 1" ;;
esac
case $CRIGATE_BROKER_CLIENTID_LOCK in
  0 | "") clientid_lock=false ;;
  1) clientid_lock=true ;;
  *) die "CRIGATE_BROKER_CLIENTID_LOCK=$CRIGATE_BROKER_CLIENTID_LOCK: 0 or 1" ;;
esac
pw_port=
if ((passwords)); then
  command -v mosquitto_passwd >/dev/null || die "mosquitto_passwd not found (apt-get install mosquitto)"
  pw_port=${CRIGATE_BROKER_PASSWORD_PORT:-$((port + 1))}
  if ! is_port "$pw_port" || ((pw_port == port)); then
    die "CRIGATE_BROKER_PASSWORD_PORT=$pw_port: need a port number other than $port"
  fi
fi

# An identity is a CN, an MQTT username, a topic level (%u in the ACL) and a
# file name in the PKI: letters, digits, '.', '_', '-'; not "ca" or "server".
valid_identity() {
  [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ && $1 != ca && $1 != server ]]
}
valid_identity "$cloud" || die "CRIGATE_BROKER_CLOUD=$cloud is not a valid identity"
read -r -a ids <<<"$CRIGATE_BROKER_CLIENTS"
for id in "${ids[@]}"; do
  valid_identity "$id" || die "CRIGATE_BROKER_CLIENTS: '$id' is not a valid identity ([A-Za-z0-9][A-Za-z0-9_.-]*, not ca or server)"
done
[[ " ${ids[*]} " == *" $cloud "* ]] || ids+=("$cloud")

running=0
if pidfile_alive "$CRIGATE_BROKER_PID" "$CRIGATE_BROKER_CONFIG"; then running=1; fi

# Anything listening on 127.0.0.1:port (including 0.0.0.0).
# shellcheck disable=SC2016 # $1 is the inner shell's
port_taken() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }
if ((!running)); then
  # Someone else's broker there would take our clients and hide a broken setup.
  for p in "$port" ${pw_port:+"$pw_port"}; do
    if port_taken "$p"; then
      die "something we did not start listens on 127.0.0.1:$p (a lost broker of ours? scripts/broker-down.sh)"
    fi
  done
fi

# Runs a command, shows its output only if it fails.
quiet() {
  local out
  out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; die "failed: $*"; }
}

# ---- Test PKI: ECDSA P-256 CA, a server certificate for localhost and
# 127.0.0.1, a client certificate per identity. Kept across runs; anything
# missing, unreadable, not from the CA, mismatched or about to expire is made
# again. Keys are 0600.
mkdir -p "$CRIGATE_BROKER_DIR" "$pki"
chmod 0755 "$pki"
cnf=$pki/openssl.cnf
cat >"$cnf" <<'CNF'
# Written by scripts/broker-up.sh: extensions of the test PKI.
[req]
distinguished_name = dn
[dn]
[ca_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

new_key() { # path
  rm -f "$1.tmp"
  (umask 077 && quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.tmp")
  chmod 0600 "$1.tmp"
  mv -f "$1.tmp" "$1"
}

# The certificate is for this key, has the CN, and a day (or $4 s) to live.
cert_fits() { # crt key cn [seconds]
  [[ -s $1 && -s $2 ]] || return 1
  [[ $(openssl x509 -in "$1" -noout -pubkey 2>/dev/null) == "$(openssl pkey -in "$2" -pubout 2>/dev/null)" ]] || return 1
  [[ $(openssl x509 -in "$1" -noout -subject -nameopt RFC2253 2>/dev/null) == "subject=CN=$3" ]] || return 1
  openssl x509 -in "$1" -noout -checkend "${4:-86400}" >/dev/null 2>&1
}

leaf_ok() { # name cn
  cert_fits "$pki/$1.crt" "$pki/$1.key" "$2" &&
    openssl verify -CAfile "$pki/ca.crt" "$pki/$1.crt" >/dev/null 2>&1
}

issue() { # name cn extensions
  local crt=$pki/$1.crt key=$pki/$1.key
  new_key "$key"
  quiet openssl req -new -key "$key" -subj "/CN=$2" -config "$cnf" -out "$pki/$1.csr"
  quiet openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 825 -sha256 \
    -extfile "$cnf" -extensions "$3" -out "$crt.tmp"
  chmod 0644 "$crt.tmp"
  mv -f "$crt.tmp" "$crt"
  rm -f "$pki/$1.csr"
}

ca_cn="crigate test broker CA"
if ! cert_fits "$pki/ca.crt" "$pki/ca.key" "$ca_cn" $((30 * 86400)); then
  ((!running)) || die "the running broker's CA in $pki is gone or expiring: scripts/broker-down.sh first"
  log "new test CA in $pki"
  new_key "$pki/ca.key"
  quiet openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=$ca_cn" -days 3650 -sha256 \
    -config "$cnf" -extensions ca_ext -out "$pki/ca.crt.tmp"
  chmod 0644 "$pki/ca.crt.tmp"
  mv -f "$pki/ca.crt.tmp" "$pki/ca.crt"
fi
if ! leaf_ok server localhost; then
  ((!running)) || die "the running broker's server certificate is gone or expiring: scripts/broker-down.sh first"
  log "new server certificate (localhost, 127.0.0.1)"
  issue server localhost server_ext
fi
for id in "${ids[@]}"; do
  if ! leaf_ok "$id" "$id"; then
    log "new client certificate for $id"
    issue "$id" "$id" client_ext
  fi
done

# ---- Config and ACL from the templates.
render() { # template output NAME=value...
  local text kv
  text=$(<"$1")
  local out=$2
  shift 2
  for kv in "$@"; do text=${text//"@${kv%%=*}@"/"${kv#*=}"}; done
  [[ ! $text =~ @[A-Z_]+@ ]] || die "$out: placeholder ${BASH_REMATCH[0]} left unfilled"
  printf '%s\n' "$text" >"$out"
}
conf_new=$CRIGATE_BROKER_DIR/.mosquitto.conf.new
acl_new=$CRIGATE_BROKER_DIR/.acl.new
render "$templates/mosquitto.conf.in" "$conf_new" \
  PORT="$port" PKI="$pki" ACL="$CRIGATE_BROKER_ACL" STATE="$CRIGATE_BROKER_STATE" \
  MESSAGE_LIMIT="$CRIGATE_BROKER_MESSAGE_LIMIT" PACKET_LIMIT="$packet_limit" \
  CLIENTID_LOCK="$clientid_lock"
if ((passwords)); then
  render "$templates/password-listener.conf.in" "$conf_new.pw" \
    PASSWD="$CRIGATE_BROKER_PASSWD" PASSWORD_PORT="$pw_port" PKI="$pki" \
    CLIENTID_LOCK="$clientid_lock"
  cat "$conf_new.pw" >>"$conf_new"
  rm -f "$conf_new.pw"
fi
render "$templates/acl.in" "$acl_new" PREFIX="$CRIGATE_BROKER_PREFIX" CLOUD="$cloud"

# The broker is up, its certificate checks out for the name, and ours are
# accepted: an MQTT session over TLS as the cloud, with a client id of its
# own and a clean session, that subscribes to the cloud's unused policy
# topic (so nothing is published) and leaves. With the client id locked to
# the username that session would be the cloud's and throw out its
# persistent session; then a TLS 1.2 handshake as the cloud instead (in
# TLS 1.2 the server has checked our certificate before the handshake ends).
answers() {
  if [[ $clientid_lock == false ]]; then
    timeout 5 mosquitto_sub -h "$CRIGATE_BROKER_HOST" -p "$port" \
      --cafile "$CRIGATE_BROKER_CA" --cert "$pki/$cloud.crt" --key "$pki/$cloud.key" \
      -i "crigate-broker-up-$$" -t "$CRIGATE_BROKER_PREFIX/$cloud/policy" -E >/dev/null 2>&1
  else
    timeout 5 openssl s_client -connect "127.0.0.1:$port" -tls1_2 -verify_return_error \
      -CAfile "$CRIGATE_BROKER_CA" -verify_hostname "$CRIGATE_BROKER_HOST" \
      -cert "$pki/$cloud.crt" -key "$pki/$cloud.key" </dev/null >/dev/null 2>&1
  fi
}
if ((running)); then
  pid=$(<"$CRIGATE_BROKER_PID")
  if ! cmp -s "$conf_new" "$CRIGATE_BROKER_CONFIG" || ! cmp -s "$acl_new" "$CRIGATE_BROKER_ACL"; then
    rm -f "$conf_new" "$acl_new"
    die "broker already running (pid $pid) with other settings: scripts/broker-down.sh first"
  fi
  rm -f "$conf_new" "$acl_new"
  log "broker already running (pid $pid)"
  wait_until 10 answers || die "broker pid $pid runs but does not answer on $CRIGATE_BROKER_HOST:$port (see $CRIGATE_BROKER_LOG)"
else
  install -d -m 0700 "$CRIGATE_BROKER_STATE"
  mv -f "$conf_new" "$CRIGATE_BROKER_CONFIG"
  mv -f "$acl_new" "$CRIGATE_BROKER_ACL"
  # Username/password logins: a random password per identity, kept like the
  # PKI; the password file is made again from them at every start.
  # (mosquitto_passwd -b takes the password in its argv: a test setup.)
  rm -f "$CRIGATE_BROKER_PASSWD"
  if ((passwords)); then
    install -d -m 0700 "$CRIGATE_BROKER_PASSWORD_DIR"
    pw_tmp=$CRIGATE_BROKER_PASSWD.tmp
    rm -f "$pw_tmp"
    (umask 077 && : >"$pw_tmp")
    for id in "${ids[@]}"; do
      pw_file=$CRIGATE_BROKER_PASSWORD_DIR/$id
      if [[ ! -s $pw_file ]]; then
        (umask 077 && openssl rand -hex 16 >"$pw_file")
      fi
      quiet mosquitto_passwd -b "$pw_tmp" "$id" "$(<"$pw_file")"
    done
    chmod 0600 "$pw_tmp"
    mv -f "$pw_tmp" "$CRIGATE_BROKER_PASSWD"
  fi

  printf '\n==== %s broker-up\n' "$(date -Is)" >>"$CRIGATE_BROKER_LOG"
  setsid mosquitto -c "$CRIGATE_BROKER_CONFIG" </dev/null >>"$CRIGATE_BROKER_LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$CRIGATE_BROKER_PID"
  deadline=$((SECONDS + 15))
  until answers; do
    if pid_gone "$pid" || ((SECONDS >= deadline)); then
      if ! pid_gone "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
      rm -f "$CRIGATE_BROKER_PID"
      log "broker did not come up; from $CRIGATE_BROKER_LOG:"
      log_since_start "$CRIGATE_BROKER_LOG" >&2
      exit 1
    fi
    sleep 0.2
  done
  log "broker up on 127.0.0.1:$port (pid $pid)${pw_port:+, passwords on 127.0.0.1:$pw_port}"
fi

printf 'export CRIGATE_BROKER_HOST=%q\n' "$CRIGATE_BROKER_HOST"
printf 'export CRIGATE_BROKER_PORT=%q\n' "$port"
printf 'export CRIGATE_BROKER_CA=%q\n' "$CRIGATE_BROKER_CA"
printf 'export CRIGATE_BROKER_PKI=%q\n' "$pki"
printf 'export CRIGATE_BROKER_PREFIX=%q\n' "$CRIGATE_BROKER_PREFIX"
printf 'export CRIGATE_BROKER_CLOUD=%q\n' "$cloud"
printf 'export CRIGATE_BROKER_MESSAGE_LIMIT=%q\n' "$CRIGATE_BROKER_MESSAGE_LIMIT"
printf 'export CRIGATE_BROKER_DIR=%q\n' "$CRIGATE_BROKER_DIR"
printf 'export CRIGATE_BROKER_LOG=%q\n' "$CRIGATE_BROKER_LOG"
if ((passwords)); then
  printf 'export CRIGATE_BROKER_PASSWORD_PORT=%q\n' "$pw_port"
  printf 'export CRIGATE_BROKER_PASSWORD_DIR=%q\n' "$CRIGATE_BROKER_PASSWORD_DIR"
fi
