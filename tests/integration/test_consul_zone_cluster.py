"""The design's story against a real 3-server Consul cluster with two client agents.

prod-crowd01 / prod-crowd02 are real client agents; their services carry the design's example
addresses (1.1.1.10 / 1.1.1.11) as service addresses, and TTL checks that the tests move.
"""

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import ConsulReader, ConsulUnavailable
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.zone_read import read_zone
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.healthy_instances import ServiceSelection

pytestmark = [pytest.mark.consul, pytest.mark.slow, pytest.mark.client_library]

ZONE = "geant.services"
HOSTS = {"prod-crowd01": "1.1.1.10", "prod-crowd02": "1.1.1.11"}
SERVICES = {"prod-crowd01": ["crowd", "dashboard", "cacti"], "prod-crowd02": ["crowd", "dashboard", "bodportal"]}


def ttl_check_id(service, host):
    return "%s-%s-ttl" % (service, host)


@pytest.fixture(scope="module")
def design(consul_cluster):
    for host, address in HOSTS.items():
        agent = consul_cluster.clients[host]
        for service in SERVICES[host]:
            agent.register_service({
                "Name": service, "ID": "%s-%s" % (service, host), "Address": address, "Port": 443,
                "Check": {"CheckID": ttl_check_id(service, host), "TTL": "10m", "Status": "passing"},
            })
    return consul_cluster


def zone_of(cluster, **selection):
    reader = ConsulReader(cluster.servers[0].http_url if cluster.servers[0].is_running()
                          else cluster.any_live_server().http_url)
    return read_zone(reader, ServiceSelection(**selection), ZONE)


def addresses(zone, name):
    return sorted(r.value for r in zone.records if r.name == name)


def wait_for_addresses(cluster, name, expected, timeout=30):
    def reached():
        try:
            return addresses(zone_of(cluster), name) == expected
        except ConsulUnavailable:
            return False
    cluster.wait_for(reached, timeout, "%s never became %s" % (name, expected))


def test_the_design_zone(design):
    zone = zone_of(design)
    assert [(r.name, r.value) for r in zone.records] == [
        ("bodportal", "1.1.1.11"),
        ("cacti", "1.1.1.10"),
        ("crowd", "1.1.1.10"),
        ("crowd", "1.1.1.11"),
        ("dashboard", "1.1.1.10"),
        ("dashboard", "1.1.1.11"),
    ]
    assert all(r.rtype == "A" and r.ttl == 300 for r in zone.records)
    assert "consul" not in zone.names  # the servers' own service is never published by default
    assert zone.leader


def test_failed_instance_leaves_and_comes_back(design):
    client = design.clients["prod-crowd02"]
    client.set_ttl_check(ttl_check_id("crowd", "prod-crowd02"), "fail", "crowd down")
    try:
        zone = zone_of(design)
        assert addresses(zone, "crowd") == ["1.1.1.10"]
        assert addresses(zone, "dashboard") == ["1.1.1.10", "1.1.1.11"]  # same host, other service unaffected
        assert [i.service_id for i in zone.unhealthy_instances()] == ["crowd-prod-crowd02"]
    finally:
        client.set_ttl_check(ttl_check_id("crowd", "prod-crowd02"), "pass")
    assert addresses(zone_of(design), "crowd") == ["1.1.1.10", "1.1.1.11"]


def test_warning_is_not_healthy_unless_asked(design):
    client = design.clients["prod-crowd01"]
    client.set_ttl_check(ttl_check_id("cacti", "prod-crowd01"), "warn")
    try:
        assert addresses(zone_of(design), "cacti") == []
        assert addresses(zone_of(design, warning_is_healthy=True), "cacti") == ["1.1.1.10"]
    finally:
        client.set_ttl_check(ttl_check_id("cacti", "prod-crowd01"), "pass")


def test_failed_node_removes_all_its_services_and_recovers(design):
    client = design.clients["prod-crowd02"]
    client.kill()  # crashed host: no graceful leave, serfHealth turns critical
    try:
        wait_for_addresses(design, "crowd", ["1.1.1.10"])
        zone = zone_of(design)
        assert addresses(zone, "dashboard") == ["1.1.1.10"]
        assert addresses(zone, "bodportal") == []
        assert "bodportal" in zone.names  # the service is known, it just has no healthy address
        failing = {i.service_id: i.failing_checks for i in zone.unhealthy_instances()}
        assert all("serfHealth=critical" in checks for checks in failing.values())
    finally:
        client.start()
        client.wait_http()
    # The agent restarts with its data dir: services come back once serf sees the node alive
    # and the agent re-syncs its (persisted) services and check states.
    for service in SERVICES["prod-crowd02"]:
        design.wait_for(lambda s=service: _pass(client, s), 30, "TTL check of %s not re-registered" % service)
    wait_for_addresses(design, "crowd", ["1.1.1.10", "1.1.1.11"])
    assert addresses(zone_of(design), "bodportal") == ["1.1.1.11"]


def _pass(client, service):
    client.set_ttl_check(ttl_check_id(service, "prod-crowd02"), "pass")
    return True


def test_reads_go_on_with_one_server_down_and_stop_without_quorum(design):
    third = design.servers[2]
    third.kill()
    try:
        design.wait_for(design.has_leader, 30, "no leader after losing one server")
        # Reads may fail while the servers notice the dead one (possibly the old leader) and
        # re-elect; the cluster then serves full zones again with two of three servers.
        wait_for_addresses(design, "crowd", ["1.1.1.10", "1.1.1.11"])
        second = design.servers[1]
        second.kill()
        try:
            # One server of three left: no quorum, the read must fail rather than return a stale zone.
            def refused():
                try:
                    zone_of(design)
                except ConsulUnavailable:
                    return True
                return False
            design.wait_for(refused, 60, "read still succeeds without quorum")
        finally:
            second.start()
            second.wait_http()
    finally:
        third.start()
        third.wait_http()
    design.wait_for(design.has_leader, 60, "no leader after servers came back")
    wait_for_addresses(design, "crowd", ["1.1.1.10", "1.1.1.11"], timeout=60)
