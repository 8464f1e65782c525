# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan the reconciliation of a zone in NIOS with the desired records (pure, no I/O).

Ownership: a record belongs to the collection when it carries the owner extensible attribute with
the owner value. Only owned records are ever updated or deleted, except that a zone may opt in to
*taking over* unowned A/AAAA records of the names it publishes (``SyncPolicy.adopt_unowned``).

Adoption policy, for each name the desired zone publishes (docs/adopting.md tells it to operators):

- an unowned A/AAAA record with a wanted address, or a host record serving it: *equivalent*, the
  address is served already; nothing is created (with ``adopt_unowned`` the A/AAAA record is taken over);
- an unowned A/AAAA record or a host record address that is not wanted: a *stale* conflict, it is
  still served beside the collection's records (with ``adopt_unowned`` an A/AAAA record is taken over
  and deleted; a host record is never touched);
- a CNAME, a host record alias, a shared-record CNAME or an ALIAS record with the name, or a name
  under an authoritative sub-zone: *blocked*, NIOS would refuse the record (or keep it in the
  sub-zone, where the next read would not see it); nothing is created for the name;
- a disabled unowned A/AAAA record with a wanted address blocks that address (NIOS refuses a second
  record with the same name and address); a disabled owned record is enabled again.

Conflicts are returned in the plan; the callers put them in results, reports and metrics.

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
RETURN_FIELDS = {"A": ["name", "ipv4addr", "ttl", "use_ttl", "view", "extattrs", "disable"],
                 "AAAA": ["name", "ipv6addr", "ttl", "use_ttl", "view", "extattrs", "disable"]}

# A record as NIOS has it: ttl is None when the record inherits the zone's TTL (use_ttl false);
# extattrs are kept to merge the owner attribute into them when the record is taken over.
NiosRecord = namedtuple("NiosRecord", ["ref", "fqdn", "rtype", "value", "ttl", "owned", "disabled", "extattrs"])
NiosRecord.__new__.__defaults__ = (False, None)
# A desired record with its fully qualified name; ttl None: inherit the zone's TTL.
Wanted = namedtuple("Wanted", ["fqdn", "rtype", "value", "ttl"])
# Something else NIOS holds at a name: kind is one of OCCUPANT_KINDS, what names it (a ref's target,
# the host's name ...), addresses the (rtype, value) pairs a host record serves there.
Occupant = namedtuple("Occupant", ["fqdn", "kind", "what", "addresses"])

HOST = "host record"
# Kinds that make NIOS refuse an A/AAAA record of the same name (a CNAME owns its name alone).
BLOCKING_KINDS = ("CNAME", "host record alias", "shared-record CNAME", "ALIAS record")
OCCUPANT_KINDS = (HOST,) + BLOCKING_KINDS

# Adoption actions, in the order of the adoption report.
ADOPTION_ACTIONS = ("create", "take_over", "delete_taken_over", "equivalent", "blocked", "stale", "unchanged",
                    "update", "delete")


class PlanRefused(Exception):
    """The plan broke a safety valve; nothing was applied."""


class SyncPolicy(object):
    def __init__(self, owner_ea="ManagedBy", owner_value="geant.consul_dns", max_change_ratio=0.3,
                 min_records_for_ratio=10, allow_name_removal=False, allow_empty=False, force=False,
                 adopt_unowned=False, inherit_ttl=False):
        self.owner_ea = owner_ea
        self.owner_value = owner_value
        self.max_change_ratio = float(max_change_ratio)
        self.min_records_for_ratio = int(min_records_for_ratio)
        self.allow_name_removal = allow_name_removal
        self.allow_empty = allow_empty
        self.force = force
        self.adopt_unowned = adopt_unowned
        self.inherit_ttl = inherit_ttl


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
            disabled=bool(obj.get("disable")),
            extattrs=extattrs,
        ))
    return records


