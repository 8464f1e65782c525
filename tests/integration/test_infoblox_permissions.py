"""The sync account of docs/permissions.md: a non-superuser with exactly the documented NIOS permissions
syncs a populated zone, through the HTTPS client and through the zone sync job; a missing permission
fails clearly, in one line, without HTML."""

import re

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import address_records
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.plan import SyncPolicy
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.push import SyncError, sync_zone
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.wapi import WapiClient, WapiError
from tests.integration.zone_sync_bed import SyncBed, failure_messages, nios_addresses, sync_result
from tests.wapi_simulator.client import wapi_json as admin

ZONE = "geant.services"
USER, PASSWORD = "svc-consul-dns", "Kx7-sync-account"


def documented_permissions(zone=ZONE, without=()):
    """The object permissions of docs/permissions.md for one zone (minus ``without`` object types)."""
    table = [("zone_auth", "READ"), ("record:a", "WRITE"), ("record:aaaa", "WRITE"), ("record:cname", "READ"),
             ("record:host", "READ"), ("record:alias", "READ")]
    permissions = [{"object": objtype, "permission": level, "zone": zone} for objtype, level in table
                   if objtype not in without]
    permissions += [{"object": objtype, "permission": "READ"} for objtype in ("sharedrecordgroup", "sharedrecord:cname")
                    if objtype not in without]
    return permissions


def test_the_documented_table_is_the_one_tested():
    from tests.playbook import REPO_ROOT

    text = (REPO_ROOT / "docs" / "permissions.md").read_text()
    rows = re.findall(r"^\| (the zone \(`zone_auth`\)|A records|AAAA records|CNAME records|Host records|ALIAS records|"
                      r"Shared record groups, shared records)[^|]*\| (Read-only|Read/Write) \|", text, re.MULTILINE)
    assert rows == [("the zone (`zone_auth`)", "Read-only"), ("A records", "Read/Write"),
                    ("AAAA records", "Read/Write"), ("CNAME records", "Read-only"), ("Host records", "Read-only"),
                    ("ALIAS records", "Read-only"), ("Shared record groups, shared records", "Read-only")]
    assert len(documented_permissions()) == 8


@pytest.fixture
def nios(wapi_simulator):
    admin(wapi_simulator, "POST", "zone_auth", json={"fqdn": ZONE})
    admin(wapi_simulator, "POST", "zone_auth", json={"fqdn": "other.services"})
    admin(wapi_simulator, "POST", "record:cname", json={"name": "cacti." + ZONE, "canonical": "old.geant.net"})
    admin(wapi_simulator, "POST", "record:host", json={"name": "crowd." + ZONE, "ipv4addrs": [{"ipv4addr": "1.1.1.10"}]})
    wapi_simulator.sim.define_ea("ManagedBy")
    wapi_simulator.sim.add_user(USER, PASSWORD, permissions=documented_permissions())
    return wapi_simulator


def sync(server, addresses, user=USER, password=PASSWORD, **kwargs):
    client = WapiClient(server.host, user, password, ca_path=server.ca_path, sleep=lambda s: None)
    return sync_zone(client, ZONE, "default", address_records(addresses, 300), SyncPolicy(allow_name_removal=True),
                     **kwargs)


WANTED = {"crowd": ["1.1.1.10", "1.1.1.11"], "cacti": ["1.1.1.20"], "dash": ["2001:db8::1"]}


def assert_clear(message):
    assert "<" not in message and "\n" not in message and PASSWORD not in message


def test_the_documented_permissions_are_enough_for_a_populated_zone(nios):
    first = sync(nios, WANTED)
    assert sorted((c["kind"], c["record"]["fqdn"]) for c in first.plan.conflicts) == [("blocked", "cacti." + ZONE)]
    assert first.plan.summary()["created"] == 2  # crowd 1.1.1.11 and dash's AAAA; 1.1.1.10 is the host's
    assert nios_addresses(nios, ZONE) == {"crowd." + ZONE: ["1.1.1.11"]}
    again = sync(nios, WANTED)
    assert not again.changed and again.plan.conflicts == first.plan.conflicts
    # The same plan as a superuser would make: the account sees everything the policy needs.
    superuser = sync(nios, WANTED, user=nios.username, password=nios.password, check_mode=True)
    assert superuser.plan.as_dict() == again.plan.as_dict()


def test_the_owner_ea_is_the_superusers_step(nios):
    nios.sim.reset()
    admin(nios, "POST", "zone_auth", json={"fqdn": ZONE})
    nios.sim.add_user(USER, PASSWORD, permissions=documented_permissions())
    with pytest.raises(SyncError, match="ManagedBy is not defined in NIOS. Once, a NIOS superuser defines it"):
        sync(nios, WANTED)
    with pytest.raises(WapiError) as refused:  # create_owner_ea as the sync account: NIOS says no
        sync(nios, WANTED, create_owner_ea=True)
    assert re.search(r"lacks (a|the) NIOS permission \(see the collection's docs/permissions.md\)", str(refused.value))
    assert_clear(str(refused.value))
    sync(nios, WANTED, user=nios.username, password=nios.password, create_owner_ea=True)  # a superuser, once
    assert sync(nios, WANTED).plan.summary()["unchanged"] == 4  # the reset removed the CNAME and the host


def test_a_missing_write_permission_fails_in_one_clear_line(nios):
    nios.sim.add_user(USER, PASSWORD, permissions=documented_permissions(without=("record:aaaa",)))
    with pytest.raises(SyncError) as failed:
        sync(nios, WANTED)
    message = str(failed.value)
    assert re.search(r"lacks (a|the) NIOS permission", message) and "Read again after the failure" in message
    assert_clear(message)


def test_without_read_on_cnames_the_push_fails_with_nios_conflict_as_documented(nios):
    nios.sim.add_user(USER, PASSWORD, permissions=documented_permissions(without=("record:cname",)))
    with pytest.raises(SyncError) as failed:
        sync(nios, WANTED)
    assert "cacti.geant.services" in str(failed.value) or "CNAME" in str(failed.value)


def test_a_wrong_password_is_one_line(nios):
    with pytest.raises(WapiError) as failed:
        sync(nios, WANTED, password="not-it")
    assert "HTTP 401" in str(failed.value)
    assert_clear(str(failed.value))


@pytest.mark.consul
@pytest.mark.slow
def test_the_sync_job_runs_with_the_documented_account(nios, consul_dev, tmp_path):
    for sid, address in (("crowd1", "1.1.1.10"), ("crowd2", "1.1.1.11")):
        consul_dev.register_service({"Name": "crowd", "ID": sid, "Address": address,
                                     "Check": {"CheckID": sid, "TTL": "10m", "Status": "passing"}})
    zones = [{"name": ZONE, "nameservers": ["ns1.geant.net."], "services": ["crowd"]}]
    bed = SyncBed(consul_dev.http_url, tmp_path, zones, nios=nios, consul_dns_hold_down=0,
                  consul_dns_infoblox_username=USER, consul_dns_infoblox_password=PASSWORD)
    result = bed.run()
    assert result.rc == 0, failure_messages(result) or result
    assert sync_result(result)["zones"][ZONE]["push"]["created"] == 1
    assert nios_addresses(nios, ZONE) == {"crowd." + ZONE: ["1.1.1.11"]}
    assert PASSWORD not in result.output
