"""The consul role's ACL helper (roles/consul/files/consul-acl-ensure) against a real Consul 1.8.7 dev agent
with ACLs default deny.

- --bootstrap makes the given UUID the management token (bootstrap, a token with that SecretID, the
  bootstrap token deleted); again: nothing; another token after that: refused, naming the cause.
- A spec's policies and tokens are created once, found again by name and description (no change, same
  SecretIDs), a policy's rules put back when they differ; --check reports and changes nothing.
- The policies the roles create do what their docs say: the agent token writes its own node only, the
  service token registers its own service only, the zone sync token reads health, writes KV under its
  prefix only and opens sessions on its own node only.
- A persisted agent token that differs from the configured one is replaced (reported), an equal one is left.
- Exit 2 when the agent's API cannot be reached (the role's "agent not running yet").
"""

import json
import socket
import subprocess
import sys
import uuid

import pytest
import requests

from tests.consul_testbed.agent import ConsulAgent, address_block
from tests.playbook import REPO_ROOT

HELPER = REPO_ROOT / "roles" / "consul" / "files" / "consul-acl-ensure"
MANAGEMENT = str(uuid.UUID(int=0x1234567890abcdef1234567890abcdef))
AGENT_RULES = 'node "n1" { policy = "write" }\nservice_prefix "" { policy = "read" }\n'
SYNC_RULES = ('service_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }\n'
              'key_prefix "consul-dns/" { policy = "write" }\nsession "n1" { policy = "write" }\n')
SPEC = {
    "policies": [
        {"name": "consul-dns-agent-n1", "description": "agent n1", "rules": AGENT_RULES},
        {"name": "consul-dns-zone-sync-n1", "description": "sync n1", "rules": SYNC_RULES},
        {"name": "consul-dns-service-crowd", "description": "crowd", "rules": 'service "crowd" { policy = "write" }\n'},
    ],
    "tokens": [
        {"key": "agent", "description": "agent token of node n1", "policies": ["consul-dns-agent-n1"]},
        {"key": "zone_sync", "description": "zone sync token of node n1", "policies": ["consul-dns-zone-sync-n1"]},
        {"key": "service", "description": "service crowd on node n1", "policies": ["consul-dns-service-crowd"]},
    ],
    "agent_token": "agent",
}

pytestmark = pytest.mark.consul


def helper(agent, spec=None, args=(), token=MANAGEMENT, via="stdin", tmp_path=None):
    """Run the helper; the token as the roles pass it (stdin's first line), or through the environment."""
    spec_text = json.dumps(spec) if spec is not None else ""
    env = {"PATH": "/usr/bin:/bin"}
    if via == "stdin":
        args, stdin = ["--token-stdin"] + list(args), token + "\n" + spec_text
    elif via == "file":
        token_file = tmp_path / "token"
        token_file.write_text(token + "\n")
        env["CONSUL_HTTP_TOKEN_FILE"], stdin = str(token_file), spec_text
    else:
        env["CONSUL_HTTP_TOKEN"], stdin = token, spec_text
    proc = subprocess.run([sys.executable, str(HELPER), "--url", agent.http_url] + list(args),
                          input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False)
    result = json.loads(proc.stdout) if proc.returncode == 0 else None
    return proc, result


@pytest.fixture(scope="module")
def agent(worker_id):
    node = ConsulAgent("n1", address_block(worker_id) + ".1", dev=True, extra_config={
        "acl": {"enabled": True, "default_policy": "deny", "down_policy": "extend-cache"}})
    node.start()
    try:
        node.wait_http()
        proc, result = helper(node, args=["--bootstrap", "--timeout", "60"])
        assert proc.returncode == 0, proc.stderr
        assert result["changed"] is True
        yield node
    finally:
        node.cleanup()


def call(agent, method, path, token, **kwargs):
    return requests.request(method, agent.http_url + path, headers={"X-Consul-Token": token}, timeout=30, **kwargs)


def test_bootstrap_with_the_given_token(agent):
    proc, result = helper(agent, args=["--bootstrap"])
    assert proc.returncode == 0 and result == {"changed": False, "actions": []}
    tokens = call(agent, "GET", "/v1/acl/tokens", MANAGEMENT).json()
    assert [t["Description"] for t in tokens if t["AccessorID"] != "00000000-0000-0000-0000-000000000002"] == [
        "geant.consul_dns: initial management token"]  # the bootstrap token is gone
    proc, refused = helper(agent, args=["--bootstrap", "--timeout", "5"], token=str(uuid.uuid4()))
    assert refused is None
    assert proc.returncode == 1 and "bootstrapped before" in proc.stderr


