import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.names import InvalidDnsName
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.healthy_instances import (
    ServiceSelection,
    zone_addresses,
)


def entry(service, sid, node_addr, svc_addr="", checks=(), tags=(), meta=None, node="n1"):
    """A /v1/health/service entry as Consul returns it."""
    return {
        "Node": {"Node": node, "Address": node_addr},
        "Service": {"ID": sid, "Service": service, "Address": svc_addr, "Tags": list(tags), "Meta": meta or {}},
        "Checks": [{"CheckID": cid, "Status": status} for cid, status in checks],
    }


PASS = (("serfHealth", "passing"), ("svc", "passing"))


def test_all_checks_must_pass_node_checks_included():
    health = {"crowd": [
        entry("crowd", "c1", "10.0.0.1", "1.1.1.10", PASS),
        entry("crowd", "c2", "10.0.0.2", "1.1.1.11", (("serfHealth", "critical"), ("svc", "passing"))),
        entry("crowd", "c3", "10.0.0.3", "1.1.1.12", (("serfHealth", "passing"), ("svc", "warning"))),
    ]}
    result = zone_addresses(health, ServiceSelection(), "geant.services")
    assert result.healthy_addresses() == {"crowd": ["1.1.1.10"]}
    failing = {i.service_id: i.failing_checks for i in result.instances if not i.healthy}
    assert failing == {"c2": ("serfHealth=critical",), "c3": ("svc=warning",)}
    relaxed = zone_addresses(health, ServiceSelection(warning_is_healthy=True), "geant.services")
    assert relaxed.healthy_addresses() == {"crowd": ["1.1.1.10", "1.1.1.12"]}


def test_service_address_else_node_address():
    health = {"cacti": [entry("cacti", "c1", "1.1.1.10", "", PASS)]}
    assert zone_addresses(health, ServiceSelection(), "z").healthy_addresses() == {"cacti": ["1.1.1.10"]}


def test_service_with_no_healthy_instance_keeps_its_name_with_no_address():
    health = {"crowd": [entry("crowd", "c1", "1.1.1.10", "", (("svc", "critical"),))]}
    assert zone_addresses(health, ServiceSelection(), "z").healthy_addresses() == {"crowd": []}


def test_selection_by_name_tag_and_meta():
    selection = ServiceSelection(tags=["public"], meta={"zone": "geant.services"})
    assert selection.wants_service("crowd", ["public", "v2"])
    assert not selection.wants_service("crowd", ["v2"])
    assert not selection.wants_service("consul", ["public"])  # excluded by default
    assert not ServiceSelection(services=["cacti"]).wants_service("crowd", [])
    health = {"crowd": [
        entry("crowd", "c1", "1.1.1.10", "", PASS, tags=["public"], meta={"zone": "geant.services"}),
        entry("crowd", "c2", "1.1.1.11", "", PASS, tags=["public"], meta={"zone": "other"}),
        entry("crowd", "c3", "1.1.1.12", "", PASS, tags=[], meta={"zone": "geant.services"}),
    ]}
    assert zone_addresses(health, selection, "z").healthy_addresses() == {"crowd": ["1.1.1.10"]}


def test_dns_name_and_ttl_from_service_meta():
    health = {
        "crowd-prod": [entry("crowd-prod", "c1", "1.1.1.10", "", PASS, meta={"dns_name": "Crowd", "dns_ttl": "60"})],
        "crowd-new": [entry("crowd-new", "c2", "1.1.1.11", "", PASS, meta={"dns_name": "crowd", "dns_ttl": "120"})],
    }
    result = zone_addresses(health, ServiceSelection(), "geant.services")
    assert result.healthy_addresses() == {"crowd": ["1.1.1.10", "1.1.1.11"]}
    assert result.ttl_by_name == {"crowd": 60}  # merged names: the lowest TTL wins
    bad_ttl = {"x": [entry("x", "x1", "1.1.1.1", "", PASS, meta={"dns_ttl": "soon"})]}
    with pytest.raises(ValueError, match="dns_ttl='soon'"):
        zone_addresses(bad_ttl, ServiceSelection(), "z")


@pytest.mark.parametrize("name", ["bod_portal", "x" * 64, "-lead"])
def test_invalid_service_names_fail_by_default_naming_the_service(name):
    health = {name: [entry(name, "i1", "1.1.1.10", "", PASS)]}
    with pytest.raises(InvalidDnsName) as err:
        zone_addresses(health, ServiceSelection(), "geant.services")
    assert repr(name) in str(err.value)


def test_invalid_names_can_be_skipped_with_one_warning_per_service():
    health = {
        "bod_portal": [entry("bod_portal", "i1", "1.1.1.10", "", PASS), entry("bod_portal", "i2", "1.1.1.11", "", PASS)],
        "crowd": [entry("crowd", "c1", "1.1.1.10", "", PASS, meta={"dns_name": "crowd_x"})],
        "cacti": [entry("cacti", "k1", "1.1.1.10", "", PASS)],
    }
    result = zone_addresses(health, ServiceSelection(invalid_names="skip"), "geant.services")
    assert result.healthy_addresses() == {"cacti": ["1.1.1.10"]}
    assert [s["service"] for s in result.skipped] == ["bod_portal", "crowd"]
    assert len(result.warnings) == 2 and "service meta dns_name" in result.warnings[1]


def test_fqdn_over_253_is_refused_even_when_labels_are_valid():
    zone = ".".join(["z" * 63] * 3)  # 191 characters
    name = "a" * 62
    health = {name: [entry(name, "i1", "1.1.1.10", "", PASS)]}
    with pytest.raises(InvalidDnsName, match="at most 253"):
        zone_addresses(health, ServiceSelection(), zone)


def test_host_name_addresses_are_skipped_with_a_warning():
    health = {"crowd": [entry("crowd", "c1", "prod-crowd01.geant.net", "", PASS),
                        entry("crowd", "c2", "1.1.1.11", "", PASS)]}
    result = zone_addresses(health, ServiceSelection(), "geant.services")
    assert result.healthy_addresses() == {"crowd": ["1.1.1.11"]}
    assert "not an IP address" in result.warnings[0]


def test_unknown_invalid_name_policy_is_refused():
    with pytest.raises(ValueError):
        ServiceSelection(invalid_names="ignore")
