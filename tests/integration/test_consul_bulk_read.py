"""The bulk health read (/v1/internal/ui/nodes) against real Consul agents: the same answers as the
public per-service reads, the same ACL filtering, the same errors, and the fallback when refused.

Most tests lower BULK_MIN_SERVICES so that a catalog of a few services is read in bulk; one test
keeps the real thresholds with a catalog large enough to cross them.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from ansible_collections.geant.consul_dns.plugins.module_utils.consul import node_dump
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import (
    ConsulError,
    ConsulReader,
    ConsulUnavailable,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.healthy_instances import (
    ServiceSelection,
    zone_addresses,
)
from tests.consul_testbed.agent import ConsulAgent, ConsulCluster, address_block

pytestmark = [pytest.mark.consul, pytest.mark.client_library]

ZONE = "geant.services"
ROOT_TOKEN = "root-secret-token"
# Fields of a health entry's Node that the node dump does not carry; nothing in the collection reads them.
NODE_ONLY_IN_HEALTH = ("Datacenter", "CreateIndex", "ModifyIndex")


@pytest.fixture
def small_bulk(monkeypatch):
    """Bulk reads for catalogs of a few services (the real floor is BULK_MIN_SERVICES)."""
    monkeypatch.setattr(node_dump, "BULK_MIN_SERVICES", 1)


def read(url, bulk, names=None, **kwargs):
    """``(names, health, reader)`` through a new reader, in bulk or one service at a time."""
    reader = ConsulReader(url, **kwargs)
    catalog = reader.services()
    names = sorted(catalog) if names is None else names
    reader.catalog_size = max(reader.catalog_size, len(names))  # a token may see a smaller catalog
    if not bulk:
        reader.bulk_refused = "per-service read wanted by the test"
    health = reader.health_of(names)
    assert reader.read_path.startswith("bulk" if bulk else "per-service"), reader.read_path
    return names, health, reader


def comparable(health):
    """The per-service answer without the Node fields only it carries."""
    return dict((name, [dict(entry, Node=dict((k, v) for k, v in entry["Node"].items() if k not in NODE_ONLY_IN_HEALTH))
                        for entry in entries]) for name, entries in health.items())


def assert_same_reads(url, **kwargs):
    """Bulk and per-service reads of every catalog service give the same entries and the same zone."""
    for _attempt in range(5):
        names, bulk, _reader = read(url, True, **kwargs)
        _names, public, _reader = read(url, False, names=names, **kwargs)
        if comparable(bulk) == comparable(public):
            break
        time.sleep(1)  # something changed between the two reads (a cluster still settling): read again
    assert comparable(bulk) == comparable(public)
    for selection in (ServiceSelection(invalid_names="skip"), ServiceSelection(warning_is_healthy=True,
                                                                               invalid_names="skip")):
        one, other = zone_addresses(bulk, selection, ZONE), zone_addresses(public, selection, ZONE)
        assert (one.healthy_addresses(), one.instances) == (other.healthy_addresses(), other.instances)
    return bulk


def register_variety(agent, token=None):
    """Every case the zone cares about, on the agent's own node and on catalog-registered nodes."""
    headers = {"X-Consul-Token": token} if token else {}

    def local(definition):
        agent.api("PUT", "/v1/agent/service/register", json=definition, headers=headers)

    def remote(body):
        agent.api("PUT", "/v1/catalog/register", json=body, headers=headers)

    local({"ID": "crowd1", "Name": "crowd", "Address": "1.1.1.10", "Port": 443, "Tags": ["public", "v2"],
           "Meta": {"dns_name": "sso", "dns_ttl": "60"},
           "Checks": [{"CheckID": "crowd1-ttl", "TTL": "10m", "Status": "passing"},
                      {"CheckID": "crowd1-warn", "TTL": "10m", "Status": "warning"}]})
    local({"ID": "nochecks", "Name": "nochecks", "Port": 81})  # no check: its node's serfHealth decides
    local({"ID": "maint1", "Name": "maint", "Port": 82, "Check": {"CheckID": "maint1-ttl", "TTL": "10m",
                                                                  "Status": "passing"}})
    local({"ID": "Mixed1", "Name": "Mixed", "Port": 83})  # names that differ in case only
    local({"ID": "mixed2", "Name": "mixed", "Port": 84})
    agent.api("PUT", "/v1/agent/service/maintenance/maint1", params={"enable": "true", "reason": "patching"},
              headers=headers)
    remote({"Node": "prod-crowd02", "Address": "10.0.0.2", "NodeMeta": {"rack": "r1"},
            "Service": {"ID": "crowd2", "Service": "crowd", "Address": "2001:db8::11", "Port": 443,
                        "Tags": ["public"], "Meta": {"dns_name": "sso"}},
            "Checks": [{"CheckID": "serfHealth", "Name": "Serf", "Status": "passing"},
                       {"CheckID": "crowd2-http", "Name": "http", "ServiceID": "crowd2", "Status": "passing"}]})
    remote({"Node": "prod-crowd02", "Address": "10.0.0.2", "SkipNodeUpdate": True,
            "Service": {"ID": "cacti", "Service": "cacti", "Port": 80}})
    remote({"Node": "prod-dead", "Address": "10.0.0.3",
            "Service": {"ID": "crowd3", "Service": "crowd", "Port": 443, "Tags": ["public"]},
            "Checks": [{"CheckID": "serfHealth", "Name": "Serf", "Status": "critical"},
                       {"CheckID": "crowd3-http", "Name": "http", "ServiceID": "crowd3", "Status": "passing"}]})
    remote({"Node": "prod-maint", "Address": "10.0.0.4", "Service": {"ID": "cacti-2", "Service": "cacti", "Port": 80},
            "Checks": [{"CheckID": "_node_maintenance", "Name": "Node Maintenance Mode", "Status": "critical"},
                       {"CheckID": "serfHealth", "Name": "Serf", "Status": "passing"}]})
    remote({"Node": "prod-empty", "Address": "10.0.0.5",
            "Checks": [{"CheckID": "serfHealth", "Name": "Serf", "Status": "passing"}]})


