"""The upgrade playbook's version-skip warning (playbooks/tasks/version_jump.yml), run by Ansible on localhost.

Consul's upgrade instructions: each upgrade should jump at most 2 major versions (its major versions are the
minor numbers, 1.12 -> 1.15 is three). The jump is measured from the oldest version an agent runs; an agent
newer than the target is warned about as a downgrade.
"""

import pytest
import yaml

from tests.playbook import REPO_ROOT, run_playbook

TASKS = REPO_ROOT / "playbooks" / "tasks" / "version_jump.yml"


def _run(running, target):
    playbook = [{"hosts": "localhost", "gather_facts": False, "vars": {"consul_version": target, "upgrade_versions": running},
                 "tasks": [{"name": "jump", "ansible.builtin.include_tasks": str(TASKS)},
                           {"name": "show", "ansible.builtin.debug": {"msg": "JUMP {{ upgrade_oldest }} {{ upgrade_jump }}"}}]}]
    result = run_playbook(yaml.safe_dump(playbook))
    assert result.rc == 0, result
    return result.stdout


@pytest.mark.parametrize("running, target, oldest, jump, warned", [
    (["1.8.7", "1.8.7"], "1.8.7", "1.8.7", 0, False),
    (["1.10.3"], "1.12.1", "1.10.3", 2, False),
    (["1.13.0", "1.12.3", "1.14.2"], "1.15.0", "1.12.3", 3, True),
    (["1.9.17", "1.22.6"], "1.22.6", "1.9.17", 13, True),
    (["v1.8.7-dev"], "1.10.12", "1.8.7", 2, False),
])
def test_jump_from_the_oldest_agent(running, target, oldest, jump, warned):
    out = _run(running, target)
    assert "JUMP %s %s" % (oldest, jump) in out
    assert ("WARNING: Consul %s -> %s jumps %s major versions" % (oldest, target, jump) in out) is warned


@pytest.mark.parametrize("running, target, warned", [
    (["1.8.7", "1.9.1"], "1.9.0", True),
    (["1.9.0", "1.8.7"], "1.9.0", False),
    (["1.10.12"], "1.10.12", False),
])
def test_downgrade_warning(running, target, warned):
    out = _run(running, target)
    assert ("WARNING: an agent runs Consul %s, newer than consul_version %s" % (max(running), target) in out) is warned
