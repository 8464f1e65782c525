"""The zone sync's report: zone outcomes from module results, the run report, Prometheus text, atomic files.

The Prometheus text is checked with prometheus_client's own parser (requirements-dev.txt) and by hand.
"""

import datetime
import json
import math
import os
import re
import stat

import pytest
from ansible.module_utils.testing import patch_module_args
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.geant.consul_dns.plugins.module_utils.sync import report as sync_report
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.report import (
    build_report,
    escape_label_value,
    iso_time,
    parse_samples,
    prometheus_text,
    write_json,
    write_textfile,
    zone_outcome,
)
from ansible_collections.geant.consul_dns.plugins.modules import zone_sync_report

ZONE = "geant.services"
T0 = 1764064800.0  # 2025-11-25T10:00:00Z


def desired_result(**overrides):
    """A consul_zone_records result as the playbook registers it."""
    result = {
        "changed": True, "zone": ZONE,
        "records": [{"zone": ZONE, "name": "crowd", "fqdn": "crowd.geant.services", "type": "A", "ttl": 300,
                     "value": "1.1.1.%d" % n} for n in (10, 11)]
        + [{"zone": ZONE, "name": "cacti", "fqdn": "cacti.geant.services", "type": "A", "ttl": 300,
            "value": "1.1.1.20"}],
        "published": {"crowd": ["1.1.1.10", "1.1.1.11"], "cacti": ["1.1.1.20"]},
        "added": [{"name": "crowd", "address": "1.1.1.11"}],
        "withdrawn": [{"name": "dashboard", "address": "1.1.1.12", "reason": "failing"}],
        "pending": [{"name": "dashboard", "address": "1.1.1.13", "healthy_for": 12.0, "publish_in": 48.0}],
        "in_grace": [],
        "suppressed": [{"name": "dashboard", "address": "1.1.1.14", "healthy": True, "penalty": 2804.2,
                        "reuse_in": 19.0, "flaps": 3}],
        "kept": [],
        "report": ["geant.services: crowd 1.1.1.11 published"],
        "state_key": "consul-dns/state/geant.services", "state_written": True, "bootstrap": False,
        "leader": "127.0.0.1:8300",
    }
    result.update(overrides)
    return result


def file_result(**overrides):
    result = {"changed": True, "path": "/var/lib/consul_dns/zones/geant.services.zone", "zone": ZONE,
              "serial": 2025112502, "previous_serial": 2025112501, "records": 3,
              "added": [{"name": "crowd", "type": "A", "ttl": 300, "value": "1.1.1.11"}],
              "removed": [{"name": "dashboard", "type": "A", "ttl": 300, "value": "1.1.1.12"}]}
    result.update(overrides)
    return result


def push_result(**overrides):
    result = {"changed": True, "counts": {"created": 1, "updated": 2, "deleted": 1, "unchanged": 5, "skipped": 1},
              "plan": {"create": [{}], "update": [{}, {}], "delete": [{}], "skipped": [],
                       "conflicts": [{"record": {"fqdn": "www.geant.services"}, "reason": "CNAME"}]},
              "requests": 1, "wapi_calls": {"reads": 6, "writes": 1}}
    result.update(overrides)
    return result


def refused(msg, **extra):
    return dict({"failed": True, "refused": True, "msg": msg, "changed": False}, **extra)


# ---------------------------------------------------------------------------------------------------
# zone_outcome


def test_outcome_of_a_full_run():
    out = zone_outcome(ZONE, desired_result(), file_result(), push_result())
    assert out["ok"] and out["refused"] is None and out["error"] is None and out["failed_step"] is None
    assert out["records"] == 3 and out["published"] == 3
    assert (out["added"], out["withdrawn"], out["pending"], out["in_grace"], out["suppressed"], out["kept"]) == \
        (1, 1, 1, 0, 1, 0)
    assert out["suppressed_addresses"] == [{"name": "dashboard", "address": "1.1.1.14", "penalty": 2804.2,
                                            "reuse_in": 19.0, "flaps": 3}]
    assert out["zone_file"] == {"path": "/var/lib/consul_dns/zones/geant.services.zone", "serial": 2025112502,
                                "previous_serial": 2025112501, "changed": True, "records": 3, "added": 1,
                                "removed": 1}
    assert out["pushed"] and out["push"] == {"created": 1, "updated": 2, "deleted": 1, "unchanged": 5, "skipped": 1,
                                             "conflicts": 1, "requests": 1, "changed": True, "conflict_records": [
                                                 {"fqdn": "www.geant.services", "type": None, "value": None,
                                                  "kind": "blocked", "reason": "CNAME"}]}
    assert out["status"] == "conflicts"
    assert out["changes"] == {"created": 1, "updated": 2, "deleted": 1} and out["changes_source"] == "infoblox"
    assert out["changed"] and out["state_written"] and out["bootstrap"] is False
    json.dumps(out)  # plain data


