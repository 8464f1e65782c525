"""playbooks/zone_sync.yml end to end on a dev agent: file + Infoblox, idempotence, lock held, shrink guard."""

import json

import pytest

from tests.integration.zone_sync_bed import (
    SyncBed,
    failure_messages,
    lock_message,
    lock_skipped,
    nios_addresses,
    nios_create_zone,
    nios_writes,
    records_result,
    sync_result,
)

pytestmark = [pytest.mark.consul, pytest.mark.slow, pytest.mark.client_library]

ZONE = "geant.services"
ZONES = [{"name": ZONE, "nameservers": ["ns1.geant.net."], "hostmaster": "hostmaster@geant.org"}]
SERVICES = [("crowd", "crowd1", "1.1.1.10"), ("crowd", "crowd2", "1.1.1.11"), ("cacti", "cacti1", "1.1.1.20"),
            ("dashboard", "dash1", "1.1.1.10"), ("dashboard", "dash2", "1.1.1.11")]


@pytest.fixture
def bed(consul_dev, wapi_simulator, tmp_path):
    nios_create_zone(wapi_simulator, ZONE)
    for name, sid, address in SERVICES:
        consul_dev.register_service({"Name": name, "ID": sid, "Address": address,
                                     "Check": {"CheckID": sid, "TTL": "10m", "Status": "passing"}})
    return consul_dev, wapi_simulator, SyncBed(consul_dev.http_url, tmp_path, ZONES, nios=wapi_simulator,
                                               consul_dns_hold_down=0)


def changed_tasks(result):
    data = json.loads(result.stdout)
    return [task["task"]["name"] for play in data["plays"] for task in play["tasks"]
            if any(host.get("changed") for host in task["hosts"].values())]


def test_sync_publishes_then_changes_nothing(bed):
    consul, nios, sync = bed
    first = sync.run()
    assert records_result(first)["bootstrap"]
    assert changed_tasks(first) == ["Sync the zones"]
    assert " ansible-playbook pid " in sync_result(first)["holder"]
    assert nios_addresses(nios, ZONE) == {
        "cacti.geant.services": ["1.1.1.20"], "crowd.geant.services": ["1.1.1.10", "1.1.1.11"],
        "dashboard.geant.services": ["1.1.1.10", "1.1.1.11"]}
    text = sync.zone_text(ZONE)
    assert "crowd" in text and "1.1.1.20" in text
    state = consul.api("GET", "/v1/kv/consul-dns/state/geant.services?raw")
    assert sorted(state["addresses"]) == ["cacti/1.1.1.20", "crowd/1.1.1.10", "crowd/1.1.1.11",
                                          "dashboard/1.1.1.10", "dashboard/1.1.1.11"]
    assert consul.api("GET", "/v1/session/list") == []  # the lock was given back

    nios.sim.log.clear()
    again = sync.run()
    assert changed_tasks(again) == []  # a run that changes nothing reports nothing changed
    assert not records_result(again)["state_written"]
    assert nios_writes(nios) == []
    assert sync.zone_text(ZONE) == text

    consul.set_ttl_check("cacti1", "fail")
    checked = sync.run(args=["--check"])
    assert records_result(checked)["withdrawn"] == [{"name": "cacti", "address": "1.1.1.20", "reason": "failing"}]
    assert sync.zone_text(ZONE) == text and nios_writes(nios) == []
    assert records_result(sync.run())["withdrawn"][0]["name"] == "cacti"
    assert "1.1.1.20" not in sync.zone_text(ZONE)
    assert "cacti.geant.services" not in nios_addresses(nios, ZONE)


def test_zone_file_only_without_infoblox(consul_dev, tmp_path):
    consul_dev.register_service({"Name": "crowd", "ID": "crowd1", "Address": "1.1.1.10"})
    zone_file = tmp_path / "elsewhere" / "services.zone"
    zones = [{"name": ZONE, "nameservers": ["ns1.geant.net."], "zone_file": str(zone_file)}]
    result = SyncBed(consul_dev.http_url, tmp_path, zones).run()
    assert result.rc == 0, result
    assert records_result(result)["pushed"] is False and records_result(result)["push"] is None
    assert "1.1.1.10" in zone_file.read_text()


def test_lock_held_elsewhere_ends_cleanly(bed):
    consul, nios, sync = bed
    session = consul.api("PUT", "/v1/session/create", json={"Name": "other", "TTL": "30s"})["ID"]
    held = consul.api("PUT", "/v1/kv/consul-dns/lock/zone_sync", params={"acquire": session},
                      data=json.dumps({"holder": "root@consul-server02 pid 4711", "since": "2025-11-25T10:00:00Z"}))
    assert held is True
    nios.sim.log.clear()
    result = sync.run()
    assert lock_skipped(result), result
    assert "held by root@consul-server02 pid 4711" in lock_message(result)
    # ... and the job output says so (the timer's journal, AWX): the debug task prints it.
    assert "held by root@consul-server02 pid 4711" in result.task_results("Another run holds the lock")[0]["msg"]
    assert sync.zone_text(ZONE) is None and nios_writes(nios) == []
    assert "failed=0" in result.stdout or json.loads(result.stdout)["stats"]["localhost"]["failures"] == 0


def test_shrink_guard_refuses_and_changes_nothing(bed):
    consul, nios, sync = bed
    assert sync.run().rc == 0
    text, before = sync.zone_text(ZONE), nios_addresses(nios, ZONE)
    for sid in ("crowd1", "crowd2", "dash1"):
        consul.set_ttl_check(sid, "fail")
    nios.sim.log.clear()
    refused = sync.run()
    assert refused.rc != 0
    assert "would lose 3 of its 5 published address records" in " ".join(failure_messages(refused)), \
        failure_messages(refused)
    assert sync.zone_text(ZONE) == text and nios_addresses(nios, ZONE) == before and nios_writes(nios) == []
    assert consul.api("GET", "/v1/session/list") == []  # lock released on failure too
    forced = sync.run(consul_dns_force=True)
    assert forced.rc == 0, forced
    assert nios_addresses(nios, ZONE) == {"cacti.geant.services": ["1.1.1.20"],
                                          "dashboard.geant.services": ["1.1.1.11"]}
