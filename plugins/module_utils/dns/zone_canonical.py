# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's own zone file format: render it from strings and read it back strictly.

A zone file written by the collection is in one canonical form, the text dnspython's
``Zone.to_text(sorted=True, relativize=True)`` gives for the zone, below a header comment, ``$ORIGIN``
and ``$TTL``::

    ; Zone geant.services: written by the Ansible module geant.consul_dns.zone_file.
    ; Do not edit by hand, changes are overwritten on the next run.
    $ORIGIN geant.services.
    $TTL 300
    @ 300 IN SOA ns1.geant.net. hostmaster.geant.org. 2025112501 3600 600 1209600 300
    @ 300 IN NS ns1.geant.net.
    crowd 300 IN A 1.1.1.10

One record per line (owner relative to the zone and lower case, ``@`` for the apex; TTL; ``IN``; type;
value), the SOA first, owners in DNS canonical order, records of one RRset together with one TTL.

Building a dnspython zone and parsing the old file with dnspython cost about 1 s for 2,000 records,
most of a sync that finds nothing to do. Here:

* :func:`build_canonical` renders the wanted zone from strings. Addresses need no dnspython object
  (A: the canonical dotted quad the record already carries; AAAA: dnspython's text of the address);
  values of the other types of :data:`CANONICAL_TYPES` go through dnspython's rdata parser once each,
  which validates them and gives their text, as :func:`zone_text.build_zone` does. RRsets, TTLs (the
  lowest of an RRset), duplicates and node order follow dnspython's zone, so the text is the one
  ``build_zone`` + ``zone_to_text`` give (the unit tests compare them). A record of another type
  makes it return None: the caller uses dnspython.
* :meth:`CanonicalZone.serial_if_same` answers "is the file exactly what would be written now, apart
  from the SOA serial?" with one string comparison: this is the no-change path.
* :func:`parse_canonical` reads a file in the canonical form strictly: every line must be what the
  renderer writes (validated: canonical addresses, other values round-tripping through dnspython's
  rdata parser, no duplicate, one TTL per RRset, SOA once and first, apex NS, no CNAME next to other
  data). Anything else - a hand edit, another tool's output, a truncated file - raises
  :class:`NotCanonical`, and the caller falls back to dnspython's zone parser, so such a file is read as
  before, never mis-read. A file this parser accepts means the same zone to dnspython (tested).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.names import MAX_NAME_LENGTH
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import (
    Record,
    parse_ip,
    sort_records,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.serial import check_serial

try:
    import dns.exception
    import dns.ipv6
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
except ImportError:
    pass  # zone_text reports the missing library (HAS_DNSPYTHON)

try:
    from functools import lru_cache
except ImportError:  # pragma: no cover - Python 2 is not supported, kept for sanity's import test
    lru_cache = None

HEADER = (
    "; Zone {zone}: written by the Ansible module geant.consul_dns.zone_file.\n"
    "; Do not edit by hand, changes are overwritten on the next run.\n"
)

# Types the canonical form covers; a zone with another type is rendered and read by dnspython only.
# Each has plain RRset semantics in dnspython (CNAME: one per name, checked by prepare_records).
CANONICAL_TYPES = frozenset(["A", "AAAA", "NS", "CNAME", "MX", "PTR", "SRV", "TXT", "CAA"])

# Owner names the renderer writes: '@' or lower-case host name labels (names.normalize_name).
_OWNER = re.compile(r"^(@|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*)$")
_TTL = re.compile(r"^(0|[1-9][0-9]{0,9})$")
_SERIAL = re.compile(r"(0|[1-9][0-9]{0,9}) ")
MAX_TTL = 2147483647  # RFC 2181 8


class ZoneTextError(ValueError):
    """Records or zone text that cannot make a valid zone."""


class NotCanonical(ValueError):
    """Text that is not a zone file in the collection's canonical form (read it with dnspython)."""


class ZoneContent(object):
    """What a zone file says, as a plan compares it: SOA serial, SOA without the serial, other records.

    ``soa``: ``(ttl, mname, rname, refresh, retry, expire, minimum)``, names absolute and lower case.
    ``records``: frozenset of :class:`Record` (owner lower case and relative, values with absolute
    names), the SOA excluded: what ``zone_text.zone_records`` gives for a dnspython zone.
    """

    __slots__ = ("serial", "soa", "records")

    def __init__(self, serial, soa, records):
        self.serial = serial
        self.soa = soa
        self.records = records

    def __eq__(self, other):
        return isinstance(other, ZoneContent) and (self.serial, self.soa, self.records) == (
            other.serial, other.soa, other.records)

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def __repr__(self):
        return "ZoneContent(serial=%r, soa=%r, %d records)" % (self.serial, self.soa, len(self.records))


def compare_contents(old, new):
    """``(added, removed, soa_changed)`` between two :class:`ZoneContent`, ignoring the SOA serial."""
    return (sort_records(new.records - old.records), sort_records(old.records - new.records), old.soa != new.soa)


def _origin(zone):
    return dns.name.from_text(zone.rstrip(".") + ".")


def _aaaa_text(address):
    """dnspython's text of an IPv6 address (``::ffff:1.2.3.4`` where ``ipaddress`` says ``::ffff:102:304``)."""
    return dns.ipv6.inet_ntoa(dns.ipv6.inet_aton(address))


if lru_cache is not None:
    _aaaa_text = lru_cache(maxsize=1 << 16)(_aaaa_text)


def _a_text(address):
    """``address`` if it is an IPv4 address in its canonical form (a strict dotted quad), else ValueError."""
    parsed = parse_ip(address) if isinstance(address, str) else None
    if parsed is None or parsed[0] != 4 or parsed[2] != address:
        raise ValueError("%r is not an IPv4 address in canonical form" % (address,))
    return address


def _soa_key(ttl, soa, origin):
    return (ttl, soa.mname.derelativize(origin).to_text().lower(), soa.rname.derelativize(origin).to_text().lower(),
            soa.refresh, soa.retry, soa.expire, soa.minimum)


def _owner_sort_key(owner):
    # DNS canonical order of relative lower-case host names, as dnspython sorts a zone's names.
    return () if owner == "@" else tuple(reversed(owner.split(".")))


class CanonicalZone(object):
    """A zone rendered in the canonical form, at any serial: ``head + serial + tail``."""

    def __init__(self, origin, head, tail, soa, rrsets, warnings):
        self.origin = origin
        self.head = head
        self.tail = tail
        self.soa = soa
        self.rrsets = rrsets        # [(owner, rtype, ttl, [(text, absolute value), ...])], SOA excluded
        self.warnings = warnings
        self._records = None

    def text(self, serial):
        return "%s%d%s" % (self.head, check_serial(serial), self.tail)

    @property
    def records(self):
        """frozenset of the zone's :class:`Record` (SOA excluded), values with absolute names."""
        if self._records is None:
            self._records = frozenset(
                Record(owner, rtype, ttl, absolute)
                for owner, rtype, ttl, values in self.rrsets for _text, absolute in values)
        return self._records

    def content(self, serial):
        return ZoneContent(serial, self.soa, self.records)

    def serial_if_same(self, text):
        """The serial of ``text`` when ``text`` is exactly this zone at that serial, else None.

        One string comparison: no parsing. Equality proves that the file holds this zone (the file is
        what :meth:`text` writes), so its serial is the one in the SOA line.
        """
        head = self.head
        if text is None or not text.startswith(head):
            return None
        match = _SERIAL.match(text, len(head))
        if match is None:
            return None
        serial = int(match.group(1))
        if serial > 4294967295 or text[match.end(1):] != self.tail:
            return None
        return serial


def build_canonical(settings, records):
    """The canonical rendering of ``settings``' apex SOA/NS plus ``records`` (sorted Record list).

    Returns None when a record type is outside :data:`CANONICAL_TYPES` or an owner is not a lower-case
    host name (render with dnspython then). Raises :class:`ZoneTextError` for an invalid value, with the
    message ``zone_text.build_zone`` gives.
    """
    origin = _origin(settings.zone)
    apex = settings.apex_records(0)
    soa_record = apex[0]
    try:
        soa = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.SOA, soa_record.value, origin=origin,
                                  relativize=True)
    except (dns.exception.DNSException, ValueError) as exc:
        raise ZoneTextError("record @ SOA %r is not valid: %s" % (soa_record.value, exc))
    nodes = {}   # owner -> {rtype: [ttl, {key: (text, absolute)}]}, both in insertion order
    ttls = {}
    zone_length = len(settings.zone)
    for record in list(apex[1:]) + list(records):
        owner, rtype, ttl, value = record
        if rtype not in CANONICAL_TYPES or not isinstance(owner, str):
            return None
        rrsets = nodes.get(owner)
        if rrsets is None:
            if not _OWNER.match(owner):
                return None
            if owner != "@" and len(owner) + 1 + zone_length > MAX_NAME_LENGTH:
                raise ZoneTextError("record %s %s %r is not valid: %s.%s is longer than %d characters" % (
                    owner, rtype, value, owner, settings.zone, MAX_NAME_LENGTH))
            rrsets = nodes[owner] = {}
        try:
            if rtype == "A":
                key = text = absolute = _a_text(value)
            elif rtype == "AAAA":
                key = text = absolute = _aaaa_text(value)
            else:
                key = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), value,
                                          origin=origin, relativize=True)
                text = key.to_text(origin=origin, relativize=True)
                absolute = key.to_text(origin=origin, relativize=False)
        except (dns.exception.DNSException, ValueError, TypeError) as exc:
            raise ZoneTextError("record %s %s %r is not valid: %s" % (owner, rtype, value, exc))
        rrset = rrsets.get(rtype)
        if rrset is None:
            rrsets[rtype] = [ttl, {key: (text, absolute)}]
            ttls[(owner, rtype)] = set([ttl])
        else:
            if ttl < rrset[0]:  # dnspython's Rdataset.update_ttl: the lowest TTL of the RRset
                rrset[0] = ttl
            if rtype == "CNAME":  # a singleton type: dnspython keeps the last one
                rrset[1].clear()
            rrset[1].setdefault(key, (text, absolute))  # a duplicate keeps its first place
            ttls[(owner, rtype)].add(ttl)
    warnings = []
    for (name, rtype), values in sorted(ttls.items()):
        if len(values) > 1:
            warnings.append("%s %s: records with different TTLs (%s) in one RRset; using %d" % (
                name, rtype, ", ".join(str(v) for v in sorted(values)), min(values)))
    lines, rrset_list = [], []
    for owner in sorted(nodes, key=_owner_sort_key):
        for rtype, (ttl, values) in nodes[owner].items():
            values = list(values.values())
            rrset_list.append((owner, rtype, ttl, values))
            prefix = "%s %d IN %s " % (owner, ttl, rtype)
            for text, _absolute in values:
                lines.append(prefix)
                lines.append(text)
                lines.append("\n")
    soa_text = soa.to_text(origin=origin, relativize=True).rsplit(" ", 5)  # names, serial, 4 numbers
    head = "%s$ORIGIN %s\n$TTL %d\n@ %d IN SOA %s " % (
        HEADER.format(zone=settings.zone), origin.to_text(), settings.default_ttl, soa_record.ttl, soa_text[0])
    tail = " %s\n%s" % (" ".join(soa_text[2:]), "".join(lines))
    return CanonicalZone(origin, head, tail, _soa_key(soa_record.ttl, soa, origin), rrset_list, warnings)