def test_lists_may_be_given_as_counts():
    """The playbook passes lengths instead of thousands of records; a Python caller passes the lists."""
    slim = desired_result(records=3, published=3, added=1, withdrawn=1, pending=1, in_grace=0, kept=0)
    assert zone_outcome(ZONE, slim, file_result(added=1, removed=1), push_result(plan={"conflicts": []})) == \
        dict(zone_outcome(ZONE, desired_result(), file_result(), push_result()), status="ok",
             push=dict(zone_outcome(ZONE, desired_result(), file_result(), push_result())["push"], conflicts=0,
                       conflict_records=[]))


def test_conflicts_as_a_key_of_their_own():
    out = zone_outcome(ZONE, desired_result(), file_result(), push_result(plan=None, conflicts=2))
    assert out["push"]["conflicts"] == 2


def test_without_push_the_changes_are_the_zone_files():
    skipped_push = {"skipped": True, "skip_reason": "Conditional result was False", "changed": False}
    for push in (None, skipped_push):
        out = zone_outcome(ZONE, desired_result(), file_result(), push)
        assert out["ok"] and not out["pushed"] and out["push"] is None
        assert out["changes"] == {"created": 1, "updated": 0, "deleted": 1}
        assert out["changes_source"] == "zone_file"


def test_nothing_changed():
    out = zone_outcome(ZONE, desired_result(changed=False, added=[], withdrawn=[]),
                       file_result(changed=False, added=[], removed=[]),
                       push_result(changed=False, counts={"created": 0, "updated": 0, "deleted": 0, "unchanged": 3,
                                                          "skipped": 0}, requests=0))
    assert out["ok"] and not out["changed"] and out["changes"] == {"created": 0, "updated": 0, "deleted": 0}


def test_shrink_guard_refusal():
    msg = "zone geant.services would lose 3 of its 5 published address records (60% > max_shrink_ratio 50%)"
    out = zone_outcome(ZONE, refused(msg, zone=ZONE, state_key="consul-dns/state/geant.services"))
    assert not out["ok"] and out["refused"] == msg and out["error"] is None and out["failed_step"] == "records"
    assert out["records"] is None and out["published"] is None and out["suppressed"] is None
    assert out["zone_file"] is None and not out["pushed"] and not out["changed"]
    assert out["changes"] == {"created": 0, "updated": 0, "deleted": 0} and out["changes_source"] is None


def test_infoblox_refusal():
    out = zone_outcome(ZONE, desired_result(), file_result(), refused("would delete 40% of the owned records"))
    assert out["refused"] == "would delete 40% of the owned records" and out["failed_step"] == "push"
    assert not out["ok"] and not out["pushed"] and out["records"] == 3 and out["zone_file"]["changed"]
    assert out["changes_source"] == "zone_file"


def test_failures_that_are_not_refusals():
    out = zone_outcome(ZONE, desired_result(), {"failed": True, "msg": "named-checkzone rejected the zone"})
    assert out["error"] == "named-checkzone rejected the zone" and out["refused"] is None
    assert out["failed_step"] == "zone_file" and not out["ok"]
    out = zone_outcome(ZONE, {"failed": True, "zone": ZONE})
    assert out["error"] == "records failed"
    out = zone_outcome(ZONE, error="watch: Consul has no leader")
    assert out["error"] == "watch: Consul has no leader" and not out["ok"] and out["failed_step"] is None
    # the results' own failure comes first
    assert zone_outcome(ZONE, {"failed": True, "msg": "no leader"}, error="x")["error"] == "no leader"


def test_no_results_at_all():
    out = zone_outcome(ZONE)
    assert out["ok"] and out["records"] is None and out["zone_file"] is None and not out["pushed"]


def test_records_count_falls_back_to_the_zone_file():
    assert zone_outcome(ZONE, zone_file=file_result(records=7))["records"] == 7


def test_bad_counts_are_refused():
    with pytest.raises(ValueError):
        zone_outcome(ZONE, desired_result(records="many"))


# ---------------------------------------------------------------------------------------------------
# build_report