def test_bulk_and_per_service_reads_are_identical(consul_dev, small_bulk):
    register_variety(consul_dev)
    bulk = assert_same_reads(consul_dev.http_url)
    del bulk["consul"]  # the servers' own service (read_selected_health leaves it out)
    zone = zone_addresses(bulk, ServiceSelection(), ZONE).healthy_addresses()
    dev = consul_dev.address
    # crowd1 has a warning check, crowd3 a critical serfHealth, maint1 and prod-maint are in maintenance.
    assert zone == {"sso": ["2001:db8::11"], "crowd": [], "cacti": ["10.0.0.2"], "maint": [], "mixed": [dev],
                    "nochecks": [dev]}
    assert [e["Service"]["ID"] for e in bulk["Mixed"]] == ["Mixed1", "mixed2"]  # as /v1/health/service/Mixed

    # The agent's own node in maintenance: a node check every one of its services now carries.
    consul_dev.api("PUT", "/v1/agent/maintenance", params={"enable": "true", "reason": "kernel"})
    bulk = assert_same_reads(consul_dev.http_url)
    failing = dict((i.service_id, i.failing_checks) for i in zone_addresses(bulk, ServiceSelection(), ZONE).instances)
    assert "_node_maintenance=critical" in failing["nochecks"] and "_node_maintenance=critical" in failing["crowd1"]


def test_the_real_thresholds_choose_bulk_for_a_large_selection_only(consul_dev):
    for i in range(node_dump.BULK_MIN_SERVICES + 20):
        consul_dev.api("PUT", "/v1/catalog/register", json={
            "Node": "n%03d" % i, "Address": "10.1.0.%d" % (i + 1),
            "Service": {"ID": "s%03d" % i, "Service": "s%03d" % i, "Port": 80},
            "Checks": [{"CheckID": "c%03d" % i, "Name": "c", "ServiceID": "s%03d" % i, "Status": "passing"}]})
    reader = ConsulReader(consul_dev.http_url)
    names = sorted(reader.services())
    calls = reader.http_calls
    whole = reader.health_of(names)
    assert reader.read_path == "bulk /v1/internal/ui/nodes" and reader.http_calls == calls + 1
    few = reader.health_of(names[:10])
    assert reader.read_path == "per-service" and reader.http_calls == calls + 11
    assert comparable(few) == dict((name, whole[name]) for name in names[:10])


