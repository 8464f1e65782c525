"""geant.consul_dns.consul_api run by ansible-playbook against real Consul 1.8.7 agents with default-deny ACLs.

The connection comes from ``module_defaults`` filled from a fact shaped like the consul role's
``consul_agent_api`` (as in the day-2 playbooks), and the module runs with the system Python when that has no
``requests``, as on a Debian node. Besides GET / PUT, a 403 and a 404, the API calls that replace the day-2
playbooks' ``consul`` CLI calls are checked for what the CLI does: ``consul maint -enable -reason R``
(PUT /v1/agent/maintenance), ``consul leave`` (PUT /v1/agent/leave), ``consul force-leave -prune NODE``
(PUT /v1/agent/force-leave/NODE?prune=1) and ``consul snapshot restore FILE`` (PUT /v1/snapshot, the file as the
body).
"""

import base64
import subprocess

import pytest
import requests

from tests.consul_testbed.agent import ConsulAgent, ConsulCluster, address_block, consul_binary
from tests.playbook import python_without_requests, run_playbook

pytestmark = [pytest.mark.consul, pytest.mark.slow, pytest.mark.client_library]

ROOT_TOKEN = "root-secret-token-7d2e"
ACL = {"enabled": True, "default_policy": "deny", "tokens": {"master": ROOT_TOKEN, "agent": ROOT_TOKEN}}
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    geant.consul_dns.consul_api:
      consul_address: "{{ consul_agent_api.url }}"
      consul_token: "{{ consul_agent_api.token }}"
      ca_path: "{{ consul_agent_api.ca_path }}"
      client_cert: "{{ consul_agent_api.client_cert }}"
      client_key: "{{ consul_agent_api.client_key }}"
  tasks:
    - name: Call
      geant.consul_dns.consul_api:
        method: "{{ call.method | default(omit) }}"
        path: "{{ call.path }}"
        query: "{{ call.query | default(omit) }}"
        body: "{{ call.body | default(omit) }}"
        body_file: "{{ call.body_file | default(omit) }}"
        status_code: "{{ call.status_code | default(omit) }}"
      register: answer
"""
# The module must not need requests (the Consul nodes' system Python has none).
PYTHON = python_without_requests()


class Bed(object):
    """A dev server and two clients, default-deny ACLs; ``api`` calls with the management token."""

    def __init__(self, block):
        self.server = ConsulAgent("capi-server", "%s.1" % block, dev=True,
                                  extra_config={"primary_datacenter": "dc1", "acl": ACL})
        self.clients = [ConsulAgent(name, "%s.%d" % (block, 10 + i), join=["%s.1" % block],
                                    extra_config={"primary_datacenter": "dc1",
                                                  "acl": {"enabled": True, "default_policy": "deny",
                                                          "tokens": {"agent": ROOT_TOKEN}}})
                        for i, name in enumerate(("capi-client01", "capi-client02"))]

    def start(self):
        for agent in [self.server] + self.clients:
            agent.start()
        for agent in [self.server] + self.clients:
            agent.wait_http()
        ConsulCluster.wait_for(lambda: bool(self.server.api("GET", "/v1/status/leader")), 30, "no leader")
        ConsulCluster.wait_for(lambda: self.statuses() == {"capi-server": 1, "capi-client01": 1, "capi-client02": 1},
                               30, "not every member alive")
        return self

    def api(self, method, path, agent=None, **kwargs):
        headers = dict(kwargs.pop("headers", {}), **{"X-Consul-Token": ROOT_TOKEN})
        return (agent or self.server).api(method, path, headers=headers, **kwargs)

    def kv_value(self, key):
        """A KV key's value as text, None when there is no such key."""
        answer = requests.get(self.server.http_url + "/v1/kv/" + key, headers={"X-Consul-Token": ROOT_TOKEN},
                              timeout=30)
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        return base64.b64decode(answer.json()[0]["Value"]).decode("utf-8")

    def statuses(self):
        return dict((m["Name"], m["Status"]) for m in self.api("GET", "/v1/agent/members"))

    def cleanup(self):
        for agent in [self.server] + self.clients:
            agent.cleanup()


