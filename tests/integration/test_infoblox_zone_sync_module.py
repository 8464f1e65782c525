"""geant.consul_dns.infoblox_zone_sync run by ansible-playbook: real Consul -> lookup -> WAPI simulator."""

import pytest
import requests

from tests.playbook import run_playbook
from tests.wapi_simulator.server import WapiSimulatorServer

pytestmark = [pytest.mark.consul, pytest.mark.slow]

ZONE = "geant.services"
# Distinctive, so a leak into any output line can be searched for.
NIOS_PASSWORD = "Zq8-unique-nios-pass"
SYNC_TASK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Sync
      geant.consul_dns.infoblox_zone_sync:
        server: "{{ nios_host }}"
        username: admin
        password: "{{ nios_password }}"
        ca_path: "{{ nios_ca }}"
        zone: geant.services
"""
PLAYBOOK = SYNC_TASK + """        records: "{{ lookup('geant.consul_dns.consul_zone', 'geant.services', consul_address=consul_url,
                            wantlist=True) }}"
"""


@pytest.fixture
def nios_server(wapi_simulator_cert_dir):
    server = WapiSimulatorServer(password=NIOS_PASSWORD, cert_dir=wapi_simulator_cert_dir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bed(consul_dev, nios_server):
    wapi_simulator = nios_server
    requests.post(wapi_simulator.wapi_url() + "zone_auth", json={"fqdn": ZONE}, verify=wapi_simulator.ca_path,
                  auth=(wapi_simulator.username, wapi_simulator.password), timeout=10).raise_for_status()
    wapi_simulator.sim.define_ea("ManagedBy")  # the superuser's one-time step (docs/permissions.md)
    for sid, address in (("crowd1", "1.1.1.10"), ("crowd2", "1.1.1.11")):
        consul_dev.register_service({"Name": "crowd", "ID": sid, "Address": address,
                                     "Check": {"CheckID": sid, "TTL": "10m", "Status": "passing"}})
    extra = {"nios_host": wapi_simulator.host, "nios_password": wapi_simulator.password,
             "nios_ca": wapi_simulator.ca_path, "consul_url": consul_dev.http_url}
    return consul_dev, wapi_simulator, extra


def a_records(sim_server):
    objs = requests.get(sim_server.wapi_url() + "record:a", params={"zone": ZONE}, verify=sim_server.ca_path,
                        auth=(sim_server.username, sim_server.password), timeout=10).json()
    return sorted(o["ipv4addr"] for o in objs if o["name"] == "crowd.geant.services")


def sync_result(result):
    assert result.rc == 0, result
    return result.task_results("Sync")[0]


def test_check_diff_apply_fail_recover_idempotent(bed):
    consul, nios, extra = bed
    checked = sync_result(run_playbook(PLAYBOOK, extra, args=["--check", "--diff"], json_output=True))
    assert checked["changed"] and checked["counts"]["created"] == 2
    assert "crowd.geant.services. 300 IN A 1.1.1.11" in checked["diff"]["after"]
    assert a_records(nios) == []  # --check wrote nothing

    applied = sync_result(run_playbook(PLAYBOOK, extra, json_output=True))
    assert applied["changed"] and applied["requests"] == 1
    assert a_records(nios) == ["1.1.1.10", "1.1.1.11"]

    consul.set_ttl_check("crowd2", "fail")
    nios.sim.log.clear()
    removed = sync_result(run_playbook(PLAYBOOK, extra, json_output=True))
    assert removed["counts"] == {"created": 0, "updated": 0, "deleted": 1, "unchanged": 1, "skipped": 0}
    assert a_records(nios) == ["1.1.1.10"]
    assert removed["requests"] == 1 and removed["wapi_calls"]["writes"] == 1

    consul.set_ttl_check("crowd2", "pass")
    sync_result(run_playbook(PLAYBOOK, extra, json_output=True))
    assert a_records(nios) == ["1.1.1.10", "1.1.1.11"]
    again = sync_result(run_playbook(PLAYBOOK, extra, json_output=True))
    assert not again["changed"] and again["wapi_calls"]["writes"] == 0


def test_last_address_is_protected_and_password_never_shown(bed):
    consul, nios, extra = bed
    sync_result(run_playbook(PLAYBOOK, extra, json_output=True))
    consul.set_ttl_check("crowd1", "fail")
    consul.set_ttl_check("crowd2", "fail")
    refused = run_playbook(PLAYBOOK, extra, args=["-vvv"])
    assert refused.rc != 0
    assert "leave crowd.geant.services with no address" in refused.output
    assert a_records(nios) == ["1.1.1.10", "1.1.1.11"]
    assert NIOS_PASSWORD not in refused.output


def test_wrong_password_fails_clearly(bed):
    _consul, _nios, extra = bed
    result = run_playbook(PLAYBOOK, dict(extra, nios_password="wrong-pass-123"))
    assert result.rc != 0
    assert "HTTP 401" in result.output


FROM_FILE = SYNC_TASK + """\
        zone_file: "{{ zone_file }}"
