# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Consul blocking queries, handled as Consul documents them (developer.hashicorp.com, "Blocking Queries").

- The index of the next query is the ``X-Consul-Index`` of the last answer; when it goes backwards
  (a snapshot restore, a new leader with another view) it is reset to 0, which asks for the current
  state at once; an index below 1 after an answer is raised to 1 so that the next query blocks.
- An answer does not mean a change: the wait may have timed out, or the index moved for an unrelated
  write. :class:`BlockingWatch` compares a digest of what matters and reports only real changes.
- Queries are rate limited (``min_interval`` between two queries of one watch) so that a busy cluster
  whose index moves all the time cannot turn a watch into a busy loop.
- After a failed query the watch waits (exponential backoff up to ``max_backoff``), starts again from
  index 0 and reports a change once it reads again: a change in between may have been missed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
import time

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import ConsulError


# A baseline no digest equals: the first answer after an error reports a change.
RECOVERING = object()


def next_index(previous, returned):
    """Index of the next blocking query after an answer carrying ``returned``."""
    try:
        returned = int(returned)
    except (TypeError, ValueError):
        return 0  # no usable index: ask again without blocking
    if returned < previous:
        return 0
    return max(returned, 1)


def checks_digest(checks):
    """What decides health: every check's node, service and status (not its output, which changes often)."""
    return frozenset((c.get("Node"), c.get("CheckID"), c.get("ServiceID"), c.get("Status"), c.get("ServiceName"))
                     for c in checks or ())


def services_digest(services):
    """Services and their tags. Address or meta edits move the index only: see :class:`BlockingWatch`."""
    return frozenset((name, tuple(sorted(tags or ()))) for name, tags in (services or {}).items())


class RateLimit(object):
    """At most one event per ``min_interval`` seconds; :meth:`wait` sleeps the rest (or until ``stop``)."""

    def __init__(self, min_interval, clock=time.monotonic):
        self.min_interval = float(min_interval)
        self.clock = clock
        self.last = None

    def delay(self):
        if self.last is None:
            return 0.0
        return max(0.0, self.last + self.min_interval - self.clock())

    def wait(self, stop):
        delay = self.delay()
        if delay > 0:
            stop.wait(delay)
        self.last = self.clock()


class BlockingWatch(threading.Thread):
    """Repeat one blocking query and call ``on_change(name)`` when its answer changes.

    ``fetch(index, wait)`` returns ``(index, data)``. ``digest(data)`` picks what matters; with
    ``index_is_change`` every move of the index counts too (the catalog's service list hides
    address and meta edits, but they move its index). The first answer only sets the baseline.
    ``on_error(name, exc)`` is told about failed queries; ``on_data(previous, current)`` gets the
    digests of a change before ``on_change`` is called.
    """

    def __init__(self, name, fetch, digest, on_change, on_error=None, wait=300, min_interval=0.1,
                 max_backoff=30, index_is_change=False, stop=None, on_data=None):
        super(BlockingWatch, self).__init__(name="watch-%s" % name, daemon=True)
        self.watch_name = name
        self.fetch = fetch
        self.digest = digest
        self.on_change = on_change
        self.on_error = on_error or (lambda name, exc: None)
        self.on_data = on_data
        self.wait_seconds = int(wait)
        self.rate = RateLimit(min_interval)
        self.max_backoff = float(max_backoff)
        self.index_is_change = index_is_change
        self.stop_event = stop or threading.Event()
        self.index = 0
        self.baseline = None
        self.answers = 0
        self.resets = 0

    def step(self):
        """One query; returns True when it reported a change."""
        previous_index = self.index
        returned, data = self.fetch(self.index, self.wait_seconds)
        self.answers += 1
        self.index = next_index(previous_index, returned)
        if self.index == 0:
            self.resets += 1
        digest = self.digest(data)
        changed = self.baseline is not None and (
            digest != self.baseline or (self.index_is_change and previous_index and self.index != previous_index))
        previous, self.baseline = self.baseline, digest
        if changed:
            if self.on_data is not None:
                self.on_data(previous, digest)
            self.on_change(self.watch_name)
        return changed

    def run(self):
        backoff = 0.0
        while not self.stop_event.is_set():
            self.rate.wait(self.stop_event)
            if self.stop_event.is_set():
                return
            try:
                self.step()
            except ConsulError as exc:
                self.on_error(self.watch_name, exc)
                backoff = min(self.max_backoff, max(1.0, backoff * 2))
                self.index = 0
                self.baseline = RECOVERING
                self.stop_event.wait(backoff)
                continue
            backoff = 0.0


class HealthCache(object):
    """The health entries of the last read, and which services must be read again.

    In watch mode the checks watch knows which checks changed, so a sync re-reads only the services
    concerned instead of one health read per service (the N+1 that is most of a sync's time):

    - a service check that changed marks its service;
    - a node check that changed (``serfHealth``, node maintenance) marks every cached service with an
      instance on that node;
    - anything the cache cannot account for (a catalog change, a watch that recovered from an error,
      the periodic full sync, a new lock holder) marks everything.

    A service that is not cached is always read. Marks are taken when a read starts and given back
    if it fails, so a change is never lost: at worst a service is read twice.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.entries = {}      # service name -> /v1/health/service entries
        self.dirty = set()
        self.all_dirty = True
        self.reads = 0         # services read, for the log and the tests
        self.reused = 0        # services answered from the cache

    def mark_all(self):
        with self.lock:
            self.all_dirty = True

    def mark_checks(self, previous, current):
        """Mark what changed between two :func:`checks_digest` values."""
        if previous is None or previous is RECOVERING:
            self.mark_all()
            return
        changed = previous.symmetric_difference(current)
        with self.lock:
            for node, _check, service_id, _status, service_name in changed:
                if service_id:
                    self.dirty.add(service_name)
                    continue
                for name, entries in self.entries.items():
                    if any((entry.get("Node") or {}).get("Node") == node for entry in entries):
                        self.dirty.add(name)

    def take(self, names):
        """The names among ``names`` to read now (marks taken)."""
        with self.lock:
            if self.all_dirty:
                # Start over: forget services that may have left the catalog; other zones of the same
                # sync find theirs missing and read them.
                self.all_dirty, self.dirty, self.entries = False, set(), {}
                return list(names)
            wanted = [n for n in names if n in self.dirty or n not in self.entries]
            self.dirty.difference_update(wanted)
            return wanted

    def give_back(self, names):
        with self.lock:
            self.dirty.update(names)

    def store(self, names, fresh):
        """Keep ``fresh`` and return the health of every name in ``names``."""
        with self.lock:
            self.entries.update(fresh)
            self.reads += len(fresh)
            self.reused += len(names) - len(fresh)
            return dict((name, self.entries[name]) for name in names)


class CachedHealthReader(object):
    """A ConsulReader whose ``health_of`` reads only what the :class:`HealthCache` says changed."""

    def __init__(self, reader, cache):
        self.reader = reader
        self.cache = cache

    @property
    def http_calls(self):
        return self.reader.http_calls

    def leader(self):
        return self.reader.leader()

    def services(self):
        return self.reader.services()

    def health_of(self, names):
        names = list(names)
        to_read = self.cache.take(names)
        try:
            fresh = self.reader.health_of(to_read) if to_read else {}
        except Exception:
            self.cache.give_back(to_read)
            raise
        return self.cache.store(names, fresh)
