"""The playbook geant.consul_dns.consul_client_decommission against a real Consul dev agent, the node being
this machine (connection local): the refusals and the time-out the Molecule scenarios do not reach.

- A zone in consul_decommission_zones that the zone sync keeps no state for (a typo) is refused by name
  before anything changes: no maintenance, the agent stays.
- Addresses the zone sync does not withdraw within consul_decommission_timeout: the playbook fails naming
  the zone and the addresses, and the node stays in maintenance and in the cluster (it does not leave).

The zone sync's state is written by the collection's own StateStore, as the zone sync writes it.
"""

import json

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.kv import ConsulKV
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.state_store import StateStore
from tests.integration.test_zone_sync_state_info import entry
from tests.playbook import REPO_ROOT, python_without_requests, run_playbook

pytestmark = [pytest.mark.consul, pytest.mark.slow]

PLAYBOOK = REPO_ROOT / "playbooks" / "consul_client_decommission.yml"
ZONE = "geant.services"


def inventory(tmp_path, agent):
    """dc-client is this machine, its agent the dev agent; the server is only a name (never contacted)."""
    host, port = agent.http_url.rsplit("//", 1)[1].split(":")
    path = tmp_path / "inventory.yml"
    path.write_text(json.dumps({
        "consul_servers": {"hosts": {"dc-server": {}}},
        "consul_clients": {"hosts": {"dc-client": {
            "ansible_connection": "local", "ansible_become": False,
            # The node's modules run with the system Python, which has no requests (as on Debian).
            "ansible_python_interpreter": python_without_requests(),
            "consul_client_address": host, "consul_ports_http": int(port),
            "consul_encrypt_key": "nc2xsL/pPG2oPdx1J+WknAehPasrbDHlh9+1m2EBRrI="}}},
    }))
    return path


def decommission(tmp_path, agent, **extra):
    extra = dict({"consul_decommission": "dc-client"}, **extra)
    return run_playbook("- ansible.builtin.import_playbook: %s\n" % PLAYBOOK, extra_vars=extra,
                        args=("-i", str(inventory(tmp_path, agent))))


def publish(agent, addresses):
    store = StateStore(ConsulKV(agent.http_url), "consul-dns/state", ZONE)
    store.load()
    store.save({"version": 1, "addresses": dict(("crowd/%s" % a, entry(True)) for a in addresses)}, ZONE, "test-sync")


def in_maintenance(agent):
    return "_node_maintenance" in agent.api("GET", "/v1/agent/checks")


def test_a_zone_without_state_is_refused_before_any_change(consul_dev, tmp_path):
    agent = consul_dev
    agent.register_service({"Name": "crowd", "Address": "1.1.1.11", "Port": 8095})
    publish(agent, ["1.1.1.10", "1.1.1.11"])

    result = decommission(tmp_path, agent, consul_decommission_zones=["geant.servics", ZONE])

    assert result.rc != 0, result
    assert "The zone sync keeps no state for geant.servics under consul-dns/state/" in result.output, result
    assert "Nothing was changed on dev." in result.output, result
    assert not in_maintenance(agent) and agent.is_running()
    assert "Put the node in maintenance" not in result.output, result


def test_addresses_not_withdrawn_in_time_fail_and_the_node_stays(consul_dev, tmp_path):
    agent = consul_dev
    agent.register_service({"Name": "crowd", "Address": "1.1.1.11", "Port": 8095})
    publish(agent, ["1.1.1.10", "1.1.1.11"])  # nothing withdraws 1.1.1.11: no zone sync runs here

    result = decommission(tmp_path, agent, consul_decommission_zones=[ZONE], consul_decommission_timeout=10)

    assert result.rc != 0, result
    assert "Not withdrawn after 10 s - geant.services: crowd/1.1.1.11." in result.output, result
    assert "dev stays in maintenance and in the cluster" in result.output, result
    assert in_maintenance(agent) and agent.is_running()
    assert "Leave the cluster" not in result.output, result
