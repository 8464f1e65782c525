"""The consul role's safety checks, run by Ansible on localhost (nothing is installed).

- An insecure cluster (no gossip encryption, no TLS or no server hostname verification, no ACLs or
  ACL default policy allow) fails the role (tasks/security.yml) unless consul_allow_insecure_cluster is
  true, and then it is reported by a warning.
- The gossip key file (tasks/encrypt_key.yml): created for a brand new cluster only; when it is
  missing on the controller but a server or a host of the play already has a keyring or an agent
  configuration with `encrypt`, the role fails instead of inventing a key.
"""

import json

import pytest

from tests.playbook import run_playbook

KEY = "nc2xsL/pPG2oPdx1J+WknAehPasrbDHlh9+1m2EBRrI="
SECURE = {"consul_encrypt_key": KEY, "consul_tls_enable": True, "consul_tls_ca_file": "ca.pem",
          "consul_tls_cert_file": "agent.pem", "consul_tls_key_file": "agent-key.pem",
          "consul_acl_enable": True, "consul_acl_default_policy": "deny"}

# case -> (role vars, expected insecure reasons by a word each; None = secure)
ASSERT_CASES = {
    "defaults": ({}, ["gossip encryption is off", "TLS is off", "ACLs are off"]),
    "secure": (SECURE, None),
    "no-gossip": (dict(SECURE, consul_encrypt_key=""), ["gossip encryption is off"]),
    "key-file": (dict(SECURE, consul_encrypt_key="", consul_encrypt_key_file="/nonexistent/key"), None),
    "no-tls": (dict(SECURE, consul_tls_enable=False), ["TLS is off"]),
    "no-hostname-check": (dict(SECURE, consul_tls_verify_server_hostname=False),
                          ["server hostname verification is off"]),
    "no-acl": (dict(SECURE, consul_acl_enable=False), ["ACLs are off"]),
    "acl-allow": (dict(SECURE, consul_acl_default_policy="allow"), ["the ACL default policy is allow"]),
}


def _assert_playbook(out, allow):
    tasks = []
    for name, (role_vars, _reasons) in ASSERT_CASES.items():
        tasks.append({"name": "Case %s" % name, "block": [
            {"name": "Run the role's checks", "ansible.builtin.include_role": {
                "name": "geant.consul_dns.consul", "tasks_from": "security.yml"},
             "vars": dict(role_vars, consul_allow_insecure_cluster=allow)},
            {"name": "Passed", "ansible.builtin.set_fact": {
                "_results": "{{ _results | combine({%s: 'passed'}) }}" % json.dumps(name)}},
        ], "rescue": [
            {"name": "Failed", "ansible.builtin.set_fact": {
                "_results": "{{ _results | combine({%s: ansible_failed_result.msg}) }}" % json.dumps(name)}},
        ]})
    tasks.append({"name": "Write the results", "ansible.builtin.copy": {
        "content": "{{ _results | to_json }}", "dest": "%s/results.json" % out, "mode": "0600"}})
    return json.dumps([{"hosts": "localhost", "gather_facts": False, "vars": {"_results": {}}, "tasks": tasks}])


def _inventory(path, hosts_vars):
    """consul_servers = server1..; every host is this machine (local connection)."""
    path.write_text(json.dumps({"all": {
        "hosts": {"localhost": {"ansible_connection": "local"}},
        "children": {"consul_servers": {"hosts": {
            name: dict({"ansible_connection": "local"}, **host_vars) for name, host_vars in hosts_vars.items()}}},
    }}))
    return str(path)


@pytest.fixture(scope="module", params=[False, True], ids=["refused", "allowed"])
def assert_results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("consul-assert")
    inventory = _inventory(out / "inventory.json", {"server1": {}})
    result = run_playbook(_assert_playbook(out, request.param), args=["-i", inventory])
    assert result.rc == 0, result.output[-4000:]
    return request.param, json.loads((out / "results.json").read_text()), result.output


@pytest.mark.parametrize("case", sorted(ASSERT_CASES))
def test_insecure_cluster_needs_the_explicit_opt_in(assert_results, case):
    allowed, results, output = assert_results
    reasons = ASSERT_CASES[case][1]
    if reasons is None:
        assert results[case] == "passed"
    elif not allowed:
        assert results[case].startswith("Refusing to configure an insecure Consul cluster: ")
        assert "consul_allow_insecure_cluster: true" in results[case]
        for reason in reasons:
            assert reason in results[case]
        assert results[case].count(";") == len(reasons) - 1  # nothing else listed
    else:
        assert results[case] == "passed"


def test_the_opt_in_prints_a_warning(assert_results):
    allowed, results, output = assert_results
    banner = "WARNING: INSECURE CONSUL CLUSTER, accepted by consul_allow_insecure_cluster: true"
    # One warning per insecure case when allowed (secure cases print nothing), none when refused.
    insecure = [name for name, (_role_vars, reasons) in ASSERT_CASES.items() if reasons]
    assert output.count(banner) == (len(insecure) if allowed else 0)
    if allowed:
        assert "server hostname verification is off (consul_tls_verify_server_hostname: false)" in output