def test_report_of_a_good_run():
    report = build_report([zone_outcome(ZONE, desired_result(), file_result(), push_result()),
                           zone_outcome("geant.net", desired_result(suppressed=[]), file_result(), None)],
                          T0, T0 + 1.75, "timer", holder="root@consul-server01 pid 4711",
                          lock={"acquired": True, "holder": "root@consul-server01 pid 4711", "session": "s-1",
                                "key": "consul-dns/lock/zone_sync",
                                "holder_info": {"holder": "root@consul-server01 pid 4711", "since": "2025-11-25T10:00:00Z",
                                                "session": "s-1"},
                                "msg": "lock consul-dns/lock/zone_sync acquired by ... (session s-1)"})
    assert report["version"] == 1 and report["mode"] == "timer"
    assert report["started"] == "2025-11-25T10:00:00.000Z" and report["finished"] == "2025-11-25T10:00:01.750Z"
    assert report["started_epoch"] == T0 and report["finished_epoch"] == T0 + 1.75
    assert report["duration_seconds"] == 1.75
    assert report["ok"] and report["success"] and report["skipped"] is None and report["error"] is None
    assert report["lock"] == {"key": "consul-dns/lock/zone_sync", "acquired": True,
                              "holder": "root@consul-server01 pid 4711", "since": "2025-11-25T10:00:00Z"}
    assert "s-1" not in json.dumps(report)  # the session id (a capability) stays out of a world-readable file
    assert list(report["zones"]) == [ZONE, "geant.net"]
    totals = report["totals"]
    assert totals["zones"] == 2 and totals["zones_ok"] == 2 and totals["zones_pushed"] == 1
    assert totals["records"] == 6 and totals["suppressed"] == 1 and totals["conflicts"] == 1
    assert totals["changes"] == {"created": 2, "updated": 2, "deleted": 2}
    assert json.loads(json.dumps(report)) == report


def test_report_of_a_refused_run():
    report = build_report([zone_outcome(ZONE, refused("would lose 3")), zone_outcome("geant.net", desired_result())],
                          T0, T0 + 1, "playbook", error="Desired records from Consul, flap damped: would lose 3")
    assert not report["ok"] and not report["success"] and report["error"].endswith("would lose 3")
    assert report["totals"]["zones_refused"] == 1 and report["totals"]["zones_ok"] == 1
    # a zone's refusal alone makes the run not ok, even without a run error
    assert not build_report([zone_outcome(ZONE, refused("x"))], T0, T0, "watch")["ok"]


def test_report_of_a_skipped_run():
    lock = {"acquired": False, "holder": "root@consul-server02 pid 4711", "key": "consul-dns/lock/zone_sync",
            "holder_info": {"holder": "root@consul-server02 pid 4711", "since": "2025-11-25T09:59:59Z"}}
    report = build_report([], T0, T0 + 0.5, "timer", lock=lock)
    assert report["ok"] and not report["success"]
    assert report["skipped"] == "lock consul-dns/lock/zone_sync is held by root@consul-server02 pid 4711"
    assert report["lock"]["since"] == "2025-11-25T09:59:59Z"
    # lock-delay: nobody holds it, yet it cannot be taken
    assert build_report([], T0, T0, "timer", lock={"acquired": False, "key": "k"})["skipped"] == \
        "lock k is held by another run"
    # a failed lock call is a failure, not a skip
    failed = build_report([], T0, T0, "timer", lock={"acquired": False, "key": "k"}, error="no leader")
    assert failed["skipped"] is None and not failed["ok"]


def test_report_times():
    aware = datetime.datetime(2025, 11, 25, 10, 0, 0, tzinfo=sync_report._UTC)
    assert build_report([], aware, T0 + 2, "watch")["duration_seconds"] == 2
    assert iso_time(T0 + 0.0004) == "2025-11-25T10:00:00.000Z"
    with pytest.raises(ValueError):
        build_report([], datetime.datetime(2025, 11, 25), T0, "watch")
    # a clock step backwards never gives a negative duration
    assert build_report([], T0, T0 - 5, "watch")["duration_seconds"] == 0


def test_report_mode_is_checked():
    with pytest.raises(ValueError, match="mode"):
        build_report([], T0, T0, "cron")


# ---------------------------------------------------------------------------------------------------
# prometheus_text

NAME_RE = re.compile(r"^consul_dns_[a-z_]+$")


def families(text):
    """prometheus_client's reading of ``text`` (it raises on malformed text)."""
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(text):
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(text, name, **labels):
    return samples(text)[(name, tuple(sorted(labels.items())))]


