# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One zone's damping state in Consul KV.

:class:`StateStore` keeps the state as JSON under ``<prefix>/<zone>``. Every write is a check-and-set
on the ModifyIndex read before (0 = the key must not exist yet), so two writers can never silently
overwrite each other. A missing or unreadable state is reported as a warning and the caller starts
clean.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import time
import zlib

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import ConsulError
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.flap import valid_state

# Consul refuses KV values over kv_max_value_size (512 KiB by default). A state in plain JSON takes
# about 160 bytes per address, so zones over ~1,600 addresses are stored compressed (about 20 bytes
# per address: ~25,000 addresses fit), with the same fields readable around the compressed data.
PLAIN_STATE_LIMIT = 256 * 1024
COMPRESSED_ENCODING = "zlib+base64"


def state_text(document):
    """The KV value of a state document: compact JSON, compressed inside a JSON wrapper when large."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    if len(text) <= PLAIN_STATE_LIMIT:
        return text
    wrapper = dict((k, v) for k, v in document.items() if k != "addresses")
    wrapper.update(encoding=COMPRESSED_ENCODING, addresses_count=len(document.get("addresses") or {}),
                   data=base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii"))
    return json.dumps(wrapper, sort_keys=True, separators=(",", ":"))


def state_from_text(text):
    """The state document of a KV value written by :func:`state_text` (ValueError when unreadable)."""
    document = json.loads(text)
    if isinstance(document, dict) and document.get("encoding") == COMPRESSED_ENCODING:
        try:
            document = json.loads(zlib.decompress(base64.b64decode(document["data"])).decode("utf-8"))
        except (KeyError, TypeError, zlib.error, base64.binascii.Error) as exc:
            raise ValueError("compressed state cannot be decoded: %s" % exc)
    return document


class StateConflict(ConsulError):
    """The check-and-set write of the state lost against another writer."""


class StateStore(object):
    """One zone's damping state in Consul KV (JSON, written with check-and-set)."""

    @staticmethod
    def key_for(prefix, zone):
        """The KV key of ``zone``'s state (``zone`` as the sync names it: normalized) under ``prefix``."""
        return "%s/%s" % (prefix.strip("/"), zone)

    def __init__(self, kv, prefix, zone):
        self.kv = kv
        self.key = self.key_for(prefix, zone)
        self.index = 0       # ModifyIndex of what was loaded (0: no key)
        self.loaded = None   # the parsed state, None when missing or unreadable

    def load(self):
        """``(state or None, warnings)``; ``None`` means start clean (bootstrap)."""
        index, value, _session = self.kv.kv_get(self.key)
        self.index = index
        if value is None:
            self.loaded = None
            return None, ["no damping state at Consul key %s: starting clean (healthy addresses are published "
                          "at once)" % self.key]
        try:
            state = valid_state(state_from_text(value))
        except ValueError as exc:
            self.loaded = None
            return None, ["damping state at Consul key %s is unreadable (%s): starting clean" % (self.key, exc)]
        self.loaded = state
        return state, []

    @staticmethod
    def content(state):
        """The part of a state that matters for comparing (no bookkeeping fields)."""
        return {"version": state.get("version"), "addresses": state.get("addresses")}

    def unchanged(self, state):
        return self.loaded is not None and self.content(self.loaded) == self.content(state)

    def save(self, state, zone, writer):
        """Write ``state`` with ``cas`` = the index loaded; raise StateConflict when it lost.

        Returns the key's ModifyIndex after the write, or None when another write followed it at once
        (then nothing is remembered: the next :meth:`load` reads the key again)."""
        document = dict(self.content(state), zone=zone, updated_at=int(time.time()), updated_by=writer)
        text = state_text(document)
        if not self.kv.kv_put(self.key, text, cas=self.index):
            raise StateConflict(
                "the damping state at Consul key %s changed since it was read (check-and-set on ModifyIndex %d "
                "failed): another sync wrote it; nothing was published by this run" % (self.key, self.index))
        # Consul's KV write does not say the ModifyIndex it got: read it back. Another write may land
        # between the two calls (a hand, a corruption): its index is not ours to remember, or the next
        # load would take it for the state saved here and the next save would overwrite it unread - a
        # corrupt state rebuilt without the warning. Only our own value is remembered; anything else is
        # loaded (and judged) again by the next run.
        current, value, _session = self.kv.kv_get(self.key)
        if value != text:
            self.index, self.loaded = 0, None
            return None
        self.index = current
        self.loaded = state
        return current
