"""Role geant.consul_dns.zone_sync: its install part on localhost (all paths in a temporary folder),
then the wrapper it installed runs one real sync against a dev agent, with the collection the role
copied (zone_sync_collection_install: copy, one bundle unpacked behind a symlink). The schedule
itself (systemd timer / cron) needs a system to own and is left to a Molecule scenario."""

import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.playbook import REPO_ROOT, run_playbook

pytestmark = [pytest.mark.consul, pytest.mark.slow]

TOKEN = "Zq8-unique-consul-token"
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Install the zone sync
      ansible.builtin.include_role:
        name: geant.consul_dns.zone_sync
        tasks_from: install.yml
"""


def collection_source(tmp):
    """A copy of this checkout's plugins, playbooks and meta (the role's copy source), to edit."""
    source = tmp / "source"
    for part in ("plugins", "playbooks", "meta"):
        shutil.copytree(REPO_ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return source


def role_vars(tmp, consul_url):
    return {
        # The job user is whoever runs the tests (no system user is made on this machine).
        "zone_sync_user": pwd.getpwuid(os.getuid()).pw_name,
        "zone_sync_group": grp.getgrgid(os.getgid()).gr_name,
        "zone_sync_create_user": False,
        "zone_sync_config_dir": str(tmp / "etc"),
        "zone_sync_install_dir": str(tmp / "opt"),
        "zone_sync_state_dir": str(tmp / "var"),
        "zone_sync_log_file": str(tmp / "log" / "sync.log"),
        "zone_sync_wrapper": str(tmp / "bin" / "consul-dns-zone-sync"),
        "zone_sync_logrotate": False,
        "zone_sync_python_install": "system",
        "zone_sync_ansible_playbook": str(Path(sys.executable).parent / "ansible-playbook"),
        "zone_sync_collection_install": "copy",
        "zone_sync_collection_source": str(collection_source(tmp)),
        "zone_sync_settings": {
            "consul_dns_consul_address": consul_url,
            "consul_dns_zones": [{"name": "geant.services", "nameservers": ["ns1.geant.net."]}],
            "consul_dns_zone_dir": str(tmp / "zones"),
            "consul_dns_zone_validate": "never",
            "consul_dns_lock_delay": 0,
            "consul_dns_lock_ttl": 10,
        },
        "zone_sync_secrets": {"consul_dns_consul_token": TOKEN},
    }


def test_role_installs_a_runnable_sync(consul_dev, tmp_path):
    (tmp_path / "bin").mkdir()
    consul_dev.register_service({"Name": "crowd", "ID": "crowd1", "Address": "1.1.1.10"})
    extra = role_vars(tmp_path, consul_dev.http_url)
    installed = run_playbook(PLAYBOOK, extra, args=["-v"])
    assert installed.rc == 0, installed
    assert TOKEN not in installed.output

    credentials = tmp_path / "etc" / "credentials.yml"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert TOKEN in credentials.read_text()
    assert stat.S_IMODE((tmp_path / "etc" / "zone_sync.yml").stat().st_mode) == 0o640

    link = tmp_path / "opt" / "collections" / "ansible_collections" / "geant" / "consul_dns"
    assert link.is_symlink() and (link / "plugins" / "modules" / "zone_sync.py").read_bytes() == \
        (REPO_ROOT / "plugins" / "modules" / "zone_sync.py").read_bytes()
    assert not list(link.rglob("__pycache__"))

    again = run_playbook(PLAYBOOK, extra, json_output=True)
    assert again.rc == 0 and json.loads(again.stdout)["stats"]["localhost"]["changed"] == 0, again

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # as cron would run it
    run = subprocess.run([extra["zone_sync_wrapper"]], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    log = (tmp_path / "log" / "sync.log").read_text()
    assert "zone sync start" in log and "zone sync end rc=0" in log
    assert TOKEN not in log
    assert "1.1.1.10" in (tmp_path / "zones" / "geant.services.zone").read_text()

    # The operator's --check by hand: same wrapper, arguments passed on.
    checked = subprocess.run([extra["zone_sync_wrapper"], "--check"], env=env, capture_output=True, text=True,
                             timeout=300, check=False)
    assert checked.returncode == 0 and "changed=0" in checked.stdout, checked.stdout
