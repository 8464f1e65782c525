"""Adopting a populated zone (docs/adopting.md) through the real HTTPS client against the WAPI simulator:
every kind of existing object at a published name, the take-over opt-in, disabled records, inherited TTL,
owner EA definitions, and writes that fail half-way with and without rollback."""

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import address_records
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.plan import SyncPolicy
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.push import SyncError, sync_zone
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.wapi import WapiClient
from tests.wapi_simulator.client import wapi_json as wapi

ZONE = "geant.services"
OWNER = {"ManagedBy": {"value": "geant.consul_dns"}}


@pytest.fixture
def nios(wapi_simulator):
    wapi(wapi_simulator, "POST", "zone_auth", json={"fqdn": ZONE, "view": "default"})
    wapi_simulator.sim.define_ea("ManagedBy")
    wapi_simulator.sim.define_ea("Site")
    wapi_simulator.sim.log.clear()
    return wapi_simulator


def client_for(server, **kwargs):
    kwargs.setdefault("sleep", lambda seconds: None)
    return WapiClient(server.host, server.username, server.password, ca_path=server.ca_path, **kwargs)


def sync(server, addresses, policy=None, **kwargs):
    return sync_zone(client_for(server, **kwargs.pop("client", {})), ZONE, "default",
                     address_records(addresses, 300), policy or SyncPolicy(allow_name_removal=True), **kwargs)


def a_records(server, name=None):
    """``{(name, address): record}`` of the A records of the zone."""
    params = {"zone": ZONE, "_return_fields": "name,ipv4addr,ttl,use_ttl,extattrs,disable"}
    if name:
        params["name"] = name
    return dict(((o["name"], o["ipv4addr"]), o) for o in wapi(server, "GET", "record:a", params=params))


def writes(server):
    return [e for e in server.sim.log.entries()
            if e["method"] in ("POST", "PUT", "DELETE") and e["kind"] != "auth" and not e["path"].endswith("/logout")
            and not (e["path"].endswith("/request") and all(i.get("method") == "GET" for i in e["body"] or []))]


def conflicts(result):
    return sorted((c["kind"], c["record"]["fqdn"], c["record"]["value"]) for c in result.plan.conflicts)


def fqdn(name):
    return "%s.%s" % (name, ZONE)


def populate(server):
    """A zone as people left it: every kind of object that may stand at a published name."""
    wapi(server, "POST", "record:host", json={"name": fqdn("crowd"), "ipv4addrs": [{"ipv4addr": "1.1.1.10"}]})
    wapi(server, "POST", "record:host", json={"name": fqdn("dash"), "ipv4addrs": [{"ipv4addr": "1.1.1.99"}]})
    wapi(server, "POST", "record:host", json={"name": fqdn("web01"), "ipv4addrs": [{"ipv4addr": "1.1.1.50"}],
                                              "aliases": [fqdn("bod")]})
    wapi(server, "POST", "record:cname", json={"name": fqdn("cacti"), "canonical": "old-cacti.geant.net"})
    wapi(server, "POST", "record:alias", json={"name": fqdn("apex"), "target_name": "lb.geant.net",
                                               "target_type": "A"})
    wapi(server, "POST", "sharedrecordgroup", json={"name": "common", "zone_associations": [ZONE]})
    wapi(server, "POST", "sharedrecord:cname", json={"name": "shared", "canonical": "common.geant.net",
                                                     "shared_record_group": "common"})
    wapi(server, "POST", "zone_auth", json={"fqdn": "prod." + ZONE})
    wapi(server, "POST", "record:a", json={"name": fqdn("legacy"), "ipv4addr": "10.9.9.9",
                                           "extattrs": {"Site": {"value": "AMS"}}})
    wapi(server, "POST", "record:a", json={"name": fqdn("legacy"), "ipv4addr": "1.1.1.20"})
    server.sim.log.clear()


WANTED = {"crowd": ["1.1.1.10", "1.1.1.11"], "dash": ["1.1.1.12"], "bod": ["1.1.1.13"], "cacti": ["1.1.1.14"],
          "apex": ["1.1.1.15"], "shared": ["1.1.1.16"], "app.prod": ["1.1.1.17"], "legacy": ["1.1.1.20"]}


