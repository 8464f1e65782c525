"""One engine, two drivers: the playbook (action plugin) and the watch service's --once give the same
zone files, WAPI writes and reports; what a failed run leaves behind (docs/zone_sync.md); and the
cases where the old playbook and watch mode used to differ, each on a real Consul dev agent and the
WAPI simulator."""

import json
import shutil

import pytest
import requests

from tests.integration.zone_sync_bed import (
    SyncBed,
    failure_messages,
    nios_addresses,
    nios_create_zone,
    nios_writes,
    records_result,
    sync_result,
)
from tests.integration.zone_watch_bed import WatchProcess

pytestmark = [pytest.mark.consul, pytest.mark.slow]

ZONE = "geant.services"
EMPTY_ZONE = "empty.services"
ZONES = [{"name": ZONE, "nameservers": ["ns1.geant.net."], "hostmaster": "hostmaster@geant.org",
          "services": ["crowd", "flap"]},
         {"name": EMPTY_ZONE, "nameservers": ["ns1.geant.net."], "services": ["nothing-yet"], "allow_empty": True}]
SERVICES = [("crowd", "crowd1", "1.1.1.10"), ("crowd", "crowd2", "1.1.1.11"),
            ("flap", "flap1", "1.1.1.30"), ("flap", "flap2", "1.1.1.31")]


@pytest.fixture
def bed(consul_dev, wapi_simulator, tmp_path):
    for zone in (ZONE, EMPTY_ZONE):
        nios_create_zone(wapi_simulator, zone)
    for name, sid, address in SERVICES:
        consul_dev.register_service({"Name": name, "ID": sid, "Address": address,
                                     "Check": {"CheckID": sid, "TTL": "10m", "Status": "passing"}})
    sync = SyncBed(consul_dev.http_url, tmp_path, ZONES, nios=wapi_simulator, consul_dns_hold_down=0,
                   consul_dns_zone_backup=True, consul_dns_flap_half_life=3600,
                   consul_dns_flap_max_suppress=7200)
    return consul_dev, wapi_simulator, sync


def once(sync, name="once", **overrides):
    """One run of the watch service's --once with the bed's settings; returns its exit code."""
    watch = WatchProcess(sync.tmp, name, sync.extra(**overrides), once=True)
    try:
        return watch.proc.wait(120), watch
    finally:
        watch.close()


def state(consul, zone=ZONE):
    """The damping state's KV value, None when there is none."""
    response = requests.get(consul.http_url + "/v1/kv/consul-dns/state/%s" % zone, params={"raw": ""}, timeout=30)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.text


def comparable_writes(nios):
    """The WAPI writes with object references reduced to their type (refs differ between runs)."""
    out = []
    for entry in nios_writes(nios):
        body = entry["body"]
        ops = body if isinstance(body, list) else [body]
        out.append([(op.get("method"), (op.get("object") or "").split("/")[0],
                     json.dumps(op.get("data"), sort_keys=True)) for op in ops if isinstance(op, dict)])
    return out


def comparable_report(sync):
    report = json.loads((sync.tmp / "last_sync.json").read_text())
    for key in ("started", "finished", "started_epoch", "finished_epoch", "duration_seconds", "holder", "mode",
                "lock"):
        report.pop(key)
    for zone in report["zones"].values():
        for item in zone["suppressed_addresses"]:  # decayed figures depend on the clock
            item.pop("penalty")
            item.pop("reuse_in")
    return report


# ------------------------------------------------------------------------------------------ equivalence

SCENARIO = [  # (check id, status) before each run; the flap instance falls three times: suppressed
    [], [("crowd2", "fail")], [("crowd2", "pass"), ("flap2", "fail")], [("flap2", "pass")], [("flap2", "fail")],
    [("flap2", "pass")], [("flap2", "fail")], [("flap2", "pass")],
]


def play_scenario(consul, nios, sync, driver):
    """Run SCENARIO with ``driver(sync)``; returns what a reader of each run's output sees."""
    seen = []
    for changes in SCENARIO:
        for check, status in changes:
            consul.set_ttl_check(check, status)
        nios.sim.log.clear()
        driver(sync)
        seen.append({"zone_file": sync.zone_text(ZONE), "empty_zone_file": sync.zone_text(EMPTY_ZONE),
                     "writes": comparable_writes(nios), "nios": nios_addresses(nios, ZONE),
                     "report": comparable_report(sync)})
    backups = sorted(p.name.split(".")[-1][:0] for p in (sync.tmp / "zones").iterdir() if p.name.endswith("~"))
    return seen, len(backups)


def reset(consul, nios, sync):
    for check in ("crowd1", "crowd2", "flap1", "flap2"):
        consul.set_ttl_check(check, "pass")
    consul.api("DELETE", "/v1/kv/consul-dns/state", params={"recurse": ""})
    nios.sim.reset()
    for zone in (ZONE, EMPTY_ZONE):
        nios_create_zone(nios, zone)
    shutil.rmtree(str(sync.tmp / "zones"), ignore_errors=True)
    (sync.tmp / "last_sync.json").unlink()


