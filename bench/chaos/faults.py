"""Injecting the schedule's faults into the bed, each bounded in time, and remembering when each was active.

Each fault runs in its own thread from its offset in the phase; :meth:`Injector.release` says until when
the faults seen so far may keep the sync from running (their end plus the allowance the settings give
them, see config.Bounds), which the withdrawal bound and the quiet periods wait for.
"""
import base64
import subprocess
import threading
import time

import requests

from bench.chaos.bed import FAULTABLE
from bench.chaos.config import ZONE
from bench.chaos.schedule import WAPI_KINDS_SET

FAMILY = {"leader_kill": "consul", "quorum_loss": "consul", "watch_kill": "holder_killed", "zone_dir_ro": "zone_dir",
          "watches_stopped": "timer_only"}
STATE_KEY = "consul-dns/state/%s" % ZONE
WAPI_PATH = r"^/wapi/v2\.12/"  # the writers' WAPI version; the observer reads v2.11 and is never faulted


class Fault(object):
    def __init__(self, spec, start):
        self.spec, self.kind = spec, spec.kind
        self.family = "wapi" if spec.kind in WAPI_KINDS_SET else FAMILY.get(spec.kind, "none")
        self.start, self.end = start, None
        self.latency = float(spec.params.get("delay", 0.0))
        self.status, self.note = "running", ""

    def describe(self, t0):
        out = self.spec.describe()
        out.update(start=round(self.start - t0, 2), end=None if self.end is None else round(self.end - t0, 2),
                   status=self.status, note=self.note)
        return out


class WapiRules(object):
    """Our fault rules in the simulator; one is removed by clearing all and adding the others back (the
    control API has no way to delete a single rule)."""

    def __init__(self, nios):
        self.nios = nios
        self.lock = threading.Lock()
        self.ours = {}  # our key -> the simulator's rule id

    def add(self, key, rule):
        with self.lock:
            self.ours[key] = self.nios.control("POST", "faults", json=rule)["id"]

    def remaining(self, key):
        with self.lock:
            rid = self.ours.get(key)
            return any(r["id"] == rid for r in self.nios.control("GET", "faults"))

    def remove(self, key):
        with self.lock:
            rid = self.ours.pop(key, None)
            rules = self.nios.control("GET", "faults")
            self.nios.control("DELETE", "faults")
            for rule in rules:
                if rule["id"] == rid:
                    continue
                body = dict((k, rule[k]) for k in ("action", "count", "method", "path", "status", "delay", "index")
                            if rule.get(k) is not None)
                new = self.nios.control("POST", "faults", json=body)["id"]
                for other, old in list(self.ours.items()):
                    if old == rule["id"]:
                        self.ours[other] = new


