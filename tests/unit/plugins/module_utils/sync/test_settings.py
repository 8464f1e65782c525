"""The settings schema (validation, defaults, per-zone overrides) and the engine's zone plans."""

import types

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.sync import settings as schema
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.engine import ZonePlan, next_wakeup
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.settings import SettingsError, load_settings
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.watch import Trigger

ZONE = {"name": "geant.services", "nameservers": ["ns1.geant.net."]}


def plans(**variables):
    settings = load_settings(variables)
    return settings, [ZonePlan(zone, settings) for zone in settings.zones]


def test_zone_defaults():
    settings, (plan,) = plans(consul_dns_zones=[{"name": "Geant.Services", "nameservers": ["ns1.geant.net"]}],
                              consul_dns_zone_dir="/srv/zones")
    assert plan.zone == "geant.services"
    assert plan.zone_file == "/srv/zones/geant.services.zone"
    assert plan.ttl == 300 and plan.view == "default" and not plan.allow_empty and not plan.policy.allow_empty
    assert plan.damping.hold_down == 60 and plan.damping.all_failing == "withdraw"
    assert plan.selection.exclude == {"consul"}
    assert plan.zone_settings.hostmaster == "hostmaster.geant.services."
    assert settings["infoblox_server"] == "" and settings["zone_file_mode"] == "0644"


def test_zone_overrides_and_allow_empty_reaches_the_infoblox_policy():
    _settings, (plan,) = plans(consul_dns_zones=[dict(
        ZONE, hold_down=0, ttl=60, zone_file="/tmp/x.zone", infoblox_view="internal", services=["crowd"],
        all_failing="keep", allow_empty=True, hostmaster="dns@geant.org")])
    assert (plan.damping.hold_down, plan.ttl, plan.zone_file, plan.view) == (0, 60, "/tmp/x.zone", "internal")
    assert plan.selection.services == {"crowd"} and plan.damping.all_failing == "keep"
    assert plan.allow_empty and plan.policy.allow_empty
    assert plan.zone_settings.hostmaster == "dns.geant.org."


def test_global_values_reach_every_zone_unless_it_overrides_them():
    _settings, (first, second) = plans(consul_dns_hold_down=5, consul_dns_record_ttl=30, consul_dns_zones=[
        ZONE, {"name": "other.services", "nameservers": ["ns1.geant.net."], "hold_down": 7}])
    assert (first.damping.hold_down, first.ttl) == (5, 30)
    assert (second.damping.hold_down, second.ttl) == (7, 30)


def test_strings_from_extra_vars_are_converted():
    settings, (plan,) = plans(consul_dns_zones=[dict(ZONE, allow_empty="yes", hold_down="0")],
                              consul_dns_force="true", consul_dns_lock_ttl="30", consul_dns_consul_timeout="2.5")
    assert settings["force"] is True and settings["lock_ttl"] == 30 and settings["consul_timeout"] == 2.5
    assert plan.allow_empty is True and plan.damping.hold_down == 0


@pytest.mark.parametrize("variables, message", [
    ({"consul_dns_zones": []}, "at least one zone"),
    ({"consul_dns_zones": [{"name": "geant.services"}]}, "zone geant.services: key nameservers is required"),
    ({"consul_dns_zones": [{"nameservers": ["ns1."]}]}, r"consul_dns_zones\[1\]: key name is required"),
    ({"consul_dns_zones": [dict(ZONE, holddown=3)]},
     r"zone geant.services: unknown key holddown \(did you mean hold_down\?\)"),
    ({"consul_dns_zones": [dict(ZONE, hostmaser="x@geant.org")]},
     r"zone geant.services: unknown key hostmaser \(did you mean hostmaster\?\)"),
    ({"consul_dns_zones": [ZONE], "consul_dns_hold_dwn": 3},
     r"unknown setting consul_dns_hold_dwn .*\(did you mean consul_dns_hold_down\?\)"),
    ({"consul_dns_zones": [{"name": "a..services", "nameservers": ["ns1."]}]}, "a..services"),
    ({"consul_dns_zones": [{"name": "a.b", "nameservers": ["ns1."]}], "consul_dns_infoblox_server": "nios"},
     "username"),
    ({"consul_dns_zones": [dict(ZONE, all_failing="maybe")]}, "all_failing must be one of withdraw, keep"),
    ({"consul_dns_zones": [ZONE], "consul_dns_lock_ttl": 5}, "consul_dns_lock_ttl must be at least 10"),
    ({"consul_dns_zones": [ZONE], "consul_dns_max_shrink_ratio": 1.5}, "at most 1"),
    ({"consul_dns_zones": [ZONE], "consul_dns_force": "perhaps"}, "consul_dns_force must be a boolean"),
    ({"consul_dns_zones": [ZONE], "consul_dns_zone_file_mode": "rw-r--r--"}, "octal"),
    ({"consul_dns_zones": [ZONE, ZONE]}, "listed twice"),
    ({"consul_dns_zones": [dict(ZONE, nameservers=[])]}, "at least one name server"),
    ({"consul_dns_zones": [ZONE], "consul_dns_infoblox_server": "http://gm.geant.net",
      "consul_dns_infoblox_username": "u", "consul_dns_infoblox_password": "p"}, "must use https://"),
])
def test_bad_settings_are_refused_with_the_zone_and_the_key(variables, message):
    with pytest.raises(SettingsError, match=message):
        plans(**variables)


