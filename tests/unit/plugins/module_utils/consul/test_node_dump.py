"""The bulk health read (/v1/internal/ui/nodes) against answers recorded from a real Consul 1.8.7.

The fixture holds, for one catalog, Consul's own per-service answers (/v1/health/service/<name>)
and its node dump; it was recorded with a tests/consul_testbed dev agent (see its "how" key): service
address override (IPv4 and IPv6), tags, meta, a service with a passing and a warning check, services
without checks, service maintenance, node maintenance, a node whose serfHealth is critical, a node
with two services, a node with none, and two services whose names differ only in case.
"""

import copy
import json
import os

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.healthy_instances import (
    ServiceSelection,
    zone_addresses,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.node_dump import (
    BULK_MIN_SERVICES,
    UnexpectedShape,
    health_from_node_dump,
    use_bulk_read,
)

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "consul-1.8.7-health-and-node-dump.json")
# Fields of a health entry's Node that the node dump does not carry; nothing in the collection reads them.
NODE_ONLY_IN_HEALTH = ("Datacenter", "CreateIndex", "ModifyIndex")


@pytest.fixture
def recorded():
    with open(FIXTURE) as handle:
        return json.load(handle)


def without_node_only_fields(health):
    health = copy.deepcopy(health)
    for entries in health.values():
        for entry in entries:
            for key in NODE_ONLY_IN_HEALTH:
                del entry["Node"][key]
    return health


def test_node_dump_gives_the_per_service_answers(recorded):
    names = sorted(recorded["catalog"])
    health, missing = health_from_node_dump(recorded["node_dump"], names)
    assert missing == []
    assert health == without_node_only_fields(recorded["health"])


def test_one_name_at_a_time_and_case_insensitive_like_consul(recorded):
    # /v1/health/service/mixed answers the instances of 'Mixed' and of 'mixed'; so does the dump.
    assert [e["Service"]["ID"] for e in recorded["health"]["mixed"]] == ["Mixed1", "mixed2"]
    for name in recorded["catalog"]:
        health, missing = health_from_node_dump(copy.deepcopy(recorded["node_dump"]), [name])
        assert (health, missing) == (without_node_only_fields({name: recorded["health"][name]}), [])


def test_the_zone_is_the_same_from_either_read(recorded):
    names = sorted(recorded["catalog"])
    bulk, _missing = health_from_node_dump(recorded["node_dump"], names)
    for selection in (ServiceSelection(), ServiceSelection(warning_is_healthy=True),
                      ServiceSelection(tags=["public"])):
        one, other = zone_addresses(bulk, selection, "geant.services"), zone_addresses(
            recorded["health"], selection, "geant.services")
        assert one.healthy_addresses() == other.healthy_addresses()
        assert one.instances == other.instances
        assert one.ttl_by_name == other.ttl_by_name
    addresses = zone_addresses(bulk, ServiceSelection(), "geant.services").healthy_addresses()
    # crowd1's warning check, crowd3's critical serfHealth, maint1's and prod-maint's maintenance:
    assert addresses["sso"] == ["2001:db8::11"]  # service address override, meta dns_name
    assert addresses["cacti"] == ["10.0.0.2"] and addresses["maint"] == []
    assert addresses["nochecks"] == ["127.231.0.3"]  # no checks of its own: its node's serfHealth decides


def test_names_without_instances_are_left_for_the_public_read(recorded):
    health, missing = health_from_node_dump(recorded["node_dump"], ["crowd", "registered-since"])
    assert missing == ["registered-since"] and health["registered-since"] == []
    assert len(health["crowd"]) == 3


def test_nothing_selected_reads_nothing(recorded):
    assert health_from_node_dump(recorded["node_dump"], []) == ({}, [])


@pytest.mark.parametrize("mangle, message", [
    (lambda dump: {"Nodes": dump}, "not a list"),
    (lambda dump: dump[0].pop("Address"), "without Node, Address, Services or Checks"),
    (lambda dump: dump[0].update(Services=None), "without Node, Address, Services or Checks"),
    (lambda dump: dump[0].pop("Checks"), "without Node, Address, Services or Checks"),
    (lambda dump: dump[0]["Checks"][0].pop("Status"), "check of node"),
    (lambda dump: dump[0]["Checks"][0].update(ServiceID=7), "check of node"),
    (lambda dump: dump[0]["Services"][0].pop("ID"), "without ID or Service"),
    (lambda dump: dump.append("node"), "without Node, Address, Services or Checks"),
])
def test_unexpected_shapes_are_refused(recorded, mangle, message):
    dump = recorded["node_dump"]
    replaced = mangle(dump)
    with pytest.raises(UnexpectedShape, match=message):
        health_from_node_dump(replaced if isinstance(replaced, dict) else dump, ["crowd"])


@pytest.mark.parametrize("selected, catalog, expected", [
    (2500, 2501, True),          # the whole catalog
    (BULK_MIN_SERVICES, 400, True),
    (BULK_MIN_SERVICES - 1, 100, False),  # a small catalog: the public reads are fast enough
    (200, 2500, False),          # a small zone in a large datacenter reads its own services
    (625, 2500, True),           # a quarter of the catalog
    (2500, None, False),         # catalog size unknown: never download everything blindly
])
def test_bulk_read_chosen_by_the_share_of_the_catalog(selected, catalog, expected):
    assert use_bulk_read(selected, catalog) is expected