def _head(lines, zone, origin):
    """Check the header comment, ``$ORIGIN`` and ``$TTL`` lines; the index of the SOA line."""
    header = HEADER.format(zone=zone).split("\n")[:-1] + ["$ORIGIN %s" % origin.to_text()]
    if lines[:len(header)] != header:
        raise NotCanonical("not the collection's header for zone %s" % zone)
    ttl_line = lines[len(header)] if len(lines) > len(header) else ""
    if not ttl_line.startswith("$TTL ") or not _TTL.match(ttl_line[5:]):
        raise NotCanonical("line %d: %r is not the $TTL line" % (len(header) + 1, ttl_line))
    return len(header) + 1


def _record_line(line, number, zone_length):
    """``(owner, ttl, type, value)`` of a record line."""
    parts = line.split(" ", 4)
    if len(parts) != 5 or not _OWNER.match(parts[0]) or not _TTL.match(parts[1]) or parts[2] != "IN":
        raise NotCanonical("line %d: %r is not 'owner ttl IN type value'" % (number, line))
    owner, ttl, _rdclass, rtype, value = parts
    ttl = int(ttl)
    if ttl > MAX_TTL or (owner != "@" and len(owner) + 1 + zone_length > MAX_NAME_LENGTH):
        raise NotCanonical("line %d: TTL or owner name out of range" % number)
    return owner, ttl, rtype, value


