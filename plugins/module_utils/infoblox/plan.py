# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan the reconciliation of a zone in NIOS with the desired records (pure, no I/O).

Ownership: a record belongs to the collection when it carries the owner extensible attribute with
the owner value. Only owned records are ever updated or deleted. An unowned record that already
says what we want is left alone (counted as skipped); an unowned CNAME or host record with the name
we want blocks our record (reported as a conflict, nothing created).

Safety valves (octoDNS-style, see docs): a plan is refused, unless forced, when it
- empties the zone of every owned record (``allow_empty``),
- deletes or changes more than ``max_change_ratio`` of the owned records, once the zone has at least
  ``min_records_for_ratio`` of them,
- leaves a name that has owned addresses now with none (``allow_name_removal``).
The refusal message says exactly what would have been done.

A plan may cover the whole zone or only some of its names (watch mode reads only the names whose
records changed, see :func:`changed_names`). A name-scoped plan is checked against the same valves
with the counts of the whole zone: ``owned_total`` is the zone's owned records as known from the last
full read and the commits since (the names read replace what was known of them), ``wanted_total`` the
whole desired zone; the names not read are taken to be as the last commit left them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.names import fqdn as join_fqdn
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import (
    canonical_address,
    sort_records,
)

WAPI_TYPES = {"A": ("record:a", "ipv4addr"), "AAAA": ("record:aaaa", "ipv6addr")}
RETURN_FIELDS = {"A": ["name", "ipv4addr", "ttl", "use_ttl", "view", "extattrs"],
                 "AAAA": ["name", "ipv6addr", "ttl", "use_ttl", "view", "extattrs"]}

# A record as NIOS has it: ttl is None when the record inherits the zone's TTL (use_ttl false).
NiosRecord = namedtuple("NiosRecord", ["ref", "fqdn", "rtype", "value", "ttl", "owned"])
# A desired record with its fully qualified name.
Wanted = namedtuple("Wanted", ["fqdn", "rtype", "value", "ttl"])


class PlanRefused(Exception):
    """The plan broke a safety valve; nothing was applied."""


class SyncPolicy(object):
    def __init__(self, owner_ea="ManagedBy", owner_value="geant.consul_dns", max_change_ratio=0.3,
                 min_records_for_ratio=10, allow_name_removal=False, allow_empty=False, force=False):
        self.owner_ea = owner_ea
        self.owner_value = owner_value
        self.max_change_ratio = float(max_change_ratio)
        self.min_records_for_ratio = int(min_records_for_ratio)
        self.allow_name_removal = allow_name_removal
        self.allow_empty = allow_empty
        self.force = force


def nios_records(objects, rtype, policy):
    """Normalize WAPI ``record:a`` / ``record:aaaa`` objects into NiosRecords."""
    field = WAPI_TYPES[rtype][1]
    records = []
    for obj in objects:
        extattrs = obj.get("extattrs") or {}
        owner = (extattrs.get(policy.owner_ea) or {}).get("value")
        records.append(NiosRecord(
            ref=obj["_ref"],
            fqdn=obj["name"].lower().rstrip("."),
            rtype=rtype,
            value=canonical_address(obj[field]),
            ttl=obj.get("ttl") if obj.get("use_ttl") else None,
            owned=owner == policy.owner_value,
        ))
    return records


def published_records(records):
    """The records of a run as a frozenset, to compare with a later run's (:func:`changed_names`)."""
    return frozenset(records)


def changed_names(before, after):
    """Relative names whose A/AAAA records differ between two :func:`published_records` sets.

    A name that appeared, disappeared, gained or lost an address or changed its TTL is changed.
    """
    return set(record.name for record in before.symmetric_difference(after) if record.rtype in WAPI_TYPES)


def name_fqdn(zone, name):
    """The fully qualified form of a relative name ('@' = the apex)."""
    return join_fqdn("" if name == "@" else name, zone)