def strict_check(text):
    """By hand: HELP then TYPE before the samples of each metric, names prefixed, one line per sample."""
    assert text.endswith("\n") and "\n\n" not in text
    declared = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert NAME_RE.match(name) and name not in declared, line
            declared[name] = None
        elif line.startswith("# TYPE "):
            _hash, _type, name, kind = line.split(" ")
            assert name in declared and declared[name] is None and kind in ("gauge", "counter"), line
            declared[name] = kind
        else:
            name = re.match(r"^([a-z_]+)[{ ]", line).group(1)
            assert declared.get(name), line
            if declared[name] == "counter":
                assert name.endswith("_total")
            assert re.match(r'^[a-z_]+(\{([a-z_]+="([^"\\\n]|\\[\\"n])*",?)+\})? (-?[0-9.e+]+|NaN|[+-]Inf)$', line), line


def good_report(finished=T0 + 2):
    return build_report([zone_outcome(ZONE, desired_result(), file_result(), push_result())], T0, finished, "timer")


def refused_report(finished=T0 + 62):
    return build_report([zone_outcome(ZONE, refused("would lose 3"))], finished - 1, finished, "timer",
                        error="would lose 3")


def test_metrics_of_a_good_run():
    text = prometheus_text(good_report())
    strict_check(text)
    found = families(text)
    assert found["consul_dns_sync_success"].type == "gauge"
    assert found["consul_dns_sync_runs"].type == "counter"  # prometheus_client names counters without _total
    assert value(text, "consul_dns_sync_last_run_timestamp_seconds") == T0 + 2
    assert value(text, "consul_dns_sync_last_success_timestamp_seconds") == T0 + 2
    assert value(text, "consul_dns_sync_success") == 1 and value(text, "consul_dns_sync_skipped") == 0
    assert value(text, "consul_dns_sync_duration_seconds") == 2
    assert value(text, "consul_dns_sync_runs_total", result="success") == 1
    assert value(text, "consul_dns_sync_runs_total", result="failure") == 0
    assert value(text, "consul_dns_sync_runs_total", result="skipped") == 0
    assert value(text, "consul_dns_sync_refusals_total") == 0
    assert value(text, "consul_dns_zone_records", zone=ZONE) == 3
    assert value(text, "consul_dns_zone_published_addresses", zone=ZONE) == 3
    assert value(text, "consul_dns_zone_changes", zone=ZONE, action="created") == 1
    assert value(text, "consul_dns_zone_changes", zone=ZONE, action="updated") == 2
    assert value(text, "consul_dns_zone_changes", zone=ZONE, action="deleted") == 1
    assert value(text, "consul_dns_zone_record_changes_total", zone=ZONE, action="updated") == 2
    assert value(text, "consul_dns_zone_suppressed_addresses", zone=ZONE) == 1
    assert value(text, "consul_dns_zone_pending_addresses", zone=ZONE) == 1
    assert value(text, "consul_dns_zone_in_grace_addresses", zone=ZONE) == 0
    assert value(text, "consul_dns_zone_kept_addresses", zone=ZONE) == 0
    assert value(text, "consul_dns_zone_conflicts", zone=ZONE) == 1
    assert value(text, "consul_dns_zone_serial", zone=ZONE) == 2025112502
    assert value(text, "consul_dns_zone_refused", zone=ZONE) == 0
    assert value(text, "consul_dns_zone_failed", zone=ZONE) == 0
    assert "consul_dns_zone_serial{zone=\"geant.services\"} 2025112502\n" in text  # not 2.025112502e+09


