"""The consul role's ACL tasks on localhost (no agent; a fake consul binary records any call).

- consul_acl_bootstrap with a token file whose folder is missing: the role fails before `consul acl
  bootstrap` runs (the management token would be lost), naming the folder, not hidden by no_log.
- --check on a fresh controller (no token file): no failure; the run says it would bootstrap, and which
  policies it would create, and nothing is run.
- The zone_sync role writes the token the consul role made (fact consul_zone_sync_consul_token) to the
  job's credentials, unless zone_sync_secrets has one.
"""

import json

import yaml

from tests.playbook import REPO_ROOT, run_playbook


def _setup(tmp_path):
    marker = tmp_path / "consul-was-called"
    fake = tmp_path / "consul"
    fake.write_text("#!/bin/sh\ntouch %s\nexit 1\n" % marker)
    fake.chmod(0o755)
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"children": {"consul_servers": {"hosts": {
        "server1": {"ansible_connection": "local"}}}}}}))
    return marker, fake, str(inventory)


def _playbook(fake, token_file, tasks_from="acl_bootstrap.yml", extra=None):
    role_vars = {"consul_acl_enable": True, "consul_acl_bootstrap": True, "consul_binary": str(fake),
                 "consul_acl_bootstrap_token_file": str(token_file), "_consul_acl_phase": "before",
                 "_consul_acl_helper": str(fake)}
    role_vars.update(extra or {})
    return json.dumps([{"hosts": "server1", "gather_facts": False, "tasks": [
        {"name": "ACL tasks", "ansible.builtin.include_role": {
            "name": "geant.consul_dns.consul", "tasks_from": tasks_from}, "vars": role_vars}]}])


def test_a_missing_token_folder_fails_before_the_bootstrap(tmp_path):
    marker, fake, inventory = _setup(tmp_path)
    token_file = tmp_path / "missing" / "management-token"
    result = run_playbook(_playbook(fake, token_file), args=["-i", inventory])
    assert result.rc != 0
    assert "its folder %s does not exist on the controller" % (tmp_path / "missing") in result.output
    assert "Nothing was bootstrapped" in result.output
    assert not marker.exists() and not token_file.exists()


def test_check_mode_on_a_fresh_controller_reports_the_bootstrap(tmp_path):
    marker, fake, inventory = _setup(tmp_path)
    token_file = tmp_path / "management-token"
    result = run_playbook(_playbook(fake, token_file), args=["-i", inventory, "--check"])
    assert result.rc == 0, result.output[-4000:]
    assert "check mode: a real run bootstraps the ACL system on server1" in result.output
    assert not marker.exists() and not token_file.exists()


def test_check_mode_reports_the_policies_it_would_create(tmp_path):
    marker, fake, inventory = _setup(tmp_path)
    result = run_playbook(_playbook(fake, tmp_path / "management-token", "acl_tokens.yml",
                                    {"consul_acl_zone_sync": True}), args=["-i", inventory, "--check"])
    assert result.rc == 0, result.output[-4000:]
    assert ("a real run creates (or finds) policies consul-dns-agent-server1, consul-dns-zone-sync-server1"
            in result.output)


def test_the_zone_sync_gets_the_token_the_consul_role_made(tmp_path):
    defaults = yaml.safe_load((REPO_ROOT / "roles" / "zone_sync" / "defaults" / "main.yml").read_text())
    variables = yaml.safe_load((REPO_ROOT / "roles" / "zone_sync" / "vars" / "main.yml").read_text())
    cases = {"made": ({}, "made-token"), "given": ({"consul_dns_consul_token": "given-token"}, "given-token"),
             "none": ({}, None)}
    tasks = []
    for name, (secrets, _want) in cases.items():
        tasks.append({"name": "Case %s" % name, "ansible.builtin.copy": {
            "content": "{{ _zone_sync_secrets | to_json }}", "dest": str(tmp_path / (name + ".json")), "mode": "0600"},
            "vars": dict(zone_sync_secrets=dict(secrets, consul_dns_infoblox_password="pw"),
                         zone_sync_consul_token=defaults["zone_sync_consul_token"],
                         _zone_sync_secrets=variables["_zone_sync_secrets"],
                         **({} if name == "none" else {"consul_zone_sync_consul_token": "made-token"}))})
    result = run_playbook(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    assert result.rc == 0, result.output[-4000:]
    for name, (_secrets, want) in cases.items():
        written = json.loads((tmp_path / (name + ".json")).read_text())
        assert written.get("consul_dns_consul_token") == want and written["consul_dns_infoblox_password"] == "pw"
