# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of DNS names that the collection publishes.

Consul allows service names that are not valid host names (underscores, upper case, 64+ characters).
Such a name must never be published silently: callers either fail or skip it with a warning, so
every rule here raises :class:`InvalidDnsName` with a message that names the offending input.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    from functools import lru_cache
except ImportError:  # pragma: no cover - Python 2 is not supported, kept for sanity's import test
    lru_cache = None

MAX_LABEL_LENGTH = 63
# RFC 1035: 255 octets on the wire = 253 characters in text form without the trailing dot.
MAX_NAME_LENGTH = 253

# RFC 952/1123 host name label: letters, digits, hyphen; not starting or ending with a hyphen.
# Upper case is folded to lower case before this check (DNS names are case-insensitive).
_HOST_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class InvalidDnsName(ValueError):
    """A name that cannot be published as a DNS host name."""


def normalize_label(label):
    """Return ``label`` folded to lower case if it is a valid host name label, else raise."""
    if not isinstance(label, str) or label == "":
        raise InvalidDnsName("empty DNS label")
    folded = label.lower()
    if len(folded) > MAX_LABEL_LENGTH:
        raise InvalidDnsName(
            "%r is %d characters long; a DNS label has at most %d" % (label, len(folded), MAX_LABEL_LENGTH)
        )
    if not _HOST_LABEL.match(folded):
        bad = sorted(set(c for c in folded if not (c.isalnum() and c.isascii()) and c != "-"))
        if bad:
            reason = "contains %s" % ", ".join(repr(c) for c in bad)
        else:
            reason = "starts or ends with a hyphen"
        raise InvalidDnsName(
            "%r is not a valid DNS host name label (%s); only letters, digits and inner hyphens are allowed"
            % (label, reason)
        )
    return folded


def normalize_name(name):
    """Validate a (possibly multi-label) relative name such as ``crowd`` or ``api.crowd``."""
    if not isinstance(name, str) or name.strip(".") == "":
        raise InvalidDnsName("empty DNS name")
    return _normalize_name(name)


def _normalize_name(name):
    return ".".join(normalize_label(part) for part in name.rstrip(".").split("."))


if lru_cache is not None:
    # Every record of a zone passes here on every run, most names several times (one per address).
    _normalize_name = lru_cache(maxsize=1 << 16)(_normalize_name)


def normalize_zone(zone):
    """Return the zone name in lower case without a trailing dot; labels may not be host-only rules.

    Zone names are checked with the looser rule of RFC 2181 (any label of 1-63 characters) except that
    a label may not be empty, so ``_tcp.example.org`` stays possible for delegated zones.
    """
    if not isinstance(zone, str) or zone.strip(".") == "":
        raise InvalidDnsName("empty zone name")
    folded = zone.lower().rstrip(".")
    for label in folded.split("."):
        if not label or len(label) > MAX_LABEL_LENGTH or not re.match(r"^[a-z0-9_-]+$", label):
            raise InvalidDnsName("%r is not a valid zone name (label %r)" % (zone, label))
    if len(folded) > MAX_NAME_LENGTH:
        raise InvalidDnsName("zone name %r is longer than %d characters" % (zone, MAX_NAME_LENGTH))
    return folded


def fqdn(relative_name, zone):
    """Join a normalized relative name and zone, enforcing the 253 character limit."""
    full = zone if relative_name in ("", "@") else "%s.%s" % (relative_name, zone)
    if len(full) > MAX_NAME_LENGTH:
        raise InvalidDnsName(
            "%r is %d characters long; a DNS name has at most %d" % (full, len(full), MAX_NAME_LENGTH)
        )
    return full