def test_playbook_and_watch_once_publish_the_same(bed):
    consul, nios, sync = bed

    def playbook(sync):
        result = sync.run()
        assert result.rc == 0, failure_messages(result)

    def watch_once(sync):
        (sync.tmp / "zones").mkdir(exist_ok=True)
        rc, watch = once(sync)
        assert rc == 0, watch.log()

    by_playbook, backups_playbook = play_scenario(consul, nios, sync, playbook)
    assert "flap 1.1.1.31" not in json.dumps(by_playbook[-1]["nios"])  # the flapping address stays out
    assert by_playbook[-1]["report"]["zones"][ZONE]["suppressed"] == 1
    assert by_playbook[0]["empty_zone_file"] is not None  # the allow_empty zone is published empty
    reset(consul, nios, sync)
    by_watch, backups_watch = play_scenario(consul, nios, sync, watch_once)
    for run, (playbook_run, watch_run) in enumerate(zip(by_playbook, by_watch)):
        assert playbook_run == watch_run, "run %d differs" % run
    assert backups_playbook == backups_watch > 0


# ------------------------------------------------------------------------------------------ failure contract

def snapshot(consul, nios, sync):
    return sync.zone_text(ZONE), nios_addresses(nios, ZONE), state(consul)


@pytest.mark.parametrize("fault", ["wapi_401", "wapi_down", "request_fails", "zone_file_invalid"])
def test_a_failed_run_changes_nothing_a_reader_can_see(bed, fault):
    consul, nios, sync = bed
    assert sync.run().rc == 0
    consul.set_ttl_check("crowd2", "fail")  # the next run would withdraw 1.1.1.11
    before = snapshot(consul, nios, sync)
    overrides = {}
    if fault == "wapi_401":
        overrides["consul_dns_infoblox_password"] = "not-the-Pa55word"
    elif fault == "wapi_down":
        overrides.update(consul_dns_infoblox_server="https://127.0.0.1:1", consul_dns_infoblox_timeout=2)
    elif fault == "request_fails":
        nios.sim.faults.fail_request_item(0, count=1, status=400, code="Client.Ibap.Data", text="simulated")
    else:
        overrides.update(consul_dns_zone_validate="always",
                         consul_dns_zones=[dict(ZONES[0], nameservers=["ns1.geant.services."]), ZONES[1]])
    result = sync.run(**overrides)
    assert result.rc != 0
    assert snapshot(consul, nios, sync) == before, fault
    report = json.loads((sync.tmp / "last_sync.json").read_text())
    zone = report["zones"][ZONE]
    assert not report["ok"] and zone["error"] and not zone["state_written"]
    assert zone["failed_step"] == ("zone_file" if fault == "zone_file_invalid" else "push")
    assert report["zones"][EMPTY_ZONE]["ok"] or fault != "request_fails"  # other zones still synced
    if fault == "wapi_down":
        assert "Connection refused" in zone["error"]  # the cause survives
    if fault == "wapi_401":
        assert "not-the-Pa55word" not in (result.stdout + result.stderr)  # the secret is never logged
    nios.sim.faults.clear()
    healed = sync.run()
    assert healed.rc == 0, failure_messages(healed)
    assert nios_addresses(nios, ZONE)["crowd.geant.services"] == ["1.1.1.10"]


# ------------------------------------------------------------------------------------------ drift cases

def test_an_allowed_empty_zone_is_published_by_both_drivers(bed):
    consul, nios, sync = bed
    zones = [dict(ZONES[0], services=["gone"], allow_empty=True), ZONES[1]]
    assert sync.run(consul_dns_zones=[dict(ZONES[0], allow_empty=True), ZONES[1]]).rc == 0
    assert nios_addresses(nios, ZONE)
    rc, watch = once(sync, consul_dns_zones=zones, consul_dns_max_shrink_ratio=1)
    assert rc == 0, watch.log()
    assert nios_addresses(nios, ZONE) == {}
    assert "crowd" not in sync.zone_text(ZONE)


def test_zone_backup_is_kept_by_the_watch_service(bed):
    consul, _nios, sync = bed
    (sync.tmp / "zones").mkdir()
    assert once(sync)[0] == 0
    consul.set_ttl_check("crowd2", "fail")
    assert once(sync)[0] == 0
    backups = [p for p in (sync.tmp / "zones").iterdir() if p.name.startswith(ZONE + ".zone.")]
    assert len(backups) == 1 and "1.1.1.11" in backups[0].read_text()


@pytest.mark.parametrize("zones, message", [
    ([dict(ZONES[0], hostmaser="dns@geant.org")],
     "zone geant.services: unknown key hostmaser (did you mean hostmaster?)"),
    ([{"name": ZONE}], "zone geant.services: key nameservers is required"),
])
def test_a_misspelt_or_missing_zone_key_fails_before_anything_is_written(bed, zones, message):
    consul, nios, sync = bed
    nios.sim.log.clear()
    for run in (lambda: sync.run(consul_dns_zones=zones), lambda: once(sync, consul_dns_zones=zones)):
        result = run()
        if isinstance(result, tuple):
            rc, watch = result
            assert rc == 2 and message in watch.log()
        else:
            assert result.rc != 0 and message in " ".join(failure_messages(result))
    assert sync.zone_text(ZONE) is None and nios_writes(nios) == [] and state(consul) is None


def test_once_reports_itself_as_a_timer_run(bed):
    _consul, _nios, sync = bed
    (sync.tmp / "zones").mkdir()
    assert once(sync)[0] == 0
    report = json.loads((sync.tmp / "last_sync.json").read_text())
    assert report["mode"] == "timer" and "consul-dns-zone-watch pid" in report["holder"]


def test_the_holder_is_the_ansible_playbook_process(bed):
    _consul, _nios, sync = bed
    run = sync.start()
    try:
        result = run.wait()
        holder = sync_result(result)["holder"]
        assert holder.endswith(" ansible-playbook pid %d" % run.proc.pid), holder
        assert records_result(result)["state_written"]
    finally:
        run.close()
