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

from ansible_collections.geant.consul_dns.plugins.module_utils.consul_api import ConsulError


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
    return frozenset((c.get("Node"), c.get("CheckID"), c.get("ServiceID"), c.get("Status")) for c in checks or ())


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
    ``on_error(name, exc)`` is told about failed queries.
    """

    def __init__(self, name, fetch, digest, on_change, on_error=None, wait=300, min_interval=0.1,
                 max_backoff=30, index_is_change=False, stop=None):
        super(BlockingWatch, self).__init__(name="watch-%s" % name, daemon=True)
        self.watch_name = name
        self.fetch = fetch
        self.digest = digest
        self.on_change = on_change
        self.on_error = on_error or (lambda name, exc: None)
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
        self.baseline = digest
        if changed:
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


# A baseline no digest equals: the first answer after an error reports a change.
RECOVERING = object()
