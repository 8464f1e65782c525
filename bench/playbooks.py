"""The same pushes run by ``ansible-playbook`` (a subprocess, localhost, this interpreter), timed whole.

- ``startup``: one ``ansible.builtin.ping`` task: what any one-module playbook pays before it starts;
- ``pipeline``: the collection as documented: lookup ``consul_zone`` -> module ``infoblox_zone_sync``;
- ``zone_sync``: ``infoblox_zone_sync`` with a given record list (the side-by-side);
- ``nios_loop``: the way records are pushed today: a loop of ``infoblox.nios_modules.nios_a_record``,
  one task run (one module process, its own WAPI session) per record.
"""
import time

from bench import COLLECTIONS
from tests.playbook import run_playbook

STARTUP = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""

PIPELINE = """
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
        records: "{{ lookup('geant.consul_dns.consul_zone', zone, consul_address=consul_url, wantlist=True) }}"
"""

ZONE_SYNC = """
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


def timed(text, nios, extra_vars):
    """Run a playbook; returns seconds. Fails loudly when the playbook fails."""
    # nios_modules' validate_certs is a boolean: requests then trusts REQUESTS_CA_BUNDLE.
    env = {"REQUESTS_CA_BUNDLE": nios.ca_path, "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS)}
    variables = dict(extra_vars, nios_host=nios.host, nios_ca=nios.ca_path)
    start = time.perf_counter()
    result = run_playbook(text, extra_vars=variables, env=env, timeout=3600)
    seconds = time.perf_counter() - start
    if result.rc != 0:
        raise RuntimeError("playbook failed: %r" % result)
    return seconds