class ZoneOccupants(object):
    """What else than A/AAAA records holds names of a zone: :class:`Occupant` by name, and the
    authoritative sub-zones (a name under one of them lives there, not in the zone)."""

    def __init__(self, occupants=(), subzones=()):
        self.by_name = {}
        for occupant in occupants:
            self.add(occupant)
        self.subzones = sorted(set(subzones), key=lambda z: (-z.count("."), z))

    def add(self, occupant):
        self.by_name.setdefault(occupant.fqdn, []).append(occupant)

    def blocker(self, fqdn):
        """Why no A/AAAA record can be created at ``fqdn`` (a reason), or None."""
        for subzone in self.subzones:
            if fqdn == subzone or fqdn.endswith("." + subzone):
                return ("%s is in the authoritative sub-zone %s, where NIOS would keep the record (this zone's "
                        "reads do not see it); publish it from a zone entry for %s, or give the service another "
                        "name" % (fqdn, subzone, subzone))
        for occupant in self.by_name.get(fqdn, ()):
            if occupant.kind in BLOCKING_KINDS:
                return ("unowned %s %s%s holds this name, and NIOS refuses any other record beside a CNAME"
                        % (occupant.kind, fqdn, " (%s)" % occupant.what if occupant.what else ""))
        return None

    def hosts(self, fqdn):
        return [o for o in self.by_name.get(fqdn, ()) if o.kind == HOST]

    def only(self, kinds, names=None):
        """A copy holding the occupants of ``kinds`` (outside ``names`` when given) and the sub-zones."""
        keep = [o for name, found in self.by_name.items() if names is None or name not in names
                for o in found if o.kind in kinds]
        return ZoneOccupants(keep, self.subzones)

    def merged(self, other):
        return ZoneOccupants([o for found in list(self.by_name.values()) + list(other.by_name.values())
                              for o in found], list(self.subzones) + list(other.subzones))


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


def wanted_records(zone, records, inherit_ttl=False):
    """Desired zone_model Records (relative names) -> Wanted with FQDNs; only A/AAAA are pushed.

    ``inherit_ttl``: the records carry no TTL of their own in NIOS (they inherit the zone's).
    """
    return [Wanted(join_fqdn("" if r.name == "@" else r.name, zone), r.rtype, r.value,
                   None if inherit_ttl else r.ttl)
            for r in sort_records(records) if r.rtype in WAPI_TYPES]


class Plan(object):
    def __init__(self, zone):
        self.zone = zone
        self.creates = []   # Wanted
        self.updates = []   # (NiosRecord, Wanted): TTL or enable
        self.takeovers = []  # (NiosRecord, Wanted): an unowned record marked owned
        self.deletes = []   # NiosRecord (owned, or unowned and taken over)
        self.unchanged = 0
        self.skipped = []   # {"record", "reason"}: served by an unowned record already
        self.conflicts = []  # {"record", "reason", "kind": "blocked" | "stale"}
        self.owned_before = 0
        self.adoption = []  # (action, fqdn, rtype, value, reason)

    @property
    def changes(self):
        return len(self.creates) + len(self.updates) + len(self.takeovers) + len(self.deletes)

    def summary(self):
        return {"created": len(self.creates), "updated": len(self.updates) + len(self.takeovers),
                "deleted": len(self.deletes), "unchanged": self.unchanged,
                "skipped": len(self.skipped) + len(self.conflicts)}

    def as_dict(self):
        return {
            "create": [_wanted_dict(w) for w in self.creates],
            "update": [dict(_wanted_dict(w), old_ttl=old.ttl, ref=old.ref, enable=old.disabled)
                       for old, w in self.updates],
            "take_over": [dict(_nios_dict(old), ttl=w.ttl, old_ttl=old.ttl) for old, w in self.takeovers],
            "delete": [dict(_nios_dict(r), taken_over=not r.owned) for r in self.deletes],
            "skipped": self.skipped,
            "conflicts": self.conflicts,
        }

    def adoption_report(self):
        """Every name the plan looked at, with what it does there and why (see ADOPTION_ACTIONS)."""
        order = dict((action, i) for i, action in enumerate(ADOPTION_ACTIONS))
        entries = sorted(self.adoption, key=lambda e: (e[1], order[e[0]], e[2], e[3]))
        return [{"fqdn": fqdn, "action": action, "type": rtype, "value": value, "reason": reason}
                for action, fqdn, rtype, value, reason in entries]

    def describe(self):
        lines = ["create %s" % _line(w.fqdn, w.ttl, w.rtype, w.value) for w in self.creates]
        lines += ["update %s (%s)" % (_line(w.fqdn, w.ttl, w.rtype, w.value), _update_text(old, w))
                  for old, w in self.updates]
        for old, w in self.takeovers:
            fixes = _update_text(old, w)
            lines.append("take over %s (unowned%s)" % (_line(old.fqdn, w.ttl, old.rtype, old.value),
                                                       "; " + fixes if fixes else ""))
        lines += ["delete %s%s" % (_line(r.fqdn, r.ttl, r.rtype, r.value), "" if r.owned else " (unowned, taken over)")
                  for r in self.deletes]
        return lines

    def diff(self, owned_current):
        """Before/after text of the owned records (and those taken over), for Ansible's --diff."""
        taken = [old for old, _w in self.takeovers] + [r for r in self.deletes if not r.owned]
        before = sorted([_line(r.fqdn, r.ttl, r.rtype, r.value, r.disabled) for r in owned_current] +
                        [_line(r.fqdn, r.ttl, r.rtype, r.value, r.disabled) + " ; unowned" for r in taken])
        deleted = set(r.ref for r in self.deletes) | set(old.ref for old, _w in self.updates)
        after = [_line(r.fqdn, r.ttl, r.rtype, r.value, r.disabled) for r in owned_current if r.ref not in deleted]
        after += [_line(w.fqdn, w.ttl, w.rtype, w.value) for w in self.creates]
        after += [_line(w.fqdn, w.ttl, w.rtype, w.value) for _old, w in self.updates + self.takeovers]
        return {"before": "\n".join(before) + ("\n" if before else ""),
                "after": "\n".join(sorted(after)) + ("\n" if after else ""),
                "before_header": "%s (owned records in NIOS)" % self.zone,
                "after_header": "%s (owned records after sync)" % self.zone}


