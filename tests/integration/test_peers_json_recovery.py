"""docs/operations.md, "Quorum lost: peers.json recovery", followed step by step against real Consul 1.8.7 servers.

Most servers of a cluster are lost for good (SIGKILL, never started again); the ones left have no leader and
refuse writes. The runbook's steps are then followed literally on the servers left: stop the agent, read
``<data_dir>/node-id``, write the same ``<data_dir>/raft/peers.json`` listing only the servers left, start
the agent again. The test then checks what step 4 promises: each server reads the file and deletes it, they
elect a leader, ``consul operator raft list-peers`` lists exactly those servers; and that the data written
before the loss is still there and writes work again.
"""

import json
import os
import subprocess

import pytest
import requests

from tests.consul_testbed.agent import ConsulCluster, address_block, consul_binary

pytestmark = [pytest.mark.consul, pytest.mark.slow]

SERVER_PORT = 8300  # Consul's default server RPC / raft port, the one in the runbook's example
KEY = "peers-json-recovery/before-the-loss"


def data_dir(agent):
    return agent.workdir / "data"


def kv_put(agent, key, value, timeout=45):
    """``(status, body)`` of a KV write through ``agent`` (no raise: a refused write is an answer here)."""
    response = requests.put("%s/v1/kv/%s" % (agent.http_url, key), data=value, timeout=timeout)
    return response.status_code, response.text


def kv_get(agent, key, stale=False):
    """The raw value of ``key`` (None when missing), a consistent read unless ``stale``."""
    params = {"raw": ""}
    if stale:
        params["stale"] = ""
    response = requests.get("%s/v1/kv/%s" % (agent.http_url, key), params=params, timeout=45)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.text


def leader_of(agent):
    """What ``agent`` answers on /v1/status/leader ("" without a leader)."""
    return agent.api("GET", "/v1/status/leader")


def raft_servers(agent):
    """``{address: (id, voter)}`` of the raft configuration as ``agent`` sees it (from the leader)."""
    config = agent.api("GET", "/v1/operator/raft/configuration")
    return dict((server["Address"], (server["ID"], server["Voter"])) for server in config["Servers"])