"""

OUR_FILE = """; Zone geant.services: written by the Ansible module geant.consul_dns.zone_file.
; Do not edit by hand, changes are overwritten on the next run.
$ORIGIN geant.services.
$TTL 300
@ 300 IN SOA ns1.geant.net. hostmaster.geant.org. 2026112901 3600 600 1209600 300
@ 300 IN NS ns1.geant.net.
crowd 300 IN A 1.1.1.10
crowd 300 IN A 1.1.1.11
"""

HAND_EDITED = """$ORIGIN geant.services.
$TTL 300
@\tIN SOA ns1.geant.net. hostmaster.geant.org. ( 2026112902 3600 600 1209600 300 )
\tIN NS ns1.geant.net.
crowd\t\tIN A 1.1.1.10 ; the only one left
www\t600\tIN CNAME crowd
"""


def test_zone_file_as_source_canonical_and_hand_edited(bed, tmp_path):
    _consul, nios, extra = bed
    path = tmp_path / "geant.services.zone"
    path.write_text(OUR_FILE)
    applied = sync_result(run_playbook(FROM_FILE, dict(extra, zone_file=str(path)), json_output=True))
    assert applied["counts"]["created"] == 2 and a_records(nios) == ["1.1.1.10", "1.1.1.11"]

    # Not the collection's form (tabs, comments, parentheses, a CNAME): read by dnspython, A/AAAA only.
    path.write_text(HAND_EDITED)
    removed = sync_result(run_playbook(FROM_FILE, dict(extra, zone_file=str(path)), json_output=True))
    assert removed["counts"]["deleted"] == 1 and a_records(nios) == ["1.1.1.10"]

    path.write_text(OUR_FILE.replace("crowd 300 IN A 1.1.1.11\n", "crowd 300 IN A 1.1.1.11 trailing\n"))
    broken = run_playbook(FROM_FILE, dict(extra, zone_file=str(path)), json_output=True)
    assert broken.rc != 0 and "is not a valid zone geant.services" in broken.output
    assert a_records(nios) == ["1.1.1.10"]


ADOPT = PLAYBOOK + """        adopt_unowned: "{{ adopt | default(false) }}"
        on_conflict: "{{ on_conflict | default('warn') }}"
"""


def test_existing_records_adoption_report_take_over_and_conflicts(bed):
    """docs/adopting.md through the module: a hand-made A record with another address beside a host record
    that serves a healthy one; check mode lists what would be taken over; conflicts fail with on_conflict=fail."""
    _consul, nios, extra = bed
    auth = dict(verify=nios.ca_path, auth=(nios.username, nios.password), timeout=10)
    requests.post(nios.wapi_url() + "record:host", json={"name": "crowd." + ZONE, "ipv4addrs": [{"ipv4addr": "1.1.1.10"}]},
                  **auth).raise_for_status()
    requests.post(nios.wapi_url() + "record:a", json={"name": "crowd." + ZONE, "ipv4addr": "1.1.1.99"},
                  **auth).raise_for_status()

    warned = sync_result(run_playbook(ADOPT, extra, json_output=True))
    assert warned["status"] == "conflicts"
    assert [(c["kind"], c["record"]["value"]) for c in warned["conflicts"]] == [("stale", "1.1.1.99")]
    assert a_records(nios) == ["1.1.1.11", "1.1.1.99"]  # 1.1.1.10 is the host record's: not added beside it

    failed = run_playbook(ADOPT, dict(extra, on_conflict="fail"), json_output=True)
    assert failed.rc != 0 and "1 conflict(s) with records the collection does not own" in failed.output

    checked = sync_result(run_playbook(ADOPT, dict(extra, adopt=True), args=["--check", "--diff"], json_output=True))
    assert [(e["action"], e["value"]) for e in checked["adoption"]] == [
        ("delete_taken_over", "1.1.1.99"), ("equivalent", "1.1.1.10"), ("unchanged", "1.1.1.11")]
    assert "crowd.geant.services. (zone) IN A 1.1.1.99 ; unowned" in checked["diff"]["before"]
    assert a_records(nios) == ["1.1.1.11", "1.1.1.99"]  # --check wrote nothing

    adopted = sync_result(run_playbook(ADOPT, dict(extra, adopt=True), json_output=True))
    assert adopted["status"] == "ok" and adopted["counts"]["deleted"] == 1
    assert a_records(nios) == ["1.1.1.11"]