def relative_name(zone, fqdn):
    """The relative name of ``fqdn`` in ``zone`` ('@' for the apex); None when it is not in the zone."""
    fqdn = fqdn.lower().rstrip(".")
    if fqdn == zone:
        return "@"
    if fqdn.endswith("." + zone):
        return fqdn[:-len(zone) - 1]
    return None


def wanted_records(zone, records):
    """Desired zone_model Records (relative names) -> Wanted with FQDNs; only A/AAAA are pushed."""
    return [Wanted(join_fqdn("" if r.name == "@" else r.name, zone), r.rtype, r.value, r.ttl)
            for r in sort_records(records) if r.rtype in WAPI_TYPES]


class Plan(object):
    def __init__(self, zone):
        self.zone = zone
        self.creates = []   # Wanted
        self.updates = []   # (NiosRecord, Wanted)
        self.deletes = []   # NiosRecord
        self.unchanged = 0
        self.skipped = []   # {"record", "reason"}
        self.conflicts = []  # {"record", "reason"}
        self.owned_before = 0

    @property
    def changes(self):
        return len(self.creates) + len(self.updates) + len(self.deletes)

    def summary(self):
        return {"created": len(self.creates), "updated": len(self.updates), "deleted": len(self.deletes),
                "unchanged": self.unchanged, "skipped": len(self.skipped) + len(self.conflicts)}

    def as_dict(self):
        return {
            "create": [_wanted_dict(w) for w in self.creates],
            "update": [dict(_wanted_dict(w), old_ttl=old.ttl, ref=old.ref) for old, w in self.updates],
            "delete": [_nios_dict(r) for r in self.deletes],
            "skipped": self.skipped,
            "conflicts": self.conflicts,
        }

    def describe(self):
        lines = ["create %s" % _line(w.fqdn, w.ttl, w.rtype, w.value) for w in self.creates]
        lines += ["update %s (TTL %s -> %d)" % (_line(w.fqdn, w.ttl, w.rtype, w.value), old.ttl, w.ttl)
                  for old, w in self.updates]
        lines += ["delete %s" % _line(r.fqdn, r.ttl, r.rtype, r.value) for r in self.deletes]
        return lines

    def diff(self, owned_current):
        """Before/after text of the owned records, for Ansible's --diff."""
        before = sorted(_line(r.fqdn, r.ttl, r.rtype, r.value) for r in owned_current)
        deleted = set(r.ref for r in self.deletes) | set(old.ref for old, _w in self.updates)
        after = [_line(r.fqdn, r.ttl, r.rtype, r.value) for r in owned_current if r.ref not in deleted]
        after += [_line(w.fqdn, w.ttl, w.rtype, w.value) for w in self.creates]
        after += [_line(w.fqdn, w.ttl, w.rtype, w.value) for _old, w in self.updates]
        return {"before": "\n".join(before) + ("\n" if before else ""),
                "after": "\n".join(sorted(after)) + ("\n" if after else ""),
                "before_header": "%s (owned records in NIOS)" % self.zone,
                "after_header": "%s (owned records after sync)" % self.zone}


def _line(name, ttl, rtype, value):
    return "%s. %s IN %s %s" % (name, ttl if ttl is not None else "(zone)", rtype, value)


def _wanted_dict(w):
    return {"fqdn": w.fqdn, "type": w.rtype, "value": w.value, "ttl": w.ttl}


def _nios_dict(r):
    return {"fqdn": r.fqdn, "type": r.rtype, "value": r.value, "ttl": r.ttl, "ref": r.ref}