def test_a_failed_run_keeps_the_last_success_and_counts_on():
    good = prometheus_text(good_report())
    bad = prometheus_text(refused_report(), good)
    strict_check(bad)
    assert value(bad, "consul_dns_sync_success") == 0
    assert value(bad, "consul_dns_sync_last_run_timestamp_seconds") == T0 + 62
    assert value(bad, "consul_dns_sync_last_success_timestamp_seconds") == T0 + 2  # kept
    assert value(bad, "consul_dns_sync_runs_total", result="success") == 1
    assert value(bad, "consul_dns_sync_runs_total", result="failure") == 1
    assert value(bad, "consul_dns_sync_refusals_total") == 1
    assert value(bad, "consul_dns_zone_refused", zone=ZONE) == 1
    # nothing was published: the zone's counts are the last ones known
    assert value(bad, "consul_dns_zone_records", zone=ZONE) == 3
    assert value(bad, "consul_dns_zone_published_addresses", zone=ZONE) == 3
    assert value(bad, "consul_dns_zone_changes", zone=ZONE, action="created") == 0
    assert value(bad, "consul_dns_zone_record_changes_total", zone=ZONE, action="created") == 1
    assert ("consul_dns_zone_suppressed_addresses", (("zone", ZONE),)) not in samples(bad)  # unknown this run

    worse = prometheus_text(refused_report(T0 + 122), bad)
    assert value(worse, "consul_dns_sync_refusals_total") == 2
    assert value(worse, "consul_dns_sync_last_success_timestamp_seconds") == T0 + 2
    again = prometheus_text(good_report(T0 + 182), worse)
    assert value(again, "consul_dns_sync_last_success_timestamp_seconds") == T0 + 182
    assert value(again, "consul_dns_sync_runs_total", result="success") == 2
    assert value(again, "consul_dns_sync_refusals_total") == 2
    assert value(again, "consul_dns_zone_record_changes_total", zone=ZONE, action="created") == 2


def test_never_succeeded():
    text = prometheus_text(refused_report())
    assert value(text, "consul_dns_sync_last_success_timestamp_seconds") == 0


def test_a_skipped_run():
    good = prometheus_text(good_report())
    skipped = build_report([], T0 + 60, T0 + 61, "timer", lock={"acquired": False, "key": "k", "holder": "other"})
    text = prometheus_text(skipped, good)
    strict_check(text)
    assert value(text, "consul_dns_sync_success") == 1 and value(text, "consul_dns_sync_skipped") == 1
    assert value(text, "consul_dns_sync_last_success_timestamp_seconds") == T0 + 2
    assert value(text, "consul_dns_sync_runs_total", result="skipped") == 1
    assert value(text, "consul_dns_sync_runs_total", result="success") == 1
    assert not [key for key in samples(text) if key[0].startswith("consul_dns_zone_") and "total" not in key[0]]


def test_label_values_are_escaped():
    zone = 'we"ird\\zone\nname'
    report = build_report([zone_outcome(zone, desired_result())], T0, T0 + 1, "watch")
    text = prometheus_text(report)
    strict_check(text)
    assert 'zone="we\\"ird\\\\zone\\nname"' in text
    assert value(text, "consul_dns_zone_records", zone=zone) == 3
    # and read back from a previous file
    again = prometheus_text(build_report([zone_outcome(zone, refused("x"))], T0 + 60, T0 + 61, "watch"), text)
    assert value(again, "consul_dns_zone_records", zone=zone) == 3
    assert escape_label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


def test_previous_text_is_read_leniently():
    previous = "\n".join([
        "# a comment",
        "garbage line {",
        'consul_dns_sync_runs_total{result="success"} 41 1764064800000',  # with a timestamp
        'consul_dns_sync_runs_total{result="failure"} NaN',
        "consul_dns_sync_refusals_total -3",
        'consul_dns_zone_records{zone="geant.services",} 9',  # trailing comma is allowed
        "consul_dns_sync_last_success_timestamp_seconds 1764000000.5",
        'consul_dns_zone_records{zone="broken} 1',
    ])
    parsed = parse_samples(previous)
    assert parsed[("consul_dns_sync_runs_total", (("result", "success"),))] == 41
    assert parsed[("consul_dns_zone_records", (("zone", ZONE),))] == 9
    assert len(parsed) == 5
    text = prometheus_text(refused_report(), previous)
    assert value(text, "consul_dns_sync_runs_total", result="success") == 41
    assert value(text, "consul_dns_sync_runs_total", result="failure") == 1  # NaN starts over
    assert value(text, "consul_dns_sync_refusals_total") == 1  # negative starts over
    assert value(text, "consul_dns_sync_last_success_timestamp_seconds") == 1764000000.5
    assert value(text, "consul_dns_zone_records", zone=ZONE) == 9
    assert parse_samples(None) == {} and parse_samples("") == {}


def test_values_are_formatted_for_prometheus():
    fmt = sync_report._format_value
    assert (fmt(True), fmt(3), fmt(3.0), fmt(0.25), fmt(float("nan")), fmt(float("inf")), fmt(-float("inf"))) == \
        ("1", "3", "3", "0.25", "NaN", "+Inf", "-Inf")
    assert math.isclose(float(fmt(T0 + 0.123)), T0 + 0.123)


# ---------------------------------------------------------------------------------------------------
# files