class Injector(object):
    def __init__(self, bed, checker, bounds, log):
        self.bed, self.checker, self.bounds, self.log = bed, checker, bounds, log
        self.faults = []
        self.threads = []
        self._lock = threading.Lock()
        self._fail_counts = {}
        self._agent_locks = dict((name, threading.Lock()) for name in FAULTABLE)
        self._server_lock = threading.Lock()
        self._watch_lock = threading.Lock()  # watch_kill and watches_stopped: one at a time
        self._rollback_users = 0
        self.rules = WapiRules(bed.nios)
        self.session = requests.Session()

    # ------------------------------------------------------------------ bookkeeping
    def active(self, t):
        """``(active kinds, recovering kinds)`` at ``t``: running, or ended but within their allowance."""
        act, rec = [], []
        with self._lock:
            faults = list(self.faults)
        for f in faults:
            if f.start > t or f.status.startswith("skipped"):
                continue
            if f.end is None or f.end >= t:
                act.append(f.kind)
            elif f.end + self.bounds.allowance(f.family, f.latency) >= t:
                rec.append(f.kind)
        return act, rec

    def release(self, t):
        """Until when the faults started by ``t`` may keep a sync from running (0 when none)."""
        out = 0.0
        with self._lock:
            faults = list(self.faults)
        for f in faults:
            if f.family == "none" or f.start > t or f.status.startswith("skipped"):
                continue
            end = t if f.end is None else min(f.end, t)
            out = max(out, end + self.bounds.allowance(f.family, f.latency))
        return out

    def running(self):
        return any(thread.is_alive() for thread in self.threads)

    # ------------------------------------------------------------------ instances
    def fail(self, iid):
        with self._lock:
            self._fail_counts[iid] = self._fail_counts.get(iid, 0) + 1
            first = self._fail_counts[iid] == 1
        if first:
            self.bed.services.set_failing(iid, True)

    def recover(self, iid):
        with self._lock:
            self._fail_counts[iid] = max(0, self._fail_counts.get(iid, 0) - 1)
            last = self._fail_counts[iid] == 0
        if last:
            self.bed.services.set_failing(iid, False)

    # ------------------------------------------------------------------ running
    def launch(self, spec, stop):
        thread = threading.Thread(target=self._run, args=(spec, stop), name="fault-%s" % spec.kind, daemon=True)
        self.threads.append(thread)
        thread.start()

    def record(self, spec):
        fault = Fault(spec, time.time())
        with self._lock:
            self.faults.append(fault)
        return fault

    def _run(self, spec, stop):
        fault = self.record(spec)
        try:
            getattr(self, "_" + spec.kind)(fault, spec.params, stop)
            if fault.status == "running":
                fault.status = "done"
        except Exception as exc:  # noqa: BLE001 - a fault that cannot be injected is reported, the soak goes on
            fault.status = "skipped: %s" % exc
            self.log("fault %s could not be injected: %s" % (spec.kind, exc))
        finally:
            if fault.end is None:
                fault.end = time.time()

    def _hold(self, fault, stop, seconds=None):
        stop.wait(max(0.0, (fault.spec.duration if seconds is None else seconds)))

    def _flap(self, fault, params, stop):
        iid, half = params["instance"], params["period"] / 2.0
        deadline = fault.start + fault.spec.duration
        failing = False
        for _flip in range(int(fault.spec.duration / half) + 2):
            if stop.is_set() or time.time() >= deadline:
                break
            (self.fail if not failing else self.recover)(iid)
            failing = not failing
            stop.wait(half)
        if failing:
            self.recover(iid)

    def _instance_fail(self, fault, params, stop):
        self.fail(params["instance"])
        if params.get("for_good"):
            fault.note = "for good"
            return
        self._hold(fault, stop)
        self.recover(params["instance"])

    def _mass_failure(self, fault, params, stop):
        targets = [i.id for i in self.bed.services.instances if not i.steady]
        for iid in targets:
            self.fail(iid)
        fault.note = "%d of %d instances" % (len(targets), len(self.bed.services.instances))
        self._hold(fault, stop)
        for iid in targets:
            self.recover(iid)

    def _agent_kill(self, fault, params, stop):
        name = params["agent"]
        if not self._agent_locks[name].acquire(timeout=fault.spec.duration):
            raise RuntimeError("agent %s busy with another fault" % name)
        try:
            agent = self.bed.cluster.clients[name]
            agent.kill()
            self._hold(fault, stop)
            agent.start()
        finally:
            self._agent_locks[name].release()

    def _agent_restart(self, fault, params, stop):
        name = params["agent"]
        if not self._agent_locks[name].acquire(timeout=30):
            raise RuntimeError("agent %s busy with another fault" % name)
        try:
            agent = self.bed.cluster.clients[name]
            agent.stop()
            agent.start()
            agent.wait_http(30)
        finally:
            self._agent_locks[name].release()

    def _servers_up(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(s.is_running() for s in self.bed.cluster.servers) and self.bed.cluster.has_leader():
                return True
            time.sleep(0.5)
        return False

    def _leader_kill(self, fault, params, stop):
        with self._server_lock:
            if not self._servers_up():
                raise RuntimeError("a server is still down or there is no leader")
            leader = self.bed.cluster.any_live_server().api("GET", "/v1/status/leader").rsplit(":", 1)[0]
            server = next(s for s in self.bed.cluster.servers if s.address == leader)
            fault.start = time.time()
            server.kill()
            fault.note = server.name
            self._hold(fault, stop)
            server.start()

    def _quorum_loss(self, fault, params, stop):
        with self._server_lock:
            if not self._servers_up():
                raise RuntimeError("a server is still down or there is no leader")
            servers = [self.bed.cluster.servers[i] for i in params["servers"]]
            fault.start = time.time()
            for server in servers:
                server.kill()
            fault.note = " and ".join(s.name for s in servers)
            self._hold(fault, stop)
            for server in servers:
                server.start()

    def _watches_stopped(self, fault, params, stop):
        """Both watch services stopped (SIGTERM, as ``systemctl stop``: the holder releases the lock), so that
        only the timer's playbook syncs for a while; started again after the fault's duration."""
        if not self._watch_lock.acquire(timeout=fault.spec.duration):
            raise RuntimeError("another fault holds the watch services")
        try:
            fault.start = time.time()
            for driver in self.bed.watches.values():
                driver.terminate()
            self._hold(fault, stop)
            for driver in self.bed.watches.values():
                driver.start()
            fault.end = time.time()
        finally:
            self._watch_lock.release()

    def _watch_kill(self, fault, params, stop):
        if not self._watch_lock.acquire(timeout=30):
            raise RuntimeError("another fault holds the watch services")
        try:
            self._kill_holder(fault, params, stop)
        finally:
            self._watch_lock.release()

    def _kill_holder(self, fault, params, stop):
        """kill -9 the watch service holding the lock at its next WAPI write (a change is made so that one
        comes), else after 15 s; systemd-like restart after the fault's duration. Waits up to 90 s for a
        holder: a quorum loss of the same phase leaves none for its length and the election after it."""
        deadline = time.time() + 90
        driver = None
        while time.time() < deadline and not stop.is_set():
            driver = self.bed.watch_of_holder(self.checker.lock_holder())
            if driver is not None and driver.alive():
                break
            driver = None
            time.sleep(0.2)
        if driver is None:
            raise RuntimeError("no watch service held the lock for 90 s")
        tap = self.bed.taps[driver.name]
        killed = threading.Event()

        def kill():
            driver.kill()
            killed.set()
        tap.arm_kill(kill, params["when"])
        fault.start = time.time()
        self.fail(params["instance"])
        if not killed.wait(15):
            if tap.disarm():
                kill()
                fault.note = "%s killed idle (no write within 15 s)" % driver.name
        if not fault.note:
            fault.note = "%s killed %s a write" % (driver.name, params["when"])
        self._hold(fault, stop)
        driver.start()
        fault.end = time.time()
        self.recover(params["instance"])

    def _wapi_rule(self, fault, rule, stop):
        key = id(fault)
        self.rules.add(key, rule)
        try:
            self._hold(fault, stop)
        finally:
            self.rules.remove(key)

    def _wapi_5xx(self, fault, params, stop):
        self._wapi_rule(fault, {"action": "status", "status": params["status"], "path": WAPI_PATH}, stop)

    def _wapi_401(self, fault, params, stop):
        self._wapi_rule(fault, {"action": "status", "status": 401, "path": WAPI_PATH}, stop)

    def _wapi_drop(self, fault, params, stop):
        self._wapi_rule(fault, {"action": "drop", "path": WAPI_PATH}, stop)

    def _wapi_timeout(self, fault, params, stop):
        """Every call slow past the read timeout, or (``writes``) the multi-object requests only - the writes,
        and the name-scoped reads, which are requests too - while GETs stay fast."""
        rule = {"action": "latency", "delay": params["delay"], "path": WAPI_PATH}
        if params.get("target") == "writes":
            rule.update(method="POST", path=WAPI_PATH + "request$")
        self._wapi_rule(fault, rule, stop)

    def _wapi_slow(self, fault, params, stop):
        self._wapi_rule(fault, {"action": "latency", "delay": params["delay"], "path": WAPI_PATH}, stop)

    def _wapi_request_item(self, fault, params, stop):
        """A multi-object ``request`` failing at item ``index`` (the items before it kept when ``rollback`` is
        off), ``count`` times, within the fault's duration."""
        with self._lock:
            self._rollback_users += 1
            if not params["rollback"]:
                self.bed.nios.control("POST", "settings", json={"request_rollback": False})
        key = id(fault)
        self.rules.add(key, {"action": "request_item", "index": params["index"], "count": params["count"],
                             "status": 400})
        try:
            deadline = fault.start + fault.spec.duration
            while time.time() < deadline and not stop.is_set() and self.rules.remaining(key):
                stop.wait(0.5)
            fault.note = "consumed" if not self.rules.remaining(key) else "not all consumed"
        finally:
            self.rules.remove(key)
            with self._lock:
                self._rollback_users -= 1
                if self._rollback_users == 0:
                    self.bed.nios.control("POST", "settings", json={"request_rollback": True})

    def _zone_dir_ro(self, fault, params, stop):
        path = str(self.bed.zone_dir)
        done = subprocess.run(["chattr", "+i", path], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError("chattr +i failed (%s): read-only directory not available here"
                               % done.stderr.strip())
        try:
            self._hold(fault, stop)
        finally:
            subprocess.run(["chattr", "-i", path], capture_output=True, check=False)

    def _corrupt_state(self, fault, params, stop):
        """The state's KV value replaced by ``params['value']``. The writers' logs are marked before the
        write (a warning logged while its answer is on the way counts), and the value's ModifyIndex comes
        with the write itself (a transaction answers it): a separate read after the write could already
        see the writers' rebuild, whose index would then pass for the corruption's."""
        before = self.checker.log_marks()
        # Long enough to outlast a quorum loss of the same phase (up to 45 s) and the election after it:
        # a KV write needs a leader.
        deadline = time.time() + 120
        value = base64.b64encode(params["value"].encode()).decode("ascii")
        while True:
            try:
                server = self.bed.cluster.any_live_server()
                response = self.session.put("%s/v1/txn" % server.http_url,
                                            json=[{"KV": {"Verb": "set", "Key": STATE_KEY, "Value": value}}],
                                            timeout=10)
                response.raise_for_status()
                index = response.json()["Results"][0]["KV"]["ModifyIndex"]
                break
            except (requests.RequestException, RuntimeError, ValueError, KeyError, IndexError, TypeError):
                if time.time() > deadline or stop.is_set():
                    raise
                time.sleep(0.5)
        fault.start = time.time()
        self.checker.corrupted(fault.start, params["value"], index, before)
