"""The zone sync's report end to end: playbooks/zone_sync.yml on a dev agent and the WAPI simulator writes
last_sync.json and the Prometheus textfile for a good run, a refused run (shrink guard), a run skipped
because another holds the lock, and a run that fails (Consul unreachable)."""

import json
import os
import stat

import pytest
import requests

from tests.integration.zone_sync_bed import SyncBed, failure_messages, nios_addresses, nios_create_zone, sync_result

prometheus_parser = pytest.importorskip("prometheus_client.parser")

pytestmark = [pytest.mark.consul, pytest.mark.slow]

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
    metrics = tmp_path / "textfile" / "consul_dns.prom"
    sync = SyncBed(consul_dev.http_url, tmp_path, ZONES, nios=wapi_simulator, consul_dns_hold_down=0,
                   consul_dns_metrics_file=str(metrics))
    return consul_dev, wapi_simulator, sync


def summary(sync):
    """The default summary file: last_sync.json next to the zone directory."""
    return json.loads((sync.tmp / "last_sync.json").read_text())


def metrics(sync):
    """``{(name, ((label, value), ...)): value}`` parsed by prometheus_client (which rejects bad text)."""
    text = (sync.tmp / "textfile" / "consul_dns.prom").read_text()
    samples = {}
    for family in prometheus_parser.text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def metric(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def test_good_run_then_refused_run(bed):
    consul, nios, sync = bed
    first = sync.run()
    assert first.rc == 0, failure_messages(first) or first
    report = summary(sync)
    assert report["version"] == 1 and report["mode"] == "playbook"
    assert report["ok"] and report["success"] and report["error"] is None and report["skipped"] is None
    assert report["lock"]["acquired"] and report["lock"]["key"] == "consul-dns/lock/zone_sync"
    assert 0 <= report["duration_seconds"] < 120
    assert report["finished_epoch"] >= report["started_epoch"]
    zone = report["zones"][ZONE]
    assert zone["ok"] and zone["pushed"] and zone["bootstrap"]
    assert zone["records"] == 5 and zone["published"] == 5 and zone["added"] == 5
    assert zone["push"]["created"] == 5 and zone["changes"] == {"created": 5, "updated": 0, "deleted": 0}
    assert zone["zone_file"]["serial"] == records_serial(sync) and zone["zone_file"]["changed"]
    assert report["totals"]["zones"] == 1 and report["totals"]["changes"]["created"] == 5
    mode = stat.S_IMODE(os.stat(sync.tmp / "last_sync.json").st_mode)
    assert mode == 0o644
    assert stat.S_IMODE(os.stat(sync.tmp / "textfile" / "consul_dns.prom").st_mode) == 0o644
    assert not [p for p in os.listdir(sync.tmp / "textfile") if p != "consul_dns.prom"]  # no temporary file left

    good = metrics(sync)
    assert metric(good, "consul_dns_sync_success") == 1
    assert metric(good, "consul_dns_sync_last_success_timestamp_seconds") == pytest.approx(report["finished_epoch"])
    assert metric(good, "consul_dns_sync_runs_total", result="success") == 1
    assert metric(good, "consul_dns_sync_refusals_total") == 0
    assert metric(good, "consul_dns_zone_records", zone=ZONE) == 5
    assert metric(good, "consul_dns_zone_changes", zone=ZONE, action="created") == 5
    assert metric(good, "consul_dns_zone_refused", zone=ZONE) == 0

    # A run that changes nothing still writes its report, and the report task changes nothing.
    again = sync.run()
    assert again.rc == 0
    assert sync_result(again)["changed"] is False
    assert summary(sync)["zones"][ZONE]["changes"] == {"created": 0, "updated": 0, "deleted": 0}
    assert metric(metrics(sync), "consul_dns_sync_runs_total", result="success") == 2
    last_success = summary(sync)["finished_epoch"]

    for sid in ("crowd1", "crowd2", "dash1"):
        consul.set_ttl_check(sid, "fail")
    refused = sync.run()
    assert refused.rc != 0
    report = summary(sync)
    assert not report["ok"] and not report["success"] and report["error"] is None  # the zone says why
    zone = report["zones"][ZONE]
    assert "would lose 3 of its 5" in zone["refused"] and zone["failed_step"] == "records"
    assert not zone["pushed"] and zone["zone_file"] is None
    assert report["totals"]["zones_refused"] == 1
    bad = metrics(sync)
    assert metric(bad, "consul_dns_sync_success") == 0
    assert metric(bad, "consul_dns_sync_last_success_timestamp_seconds") == pytest.approx(last_success)
    assert metric(bad, "consul_dns_sync_last_run_timestamp_seconds") == pytest.approx(report["finished_epoch"])
    assert metric(bad, "consul_dns_sync_refusals_total") == 1
    assert metric(bad, "consul_dns_sync_runs_total", result="failure") == 1
    assert metric(bad, "consul_dns_sync_runs_total", result="success") == 2
    assert metric(bad, "consul_dns_zone_refused", zone=ZONE) == 1
    assert metric(bad, "consul_dns_zone_records", zone=ZONE) == 5  # nothing was published: still 5
    # the run still says why it failed, last
    assert "would lose 3 of its 5" in failure_messages(refused)[-1]

    forced = sync.run(consul_dns_force=True)
    assert forced.rc == 0, failure_messages(forced)
    assert summary(sync)["zones"][ZONE]["changes"]["deleted"] == 3
    after = metrics(sync)
    assert metric(after, "consul_dns_sync_refusals_total") == 1
    assert metric(after, "consul_dns_zone_records", zone=ZONE) == 2
    assert metric(after, "consul_dns_zone_record_changes_total", zone=ZONE, action="deleted") == 3


def test_lost_state_does_not_switch_the_shrink_guard_off(consul_dev, tmp_path):
    """Zone file only (no Infoblox, whose own valves would refuse too): the damping state is corrupted and
    most instances fail at once - the guard compares with the zone file the collection wrote last."""
    for name, sid, address in SERVICES:
        consul_dev.register_service({"Name": name, "ID": sid, "Address": address,
                                     "Check": {"CheckID": sid, "TTL": "10m", "Status": "passing"}})
    sync = SyncBed(consul_dev.http_url, tmp_path, ZONES, consul_dns_hold_down=0)
    first = sync.run()
    assert first.rc == 0, failure_messages(first)
    before = sync.zone_text(ZONE)
    consul_dev.api("PUT", "/v1/kv/consul-dns/state/%s" % ZONE, data="not json at all")
    for sid in ("crowd1", "crowd2", "dash1"):
        consul_dev.set_ttl_check(sid, "fail")
    refused = sync.run()
    assert refused.rc != 0
    zone = summary(sync)["zones"][ZONE]
    assert "would lose 3 of its 5" in zone["refused"] and "compared with the last zone file" in zone["refused"]
    assert sync.zone_text(ZONE) == before
    forced = sync.run(consul_dns_force=True)
    assert forced.rc == 0, failure_messages(forced)
    assert "1.1.1.10" not in sync.zone_text(ZONE) and "1.1.1.20" in sync.zone_text(ZONE)


def records_serial(sync):
    for line in sync.zone_text(ZONE).splitlines():
        if "SOA" in line:
            return int(line.split()[line.split().index("SOA") + 3])
    raise AssertionError("no SOA")


def test_skipped_run_is_reported(bed):
    consul, _nios, sync = bed
    session = consul.api("PUT", "/v1/session/create", json={"Name": "other", "TTL": "30s"})["ID"]
    assert consul.api("PUT", "/v1/kv/consul-dns/lock/zone_sync", params={"acquire": session},
                      data=json.dumps({"holder": "root@consul-server02 pid 4711", "since": "2025-11-25T10:00:00Z"}))
    result = sync.run()
    assert result.rc == 0
    report = summary(sync)
    assert report["ok"] and not report["success"]
    assert report["skipped"] == "lock consul-dns/lock/zone_sync is held by root@consul-server02 pid 4711"
    assert report["zones"] == {}
    samples = metrics(sync)
    assert metric(samples, "consul_dns_sync_skipped") == 1
    assert metric(samples, "consul_dns_sync_last_success_timestamp_seconds") == 0  # never synced here
    assert metric(samples, "consul_dns_sync_runs_total", result="skipped") == 1


def test_failed_run_is_reported(bed, tmp_path):
    _consul, _nios, sync = bed
    report_file = tmp_path / "elsewhere" / "report.json"
    result = sync.run(consul_dns_consul_address="http://127.0.0.1:1", consul_dns_consul_timeout=2,
                      consul_dns_report_file=str(report_file))
    assert result.rc != 0
    report = json.loads(report_file.read_text())
    assert not report["ok"] and report["error"].startswith("cannot take lock consul-dns/lock/zone_sync: ")
    assert "Connection refused" in report["error"]  # the cause is kept
    assert report["zones"] == {} and report["lock"] is None
    assert metric(metrics(sync), "consul_dns_sync_runs_total", result="failure") == 1
    assert not (sync.tmp / "last_sync.json").exists()


def test_check_mode_writes_no_report(bed):
    _consul, _nios, sync = bed
    assert sync.run(consul_dns_report_file=None, consul_dns_metrics_file=None).rc == 0  # zone directory made
    result = sync.run(args=["--check"])
    assert result.rc == 0, failure_messages(result)
    reported = sync_result(result)
    assert reported["report"]["zones"][ZONE]["records"] == 5 and not reported["changed"]
    assert not (sync.tmp / "last_sync.json").exists()
    assert not (sync.tmp / "textfile").exists()


def test_report_off(bed):
    _consul, _nios, sync = bed
    result = sync.run(consul_dns_report_file=None, consul_dns_metrics_file="")
    assert result.rc == 0, failure_messages(result)
    assert not (sync.tmp / "last_sync.json").exists() and not (sync.tmp / "textfile").exists()


def test_conflicts_are_never_a_silent_success(bed):
    """A CNAME at a published name (docs/adopting.md): the rest is published, and the run's status, the
    result, the report, the metric and the warnings name it; check mode shows the adoption report first;
    with on_conflict=fail the run fails after publishing the rest."""
    consul, nios, sync = bed
    requests.post(nios.wapi_url() + "record:cname", json={"name": "cacti." + ZONE, "canonical": "old.geant.net"},
                  verify=nios.ca_path, auth=(nios.username, nios.password), timeout=10).raise_for_status()
    checked = sync.run(args=["--check"])
    assert checked.rc == 0, failure_messages(checked) or checked
    adoption = sync_result(checked)["adoption"][ZONE]
    assert {"fqdn": "cacti." + ZONE, "type": "A", "value": "1.1.1.20", "action": "blocked"} == dict(
        (k, v) for k, v in [e for e in adoption if e["fqdn"] == "cacti." + ZONE][0].items() if k != "reason")
    assert [e["action"] for e in adoption if e["fqdn"] == "crowd." + ZONE] == ["create", "create"]
    assert "geant.services: cacti.geant.services A 1.1.1.20: blocked (unowned CNAME" in checked.output  # printed
    assert not (sync.tmp / "last_sync.json").exists()

    result = sync.run()
    assert result.rc == 0, failure_messages(result) or result
    task = sync_result(result)
    assert task["status"] == "conflicts" and task["zones"][ZONE]["status"] == "conflicts"
    assert [(c["fqdn"], c["value"], c["kind"]) for c in task["zones"][ZONE]["push"]["conflict_records"]] == [
        ("cacti." + ZONE, "1.1.1.20", "blocked")]
    assert "cacti.geant.services: unowned CNAME" in result.output  # a warning of the task
    report = summary(sync)
    assert report["status"] == "conflicts" and report["totals"]["conflicts"] == 1
    assert report["zones"][ZONE]["push"]["conflict_records"][0]["fqdn"] == "cacti." + ZONE
    assert metric(metrics(sync), "consul_dns_zone_conflicts", zone=ZONE) == 1
    assert "crowd." + ZONE in nios_addresses(nios, ZONE) and "cacti." + ZONE not in nios_addresses(nios, ZONE)

    consul.register_service({"Name": "crowd", "ID": "crowd3", "Address": "1.1.1.12",
                             "Check": {"CheckID": "crowd3", "TTL": "10m", "Status": "passing"}})
    failed = sync.run(consul_dns_infoblox_on_conflict="fail")
    assert failed.rc != 0
    assert "1 conflict(s) with records the collection does not own" in " ".join(failure_messages(failed))
    assert nios_addresses(nios, ZONE)["crowd." + ZONE] == ["1.1.1.10", "1.1.1.11", "1.1.1.12"]
    assert summary(sync)["status"] == "failed"
