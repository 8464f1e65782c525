"""The consul role's agent configuration, rendered by Ansible for several Consul versions.

Every case renders ``roles/consul/templates/agent.json.j2`` with the role's ``defaults/main.yml`` and
``vars/main.yml`` (one ansible-playbook run for all of them, localhost, nothing installed), then the
JSON is checked against the layout each Consul version expects: TLS as top-level keys up to 1.11,
the ``tls`` block from 1.12 (where Consul's own mapping of the deprecated keys puts them, see
agent/config/deprecated.go), ``ports.grpc_tls`` from 1.14. The 1.8.7 renderings are also given to
the real Consul 1.8.7 (``consul validate``, with certificates made by ``consul tls``).
"""

import json
import subprocess

import pytest

from tests.playbook import REPO_ROOT, run_playbook

ROLE = REPO_ROOT / "roles" / "consul"
KEY = "nc2xsL/pPG2oPdx1J+WknAehPasrbDHlh9+1m2EBRrI="
TLS = {"consul_tls_enable": True, "consul_tls_ca_file": "ca.pem", "consul_tls_cert_file": "agent.pem",
       "consul_tls_key_file": "agent-key.pem"}
DEPRECATED_TLS_KEYS = {"ca_file", "ca_path", "cert_file", "key_file", "verify_incoming", "verify_incoming_rpc",
                       "verify_incoming_https", "verify_outgoing", "verify_server_hostname", "tls_min_version",
                       "tls_cipher_suites"}

# case name -> task vars (over the role defaults)
CASES = {
    "default": {},
    "1.8.7": {"consul_version": "1.8.7"},
    "1.8.7-tls": dict(TLS, consul_version="1.8.7"),
    "1.8.7-tls-client": dict(TLS, consul_version="1.8.7", consul_server=False),
    "1.12.0": {"consul_version": "1.12.0"},
    "1.12.0-tls": dict(TLS, consul_version="1.12.0"),
    "1.13.9": {"consul_version": "1.13.9"},
    "1.13.9-tls": dict(TLS, consul_version="1.13.9"),
    "1.14.0": {"consul_version": "1.14.0"},
    "1.14.0-tls": dict(TLS, consul_version="1.14.0"),
    "1.20.6": {"consul_version": "1.20.6"},
    "1.20.6-tls": dict(TLS, consul_version="1.20.6"),
    "1.20.6-tls-client": dict(TLS, consul_version="1.20.6", consul_server=False),
    "1.20.6-tls-verify-all": dict(TLS, consul_version="1.20.6", consul_tls_verify_incoming=True,
                                  consul_tls_verify_incoming_rpc=False, consul_tls_verify_incoming_grpc=True,
                                  consul_ports_grpc_tls=8513),
    "1.20.6-tls-no-hostname": dict(TLS, consul_version="1.20.6", consul_tls_verify_server_hostname=False),
    "default-tls": dict(TLS),
    "1.8.7-acl": {"consul_version": "1.8.7", "consul_acl_enable": True, "consul_acl_default_policy": "deny",
                  "consul_acl_initial_management_token": "00000000-0000-4000-8000-000000000001"},
    "1.20.6-acl": {"consul_version": "1.20.6", "consul_acl_enable": True, "consul_acl_default_policy": "deny",
                   "consul_acl_initial_management_token": "00000000-0000-4000-8000-000000000001"},
}

# case name -> task vars: agent-startup.json (settings read at start only)
STARTUP_CASES = {
    "server": {"consul_server": True},
    "client": {"consul_server": False},
}

# case name -> task vars: the API URL the role's helpers use
URL_CASES = {
    "loopback": {},
    "wildcard-v4": {"consul_client_address": "0.0.0.0"},
    "wildcard-v6": {"consul_client_address": "::"},
    "v6-loopback": {"consul_client_address": "::1"},
    "v6-https-only": {"consul_client_address": "2001:db8::10", "consul_ports_http": -1, "consul_ports_https": 8501},
    "v6-bracketed": {"consul_client_address": "[::1]"},
    "list": {"consul_client_address": "::1 192.0.2.10"},
    "v4": {"consul_client_address": "192.0.2.10", "consul_ports_http": 18500},
}

INVENTORY = {
    "all": {
        "hosts": {"localhost": {"ansible_connection": "local"}},
        "children": {"consul_servers": {"hosts": {
            "server1": {"ansible_host": "192.0.2.1"},
            "server2": {"ansible_host": "192.0.2.2"},
            "server3": {"consul_join_address": "2001:db8::3"},
        }}},
    }
}