def _soa_line(line, number, origin, zone_length):
    """``(serial, soa key)`` of the SOA line, the first record."""
    owner, ttl, rtype, value = _record_line(line, number, zone_length)
    if owner != "@" or rtype != "SOA":
        raise NotCanonical("line %d: the first record is not the apex SOA" % number)
    try:
        soa = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.SOA, value, origin=origin, relativize=True)
    except (dns.exception.DNSException, ValueError, TypeError, UnicodeError) as exc:
        raise NotCanonical("line %d: %s" % (number, exc))
    if soa.to_text(origin=origin, relativize=True) != value:
        raise NotCanonical("line %d: the SOA is not in canonical form" % number)
    return soa.serial, _soa_key(ttl, soa, origin)


def canonical_head_serial(text, zone):
    """The serial of a file whose head (header, ``$ORIGIN``, ``$TTL``, SOA line) is canonical, else None.

    For a file of the collection's own that is damaged further down (truncated, corrupted), so that
    the serial of its replacement still advances.
    """
    if not isinstance(text, str):
        return None
    lines = text.split("\n", 8)
    origin = _origin(zone)
    try:
        first = _head(lines, zone, origin)
        if len(lines) <= first + 1:  # the SOA line must be complete (followed by a newline)
            return None
        return _soa_line(lines[first], first + 1, origin, len(zone.rstrip(".")))[0]
    except NotCanonical:
        return None


