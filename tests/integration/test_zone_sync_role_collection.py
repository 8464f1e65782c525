"""Role geant.consul_dns.zone_sync, its copy of the collection (tasks/collection.yml, part of install.yml) on
localhost, all paths in a temporary folder: one bundle unpacked behind a symlink, switched when the
controller's collection changes, --check changing nothing, a second run changing nothing, a folder copied
by release 0.1.0 replaced. tests/integration/test_zone_sync_role.py runs the whole install with it."""

import json
import os
from pathlib import Path

import pytest

from tests.integration.test_zone_sync_role import role_vars
from tests.playbook import run_playbook

pytestmark = [pytest.mark.slow]

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Copy the collection
      ansible.builtin.include_role:
        name: geant.consul_dns.zone_sync
        tasks_from: collection.yml
"""


def bundles(tmp):
    return sorted(path.name for path in (tmp / "opt" / "collection-bundles").iterdir())


def test_copy_switches_to_a_new_bundle_and_replaces_an_old_copy(tmp_path):
    """A changed source: a new bundle behind the link, the one before kept until the next switch; --check first
    changes nothing.
    A collection path that is a folder (what release 0.1.0 copied) is replaced by the link."""
    (tmp_path / "bin").mkdir()
    extra = role_vars(tmp_path, "http://127.0.0.1:1")
    link = tmp_path / "opt" / "collections" / "ansible_collections" / "geant" / "consul_dns"
    (link / "plugins").mkdir(parents=True)
    (link / "plugins" / "left-by-0.1.0.py").write_text("# the old copy\n")

    first = run_playbook(PLAYBOOK, extra)
    assert first.rc == 0, first
    assert link.is_symlink() and not (link / "plugins" / "left-by-0.1.0.py").exists()
    old = bundles(tmp_path)
    assert len(old) == 2 and old[1] == old[0] + ".tar.gz"

    marker = Path(extra["zone_sync_collection_source"]) / "playbooks" / "zone_sync.yml"
    marker.write_text(marker.read_text() + "# changed on the controller\n")

    checked = run_playbook(PLAYBOOK, extra, args=["--check"], json_output=True)
    assert checked.rc == 0, checked
    assert bundles(tmp_path) == old and os.readlink(str(link)).endswith(old[0])

    changed = run_playbook(PLAYBOOK, extra)
    assert changed.rc == 0, changed
    target = os.path.basename(os.readlink(str(link)))
    assert target != old[0]
    # The new bundle and its file, and the previous bundle (a running sync may still read it).
    assert bundles(tmp_path) == sorted([target, target + ".tar.gz", old[0], "previous"])
    assert (link / "playbooks" / "zone_sync.yml").read_text().endswith("# changed on the controller\n")

    marker.write_text(marker.read_text() + "# changed again\n")
    third = run_playbook(PLAYBOOK, extra)
    assert third.rc == 0, third
    latest = os.path.basename(os.readlink(str(link)))
    assert bundles(tmp_path) == sorted([latest, latest + ".tar.gz", target, "previous"])

    again = run_playbook(PLAYBOOK, extra, json_output=True)
    assert again.rc == 0 and json.loads(again.stdout)["stats"]["localhost"]["changed"] == 0, again
