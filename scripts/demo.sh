#!/usr/bin/env bash
# The main job on local defaults, on a fresh Debian 12 machine:
#   - installs what it needs (scripts/bootstrap.sh),
#   - starts a local Consul dev agent (127.0.0.1:8500) that loads the design's example services
#     from playbooks/demo/services/ (crowd on 1.1.1.10 and 1.1.1.11, dashboard, cacti, bodportal),
#   - starts the local Infoblox stand-in (the WAPI simulator, https://127.0.0.1:8443, admin/infoblox)
#     with zone geant.services,
#   - runs the sync playbook: zone file .cache/demo/geant.services.zone, records pushed to the stand-in.
# Usage: scripts/demo.sh [run|fail crowd-prod-crowd02|recover crowd-prod-crowd02|stop]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
demo="$root/.cache/demo"
mkdir -p "$demo"
consul_addr=127.0.0.1
nios_port=${CONSUL_DNS_DEMO_NIOS_PORT:-8443}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_all() {
  for name in consul nios; do
    if running "$demo/$name.pid"; then kill "$(cat "$demo/$name.pid")"; echo "demo: stopped $name"; fi
    rm -f "$demo/$name.pid"
  done
}

wait_url() {  # url, what, [curl options]
  local url=$1 what=$2; shift 2
  for _ in $(seq 1 100); do
    curl -fsS "$@" "$url" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "demo: $what did not come up; see $demo/$what.log" >&2
  exit 1
}

start_consul() {
  running "$demo/consul.pid" && return 0
  if curl -fsS "http://$consul_addr:8500/v1/status/leader" >/dev/null 2>&1; then
    echo "demo: something already answers on $consul_addr:8500; stop it or use that Consul" >&2; exit 1
  fi
  # A dev agent (in-memory, single server) that registers the example services from their own
  # definition files, as every client agent does from its config dir.
  .cache/consul/usr/bin/consul agent -dev -bind 127.0.0.1 -client "$consul_addr" -node demo \
    -config-dir playbooks/demo/services >"$demo/consul.log" 2>&1 &
  echo $! > "$demo/consul.pid"
  wait_url "http://$consul_addr:8500/v1/status/leader" consul
  echo "demo: Consul dev agent on http://$consul_addr:8500 (log $demo/consul.log)"
}

start_nios() {
  if ! running "$demo/nios.pid"; then
    .venv/bin/python -m tests.wapi_simulator --host 127.0.0.1 --port "$nios_port" --cert-dir "$demo/nios-tls" \
      --state-file "$demo/nios-state.json" >"$demo/nios.log" 2>&1 &
    echo $! > "$demo/nios.pid"
  fi
  wait_url "https://127.0.0.1:$nios_port/wapi/v2.12/zone_auth" nios --cacert "$demo/nios-tls/wapi-simulator-ca.pem" -u admin:infoblox
  local wapi="https://127.0.0.1:$nios_port/wapi/v2.12"
  # The zone itself is the operator's (the collection manages records, not zones): create it once.
  if [ "$(curl -fsS --cacert "$demo/nios-tls/wapi-simulator-ca.pem" -u admin:infoblox "$wapi/zone_auth?fqdn=geant.services")" = "[]" ]; then
    curl -fsS --cacert "$demo/nios-tls/wapi-simulator-ca.pem" -u admin:infoblox -H 'Content-Type: application/json' \
      -d '{"fqdn": "geant.services", "view": "default"}' "$wapi/zone_auth" >/dev/null
  fi
  echo "demo: Infoblox WAPI stand-in on $wapi (admin/infoblox, CA $demo/nios-tls/wapi-simulator-ca.pem)"
}

wait_healthy() {  # until every example service instance passes its check (first check runs at start)
  for _ in $(seq 1 50); do
    [ "$(curl -fsS "http://$consul_addr:8500/v1/health/state/passing" | grep -o '"ServiceID":"[a-z]' | wc -l)" -ge 6 ] && return 0
    sleep 0.2
  done
}

run_sync() {
  ANSIBLE_CONFIG="$root/ansible.cfg" .venv/bin/ansible-playbook playbooks/demo/sync.yml \
    -e "demo_dir=$demo nios_host=127.0.0.1:$nios_port"
  echo "--- $demo/geant.services.zone"
  cat "$demo/geant.services.zone"
}

case "${1:-run}" in
  run)
    bash scripts/bootstrap.sh
    start_consul; start_nios; wait_healthy; run_sync ;;
  fail|recover)
    # Move one instance in or out of maintenance mode (its checks turn critical), then sync again.
    enable=$([ "$1" = fail ] && echo true || echo false)
    curl -fsS -X PUT "http://$consul_addr:8500/v1/agent/service/maintenance/${2:?service id, e.g. crowd-prod-crowd02}?enable=$enable&reason=demo"
    run_sync ;;
  stop) stop_all ;;
  *) echo "usage: $0 [run|fail SERVICE_ID|recover SERVICE_ID|stop]" >&2; exit 2 ;;
esac