def _playbook(out):
    """One play: every case rendered on the controller (template lookup, set_fact), written once as JSON."""
    template = str(ROLE / "templates" / "agent.json.j2")
    tasks = []
    for name, case_vars in CASES.items():
        tasks.append({
            "name": "Render %s" % name,
            "ansible.builtin.set_fact": {"_configs": "{{ _configs | combine({%s: lookup('ansible.builtin.template', %s)}) }}"
                                         % (json.dumps(name), json.dumps(template))},
            "vars": dict({"_consul_encrypt_key_effective": KEY, "consul_server": True}, **case_vars),
        })
    startup = str(ROLE / "templates" / "agent-startup.json.j2")
    for name, case_vars in STARTUP_CASES.items():
        tasks.append({
            "name": "Render start-time settings %s" % name,
            "ansible.builtin.set_fact": {"_startup": "{{ _startup | combine({%s: lookup('ansible.builtin.template', %s)}) }}"
                                         % (json.dumps(name), json.dumps(startup))},
            "vars": case_vars,
        })
    for name, case_vars in URL_CASES.items():
        tasks.append({
            "name": "API URL %s" % name,
            "ansible.builtin.set_fact": {"_urls": "{{ _urls | combine({%s: _consul_api_url}) }}" % json.dumps(name)},
            "vars": case_vars,
        })
    tasks.append({"name": "Write the results", "ansible.builtin.copy": {
        "content": "{{ {'configs': _configs, 'urls': _urls, 'startup': _startup} | to_json }}",
        "dest": "%s/rendered.json" % out,
        "mode": "0600"}})
    play = {"hosts": "localhost", "gather_facts": False,
            "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
            "vars": {"_configs": {}, "_urls": {}, "_startup": {}},
            "tasks": tasks}
    return json.dumps([play])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("consul-render")
    inventory = out / "inventory.json"
    inventory.write_text(json.dumps(INVENTORY))
    result = run_playbook(_playbook(out), args=["-i", str(inventory)])
    assert result.rc == 0, result.output[-4000:]
    data = json.loads((out / "rendered.json").read_text())
    configs = {name: json.loads(text) if isinstance(text, str) else text for name, text in data["configs"].items()}
    assert sorted(configs) == sorted(CASES) and sorted(data["urls"]) == sorted(URL_CASES)
    startup = {name: json.loads(text) if isinstance(text, str) else text for name, text in data["startup"].items()}
    assert sorted(startup) == sorted(STARTUP_CASES)
    return configs, data["urls"], out, startup


def test_default_version_is_a_current_release(rendered):
    configs = rendered[0]
    # The default is a supported release: the 1.12+ layout, no 1.8-only keys.
    assert "ui_config" in configs["default"] and "ui" not in configs["default"]
    assert "tls" in configs["default-tls"]
    assert configs["default-tls"]["ports"]["grpc_tls"] == 8503


@pytest.mark.parametrize("name", ["1.8.7", "1.12.0", "1.13.9", "1.14.0", "1.20.6", "default"])
def test_without_tls_no_tls_settings(rendered, name):
    config = rendered[0][name]
    assert "tls" not in config
    assert not DEPRECATED_TLS_KEYS & set(config)
    assert config["encrypt"] == KEY


def test_1_8_7_keeps_the_top_level_keys(rendered):
    config = rendered[0]["1.8.7-tls"]
    assert "tls" not in config
    assert "grpc_tls" not in config["ports"]
    assert {k: config[k] for k in DEPRECATED_TLS_KEYS & set(config)} == {
        "ca_file": "/etc/consul.d/tls/ca.pem",
        "cert_file": "/etc/consul.d/tls/agent.pem",
        "key_file": "/etc/consul.d/tls/agent-key.pem",
        "verify_incoming": False,
        "verify_incoming_rpc": True,
        "verify_incoming_https": False,
        "verify_outgoing": True,
        "verify_server_hostname": True,
    }
    assert isinstance(config["ui"], bool)
    assert "ui_config" not in config


@pytest.mark.parametrize("name", ["1.12.0-tls", "1.13.9-tls", "1.14.0-tls", "1.20.6-tls", "1.20.6-tls-client",
                                  "default-tls"])
def test_from_1_12_the_tls_block(rendered, name):
    config = rendered[0][name]
    assert not DEPRECATED_TLS_KEYS & set(config), "deprecated top-level TLS keys rendered"
    assert config["tls"] == {
        "defaults": {
            "ca_file": "/etc/consul.d/tls/ca.pem",
            "cert_file": "/etc/consul.d/tls/agent.pem",
            "key_file": "/etc/consul.d/tls/agent-key.pem",
            "verify_incoming": False,
            "verify_outgoing": True,
        },
        "internal_rpc": {"verify_incoming": True, "verify_server_hostname": True},
        "https": {"verify_incoming": False},
        "grpc": {"verify_incoming": False},
    }


@pytest.mark.parametrize("name,port", [("1.8.7-tls", None), ("1.12.0", None), ("1.12.0-tls", None),
                                       ("1.13.9", None), ("1.13.9-tls", None),
                                       ("1.14.0", -1), ("1.14.0-tls", 8503), ("1.20.6", -1), ("1.20.6-tls", 8503),
                                       ("1.20.6-tls-client", 8503), ("1.20.6-tls-verify-all", 8513)])
def test_grpc_tls_port_from_1_14_with_tls(rendered, name, port):
    assert rendered[0][name]["ports"].get("grpc_tls") == port
    assert rendered[0][name]["ports"]["grpc"] == -1


