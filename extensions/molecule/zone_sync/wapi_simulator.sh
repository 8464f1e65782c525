#!/usr/bin/env bash
# The Infoblox stand-in of the Molecule scenario zone_sync: the project's WAPI simulator, run on
# the host and bound to podman's bridge gateway, the address the containers reach the host at.
#   wapi_simulator.sh start   stop a previous one - also one left on the same address and port by a
#                             killed run of another checkout (scripts/test_molecule.sh holds a lock
#                             per scenario, so it is not in use) -, check the gateway, start, wait
#                             until it listens
#   wapi_simulator.sh stop    stop the one started here (pid file), if it still runs
# Env: WAPI_ADDRESS (10.88.0.1), WAPI_PORT (28443), WAPI_STATE_DIR (.cache/molecule-zone_sync:
# pid file, log, certs/ with the CA the containers trust). prepare.yml starts it, cleanup.yml and
# the exit trap of scripts/test_molecule.sh stop it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
address=${WAPI_ADDRESS:-10.88.0.1}
port=${WAPI_PORT:-28443}
state=${WAPI_STATE_DIR:-$root/.cache/molecule-zone_sync}
pidfile="$state/wapi-simulator.pid"
log="$state/wapi-simulator.log"

running_pid() {
  local pid
  pid=$(cat "$pidfile" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  # Only the simulator this script started (a pid can be reused by another process).
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- '-m tests.wapi_simulator ' || return 1
  echo "$pid"
}

stop() {
  local pid i
  if pid=$(running_pid); then
    kill "$pid" 2>/dev/null || true
    for i in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    echo "wapi_simulator: stopped (pid $pid)"
  fi
  rm -f "$pidfile"
}

# Simulators on this address and port that no pid file here knows: left by a run that was killed.
leftover_pids() {
  local cmdline path
  for path in /proc/[0-9]*/cmdline; do
    cmdline=$(tr '\0' ' ' <"$path" 2>/dev/null) || continue
    [[ "$cmdline" == *"-m tests.wapi_simulator --host $address --port $port "* ]] || continue
    path=${path#/proc/}; echo "${path%/cmdline}"
  done
}

start() {
  local gateway pid i
  stop
  for pid in $(leftover_pids); do
    echo "wapi_simulator: stopping a simulator left on $address:$port (pid $pid, $(readlink "/proc/$pid/cwd" 2>/dev/null || echo '?'))"
    kill "$pid" 2>/dev/null || true
    for i in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  gateway=$(podman network inspect podman --format '{{range .Subnets}}{{.Gateway}} {{end}}' 2>/dev/null || true)
  if [[ " $gateway " != *" $address "* ]]; then
    echo "wapi_simulator: podman's default network has gateway '${gateway% }', not $address:" \
      "set WAPI_ADDRESS and the scenario's addresses to match" >&2
    exit 1
  fi
  mkdir -p "$state/certs"
  cd "$root"
  # Its own session, stdio detached: Ansible's task returns at once, the simulator stays.
  setsid "$root/.venv/bin/python" -m tests.wapi_simulator --host "$address" --port "$port" \
    --cert-dir "$state/certs" --define-ea ManagedBy </dev/null >"$log" 2>&1 &
  pid=$!
  echo "$pid" >"$pidfile"
  for i in $(seq 600); do  # up to a minute: a cold start under load
    grep -q '^WAPI simulator listening' "$log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "wapi_simulator: did not start" >&2; exit 1; }
    sleep 0.1
  done
  grep -q '^WAPI simulator listening' "$log" || { cat "$log" >&2; stop; exit 1; }
  echo "wapi_simulator: pid $pid, https://$address:$port, CA $state/certs/wapi-simulator-ca.pem"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