def test_write_json_atomically(tmp_path):
    old_umask = os.umask(0o077)
    try:
        path = tmp_path / "state" / "dir" / "last_sync.json"  # the directories are made
        report = good_report()
        assert write_json(str(path), report) == str(path)
        assert json.loads(path.read_text()) == report
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        for directory in (path.parent, path.parent.parent):
            assert stat.S_IMODE(directory.stat().st_mode) == 0o755  # node_exporter must get through
        write_json(str(path), refused_report())
        assert json.loads(path.read_text())["error"] == "would lose 3"
        assert os.listdir(str(path.parent)) == ["last_sync.json"]
    finally:
        os.umask(old_umask)


def test_write_textfile_keeps_the_old_file_when_it_fails(tmp_path, monkeypatch):
    path = tmp_path / "consul_dns.prom"
    write_textfile(str(path), "old\n")

    def broken_rename(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(sync_report.os, "rename", broken_rename)
    with pytest.raises(OSError):
        write_textfile(str(path), "new\n")
    assert path.read_text() == "old\n"
    assert os.listdir(str(tmp_path)) == ["consul_dns.prom"]  # the temporary file is gone


def test_temporary_files_are_hidden_from_node_exporter(tmp_path, monkeypatch):
    """node_exporter reads *.prom: the temporary file must neither end in .prom nor be visible as one."""
    seen = []
    real_rename = os.rename

    def spy(src, dst):
        seen.append(os.path.basename(src))
        real_rename(src, dst)

    monkeypatch.setattr(sync_report.os, "rename", spy)
    write_textfile(str(tmp_path / "consul_dns.prom"), "x 1\n")
    assert seen[0].startswith(".consul_dns.prom.") and seen[0].endswith(".tmp")


# ---------------------------------------------------------------------------------------------------
# the module, in-process


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super(ModuleExit, self).__init__(json.dumps(result, default=str))
        self.result = result
        self.failed = failed


@pytest.fixture
def run_module(monkeypatch, tmp_path):
    def exit_json(self, **kwargs):
        raise ModuleExit(kwargs, False)

    def fail_json(self, msg, **kwargs):
        raise ModuleExit(dict(kwargs, msg=msg, failed=True), True)

    monkeypatch.setattr(zone_sync_report.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(zone_sync_report.AnsibleModule, "fail_json", fail_json)

    def _run(check=False, **params):
        args = dict(started=T0, _ansible_check_mode=check, _ansible_tmpdir=str(tmp_path))
        args.update(params)
        with patch_module_args(args):
            with pytest.raises(ModuleExit) as info:
                zone_sync_report.main()
        return info.value

    return _run


def test_module_writes_both_files(run_module, tmp_path):
    summary, metrics = tmp_path / "out" / "last_sync.json", tmp_path / "prom" / "consul_dns.prom"
    zones = [{"zone": ZONE, "desired": desired_result(), "zone_file": file_result(), "push": push_result()}]
    result = run_module(zones=zones, mode="timer", holder="me", summary_file=str(summary), metrics_file=str(metrics))
    assert not result.failed and result.result["changed"] is False
    report = result.result["report"]
    assert report["ok"] and report["mode"] == "timer" and report["holder"] == "me"
    assert json.loads(summary.read_text()) == report
    assert result.result["summary_file"] == str(summary) and result.result["metrics_file"] == str(metrics)
    assert value(metrics.read_text(), "consul_dns_sync_runs_total", result="success") == 1
    failed = run_module(zones=[{"zone": ZONE, "desired": refused("would lose 3")}], error="would lose 3",
                        metrics_file=str(metrics))
    assert not failed.failed
    text = metrics.read_text()
    assert value(text, "consul_dns_sync_runs_total", result="success") == 1
    assert value(text, "consul_dns_sync_runs_total", result="failure") == 1
    assert value(text, "consul_dns_sync_last_success_timestamp_seconds") == report["finished_epoch"]


def test_module_check_mode_writes_nothing(run_module, tmp_path):
    result = run_module(check=True, zones=[{"zone": ZONE, "desired": desired_result()}],
                        summary_file=str(tmp_path / "s.json"), metrics_file=str(tmp_path / "m.prom"))
    assert not result.failed and result.result["report"]["zones"][ZONE]["records"] == 3
    assert result.result["summary_file"] is None and not os.listdir(str(tmp_path))
    assert result.result["report"]["holder"]  # user@host pid N


def test_module_fails_when_it_cannot_write(run_module, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_module(summary_file=str(blocker / "last_sync.json"))
    assert result.failed and "cannot write summary_file" in result.result["msg"]
    assert result.result["report"]["ok"]
