"""ConsulReader.health_of: bulk or per-service, what each read sends, fallbacks and the error contract.

Consul is replaced by the library's HTTP client stand-in below, answering with the payloads recorded
from Consul 1.8.7 (fixtures/); the real thing is in tests/integration/test_consul_bulk_read.py.
"""

import collections
import json
import os

import pytest
from requests.structures import CaseInsensitiveDict

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import (
    ConsulError,
    ConsulReader,
    ConsulUnavailable,
    is_loopback,
    library_name,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.node_dump import NODE_DUMP_PATH
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.watch import (
    CachedHealthReader,
    HealthCache,
    checks_digest,
)

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "consul-1.8.7-health-and-node-dump.json")
Response = collections.namedtuple("Response", "code headers body")  # what both libraries hand a callback


class FakeHTTP(object):
    """The ``get`` of the libraries' HTTP client: answers from the recorded payloads, logs each call."""

    def __init__(self, recorded, dump_status=200, dump_body=None, known_leader="true", catalog=None):
        self.recorded = recorded
        self.dump_status, self.dump_body, self.known_leader = dump_status, dump_body, known_leader
        self.catalog = catalog
        self.calls = []

    def get(self, callback, path, params=None, headers=None):
        self.calls.append((path, list(params or ()), dict(headers or {})))
        # Go sends canonical header names (X-Consul-Knownleader); requests looks them up case-insensitively.
        out = CaseInsensitiveDict({"X-Consul-Index": "42", "X-Consul-Knownleader": self.known_leader})
        if path == NODE_DUMP_PATH:
            body = self.dump_body if self.dump_body is not None else json.dumps(self.recorded["node_dump"])
            return callback(Response(self.dump_status, out, body))
        if path == "/v1/catalog/services":
            return callback(Response(200, out, json.dumps(self.catalog or self.recorded["catalog"])))
        name = path.rsplit("/", 1)[1]
        if name == "down":
            return callback(Response(500, out, "No cluster leader"))
        return callback(Response(200, out, json.dumps(self.recorded["health"].get(name, []))))

    def paths(self):
        return [path for path, _params, _headers in self.calls]


@pytest.fixture
def recorded():
    with open(FIXTURE) as handle:
        return json.load(handle)


def reader_with(http, address="http://127.0.0.1:1", **kwargs):
    reader = ConsulReader(address, **kwargs)  # never connects: the HTTP client is replaced
    reader.client.http = http
    reader.client.catalog.agent.http = http  # python-consul2 endpoints hold the client; py-consul's too
    return reader


def big_catalog(recorded, extra):
    """The recorded catalog plus ``extra`` services that have no instance (they are read one by one)."""
    catalog = dict(recorded["catalog"])
    catalog.update(("svc%03d" % i, []) for i in range(extra))
    return catalog


def test_the_library_under_test():
    expected = os.environ.get("CONSUL_DNS_EXPECT_LIBRARY")
    if expected:
        assert library_name() == expected


@pytest.mark.parametrize("host, expected", [
    ("127.0.0.1", True), ("127.20.3.1", True), ("[::1]", True), ("localhost", True),
    ("10.0.0.1", False), ("[2001:db8::1]", False), ("consul.geant.net", False),
])
def test_is_loopback(host, expected):
    assert is_loopback(host) is expected


def test_small_selection_reads_one_by_one(recorded):
    http = FakeHTTP(recorded)
    reader = reader_with(http)
    reader.services()
    health = reader.health_of(["crowd", "cacti"])
    assert health == dict((name, recorded["health"][name]) for name in ("crowd", "cacti"))
    assert NODE_DUMP_PATH not in http.paths() and reader.read_path == "per-service"
    assert reader.http_calls == 3


def test_large_selection_reads_the_node_dump_once(recorded):
    catalog = big_catalog(recorded, 120)
    http = FakeHTTP(recorded, catalog=catalog)
    reader = reader_with(http)
    reader.services()
    names = sorted(catalog)
    health = reader.health_of(names)
    # The recorded services come from the dump; the 120 services without any instance are re-read
    # one by one (a service registered after the catalog read, or one the dump does not show).
    assert http.paths().count(NODE_DUMP_PATH) == 1
    assert reader.read_path == "bulk %s + 120 per-service" % NODE_DUMP_PATH
    assert sorted(health) == names
    for name in recorded["catalog"]:
        assert [e["Service"]["ID"] for e in health[name]] == [e["Service"]["ID"] for e in recorded["health"][name]]


def test_without_a_catalog_read_no_bulk(recorded):
    http = FakeHTTP(recorded)
    reader_with(http).health_of(sorted(big_catalog(recorded, 200)))
    assert NODE_DUMP_PATH not in http.paths()


IDENTITY = {"Accept-Encoding": "identity"}


@pytest.mark.parametrize("address, consistency, token, datacenter, params, headers", [
    ("http://127.0.0.1:1", "default", None, None, [], IDENTITY),
    ("https://[::1]:1", "stale", "s3cret", "dc2", [("dc", "dc2"), ("stale", "1")],
     dict(IDENTITY, **{"X-Consul-Token": "s3cret"})),
    ("http://consul.geant.net:1", "consistent", None, "dc1", [("dc", "dc1"), ("consistent", "1")], {}),
])
def test_both_reads_send_datacenter_consistency_and_token(recorded, address, consistency, token, datacenter, params,
                                                          headers):
    """And ask for uncompressed answers from a Consul on this machine (gzip costs CPU on both sides)."""
    catalog = big_catalog(recorded, 120)
    http = FakeHTTP(recorded, catalog=catalog)
    reader = reader_with(http, address=address, consistency=consistency, token=token, datacenter=datacenter)
    reader.services()
    reader.health_of(sorted(catalog))
    reads = [call for call in http.calls if call[0] != "/v1/catalog/services"]
    assert reads[0][0] == NODE_DUMP_PATH and len(reads) == 121
    assert all((sent_params, sent_headers) == (params, headers) for _path, sent_params, sent_headers in reads)