def adoption_line(entry):
    """One entry of :meth:`Plan.adoption_report` as a line of text for a job's output."""
    return "%s %s %s: %s (%s)" % (entry["fqdn"], entry["type"], entry["value"], entry["action"], entry["reason"])


def _update_text(old, want):
    parts = []
    if old.ttl != want.ttl:
        parts.append("TTL %s -> %s" % (_ttl_text(old.ttl), _ttl_text(want.ttl)))
    if old.disabled:
        parts.append("enable")
    return ", ".join(parts)


def _ttl_text(ttl):
    return "inherited" if ttl is None else ttl


def _line(name, ttl, rtype, value, disabled=False):
    return "%s%s. %s IN %s %s" % ("; disabled: " if disabled else "", name, ttl if ttl is not None else "(zone)",
                                  rtype, value)


def _wanted_dict(w):
    return {"fqdn": w.fqdn, "type": w.rtype, "value": w.value, "ttl": w.ttl}


def _nios_dict(r):
    return {"fqdn": r.fqdn, "type": r.rtype, "value": r.value, "ttl": r.ttl, "ref": r.ref}


def plan_sync(zone, wanted, current, occupants, policy):
    """Compute the plan.

    wanted: list of Wanted; current: NiosRecords (owned and unowned) of the names planned;
    occupants: the :class:`ZoneOccupants` of those names (other record types, sub-zones).
    """
    plan = Plan(zone)
    occupants = occupants if occupants is not None else ZoneOccupants()
    by_key = {}
    unowned_by_name = {}
    for record in current:
        by_key.setdefault((record.fqdn, record.rtype, record.value), []).append(record)
        if not record.owned:
            unowned_by_name.setdefault(record.fqdn, []).append(record)
    owned = [r for r in current if r.owned]
    plan.owned_before = len(owned)
    wanted_by_name = {}
    for want in wanted:
        wanted_by_name.setdefault(want.fqdn, []).append(want)
    wanted_keys = set()
    for fqdn in sorted(wanted_by_name):
        wants = wanted_by_name[fqdn]
        blocked = occupants.blocker(fqdn)
        served_by_hosts = set()
        for host in occupants.hosts(fqdn):
            served_by_hosts.update(host.addresses)
        wanted_here = set((w.rtype, w.value) for w in wants)
        for want in wants:
            wanted_keys.add((want.fqdn, want.rtype, want.value))
            _plan_wanted(plan, want, by_key.get((want.fqdn, want.rtype, want.value), []), blocked,
                         (want.rtype, want.value) in served_by_hosts, policy)
        _plan_stale(plan, fqdn, wanted_here, unowned_by_name.get(fqdn, []), occupants.hosts(fqdn), policy)
    for record in owned:
        if (record.fqdn, record.rtype, record.value) not in wanted_keys:
            plan.deletes.append(record)
            plan.adoption.append(("delete", record.fqdn, record.rtype, record.value,
                                  "owned, and no longer a healthy address of the name"))
    return plan


