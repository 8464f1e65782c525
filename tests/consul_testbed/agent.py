"""Real Consul agents for tests: a dev agent, or a cluster of servers and clients on 127.x addresses.

Every agent binds its own loopback address (127.A.B.C) with Consul's default ports, so agents never
fight over ports and tests can run in parallel (pytest-xdist) as long as each worker picks its own
address block (see :func:`address_block`). The binary is the real HashiCorp build of consul 1.8.7
that Debian's bullseye suite carries, fetched by scripts/fetch_consul.sh.
"""

import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
CONSUL_BIN = REPO_ROOT / ".cache" / "consul" / "usr" / "bin" / "consul"

# Fast failure detection so a killed node turns serfHealth-critical in about a second,
# not the ~10 s of the LAN defaults. Values are validated by consul 1.8.7.
FAST_GOSSIP = {"probe_interval": "200ms", "probe_timeout": "100ms", "suspicion_mult": 2}


def consul_binary():
    """Path of the Consul binary, fetched on first use."""
    if not CONSUL_BIN.exists():
        subprocess.run(["bash", str(REPO_ROOT / "scripts" / "fetch_consul.sh")], check=True,
                       stdout=subprocess.DEVNULL)
    return str(CONSUL_BIN)


# Started at a per-process offset so that two pytest runs on one machine (developers, CI) are
# unlikely to land on the same addresses.
_next_slot = itertools.count(os.getpid() % 240)


def address_block(worker_id, slot=None):
    """A loopback /24 for one test bed: 127.<worker+20>.<slot>, distinct per xdist worker.

    Without ``slot``, the next one of a single per-process sequence (1..240, then round again):
    every fixture takes its block from it, so two live test beds never share addresses.
    """
    worker = 0 if worker_id in (None, "master") else int(str(worker_id).lstrip("gw") or 0)
    if slot is None:
        slot = next(_next_slot) % 240 + 1
    return "127.%d.%d" % (20 + worker, slot)


class ConsulAgent(object):
    """One `consul agent` process with its own data dir, bound to ``address``."""

    def __init__(self, name, address, server=False, dev=False, bootstrap_expect=None, join=(),
                 extra_config=None):
        self.name = name
        self.address = address
        self.server = server
        self.dev = dev
        self.bootstrap_expect = bootstrap_expect
        self.join = list(join)
        self.extra_config = extra_config or {}
        self.workdir = Path(tempfile.mkdtemp(prefix="consul-%s-" % name))
        self.process = None
        self.log_path = self.workdir / "agent.log"

    @property
    def http_url(self):
        return "http://%s:8500" % self.address

    def _config(self):
        config = {
            "node_name": self.name,
            "datacenter": "dc1",
            "bind_addr": self.address,
            "client_addr": self.address,
            "advertise_addr": self.address,
            "log_level": "INFO",
            "disable_update_check": True,
            "enable_local_script_checks": True,
            "gossip_lan": FAST_GOSSIP,
            "ports": {"dns": -1, "grpc": -1},
            "leave_on_terminate": False,
            "skip_leave_on_interrupt": True,
        }
        if not self.dev:
            config["data_dir"] = str(self.workdir / "data")
            config["server"] = self.server
            if self.server:
                config["bootstrap_expect"] = self.bootstrap_expect
                # Raft timings short enough for tests to see elections in seconds.
                config["performance"] = {"raft_multiplier": 1}
            if self.join:
                config["retry_join"] = self.join
                config["retry_interval"] = "1s"
        config.update(self.extra_config)
        return config

    def start(self):
        config_file = self.workdir / "agent.json"
        config_file.write_text(json.dumps(self._config()))
        cmd = [consul_binary(), "agent", "-config-file", str(config_file)]
        if self.dev:
            cmd.insert(2, "-dev")
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self

    def wait_http(self, timeout=30):
        """Wait until the agent's HTTP API answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("consul agent %s exited: %s" % (self.name, self.log_tail()))
            try:
                # status/leader needs no ACL token and answers as soon as the HTTP API is up.
                requests.get(self.http_url + "/v1/status/leader", timeout=1).raise_for_status()
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise TimeoutError("consul agent %s did not answer: %s" % (self.name, self.log_tail()))

    def log_tail(self, lines=20):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def is_running(self):
        return self.process is not None and self.process.poll() is None

    def kill(self):
        """Hard stop (SIGKILL): the node fails as a crashed server would, without leaving."""
        if self.is_running():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self):
        if self.is_running():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self):
        """Start again with the same data dir (a recovered node)."""
        self.stop()
        return self.start()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- small HTTP helpers used by tests (the code under test has its own client) ---
    def api(self, method, path, **kwargs):
        # Generous: with no leader an agent can hold a call for its RPC hold timeout (7 s) and more
        # under load; a test waits for that rather than failing on a slow answer.
        response = requests.request(method, self.http_url + path, timeout=45, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def register_service(self, definition):
        """Register a service (with its checks) on this agent, like a service's config file would."""
        self.api("PUT", "/v1/agent/service/register", json=definition)

    def set_ttl_check(self, check_id, status, note=""):
        """Move a TTL check: status is 'pass', 'warn' or 'fail'."""
        self.api("PUT", "/v1/agent/check/%s/%s" % (status, check_id), params={"note": note})


class ConsulCluster(object):
    """``servers`` Consul servers and named client agents, on addresses ``<block>.1`` upwards."""

    def __init__(self, block, servers=3, clients=()):
        self.block = block
        server_addresses = ["%s.%d" % (block, i + 1) for i in range(servers)]
        self.servers = [
            ConsulAgent("consul-server%02d" % (i + 1), address, server=True, bootstrap_expect=servers,
                        join=[a for a in server_addresses if a != address])
            for i, address in enumerate(server_addresses)
        ]
        self.clients = {
            name: ConsulAgent(name, "%s.%d" % (block, 100 + i), join=server_addresses)
            for i, name in enumerate(clients)
        }

    @property
    def agents(self):
        return self.servers + list(self.clients.values())

    def start(self, timeout=60):
        for agent in self.agents:
            agent.start()
        for agent in self.agents:
            agent.wait_http()
        self.wait_for(self.has_leader, timeout, "no leader elected")
        self.wait_for(lambda: self.alive_members() == len(self.agents), timeout, "not all members alive")
        # An agent registers its node in the catalog shortly after joining; a service registered
        # before that fails with "Missing node registration".
        self.wait_for(lambda: self.catalog_nodes() >= set(a.name for a in self.agents), timeout,
                      "not every node registered in the catalog")
        return self

    def catalog_nodes(self):
        return set(node["Node"] for node in self.any_live_server().api("GET", "/v1/catalog/nodes"))

    def any_live_server(self):
        for server in self.servers:
            if server.is_running():
                return server
        raise RuntimeError("no server running")

    def has_leader(self):
        try:
            return bool(self.any_live_server().api("GET", "/v1/status/leader"))
        except requests.RequestException:
            return False

    def alive_members(self):
        members = self.any_live_server().api("GET", "/v1/agent/members")
        return sum(1 for member in members if member["Status"] == 1)

    @staticmethod
    def wait_for(predicate, timeout, message, interval=0.2):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except requests.RequestException:
                pass
            time.sleep(interval)
        raise TimeoutError(message)

    def cleanup(self):
        for agent in self.agents:
            agent.cleanup()