def test_damping_figures_are_checked_before_anything_runs():
    with pytest.raises(SettingsError, match="zone geant.services: max_suppress"):
        plans(consul_dns_zones=[ZONE], consul_dns_flap_max_suppress=10)


def test_other_variables_are_ignored_and_defaults_are_fresh_copies():
    settings = load_settings({"consul_dns_zones": [ZONE], "ansible_host": "x", "consul_dns_sync_hosts": "all",
                              "consul_dns_config": {"allow_stale": True}})
    settings.zones[0]["exclude_services"].append("crowd")
    assert schema.defaults()["consul_dns_zones"] == [] and load_settings(
        {"consul_dns_zones": [ZONE]}).zones[0]["exclude_services"] == ["consul"]


def test_every_zone_key_and_setting_is_documented_once():
    names = [s.variable for s in schema.SETTINGS]
    assert len(names) == len(set(names))
    assert all(s.description for s in schema.SETTINGS + schema.ZONE_KEYS)
    assert set(schema.OVERRIDES_BY_ZONE_KEY).isdisjoint(schema.ZONE_ONLY_BY_KEY)


def test_next_wakeup_is_the_earliest_damping_deadline():
    damping = types.SimpleNamespace(
        pending=[{"publish_in": 30}], in_grace=[{"withdraw_in": 12}],
        suppressed=[{"reuse_in": 5, "healthy": False}, {"reuse_in": 20, "healthy": True}])
    assert next_wakeup(damping, 1000.0) == 1012.0
    assert next_wakeup(types.SimpleNamespace(pending=[], in_grace=[], suppressed=[]), 1000.0) is None


def test_trigger_collects_reasons_until_waited_for():
    trigger = Trigger()
    assert trigger.wait(0) == set()
    trigger.set("checks")
    trigger.set("services")
    trigger.set("checks")
    assert trigger.wait(5) == {"checks", "services"}
    assert trigger.wait(0.01) == set()


def test_the_docs_tables_name_every_setting_and_zone_key_and_nothing_else():
    import re

    from tests.playbook import REPO_ROOT

    text = (REPO_ROOT / "docs" / "zone_sync.md").read_text()
    rows, header = [], ""
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith(("| `", "| ---")):
            header = line.split("|")[1].strip().lower()
        elif line.startswith("| `") and header in ("variable", "key", "setting"):
            rows.append(line)
    documented = set()
    for row in rows:
        for name in re.findall(r"`([a-z_]+)`", row.split("|")[1]):
            documented.add(name if name.startswith("consul_dns_") else "zone:" + name)
    variables = set(s.variable for s in schema.SETTINGS)
    zone_keys = set("zone:" + key for key in schema.ALL_ZONE_KEYS)
    wanted = variables | zone_keys
    assert sorted(wanted - documented) == []
    assert sorted(d for d in documented - wanted if d.startswith("consul_dns_")) == []


def test_role_argument_specs_are_generated_from_the_schema():
    """roles/zone_sync/meta/argument_specs.yml holds role_options() (scripts/settings_docs.py writes it)."""
    import yaml

    from tests.playbook import REPO_ROOT

    specs = yaml.safe_load((REPO_ROOT / "roles" / "zone_sync" / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    settings_options, secrets_options = schema.role_options()
    assert options["zone_sync_settings"]["options"] == settings_options, "run scripts/settings_docs.py"
    assert options["zone_sync_secrets"]["options"] == secrets_options, "run scripts/settings_docs.py"


def test_role_options_split_secrets_from_settings():
    settings_options, secrets_options = schema.role_options()
    assert set(secrets_options) == {"consul_dns_consul_token", "consul_dns_infoblox_username",
                                    "consul_dns_infoblox_password"}
    assert "consul_dns_infoblox_password" not in settings_options and "consul_dns_consul_token" not in settings_options
    assert secrets_options["consul_dns_infoblox_password"]["no_log"] is True
    assert "no_log" not in secrets_options["consul_dns_infoblox_username"]
    zone = settings_options["consul_dns_zones"]["options"]
    assert zone["name"]["required"] and zone["nameservers"]["required"]
    assert "default" not in zone["hold_down"] and "Overrides consul_dns_hold_down for this zone." in zone["hold_down"]["description"]
    assert set(zone) == set(schema.ALL_ZONE_KEYS)
    assert settings_options["consul_dns_lock_ttl"]["description"][-1] == "Between 10 and 86400."


def test_an_optional_path_left_empty_is_unset():
    """AWX's credential injectors render a missing CA as an empty string (docs/awx.md)."""
    settings = load_settings({"consul_dns_zones": [ZONE], "consul_dns_consul_ca_path": "",
                              "consul_dns_infoblox_ca_path": "  "})
    assert settings["consul_ca_path"] is None and settings["infoblox_ca_path"] is None
    with pytest.raises(SettingsError):
        load_settings({"consul_dns_zones": [ZONE], "consul_dns_zone_dir": ["x"]})