def _plan_wanted(plan, want, existing, blocked, served_by_host, policy):
    """One desired record: unchanged, updated, taken over, equivalent, blocked or created."""
    note = plan.adoption.append
    mine = [r for r in existing if r.owned]
    if mine:
        if mine[0].ttl != want.ttl or mine[0].disabled:
            plan.updates.append((mine[0], want))
            note(("update", want.fqdn, want.rtype, want.value, _update_text(mine[0], want)))
        else:
            plan.unchanged += 1
            note(("unchanged", want.fqdn, want.rtype, want.value, "owned already"))
        # Owned duplicates (e.g. from an interrupted earlier run) are cleaned up.
        plan.deletes.extend(mine[1:])
        return
    if existing and policy.adopt_unowned:
        plan.takeovers.append((existing[0], want))
        note(("take_over", want.fqdn, want.rtype, want.value,
              "unowned record with this address; adopt_unowned marks it owned"))
        return
    enabled = [r for r in existing if not r.disabled]
    if enabled:
        plan.skipped.append({"record": _wanted_dict(want),
                             "reason": "an unowned record with this name and address already exists; left alone"})
        note(("equivalent", want.fqdn, want.rtype, want.value, "served by an unowned %s record" % want.rtype))
    elif existing:
        _conflict(plan, want, "blocked", "a disabled unowned %s record with this name and address exists (not "
                  "served, and NIOS refuses a second one); enable or delete it, or set adopt_unowned" % want.rtype)
    elif served_by_host:
        plan.skipped.append({"record": _wanted_dict(want),
                             "reason": "a host record with this name serves this address; left alone"})
        note(("equivalent", want.fqdn, want.rtype, want.value, "served by an unowned host record"))
    elif blocked:
        _conflict(plan, want, "blocked", blocked + "; not created")
    else:
        plan.creates.append(want)
        note(("create", want.fqdn, want.rtype, want.value, "a healthy address that NIOS does not have"))


def _plan_stale(plan, fqdn, wanted_here, unowned, hosts, policy):
    """Addresses served at a published name that are not wanted there, by records the collection does not own."""
    for record in unowned:
        if (record.rtype, record.value) in wanted_here or record.disabled and not policy.adopt_unowned:
            continue
        if policy.adopt_unowned:
            plan.deletes.append(record)
            plan.adoption.append(("delete_taken_over", fqdn, record.rtype, record.value,
                                  "unowned record of a published name, not a healthy address; adopt_unowned "
                                  "takes it over and deletes it"))
        else:
            _conflict(plan, Wanted(fqdn, record.rtype, record.value, record.ttl), "stale",
                      "unowned %s record %s is not a healthy address of %s and is still served beside the "
                      "collection's records; delete it, or set adopt_unowned to take it over"
                      % (record.rtype, record.value, fqdn))
    for host in hosts:
        for rtype, value in sorted(set(host.addresses) - wanted_here):
            _conflict(plan, Wanted(fqdn, rtype, value, None), "stale",
                      "host record %s serves %s, which is not a healthy address of the name; it is still "
                      "served (the collection never changes host records)" % (host.what or fqdn, value))


def _conflict(plan, want, kind, reason):
    plan.conflicts.append({"record": _wanted_dict(want), "reason": reason, "kind": kind})
    plan.adoption.append((kind, want.fqdn, want.rtype, want.value, reason))


def check_safety(plan, wanted, current, policy, owned_total=None, wanted_total=None):
    """Raise PlanRefused when the plan breaks a safety valve and is not forced.

    ``wanted`` and ``current`` are what the plan covered. For a name-scoped plan, ``owned_total`` is the
    number of records the collection owns in the whole zone and ``wanted_total`` the size of the whole
    desired zone (defaults: the counts of ``current`` and ``wanted``, right for a plan of the whole zone).
    Records taken over count as owned.
    """
    if policy.force or plan.changes == 0:
        return
    problems = []
    owned = sum(1 for r in current if r.owned)
    if owned_total is not None:
        owned = max(owned, int(owned_total))
    owned += len(plan.takeovers) + sum(1 for r in plan.deletes if not r.owned)
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
    """The plan as WAPI ``request`` operations: creates first, then updates and take-overs, then deletes.

    Creates go first so that, if a chunked push stops half-way, names have gained addresses rather
    than lost them.
    """
    ops = []
    for want in plan.creates:
        objtype, field = WAPI_TYPES[want.rtype]
        data = {"name": want.fqdn, field: want.value, "view": view,
                "extattrs": {policy.owner_ea: {"value": policy.owner_value}}}
        data.update(_ttl_fields(want.ttl))
        ops.append({"method": "POST", "object": objtype, "data": data})
    for old, want in plan.updates:
        ops.append({"method": "PUT", "object": old.ref, "data": _record_fixes(old, want)})
    for old, want in plan.takeovers:
        data = _record_fixes(old, want)
        # PUT replaces the whole extattrs field: keep the record's other attributes.
        extattrs = dict(old.extattrs or {})
        extattrs[policy.owner_ea] = {"value": policy.owner_value}
        data["extattrs"] = extattrs
        ops.append({"method": "PUT", "object": old.ref, "data": data})
    for record in plan.deletes:
        ops.append({"method": "DELETE", "object": record.ref})
    return ops


def _ttl_fields(ttl):
    return {"use_ttl": False} if ttl is None else {"ttl": ttl, "use_ttl": True}


def _record_fixes(old, want):
    data = {}
    if old.ttl != want.ttl:
        data.update(_ttl_fields(want.ttl))
    if old.disabled:
        data["disable"] = False
    return data