@pytest.fixture
def bed(worker_id):
    bed = Bed(address_block(worker_id))
    try:
        yield bed.start()
    finally:
        bed.cleanup()


def call(agent, token=ROOT_TOKEN, args=(), **call_args):
    """One module call through ansible-playbook (-vvv): (playbook result, the task's result)."""
    extra = {"call": call_args, "consul_agent_api": {
        "url": agent.http_url, "token": token, "ca_path": "", "client_cert": "", "client_key": ""}}
    result = run_playbook(PLAYBOOK, extra, json_output=True,
                          args=["-e", "ansible_python_interpreter=%s" % PYTHON, "-vvv"] + list(args))
    # The token reaches Consul as a header only: never in the output, -vvv invocation included.
    assert ROOT_TOKEN not in result.output
    # -vvv writes its lines before the JSON callback's document.
    result.stdout = result.stdout[result.stdout.index("\n{\n") + 1:]
    return result, result.task_results("Call")[0]


def test_get_put_403_404_and_check_mode(bed):
    result, answer = call(bed.server, path="/v1/agent/self")
    assert result.rc == 0, result
    assert answer["changed"] is False and answer["status"] == 200
    assert answer["json"]["Config"]["Version"] == "1.8.7" and answer["content"] is None
    assert answer["invocation"]["module_args"]["consul_token"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

    result, answer = call(bed.server, method="PUT", path="/v1/kv/consul-api/test", body="hello from consul_api")
    assert result.rc == 0, result
    assert answer["changed"] is True and answer["json"] is True
    result, answer = call(bed.server, path="/v1/kv/consul-api/test", query={"raw": None})
    assert result.rc == 0 and answer["content"] == "hello from consul_api" and answer["json"] is None
    assert answer["url"].endswith("/v1/kv/consul-api/test?raw")

    # A JSON body, read back as JSON.
    result, answer = call(bed.server, method="PUT", path="/v1/kv/consul-api/json", body={"a": [1, 2]})
    assert result.rc == 0, result
    assert bed.kv_value("consul-api/json") == '{"a": [1, 2]}'

    # --check: the GET is sent, the PUT is not.
    result, answer = call(bed.server, method="PUT", path="/v1/kv/consul-api/check", body="x", args=["--check"])
    assert result.rc == 0 and answer["changed"] is True and answer["status"] is None
    assert "not sent (check mode)" in answer["msg"]
    assert bed.kv_value("consul-api/check") is None
    result, answer = call(bed.server, path="/v1/kv/consul-api/test", args=["--check"])
    assert result.rc == 0 and answer["status"] == 200 and answer["json"][0]["Key"] == "consul-api/test"

    # No token (consul_agent_api.token is empty without ACLs): the anonymous token, denied.
    result, answer = call(bed.server, token="", method="PUT", path="/v1/agent/maintenance", query={"enable": True})
    assert result.rc != 0 and answer["failed"] is True and answer["status"] == 403
    assert answer["json"] is None and answer["content"] == "Permission denied" and answer["changed"] is False
    assert answer["msg"] == ("PUT /v1/agent/maintenance at %s answered HTTP 403 (expected 200): Permission denied - "
                             "no ACL token was given (consul_token) and the anonymous token lacks a permission this "
                             "call needs" % bed.server.http_url)
    # A token without the permission.
    policy = bed.api("PUT", "/v1/acl/policy", json={"Name": "kv-read", "Rules": 'key_prefix "" { policy = "read" }'})
    weak = bed.api("PUT", "/v1/acl/token", json={"Policies": [{"ID": policy["ID"]}]})["SecretID"]
    result, answer = call(bed.server, token=weak, method="PUT", path="/v1/kv/consul-api/test", body="no")
    assert result.rc != 0 and answer["status"] == 403
    assert "the ACL token (consul_token) lacks a permission this call needs" in answer["msg"]
    assert weak not in result.output
    assert bed.kv_value("consul-api/test") == "hello from consul_api"

    # 404: a failure naming method, path and status, unless listed in status_code.
    result, answer = call(bed.server, path="/v1/kv/consul-api/missing")
    assert result.rc != 0 and answer["status"] == 404
    assert answer["msg"].startswith("GET /v1/kv/consul-api/missing at %s answered HTTP 404 (expected 200)"
                                    % bed.server.http_url)
    result, answer = call(bed.server, path="/v1/kv/consul-api/missing", status_code=[200, 404])
    assert result.rc == 0 and answer["status"] == 404 and answer["changed"] is False

    # Unreachable.
    result, answer = call(ConsulAgent("nowhere", "127.0.0.1"), path="/v1/agent/self")
    assert result.rc != 0 and answer["status"] == -1
    assert answer["msg"].startswith("GET /v1/agent/self: cannot reach Consul at http://127.0.0.1:8500")


def test_the_cli_calls_of_the_day2_playbooks(bed, tmp_path):
    client01, client02 = bed.clients

    # consul maint -enable -reason R
    reason = "decommissioned by consul_api & co"
    result, answer = call(client01, method="PUT", path="/v1/agent/maintenance",
                          query={"enable": True, "reason": reason})
    assert result.rc == 0 and answer["changed"] is True, result
    checks = dict((c["CheckID"], c) for c in bed.api("GET", "/v1/health/node/capi-client01"))
    assert checks["_node_maintenance"]["Status"] == "critical" and checks["_node_maintenance"]["Notes"] == reason
    call(client01, method="PUT", path="/v1/agent/maintenance", query={"enable": False})
    assert "_node_maintenance" not in [c["CheckID"] for c in bed.api("GET", "/v1/health/node/capi-client01")]

    # consul snapshot restore FILE
    bed.api("PUT", "/v1/kv/consul-api/snap", data="before the snapshot")
    snapshot = tmp_path / "consul.snap"
    saved = subprocess.run([consul_binary(), "snapshot", "save", str(snapshot)], capture_output=True, text=True,
                           check=False, env={"CONSUL_HTTP_ADDR": bed.server.http_url, "CONSUL_HTTP_TOKEN": ROOT_TOKEN})
    assert saved.returncode == 0, saved.stderr
    bed.api("DELETE", "/v1/kv/consul-api/snap")
    assert bed.kv_value("consul-api/snap") is None
    result, answer = call(bed.server, method="PUT", path="/v1/snapshot", body_file=str(snapshot))
    assert result.rc == 0 and answer["changed"] is True and answer["status"] == 200, result
    assert bed.kv_value("consul-api/snap") == "before the snapshot"

    # consul leave: the agent leaves (status 3) and exits.
    result, answer = call(client01, method="PUT", path="/v1/agent/leave")
    assert result.rc == 0 and answer["changed"] is True and answer["status"] == 200, result
    ConsulCluster.wait_for(lambda: not client01.is_running(), 30, "the agent did not exit after leave")
    ConsulCluster.wait_for(lambda: bed.statuses().get("capi-client01") == 3, 30, "not left")

    # consul force-leave -prune NODE: a failed node (killed) is reaped, gone from the member list.
    client02.kill()
    ConsulCluster.wait_for(lambda: bed.statuses().get("capi-client02") == 4, 60, "the killed client never failed")
    result, answer = call(bed.server, method="PUT", path="/v1/agent/force-leave/capi-client02", query={"prune": 1})
    assert result.rc == 0 and answer["changed"] is True, result
    assert answer["url"].endswith("/v1/agent/force-leave/capi-client02?prune=1")
    ConsulCluster.wait_for(lambda: "capi-client02" not in bed.statuses(), 30, "force-leave -prune did not reap")
    # A left node is pruned too (consul_server_remove forces out a node that is not gone).
    result, answer = call(bed.server, method="PUT", path="/v1/agent/force-leave/capi-client01", query={"prune": 1})
    assert result.rc == 0, result
    ConsulCluster.wait_for(lambda: set(bed.statuses()) == {"capi-server"}, 30, "the left node was not pruned")
