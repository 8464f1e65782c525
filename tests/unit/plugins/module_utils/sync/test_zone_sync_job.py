"""Settings of the in-process sync job (watch mode) and the damping's wake-up time."""

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.sync.zone_sync_job import (
    SettingsError,
    SyncJob,
    next_wakeup,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.watch import Trigger
from tests.playbook import REPO_ROOT

import yaml


def defaults(**overrides):
    path = REPO_ROOT / "playbooks" / "vars" / "zone_sync_defaults.yml"
    settings = dict(yaml.safe_load(path.read_text())["consul_dns_zone_sync_defaults"])
    settings.update(overrides)
    return settings


def test_zone_defaults_match_the_playbook():
    job = SyncJob(defaults(consul_dns_zones=[{"name": "Geant.Services", "nameservers": ["ns1.geant.net"]}],
                           consul_dns_zone_dir="/srv/zones"))
    zone = job.zones[0]
    assert zone.zone == "geant.services"
    assert zone.zone_file == "/srv/zones/geant.services.zone"
    assert zone.ttl == 300 and zone.view == "default" and not zone.allow_empty
    assert zone.damping.hold_down == 60 and zone.damping.all_failing == "withdraw"
    assert zone.selection.exclude == {"consul"}
    assert zone.zone_settings.hostmaster == "hostmaster.geant.services."
    assert not job.push and job.zone_mode == 0o644


def test_zone_overrides():
    job = SyncJob(defaults(consul_dns_zones=[{
        "name": "geant.services", "nameservers": ["ns1.geant.net."], "hold_down": 0, "ttl": 60,
        "zone_file": "/tmp/x.zone", "infoblox_view": "internal", "services": ["crowd"], "all_failing": "keep"}]))
    zone = job.zones[0]
    assert (zone.damping.hold_down, zone.ttl, zone.zone_file, zone.view) == (0, 60, "/tmp/x.zone", "internal")
    assert zone.selection.services == {"crowd"} and zone.damping.all_failing == "keep"


@pytest.mark.parametrize("overrides, message", [
    ({"consul_dns_zones": []}, "at least one zone"),
    ({"consul_dns_zones": [{"name": "geant.services"}]}, "name and nameservers"),
    ({"consul_dns_zones": [{"name": "geant.services", "nameservers": ["ns1."], "holddown": 3}]}, "unknown key"),
    ({"consul_dns_zones": [{"name": "a..services", "nameservers": ["ns1."]}]}, "a..services"),
    ({"consul_dns_zones": [{"name": "a.b", "nameservers": ["ns1."]}], "consul_dns_infoblox_server": "nios"},
     "username"),
])
def test_bad_settings_are_refused_up_front(overrides, message):
    with pytest.raises(SettingsError, match=message):
        SyncJob(defaults(**overrides))


def test_next_wakeup_is_the_earliest_damping_deadline():
    outcomes = [
        {"desired": {"pending": [{"publish_in": 30}], "in_grace": [{"withdraw_in": 12}],
                     "suppressed": [{"reuse_in": 5, "healthy": False}, {"reuse_in": 20, "healthy": True}]}},
        {"desired": None, "error": "zone b: down"},
    ]
    assert next_wakeup(outcomes, 1000.0) == 1012.0
    assert next_wakeup([{"desired": {"pending": [], "in_grace": [], "suppressed": []}}], 1000.0) is None


def test_trigger_collects_reasons_until_waited_for():
    trigger = Trigger()
    assert trigger.wait(0) == set()
    trigger.set("checks")
    trigger.set("services")
    trigger.set("checks")
    assert trigger.wait(5) == {"checks", "services"}
    assert trigger.wait(0.01) == set()
