#!/usr/bin/env bash
# Keeps the config the Debian package ships (scripts/debian/config.toml)
# honest: every key of the README's "Configuration reference" is in it, and
# with every "# key = value" line and "# [section]" header uncommented the
# file passes `crigate --check-config`, so a key crigate does not know or a
# value of the wrong type or range fails here. (That each value is exactly
# the default is checked by reading, not here: crigate prints no effective
# config.) The paths under /etc/crigate, /var/lib/crigate, /var/log/crigate
# and /run/crigate are moved into a scratch directory, with the shipped
# trust store and one token public key in the key directory (crigate refuses
# an empty one, so an admin adds one after installing).
#
# Usage: scripts/check-shipped-config.sh CRIGATE_BINARY [CONFIG [TRUST_STORE]]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

crigate=${1:?usage: check-shipped-config.sh CRIGATE_BINARY [CONFIG [TRUST_STORE]]}
# A cross-built crigate (scripts/cross-build.sh) runs through the emulator
# CMake names (CMAKE_CROSSCOMPILING_EMULATOR), passed as CRIGATE_EMULATOR.
run_crigate=(${CRIGATE_EMULATOR:+"$CRIGATE_EMULATOR"} "$crigate")
config=${2:-$CRIGATE_SCRIPTS_DIR/debian/config.toml}
trust=${3:-$CRIGATE_SCRIPTS_DIR/debian/trust.toml}
readme=$CRIGATE_REPO_ROOT/README.md

scratch=$(mktemp -d /tmp/crigate-config-check.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# "section.key" for every key the shipped file names, commented ("# key = v")
# or explained ("## key: ..."), under its "# [section]" / "## [section]".
shipped_keys() {
  awk '
    /^#+ *\[[a-z_.]+\] *$/ { s = $0; gsub(/^#+ *\[|\] *$/, "", s); next }
    /^#+ *\[\[/ { s = ""; next }
    s != "" && match($0, /^#+ *[a-z_]+( =|:)/) {
      k = substr($0, RSTART, RLENGTH); gsub(/^#+ *|( =|:)$/, "", k); print s "." k
    }' "$1" | sort -u
}
# "section.key" for every key in the README's Configuration reference table.
readme_keys() {
  awk '/^## Configuration reference/ { on = 1; next } /^## / { on = 0 }
       on && /^\| `/ { split($0, cell, "|"); print cell[2] }' "$readme" |
    grep -o '`[a-z_]*\.[a-z_.]*`' | tr -d '`' | sort -u
}

missing=$(comm -23 <(readme_keys) <(shipped_keys "$config"))
[[ -z $missing ]] || die "keys in the README's Configuration reference missing from $config: ${missing//$'\n'/ }"
count=$(readme_keys | wc -l)
((count > 50)) || die "read only $count keys from the README's Configuration reference: is the table still there?"

# Uncomment exactly the "# " lines that are headers or key = value; move the
# paths into the scratch tree.
root=$scratch/root
mkdir -p "$root/etc/crigate" "$root/var/lib/crigate" "$root/var/log/crigate" "$root/run/crigate"
install -d -m 0700 "$root/etc/crigate/keys"
# token.keys must hold a key (an empty directory is refused), as after install.
"${run_crigate[@]}" token keygen --type ed25519 --out "$scratch/ops" >/dev/null
cp "$scratch/ops.pub" "$root/etc/crigate/keys/"
cp "$trust" "$root/etc/crigate/trust.toml"
sed -E -e 's/^# (\[[a-z_.]+\])$/\1/' -e 's/^# ([a-z_]+ = )/\1/' \
  -e "s#\"/(etc|var/lib|var/log|run)/crigate#\"$root/\1/crigate#g" "$config" >"$scratch/config.toml"
active=$(grep -cE '^[a-z_]+ = ' "$scratch/config.toml")
commented=$(grep -cE '^# [a-z_]+ = ' "$config")
((active == commented && active > 50)) ||
  die "uncommented $active key lines of $commented; expected all of them (more than 50)"

"${run_crigate[@]}" --config "$scratch/config.toml" --check-config >"$scratch/out" 2>&1 || {
  cat "$scratch/out" >&2
  die "the shipped config with every key uncommented is refused (above)"
}

# The same check must refuse a key crigate does not know and a wrong type,
# or the pass above proves nothing.
sed 's/^drain_timeout_ms = .*/&\nno_such_key = 1/' "$scratch/config.toml" >"$scratch/unknown.toml"
if "${run_crigate[@]}" --config "$scratch/unknown.toml" --check-config >"$scratch/out" 2>&1 ||
  ! grep -q 'server.no_such_key' "$scratch/out"; then
  cat "$scratch/out" >&2
  die "--check-config accepted an unknown key server.no_such_key"
fi
sed 's/^drain_timeout_ms = \(.*\)/drain_timeout_ms = "\1"/' "$scratch/config.toml" >"$scratch/type.toml"
if "${run_crigate[@]}" --config "$scratch/type.toml" --check-config >"$scratch/out" 2>&1 ||
  ! grep -q 'server.drain_timeout_ms' "$scratch/out"; then
  cat "$scratch/out" >&2
  die "--check-config accepted a string for server.drain_timeout_ms"
fi
log "$config: $active keys, every one accepted by crigate --check-config; the README's $count all present"