def test_every_kind_of_existing_object_at_a_published_name(nios):
    populate(nios)
    first = sync(nios, WANTED)
    assert conflicts(first) == [
        ("blocked", fqdn("apex"), "1.1.1.15"),
        ("blocked", fqdn("app.prod"), "1.1.1.17"),
        ("blocked", fqdn("bod"), "1.1.1.13"),
        ("blocked", fqdn("cacti"), "1.1.1.14"),
        ("blocked", fqdn("shared"), "1.1.1.16"),
        ("stale", fqdn("dash"), "1.1.1.99"),
        ("stale", fqdn("legacy"), "10.9.9.9"),
    ]
    reasons = dict((c["record"]["fqdn"], c["reason"]) for c in first.plan.conflicts)
    assert "sub-zone prod.geant.services" in reasons[fqdn("app.prod")]
    assert "host record alias" in reasons[fqdn("bod")] and "ALIAS record" in reasons[fqdn("apex")]
    assert "shared-record CNAME" in reasons[fqdn("shared")]
    # Only what nothing stands in the way of was created, in one request that NIOS accepted.
    owned = sorted(key for key, o in a_records(nios).items() if o.get("extattrs", {}).get("ManagedBy"))
    assert owned == [(fqdn("crowd"), "1.1.1.11"), (fqdn("dash"), "1.1.1.12")]
    assert [e for e in writes(nios) if e.get("status") not in (200, 201)] == []
    assert wapi(nios, "GET", "record:a", params={"zone": "prod." + ZONE}) == []  # nothing put in the sub-zone
    # The host record serving 1.1.1.10 is the same address: equivalent, not a conflict.
    assert "host record" in [s for s in first.plan.skipped if s["record"]["value"] == "1.1.1.10"][0]["reason"]
    # Everything unowned is untouched; the next run writes nothing and reports the same conflicts.
    assert (fqdn("legacy"), "10.9.9.9") in a_records(nios)
    nios.sim.log.clear()
    second = sync(nios, WANTED)
    assert not second.changed and writes(nios) == [] and conflicts(second) == conflicts(first)


def test_take_over_is_opt_in_and_check_mode_shows_it_first(nios):
    populate(nios)
    policy = SyncPolicy(allow_name_removal=True, adopt_unowned=True)
    checked = sync(nios, {"legacy": ["1.1.1.20"]}, policy, check_mode=True)
    report = [(e["action"], e["value"]) for e in checked.plan.adoption_report()]
    assert report == [("take_over", "1.1.1.20"), ("delete_taken_over", "10.9.9.9")]
    assert "10.9.9.9 (unowned, taken over)" in " ".join(checked.plan.describe())
    assert writes(nios) == []
    sync(nios, {"legacy": ["1.1.1.20"]}, policy)
    records = a_records(nios, fqdn("legacy"))
    assert list(records) == [(fqdn("legacy"), "1.1.1.20")]
    assert records[(fqdn("legacy"), "1.1.1.20")]["extattrs"]["ManagedBy"]["value"] == "geant.consul_dns"
    # Taken over, the record is the collection's: it goes when its address is no longer healthy.
    nios.sim.log.clear()
    assert not sync(nios, {"legacy": ["1.1.1.20"]}, policy).changed and writes(nios) == []
    sync(nios, {"legacy": ["1.1.1.21"]}, policy)
    assert list(a_records(nios, fqdn("legacy"))) == [(fqdn("legacy"), "1.1.1.21")]


def test_take_over_keeps_the_records_other_attributes(nios):
    wapi(nios, "POST", "record:a", json={"name": fqdn("crowd"), "ipv4addr": "1.1.1.10",
                                         "extattrs": {"Site": {"value": "AMS"}}})
    sync(nios, {"crowd": ["1.1.1.10"]}, SyncPolicy(adopt_unowned=True))
    record = a_records(nios)[(fqdn("crowd"), "1.1.1.10")]
    assert record["extattrs"] == {"Site": {"value": "AMS"}, "ManagedBy": {"value": "geant.consul_dns"}}


