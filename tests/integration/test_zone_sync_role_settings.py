"""Role zone_sync validates zone_sync_settings and zone_sync_secrets against the settings schema
(its meta/argument_specs.yml, generated from plugins/module_utils/sync/settings.py) before any task runs.

Only the role's argument validation runs here (it is tagged always; ``--tags`` selects no other task)."""

import pytest

from tests.playbook import run_playbook

pytestmark = pytest.mark.slow

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: geant.consul_dns.zone_sync
"""

ZONE = {"name": "geant.services", "nameservers": ["ns1.geant.net."], "hostmaster": "hostmaster@geant.org"}


def validate(settings, secrets=None):
    extra = {"zone_sync_settings": settings, "zone_sync_secrets": secrets or {}}
    return run_playbook(PLAYBOOK, extra, args=["--tags", "no_task_has_this_tag"])


def test_documented_settings_pass():
    result = validate({"consul_dns_consul_address": "http://127.0.0.1:8500", "consul_dns_zones": [ZONE],
                       "consul_dns_hold_down": "30", "consul_dns_infoblox_server": "gm.geant.net",
                       "consul_dns_infoblox_username": "consul-dns", "consul_dns_report_file": None},
                      # The username may sit with the credentials too (as AWX credential types inject it).
                      {"consul_dns_consul_token": "t0ken-not-in-logs", "consul_dns_infoblox_password": "pw-not-in-logs",
                       "consul_dns_infoblox_username": "consul-dns"})
    assert result.rc == 0, result.output
    assert "t0ken-not-in-logs" not in result.output and "pw-not-in-logs" not in result.output


def test_misspelt_setting_fails_naming_it():
    result = validate({"consul_dns_zones": [ZONE], "consul_dns_hold_dwon": 30})
    assert result.rc != 0
    assert "consul_dns_hold_dwon" in result.output


def test_misspelt_zone_key_fails_naming_it():
    result = validate({"consul_dns_zones": [dict(ZONE, hostmaser="x@geant.org")]})
    assert result.rc != 0
    assert "hostmaser" in result.output


def test_zone_without_nameservers_fails_naming_the_key():
    result = validate({"consul_dns_zones": [{"name": "geant.services"}]})
    assert result.rc != 0
    assert "nameservers" in result.output


def test_secret_in_the_settings_file_fails():
    result = validate({"consul_dns_zones": [ZONE], "consul_dns_infoblox_password": "pw-not-in-logs"})
    assert result.rc != 0
    assert "consul_dns_infoblox_password" in result.output
    assert "pw-not-in-logs" not in result.output


def test_wrong_type_and_choice_fail():
    assert validate({"consul_dns_zones": [ZONE], "consul_dns_zone_validate": "sometimes"}).rc != 0
    assert validate({"consul_dns_zones": [ZONE], "consul_dns_hold_down": "a minute"}).rc != 0
