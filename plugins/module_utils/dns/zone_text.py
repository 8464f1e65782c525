# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The zone as RFC 1035 master file text: render, parse and compare.

:func:`plan_zone_file` is the decision the ``zone_file`` module makes: given the zone settings, the
wanted records and the text of the existing file (if any), it says whether the zone changed (ignoring
the SOA serial), which serial to publish, and what the new text is. Nothing here touches the file
system; see ``zone_file`` for that.

The collection writes zone files in one canonical form (``zone_canonical``): rendered from strings,
compared with the existing file as text (the no-change path: one string comparison), and read back by
a strict parser of that form when something changed. A zone with record types outside that form is
built with dnspython, and an existing file not in that form (hand-edited, another tool's) is read
with dnspython's zone parser, as before.

Record values are in master file syntax: names in values (CNAME, MX, NS, ...) are relative to the zone
unless they end with a dot, exactly as in a zone file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback
from collections import namedtuple

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import (
    Record,
    sort_records,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.serial import (
    check_serial,
    next_serial,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.zone_canonical import (
    HEADER,
    NotCanonical,
    ZoneContent,
    ZoneTextError,
    build_canonical,
    canonical_head_serial,
    compare_contents,
    parse_canonical,
)

try:
    import dns.exception
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.zone
except ImportError:
    HAS_DNSPYTHON = False
    DNSPYTHON_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_DNSPYTHON = True
    DNSPYTHON_IMPORT_ERROR = None

# Types a node may hold next to a CNAME (RFC 2181 10.1, RFC 4035).
_CNAME_COMPATIBLE = frozenset(["CNAME", "RRSIG", "NSEC", "NSEC3", "KEY"])


ZonePlan = namedtuple("ZonePlan", [
    "changed",          # the zone content differs from the existing file (serial ignored)
    "serial",           # serial of the zone that is (or stays) published
    "previous_serial",  # serial of the existing file, None if missing or unreadable
    "text",             # text to write; the existing text when nothing changed
    "records",          # desired records without the apex SOA (sorted Record list)
    "added",            # Record list (SOA excluded; apex NS included)
    "removed",          # Record list
    "soa_changed",      # SOA parameters (other than the serial) or SOA TTL differ
    "existing_valid",   # the existing file parsed as a zone for this origin
    "warnings",         # list of strings
    "zone",             # the ZoneContent of ``text``, None if not known (a caller may keep it, see plan_zone_file)
])


def _origin(zone):
    return dns.name.from_text(zone.rstrip(".") + ".")


def prepare_records(records, allow_empty=False):
    """Validate the ``records`` option (list of dicts) into a sorted, de-duplicated Record list.

    The SOA and the apex NS come from the zone settings, so records of those kinds are refused. A CNAME
    next to other data, or two CNAMEs for one name, are refused (dnspython would silently drop data).
    """
    if not records and not allow_empty:
        raise ZoneTextError(
            "records is empty: refusing to write a zone without records (an empty list from a fault "
            "must not replace a good zone); set allow_empty=true if the zone is meant to be empty"
        )
    result, errors = {}, []  # a dict: de-duplicated in input order, which sorts faster than a set's
    for index, data in enumerate(records or []):
        if not isinstance(data, dict):
            errors.append("records[%d]: %r is not a dict with name, type, ttl and value" % (index, data))
            continue
        try:
            record = Record.from_dict(data)
        except ValueError as exc:
            errors.append("records[%d]: %s" % (index, exc))
            continue
        if not isinstance(record.value, str) or not record.value.strip() or "\n" in record.value:
            errors.append("records[%d]: value %r must be one line of text" % (index, record.value))
            continue
        if record.rtype == "SOA" or (record.rtype == "NS" and record.name == "@"):
            errors.append(
                "records[%d]: the apex %s comes from the module options (nameservers, hostmaster, ...), "
                "not from records" % (index, record.rtype)
            )
            continue
        result[record] = None
    if errors:
        raise ZoneTextError("invalid records: " + "; ".join(errors))
    records = sort_records(result)
    if any(record.rtype == "CNAME" for record in records):
        _check_cname_rules(records)
    return records


def _check_cname_rules(records):
    by_name = {}
    for record in records:
        by_name.setdefault(record.name, []).append(record)
    problems = []
    for name, group in sorted(by_name.items()):
        cnames = [r for r in group if r.rtype == "CNAME"]
        if not cnames:
            continue
        if name == "@":
            problems.append("a CNAME at the zone apex clashes with its SOA and NS")
            continue
        if len(cnames) > 1:
            problems.append("%s has %d CNAME records (at most one is allowed)" % (name, len(cnames)))
        others = sorted(set(r.rtype for r in group if r.rtype not in _CNAME_COMPATIBLE))
        if others:
            problems.append("%s has a CNAME and other data (%s)" % (name, ", ".join(others)))
    if problems:
        raise ZoneTextError("CNAME clash: " + "; ".join(problems))


def build_zone(settings, records, serial):
    """A :class:`dns.zone.Zone` of the apex SOA/NS from ``settings`` plus ``records``.

    Returns ``(zone, warnings)``. Records of one RRset with different TTLs get the lowest of them
    (RFC 2181 5.2: one TTL per RRset), with a warning.
    """
    serial = check_serial(serial)
    origin = _origin(settings.zone)
    zone = dns.zone.Zone(origin, relativize=True)
    warnings = []
    ttls = {}
    for record in list(settings.apex_records(serial)) + list(records):
        owner = dns.name.empty if record.name == "@" else dns.name.from_text(record.name, None)
        try:
            rdtype = dns.rdatatype.from_text(record.rtype)
            rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, record.value, origin=origin,
                                        relativize=True)
        except (dns.exception.DNSException, ValueError) as exc:
            raise ZoneTextError("record %s %s %r is not valid: %s"
                                % (record.name, record.rtype, record.value, exc))
        try:
            rdataset = zone.find_rdataset(owner, rdtype, create=True)
        except KeyError as exc:  # a name too long for the zone
            reason = exc.args[0] if exc.args else exc
            raise ZoneTextError("record %s %s %r is not valid: %s" % (record.name, record.rtype, record.value, reason))
        rdataset.add(rdata, record.ttl)
        ttls.setdefault((record.name, record.rtype), set()).add(record.ttl)
    for (name, rtype), values in sorted(ttls.items()):
        if len(values) > 1:
            warnings.append("%s %s: records with different TTLs (%s) in one RRset; using %d" % (
                name, rtype, ", ".join(str(v) for v in sorted(values)), min(values)))
    return zone, warnings


def zone_to_text(zone, settings):
    """Deterministic master file text of ``zone`` (header comment, $ORIGIN, $TTL, sorted records)."""
    body = zone.to_text(sorted=True, relativize=True, want_origin=False)
    return "%s$ORIGIN %s\n$TTL %d\n%s" % (
        HEADER.format(zone=settings.zone), zone.origin.to_text(), settings.default_ttl, body)


def set_serial(zone, serial):
    """Give the apex SOA of ``zone`` (built by :func:`build_zone`) another serial, in place."""
    rdataset = zone.find_rdataset(dns.name.empty, dns.rdatatype.SOA)
    soa = rdataset[0]
    rdataset.remove(soa)  # in place: the node keeps its rdatasets' order, so the text is the same
    rdataset.add(soa.replace(serial=check_serial(serial)))


def render_zone(settings, records, serial):
    """Text of the zone file for ``records`` (sorted Record list) at ``serial``; returns ``(text, warnings)``."""
    desired = desired_zone(settings, records)
    return desired.text(serial), list(desired.warnings)


class _DnspythonZone(object):
    """The wanted zone built with dnspython, for record types outside the canonical form.

    The same interface as :class:`zone_canonical.CanonicalZone`: ``text(serial)``, ``content(serial)``,
    ``serial_if_same(text)`` (always None: the existing file is compared after parsing it), ``warnings``.
    """

    def __init__(self, settings, records):
        self.settings = settings
        self.zone, self.warnings = build_zone(settings, records, 0)
        self.records = frozenset(r for r in zone_records(self.zone) if r.rtype != "SOA")
        self.soa = _soa_without_serial(self.zone)

    def text(self, serial):
        set_serial(self.zone, serial)
        return zone_to_text(self.zone, self.settings)

    def content(self, serial):
        return ZoneContent(serial, self.soa, self.records)

    def serial_if_same(self, text):
        return None


def desired_zone(settings, records):
    """The zone of ``settings`` and ``records`` (sorted Record list), renderable at any serial.

    The canonical renderer when every record type is in its form, else dnspython. Raises
    :class:`ZoneTextError` for an invalid value.
    """
    return build_canonical(settings, records) or _DnspythonZone(settings, records)


def zone_content(zone):
    """The :class:`ZoneContent` of a dnspython zone (parsed with :func:`parse_zone`)."""
    return ZoneContent(soa_serial(zone), _soa_without_serial(zone),
                       frozenset(r for r in zone_records(zone) if r.rtype != "SOA"))


def read_zone_text(text, zone_name):
    """The :class:`ZoneContent` of zone file ``text``: the strict canonical parser, else dnspython's.

    Raises :class:`ZoneTextError` when ``text`` is not a zone file for ``zone_name``.
    """
    try:
        return parse_canonical(text, zone_name)
    except NotCanonical:
        return zone_content(parse_zone(text, zone_name))


def parse_zone(text, zone_name):
    """Parse master file ``text`` for ``zone_name``; raise :class:`ZoneTextError` if it is not a zone."""
    try:
        return dns.zone.from_text(text, origin=_origin(zone_name), relativize=True, check_origin=True)
    except (dns.exception.DNSException, ValueError, UnicodeError) as exc:
        raise ZoneTextError("%s: %s" % (type(exc).__name__, exc))


def salvage_serial(text, zone_name):
    """Best effort: the apex SOA serial of a file that :func:`parse_zone` refused, else None.

    dnspython reads a file without apex NS; a file of the collection's own that is damaged further down
    (truncated or corrupted in a record) still has its serial in its canonical SOA line.
    """
    try:
        zone = dns.zone.from_text(text, origin=_origin(zone_name), relativize=True, check_origin=False)
        rdataset = zone.get_rdataset(dns.name.empty, dns.rdatatype.SOA)
    except (dns.exception.DNSException, ValueError, UnicodeError):
        rdataset = None
    if not rdataset:
        return canonical_head_serial(text, zone_name)
    return int(rdataset[0].serial)


def zone_records(zone):
    """All records of ``zone`` as sorted :class:`Record` with absolute names in values."""
    records = []
    for name, node in zone.nodes.items():
        owner = name.to_text() if name != dns.name.empty else "@"
        for rdataset in node.rdatasets:
            rtype = dns.rdatatype.to_text(rdataset.rdtype)
            for rdata in rdataset:
                value = rdata.to_text(origin=zone.origin, relativize=False)
                records.append(Record(owner.lower(), rtype, int(rdataset.ttl), value))
    return sort_records(records)


def soa_serial(zone):
    return int(zone.get_rdataset(dns.name.empty, dns.rdatatype.SOA)[0].serial)


def _soa_without_serial(zone):
    rdataset = zone.get_rdataset(dns.name.empty, dns.rdatatype.SOA)
    soa = rdataset[0]
    return (int(rdataset.ttl), soa.mname.derelativize(zone.origin).to_text().lower(),
            soa.rname.derelativize(zone.origin).to_text().lower(), soa.refresh, soa.retry,
            soa.expire, soa.minimum)


def compare_zones(old, new):
    """``(added, removed, soa_changed)`` between two zones, ignoring the SOA serial."""
    old_records = set(r for r in zone_records(old) if r.rtype != "SOA")
    new_records = set(r for r in zone_records(new) if r.rtype != "SOA")
    added = sort_records(new_records - old_records)
    removed = sort_records(old_records - new_records)
    return added, removed, _soa_without_serial(old) != _soa_without_serial(new)


def plan_zone_file(settings, records, existing_text, today=None, allow_empty=False, existing_zone=None):
    """Decide what the zone file should contain.

    ``records`` is the module's list of dicts (or Record objects); ``existing_text`` the current file
    content or None if there is none. Raises :class:`ZoneTextError` for invalid records.
    ``existing_zone``: the :class:`ZoneContent` of ``existing_text``, when the caller kept the ``zone``
    of an earlier plan whose text is still the file's (it saves reading the file when the zone changed).

    The steps, cheapest first:

    1. the wanted zone is rendered (canonical form); when the existing file is exactly that text apart
       from the SOA serial, nothing changed and the file's serial stays (no parsing at all);
    2. otherwise the existing file is read: the strict canonical parser, else dnspython's zone parser
       (a hand-edited file, another tool's); a file neither can read is replaced, with a warning, and
       its serial continued when its SOA is readable;
    3. the two zones are compared ignoring the serial (a file that differs only in formatting is not
       a change); a change gets the next serial (``serial.next_serial``) and the new text.
    """
    if records and all(isinstance(r, Record) for r in records):
        records = [r.to_dict() for r in records]
    wanted = prepare_records(records, allow_empty=allow_empty)
    desired = desired_zone(settings, wanted)
    warnings = []
    existing, previous_serial = None, None
    if existing_text is not None:
        serial = desired.serial_if_same(existing_text)
        if serial is not None:
            if existing_zone is not None and existing_zone.serial != serial:
                existing_zone = None
            return ZonePlan(False, serial, serial, existing_text, wanted, [], [], False, True,
                            list(desired.warnings), existing_zone)
        try:
            existing = existing_zone if existing_zone is not None else read_zone_text(existing_text, settings.zone)
            previous_serial = existing.serial
        except ZoneTextError as exc:
            previous_serial = salvage_serial(existing_text, settings.zone)
            warnings.append("the existing zone file cannot be parsed as zone %s (%s); it is replaced%s" % (
                settings.zone, exc,
                "" if previous_serial is None else " and its serial %d is continued" % previous_serial))
    warnings.extend(desired.warnings)
    if existing is not None:
        added, removed, soa_changed = compare_contents(existing, desired.content(previous_serial))
        if not added and not removed and not soa_changed:
            return ZonePlan(False, previous_serial, previous_serial, existing_text, wanted, [], [], False,
                            True, warnings, existing)
    else:
        added = sort_records(desired.records)
        removed, soa_changed = [], False
    serial = next_serial(previous_serial, today=today)
    return ZonePlan(True, serial, previous_serial, desired.text(serial), wanted, added, removed, soa_changed,
                    existing is not None, warnings, desired.content(serial))
