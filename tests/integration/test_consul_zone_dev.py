"""Reading zones from a real Consul dev agent: selection, names, ACLs, errors, both client libraries."""

import os

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import (
    ConsulError,
    ConsulReader,
    ConsulUnavailable,
    library_name,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.zone_read import read_zone
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.names import InvalidDnsName
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.healthy_instances import ServiceSelection
from tests.consul_testbed.agent import ConsulAgent, ConsulCluster

pytestmark = [pytest.mark.consul, pytest.mark.client_library]

ZONE = "geant.services"


def register(agent, name, address, sid=None, tags=(), meta=None, status="passing"):
    agent.register_service({
        "Name": name, "ID": sid or "%s-%s" % (name, address), "Address": address, "Tags": list(tags),
        "Meta": meta or {}, "Check": {"CheckID": "ttl-%s" % (sid or "%s-%s" % (name, address)),
                                      "TTL": "10m", "Status": status},
    })


def pairs(zone):
    return [(r.name, r.rtype, r.value) for r in zone.records]


def test_the_library_under_test_is_the_expected_one():
    # scripts/test.sh runs the client_library tests twice: with python-consul2, then with py-consul first on
    # PYTHONPATH; this makes sure the second run really used the fork.
    expected = os.environ.get("CONSUL_DNS_EXPECT_LIBRARY", "python-consul2")
    assert library_name() == expected


def test_ipv6_gives_aaaa_and_tags_meta_select(consul_dev):
    register(consul_dev, "crowd", "1.1.1.10", tags=["public"], meta={"zone": ZONE})
    register(consul_dev, "crowd", "2001:db8::10", tags=["public"], meta={"zone": ZONE})
    register(consul_dev, "crowd", "1.1.1.99", tags=["canary"], meta={"zone": ZONE})
    register(consul_dev, "cacti", "1.1.1.10", tags=["public"], meta={"zone": "internal.geant.net"})
    reader = ConsulReader(consul_dev.http_url)
    zone = read_zone(reader, ServiceSelection(tags=["public"], meta={"zone": ZONE}), ZONE)
    assert pairs(zone) == [("crowd", "A", "1.1.1.10"), ("crowd", "AAAA", "2001:db8::10")]
    everything = read_zone(reader, ServiceSelection(), ZONE)
    assert [r.name for r in everything.records].count("crowd") == 3
    only_cacti = read_zone(reader, ServiceSelection(services=["cacti"]), ZONE)
    assert pairs(only_cacti) == [("cacti", "A", "1.1.1.10")]


def test_dns_name_from_meta_and_bad_names(consul_dev):
    register(consul_dev, "crowd-prod-v2", "1.1.1.10", meta={"dns_name": "crowd", "dns_ttl": "60"})
    register(consul_dev, "Bod_Portal", "1.1.1.11")
    reader = ConsulReader(consul_dev.http_url)
    with pytest.raises(InvalidDnsName) as err:
        read_zone(reader, ServiceSelection(), ZONE)
    assert "'Bod_Portal'" in str(err.value)
    zone = read_zone(reader, ServiceSelection(invalid_names="skip"), ZONE)
    assert [(r.name, r.ttl, r.value) for r in zone.records] == [("crowd", 60, "1.1.1.10")]
    assert zone.skipped[0]["service"] == "Bod_Portal"


def test_unreachable_consul_is_a_clear_error():
    reader = ConsulReader("http://127.0.0.1:9", timeout=2)
    with pytest.raises(ConsulUnavailable, match="cannot reach Consul at http://127.0.0.1:9"):
        read_zone(reader, ServiceSelection(), ZONE)


def test_explicit_address_and_token_win_over_the_environment(consul_dev, monkeypatch):
    register(consul_dev, "crowd", "1.1.1.10")
    monkeypatch.setenv("CONSUL_HTTP_ADDR", "127.0.0.1:9")
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", "not-the-token")
    zone = read_zone(ConsulReader(consul_dev.http_url), ServiceSelection(), ZONE)
    assert pairs(zone) == [("crowd", "A", "1.1.1.10")]


@pytest.fixture
def consul_acl(worker_id):
    from tests.consul_testbed.agent import address_block
    agent = ConsulAgent("acl", "%s.1" % address_block(worker_id), dev=True, extra_config={
        "primary_datacenter": "dc1",
        "acl": {"enabled": True, "default_policy": "deny", "tokens": {"master": "root-secret-token"}},
    }).start()
    try:
        agent.wait_http()
        ConsulCluster.wait_for(lambda: bool(agent.api("GET", "/v1/status/leader")), 30, "no leader")
        yield agent
    finally:
        agent.cleanup()


def test_acl_token_is_used_and_never_shown(consul_acl):
    headers = {"X-Consul-Token": "root-secret-token"}
    consul_acl.api("PUT", "/v1/agent/service/register", headers=headers, json={
        "Name": "crowd", "ID": "crowd1", "Address": "1.1.1.10",
        "Check": {"CheckID": "ttl-crowd1", "TTL": "10m", "Status": "passing"}})
    # Without a token, default-deny ACLs hide the services: the catalog read is empty, not an error.
    anonymous = read_zone(ConsulReader(consul_acl.http_url), ServiceSelection(), ZONE)
    assert anonymous.records == []
    zone = read_zone(ConsulReader(consul_acl.http_url, token="root-secret-token"), ServiceSelection(), ZONE)
    assert pairs(zone) == [("crowd", "A", "1.1.1.10")]
    with pytest.raises(ConsulError) as err:
        ConsulReader(consul_acl.http_url, token="wrong-token-value").services()
    assert "wrong-token-value" not in str(err.value)
