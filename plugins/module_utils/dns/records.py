# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The zone as data: address records, SOA/NS settings, and one deterministic order.

Everything downstream (zone file, Infoblox push, diff output) compares lists of :class:`Record`, so
the order and the text form of values must be canonical: names are lower case and relative to the
zone (``@`` for the apex), IP addresses are in their compressed form.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import socket
from collections import namedtuple

try:
    from functools import lru_cache
except ImportError:  # pragma: no cover - Python 2 is not supported, kept for sanity's import test
    lru_cache = None

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.names import (
    InvalidDnsName,
    fqdn,
    normalize_name,
    normalize_zone,
)

# Type order inside one owner name: apex SOA/NS first, then addresses.
_TYPE_ORDER = {"SOA": 0, "NS": 1, "A": 2, "AAAA": 3}


class Record(namedtuple("Record", ["name", "rtype", "ttl", "value"])):
    """One resource record: ``name`` relative to the zone ('@' = apex), ``rtype``, ``ttl``, ``value``."""

    __slots__ = ()

    def to_dict(self, zone=None):
        data = {"name": self.name, "type": self.rtype, "ttl": self.ttl, "value": self.value}
        if zone is not None:
            data["fqdn"] = fqdn("" if self.name == "@" else self.name, zone)
        return data

    @classmethod
    def from_dict(cls, data):
        """Build a record from the dict form used by the lookup plugin and module options."""
        try:
            name, rtype, value = data["name"], str(data["type"]).upper(), data["value"]
            ttl = int(data["ttl"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError("record %r needs name, type, ttl and value (%s)" % (data, exc))
        if rtype in ("A", "AAAA"):
            value = canonical_address(value, rtype)
        name = "@" if name in ("@", "") else normalize_name(name)
        if ttl < 0 or ttl > 2147483647:
            raise ValueError("record %r: TTL %d is outside 0..2147483647" % (data, ttl))
        return cls(name, rtype, ttl, value)


def _parse_ip(address):
    """(version, integer value, canonical text) of an IP address string, or None if it is not one.

    Called for every address several times per run (selection, record building, sorting, comparing
    with NIOS), so it is memoized; a plain dotted quad goes through ``inet_pton`` (strict: four decimal
    octets, no leading zeros, as ``ipaddress``) and is already canonical. Everything else is decided by
    ``ipaddress``.
    """
    try:
        if address.isascii() and ":" not in address:
            packed = socket.inet_pton(socket.AF_INET, address)
            return 4, int.from_bytes(packed, "big"), address
    except (OSError, ValueError, UnicodeError):
        pass
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return ip.version, int(ip), str(ip)


if lru_cache is not None:
    _parse_ip = lru_cache(maxsize=1 << 16)(_parse_ip)

parse_ip = _parse_ip  # the memoized one, for zone_canonical


def address_type(address):
    """'A' for an IPv4 address, 'AAAA' for IPv6, None for anything else (e.g. a host name)."""
    if not isinstance(address, str):
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        return "A" if ip.version == 4 else "AAAA"
    parsed = _parse_ip(address)
    if parsed is None:
        return None
    return "A" if parsed[0] == 4 else "AAAA"


def _ip_tuple(address):
    """(version, integer value, canonical text); raise ValueError for what is not an IP address."""
    parsed = _parse_ip(address) if isinstance(address, str) else None
    if parsed is None:
        ip = ipaddress.ip_address(address)  # raises ValueError with ipaddress's own message
        parsed = (ip.version, int(ip), str(ip))
    return parsed


def canonical_address(address, rtype=None):
    """Compressed text form of an IP address; raise ValueError if it does not match ``rtype``."""
    version, _number, text = _ip_tuple(address)
    if rtype is not None and rtype != ("A" if version == 4 else "AAAA"):
        raise ValueError("%s is not a valid %s record value" % (address, rtype))
    return text


def _name_key(name):
    # Apex first, then owner names in reversed-label order (DNS canonical order, RFC 4034 6.1 style).
    return () if name == "@" else tuple(reversed(name.split(".")))


if lru_cache is not None:
    _name_key = lru_cache(maxsize=1 << 16)(_name_key)


def _sort_key(record):
    name, rtype, _ttl, value = record
    if rtype == "A" or rtype == "AAAA":
        parsed = _parse_ip(value) if isinstance(value, str) else None
        version, number, _text = parsed if parsed is not None else _ip_tuple(value)
        value_key = (version, number, "")
    else:
        value_key = (0, 0, value)
    return (_name_key(name), _TYPE_ORDER.get(rtype, 9), rtype, value_key)


def sort_records(records):
    """Return the records in the collection's one deterministic order."""
    return sorted(records, key=_sort_key)


def address_records(addresses_by_name, default_ttl, ttl_by_name=None):
    """Build A/AAAA records from ``{relative_name: iterable of IP addresses}``.

    Duplicate addresses collapse into one record. Names must already be validated; a value that is
    not an IP address raises ValueError (callers filter host-name addresses before this point).
    """
    ttl_by_name = ttl_by_name or {}
    records = set()
    for name, addresses in addresses_by_name.items():
        ttl = int(ttl_by_name.get(name, default_ttl))
        for address in addresses:
            rtype = address_type(address)
            if rtype is None:
                raise ValueError("%r (for %s) is not an IP address" % (address, name))
            records.add(Record(name, rtype, ttl, canonical_address(address)))
    return sort_records(records)


class ZoneSettings(object):
    """SOA and NS parameters of a zone; the serial is decided by whoever writes the zone."""

    def __init__(self, zone, nameservers, hostmaster, default_ttl=300, refresh=3600, retry=600,
                 expire=1209600, negative_ttl=300, soa_ttl=None):
        self.zone = normalize_zone(zone)
        if not nameservers:
            raise InvalidDnsName("zone %s needs at least one name server (NS)" % self.zone)
        self.nameservers = [self._absolute(ns) for ns in nameservers]
        self.primary = self.nameservers[0]
        self.hostmaster = self._mailbox(hostmaster)
        self.default_ttl = int(default_ttl)
        self.refresh, self.retry, self.expire = int(refresh), int(retry), int(expire)
        self.negative_ttl = int(negative_ttl)
        self.soa_ttl = int(soa_ttl) if soa_ttl is not None else self.default_ttl

    @staticmethod
    def _absolute(name):
        name = name.lower()
        normalize_zone(name)  # validates the labels
        return name if name.endswith(".") else name + "."

    def _mailbox(self, hostmaster):
        """SOA RNAME: ``hostmaster@geant.org`` or ``hostmaster.geant.org`` -> ``hostmaster.geant.org.``"""
        if "@" in hostmaster:
            local, domain = hostmaster.split("@", 1)
            hostmaster = "%s.%s" % (local.replace(".", "\\."), domain)
        return hostmaster if hostmaster.endswith(".") else hostmaster + "."

    def soa_value(self, serial):
        return "%s %s %d %d %d %d %d" % (
            self.primary, self.hostmaster, serial, self.refresh, self.retry, self.expire, self.negative_ttl,
        )

    def apex_records(self, serial):
        """SOA and NS records of the apex for ``serial``."""
        records = [Record("@", "SOA", self.soa_ttl, self.soa_value(serial))]
        records.extend(Record("@", "NS", self.soa_ttl, ns) for ns in self.nameservers)
        return records
