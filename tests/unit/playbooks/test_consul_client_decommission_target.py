"""consul_client_decommission refuses, before any host is touched, a consul_decommission that does not name
exactly one inventory host (a typo would otherwise match nothing and ansible-playbook would end with rc 0)."""

import re

import pytest

from tests.playbook import REPO_ROOT, run_playbook

PLAYBOOK = REPO_ROOT / "playbooks" / "consul_client_decommission.yml"
INVENTORY = """consul_servers:
  hosts: {consul-server01: {}}
consul_clients:
  hosts: {prod-crowd01: {}, prod-crowd02: {}}
"""


@pytest.mark.parametrize("extra_vars, message", [
    ({"consul_decommission": "prod-crowd09"}, "consul_decommission=prod-crowd09 matches 0 inventory hosts, not one."),
    ({"consul_decommission": "consul_clients"}, "consul_decommission=consul_clients matches 2 inventory hosts, not one."),
    ({}, "Name the node: -e consul_decommission=<inventory host>."),
])
def test_refused_unless_one_host_is_named(tmp_path, extra_vars, message):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INVENTORY)
    result = run_playbook("- ansible.builtin.import_playbook: %s\n" % PLAYBOOK, extra_vars=extra_vars,
                          args=("-i", str(inventory)))
    assert result.rc != 0, result
    assert message in result.output, result
    # Nothing ran on the inventory's hosts: the first play (localhost) stopped the playbook.
    assert re.findall(r"(?m)^(\S+)\s+: ok=", result.stdout) == ["localhost"], result
