#!/usr/bin/env bash
# Makes a throwaway test CA, a server certificate for 127.0.0.1/localhost and
# a client certificate (for crigate's mTLS) with the openssl CLI. For tests
# and the demo only.
#
# Usage: test/authz/make-certs.sh DIR [CLIENT_CN]
#   DIR/ca.pem ca.key            the CA (trust it with cloud.ca_file / --client-ca)
#   DIR/server.pem server.key    for crigate-authz.py --tls-cert/--tls-key
#   DIR/client.pem client.key    for cloud.cert_file / cloud.key_file
#   DIR/other-ca.pem             an unrelated CA, for "wrong CA" tests
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 DIR [CLIENT_CN]" >&2
  exit 2
fi
dir=$1
client_cn=${2:-crigate-node}
command -v openssl >/dev/null || { echo "$0: the openssl command is needed" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
umask 077

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key ca.key
openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=crigate test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.pem 2>/dev/null

key other-ca.key
openssl req -x509 -new -key other-ca.key -sha256 -days 3650 -subj "/CN=unrelated test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out other-ca.pem 2>/dev/null

# name, subject, extensions
issue() {
  local name=$1 subject=$2 ext=$3
  key "$name.key"
  openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr" 2>/dev/null
  printf '%b\n' "$ext" >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
    -sha256 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

issue server "/CN=localhost" \
  "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"
issue client "/CN=$client_cn" \
  "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth"

rm -f ca.srl
chmod 644 ca.pem other-ca.pem server.pem client.pem
echo "$dir: ca.pem server.pem server.key client.pem client.key other-ca.pem"
