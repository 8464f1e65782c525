# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Consul KV and session I/O of the zone sync, and the one-writer lock.

- :class:`ConsulKV` is the writing sibling of :class:`ConsulReader` (same connection options, same
  error mapping, python-consul2 or py-consul underneath). Modules build it from their parameters with
  ``consul_options.kv_from_params``.
- :class:`ConsulLock` is a Consul session lock (session with a TTL and behaviour ``release``, KV
  ``acquire``): whoever acquires the key is the one writer; a holder that dies loses the lock when
  Consul invalidates its session (TTL expired, or its node's ``serfHealth`` critical). The key's value
  names the holder so that the others can say who it is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import (
    ConsulError,
    ConsulReader,
    consul,
)

# Consul accepts session TTLs of 10 s to 24 h and lock delays of 0 to 60 s.
MIN_SESSION_TTL, MAX_SESSION_TTL = 10, 86400
MAX_LOCK_DELAY = 60


class LockLost(ConsulError):
    """The session no longer holds the lock (expired, destroyed, or taken over)."""


def _text(value):
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


class ConsulKV(ConsulReader):
    """KV and session calls through the same adapter as the reads."""

    def kv_get(self, key):
        """``(modify_index, text value or None, session or None)``; ``(0, None, None)`` when missing."""
        _index, item = self._call("key %s" % key, self.client.kv.get, key)
        if not item:
            return 0, None, None
        return int(item.get("ModifyIndex") or 0), _text(item.get("Value")), item.get("Session")

    def kv_watch(self, key, index, wait):
        """``(index, (modify_index, value, session))`` of ``key``, blocking on ``index``."""
        index, item = self._call("key %s (blocking)" % key, self.client.kv.get, key, index=index or None,
                                 wait="%ds" % wait)
        if not item:
            return index, (0, None, None)
        return index, (int(item.get("ModifyIndex") or 0), _text(item.get("Value")), item.get("Session"))

    def kv_put(self, key, value, cas=None, acquire=None, release=None):
        """True when Consul applied the write (False: CAS mismatch or lock not acquired/released)."""
        return bool(self._call("key %s (write)" % key, self.client.kv.put, key, value, cas=cas,
                               acquire=acquire, release=release))

    def session_create(self, name, ttl, lock_delay, behavior="release", checks=None):
        return self._call("a new session", self.client.session.create, name=name, ttl=ttl,
                          lock_delay=lock_delay, behavior=behavior, checks=checks)

    def session_renew(self, session):
        """Renew a TTL session; False when Consul no longer knows it."""
        try:
            return bool(self._call("session %s (renew)" % session, self.client.session.renew, session))
        except ConsulError as exc:
            if isinstance(exc.__cause__ or exc.__context__, consul.NotFound) or "not found" in str(exc).lower():
                return False
            raise

    def session_destroy(self, session):
        return self._call("session %s (destroy)" % session, self.client.session.destroy, session)


class ConsulLock(object):
    """A session lock on one KV key."""

    def __init__(self, kv, key):
        self.kv = kv
        self.key = key.strip("/")

    def holder(self):
        """``{"session": id or None, "holder": text, ...}`` of the key as it is now."""
        _index, value, session = self.kv.kv_get(self.key)
        info = {}
        if value:
            try:
                info = json.loads(value)
                if not isinstance(info, dict):
                    info = {"holder": value}
            except ValueError:
                info = {"holder": value}
        info["session"] = session
        if not session:
            info["holder"] = None
        return info

    def acquire(self, holder, ttl=60, lock_delay=15, checks=None):
        """``(acquired, session or None, holder info)``; the session of a failed try is destroyed."""
        if not MIN_SESSION_TTL <= ttl <= MAX_SESSION_TTL:
            raise ValueError("session TTL must be %d to %d seconds, got %s" % (MIN_SESSION_TTL, MAX_SESSION_TTL, ttl))
        if not 0 <= lock_delay <= MAX_LOCK_DELAY:
            raise ValueError("lock delay must be 0 to %d seconds, got %s" % (MAX_LOCK_DELAY, lock_delay))
        session = self.kv.session_create("consul_dns lock %s: %s" % (self.key, holder), ttl=int(ttl),
                                         lock_delay=int(lock_delay), checks=checks)
        info = {"holder": holder, "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "session": session}
        try:
            acquired = self.kv.kv_put(self.key, json.dumps(info, sort_keys=True), acquire=session)
        except Exception:
            self._destroy_quietly(session)
            raise
        if acquired:
            return True, session, info
        self._destroy_quietly(session)
        return False, None, self.holder()

    def check(self, session):
        """Renew ``session`` and make sure it still holds the key; raise LockLost otherwise."""
        if not self.kv.session_renew(session):
            raise LockLost("lock %s lost: session %s has expired or was destroyed (its TTL ran out?)"
                           % (self.key, session))
        current = self.holder()
        if current.get("session") != session:
            raise LockLost("lock %s lost: it is held by %s now, not by session %s"
                           % (self.key, current.get("holder") or "nobody", session))
        return current

    def release(self, session):
        """Release the key (no lock-delay then) and destroy the session; False if it was no longer held."""
        current = self.holder()
        released = False
        if current.get("session") == session:
            value = json.dumps({"holder": None, "released_by": current.get("holder"),
                                "released_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, sort_keys=True)
            released = self.kv.kv_put(self.key, value, release=session)
        self._destroy_quietly(session)
        return released

    def _destroy_quietly(self, session):
        try:
            self.kv.session_destroy(session)
        except ConsulError:
            pass  # the session TTL ends it anyway
