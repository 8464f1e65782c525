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
- A wake-up leads to one run of the sync engine (:class:`engine.SyncEngine`, the same code the action
  plugin runs for the playbook, AWX and the timer), once ``settle`` seconds have passed since the
  first change of a burst (gathering it into one sync), and at most one sync per ``min_interval``.
  This module only decides *when*, and whether a run may be **name-scoped**: between two full syncs
  the engine pushes to Infoblox only the names whose records changed (reading only those from WAPI).
  A full sync (Consul health of every service, the whole zone read from WAPI) runs when the service
  takes the lock, after a failed or refused run, every ``resync`` seconds (it also repairs edits
  made in Infoblox by hand), and 30 s and 120 s after a WAPI write that got no answer (NIOS may apply
  it after the retry read the zone). The damping's own timers (hold-down, grace, reuse after suppression)
  wake it too, and failed zones are retried with backoff.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gc
import logging
import os
import threading
import time

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import ConsulError
from ansible_collections.geant.consul_dns.plugins.module_utils.heap import PausedGc
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.kv import ConsulKV
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.watch import (
    BlockingWatch,
    CachedHealthReader,
    HealthCache,
    checks_digest,
    next_index,
    services_digest,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.engine import SyncEngine, consul_connection
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.lock_keeper import holder_name

log = logging.getLogger("consul_dns.watch")

# Reasons a sync may be name-scoped for: a check or catalog change, a damping deadline.
SCOPED_REASONS = frozenset(["checks", "services", "damping"])
# Seconds after a WAPI write that got no answer at which the whole zone is read again: NIOS may apply
# such a write after the retry read the zone, and name-scoped syncs would not look at it again.
RECHECK_AFTER_UNKNOWN_WRITE = (30, 120)
# ... and the reasons that leave the health cache as it is (the checks watch marks what changed).
HEALTH_CACHE_REASONS = frozenset(["checks", "damping"])


class QuietHeap(PausedGc):
    """Keep the cyclic garbage collector's pauses out of a sync, and make them short.

    A full sync leaves a large, long-lived heap (the health of every service, the zone file parsed,
    the records published and the damping state: hundreds of thousands of objects for a zone of 10,000
    records) and every sync allocates as much again. Left alone, the collector walks all of it several
    times per sync, pauses of a good part of a second in the middle of the sync. So during a sync the
    collector is off (objects are still freed as usual when no longer used; only reference cycles
    wait), and after it the garbage is collected once and what survives is frozen (``gc.freeze``), so
    that later collections skip it. After a full sync the whole heap is collected again before it is
    frozen, so cycles among frozen objects are kept at most until the next full sync.
    """

    @staticmethod
    def tidy(full):
        if not hasattr(gc, "freeze"):  # Python < 3.7: a collection only
            gc.collect()
            return
        if full:
            gc.unfreeze()
        gc.collect()
        gc.freeze()


class Trigger(object):
    """Reasons to sync, set from any thread; :meth:`wait` returns and clears them."""

    def __init__(self):
        self.condition = threading.Condition()
        self.reasons = set()
        self.first = None  # time.time() of the first reason not yet taken

    def set(self, reason):
        with self.condition:
            if not self.reasons:
                self.first = time.time()
            self.reasons.add(reason)
            self.condition.notify_all()

    def wait(self, timeout):
        with self.condition:
            if not self.reasons and timeout > 0:
                self.condition.wait(timeout)
            reasons, self.reasons = self.reasons, set()
            return reasons

    def take(self, timeout):
        """:meth:`wait`, with the time the first of the reasons was set (None when there are none)."""
        with self.condition:
            first = self.first if self.reasons else None
            reasons = self.wait(timeout)
            if reasons and first is None:
                first = self.first
            return reasons, first


class ZoneWatchService(object):
    """The watch service; :meth:`run` blocks until :meth:`stop` (SIGTERM) and releases the lock."""

    def __init__(self, settings, report=True):
        """``settings``: validated :class:`settings.SyncSettings`; ``report``: write the run reports."""
        self.settings = s = settings
        self.engine = SyncEngine(s)
        self.report = report
        self.wait = s["watch_wait"]
        self.settle = s["watch_settle"]
        self.min_interval = s["watch_min_interval"]
        self.resync = s["watch_resync"]
        self.retry_max = s["watch_retry_max"]
        self.rechecks = []  # times of full syncs due after a write without an answer
        self.lock_enabled = s["lock_enabled"]
        self.holder = holder_name("consul-dns-zone-watch", os.getpid(), configured=s["lock_holder"])
        # Blocking queries hold a connection for up to wait + wait/16: their own clients, longer timeout.
        self.blocking_timeout = self.wait * 1.1 + s["consul_timeout"]
        self.keeper = None
        if self.lock_enabled:
            self.keeper = self.engine.lock_keeper(self.holder, ttl=s["watch_lock_ttl"], on_lost=self._lock_lost,
                                                  renew_kv=self._blocking_reader())
        # Health of the services whose checks did not change is reused (see consul.watch.HealthCache).
        self.health_cache = HealthCache()
        self.reader = CachedHealthReader(self.engine.kv, self.health_cache)
        self.trigger = Trigger()
        self.stop_event = threading.Event()
        self.watches = []
        self.syncs = 0
        self.last_result = None

    # ------------------------------------------------------------------ threads
    def _blocking_reader(self):
        return ConsulKV(**consul_connection(self.settings, timeout=self.blocking_timeout))

    @property
    def session(self):
        return self.keeper.session if self.keeper is not None and self.keeper.held else None

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
        log.error("lock %s lost: %s; stop writing and stand by", self.settings["lock_key"], why)
        self.trigger.set("lock lost")

    # ------------------------------------------------------------------ lock
    def stand_by(self):
        """Block until this service holds the lock (True) or is stopped (False)."""
        reader = self._blocking_reader()
        index, reported, backoff = 0, None, 0.0
        while not self.stop_event.is_set():
            try:
                acquired, info = self.keeper.acquire()
                if acquired:
                    log.info("lock %s acquired (session %s): this service writes", self.keeper.key,
                             self.keeper.session)
                    return True
                holder = info.get("holder") or "nobody"
                if holder != reported:
                    reported = holder
                    if self.report:  # written before the log line, which then says it is there
                        self._log_report_error(self.engine.report_standby(self.holder, info))
                    log.info("standing by: lock %s is held by %s", self.keeper.key, holder)
                if not info.get("session"):
                    # Free but refused: Consul's lock-delay after the last holder's session ended.
                    self.stop_event.wait(1)
                    continue
                returned, _item = reader.kv_watch(self.keeper.key, index, self.wait)
                index = next_index(index, returned)
                backoff = 0.0
            except ConsulError as exc:
                backoff = min(self.retry_max, max(1.0, backoff * 2))
                log.warning("standing by: cannot read or take the lock (%s); retrying in %gs", exc, backoff)
                index = 0
                self.stop_event.wait(backoff)
        return False

    @staticmethod
    def _log_report_error(error):
        if error:
            log.warning("%s", error)

    def _let_go(self):
        if self.keeper is not None and self.keeper.session is not None:
            if self.keeper.release():
                log.info("lock %s released", self.keeper.key)

    # ------------------------------------------------------------------ sync
    def sync(self, reasons, mode="watch", full=True):
        """One engine run under the held lock; returns the RunResult, or None when the lock was lost.

        ``full``: Consul health of every service and the whole zone in Infoblox; otherwise only the
        services whose checks changed are read again (unless the catalog changed) and only the names
        whose records changed are read and written in Infoblox (:meth:`SyncEngine.run`, ``scoped``).
        """
        started = time.time()
        if full or not reasons <= HEALTH_CACHE_REASONS:
            self.health_cache.mark_all()  # periodic, retry, new holder, catalog change: read everything
        reads_before, reused_before = self.health_cache.reads, self.health_cache.reused
        wapi = self._wapi_client()
        wapi_before = (wapi.reads, wapi.writes) if wapi is not None else None
        with QuietHeap():
            result = self.engine.run(mode, self.holder, lock=self.keeper, now=started, reader=self.reader,
                                     write_report=self.report, scoped=not full)
        if result.lock_lost:
            self._lock_lost(result.error)
            self._let_go()  # stop renewing and destroy the old session: standing by takes a new one
            return None
        self.syncs += 1
        self.last_result = result
        for outcome in result.outcomes:
            self._log_outcome(outcome)
        details = []
        if wapi is not None:
            details.append("WAPI reads %d, writes %d" % (wapi.reads - wapi_before[0], wapi.writes - wapi_before[1]))
        for outcome in result.outcomes:
            details.append(self._zone_details(outcome.zone))
        log.info("sync %d (%s) took %.3fs; health read for %d service(s), %d unchanged; %s", self.syncs,
                 ", ".join(sorted(reasons)), time.time() - started, self.health_cache.reads - reads_before,
                 self.health_cache.reused - reused_before, "; ".join(details))
        self._log_report_error(result.report_error)
        QuietHeap.tidy(full)
        return result

    def _wapi_client(self):
        for publisher in self.engine.publishers:
            if getattr(publisher, "client", None) is not None:
                return publisher.client
        return None

    def _zone_details(self, zone):
        """How the zone's run went: Infoblox scope and seconds per step."""
        scope = self.engine.push_scopes.get(zone, "none")
        if scope is None:
            scope = "Infoblox: whole zone"
        elif scope != "none":
            scope = "Infoblox: %d name(s)" % scope
        else:
            scope = "Infoblox: not staged"
        steps = " ".join("%s %.3fs" % item for item in self.engine.timings.get(zone, []))
        return "%s: %s; %s" % (zone, scope, steps)

    @staticmethod
    def _log_outcome(outcome):
        zone = outcome.zone
        for warning in outcome.warnings:
            log.warning("%s: %s", zone, warning)
        for line in outcome.damping_lines:
            log.info("%s", line)
        if outcome.refused:
            log.error("%s: refused: %s", zone, outcome.refused)
        elif outcome.error:
            log.error("%s", outcome.error)
        if outcome.push and outcome.push["changed"]:
            log.info("%s: pushed to Infoblox: %s", zone, dict((k, outcome.push[k]) for k in (
                "created", "updated", "deleted", "unchanged", "skipped")))

    def _next_due(self, outcomes, last_full, last_sync, failures):
        due = (last_full if last_full is not None else last_sync) + self.resync
        if self.rechecks:
            due = min(due, self.rechecks[0])
        wakeups = [o.next_wakeup for o in outcomes if o.next_wakeup is not None]
        wakeup = min(wakeups) if wakeups else None
        if wakeup is not None:
            due = min(due, wakeup + 0.05)  # just after the damping's deadline, not just before
        if failures:
            due = min(due, last_sync + min(self.retry_max, 2 ** (failures - 1)))
        return due

    def _full(self, reasons, last_full, failures, now):
        """Whether a sync must be a full one: the first since this service took the lock, after a failed or
        refused sync, when ``resync`` seconds have passed since the last full one, or for any reason other
        than a Consul change or a damping deadline. The engine itself falls back to the whole zone
        whenever it cannot prove which names changed."""
        recheck = bool(self.rechecks) and now >= self.rechecks[0]
        while self.rechecks and now >= self.rechecks[0]:
            self.rechecks.pop(0)
        return (last_full is None or failures > 0 or now >= last_full + self.resync or recheck
                or not reasons <= SCOPED_REASONS)

    def _why_due(self, last_full, failures, now):
        """The reason of a sync that no Consul change asked for."""
        if last_full is None or now >= last_full + self.resync:
            return "resync"
        if self.rechecks and now >= self.rechecks[0]:
            return "recheck"
        return "retry" if failures else "damping"

    def run(self):
        self.start_watches()
        self.engine.remember = True  # so that runs between two full syncs can be name-scoped
        self.engine.overlap = True  # WAPI reads overlap the zone file's rendering and validation
        last_sync, last_attempt, failures, due = 0.0, 0.0, 0, 0.0
        last_full = None  # start of the last full sync since this service took the lock
        try:
            while not self.stop_event.is_set():
                if self.lock_enabled and self.session is None:
                    if not self.stand_by():
                        break
                    self.trigger.set("lock acquired")
                    due, last_full = 0.0, None
                reasons, first = self.trigger.take(max(0.0, due - time.time()))
                if self.stop_event.is_set():
                    break
                if self.lock_enabled and self.session is None:
                    self._let_go()
                    continue
                if not reasons and time.time() < due:
                    continue
                # Rate limit, then let a burst settle into one sync: settle seconds after its first change.
                pause = last_attempt + self.min_interval - time.time()
                if pause > 0 and self.stop_event.wait(pause):
                    break
                settle = (first if first is not None else time.time()) + self.settle - time.time()
                if settle > 0 and self.stop_event.wait(settle):
                    break
                reasons |= self.trigger.wait(0)
                last_attempt = time.time()
                if not reasons:
                    reasons = {self._why_due(last_full, failures, last_attempt)}
                full = self._full(reasons, last_full, failures, last_attempt)
                result = self.sync(reasons, full=full)
                if result is None:
                    continue  # lock lost
                failures = failures + 1 if not result.ok else 0
                if any(o.write_outcome_unknown for o in result.outcomes):
                    # NIOS may apply the unanswered write after the retry has read the zone: read it
                    # whole again later, when such a late write has landed.
                    self.rechecks = sorted(last_attempt + delay for delay in RECHECK_AFTER_UNKNOWN_WRITE)
                last_sync = last_attempt
                if full:
                    last_full = last_attempt
                due = self._next_due(result.outcomes, last_full, last_sync, failures)
        finally:
            self.stop_event.set()
            self._let_go()
            self.engine.close()
        return 0

    def run_once(self, mode="timer"):
        """One run with the lock taken and given back, as a timer run: 0 done or lock busy, 1 failed."""
        try:
            result = self.engine.run(mode, self.holder, write_report=self.report)
        finally:
            self.engine.close()
        if result.skipped:
            log.info("%s: nothing to do", result.skipped)
            return 0
        for outcome in result.outcomes:
            self._log_outcome(outcome)
        self._log_report_error(result.report_error)
        if result.error:
            log.error("%s", result.error)
        return 0 if result.ok else 1

    def stop(self, *_args):
        self.stop_event.set()
        self.trigger.set("stop")
