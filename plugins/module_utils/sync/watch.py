# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Watch mode: a long-running zone sync that wakes on Consul changes instead of a timer.

- Two blocking queries (:mod:`consul_watch`) follow every check (``/v1/health/state/any``) and the
  service catalog (``/v1/catalog/services``); either change wakes the service.
- Only the holder of the Consul session lock (the same key as the timer job's, so the two modes never
  write at once) syncs. The others stand by on a blocking query of the lock key and take over when
  the holder's session ends: at once when it stops cleanly (it releases the key), after Consul's
  lock-delay when it dies (session TTL ran out, or its node's ``serfHealth`` turned critical).
  A thread renews the session every third of its TTL.
- A wake-up leads to one sync of every zone (:class:`zone_sync_job.SyncJob`: the playbook's steps
  and guards, the same flap damping and state in KV), after ``settle`` seconds that gather a burst of
  changes into one sync, and at most one sync per ``min_interval``. The damping's own timers
  (hold-down, grace, reuse after suppression) wake it too, a full re-sync runs every ``resync``
  seconds (it also repairs edits made in Infoblox by hand), and failed zones are retried with
  backoff.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import logging
import os
import threading
import time

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import ConsulError
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.options import CONNECTION_OPTIONS
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.kv import (
    ConsulKV,
    ConsulLock,
    LockLost,
    holder_identity,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.watch import (
    BlockingWatch,
    CachedHealthReader,
    HealthCache,
    checks_digest,
    next_index,
    services_digest,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.report import (
    build_report,
    write_json,
    write_metrics,
    zone_outcome,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.wapi import WapiClient
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.zone_sync_job import SyncJob, next_wakeup

log = logging.getLogger("consul_dns.watch")


def consul_connection(settings, timeout=None):
    """ConsulKV keyword arguments from the settings: ``consul_dns_consul_<argument>`` each."""
    kwargs = dict((kwarg, settings.get("consul_dns_consul_" + kwarg)) for _option, kwarg in CONNECTION_OPTIONS)
    kwargs["validate_certs"] = kwargs["validate_certs"] is None or bool(kwargs["validate_certs"])
    kwargs["timeout"] = float(timeout if timeout is not None else kwargs["timeout"] or 10)
    return kwargs


class Trigger(object):
    """Reasons to sync, set from any thread; :meth:`wait` returns and clears them."""

    def __init__(self):
        self.condition = threading.Condition()
        self.reasons = set()

    def set(self, reason):
        with self.condition:
            self.reasons.add(reason)
            self.condition.notify_all()

    def wait(self, timeout):
        with self.condition:
            if not self.reasons and timeout > 0:
                self.condition.wait(timeout)
            reasons, self.reasons = self.reasons, set()
            return reasons


class SessionRenewer(threading.Thread):
    """Renews the lock session every ttl/3; on failure marks the lock lost and wakes the service."""

    def __init__(self, kv, session, ttl, on_lost, stop):
        super(SessionRenewer, self).__init__(name="lock-renew", daemon=True)
        self.kv, self.session, self.interval = kv, session, max(1.0, ttl / 3.0)
        self.on_lost, self.stop_event = on_lost, stop
        self.done = threading.Event()

    def run(self):
        while not self.stop_event.wait(self.interval) and not self.done.is_set():
            try:
                if not self.kv.session_renew(self.session):
                    self.on_lost("session %s expired or was destroyed" % self.session)
                    return
            except ConsulError as exc:
                # The session may still be alive (TTL not over): keep trying, the sync checks it too.
                log.warning("cannot renew the lock session: %s", exc)


class ZoneWatchService(object):
    """The watch service; :meth:`run` blocks until :meth:`stop` (SIGTERM) and releases the lock."""

    def __init__(self, settings, reporter=None):
        # Every consul_dns_* setting, defaults included (playbooks/vars/zone_sync_defaults.yml).
        self.settings = s = dict(settings)
        self.job = SyncJob(s)
        self.wait = min(600, max(1, int(s["consul_dns_watch_wait"])))
        self.settle = float(s["consul_dns_watch_settle"])
        self.min_interval = float(s["consul_dns_watch_min_interval"])
        self.resync = float(s["consul_dns_watch_resync"])
        self.retry_max = float(s["consul_dns_watch_retry_max"])
        self.lock_enabled = bool(s["consul_dns_lock_enabled"])
        self.lock_ttl = int(s["consul_dns_watch_lock_ttl"])
        self.lock_delay = int(s["consul_dns_lock_delay"])
        self.holder = holder_identity(s.get("consul_dns_lock_holder"))
        self.reporter = reporter
        self.kv = ConsulKV(consistency=s.get("consul_dns_consul_consistency") or "default", **consul_connection(s))
        # Blocking queries hold a connection for up to wait + wait/16: their own clients, longer timeout.
        self.blocking_timeout = self.wait * 1.1 + float(s["consul_dns_consul_timeout"])
        self.lock = ConsulLock(self.kv, s["consul_dns_lock_key"]) if self.lock_enabled else None
        # Health of the services whose checks did not change is reused (see consul_watch.HealthCache).
        self.health_cache = HealthCache()
        self.reader = CachedHealthReader(self.kv, self.health_cache)
        self.wapi = None
        if self.job.push:
            self.wapi = WapiClient(
                s["consul_dns_infoblox_server"], s["consul_dns_infoblox_username"],
                s["consul_dns_infoblox_password"], wapi_version=str(s["consul_dns_infoblox_wapi_version"]),
                validate_certs=bool(s["consul_dns_infoblox_validate_certs"]),
                ca_path=s.get("consul_dns_infoblox_ca_path"), timeout=float(s["consul_dns_infoblox_timeout"]))
        self.trigger = Trigger()
        self.stop_event = threading.Event()
        self.session = None
        self.renewer = None
        self.watches = []
        self.syncs = 0
        self.last_outcomes = []

    # ------------------------------------------------------------------ threads
    def _blocking_reader(self):
        return ConsulKV(**consul_connection(self.settings, timeout=self.blocking_timeout))

    def start_watches(self):
        checks_reader, services_reader = self._blocking_reader(), self._blocking_reader()
        common = dict(on_change=self.trigger.set, on_error=self._watch_error, wait=self.wait, stop=self.stop_event)
        cache = self.health_cache
        self.watches = [
            BlockingWatch("checks", checks_reader.watch_checks, checks_digest, on_data=cache.mark_checks, **common),
            BlockingWatch("services", services_reader.watch_services, services_digest, index_is_change=True,
                          on_data=lambda previous, current: cache.mark_all(), **common),
        ]
        for watch in self.watches:
            watch.start()

    def _watch_error(self, name, exc):
        log.warning("blocking query on %s failed (retrying from index 0): %s", name, exc)

    def _lock_lost(self, why):
        log.error("lock %s lost: %s; stop writing and stand by", self.settings["consul_dns_lock_key"], why)
        self._let_go()  # stop renewing and destroy the old session: standing by takes a new one
        self.trigger.set("lock lost")

    # ------------------------------------------------------------------ lock
    def stand_by(self):
        """Block until this service holds the lock (returns the session) or is stopped (None)."""
        reader = self._blocking_reader()
        index, reported, backoff = 0, None, 0.0
        while not self.stop_event.is_set():
            try:
                acquired, session, info = self.lock.acquire(self.holder, ttl=self.lock_ttl, lock_delay=self.lock_delay)
                if acquired:
                    log.info("lock %s acquired (session %s): this service writes", self.lock.key, session)
                    return session
                holder = info.get("holder") or "nobody"
                if holder != reported:
                    log.info("standing by: lock %s is held by %s", self.lock.key, holder)
                    reported = holder
                    self._report_standby(info)
                if not info.get("session"):
                    # Free but refused: Consul's lock-delay after the last holder's session ended.
                    self.stop_event.wait(1)
                    continue
                returned, _item = reader.kv_watch(self.lock.key, index, self.wait)
                index = next_index(index, returned)
                backoff = 0.0
            except ConsulError as exc:
                backoff = min(self.retry_max, max(1.0, backoff * 2))
                log.warning("standing by: cannot read or take the lock (%s); retrying in %gs", exc, backoff)
                index = 0
                self.stop_event.wait(backoff)
        return None

    def _report_standby(self, info):
        """A standby's report says it is skipped and who writes (as a timer run that finds the lock held)."""
        if self.reporter is None:
            return
        now = time.time()
        lock = {"key": self.lock.key, "acquired": False, "holder": info.get("holder"), "since": info.get("since")}
        try:
            self.reporter([], now, now, self.holder, lock=lock)
        except (IOError, OSError, ValueError) as exc:
            log.warning("cannot write the sync report: %s", exc)

    def _hold(self, session):
        self.session = session
        self.renewer = SessionRenewer(self._blocking_reader(), session, self.lock_ttl, self._lock_lost,
                                      self.stop_event)
        self.renewer.start()
        self.trigger.set("lock acquired")

    def _let_go(self):
        if self.renewer is not None:
            self.renewer.done.set()
            self.renewer = None
        session, self.session = self.session, None
        if session and self.lock is not None:
            try:
                self.lock.release(session)
                log.info("lock %s released", self.lock.key)
            except ConsulError as exc:
                log.warning("cannot release lock %s (its session TTL ends it): %s", self.lock.key, exc)

    # ------------------------------------------------------------------ sync
    def sync(self, reasons):
        started = time.time()
        if reasons != {"checks"}:
            self.health_cache.mark_all()  # periodic, retry, new holder, catalog change: read everything
        reads_before, reused_before = self.health_cache.reads, self.health_cache.reused
        try:
            outcomes = self.job.run(self.kv, self.wapi, self.lock, self.session, writer=self.holder, now=started,
                                    reader=self.reader)
        except LockLost as exc:
            self._lock_lost(str(exc))
            return None
        finished = time.time()
        self.syncs += 1
        self.last_outcomes = outcomes
        for outcome in outcomes:
            self._log_outcome(outcome)
        log.info("sync %d (%s) took %.3fs; health read for %d service(s), %d unchanged", self.syncs,
                 ", ".join(sorted(reasons)), finished - started, self.health_cache.reads - reads_before,
                 self.health_cache.reused - reused_before)
        if self.reporter is not None:
            try:
                self.reporter(outcomes, started, finished, self.holder,
                              lock={"key": self.lock.key, "acquired": True, "holder": self.holder}
                              if self.lock is not None else None)
            except (IOError, OSError, ValueError) as exc:
                log.warning("cannot write the sync report: %s", exc)
        return outcomes

    @staticmethod
    def _log_outcome(outcome):
        zone = outcome["zone"]
        for warning in outcome.get("warnings") or ():
            log.warning("%s: %s", zone, warning)
        desired = outcome.get("desired") or {}
        for line in desired.get("report") or ():
            log.info("%s", line)
        if outcome.get("refused"):
            log.error("%s: refused: %s", zone, outcome["refused"])
        elif outcome.get("error"):
            log.error("%s", outcome["error"])
        push = outcome.get("push")
        if push and push.get("changed"):
            log.info("%s: pushed to Infoblox: %s", zone, push.get("counts"))

    def _next_due(self, outcomes, last_sync, failures):
        due = last_sync + self.resync
        wakeup = next_wakeup(outcomes or [], last_sync)
        if wakeup is not None:
            due = min(due, wakeup + 0.05)  # just after the damping's deadline, not just before
        if failures:
            due = min(due, last_sync + min(self.retry_max, 2 ** (failures - 1)))
        return due

    def run(self):
        self.start_watches()
        last_sync, last_attempt, failures, due = 0.0, 0.0, 0, 0.0
        try:
            while not self.stop_event.is_set():
                if self.lock_enabled and self.session is None:
                    session = self.stand_by()
                    if session is None:
                        break
                    self._hold(session)
                    due = 0.0
                reasons = self.trigger.wait(max(0.0, due - time.time()))
                if self.stop_event.is_set():
                    break
                if self.lock_enabled and self.session is None:
                    continue
                if not reasons and time.time() < due:
                    continue
                # Rate limit, then let a burst settle into one sync.
                pause = last_attempt + self.min_interval - time.time()
                if pause > 0 and self.stop_event.wait(pause):
                    break
                if self.settle > 0 and self.stop_event.wait(self.settle):
                    break
                reasons |= self.trigger.wait(0)
                last_attempt = time.time()
                outcomes = self.sync(reasons or {"due"})
                if outcomes is None:
                    continue  # lock lost
                failures = failures + 1 if any(o.get("error") for o in outcomes) else 0
                last_sync = last_attempt
                due = self._next_due(outcomes, last_sync, failures)
        finally:
            self.stop_event.set()
            self._let_go()
            if self.wapi is not None:
                self.wapi.logout()
        return 0

    def run_once(self):
        """One sync under the lock, like one timer run: 0 done or lock busy, 1 a zone failed."""
        try:
            if self.lock_enabled:
                acquired, session, info = self.lock.acquire(self.holder, ttl=max(self.lock_ttl, 60),
                                                            lock_delay=self.lock_delay)
                if not acquired:
                    log.info("lock %s is held by %s: nothing to do", self.lock.key, info.get("holder") or "nobody")
                    return 0
                self.session = session
            outcomes = self.sync({"once"})
        except ConsulError as exc:
            log.error("%s", exc)
            return 1
        finally:
            self._let_go()
            if self.wapi is not None:
                self.wapi.logout()
        return 1 if outcomes is None or any(o.get("error") for o in outcomes) else 0

    def stop(self, *_args):
        self.stop_event.set()
        self.trigger.set("stop")


def report_paths(settings):
    """(JSON summary path or None, Prometheus textfile path or None), as the playbook resolves them."""
    report_file = settings.get("consul_dns_report_file")
    if report_file == "auto":
        report_file = os.path.join(os.path.dirname(os.path.normpath(settings["consul_dns_zone_dir"])), "last_sync.json")
    return report_file or None, settings.get("consul_dns_metrics_file") or None


def file_reporter(settings):
    """A reporter writing the same JSON summary and metrics as the playbook (mode ``watch``), or None."""
    report_file, metrics_file = report_paths(settings)
    if not report_file and not metrics_file:
        return None

    def report(outcomes, started, finished, holder, lock=None):
        zones = [zone_outcome(o["zone"], o["desired"], o["zone_file"], o["push"]) for o in outcomes]
        summary = build_report(zones, started, finished, "watch", holder=holder, lock=lock)
        if report_file:
            write_json(report_file, summary)
        if metrics_file:
            write_metrics(metrics_file, summary)
    return report
