"""Run the watch service (roles/zone_sync/files/consul-dns-zone-watch) as the role's systemd unit does:
a separate process reading a settings file, logging to a file that tests read."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.integration.zone_sync_bed import kill_process_group
from tests.playbook import REPO_ROOT

WATCH_SCRIPT = REPO_ROOT / "roles" / "zone_sync" / "files" / "consul-dns-zone-watch"
COLLECTIONS = REPO_ROOT / ".cache" / "collections"


class WatchProcess(object):
    def __init__(self, tmp, name, settings, once=False, collections=COLLECTIONS):
        self.name = name
        self.config = tmp / ("%s.yml" % name)
        self.config.write_text(yaml.safe_dump(settings))
        self.log_path = tmp / ("%s.log" % name)
        script = Path(collections) / "ansible_collections" / "geant" / "consul_dns" / WATCH_SCRIPT.relative_to(REPO_ROOT)
        cmd = [sys.executable, str(script), "--config", str(self.config),
               "--collections-path", str(collections)] + (["--once"] if once else [])
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         env=dict(os.environ, PYTHONUNBUFFERED="1"))

    def log(self):
        return self.log_path.read_text(errors="replace")

    def count(self, pattern):
        return len(re.findall(pattern, self.log()))

    def wait_log(self, pattern, timeout=30, count=1):
        """Wait until ``pattern`` (a regex) appears ``count`` times in the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count(pattern) >= count:
                return
            if self.proc.poll() is not None:
                raise AssertionError("%s exited (rc %s) waiting for %r:\n%s"
                                     % (self.name, self.proc.returncode, pattern, self.log()[-3000:]))
            time.sleep(0.05)
        raise AssertionError("%s: %r not seen %d time(s) in %ss:\n%s"
                             % (self.name, pattern, count, timeout, self.log()[-3000:]))

    def syncs(self):
        return self.count(r"INFO sync \d+ ")

    def terminate(self, timeout=20):
        """SIGTERM, as systemd stops the unit: the service releases the lock and exits 0."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self):
        """SIGKILL to the process group: dies holding the lock, as a crashed service would."""
        kill_process_group(self.proc)

    def close(self):
        self.kill()


def wait_until(predicate, timeout, message, interval=0.05):
    """Poll ``predicate``; return seconds it took. Deadlines are generous: no timing is asserted."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(interval)
    raise AssertionError(message)


# ------------------------------------------------------------------ many names, registered through the catalog
def register_external(agent, service, addresses, status="passing", first=0):
    """Instances ``first``, ``first + 1`` ... of ``service`` as external nodes (one per address, as the bench
    seeds Consul), each with one service check in ``status``. Registering one again with another status
    moves its check only."""
    for number, address in enumerate(addresses, first):
        sid = "%s-%d" % (service, number)
        agent.api("PUT", "/v1/catalog/register", json={
            "Node": "ext-%s" % sid, "Address": address,
            "Service": {"ID": sid, "Service": service, "Port": 443},
            "Checks": [{"CheckID": "check-%s" % sid, "Name": "https", "ServiceID": sid, "Status": status}]})


def sim_a_records(nios, zone):
    """``{fqdn: sorted addresses}`` of the A records of ``zone``, read from the simulator's state directly
    (not through WAPI: the request log then holds only what the service asked)."""
    out = {}
    for obj in nios.sim.objects("record:a"):
        if obj.get("zone") == zone:
            out.setdefault(obj["name"], []).append(obj["ipv4addr"])
    return dict((name, sorted(addresses)) for name, addresses in out.items())


def is_read(entry):
    """A WAPI call that only reads: a GET, or a multi-object ``request`` of GET items."""
    if entry["kind"] == "read":
        return True
    body = entry.get("body")
    return entry["kind"] == "request" and isinstance(body, list) and bool(body) and all(
        isinstance(item, dict) and item.get("method") == "GET" for item in body)


def wapi_calls(nios):
    """``(reads, writes)``: the request log's WAPI calls split as :func:`is_read` says (logout and other
    calls that are neither are left out)."""
    entries = [e for e in nios.sim.log.entries() if e["kind"] in ("read", "write", "request", "function")]
    reads = [e for e in entries if is_read(e)]
    return reads, [e for e in entries if not is_read(e)]


def names_in(entries):
    """Record names a list of logged calls searched for or wrote (``name`` fields and refs' names)."""
    names = set()
    for entry in entries:
        body = entry.get("body")
        items = body if isinstance(body, list) else []
        for item in items:
            if not isinstance(item, dict):
                continue
            data = item.get("data") or {}
            target = item.get("object") or ""
            if target.startswith("record:") and "name" in data:
                names.add(data["name"])
            elif target.startswith("record:") and "/" in target:
                names.add(target.split(":", 2)[-1].rsplit("/", 1)[0])
    return names
