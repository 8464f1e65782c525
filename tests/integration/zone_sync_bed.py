"""Helpers of the zone sync tests: run playbooks/zone_sync.yml (as the collection playbook
geant.consul_dns.zone_sync, the way cron and the role run it) against real Consul and the WAPI
simulator, in the foreground or as a background process that a test can kill."""

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

from tests.playbook import REPO_ROOT, PlaybookResult, run_playbook

PLAYBOOK = "- ansible.builtin.import_playbook: geant.consul_dns.zone_sync\n"
SYNC_TASK = "Sync the zones"


class SyncBed(object):
    """One zone sync configuration: Consul address, zones, zone files in ``tmp``, optional NIOS."""

    def __init__(self, consul_address, tmp, zones, nios=None, **overrides):
        self.consul_address = consul_address
        self.tmp = Path(tmp)
        self.nios = nios
        self.vars = {
            "consul_dns_consul_address": consul_address,
            "consul_dns_zones": zones,
            "consul_dns_zone_dir": str(self.tmp / "zones"),
            "consul_dns_zone_validate": "never",
            "consul_dns_lock_delay": 0,
            "consul_dns_lock_ttl": 10,
        }
        if nios is not None:
            self.vars.update({
                "consul_dns_infoblox_server": nios.host, "consul_dns_infoblox_username": nios.username,
                "consul_dns_infoblox_password": nios.password, "consul_dns_infoblox_ca_path": nios.ca_path,
            })
        self.vars.update(overrides)

    def extra(self, **overrides):
        return dict(self.vars, **overrides)

    def run(self, args=(), **overrides):
        return run_playbook(PLAYBOOK, self.extra(**overrides), args=args, json_output=True)

    def start(self, **overrides):
        """The same run as a background process (its own process group): a BackgroundRun."""
        return BackgroundRun(self.extra(**overrides))

    def zone_file(self, zone):
        return self.tmp / "zones" / ("%s.zone" % zone)

    def zone_text(self, zone):
        path = self.zone_file(zone)
        return path.read_text() if path.exists() else None


class BackgroundRun(object):
    def __init__(self, extra_vars):
        self.tmp = tempfile.TemporaryDirectory()
        path = Path(self.tmp.name) / "playbook.yml"
        path.write_text(PLAYBOOK)
        self.out = open(Path(self.tmp.name) / "stdout", "w+")
        self.err = open(Path(self.tmp.name) / "stderr", "w+")
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=%s" % sys.executable, str(path), "-e", json.dumps(extra_vars)]
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
        self.proc = subprocess.Popen(cmd, cwd=str(REPO_ROOT), env=env, stdout=self.out, stderr=self.err,
                                     text=True, start_new_session=True)

    def wait(self, timeout=120):
        self.proc.wait(timeout)
        return self.result()

    def result(self):
        self.out.seek(0)
        self.err.seek(0)
        return PlaybookResult(subprocess.CompletedProcess(self.proc.args, self.proc.returncode,
                                                          self.out.read(), self.err.read()))

    def kill(self):
        """SIGKILL to the whole process group: the run dies without releasing anything."""
        kill_process_group(self.proc)

    def close(self):
        self.kill()
        self.out.close()
        self.err.close()
        self.tmp.cleanup()


def kill_process_group(proc):
    """SIGKILL to the process group of ``proc`` (started with start_new_session), then reap it."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def sync_result(result):
    """The result of the zone_sync task in a json_output run."""
    return result.task_results(SYNC_TASK)[0]


def records_result(result, zone=None):
    """What the run decided for ``zone`` (default: the first zone): its report entry and its damping
    decisions with their addresses (the keys of consul_zone_records' result)."""
    assert result.rc == 0, failure_messages(result) or result
    task = sync_result(result)
    zone = zone or sorted(task["zones"])[0]
    return dict(task["zones"][zone], **task["decisions"][zone])


def lock_skipped(result):
    """True when the run ended cleanly because another run held the lock."""
    return result.rc == 0 and bool(sync_result(result).get("skipped_reason"))


def lock_message(result):
    return sync_result(result)["msg"]


def nios_addresses(nios, zone):
    """``{fqdn: sorted addresses}`` of the A records of ``zone`` in the simulator."""
    objs = requests.get(nios.wapi_url() + "record:a", params={"zone": zone}, verify=nios.ca_path,
                        auth=(nios.username, nios.password), timeout=10).json()
    out = {}
    for obj in objs:
        out.setdefault(obj["name"], []).append(obj["ipv4addr"])
    return {name: sorted(addrs) for name, addrs in out.items()}


def nios_create_zone(nios, zone):
    """The operator's part: the zone, and the owner EA a superuser defines once (docs/permissions.md)."""
    requests.post(nios.wapi_url() + "zone_auth", json={"fqdn": zone}, verify=nios.ca_path,
                  auth=(nios.username, nios.password), timeout=10).raise_for_status()
    nios.sim.define_ea("ManagedBy")


def nios_writes(nios):
    """Write requests the simulator received (creates, updates, deletes, multi-object requests)."""
    return [e for e in nios.sim.log.entries() if e["kind"] in ("write", "request")]


def failure_messages(result):
    """The ``msg`` of every failed task (and loop item) of a json_output run, for asserts and reports."""
    data = json.loads(result.stdout)
    messages = []
    for play in data["plays"]:
        for task in play["tasks"]:
            for host in task["hosts"].values():
                for item in host.get("results", [host]):
                    if item.get("failed"):
                        messages.append("%s: %s" % (task["task"]["name"], item.get("msg")))
    return messages
