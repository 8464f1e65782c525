"""The lookup plugin geant.consul_dns.consul_zone, run by a real ansible-playbook against real Consul."""

import pytest

from tests.playbook import run_playbook

pytestmark = [pytest.mark.consul, pytest.mark.slow, pytest.mark.client_library]

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the zone
      ansible.builtin.set_fact:
        records: "{{ lookup('geant.consul_dns.consul_zone', 'geant.services', consul_address=consul_url,
                            invalid_names=invalid_names | default('fail'), wantlist=True) }}"
"""


def records_in(result):
    return result.task_results("Read the zone")[0]["ansible_facts"]["records"]


def test_lookup_returns_the_records(consul_dev):
    for sid, address in (("crowd1", "1.1.1.10"), ("crowd2", "1.1.1.11")):
        consul_dev.register_service({"Name": "crowd", "ID": sid, "Address": address,
                                     "Check": {"CheckID": sid, "TTL": "10m", "Status": "passing"}})
    consul_dev.register_service({"Name": "bod_portal", "Address": "1.1.1.11"})
    failed = run_playbook(PLAYBOOK, {"consul_url": consul_dev.http_url})
    assert failed.rc != 0, failed
    assert "'bod_portal' is not a valid DNS host name label" in failed.output

    result = run_playbook(PLAYBOOK, {"consul_url": consul_dev.http_url, "invalid_names": "skip"},
                          json_output=True)
    assert result.rc == 0, result
    assert "skipped: Consul service 'bod_portal'" in result.output  # the warning names the service
    assert records_in(result) == [
        {"zone": "geant.services", "name": "crowd", "fqdn": "crowd.geant.services", "type": "A", "ttl": 300,
         "value": "1.1.1.10"},
        {"zone": "geant.services", "name": "crowd", "fqdn": "crowd.geant.services", "type": "A", "ttl": 300,
         "value": "1.1.1.11"},
    ]


def test_lookup_fails_clearly_when_consul_is_down():
    result = run_playbook(PLAYBOOK, {"consul_url": "http://127.0.0.1:9"})
    assert result.rc != 0
    assert "consul_zone: cannot reach Consul at http://127.0.0.1:9" in result.output
