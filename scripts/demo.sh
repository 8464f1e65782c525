#!/usr/bin/env bash
# The main job on local defaults, on a fresh Debian 12 machine:
#   - installs what it needs (scripts/bootstrap.sh),
#   - starts a local Consul dev agent (127.0.0.1:8500) that loads the design's example services
#     from playbooks/demo/services/ (crowd on 1.1.1.10 and 1.1.1.11, dashboard, cacti, bodportal),
#   - starts the local Infoblox stand-in (the WAPI simulator, https://127.0.0.1:8443, admin/infoblox)
#     with zone geant.services,
#   - runs the main job, the playbook geant.consul_dns.zone_sync with the settings .cache/demo/settings.yml:
#     zone file .cache/demo/geant.services.zone, records pushed to the stand-in, report
#     .cache/demo/last_sync.json.
#   - "watch" then starts the watch service (roles/zone_sync/files/consul-dns-zone-watch) on the same
#     Consul and stand-in: from then on fail/recover reach the zone file and the stand-in by themselves
#     within about a second (its log: .cache/demo/watch.log).
# Usage: scripts/demo.sh [run|watch|fail crowd-prod-crowd02|recover crowd-prod-crowd02|stop]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# Overridable for the test that runs the demo next to other Consul agents (tests/integration/test_demo.py).
demo="${CONSUL_DNS_DEMO_DIR:-$root/.cache/demo}"
mkdir -p "$demo"
consul_addr=${CONSUL_DNS_DEMO_CONSUL_ADDR:-127.0.0.1}
nios_port=${CONSUL_DNS_DEMO_NIOS_PORT:-8443}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_all() {
  for name in watch consul nios; do
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
  # Their TCP checks probe the agent's own HTTP port, on the demo's address.
  rm -rf "$demo/services"; mkdir -p "$demo/services"
  for definition in playbooks/demo/services/*.json; do
    sed "s/127\.0\.0\.1:8500/$consul_addr:8500/" "$definition" > "$demo/services/$(basename "$definition")"
  done
  .cache/consul/usr/bin/consul agent -dev -bind "$consul_addr" -client "$consul_addr" -node demo \
    -config-dir "$demo/services" >"$demo/consul.log" 2>&1 &
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
  # So is the owner extensible attribute, which only a NIOS superuser may define (docs/permissions.md).
  if [ "$(curl -fsS --cacert "$demo/nios-tls/wapi-simulator-ca.pem" -u admin:infoblox "$wapi/extensibleattributedef?name=ManagedBy")" = "[]" ]; then
    curl -fsS --cacert "$demo/nios-tls/wapi-simulator-ca.pem" -u admin:infoblox -H 'Content-Type: application/json' \
      -d '{"name": "ManagedBy", "type": "STRING", "comment": "Records managed by geant.consul_dns"}' \
      "$wapi/extensibleattributedef" >/dev/null
  fi
  echo "demo: Infoblox WAPI stand-in on $wapi (admin/infoblox, CA $demo/nios-tls/wapi-simulator-ca.pem)"
}

wait_healthy() {  # until every example service instance passes its check (first check runs at start)
  for _ in $(seq 1 50); do
    [ "$(curl -fsS "http://$consul_addr:8500/v1/health/state/passing" | grep -o '"ServiceID":"[a-z]' | wc -l)" -ge 6 ] && return 0
    sleep 0.2
  done
  echo "demo: not every example instance passes its check yet (see $demo/consul.log)" >&2
}

write_settings() {  # the consul_dns_* settings of the demo: the playbook and the watch service read the same file
  cat > "$demo/settings.yml" <<SETTINGS
consul_dns_consul_address: http://$consul_addr:8500
consul_dns_zones:
  - {name: geant.services, nameservers: [ns1.geant.net.], hostmaster: hostmaster@geant.org}
consul_dns_zone_dir: $demo
consul_dns_report_file: $demo/last_sync.json
consul_dns_hold_down: 0
consul_dns_lock_delay: 0
consul_dns_state_prefix: consul-dns/demo-state
consul_dns_infoblox_server: 127.0.0.1:$nios_port
consul_dns_infoblox_username: admin
consul_dns_infoblox_password: infoblox
consul_dns_infoblox_ca_path: $demo/nios-tls/wapi-simulator-ca.pem
SETTINGS
}

run_sync() {  # the main job: the collection's playbook, one task of the action geant.consul_dns.zone_sync
  write_settings
  ANSIBLE_CONFIG="$root/ansible.cfg" .venv/bin/ansible-playbook geant.consul_dns.zone_sync -e "@$demo/settings.yml"
  echo "--- $demo/geant.services.zone"
  cat "$demo/geant.services.zone"
}

start_watch() {
  running "$demo/watch.pid" && { echo "demo: the watch service already runs (pid $(cat "$demo/watch.pid"))"; return 0; }
  write_settings
  nohup .venv/bin/python roles/zone_sync/files/consul-dns-zone-watch --config "$demo/settings.yml" \
    --collections-path "$root/.cache/collections" >>"$demo/watch.log" 2>&1 &
  echo $! > "$demo/watch.pid"
  for _ in $(seq 1 50); do grep -q "INFO sync " "$demo/watch.log" 2>/dev/null && break; sleep 0.2; done
  echo "demo: watch service running (pid $(cat "$demo/watch.pid"), log $demo/watch.log); try: $0 fail crowd-prod-crowd02"
}

case "${1:-run}" in
  run)
    bash scripts/bootstrap.sh
    start_consul; start_nios; wait_healthy; run_sync ;;
  fail|recover)
    # Move one instance in or out of maintenance mode (its checks turn critical), then sync again.
    enable=$([ "$1" = fail ] && echo true || echo false)
    curl -fsS -X PUT "http://$consul_addr:8500/v1/agent/service/maintenance/${2:?service id, e.g. crowd-prod-crowd02}?enable=$enable&reason=demo"
    if running "$demo/watch.pid"; then
      sleep 2  # the watch service syncs by itself
      echo "--- last lines of $demo/watch.log"; tail -n 5 "$demo/watch.log"
      echo "--- $demo/geant.services.zone"; cat "$demo/geant.services.zone"
    else
      run_sync
    fi ;;
  watch) start_consul; start_nios; wait_healthy; start_watch ;;
  stop) stop_all ;;
  *) echo "usage: $0 [run|watch|fail SERVICE_ID|recover SERVICE_ID|stop]" >&2; exit 2 ;;
esac
