"""The soak's bed: a real Consul cluster, services with real checks, the WAPI simulator behind per-writer
taps, a real BIND serving the zone file, and the writers (two watch services, the timer's playbook).

Everything listens on loopback addresses of one /24 (``block``): Consul servers ``.1-.3``, client agents
``.100-.103``; named (it listens on interface addresses only), the check server, the simulator and the
taps on 127.0.0.1, each on a port of its own.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from bench import COLLECTIONS, REPO_ROOT, process_cpu_seconds
from bench.chaos.config import ZONE, product_settings
from bench.chaos.tap import Tap
from bench.nios import OWNER_EA, NiosSimulator
from tests.consul_testbed.agent import ConsulCluster
from tests.integration.zone_sync_bed import BackgroundRun, failure_messages, kill_process_group, lock_skipped
from tests.integration.zone_watch_bed import WatchProcess

STEADY = "chaos-steady"  # the client agent no fault ever touches: its instances stay healthy throughout
FAULTABLE = ("chaos-a", "chaos-b", "chaos-c")
CLIENTS = (STEADY,) + FAULTABLE
# service -> (check kind, all-failing policy, on the steady agent too)
SERVICES = {
    "web": ("http", "withdraw", True),
    "api": ("http", "withdraw", True),
    "auth": ("http", "withdraw", True),
    "mail": ("ttl", "withdraw", True),
    "files": ("http", "keep", False),
}
TTL = 6  # seconds of a TTL check; the heartbeat passes it every TTL / 3
OBSERVER = ("chaos-observer", "observer-secret")
# Records the job does not own, written by "another team" before the soak; they must never change.
UNOWNED = [
    ("record:a", {"name": "legacy.%s" % ZONE, "ipv4addr": "203.0.113.1"}),
    ("record:a", {"name": "web.%s" % ZONE, "ipv4addr": "203.0.113.2",
                  "extattrs": {OWNER_EA: {"value": "other-team"}}}),
    ("record:a", {"name": "ftp.%s" % ZONE, "ipv4addr": "203.0.113.3", "comment": "by hand"}),
    ("record:cname", {"name": "www.%s" % ZONE, "canonical": "web.%s" % ZONE}),
    ("record:txt", {"name": "info.%s" % ZONE, "text": "hand-made"}),
]


class Instance(object):
    def __init__(self, service, node, number, kind, policy):
        self.service, self.node, self.kind, self.policy = service, node, kind, policy
        self.id = "%s-%s" % (service, node)
        self.check_id = "chk-%s" % self.id
        self.address = "192.0.2.%d" % (10 * (list(SERVICES).index(service) + 1) + number)
        self.steady = node == STEADY
        self.key = (service, self.address)  # (DNS name, address)


def instances():
    out = []
    for service, (kind, policy, on_steady) in SERVICES.items():
        nodes = CLIENTS if on_steady else FAULTABLE
        for node in nodes:
            out.append(Instance(service, node, CLIENTS.index(node) + 1, kind, policy))
    return out


class Services(object):
    """The instances, their HTTP health endpoints (bench.chaos.checks, its own process: a path per
    instance) and TTL heartbeats."""

    def __init__(self, cluster, stop):
        self.cluster, self.stop_event = cluster, stop
        self.instances = instances()
        self.by_id = dict((i.id, i) for i in self.instances)
        self.process = subprocess.Popen([sys.executable, "-m", "bench.chaos.checks"], cwd=str(REPO_ROOT),
                                        stdout=subprocess.PIPE, text=True, start_new_session=True)
        line = self.process.stdout.readline()
        if not line.startswith("port: "):
            raise RuntimeError("the check server did not start: %r" % line)
        self.control = "http://127.0.0.1:%d/" % int(line.split()[1])
        self.url = self.control + "i/"
        self._failing = set()
        self._lock = threading.Lock()
        # One heartbeat per TTL instance: an agent that hangs (a fault) delays no other instance's.
        self._threads = [threading.Thread(target=self._heartbeat, args=(i,), name="ttl-%s" % i.id, daemon=True)
                         for i in self.instances if i.kind == "ttl"]

    def register(self):
        for inst in self.instances:
            if inst.kind == "http":
                check = {"CheckID": inst.check_id, "Name": "http", "HTTP": self.url + inst.id, "Interval": "1s",
                         "Timeout": "2s", "Status": "passing"}
            else:
                check = {"CheckID": inst.check_id, "Name": "ttl", "TTL": "%ds" % TTL, "Status": "passing"}
            meta = {"dns_all_failing": inst.policy} if inst.policy == "keep" else {}
            self.cluster.clients[inst.node].register_service({
                "Name": inst.service, "ID": inst.id, "Address": inst.address, "Port": 443, "Meta": meta,
                "Check": check})
        for thread in self._threads:
            thread.start()

    def failing(self):
        with self._lock:
            return set(self._failing)

    def set_failing(self, iid, failing):
        with self._lock:
            (self._failing.add if failing else self._failing.discard)(iid)
        inst = self.by_id[iid]
        if inst.kind == "ttl":
            self._ttl(inst, "fail" if failing else "pass")
        else:
            requests.put(self.control + ("fail/" if failing else "pass/") + iid, timeout=5).raise_for_status()

    def _ttl(self, inst, status):
        try:
            url = "%s/v1/agent/check/%s/%s" % (self.cluster.clients[inst.node].http_url, status, inst.check_id)
            requests.put(url, timeout=2)
        except requests.RequestException:
            pass  # the agent is down (a fault): its node is critical anyway

    def _heartbeat(self, inst):
        session = requests.Session()
        url = "%s/v1/agent/check/%%s/%s" % (self.cluster.clients[inst.node].http_url, inst.check_id)
        while not self.stop_event.wait(TTL / 3.0):
            try:
                session.put(url % ("fail" if inst.id in self.failing() else "pass"), timeout=1)
            except requests.RequestException:
                session = requests.Session()

    def stop(self):
        kill_process_group(self.process)


def free_port(address):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind((address, 0))
        return udp.getsockname()[1]


class Named(object):
    """A real BIND ``named`` serving the zone file (unprivileged config in a temp dir, foreground) and a
    reloader: the zone file is looked at every 0.1 s and named gets SIGHUP when it changed."""

    def __init__(self, workdir, address, zone_file, stop):
        self.dir = Path(workdir)
        self.address, self.zone_file, self.stop_event = address, Path(zone_file), stop
        self.port = free_port(address)
        self.process = None
        self.reloads = 0
        self.log_path = self.dir / "named.log"
        self._seen = None
        self._thread = threading.Thread(target=self._reloader, name="named-reloader", daemon=True)

    def start(self):
        conf = self.dir / "named.conf"
        conf.write_text("""options {
  directory "%(dir)s";
  pid-file "%(dir)s/named.pid";
  session-keyfile "%(dir)s/session.key";
  managed-keys-directory "%(dir)s";
  listen-on port %(port)d { %(address)s; };
  listen-on-v6 { none; };
  recursion no;
  notify no;
  dnssec-validation no;
  allow-transfer { 127.0.0.0/8; };
};
controls { };
zone "%(zone)s" { type primary; file "%(file)s"; };
""" % {"dir": self.dir, "port": self.port, "address": self.address, "zone": ZONE, "file": self.zone_file})
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(["/usr/sbin/named", "-g", "-n", "1", "-4", "-c", str(conf)], stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self._thread.start()
        return self

    def _stat(self):
        try:
            st = os.stat(self.zone_file)
            return (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            return None

    def _reloader(self):
        while not self.stop_event.wait(0.1):
            seen = self._stat()
            if seen != self._seen and seen is not None and self.process.poll() is None:
                self.process.send_signal(signal.SIGHUP)
                self.reloads += 1
            self._seen = seen

    def stop(self):
        if self.process is not None:
            kill_process_group(self.process)  # nothing of named's to save: its zone file is the writers'


class WatchDriver(object):
    """One watch service (``consul-dns-zone-watch``) as its own process, restarted after a kill as systemd
    would; CPU and peak memory summed over its incarnations."""

    def __init__(self, name, tmp, settings, collections=COLLECTIONS):
        self.name, self.tmp, self.settings, self.collections = name, tmp, settings, collections
        self.proc = None
        self.incarnations = 0
        self.cpu_done = 0.0  # CPU seconds of the incarnations that ended
        self.cpu_last = 0.0
        self.rss_max = 0

    def start(self):
        self.started = time.time()
        self.proc = WatchProcess(self.tmp, self.name, self.settings, collections=self.collections)
        self.incarnations += 1
        self.cpu_last = 0.0
        return self

    @property
    def pid(self):
        return self.proc.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.proc.poll() is None

    def sample(self):
        """CPU and RSS of the running incarnation (called every second)."""
        if not self.alive():
            return
        try:
            self.cpu_last = process_cpu_seconds(self.pid)
            with open("/proc/%d/status" % self.pid) as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        self.rss_max = max(self.rss_max, int(line.split()[1]) * 1024)
        except (OSError, ValueError, IndexError):
            pass

    def kill(self):
        self.sample()
        self.proc.kill()
        self.cpu_done += self.cpu_last
        self.cpu_last = 0.0

    def terminate(self):
        if self.alive():
            self.sample()
            try:
                self.proc.terminate(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.cpu_done += self.cpu_last
            self.cpu_last = 0.0

    def cpu_seconds(self):
        return self.cpu_done + self.cpu_last

    def log(self):
        return self.proc.log() if self.proc is not None else ""


class TimerDriver(object):
    """``ansible-playbook geant.consul_dns.zone_sync`` every ``period`` seconds (the schedule's ticks), as
    cron or AWX would; a tick is skipped while the previous run still runs, a run is killed after
    MAX_RUN seconds."""

    MAX_RUN = 150

    def __init__(self, settings, ticks, clock, stop):
        self.settings, self.ticks, self.clock, self.stop_event = settings, list(ticks), clock, stop
        self.runs = []  # {"start", "end", "rc", "skipped", "ok", "output"}
        self.skipped_ticks = 0
        self.current = None
        self._thread = threading.Thread(target=self._loop, name="timer", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _finish(self, run, started):
        result = run.result()
        entry = {"start": started, "end": self.clock(), "rc": result.rc, "skipped": False, "ok": result.rc == 0,
                 "output": result.output}
        try:
            entry["skipped"] = lock_skipped(result)
            if result.rc != 0:
                entry["error"] = "; ".join(failure_messages(result))[:400]
        except (ValueError, KeyError, IndexError):
            entry["error"] = result.output[-400:] if result.rc != 0 else None
        self.runs.append(entry)

    def _loop(self):
        for tick in self.ticks:
            while not self.stop_event.is_set() and self.clock() < tick:
                self._reap()
                self.stop_event.wait(0.2)
            if self.stop_event.is_set():
                break
            self._reap()
            if self.current is not None:
                self.skipped_ticks += 1
                continue
            self.current = (BackgroundRun(self.settings), self.clock(), time.time())
        while self.current is not None and not self.stop_event.wait(0.2):
            self._reap()

    def _reap(self):
        if self.current is None:
            return
        run, started, _wall = self.current
        if run.proc.poll() is None and self.clock() - started < self.MAX_RUN:
            return
        if run.proc.poll() is None:
            run.kill()
        self._finish(run, started)
        run.close()
        self.current = None

    def stop(self):
        self.stop_event.set()
        self._thread.join(30)
        if self.current is not None:
            self.current[0].close()
            self.current = None


class Bed(object):
    """Start and stop everything; ``self.t0`` is the soak's clock origin (time.time())."""

    def __init__(self, block, log, workdir=None, collections=COLLECTIONS):
        self.block, self.log, self.collections = block, log, collections
        self.keep = workdir is not None
        self.tmp = Path(workdir or tempfile.mkdtemp(prefix="chaos-"))
        self.zone_dir = self.tmp / "zones"
        self.zone_dir.mkdir(parents=True, exist_ok=True)
        (self.tmp / "reports").mkdir(exist_ok=True)
        (self.tmp / "named").mkdir(exist_ok=True)
        self.zone_file = self.zone_dir / ("%s.zone" % ZONE)
        self.stop_event = threading.Event()
        self.cluster = ConsulCluster(block, servers=3, clients=CLIENTS)
        self.services = None
        self.nios = NiosSimulator(ZONE)
        self.taps = {}
        self.named = None
        self.watches = {}
        self.timer = None
        self.settings = product_settings(self.zone_dir)
        self.sim_wapi = None

    # ------------------------------------------------------------------ pieces
    def writer_settings(self, name, server):
        settings = dict(self.settings)
        settings.update({
            "consul_dns_consul_address": server.http_url,
            "consul_dns_lock_holder": "chaos %s" % name,
            "consul_dns_report_file": str(self.tmp / "reports" / ("%s.json" % name)),
            "consul_dns_infoblox_server": self.taps[name].host,
            "consul_dns_infoblox_username": self.nios.username,
            "consul_dns_infoblox_password": self.nios.password,
            "consul_dns_infoblox_ca_path": self.nios.ca_path,
        })
        return settings

    def start(self, timer_ticks):
        self.log("bed: Consul cluster (3 servers, %d client agents) on %s.x" % (len(CLIENTS), self.block))
        self.cluster.start()
        self.services = Services(self.cluster, self.stop_event)
        self.services.register()
        self.log("bed: WAPI simulator, zone %s, records owned by someone else" % ZONE)
        self.nios.start()
        self.nios.empty_zone()
        self.nios.control("POST", "users", json={"name": OBSERVER[0], "password": OBSERVER[1], "superuser": True})
        self.sim_wapi = "%s/wapi/v2.11/" % self.nios.url  # the observer's path: never matched by faults
        for objtype, data in UNOWNED:
            response = requests.post(self.sim_wapi + objtype, json=data, auth=OBSERVER, verify=self.nios.ca_path,
                                     timeout=30)
            response.raise_for_status()
        for name in ("watch-1", "watch-2", "timer"):
            self.taps[name] = Tap(name, self.nios.url, self.nios.cert_dir, self.nios.ca_path).start()
        self.named = Named(self.tmp / "named", "127.0.0.1", self.zone_file, self.stop_event).start()
        self.wait_healthy(60)
        self.log("bed: watch services on %s and %s, timer on %s" % tuple(s.name for s in self.cluster.servers))
        for name, server in (("watch-1", self.cluster.servers[0]), ("watch-2", self.cluster.servers[1])):
            self.watches[name] = WatchDriver(name, self.tmp, self.writer_settings(name, server),
                                             self.collections).start()
        timer_settings = self.writer_settings("timer", self.cluster.servers[2])
        # The playbook finds the collection where the watch services do (an environment variable beats
        # ansible.cfg's collections_path).
        os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(self.collections)
        origin = time.time()
        self.timer = TimerDriver(timer_settings, timer_ticks, lambda: time.time() - origin, threading.Event()).start()

    def wait_healthy(self, timeout):
        """Every instance passing in Consul before the writers start (the first sync publishes them all)."""
        want = set(i.id for i in self.services.instances)

        def passing():
            checks = self.cluster.servers[0].api("GET", "/v1/health/state/passing")
            return want <= set(c["ServiceID"] for c in checks if c["ServiceID"])
        self.cluster.wait_for(passing, timeout, "not every instance passes its check")

    def writer_alive(self, holder, since):
        """Whether ``holder`` (the lock key's holder name, holding it since ``since``) is a writer that runs
        now: not the session of a killed incarnation."""
        if holder == "chaos timer":
            return self.timer.current is not None and self.timer.current[2] <= since
        driver = self.watch_of_holder(holder)
        return driver is not None and driver.alive() and driver.started <= since

    def watch_of_holder(self, holder):
        for name, driver in self.watches.items():
            if holder == "chaos %s" % name:
                return driver
        return None

    def stop(self):
        self.stop_event.set()
        if self.timer is not None:
            self.timer.stop()
        for driver in self.watches.values():
            try:
                driver.terminate()
            except Exception:  # noqa: BLE001 - teardown goes on
                driver.proc.kill()
        for tap in self.taps.values():
            tap.stop()
        if self.named is not None:
            self.named.stop()
        if self.services is not None:
            self.services.stop()
        self.nios.stop()
        self.cluster.cleanup()
        subprocess.run(["chattr", "-i", str(self.zone_dir)], capture_output=True, check=False)
        shutil.rmtree(self.nios.cert_dir, ignore_errors=True)
        if not self.keep:
            shutil.rmtree(str(self.tmp), ignore_errors=True)
