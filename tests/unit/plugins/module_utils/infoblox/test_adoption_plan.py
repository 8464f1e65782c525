"""The adoption policy of the Infoblox plan (pure): what existing NIOS objects of a published name do."""

import json

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.plan import (
    HOST,
    NiosRecord,
    Occupant,
    PlanRefused,
    SyncPolicy,
    Wanted,
    ZoneOccupants,
    check_safety,
    operations,
    plan_sync,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.push import (
    chunk_operations,
    owner_ea_problem,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.wapi import html_summary

ZONE = "geant.services"
CROWD = "crowd.geant.services"
OWNER = {"ManagedBy": {"value": "geant.consul_dns"}}


def want(value, fqdn=CROWD, ttl=300, rtype="A"):
    return Wanted(fqdn, rtype, value, ttl)


def nios(value, owned=False, fqdn=CROWD, ttl=300, disabled=False, rtype="A", extattrs=None, ref=None):
    return NiosRecord(ref or "record:%s/%s:%s" % (rtype.lower(), value, fqdn), fqdn, rtype, value, ttl, owned,
                      disabled, extattrs if extattrs is not None else (OWNER if owned else {}))


def plan(wanted, current=(), occupants=None, **policy):
    return plan_sync(ZONE, list(wanted), list(current), occupants or ZoneOccupants(), SyncPolicy(**policy))


def actions(result):
    return [(e["action"], e["fqdn"], e["value"]) for e in result.adoption_report()]


def test_host_record_with_the_same_address_is_equivalent_not_a_conflict():
    host = Occupant(CROWD, HOST, CROWD, (("A", "1.1.1.10"),))
    result = plan([want("1.1.1.10"), want("1.1.1.11")], occupants=ZoneOccupants([host]))
    assert [w.value for w in result.creates] == ["1.1.1.11"]
    assert result.conflicts == []
    assert ("equivalent", CROWD, "1.1.1.10") in actions(result)


def test_host_record_with_another_address_is_a_stale_conflict_and_never_changed():
    host = Occupant(CROWD, HOST, CROWD, (("A", "1.1.1.99"),))
    result = plan([want("1.1.1.10")], occupants=ZoneOccupants([host]), adopt_unowned=True)
    assert [w.value for w in result.creates] == ["1.1.1.10"]
    assert [(c["kind"], c["record"]["value"]) for c in result.conflicts] == [("stale", "1.1.1.99")]
    assert "host record" in result.conflicts[0]["reason"]
    assert result.deletes == [] and result.takeovers == []


@pytest.mark.parametrize("kind", ["CNAME", "host record alias", "shared-record CNAME", "ALIAS record"])
def test_cname_like_occupants_block_the_name(kind):
    blocker = Occupant(CROWD, kind, "-> old.geant.net", ())
    result = plan([want("1.1.1.10"), want("2001:db8::10", rtype="AAAA")], occupants=ZoneOccupants([blocker]))
    assert result.creates == []
    assert [(c["kind"], c["record"]["value"]) for c in result.conflicts] == [
        ("blocked", "1.1.1.10"), ("blocked", "2001:db8::10")]
    assert kind in result.conflicts[0]["reason"]


def test_a_name_under_an_authoritative_sub_zone_is_blocked_naming_the_sub_zone():
    occupants = ZoneOccupants(subzones=["prod.geant.services"])
    result = plan([want("1.1.1.10", fqdn="app.prod.geant.services"), want("1.1.1.10")], occupants=occupants)
    assert [w.fqdn for w in result.creates] == [CROWD]
    assert result.conflicts[0]["record"]["fqdn"] == "app.prod.geant.services"
    assert "sub-zone prod.geant.services" in result.conflicts[0]["reason"]
    # The sub-zone's own apex is in the sub-zone as well; a look-alike name is not.
    assert occupants.blocker("prod.geant.services") and not occupants.blocker("xprod.geant.services")


def test_unowned_a_record_with_another_address_is_reported_stale_then_taken_over_when_opted_in():
    stale = nios("1.1.1.99")
    result = plan([want("1.1.1.10")], [stale])
    assert [w.value for w in result.creates] == ["1.1.1.10"]
    assert [(c["kind"], c["record"]["value"]) for c in result.conflicts] == [("stale", "1.1.1.99")]
    adopted = plan([want("1.1.1.10")], [stale], adopt_unowned=True)
    assert adopted.conflicts == [] and adopted.deletes == [stale]
    assert ("delete_taken_over", CROWD, "1.1.1.99") in actions(adopted)
    assert "delete crowd.geant.services. 300 IN A 1.1.1.99 (unowned, taken over)" in adopted.describe()


def test_take_over_marks_owned_and_keeps_the_other_attributes():
    legacy = nios("1.1.1.10", ttl=None, extattrs={"Site": {"value": "AMS"}})
    result = plan([want("1.1.1.10")], [legacy], adopt_unowned=True)
    assert result.takeovers == [(legacy, want("1.1.1.10"))] and result.creates == []
    ops = operations(result, "default", SyncPolicy())
    assert ops == [{"method": "PUT", "object": legacy.ref, "data": {
        "ttl": 300, "use_ttl": True, "extattrs": {"Site": {"value": "AMS"}, "ManagedBy": {"value": "geant.consul_dns"}}}}]
    diff = result.diff([])
    assert "crowd.geant.services. (zone) IN A 1.1.1.10 ; unowned" in diff["before"]
    assert diff["after"] == "crowd.geant.services. 300 IN A 1.1.1.10\n"


def test_without_opt_in_an_unowned_record_with_the_wanted_address_is_left_alone():
    result = plan([want("1.1.1.10")], [nios("1.1.1.10")])
    assert result.changes == 0 and len(result.skipped) == 1 and result.conflicts == []


def test_disabled_owned_record_is_enabled_again():
    off = nios("1.1.1.10", owned=True, disabled=True)
    result = plan([want("1.1.1.10")], [off])
    assert result.updates == [(off, want("1.1.1.10"))]
    assert operations(result, "default", SyncPolicy()) == [
        {"method": "PUT", "object": off.ref, "data": {"disable": False}}]
    assert "enable" in result.describe()[0]


def test_disabled_unowned_record_with_the_wanted_address_blocks_it():
    result = plan([want("1.1.1.10")], [nios("1.1.1.10", disabled=True)])
    assert result.creates == [] and result.conflicts[0]["kind"] == "blocked"
    assert "disabled" in result.conflicts[0]["reason"]
    # A disabled unowned record with another address is not served: no conflict.
    assert plan([want("1.1.1.10")], [nios("1.1.1.99", disabled=True)]).conflicts == []


def test_inherit_ttl_creates_without_a_ttl_and_moves_owned_records_to_the_zone_ttl():
    owned = nios("1.1.1.10", owned=True, ttl=300)
    result = plan([want("1.1.1.10", ttl=None), want("1.1.1.11", ttl=None)], [owned])
    ops = operations(result, "default", SyncPolicy())
    assert ops[0]["data"]["use_ttl"] is False and "ttl" not in ops[0]["data"]
    assert ops[1] == {"method": "PUT", "object": owned.ref, "data": {"use_ttl": False}}
    assert "TTL 300 -> inherited" in result.describe()[1]


def test_records_taken_over_count_as_owned_for_the_change_ratio():
    stale = [nios("10.0.0.%d" % i) for i in range(1, 12)]
    result = plan([want("1.1.1.10")], stale, adopt_unowned=True)
    with pytest.raises(PlanRefused, match="11 of 11 owned records"):
        check_safety(result, [want("1.1.1.10")], stale, SyncPolicy(adopt_unowned=True))


def test_adoption_report_lists_every_record_of_a_published_name_with_a_reason():
    current = [nios("1.1.1.10", owned=True), nios("1.1.1.99"), nios("10.9.9.9", owned=True, fqdn="gone.geant.services")]
    occupants = ZoneOccupants([Occupant("cacti.geant.services", "CNAME", "-> x", ())])
    result = plan([want("1.1.1.10"), want("1.1.1.11"), want("1.1.1.10", fqdn="cacti.geant.services")], current,
                  occupants, allow_name_removal=True)
    assert actions(result) == [
        ("blocked", "cacti.geant.services", "1.1.1.10"),
        ("create", CROWD, "1.1.1.11"),
        ("stale", CROWD, "1.1.1.99"),
        ("unchanged", CROWD, "1.1.1.10"),
        ("delete", "gone.geant.services", "10.9.9.9"),
    ]
    assert all(entry["reason"] for entry in result.adoption_report())


def test_requests_are_chunked_by_size_as_well_as_count():
    ops = [{"method": "POST", "object": "record:a", "data": {"name": "n%04d.geant.services" % i,
                                                             "ipv4addr": "10.0.%d.%d" % (i // 250, i % 250)}}
           for i in range(1000)]
    chunks = chunk_operations(ops, max_batch=500, max_bytes=16 * 1024)
    assert sum(len(c) for c in chunks) == 1000 and [op for c in chunks for op in c] == ops
    assert all(len(json.dumps(c)) <= 16 * 1024 for c in chunks)
    assert len(chunks) > 2  # the size, not the count of 500, cut them
    assert [len(c) for c in chunk_operations(ops, max_batch=300, max_bytes=10 ** 9)] == [300, 300, 300, 100]
    huge = {"method": "PUT", "object": "x", "data": {"comment": "x" * 5000}}
    assert chunk_operations([huge, huge], max_batch=10, max_bytes=1024) == [[huge], [huge]]


@pytest.mark.parametrize("definition, problem", [
    ({"name": "ManagedBy", "type": "STRING"}, None),
    ({"name": "ManagedBy", "type": "STRING", "allowed_object_types": ["ARecord", "AAAARecord", "HostRecord"]}, None),
    ({"name": "ManagedBy", "type": "INTEGER"}, "type INTEGER"),
    ({"name": "ManagedBy", "type": "ENUM", "list_values": [{"value": "netbox"}]}, "not one of its values (netbox)"),
    ({"name": "ManagedBy", "type": "ENUM", "list_values": [{"value": "geant.consul_dns"}]}, None),
    ({"name": "ManagedBy", "type": "STRING", "allowed_object_types": ["Network"]}, "add ARecord and AAAARecord"),
])
def test_an_existing_owner_ea_definition_is_checked(definition, problem):
    found = owner_ea_problem(definition, SyncPolicy())
    assert found is None if problem is None else problem in found


def test_an_html_error_page_becomes_one_short_line():
    page = ("<!DOCTYPE HTML PUBLIC><html><head>\n<title>403 Forbidden</title>\n</head><body><h1>Forbidden</h1>"
            "<p>You don't have permission to access /wapi/v2.12/record:a\non this server.</p></body></html>")
    assert html_summary(page) == "403 Forbidden"
    assert html_summary("<html><body><p>Grid &amp; more " + "x" * 300 + "</p></body></html>").startswith(
        "Grid & more xxx")
    assert len(html_summary("<p>" + "y" * 500 + "</p>")) == 160


def test_credentials_never_go_over_plain_http():
    from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.wapi import WapiError, base_url

    assert base_url("gm.geant.net") == "https://gm.geant.net/wapi/v2.12/"
    assert base_url("HTTPS://gm.geant.net:8443/") == "HTTPS://gm.geant.net:8443/wapi/v2.12/"
    with pytest.raises(WapiError, match="must be reached over https"):
        base_url("http://gm.geant.net")
