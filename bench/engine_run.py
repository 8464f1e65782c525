"""One zone sync the way the collection runs it: the sync engine (``sync/engine.py``), in this process.

:func:`sync` is ``SyncEngine(load_settings(variables)).run("playbook", "bench")`` - what the action
plugin ``geant.consul_dns.zone_sync`` does inside ansible-playbook, without Ansible: lock, Consul
read, flap damping (state in Consul KV), shrink guard, zone file (staged, named-checkzone), Infoblox
push, damping state. A fresh engine per run (its own Consul client and WAPI session, logout at the
end), as each playbook run has.

The engine's Consul reader and its two publishers are wrapped in stopwatches (the engine's own
objects, only timed), so that a run's wall time splits into Consul, WAPI and zone file; the rest is
the settings, the lock, the damping and its state in KV.
"""
import time

# bench sets sys.path for the collection and the test beds
import bench  # noqa: F401  pylint: disable=unused-import
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.kv import ConsulKV
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.decision import observe
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.engine import (
    SyncEngine,
    ZonePlan,
    consul_connection,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.settings import load_settings

HOLDER = "bench"


def bench_variables(consul_url, nios, zone, zone_dir, run_id):
    """The consul_dns_* variables of every bench sync, in-process and through ansible-playbook."""
    return {
        "consul_dns_consul_address": consul_url,
        "consul_dns_zones": [{"name": zone, "nameservers": ["ns1.geant.net."]}],
        "consul_dns_zone_dir": zone_dir,
        "consul_dns_zone_validate": "auto",  # the default: named-checkzone when installed
        "consul_dns_hold_down": 0,
        "consul_dns_lock_key": "bench/lock-%s" % run_id,  # lock on (the default)
        "consul_dns_state_prefix": "bench/state-%s" % run_id,
        "consul_dns_report_file": "",
        "consul_dns_infoblox_server": nios.host,
        "consul_dns_infoblox_username": nios.username,
        "consul_dns_infoblox_password": nios.password,
        "consul_dns_infoblox_ca_path": nios.ca_path,
    }


class Stopwatch(object):
    def __init__(self):
        self.seconds = 0.0

    def time(self, func, *args):
        start = time.perf_counter()
        try:
            return func(*args)
        finally:
            self.seconds += time.perf_counter() - start


class TimedReader(object):
    """The engine's Consul reader (its ConsulKV), timed; ``calls``: HTTP calls of the reads."""

    def __init__(self, reader):
        self.reader = reader
        self.watch = Stopwatch()
        self.calls = 0

    @property
    def http_calls(self):
        return self.reader.http_calls

    def _timed(self, method, *args):
        before = self.reader.http_calls
        try:
            return self.watch.time(method, *args)
        finally:
            self.calls += self.reader.http_calls - before

    def leader(self):
        return self._timed(self.reader.leader)

    def services(self):
        return self._timed(self.reader.services)

    def health_of(self, names):
        return self._timed(self.reader.health_of, names)


class TimedPublisher(object):
    """One of the engine's publishers, timed: stage, commit, discard and close."""

    def __init__(self, publisher):
        self.publisher = publisher
        self.step = publisher.step
        self.watch = Stopwatch()

    def stage(self, plan, decision, check_mode):
        return TimedStage(self.watch.time(self.publisher.stage, plan, decision, check_mode), self.watch)

    def close(self):
        self.watch.time(self.publisher.close)


class TimedStage(object):
    def __init__(self, staged, watch):
        self.staged, self.watch = staged, watch

    def __getattr__(self, name):  # changed, warnings, diff, summary
        return getattr(self.staged, name)

    def commit(self):
        self.watch.time(self.staged.commit)

    def discard(self):
        self.watch.time(self.staged.discard)


def sync(variables):
    """One engine run; a dict of timings and counts. Raises when the run did not sync the zone.

    ``cpu_seconds``: CPU time of this process (all its threads) during the run: the collection's own
    cost, which the machine's load does not inflate the way it inflates wall time.
    """
    start, cpu_start = time.perf_counter(), time.process_time()
    engine = SyncEngine(load_settings(variables))
    engine.publishers = [TimedPublisher(publisher) for publisher in engine.publishers]
    reader = TimedReader(engine.kv)
    try:
        run = engine.run("playbook", HOLDER, reader=reader)
    finally:
        engine.close()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    if run.skipped or not run.ok:
        raise RuntimeError("sync engine run failed: %s" % (run.skipped or run.failure_message()))
    outcome = run.outcomes[0].summary()
    watches = dict((p.step, p.watch.seconds) for p in engine.publishers)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "consul_read_seconds": reader.watch.seconds,
        "consul_http_calls": reader.calls,
        "wapi_seconds": watches["push"],
        "zone_file_seconds": watches["zone_file"],
        "records": outcome["records"],
        "summary": outcome["push"],
        "requests": outcome["push"]["requests"],
        "zone_file_changed": outcome["zone_file"]["changed"],
        "state_written": outcome["state_written"],
    }


def consul_read(variables):
    """(Observed, seconds): the engine's Consul read and damping input (``decision.observe``) alone."""
    settings = load_settings(variables)
    plan = ZonePlan(settings.zones[0], settings)
    start = time.perf_counter()
    kv = ConsulKV(consistency=settings["consul_consistency"], **consul_connection(settings))
    observed = observe(kv, plan.selection, plan.zone, settings["all_failing_meta_key"])
    print("[bench] Consul read path: %s" % getattr(kv, "read_path", "per-service (no read_path)"), flush=True)
    return observed, time.perf_counter() - start