def test_verify_incoming_keeps_its_pre_1_12_meaning(rendered):
    tls = rendered[0]["1.20.6-tls-verify-all"]["tls"]
    assert tls["defaults"]["verify_incoming"] is True
    assert tls["internal_rpc"]["verify_incoming"] is True  # verify_incoming wins over verify_incoming_rpc=false
    assert tls["https"]["verify_incoming"] is True
    assert tls["grpc"]["verify_incoming"] is True


def test_server_hostname_verification_can_be_turned_off(rendered):
    assert rendered[0]["1.20.6-tls-no-hostname"]["tls"]["internal_rpc"]["verify_server_hostname"] is False


def test_server_and_client_settings(rendered):
    configs = rendered[0]
    server, client = configs["1.20.6-tls"], configs["1.20.6-tls-client"]
    assert server["server"] is True and client["server"] is False
    # No agent leaves on a stop or restart (a client that leaves takes its services out of DNS).
    for config in (server, client):
        assert config["leave_on_terminate"] is False and config["skip_leave_on_interrupt"] is True


@pytest.mark.parametrize("name", sorted(CASES))
def test_start_time_settings_are_not_in_the_restart_file(rendered, name):
    """retry_join, retry_interval and bootstrap_expect changing must not restart the fleet."""
    assert not {"retry_join", "retry_interval", "bootstrap_expect", "start_join"} & set(rendered[0][name])


def test_start_time_settings_file(rendered):
    startup = rendered[3]
    assert startup["server"] == {"bootstrap_expect": 3, "retry_interval": "5s",
                                 "retry_join": ["192.0.2.1", "192.0.2.2", "2001:db8::3"]}
    assert startup["client"] == {"retry_interval": "5s", "retry_join": ["192.0.2.1", "192.0.2.2", "2001:db8::3"]}


@pytest.mark.parametrize("name,ui_key", [("1.8.7-acl", "ui"), ("1.20.6-acl", "ui_config")])
def test_renamed_settings_follow_the_version(rendered, name, ui_key):
    config = rendered[0][name]
    assert ui_key in config and ({"ui", "ui_config"} - {ui_key}).isdisjoint(config)
    assert config["acl"]["default_policy"] == "deny"


@pytest.mark.parametrize("name", ["1.8.7-acl", "1.20.6-acl"])
def test_management_token_is_not_in_the_agent_config(rendered, name):
    """consul_acl_initial_management_token is set up through the API (tasks/acl_bootstrap.yml), never
    rendered: no acl.tokens in agent.json (master / initial_management) of a server."""
    config = rendered[0][name]
    assert "tokens" not in config["acl"]
    assert "00000000-0000-4000-8000-000000000001" not in json.dumps(config)


@pytest.mark.parametrize("name,url", [
    ("loopback", "http://127.0.0.1:8500"),
    ("wildcard-v4", "http://127.0.0.1:8500"),
    ("wildcard-v6", "http://127.0.0.1:8500"),
    ("v6-loopback", "http://[::1]:8500"),
    ("v6-https-only", "https://[2001:db8::10]:8501"),
    ("v6-bracketed", "http://[::1]:8500"),
    ("list", "http://[::1]:8500"),
    ("v4", "http://192.0.2.10:18500"),
])
def test_api_url_brackets_ipv6(rendered, name, url):
    assert rendered[1][name] == url


@pytest.mark.consul
@pytest.mark.parametrize("name", ["1.8.7", "1.8.7-tls", "1.8.7-tls-client", "1.8.7-acl"])
def test_consul_1_8_7_accepts_the_rendering(rendered, name, tmp_path):
    """`consul validate` of the real 1.8.7 on the rendered file, with TLS files made by `consul tls`."""
    from tests.consul_testbed.agent import consul_binary

    consul = consul_binary()
    config = rendered[0][name]
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    subprocess.run([consul, "tls", "ca", "create"], cwd=str(tls_dir), check=True, capture_output=True)
    subprocess.run([consul, "tls", "cert", "create", "-server"], cwd=str(tls_dir), check=True, capture_output=True)
    (tls_dir / "consul-agent-ca.pem").rename(tls_dir / "ca.pem")
    (tls_dir / "dc1-server-consul-0.pem").rename(tls_dir / "agent.pem")
    (tls_dir / "dc1-server-consul-0-key.pem").rename(tls_dir / "agent-key.pem")
    for key in ("ca_file", "cert_file", "key_file"):
        if key in config:
            config[key] = str(tls_dir / config[key].rsplit("/", 1)[1])
    config["data_dir"] = str(tmp_path / "data")
    config["bind_addr"] = "127.0.0.1"  # 0.0.0.0 fails validation on a machine with several private addresses
    config_dir = tmp_path / "consul.d"
    config_dir.mkdir()
    (config_dir / "agent.json").write_text(json.dumps(config))
    (config_dir / "agent-startup.json").write_text(json.dumps(rendered[3]["server" if config["server"] else "client"]))
    proc = subprocess.run([consul, "validate", str(config_dir)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Configuration is valid!" in proc.stdout
