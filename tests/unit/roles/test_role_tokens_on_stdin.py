"""The roles give ACL tokens to their helpers on stdin only, never in a task's ``environment:`` (which
Ansible puts on the remote command line, visible in ps) nor in Ansible's output at -vvv.

On localhost with fake helpers that record what they get: the consul role's ACL tasks (the management
token, then the spec) and the consul_service role's token creation (the management token, then its
spec) and reload (the API token). The roll of restarts is covered by test_consul_restart_helper.
"""

import grp
import json
import os

from tests.playbook import run_playbook

MANAGEMENT = "5a1b2c3d-0000-4000-8000-management00"
API = "5a1b2c3d-0000-4000-8000-apitoken0000"

# Records its stdin, its environment and its ancestors' command lines up to ansible-playbook; answers
# as consul-acl-ensure does (a service token when asked for one).
FAKE = r'''#!/bin/sh
name=$(basename "$0")
cat > "$OUT/$name.stdin"
env > "$OUT/$name.env"
pid=$$
while [ "$pid" -gt 1 ]; do
  tr '\0' ' ' < /proc/$pid/cmdline >> "$OUT/$name.cmdlines"; echo >> "$OUT/$name.cmdlines"
  case "$(tr '\0' ' ' < /proc/$pid/cmdline)" in *ansible-playbook*) break ;; esac
  pid=$(awk '/^PPid:/ {print $2}' /proc/$pid/status)
done
echo "$*" > "$OUT/$name.argv"
echo '{"changed": true, "actions": ["made"], "tokens": {"service": "made-service-token"}}'
'''


def _fakes(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    paths = {}
    for name in ("acl-helper", "reload-helper"):
        path = tmp_path / name
        path.write_text(FAKE)
        path.chmod(0o755)
        paths[name] = str(path)
    return out, paths


def _recorded(out, name):
    return {kind: (out / ("%s.%s" % (name, kind))).read_text() for kind in ("stdin", "env", "cmdlines", "argv")}


def _assert_only_on_stdin(record, token, output):
    assert token not in record["env"] and token not in record["cmdlines"] and token not in record["argv"]
    assert "ansible-playbook" in record["cmdlines"]
    assert token not in output


def test_consul_role_acl_helper_gets_the_management_token_on_stdin(tmp_path):
    out, fakes = _fakes(tmp_path)
    role_vars = {"consul_acl_enable": True, "consul_acl_initial_management_token": MANAGEMENT,
                 "_consul_acl_helper": fakes["acl-helper"], "_consul_acl_phase": "before"}
    plays = [{"hosts": "localhost", "gather_facts": False, "environment": {"OUT": str(out)}, "tasks": [
        {"name": "ACL tasks", "ansible.builtin.include_role": {
            "name": "geant.consul_dns.consul", "tasks_from": "acl_tokens.yml"}, "vars": role_vars}]}]
    result = run_playbook(json.dumps(plays), args=["-vvv"])
    assert result.rc == 0, result.output[-4000:]
    record = _recorded(out, "acl-helper")
    token_line, spec = record["stdin"].split("\n", 1)
    assert token_line == MANAGEMENT
    assert [policy["name"] for policy in json.loads(spec)["policies"]][0] == "consul-dns-agent-localhost"
    assert record["argv"].split() == ["--token-stdin"]
    _assert_only_on_stdin(record, MANAGEMENT, result.output)


def test_consul_service_role_gives_its_helpers_the_tokens_on_stdin(tmp_path):
    out, fakes = _fakes(tmp_path)
    config_dir = tmp_path / "consul.d"
    config_dir.mkdir()
    role_vars = {"consul_service_name": "crowd", "consul_service_port": 8095,
                 "consul_service_checks": [{"tcp": "127.0.0.1:8095", "interval": "10s"}],
                 "consul_service_acl_token_create": True, "consul_service_acl_management_token": MANAGEMENT,
                 "consul_service_api_token": API, "consul_service_acl_helper": fakes["acl-helper"],
                 "consul_service_reload_helper": fakes["reload-helper"], "consul_service_node_name": "node1",
                 "consul_service_config_dir": str(config_dir), "consul_service_validate": False,
                 "consul_service_file_group": grp.getgrgid(os.getgid()).gr_name}
    plays = [{"hosts": "localhost", "gather_facts": False, "environment": {"OUT": str(out)}, "tasks": [
        {"name": "Register crowd", "ansible.builtin.include_role": {"name": "geant.consul_dns.consul_service"},
         "vars": role_vars}]}]
    result = run_playbook(json.dumps(plays), args=["-vvv"])
    assert result.rc == 0, result.output[-4000:]
    made = _recorded(out, "acl-helper")
    token_line, spec = made["stdin"].split("\n", 1)
    assert token_line == MANAGEMENT
    assert json.loads(spec)["tokens"] == [{"key": "service", "description": "geant.consul_dns: service crowd on node node1",
                                           "policies": ["consul-dns-service-crowd"]}]
    assert json.loads(spec)["policies"][0]["rules"] == 'service "crowd" { policy = "write" }'
    _assert_only_on_stdin(made, MANAGEMENT, result.output)
    reloaded = _recorded(out, "reload-helper")
    assert reloaded["stdin"].strip() == API and reloaded["argv"].split() == ["--token-stdin"]
    _assert_only_on_stdin(reloaded, API, result.output)
    # The definition carries the token the helper made.
    assert json.loads((config_dir / "service-crowd.json").read_text())["service"]["token"] == "made-service-token"
