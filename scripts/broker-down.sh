#!/usr/bin/env bash
# Stops the broker started by broker-up.sh: SIGTERM (Mosquitto then writes
# its persistence database and exits), SIGKILL if it is still there after
# 10 s. Safe to run when nothing runs.
#
# By default everything stays: the log, the PKI and the state, so the next
# broker-up.sh brings back the retained messages (policy bundles),
# persistent sessions and their queued QoS 1 messages, as after a restart of
# a real broker.
#
# Usage: scripts/broker-down.sh [--purge | --purge-all]
#   --purge      also delete the state (persistence database: retained
#                messages, sessions) and the rendered config, ACL and
#                password file; keeps the PKI and passwords, so clients
#                keep working with the same certificates
#   --purge-all  delete all of $CRIGATE_BROKER_DIR but mosquitto.log
#                (the next broker-up.sh makes a new CA and certificates)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=0
case ${1:-} in
  "") ;;
  --purge) purge=1 ;;
  --purge-all) purge=2 ;;
  *) die "usage: $0 [--purge | --purge-all]" ;;
esac
(($# <= 1)) || die "usage: $0 [--purge | --purge-all]"

# Our broker: from the pid file, or any mosquitto still running with our
# config (a lost pid file must not leave it behind).
pids=$(
  if pidfile_alive "$CRIGATE_BROKER_PID" "$CRIGATE_BROKER_CONFIG"; then
    cat "$CRIGATE_BROKER_PID"
  fi
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    [[ $cmd == *"-c $CRIGATE_BROKER_CONFIG " ]] || continue
    [[ $(basename "$(readlink "$p/exe" 2>/dev/null || echo x)") == mosquitto ]] || continue
    echo "${p#/proc/}"
  done
)
pids=$(sort -u <<<"$pids")
if [[ -n $pids ]]; then
  # shellcheck disable=SC2086 # one pid per word
  stop_pids broker 10 " (the last autosave is what stays)" $pids
else
  log "broker not running"
fi
rm -f "$CRIGATE_BROKER_PID"

if ((purge == 1)); then
  rm -rf --one-file-system "${CRIGATE_BROKER_STATE:?}" "$CRIGATE_BROKER_CONFIG" \
    "$CRIGATE_BROKER_ACL" "$CRIGATE_BROKER_PASSWD"
  log "broker state removed; $CRIGATE_BROKER_DIR keeps the PKI and mosquitto.log"
elif ((purge == 2)); then
  if [[ -d $CRIGATE_BROKER_DIR ]]; then
    find "${CRIGATE_BROKER_DIR:?}" -mindepth 1 -maxdepth 1 ! -name "$(basename "$CRIGATE_BROKER_LOG")" \
      -exec rm -rf --one-file-system {} +
  fi
  log "broker state and PKI removed; $CRIGATE_BROKER_DIR keeps mosquitto.log"
fi