def test_a_client_agent_of_a_cluster_without_and_with_datacenter(consul_cluster, small_bulk):
    """Through a client agent (a non-dev agent: its web UI is off, the endpoint still answers)."""
    client = consul_cluster.clients["prod-crowd02"]
    client.register_service({"ID": "crowd-b", "Name": "crowd", "Address": "1.1.1.11", "Port": 443,
                             "Check": {"CheckID": "crowd-b-ttl", "TTL": "10m", "Status": "passing"}})
    consul_cluster.clients["prod-crowd01"].register_service({"ID": "crowd-a", "Name": "crowd", "Port": 443})
    ConsulCluster.wait_for(lambda: len(client.api("GET", "/v1/catalog/service/crowd")) == 2, 30, "not in catalog")
    for datacenter in (None, "dc1"):
        bulk = assert_same_reads(client.http_url, datacenter=datacenter)
        assert sorted(e["Node"]["Node"] for e in bulk["crowd"]) == ["prod-crowd01", "prod-crowd02"]
    client.api("PUT", "/v1/agent/maintenance", params={"enable": "true"})
    try:
        bulk = assert_same_reads(client.http_url)
        assert zone_addresses(bulk, ServiceSelection(), ZONE).healthy_addresses()["crowd"] == [
            consul_cluster.clients["prod-crowd01"].address]
    finally:
        client.api("PUT", "/v1/agent/maintenance", params={"enable": "false"})
    # An unknown datacenter is the same error either way (from a client agent, an 'rpc error').
    errors = []
    for bulk in (True, False):
        with pytest.raises(ConsulError, match="No path to datacenter") as err:
            reader = ConsulReader(client.http_url, datacenter="dc9")
            reader.catalog_size = 1
            if not bulk:
                reader.bulk_refused = "per-service read wanted by the test"
            reader.health_of(["crowd"])
        errors.append(type(err.value))
    assert errors[0] is errors[1]


def test_no_leader_fails_both_reads_unless_stale(consul_cluster, small_bulk):
    """Runs last in this module: it takes two of the three servers down, then brings them back."""
    client = consul_cluster.clients["prod-crowd01"]
    # Its own two instances: with xdist the test that registers them may have run on the other worker,
    # which has a cluster of its own (registering the same IDs again changes nothing).
    consul_cluster.clients["prod-crowd02"].register_service({
        "ID": "crowd-b", "Name": "crowd", "Address": "1.1.1.11", "Port": 443,
        "Check": {"CheckID": "crowd-b-ttl", "TTL": "10m", "Status": "passing"}})
    client.register_service({"ID": "crowd-a", "Name": "crowd", "Port": 443})
    first, second, third = consul_cluster.servers
    # ... and known to the server left running (its stale view), not only to the leader.
    ConsulCluster.wait_for(lambda: len(first.api("GET", "/v1/health/service/crowd", params={"stale": ""})) == 2, 30,
                           "not in the first server's catalog")
    third.kill()
    second.kill()
    try:
        # The endpoint retries a leaderless read as a stale one by itself; the reader refuses it.
        def refused(bulk):
            reader = ConsulReader(client.http_url, timeout=5)
            reader.catalog_size = 1
            if not bulk:
                reader.bulk_refused = "per-service read wanted by the test"
            try:
                reader.health_of(["crowd"])
            except ConsulUnavailable:
                return True
            return False
        ConsulCluster.wait_for(lambda: refused(True) and refused(False), 60, "reads go on without a leader")
        # Stale reads are answered by the server left (once the client agent stops trying the dead ones).
        stale = {}

        def stale_reads():
            try:
                for bulk in (True, False):
                    stale[bulk] = read(client.http_url, bulk, names=["crowd"], consistency="stale", timeout=5)[1]
            except ConsulUnavailable:
                return False
            return True
        ConsulCluster.wait_for(stale_reads, 60, "no stale read without a leader")
        assert comparable(stale[True]) == comparable(stale[False]) and len(stale[True]["crowd"]) == 2
    finally:
        for server in (second, third):
            server.start()
        for server in (second, third):
            server.wait_http()
    ConsulCluster.wait_for(consul_cluster.has_leader, 60, "no leader after the servers came back")


# --------------------------------------------------------------------------------------------- ACLs

@pytest.fixture
def consul_acl(worker_id):
    agent = ConsulAgent("acl", "%s.1" % address_block(worker_id), dev=True, extra_config={
        "primary_datacenter": "dc1",
        "acl": {"enabled": True, "default_policy": "deny", "tokens": {"master": ROOT_TOKEN, "agent": ROOT_TOKEN}},
    }).start()
    try:
        agent.wait_http()
        ConsulCluster.wait_for(lambda: bool(agent.api("GET", "/v1/status/leader")), 30, "no leader")
        ConsulCluster.wait_for(lambda: any(n["Node"] == agent.name for n in agent.api(
            "GET", "/v1/catalog/nodes", headers={"X-Consul-Token": ROOT_TOKEN})), 30, "agent node not in catalog")
        yield agent
    finally:
        agent.cleanup()


ACL_RULES = {
    "every service, one node": 'service_prefix "" { policy = "read" } node "prod-crowd02" { policy = "read" }',
    "one service, every node": 'service "crowd" { policy = "read" } node_prefix "" { policy = "read" }',
    "one service, another node": 'service "crowd" { policy = "read" } node "prod-dead" { policy = "read" }',
    "one service, no node": 'service "crowd" { policy = "read" }',
    "nodes only": 'node_prefix "" { policy = "read" }',
}


