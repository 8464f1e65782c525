# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one-writer lock of a sync, kept for as long as a driver needs it.

:class:`LockKeeper` takes the Consul session lock (:class:`consul.kv.ConsulLock`), renews its session
every third of the TTL in a thread, checks it before every write the engine makes and gives it back.
The Ansible driver keeps it for one run; the watch service for as long as it is the holder. When a
renewal finds the session gone, ``on_lost`` is told at once (the engine's next check raises LockLost).

:func:`holder_name` says who holds the lock, as the others report it: the AWX job, or the user, the
host and the long-lived process (ansible-playbook or the watch service), never a short-lived worker.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import logging
import os
import socket
import threading

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import ConsulError
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.kv import ConsulLock, LockLost

log = logging.getLogger("consul_dns.lock")


def holder_name(process, pid, environ=None, configured=None):
    """``configured``, else ``AWX job 42 (user@host)`` in an AWX job, else ``user@host PROCESS pid N``."""
    if configured:
        return configured
    environ = os.environ if environ is None else environ
    try:
        user = environ.get("USER") or os.getlogin()
    except OSError:
        user = "uid%d" % os.getuid()
    where = "%s@%s" % (user, socket.gethostname())
    job = environ.get("AWX_JOB_ID") or environ.get("JOB_ID")
    if job:
        return "AWX job %s (%s)" % (job, where)
    return "%s %s pid %d" % (where, process, pid)


class SessionRenewer(threading.Thread):
    """Renews the lock session every ttl/3; on failure calls ``on_lost(why)`` once and stops."""

    def __init__(self, kv, session, ttl, on_lost, stop):
        super(SessionRenewer, self).__init__(name="lock-renew", daemon=True)
        self.kv, self.session, self.interval = kv, session, max(1.0, ttl / 3.0)
        self.on_lost, self.stop_event = on_lost, stop
        self.done = threading.Event()

    def run(self):
        while not self.stop_event.wait(self.interval) and not self.done.is_set():
            try:
                if not self.kv.session_renew(self.session):
                    if not self.done.is_set():
                        self.on_lost("session %s expired or was destroyed" % self.session)
                    return
            except ConsulError as exc:
                # The session may still be alive (TTL not over): keep trying; the engine checks it too.
                log.warning("cannot renew the lock session: %s", exc)


class LockKeeper(object):
    """Acquire, keep (renew), check and release one session lock."""

    def __init__(self, kv, key, holder, ttl, lock_delay, renew_kv=None, on_lost=None):
        self.lock = ConsulLock(kv, key)
        self.key = self.lock.key
        self.holder = holder
        self.ttl = int(ttl)
        self.lock_delay = int(lock_delay)
        self.renew_kv = renew_kv or kv
        self.on_lost = on_lost
        self.session = None
        self.since = None
        self.lost = None
        self._stop = threading.Event()
        self._renewer = None

    @property
    def held(self):
        return self.session is not None and self.lost is None

    def acquire(self):
        """``(acquired, holder info)``; on success the session is renewed until :meth:`release`."""
        acquired, session, info = self.lock.acquire(self.holder, ttl=self.ttl, lock_delay=self.lock_delay)
        if acquired:
            self.session, self.since, self.lost = session, info.get("since"), None
            self._stop = threading.Event()
            self._renewer = SessionRenewer(self.renew_kv, session, self.ttl, self._lost, self._stop)
            self._renewer.start()
        return acquired, info

    def _lost(self, why):
        self.lost = why
        if self.on_lost is not None:
            self.on_lost(why)

    def check(self):
        """Raise LockLost unless the session still holds the key (renews it on the way)."""
        if self.session is None:
            raise LockLost("lock %s is not held by this run" % self.key)
        if self.lost is not None:
            raise LockLost("lock %s lost: %s" % (self.key, self.lost))
        self.lock.check(self.session)

    def release(self):
        """Stop renewing, release the key (no lock-delay then) and destroy the session."""
        if self._renewer is not None:
            self._renewer.done.set()
            self._stop.set()
            self._renewer = None
        session, self.session = self.session, None
        if session is None:
            return False
        try:
            return self.lock.release(session)
        except ConsulError as exc:
            log.warning("cannot release lock %s (its session TTL ends it): %s", self.key, exc)
            return False

    def summary(self, acquired=True, info=None):
        """The report's ``lock`` entry."""
        info = info or {}
        if acquired:
            return {"key": self.key, "acquired": True, "holder": self.holder, "since": self.since}
        return {"key": self.key, "acquired": False, "holder": info.get("holder"), "since": info.get("since")}