def list_peers(agent):
    """``consul operator raft list-peers``, parsed: ``{address: (node, id, state, voter)}``."""
    result = subprocess.run([consul_binary(), "operator", "raft", "list-peers", "-http-addr=%s" % agent.http_url],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["Node", "ID", "Address", "State", "Voter", "RaftProtocol"], result.stdout
    peers = {}
    for line in lines[1:]:
        node, node_id, address, state, voter, _protocol = line.split()
        peers[address] = (node, node_id, state, voter)
    return peers


def peers_json(entries):
    """The file of the runbook's step 3, in its layout: one JSON object per server left."""
    lines = ['  {"id": "%s", "address": "%s", "non_voter": false}' % (node_id, address) for node_id, address in entries]
    return "[\n" + ",\n".join(lines) + "\n]\n"


@pytest.fixture
def cluster(request, worker_id):
    servers = request.param
    bed = ConsulCluster(address_block(worker_id), servers=servers)
    try:
        yield bed.start()
    finally:
        bed.cleanup()


@pytest.mark.parametrize("cluster, left", [(3, 1), (5, 2)], indirect=["cluster"],
                         ids=["3-servers-1-left", "5-servers-2-left"])
def test_runbook_peers_json_recovery(cluster, left):
    servers = cluster.servers
    survivors, lost = servers[:left], servers[left:]

    # --- A healthy cluster with a leader, and a KV entry written before the loss.
    ConsulCluster.wait_for(lambda: all(leader_of(s) for s in servers), 60, "not every server knows the leader")
    before = raft_servers(servers[0])
    assert sorted(before) == sorted("%s:%d" % (s.address, SERVER_PORT) for s in servers)
    assert kv_put(servers[0], KEY, "written with quorum") == (200, "true")
    # Committed on a majority; wait until every server left has applied it, so that its loss is not
    # the "entries the lost servers had committed alone" of step 5.
    for survivor in survivors:
        ConsulCluster.wait_for(lambda s=survivor: kv_get(s, KEY, stale=True) == "written with quorum", 30,
                               "%s never applied the entry" % survivor.name)

    # --- Most servers are lost for good: killed, never started again.
    for server in lost:
        server.kill()

    # --- The servers left have no leader and refuse writes with "No cluster leader".
    ConsulCluster.wait_for(lambda: all(leader_of(s) == "" for s in survivors), 60, "a leader without quorum")

    def write_refused():
        status, body = kv_put(survivors[0], "peers-json-recovery/without-quorum", "refused")
        return status == 500 and "No cluster leader" in body
    ConsulCluster.wait_for(write_refused, 120, "a KV write succeeded without quorum")
    assert all(leader_of(s) == "" for s in survivors)

    # --- Runbook step 1: stop the agent on every server left (SIGTERM, as systemctl stop).
    node_ids = {}
    for survivor in survivors:
        own_id = survivor.api("GET", "/v1/agent/self")["Config"]["NodeID"]
        survivor.stop()
        assert not survivor.is_running()
        # Step 2: read its node ID from <data_dir>/node-id (the ID the agent runs with).
        node_ids[survivor.name] = (data_dir(survivor) / "node-id").read_text().strip()
        assert node_ids[survivor.name] == own_id
        assert before["%s:%d" % (survivor.address, SERVER_PORT)][0] == own_id  # raft protocol 3: ID = node ID

    # Step 3: the same <data_dir>/raft/peers.json on each of them, listing only the servers left.
    content = peers_json([(node_ids[s.name], "%s:%d" % (s.address, SERVER_PORT)) for s in survivors])
    assert json.loads(content) == [{"id": node_ids[s.name], "address": "%s:%d" % (s.address, SERVER_PORT),
                                    "non_voter": False} for s in survivors]
    for survivor in survivors:
        raft_dir = data_dir(survivor) / "raft"
        assert raft_dir.is_dir()
        (raft_dir / "peers.json").write_text(content)
        assert (raft_dir / "peers.json").stat().st_uid == os.getuid()  # owned by the agent's user

    # Step 4: start them all.
    for survivor in survivors:
        survivor.start()
    for survivor in survivors:
        survivor.wait_http()

    # "Each reads the file, deletes it ..."
    for survivor in survivors:
        peers_file = data_dir(survivor) / "raft" / "peers.json"
        ConsulCluster.wait_for(lambda p=peers_file: not p.exists(), 30, "%s left %s" % (survivor.name, peers_file))
        log = survivor.log_path.read_text(errors="replace")
        assert "found peers.json file, recovering Raft configuration" in log, survivor.log_tail()
        assert "deleted peers.json file after successful recovery" in log, survivor.log_tail()

    # "... and they elect a leader": one of the servers left, the same for all of them.
    addresses = sorted("%s:%d" % (s.address, SERVER_PORT) for s in survivors)

    def one_leader():
        leaders = set(leader_of(s) for s in survivors)
        return len(leaders) == 1 and leaders.pop() in addresses
    ConsulCluster.wait_for(one_leader, 60, "no leader after the recovery")

    # "consul operator raft list-peers lists exactly those servers" (all voters, one of them the leader).
    peers = {}

    def listed():
        peers.clear()
        peers.update(list_peers(survivors[0]))
        states = sorted(p[2] for p in peers.values())
        return sorted(peers) == addresses and states == sorted(["leader"] + ["follower"] * (left - 1))
    try:
        ConsulCluster.wait_for(listed, 60, "list-peers does not show exactly the servers left")
    except TimeoutError:
        pytest.fail("list-peers shows %r, not exactly the servers left %r (leaders: %r)\n%s" % (
            peers, addresses, [leader_of(s) for s in survivors], "\n".join(s.log_tail(40) for s in survivors)))
    assert dict((address, (node, node_id, voter)) for address, (node, node_id, _state, voter) in peers.items()) == \
        dict(("%s:%d" % (s.address, SERVER_PORT), (s.name, node_ids[s.name], "true")) for s in survivors)
    assert raft_servers(survivors[-1]) == dict(("%s:%d" % (s.address, SERVER_PORT), (node_ids[s.name], True))
                                               for s in survivors)

    # The data written before the loss is still there (a consistent read, through the new leader) ...
    for survivor in survivors:
        assert kv_get(survivor, KEY) == "written with quorum"
    # ... and writes work again, from every server left.
    for survivor in survivors:
        key = "peers-json-recovery/after-%s" % survivor.name
        assert kv_put(survivor, key, "written after the recovery") == (200, "true")
        assert kv_get(survivors[0], key) == "written after the recovery"
    # The write refused without quorum never happened.
    assert kv_get(survivors[0], "peers-json-recovery/without-quorum") is None
    # The lost servers stay lost.
    assert not any(server.is_running() for server in lost)
