"""The WAPI simulator (stand-in for NIOS) in its own process, driven through its /_sim/ control API.

A separate process, as NIOS is a separate machine: the simulator's request handling does not share
the benchmark's interpreter (GIL) and its CPU time can be read from /proc on its own.
"""
import subprocess
import sys
import tempfile
import time

import requests

from bench import REPO_ROOT, process_cpu_seconds

OWNER_EA = "ManagedBy"


class NiosSimulator(object):
    def __init__(self, zone, username="admin", password="infoblox"):
        self.zone = zone
        self.username, self.password = username, password
        self.cert_dir = tempfile.mkdtemp(prefix="bench-wapi-")
        self.process = None
        self.host = self.ca_path = None
        self.session = requests.Session()

    def start(self, timeout=30):
        cmd = [sys.executable, "-m", "tests.wapi_simulator", "--port", "0", "--cert-dir", self.cert_dir,
               "--user", self.username, "--password", self.password, "--define-ea", OWNER_EA]
        self.process = subprocess.Popen(cmd, cwd=str(REPO_ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("WAPI simulator exited (rc %s)" % self.process.poll())
            if line.startswith("host: "):
                self.host = line.split(": ", 1)[1].strip()
            elif line.startswith("CA certificate: "):
                self.ca_path = line.split(": ", 1)[1].strip()
            if self.host and self.ca_path:
                return self
        raise TimeoutError("WAPI simulator did not start")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    @property
    def url(self):
        return "https://%s" % self.host

    def control(self, method, path, **kwargs):
        response = self.session.request(method, "%s/_sim/%s" % (self.url, path), verify=self.ca_path, timeout=120,
                                        **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def empty_zone(self):
        """Fresh appliance with the owner EA defined and the zone (no records); log cleared."""
        self.control("POST", "reset")
        response = self.session.post("%s/wapi/v2.12/zone_auth" % self.url, json={"fqdn": self.zone, "view": "default"},
                                     auth=(self.username, self.password), verify=self.ca_path, timeout=30)
        response.raise_for_status()
        self.clear_log()

    def clear_log(self):
        self.control("DELETE", "log")

    def calls(self):
        """Counts of the calls since the last clear: WAPI reads, writes (incl. ``request``), other."""
        entries = self.control("GET", "log")
        counts = {"total": 0, "reads": 0, "writes": 0, "other": 0}
        for entry in entries:
            counts["total"] += 1
            if entry["kind"] == "read":
                counts["reads"] += 1
            elif entry["kind"] in ("write", "request", "function"):
                counts["writes"] += 1
            else:  # logout (auth), faults
                counts["other"] += 1
        return counts

    def counts(self):
        return self.control("GET", "state")["counts"]

    def cpu_seconds(self):
        """User + system CPU time the simulator process has used so far."""
        return process_cpu_seconds(self.process.pid)
