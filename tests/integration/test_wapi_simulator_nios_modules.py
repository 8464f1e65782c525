"""Fidelity: infoblox.nios_modules (from the ansible package) run by ansible-playbook against the simulator."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK_BIN = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

PLAYBOOK = textwrap.dedent("""\
    - hosts: localhost
      gather_facts: false
      vars:
        provider:
          host: "{{ nios_host }}"
          username: admin
          password: infoblox
          validate_certs: true
      tasks:
        - name: zone
          infoblox.nios_modules.nios_zone:
            name: geant.services
            extattrs: {Owner: consul_dns}
            comment: managed zone
            state: "{{ wanted }}"
            provider: "{{ provider }}"
          when: wanted == 'present'
        - name: a
          infoblox.nios_modules.nios_a_record:
            name: crowd.geant.services
            ipv4addr: 1.1.1.10
            ttl: 300
            extattrs: {Owner: consul_dns}
            comment: crowd
            state: "{{ wanted }}"
            provider: "{{ provider }}"
        - name: aaaa
          infoblox.nios_modules.nios_aaaa_record:
            name: crowd.geant.services
            ipv6addr: "2001:db8::10"
            state: "{{ wanted }}"
            provider: "{{ provider }}"
        - name: cname
          infoblox.nios_modules.nios_cname_record:
            name: www.geant.services
            canonical: crowd.geant.services
            state: "{{ wanted }}"
            provider: "{{ provider }}"
    """)


def run_playbook(tmp_path, server, wanted, check=False):
    playbook = tmp_path / "nios.yml"
    playbook.write_text(PLAYBOOK)
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
        # validate_certs is a boolean in nios_modules; requests then trusts REQUESTS_CA_BUNDLE
        REQUESTS_CA_BUNDLE=server.ca_path,
        ANSIBLE_STDOUT_CALLBACK="json",
        ANSIBLE_NOCOLOR="1",
    )
    cmd = [PLAYBOOK_BIN, "-i", "localhost,", "-c", "local", str(playbook),
           "-e", "ansible_python_interpreter=%s" % sys.executable,
           "-e", "nios_host=%s" % server.host, "-e", "wanted=%s" % wanted]
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return _changed_by_task(json.loads(proc.stdout))


def _changed_by_task(output):
    result = {}
    for task in output["plays"][0]["tasks"]:
        host = task["hosts"]["localhost"]
        if not host.get("skipped"):
            result[task["task"]["name"]] = host.get("changed", False)
    return result


@pytest.mark.slow
def test_nios_modules_present_idempotent_absent(tmp_path, wapi_simulator):
    sim = wapi_simulator.sim
    sim.define_ea("Owner")

    assert run_playbook(tmp_path, wapi_simulator, "present") == \
        {"zone": True, "a": True, "aaaa": True, "cname": True}
    [record] = sim.objects("record:a")
    assert (record["name"], record["ipv4addr"], record["ttl"], record["comment"]) == \
        ("crowd.geant.services", "1.1.1.10", 300, "crowd")
    assert record["extattrs"] == {"Owner": {"value": "consul_dns"}}

    sim.log.clear()
    assert run_playbook(tmp_path, wapi_simulator, "present") == \
        {"zone": False, "a": False, "aaaa": False, "cname": False}
    assert sim.log.count(kind="write") == 0 and sim.log.reads() == 4

    assert run_playbook(tmp_path, wapi_simulator, "absent") == {"a": True, "aaaa": True, "cname": True}
    assert [sim.store.count(t) for t in ("record:a", "record:aaaa", "record:cname")] == [0, 0, 0]
    assert run_playbook(tmp_path, wapi_simulator, "absent") == {"a": False, "aaaa": False, "cname": False}


@pytest.mark.slow
def test_nios_modules_check_mode_writes_nothing_for_records(tmp_path, wapi_simulator):
    sim = wapi_simulator.sim
    sim.define_ea("Owner")
    sim.handle("POST", "zone_auth", {}, {"fqdn": "geant.services"})
    sim.log.clear()
    changed = run_playbook(tmp_path, wapi_simulator, "present", check=True)
    assert changed["a"] and changed["aaaa"] and changed["cname"]
    assert sim.log.writes("record:a") == 0 and sim.store.count("record:a") == 0
