"""`ansible-galaxy collection build` makes a tarball that installs and works on its own."""

import subprocess
import tarfile

import pytest

from tests.playbook import BIN, REPO_ROOT, run_playbook

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


def test_built_collection_installs_and_runs(tmp_path, consul_dev):
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), str(REPO_ROOT)],
                   check=True, capture_output=True, text=True)
    tarball = next(tmp_path.glob("geant-consul_dns-*.tar.gz"))
    names = tarfile.open(tarball).getnames()
    assert "plugins/modules/zone_file.py" in names and "plugins/lookup/consul_zone.py" in names
    assert not [n for n in names if n.startswith((".cache", ".venv", ".git/"))]
    collections = tmp_path / "collections"
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--force", str(tarball), "-p", str(collections)],
                   check=True, capture_output=True, text=True)

    consul_dev.register_service({"Name": "crowd", "Address": "1.1.1.10"})
    zone_path = tmp_path / "geant.services.zone"
    result = run_playbook(PLAYBOOK, {"zone_path": str(zone_path), "consul_url": consul_dev.http_url},
                          env={"ANSIBLE_COLLECTIONS_PATH": str(collections)}, args=["-vvv"])
    assert result.rc == 0, result.output[-3000:]
    assert str(collections / "ansible_collections" / "geant" / "consul_dns") in result.output  # the installed copy ran
    assert "crowd 300 IN A 1.1.1.10" in zone_path.read_text()