def plan_sync(zone, wanted, current, blocking_names, policy):
    """Compute the plan.

    wanted: list of Wanted; current: NiosRecords (owned and unowned) of the zone;
    blocking_names: {fqdn: "record:cname"/"record:host"} of unowned objects that block A/AAAA names.
    """
    plan = Plan(zone)
    by_key = {}
    for record in current:
        by_key.setdefault((record.fqdn, record.rtype, record.value), []).append(record)
    owned = [r for r in current if r.owned]
    plan.owned_before = len(owned)
    wanted_keys = set()
    for want in wanted:
        key = (want.fqdn, want.rtype, want.value)
        wanted_keys.add(key)
        existing = by_key.get(key, [])
        mine = [r for r in existing if r.owned]
        if mine:
            if mine[0].ttl != want.ttl:
                plan.updates.append((mine[0], want))
            else:
                plan.unchanged += 1
            # Owned duplicates (e.g. from an interrupted earlier run) are cleaned up.
            plan.deletes.extend(mine[1:])
        elif existing:
            plan.skipped.append({"record": _wanted_dict(want),
                                 "reason": "an unowned record with this name and address already exists; "
                                           "left alone"})
        elif want.fqdn in blocking_names:
            plan.conflicts.append({"record": _wanted_dict(want),
                                   "reason": "unowned %s %s blocks this name; not created"
                                             % (blocking_names[want.fqdn], want.fqdn)})
        else:
            plan.creates.append(want)
    plan.deletes.extend(r for r in owned if (r.fqdn, r.rtype, r.value) not in wanted_keys)
    return plan


def check_safety(plan, wanted, current, policy, owned_total=None, wanted_total=None):
    """Raise PlanRefused when the plan breaks a safety valve and is not forced.

    ``wanted`` and ``current`` are what the plan covered. For a name-scoped plan, ``owned_total`` is the
    number of records the collection owns in the whole zone and ``wanted_total`` the size of the whole
    desired zone (defaults: the counts of ``current`` and ``wanted``, right for a plan of the whole zone).
    """
    if policy.force or plan.changes == 0:
        return
    problems = []
    owned = sum(1 for r in current if r.owned)
    if owned_total is not None:
        owned = max(owned, int(owned_total))
    desired = len(wanted) if wanted_total is None else int(wanted_total)
    if not desired and owned and not policy.allow_empty:
        problems.append("it would delete every one of the %d records the collection owns in %s (the desired "
                        "zone is empty)" % (owned, plan.zone))
    touched = len(plan.deletes) + len(plan.updates)
    if owned and owned >= policy.min_records_for_ratio and touched > policy.max_change_ratio * owned:
        problems.append("it would delete or change %d of %d owned records (%.0f%%), more than the allowed %.0f%%"
                        % (touched, owned, 100.0 * touched / owned, 100 * policy.max_change_ratio))
    if not policy.allow_name_removal:
        remaining = set(w.fqdn for w in wanted)
        emptied = sorted(set(r.fqdn for r in plan.deletes) - remaining)
        if emptied:
            problems.append("it would leave %s with no address" % ", ".join(emptied))
    if problems:
        raise PlanRefused("refusing to sync zone %s: %s. Planned: %s. Set force=true (or the matching "
                          "allow_* option) to apply it anyway."
                          % (plan.zone, "; and ".join(problems), "; ".join(plan.describe()) or "nothing"))


def operations(plan, view, policy):
    """The plan as WAPI ``request`` operations: creates first, then updates, then deletes.

    Creates go first so that, if a chunked push stops half-way, names have gained addresses rather
    than lost them.
    """
    ops = []
    for want in plan.creates:
        objtype, field = WAPI_TYPES[want.rtype]
        ops.append({"method": "POST", "object": objtype, "data": {
            "name": want.fqdn, field: want.value, "view": view, "ttl": want.ttl, "use_ttl": True,
            "extattrs": {policy.owner_ea: {"value": policy.owner_value}},
        }})
    for old, want in plan.updates:
        ops.append({"method": "PUT", "object": old.ref, "data": {"ttl": want.ttl, "use_ttl": True}})
    for record in plan.deletes:
        ops.append({"method": "DELETE", "object": record.ref})
    return ops