def parse_canonical(text, zone):
    """The :class:`ZoneContent` of ``text``, a zone file of ``zone`` in the canonical form.

    Raises :class:`NotCanonical` (with the first line that is not) for anything else; such text may
    still be a valid zone file, for dnspython's parser to read.
    """
    if not isinstance(text, str) or not text.endswith("\n"):
        raise NotCanonical("the text does not end with a newline")
    lines = text.split("\n")
    lines.pop()
    origin = _origin(zone)
    first = _head(lines, zone, origin)
    if len(lines) <= first:
        raise NotCanonical("no SOA record")
    zone_length = len(zone.rstrip("."))
    serial, soa_key = _soa_line(lines[first], first + 1, origin, zone_length)
    nodes = {}   # owner -> {rtype: [ttl, set of keys]}
    records = []
    for number, line in enumerate(lines[first + 1:], first + 2):
        owner, ttl, rtype, value = _record_line(line, number, zone_length)
        if rtype not in CANONICAL_TYPES:
            raise NotCanonical("line %d: type %s is not in the canonical form" % (number, rtype))
        try:
            if rtype == "A":
                key = absolute = _a_text(value)
            elif rtype == "AAAA":
                key = absolute = value
                if _aaaa_text(value) != value:
                    raise NotCanonical("line %d: %s is not dnspython's text of the address" % (number, value))
            else:
                key = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), value, origin=origin,
                                          relativize=True)
                if key.to_text(origin=origin, relativize=True) != value:
                    raise NotCanonical("line %d: the %s value is not in canonical form" % (number, rtype))
                absolute = key.to_text(origin=origin, relativize=False)
        except NotCanonical:
            raise
        except (dns.exception.DNSException, ValueError, TypeError, UnicodeError) as exc:
            raise NotCanonical("line %d: %s" % (number, exc))
        rrsets = nodes.get(owner)
        if rrsets is None:
            rrsets = nodes[owner] = {}
        rrset = rrsets.get(rtype)
        if rrset is None:
            rrsets[rtype] = rrset = [ttl, set()]
        elif rrset[0] != ttl:
            raise NotCanonical("line %d: another TTL in the %s %s RRset" % (number, owner, rtype))
        if key in rrset[1]:
            raise NotCanonical("line %d: a duplicate record" % number)
        rrset[1].add(key)
        records.append(Record(owner, rtype, ttl, absolute))
    if "NS" not in nodes.get("@", {}):
        raise NotCanonical("no apex NS")
    for owner, rrsets in nodes.items():
        if "CNAME" in rrsets and (len(rrsets) > 1 or len(rrsets["CNAME"][1]) > 1 or owner == "@"):
            raise NotCanonical("%s: a CNAME next to other data" % owner)
    return ZoneContent(serial, soa_key, frozenset(records))