def test_a_disabled_owned_record_is_enabled_again(nios):
    sync(nios, {"crowd": ["1.1.1.10", "1.1.1.11"]})
    ref = a_records(nios)[(fqdn("crowd"), "1.1.1.11")]["_ref"]
    wapi(nios, "PUT", ref, json={"disable": True})
    result = sync(nios, {"crowd": ["1.1.1.10", "1.1.1.11"]})
    assert result.plan.summary()["updated"] == 1 and "enable" in result.plan.describe()[0]
    assert a_records(nios)[(fqdn("crowd"), "1.1.1.11")]["disable"] is False


def test_inherited_ttl_is_an_option(nios):
    sync(nios, {"crowd": ["1.1.1.10"]}, SyncPolicy(inherit_ttl=True))
    record = a_records(nios)[(fqdn("crowd"), "1.1.1.10")]
    assert record["use_ttl"] is False
    moved = sync(nios, {"crowd": ["1.1.1.10"]})
    assert moved.plan.summary()["updated"] == 1
    record = a_records(nios)[(fqdn("crowd"), "1.1.1.10")]
    assert record["use_ttl"] is True and record["ttl"] == 300
    assert not sync(nios, {"crowd": ["1.1.1.10"]}).changed


@pytest.mark.parametrize("definition, message", [
    ({"ea_type": "INTEGER"}, "it is of type INTEGER; the collection writes a text value and needs type STRING"),
    ({"allowed_object_types": ["Network"]}, "restricted to the object types Network; add ARecord and AAAARecord"),
])
def test_an_unusable_owner_ea_definition_fails_saying_what_is_wrong(wapi_simulator, definition, message):
    wapi(wapi_simulator, "POST", "zone_auth", json={"fqdn": ZONE})
    wapi_simulator.sim.define_ea("ManagedBy", **definition)
    with pytest.raises(SyncError, match=message):
        sync(wapi_simulator, {"crowd": ["1.1.1.10"]})
    assert a_records(wapi_simulator) == {}


@pytest.mark.parametrize("rollback, applied", [(True, 0), (False, 2)])
def test_a_request_failing_half_way_reports_what_nios_holds(nios, rollback, applied):
    """No public source says whether NIOS rolls a failed request back: the message is true either way."""
    nios.sim.request_rollback = rollback
    sync(nios, {"crowd": ["1.1.1.10"], "cacti": ["1.1.1.30"]})
    nios.sim.faults.fail_request_item(2)
    change = {"crowd": ["1.1.1.10", "1.1.1.11", "1.1.1.12"], "dash": ["1.1.1.40"]}
    with pytest.raises(SyncError) as failed:
        sync(nios, change)
    assert "Read again after the failure, %d of 4 changes are in NIOS" % applied in str(failed.value)
    assert len(a_records(nios)) == 2 + applied
    sync(nios, change)  # the next run completes the plan
    assert sorted(a_records(nios)) == [(fqdn("crowd"), "1.1.1.10"), (fqdn("crowd"), "1.1.1.11"),
                                       (fqdn("crowd"), "1.1.1.12"), (fqdn("dash"), "1.1.1.40")]


def test_a_write_that_times_out_is_not_resent_and_nios_is_read_again(nios):
    nios.sim.faults.add_latency(3, count=1, method="POST", path="request")
    with pytest.raises(SyncError) as failed:
        sync(nios, {"crowd": ["1.1.1.10"]}, client={"write_timeout": 1})
    message = str(failed.value)
    assert "may or may not have been applied" in message and "Read again after the failure" in message
    assert len([e for e in writes(nios) if e["path"].endswith("/request")]) <= 1


def test_large_changes_are_chunked_by_size(nios):
    many = dict(("svc%03d" % i, ["10.1.0.%d" % (i + 1)]) for i in range(200))
    result = sync(nios, many, max_bytes=8 * 1024)
    assert result.requests_sent > 2 and len(a_records(nios)) == 200
    bodies = [e for e in writes(nios) if e["path"].endswith("/request")]
    assert len(bodies) == result.requests_sent
