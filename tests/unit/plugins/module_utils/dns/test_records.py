import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.names import InvalidDnsName
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import (
    Record,
    ZoneSettings,
    address_records,
    address_type,
    sort_records,
)


def test_address_records_from_the_design_example():
    records = address_records({
        "crowd": ["1.1.1.11", "1.1.1.10"],
        "dashboard": {"1.1.1.10", "1.1.1.11"},
        "cacti": ["1.1.1.10"],
        "bodportal": ["1.1.1.11", "2001:db8::11"],
    }, 300)
    assert [(r.name, r.rtype, r.value) for r in records] == [
        ("bodportal", "A", "1.1.1.11"),
        ("bodportal", "AAAA", "2001:db8::11"),
        ("cacti", "A", "1.1.1.10"),
        ("crowd", "A", "1.1.1.10"),
        ("crowd", "A", "1.1.1.11"),
        ("dashboard", "A", "1.1.1.10"),
        ("dashboard", "A", "1.1.1.11"),
    ]
    assert {r.ttl for r in records} == {300}


def test_duplicates_collapse_and_ipv6_is_canonical():
    records = address_records({"crowd": ["2001:DB8:0:0::1", "2001:db8::1"]}, 60, {"crowd": 30})
    assert records == [Record("crowd", "AAAA", 30, "2001:db8::1")]


def test_addresses_sort_numerically_not_as_text():
    records = address_records({"x": ["10.0.0.9", "10.0.0.10", "9.0.0.1"]}, 300)
    assert [r.value for r in records] == ["9.0.0.1", "10.0.0.9", "10.0.0.10"]


def test_order_is_deterministic_whatever_the_input_order():
    a = Record("crowd", "A", 300, "1.1.1.10")
    b = Record("api.crowd", "A", 300, "1.1.1.10")
    apex = Record("@", "NS", 300, "ns1.geant.net.")
    assert sort_records([a, b, apex]) == sort_records([b, apex, a]) == [apex, a, b]


def test_non_ip_address_is_rejected():
    assert address_type("prod-crowd01.geant.net") is None
    with pytest.raises(ValueError, match="not an IP address"):
        address_records({"crowd": ["prod-crowd01.geant.net"]}, 300)


def test_record_from_dict_validates():
    record = Record.from_dict({"name": "Crowd", "type": "a", "ttl": "300", "value": "1.1.1.10"})
    assert record == Record("crowd", "A", 300, "1.1.1.10")
    assert record.to_dict("geant.services")["fqdn"] == "crowd.geant.services"
    with pytest.raises(ValueError, match="not a valid A record"):
        Record.from_dict({"name": "crowd", "type": "A", "ttl": 1, "value": "2001:db8::1"})
    with pytest.raises(ValueError, match="needs name, type, ttl and value"):
        Record.from_dict({"name": "crowd", "type": "A"})
    with pytest.raises(InvalidDnsName):
        Record.from_dict({"name": "bad_name", "type": "A", "ttl": 1, "value": "1.1.1.1"})


def test_zone_settings_build_soa_and_ns():
    settings = ZoneSettings("geant.services", ["ns1.geant.net", "NS2.geant.net."], "hostmaster@geant.org")
    soa, ns1, ns2 = settings.apex_records(2026112501)
    assert soa.value == "ns1.geant.net. hostmaster.geant.org. 2026112501 3600 600 1209600 300"
    assert (ns1.value, ns2.value) == ("ns1.geant.net.", "ns2.geant.net.")
    dotted = ZoneSettings("geant.services", ["ns1.geant.net"], "first.last@geant.org")
    assert dotted.hostmaster == "first\\.last.geant.org."
    with pytest.raises(InvalidDnsName, match="at least one name server"):
        ZoneSettings("geant.services", [], "hostmaster@geant.org")
