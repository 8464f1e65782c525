"""`ansible-galaxy collection build` makes a tarball that installs and works on its own.

The tarball is built and installed into a fresh collections path once per module (fixture
``installed_collection``); every test runs Ansible with ANSIBLE_COLLECTIONS_PATH = that path only.
"""

import json
import os
import subprocess
import sys
import tarfile
from collections import namedtuple

import pytest

from tests.integration.zone_sync_bed import SyncBed, nios_addresses, nios_create_zone
from tests.playbook import BIN, REPO_ROOT, PlaybookResult, run_playbook

pytestmark = [pytest.mark.consul, pytest.mark.slow]

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Write the zone from Consul with the installed collection
      geant.consul_dns.zone_file:
        path: "{{ zone_path }}"
        zone: geant.services
        records: "{{ lookup('geant.consul_dns.consul_zone', 'geant.services', consul_address=consul_url, wantlist=True) }}"
        nameservers: [ns1.geant.net.]
        hostmaster: hostmaster@geant.org
"""

ZONE = "geant.services"

Installed = namedtuple("Installed", "tarball collections root")


@pytest.fixture(scope="module")
def installed_collection(tmp_path_factory):
    """The collection built from this checkout and installed into a fresh collections path."""
    tmp = tmp_path_factory.mktemp("collection-build")
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp), str(REPO_ROOT)],
                   check=True, capture_output=True, text=True)
    tarball = next(tmp.glob("geant-consul_dns-*.tar.gz"))
    collections = tmp / "collections"
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--force", str(tarball), "-p", str(collections)],
                   check=True, capture_output=True, text=True)
    return Installed(tarball, collections, collections / "ansible_collections" / "geant" / "consul_dns")


def test_built_collection_installs_and_runs(installed_collection, tmp_path, consul_dev):
    names = tarfile.open(installed_collection.tarball).getnames()
    assert "plugins/modules/zone_file.py" in names and "plugins/lookup/consul_zone.py" in names
    assert "playbooks/zone_sync.yml" in names
    assert not [n for n in names if n.startswith((".cache", ".venv", ".git/"))]

    consul_dev.register_service({"Name": "crowd", "Address": "1.1.1.10"})
    zone_path = tmp_path / "geant.services.zone"
    result = run_playbook(PLAYBOOK, {"zone_path": str(zone_path), "consul_url": consul_dev.http_url},
                          env={"ANSIBLE_COLLECTIONS_PATH": str(installed_collection.collections)}, args=["-vvv"])
    assert result.rc == 0, result.output[-3000:]
    assert str(installed_collection.root) in result.output  # the installed copy ran
    assert "crowd 300 IN A 1.1.1.10" in zone_path.read_text()


def test_tarball_leaves_out_development_files_and_carries_the_license(installed_collection):
    """build_ignore keeps the benchmark, the helper scripts and the Molecule scenarios out (issue #13); the
    GPL-3.0-or-later text that galaxy.yml declares is in."""
    names = tarfile.open(installed_collection.tarball).getnames()
    for folder in ("bench", "scripts", "extensions", "build", ".ansible", "tests/output"):
        assert not [n for n in names if n == folder or n.startswith(folder + "/")], folder
    assert "roles/consul/tasks/main.yml" in names and "roles/consul_service/tasks/main.yml" in names
    assert "LICENSE" in names
    license_text = (installed_collection.root / "LICENSE").read_text()
    assert "GNU GENERAL PUBLIC LICENSE" in license_text and "Version 3, 29 June 2007" in license_text
    manifest = json.loads((installed_collection.root / "MANIFEST.json").read_text())
    assert manifest["collection_info"]["license"] == ["GPL-3.0-or-later"]


def run_installed_playbook(installed, fqcn, extra_vars, cwd):
    """``ansible-playbook FQCN`` with only ``installed``'s collections path and a minimal config, outside the
    checkout (no repository ansible.cfg, no .cache/collections symlink), localhost on this interpreter."""
    config = cwd / "ansible.cfg"
    config.write_text("[defaults]\nretry_files_enabled = false\ninterpreter_python = auto_silent\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(config), ANSIBLE_COLLECTIONS_PATH=str(installed.collections),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default")
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-e", "ansible_python_interpreter=%s" % sys.executable,
           "-e", json.dumps(extra_vars), "-vv", fqcn]
    proc = subprocess.run(cmd, cwd=str(cwd), env=env, capture_output=True, text=True, check=False, timeout=300)
    return PlaybookResult(proc)


def test_zone_sync_playbook_runs_from_the_installed_collection(installed_collection, consul_dev, wapi_simulator, tmp_path):
    """Issue #7: a smoke run of zone_sync.yml, addressed by FQCN, from the installed copy (lock, damped
    records, zone file, Infoblox push)."""
    nios_create_zone(wapi_simulator, ZONE)
    consul_dev.register_service({"Name": "crowd", "ID": "crowd1", "Address": "1.1.1.10",
                                 "Check": {"CheckID": "crowd1", "TTL": "10m", "Status": "passing"}})
    zones = [{"name": ZONE, "nameservers": ["ns1.geant.net."], "hostmaster": "hostmaster@geant.org"}]
    sync = SyncBed(consul_dev.http_url, tmp_path, zones, nios=wapi_simulator, consul_dns_hold_down=0)

    result = run_installed_playbook(installed_collection, "geant.consul_dns.zone_sync", sync.extra(), tmp_path)
    assert result.rc == 0, result.output[-4000:]
    assert "failed=0" in result.stdout
    # The play's tasks came from the installed copy (-vv prints each task's path) and nothing from the checkout.
    assert "task path: %s" % (installed_collection.root / "playbooks" / "zone_sync.yml") in result.stdout
    assert "ansible collection location = %s" % installed_collection.collections in result.stdout
    assert not [line for line in result.output.splitlines()
                if str(REPO_ROOT) in line and str(REPO_ROOT / ".venv") not in line]
    assert "1.1.1.10" in (sync.zone_text(ZONE) or "")
    assert nios_addresses(wapi_simulator, ZONE) == {"crowd.geant.services": ["1.1.1.10"]}
    assert consul_dev.api("GET", "/v1/session/list") == []  # the lock was given back