def test_create_find_update_check(agent, tmp_path):
    proc, check = helper(agent, SPEC, ["--check"])
    assert proc.returncode == 0 and check["changed"] and set(check["tokens"].values()) == {""}
    assert call(agent, "GET", "/v1/acl/policy/name/consul-dns-agent-n1", MANAGEMENT).status_code in (403, 404)
    proc, first = helper(agent, SPEC)
    assert proc.returncode == 0, proc.stderr
    assert first["changed"] and len(first["actions"]) == 6
    assert all(len(secret) == 36 for secret in first["tokens"].values())
    proc, again = helper(agent, SPEC)
    assert again == {"changed": False, "actions": [], "tokens": first["tokens"]}
    # Rules changed by hand: put back, the token kept.
    policy = call(agent, "GET", "/v1/acl/policy/name/consul-dns-agent-n1", MANAGEMENT).json()
    policy["Rules"] = 'node_prefix "" { policy = "write" }'
    assert call(agent, "PUT", "/v1/acl/policy/" + policy["ID"], MANAGEMENT, json=policy).ok
    proc, fixed = helper(agent, SPEC)
    assert fixed["actions"] == ["update policy consul-dns-agent-n1"] and fixed["tokens"] == first["tokens"]
    assert call(agent, "GET", "/v1/acl/policy/" + policy["ID"], MANAGEMENT).json()["Rules"] == AGENT_RULES


def test_the_tokens_hold_least_privilege(agent):
    result = helper(agent, SPEC)[1]
    tokens = result["tokens"]
    node = {"Node": "n1", "Address": "127.0.0.1"}
    other = {"Node": "n2", "Address": "127.0.0.2"}
    assert call(agent, "PUT", "/v1/catalog/register", tokens["agent"], json=node).ok
    assert call(agent, "PUT", "/v1/catalog/register", tokens["agent"], json=other).status_code == 403
    assert call(agent, "PUT", "/v1/kv/x", tokens["agent"], data="1").status_code == 403
    service = {"Name": "crowd", "ID": "crowd", "Port": 8095}
    assert call(agent, "PUT", "/v1/agent/service/register", tokens["service"], json=service).ok
    assert call(agent, "PUT", "/v1/agent/service/register", tokens["service"],
                json={"Name": "cacti", "ID": "cacti"}).status_code == 403
    sync = tokens["zone_sync"]
    assert call(agent, "GET", "/v1/health/service/crowd", sync).ok
    assert call(agent, "PUT", "/v1/kv/consul-dns/state/zone", sync, data="1").ok
    for key in ("other", "consul-dnsx/a", "x/consul-dns/a"):
        assert call(agent, "PUT", "/v1/kv/" + key, sync, data="1").status_code == 403
    assert call(agent, "PUT", "/v1/session/create", sync, json={"Node": "n1", "Name": "lock"}).ok
    assert call(agent, "PUT", "/v1/session/create", sync, json={"Node": "n2", "Name": "lock"}).status_code == 403


def test_a_persisted_agent_token_does_not_override_the_configured_one(agent, tmp_path):
    result = helper(agent, SPEC)[1]
    persisted = tmp_path / "acl-tokens.json"
    persisted.write_text(json.dumps({"agent": str(uuid.uuid4())}))
    spec = dict(SPEC, persisted_tokens_file=str(persisted))
    replaced = helper(agent, spec)[1]
    assert replaced["changed"] and replaced["actions"][0].startswith("replace the persisted agent token")
    persisted.write_text(json.dumps({"agent": result["tokens"]["agent"]}))
    same = helper(agent, spec)[1]
    assert same["changed"] is False
    # A token given by the user (no agent token created): compared the same way.
    given = dict(spec, tokens=[], policies=[], agent_token_value=str(uuid.uuid4()))
    replaced = helper(agent, given)[1]
    assert replaced["changed"] and replaced["tokens"] == {}


@pytest.mark.parametrize("via", ["file", "env"])
def test_the_token_from_a_file_or_the_environment(agent, tmp_path, via):
    """Run by hand, the helper takes the token as the consul CLI does (CONSUL_HTTP_TOKEN_FILE, CONSUL_HTTP_TOKEN)."""
    spec = {"policies": [{"name": "consul-dns-token-via-" + via, "description": via, "rules": AGENT_RULES}]}
    proc, result = helper(agent, spec, via=via, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert result["changed"] is True
    spec["policies"][0]["description"] = "changed"
    proc, refused = helper(agent, spec, token=str(uuid.uuid4()), via=via, tmp_path=tmp_path)
    assert refused is None
    assert proc.returncode == 1 and "403" in proc.stderr


def test_no_token_is_refused_by_name(agent):
    proc, result = helper(agent, SPEC, token="")
    assert result is None and proc.returncode == 1
    assert "no management token was given" in proc.stderr


def test_unreachable_agent_exits_2():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.run([sys.executable, str(HELPER), "--url", "http://127.0.0.1:%d" % port],
                          input=json.dumps(SPEC), capture_output=True, text=True, check=False,
                          env={"CONSUL_HTTP_TOKEN": MANAGEMENT})
    assert proc.returncode == 2 and "cannot be reached" in proc.stderr
