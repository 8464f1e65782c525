"""geant.consul_dns.zone_sync_state_info run by ansible-playbook against a real Consul dev agent.

The state is written by the collection's own StateStore (plain, then compressed as the zone sync stores
a large zone), and the module reads it with the system Python when that has no ``requests``: as on a
Debian node, where the module runs in the playbook consul_client_decommission.
"""

import json

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.kv import ConsulKV
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.state_store import StateStore
from tests.playbook import python_without_requests, run_playbook

pytestmark = [pytest.mark.consul, pytest.mark.slow, pytest.mark.client_library]

ZONE = "geant.services"
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the state
      geant.consul_dns.zone_sync_state_info:
        zone: "{{ zone }}"
        consul_address: "{{ consul_url }}"
        addresses: "{{ addresses | default(omit) }}"
      register: state_info
"""
# The module must not need requests (the Consul nodes' system Python has none).
PYTHON = python_without_requests()


def entry(published, healthy=True):
    return {"healthy": healthy, "since": 1764060000.1, "published": published, "penalty": 0.0,
            "penalty_at": 1764060000.1, "suppressed": False, "flaps": 0}


def read(consul_dev, zone=ZONE, addresses=None, args=()):
    extra = {"zone": zone, "consul_url": consul_dev.http_url}
    if addresses is not None:
        extra["addresses"] = addresses
    result = run_playbook(PLAYBOOK, extra, json_output=True,
                          args=["-e", "ansible_python_interpreter=%s" % PYTHON] + list(args))
    return result, result.task_results("Read the state")[0]


def test_reads_plain_and_compressed_states_written_by_the_zone_sync(consul_dev):
    kv = ConsulKV(consul_dev.http_url)

    result, state = read(consul_dev, addresses=["1.1.1.11"])
    assert result.rc == 0, result
    assert state["exists"] is False and state["published"] == {} and state["published_addresses"] == []
    assert state["key"] == "consul-dns/state/geant.services" and state["changed"] is False

    store = StateStore(kv, "consul-dns/state", ZONE)
    store.load()
    store.save({"version": 1, "addresses": {"crowd/1.1.1.10": entry(True), "crowd/1.1.1.11": entry(True),
                                            "jira/1.1.1.11": entry(False, healthy=False)}}, ZONE, "test-writer")
    assert not consul_dev.api("GET", "/v1/kv/consul-dns/state/geant.services?raw").get("encoding")
    result, state = read(consul_dev, addresses=["1.1.1.11"])
    assert result.rc == 0, result
    assert state["exists"] is True and state["updated_by"] == "test-writer"
    assert state["published"] == {"crowd": ["1.1.1.10", "1.1.1.11"]}
    assert state["published_addresses"] == ["crowd/1.1.1.11"]

    # 2,000 addresses are over the plain limit (256 KiB of JSON): stored compressed.
    big = {"version": 1, "addresses": dict(
        ("svc%04d/10.0.%d.%d" % (i // 2, i >> 8 & 255, i & 255), entry(i % 3 != 0)) for i in range(2000))}
    big["addresses"]["crowd/1.1.1.10"] = entry(True)
    big["addresses"]["crowd/1.1.1.11"] = entry(False, healthy=False)
    store.save(big, ZONE, "test-writer")
    assert consul_dev.api("GET", "/v1/kv/consul-dns/state/geant.services?raw")["encoding"] == "zlib+base64"
    result, state = read(consul_dev, addresses=["1.1.1.11", "1.1.1.10", "10.0.0.3"], args=["--check"])
    assert result.rc == 0, result
    assert state["exists"] is True
    assert state["published"]["crowd"] == ["1.1.1.10"]
    assert sum(len(addresses) for addresses in state["published"].values()) == \
        sum(1 for value in big["addresses"].values() if value["published"])
    # 10.0.0.3 is entry 3 (3 % 3 == 0: not published).
    assert state["published_addresses"] == ["crowd/1.1.1.10"]


def test_unreadable_state_and_unreachable_consul_fail_naming_the_key(consul_dev):
    consul_dev.api("PUT", "/v1/kv/consul-dns/state/geant.services", data="{not json")
    result, state = read(consul_dev, addresses=["1.1.1.11"])
    assert result.rc != 0
    assert state["failed"] is True
    assert state["msg"].startswith("the zone sync state at Consul key consul-dns/state/geant.services is unreadable")

    extra = {"zone": ZONE, "consul_url": "http://127.0.0.1:1"}
    result = run_playbook(PLAYBOOK, extra, json_output=True, args=["-e", "ansible_python_interpreter=%s" % PYTHON])
    state = result.task_results("Read the state")[0]
    assert result.rc != 0 and state["failed"] is True
    assert "cannot read the zone sync state at Consul key consul-dns/state/geant.services from " \
           "http://127.0.0.1:1" in state["msg"], json.dumps(state)
