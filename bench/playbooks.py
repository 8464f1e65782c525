"""Playbooks run by ``ansible-playbook`` (a subprocess, localhost, this interpreter), timed whole.

- ``ZONE_SYNC``: the collection's playbook ``geant.consul_dns.zone_sync`` run by name, as documented
  (``ansible-playbook geant.consul_dns.zone_sync -e @vars``): one task, the action plugin running the
  sync engine;
- ``STARTUP``: one ``ansible.builtin.ping`` task: what any one-task playbook pays before it starts;
- ``INFOBLOX_ZONE_SYNC``: the module ``infoblox_zone_sync`` with a given record list (the side-by-side);
- ``NIOS_LOOP``: the way records are pushed today: a loop of ``infoblox.nios_modules.nios_a_record``,
  one task run (one module process, its own WAPI session) per record.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import COLLECTIONS, REPO_ROOT

ZONE_SYNC = "geant.consul_dns.zone_sync"

STARTUP = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""

INFOBLOX_ZONE_SYNC = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Sync
      geant.consul_dns.infoblox_zone_sync:
        server: "{{ nios_host }}"
        username: admin
        password: infoblox
        ca_path: "{{ nios_ca }}"
        zone: "{{ zone }}"
        records: "{{ records }}"
"""

NIOS_LOOP = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Records
      infoblox.nios_modules.nios_a_record:
        name: "{{ item.fqdn }}"
        ipv4addr: "{{ item.value }}"
        ttl: "{{ item.ttl }}"
        extattrs: {ManagedBy: geant.consul_dns}
        state: present
        provider:
          host: "{{ nios_host }}"
          username: admin
          password: infoblox
          validate_certs: true
      loop: "{{ records }}"
      loop_control:
        label: "{{ item.fqdn }} {{ item.value }}"
"""


def timed(playbook, nios, extra_vars):
    """Run ``playbook`` (YAML text, or a collection playbook's name such as ``ZONE_SYNC``) with
    ``extra_vars`` (``-e @file``); returns seconds. Fails loudly when the playbook fails."""
    # nios_modules' validate_certs is a boolean: requests then trusts REQUESTS_CA_BUNDLE.
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default",
               REQUESTS_CA_BUNDLE=nios.ca_path)
    variables = dict(extra_vars, nios_host=nios.host, nios_ca=nios.ca_path,
                     ansible_python_interpreter=sys.executable)
    with tempfile.TemporaryDirectory(prefix="bench-playbook-") as tmp:
        target = playbook
        if "\n" in playbook:
            target = str(Path(tmp) / "playbook.yml")
            Path(target).write_text(playbook)
        vars_file = Path(tmp) / "vars.json"
        vars_file.write_text(json.dumps(variables))
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
               "-e", "@%s" % vars_file, target]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=str(REPO_ROOT), env=env, capture_output=True, text=True, timeout=3600,
                              check=False)
        seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError("ansible-playbook %s failed (rc %d):\n%s" % (
            playbook if target == playbook else "(bench playbook)", proc.returncode,
            (proc.stdout + proc.stderr)[-4000:]))
    return seconds
