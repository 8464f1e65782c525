"""One soak: the bed up, the writers' first publication, then each phase's faults and a quiet period,
the figures, everything down. Every wait has a deadline, and a watchdog ends the process if the soak
runs past its hard limit."""
import os
import threading
import time

from bench.chaos import figures
from bench.chaos.bed import Bed
from bench.chaos.config import PROFILES, Bounds
from bench.chaos.faults import Injector
from bench.chaos.invariants import Checker
from bench.chaos.observe import Observer
from bench.chaos.schedule import FaultSpec, make_schedule

START_TIMEOUT = 120  # the writers' first publication
HARD_LIMIT_MARGIN = 600  # seconds past the planned length after which the watchdog ends the process


def machine():
    """The bench's machine description (bench/__main__.py) in one line, with the load average now."""
    from bench.__main__ import machine as bench_machine
    m = bench_machine()
    return "%d CPU(s) %s, %.1f GiB; Python %s, ansible-core %s, %s; load average %s" % (
        m["nproc"], m["cpu_model"], m["mem_total_gib"], m["python"], m["ansible_core"], m["consul"],
        "/".join("%.1f" % x for x in os.getloadavg()))


class Soak(object):
    def __init__(self, seed, profile_name, block, log, workdir=None, max_violations=None, collections=None):
        self.seed, self.profile_name, self.block, self.log = seed, profile_name, block, log
        self.profile = PROFILES[profile_name]
        self.phases, self.ticks, self.probe_order = make_schedule(seed, profile_name, self.profile)
        self.bed = Bed(block, log, workdir, **({"collections": collections} if collections else {}))
        self.bounds = Bounds(self.bed.settings, self.profile["timer_period"])
        self.stop = threading.Event()
        self.checker = self.observer = self.injector = None
        self.max_violations = max_violations
        self.t0 = self.seconds = None
        self.machine = machine()

    def planned_seconds(self):
        quiet = self.bounds.withdraw + self.bounds.hold_down + self.bounds.allowance("consul")
        return START_TIMEOUT + self.profile["phases"] * (self.profile["phase_seconds"] + 60 + quiet)

    def _watchdog(self, limit):
        if not self.stop.wait(limit):
            self.log("WATCHDOG: the soak ran past %.0f s; stopping everything" % limit)
            try:
                self.bed.stop()
            finally:
                os._exit(3)

    def _sampler(self):
        while not self.stop.wait(1.0):
            for driver in self.bed.watches.values():
                driver.sample()

    def quiet(self, label, earliest, deadline):
        done = threading.Event()
        self.checker.begin_quiet(label, earliest, deadline, done)
        if not done.wait(max(0.0, deadline - time.time()) + 10):
            self.log("quiet period %s: no verdict by its deadline" % label)
        result = self.checker.quiet_results[-1] if self.checker.quiet_results else None
        verdict = "agreement" if result and result["ok"] else "NO agreement"
        self.log("quiet period %s: %s after %.1f s" % (label, verdict, result["seconds"] if result else -1))

    def run(self):
        threading.Thread(target=self._watchdog, args=(self.planned_seconds() + HARD_LIMIT_MARGIN,), daemon=True,
                         name="watchdog").start()
        self.log("seed %d, profile %s: %d phases, faults %s" % (
            self.seed, self.profile_name, len(self.phases), [[s.kind for s in p] for p in self.phases]))
        self.t0 = time.time()
        try:
            self.bed.start(self.ticks)
            self.checker = Checker(self.bed, self.bounds, self.log)
            self.checker.t0 = self.t0
            self.injector = Injector(self.bed, self.checker, self.bounds, self.log)
            self.checker.injector = self.injector
            self.observer = Observer(self.bed, self.checker, self.stop, self.log).start()
            threading.Thread(target=self._sampler, daemon=True, name="sampler").start()
            now = time.time()
            self.quiet("start", now + 1, now + START_TIMEOUT)
            self.checker.armed = True
            for number, specs in enumerate(self.phases):
                if self.enough():
                    break
                self.phase(number, specs)
            self.seconds = time.time() - self.t0
        finally:
            self.stop.set()
            if self.injector is not None:
                for thread in self.injector.threads:  # they give back what they took (agents, rules)
                    thread.join(30)
            if self.checker is not None:
                self.checker.close()
            if self.observer is not None:
                self.observer.join(10)
            if self.seconds is None:
                self.seconds = time.time() - self.t0
            self.machine += "; at end %s" % "/".join("%.1f" % x for x in os.getloadavg())
            try:
                fig = figures.build(self) if self.checker is not None else None
            finally:
                self.bed.stop()
        return fig

    def phase(self, number, specs):
        start = time.time()
        self.log("phase %d: %s" % (number + 1, ", ".join("%s@%.0fs" % (s.kind, s.at) for s in specs)))
        for spec in specs:
            while time.time() < start + spec.at:
                if self.stop.wait(min(0.2, start + spec.at - time.time())) or self.enough():
                    return
            self.injector.launch(spec, self.stop)
        limit = start + self.profile["phase_seconds"] + 120
        while self.injector.running() and time.time() < limit and not self.enough():
            time.sleep(0.2)
        if self.enough():
            return
        now = time.time()
        deadline = max(now, self.checker.release(now)) + self.bounds.hold_down + self.bounds.withdraw + 5
        self.quiet("after phase %d" % (number + 1), now + 2, deadline)
        # Probes in calm conditions: a live writer holds the lock, Consul has a leader, no fault runs.
        self.wait(lambda: self.checker.calm(time.time()), self.bounds.allowance("consul"))
        for _probe in range(self.profile["probes"]):
            if self.enough():
                return
            self.probe(number)

    def enough(self):
        """Stop early: ``max_violations`` reached (used by the tests that prove the checks can fail)."""
        if self.max_violations is None or self.checker is None:
            return False
        return sum(self.checker.violation_counts.values()) >= self.max_violations

    def probe(self, number):
        """One instance fails and recovers in calm conditions (after the quiet period): the clean convergence
        figures. The instance is the next one of the seed's order that is published and healthy."""
        candidates = [iid for iid in self.probe_order if self.checker.publishable_now(iid)]
        if not candidates:
            self.log("probe: no published healthy instance to fail")
            return
        iid = candidates[0]
        self.probe_order.remove(iid)
        self.probe_order.append(iid)  # the next probes take others first
        key = self.checker.key[iid]
        spec = FaultSpec("instance_fail", number, 0.0, 0.0, instance=iid, probe=True)
        fault = self.injector.record(spec)
        self.injector.fail(iid)
        gone = self.wait(lambda: not any(self.checker.present(key)), self.bounds.withdraw + 10)
        self.injector.recover(iid)
        back = self.wait(lambda: all(self.checker.present(key)), self.bounds.hold_down + self.bounds.withdraw + 10)
        fault.end, fault.status = time.time(), "done"
        fault.note = "probe: withdrawn %s, back %s" % ("yes" if gone else "NO", "yes" if back else "NO")
        self.stop.wait(1.5)

    def wait(self, predicate, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline and not self.stop.is_set():
            if predicate():
                return True
            time.sleep(0.1)
        return False