@pytest.mark.parametrize("rules", sorted(ACL_RULES))
def test_acl_tokens_filter_both_reads_alike(consul_acl, small_bulk, rules):
    """A token that may not read every node or service: the bulk read must not lose (or add) instances."""
    register_variety(consul_acl, token=ROOT_TOKEN)
    headers = {"X-Consul-Token": ROOT_TOKEN}
    policy = consul_acl.api("PUT", "/v1/acl/policy", headers=headers,
                            json={"Name": "p%d" % sorted(ACL_RULES).index(rules), "Rules": ACL_RULES[rules]})
    token = consul_acl.api("PUT", "/v1/acl/token", headers=headers,
                           json={"Policies": [{"ID": policy["ID"]}]})["SecretID"]
    # Every service the root token sees, read with the limited token (its own catalog may list fewer).
    names = sorted(ConsulReader(consul_acl.http_url, token=ROOT_TOKEN).services())
    bulk = read(consul_acl.http_url, True, names=names, token=token)[1]
    public = read(consul_acl.http_url, False, names=names, token=token)[1]
    assert comparable(bulk) == comparable(public)
    expected = {
        "every service, one node": {"crowd": ["crowd2"], "cacti": ["cacti"]},
        "one service, every node": {"crowd": ["crowd1", "crowd2", "crowd3"]},
        "one service, another node": {"crowd": ["crowd3"]},
        "one service, no node": {},
        "nodes only": {},
    }[rules]
    assert dict((n, [e["Service"]["ID"] for e in entries]) for n, entries in bulk.items() if entries) == expected


# ----------------------------------------------------------------------------------------- fallback

def test_fallback_when_the_agent_blocks_the_endpoint(worker_id, small_bulk):
    """http_config.block_endpoints: Consul itself answers 403; the public reads answer instead."""
    agent = ConsulAgent("blocked", "%s.1" % address_block(worker_id), dev=True, extra_config={
        "http_config": {"block_endpoints": [node_dump.NODE_DUMP_PATH]}}).start()
    try:
        agent.wait_http()
        ConsulCluster.wait_for(lambda: any(n["Node"] == agent.name for n in agent.api("GET", "/v1/catalog/nodes")),
                               30, "agent node not in catalog")
        register_variety(agent)
        reader = ConsulReader(agent.http_url)
        names = sorted(reader.services())
        health = reader.health_of(names)
        assert reader.read_path == "per-service (bulk read off: /v1/internal/ui/nodes answered HTTP 403)"
        assert reader.http_calls == 2 + len(names)  # catalog, the refused dump, one read per service
        assert comparable(health) == comparable(read(agent.http_url, False, names=names)[1])
    finally:
        agent.cleanup()


class _Proxy(BaseHTTPRequestHandler):
    """Forwards GETs to Consul, except the node dump, which gets ``server.dump_answer``."""

    def do_GET(self):  # noqa: N802 - BaseHTTPRequestHandler's name
        if self.path.split("?")[0] == node_dump.NODE_DUMP_PATH:
            status, body = self.server.dump_answer
            headers = {"X-Consul-Knownleader": "true"}
        else:
            answer = requests.get(self.server.consul + self.path, headers={
                "X-Consul-Token": self.headers.get("X-Consul-Token") or ""}, timeout=30)
            status, body = answer.status_code, answer.content
            headers = dict((k, v) for k, v in answer.headers.items() if k.startswith("X-Consul"))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("answer, reason", [
    ((404, b"404 page not found"), "answered HTTP 404"),         # a Consul without the endpoint
    ((405, b"method GET not allowed"), "answered HTTP 405"),
    ((200, b'{"Nodes": []}'), "unexpected answer"),               # another shape
    ((200, json.dumps([{"Node": "n1", "Address": "10.0.0.1"}]).encode()), "unexpected answer"),
])
def test_fallback_when_the_endpoint_is_missing_or_changed(consul_dev, small_bulk, answer, reason):
    register_variety(consul_dev)
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    proxy.consul, proxy.dump_answer = consul_dev.http_url, answer
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        url = "http://127.0.0.1:%d" % proxy.server_address[1]
        reader = ConsulReader(url)
        names = sorted(reader.services())
        health = reader.health_of(names)
        assert reader.read_path.startswith("per-service (bulk read off: ") and reason in reader.read_path
        assert comparable(health) == comparable(read(consul_dev.http_url, False, names=names)[1])
        reader.health_of(names)
        assert reader.read_path.startswith("per-service (bulk read off")  # not asked again
    finally:
        proxy.shutdown()
        proxy.server_close()