def _encrypt_playbook(key_file):
    return json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Resolve the gossip key", "ansible.builtin.include_role": {
            "name": "geant.consul_dns.consul", "tasks_from": "encrypt_key.yml"},
         "vars": {"consul_encrypt_key_file": str(key_file)}},
        {"name": "Show the key", "ansible.builtin.debug": {"msg": "KEY=[{{ _consul_encrypt_key_effective }}]"}},
    ]}])


@pytest.fixture
def cluster(tmp_path):
    """Three servers (this machine, one data and config dir each) and a controller without a key file."""
    hosts = {}
    for name in ("server1", "server2", "server3"):
        (tmp_path / name / "data").mkdir(parents=True)
        (tmp_path / name / "consul.d").mkdir()
        hosts[name] = {"consul_data_dir": str(tmp_path / name / "data"),
                       "consul_config_dir": str(tmp_path / name / "consul.d")}
    # Files that are no keyring: Debian's log level file, HashiCorp's consul.hcl (encrypt commented out).
    (tmp_path / "server1" / "consul.d" / "00-log_level.hcl").write_text('log_level = "INFO"\n')
    (tmp_path / "server1" / "consul.d" / "consul.hcl").write_text('data_dir = "/opt/consul"\n#encrypt = "..."\n')
    (tmp_path / "server1" / "consul.d" / "agent.json").write_text(
        json.dumps({"encrypt_verify_incoming": True}, indent=2))
    return tmp_path, _inventory(tmp_path / "inventory.json", hosts)


def test_a_new_cluster_gets_a_new_key_once(cluster):
    tmp, inventory = cluster
    key_file = tmp / "controller" / "secrets" / "consul_encrypt_key"
    result = run_playbook(_encrypt_playbook(key_file), args=["-i", inventory])
    assert result.rc == 0, result.output[-4000:]
    key = key_file.read_text().strip()
    assert len(key) == 44 and "KEY=[%s]" % key in result.output
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    # A rerun reads the same key (the servers are not searched again).
    result = run_playbook(_encrypt_playbook(key_file), args=["-i", inventory])
    assert result.rc == 0, result.output[-4000:]
    assert "KEY=[%s]" % key in result.output and key_file.read_text().strip() == key


@pytest.mark.parametrize("where", ["keyring", "json", "hcl"])
def test_an_existing_cluster_key_is_never_replaced(cluster, where):
    tmp, inventory = cluster
    if where == "keyring":
        (tmp / "server2" / "data" / "serf").mkdir()
        (tmp / "server2" / "data" / "serf" / "local.keyring").write_text('["%s"]' % KEY)
        found = str(tmp / "server2" / "data" / "serf" / "local.keyring")
    elif where == "json":
        (tmp / "server3" / "consul.d" / "agent.json").write_text(json.dumps({"encrypt": KEY}, indent=2))
        found = str(tmp / "server3" / "consul.d" / "agent.json")
    else:
        (tmp / "server3" / "consul.d" / "gossip.hcl").write_text('encrypt = "%s"\n' % KEY)
        found = str(tmp / "server3" / "consul.d" / "gossip.hcl")
    key_file = tmp / "controller" / "consul_encrypt_key"
    result = run_playbook(_encrypt_playbook(key_file), args=["-i", inventory])
    assert result.rc != 0
    assert "does not exist on this controller, but the cluster already has a gossip key" in result.output
    assert found in result.output
    assert not key_file.exists()


def test_an_unreachable_host_stops_the_key_creation(cluster):
    tmp, _cluster = cluster
    inventory = _inventory(tmp / "inventory-unreachable.json", {
        "server1": {"consul_data_dir": str(tmp / "server1" / "data"), "consul_config_dir": str(tmp / "server1" / "consul.d")},
        "server2": {"ansible_connection": "ssh", "ansible_host": "192.0.2.1", "ansible_ssh_common_args": "-o ConnectTimeout=1"},
    })
    key_file = tmp / "controller" / "consul_encrypt_key"
    result = run_playbook(_encrypt_playbook(key_file), args=["-i", inventory], timeout=120)
    assert result.rc != 0
    assert "could not be searched for an existing gossip keyring" in result.output
    assert "server2" in result.output
    assert not key_file.exists()


def test_a_given_key_skips_the_search(cluster):
    tmp, inventory = cluster
    (tmp / "server2" / "data" / "serf").mkdir()
    (tmp / "server2" / "data" / "serf" / "local.keyring").write_text('["%s"]' % KEY)
    key_file = tmp / "consul_encrypt_key"
    key_file.write_text(KEY + "\n")
    result = run_playbook(_encrypt_playbook(key_file), args=["-i", inventory])
    assert result.rc == 0, result.output[-4000:]
    assert "KEY=[%s]" % KEY in result.output