@pytest.mark.parametrize("status", [403, 404, 405])
def test_refused_bulk_read_falls_back_to_the_public_reads_and_stays_off(recorded, status):
    catalog = big_catalog(recorded, 120)
    http = FakeHTTP(recorded, dump_status=status, catalog=catalog)
    reader = reader_with(http)
    reader.services()
    health = reader.health_of(sorted(catalog))
    assert health["crowd"] == recorded["health"]["crowd"]
    assert reader.read_path == "per-service (bulk read off: %s answered HTTP %d)" % (NODE_DUMP_PATH, status)
    reader.health_of(sorted(catalog))
    assert http.paths().count(NODE_DUMP_PATH) == 1  # not asked again by this reader


@pytest.mark.parametrize("body", ["<html>no</html>", json.dumps({"Nodes": []}),
                                  json.dumps([{"Node": "n1", "Address": "10.0.0.1", "Services": None}])])
def test_unexpected_answer_falls_back_to_the_public_reads(recorded, body):
    catalog = big_catalog(recorded, 120)
    reader = reader_with(FakeHTTP(recorded, dump_body=body, catalog=catalog))
    reader.services()
    assert reader.health_of(sorted(catalog))["crowd"] == recorded["health"]["crowd"]
    assert reader.read_path.startswith("per-service (bulk read off: unexpected answer from %s" % NODE_DUMP_PATH)


def test_dump_without_a_leader_fails_unless_stale_is_asked_for(recorded):
    # Without a leader the endpoint retries as a stale read on its own; a health read would fail.
    catalog = big_catalog(recorded, 120)
    reader = reader_with(FakeHTTP(recorded, known_leader="false", catalog=catalog))
    reader.services()
    with pytest.raises(ConsulUnavailable, match="no known leader"):
        reader.health_of(sorted(catalog))
    stale = reader_with(FakeHTTP(recorded, known_leader="false", catalog=catalog), consistency="stale")
    stale.services()
    assert len(stale.health_of(sorted(catalog))["crowd"]) == 3 and stale.read_path.startswith("bulk")


@pytest.mark.parametrize("status, body, error", [
    (500, "No cluster leader", ConsulUnavailable),
    (500, "rpc error making call: EOF", ConsulUnavailable),
    (400, "bad request", ConsulError),
])
def test_dump_errors_keep_the_contract(recorded, status, body, error):
    catalog = big_catalog(recorded, 120)
    reader = reader_with(FakeHTTP(recorded, dump_status=status, dump_body=body, catalog=catalog))
    reader.services()
    with pytest.raises(error):
        reader.health_of(sorted(catalog))


def test_a_failing_public_read_fails_the_whole_read(recorded):
    catalog = big_catalog(recorded, 120)
    catalog["down"] = []
    reader = reader_with(FakeHTTP(recorded, catalog=catalog))
    reader.services()
    with pytest.raises(ConsulUnavailable, match="no usable leader"):
        reader.health_of(sorted(catalog))  # 'down' has no instance in the dump: read alone, and fails


def test_watch_mode_reads_everything_in_bulk_and_changes_one_by_one(recorded):
    """The watch service's cache over a reader: a full read (first sync, catalog change) is one bulk
    read; a check change re-reads only its service, with the public read."""
    catalog = big_catalog(recorded, 120)
    http = FakeHTTP(recorded, catalog=catalog)
    reader = reader_with(http)
    cache = HealthCache()
    cached = CachedHealthReader(reader, cache)
    names = sorted(cached.services())
    first = cached.health_of(names)
    assert reader.read_path.startswith("bulk") and http.paths().count(NODE_DUMP_PATH) == 1
    before = checks_digest([{"Node": "prod-crowd02", "CheckID": "crowd2-http", "ServiceID": "crowd2",
                             "Status": "passing", "ServiceName": "crowd"}])
    after = checks_digest([{"Node": "prod-crowd02", "CheckID": "crowd2-http", "ServiceID": "crowd2",
                            "Status": "critical", "ServiceName": "crowd"}])
    cache.mark_checks(before, after)
    calls = len(http.calls)
    again = cached.health_of(names)
    assert reader.read_path == "per-service" and http.paths()[calls:] == ["/v1/health/service/crowd"]
    assert sorted(again) == sorted(first) and cache.reused == len(names) - 1
    # A node check (serfHealth of prod-crowd02) marks the services with an instance there, found
    # through the bulk read's entries as through the per-service ones.
    cache.mark_checks(checks_digest([]), checks_digest([{"Node": "prod-crowd02", "CheckID": "serfHealth",
                                                         "ServiceID": "", "Status": "critical"}]))
    calls = len(http.calls)
    cached.health_of(names)
    assert sorted(http.paths()[calls:]) == ["/v1/health/service/cacti", "/v1/health/service/crowd"]
