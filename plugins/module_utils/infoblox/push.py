# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Infoblox publisher: reconcile one zone in NIOS with the desired records.

:func:`stage_push` reads, plans and checks the safety valves without writing;
:meth:`StagedPush.commit` applies the plan.

The read is four paged GETs (A, AAAA, and the CNAME and host names that could block ours); the
write is one ``request`` call holding every change (or one per chunk of ``max_batch`` operations
for very large changes). With nothing to change, nothing is written at all.

Name-scoped push (watch mode): given the names whose records changed and the :class:`ZoneKnowledge`
left by the previous commit, the read is one ``request`` call of GET items (the zone, the owner
EA, and per name its A, AAAA, CNAME and host records) and the plan covers those names only; the
safety valves count the whole zone (see :func:`plan.check_safety`). Names not read are taken to be
as the last commit left them: a hand edit there is repaired by the next full read.

Chunking trade-off (documented for operators): each chunk is atomic on its own, but a failure in
chunk k leaves chunks 1..k-1 applied. Creates are ordered first so a half-applied run only ever
adds addresses; the next run re-reads NIOS and completes the plan.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.wapi import WapiError
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.plan import (
    RETURN_FIELDS,
    WAPI_TYPES,
    Plan,
    check_safety,
    nios_records,
    operations,
    plan_sync,
    relative_name,
    wanted_records,
)

# A name-scoped read asks for four searches per name in one request; above this many names a full
# (paged) read of the zone is cheaper and the stage reads the whole zone instead.
MAX_SCOPED_NAMES = 100
BLOCKING_TYPES = ("record:cname", "record:host")


class SyncError(Exception):
    """The sync could not complete; the message says what was and was not applied."""


def ensure_zone(client, zone, view):
    found = client.get_one("zone_auth", {"fqdn": zone, "view": view}, ["fqdn", "view"])
    if not found:
        raise SyncError("zone %s does not exist in DNS view %s in NIOS; create it there first (the collection "
                        "manages records, not zones)" % (zone, view))
    return found


def ensure_owner_ea(client, policy, create, check_mode):
    """Make sure the owner extensible attribute is defined; returns a warning or None."""
    if client.get_one("extensibleattributedef", {"name": policy.owner_ea}, ["name", "type"]):
        return None
    if not create:
        raise SyncError("extensible attribute %s is not defined in NIOS; define it (type STRING) or set "
                        "create_owner_ea=true" % policy.owner_ea)
    if check_mode:
        return "extensible attribute %s would be created" % policy.owner_ea
    client.create("extensibleattributedef", {
        "name": policy.owner_ea, "type": "STRING",
        "comment": "Records whose value is %s are managed by geant.consul_dns" % policy.owner_value,
    })
    return "created extensible attribute definition %s" % policy.owner_ea


def read_zone_records(client, zone, view, policy):
    """(current A/AAAA NiosRecords, {fqdn: blocking object type}) of ``zone`` in ``view``."""
    current = []
    for rtype in ("A", "AAAA"):
        objects = client.get_all(WAPI_TYPES[rtype][0], {"zone": zone, "view": view}, RETURN_FIELDS[rtype])
        current.extend(nios_records(objects, rtype, policy))
    blocking = {}
    for objtype in ("record:cname", "record:host"):
        for obj in client.get_all(objtype, {"zone": zone, "view": view}, ["name"]):
            blocking[obj["name"].lower().rstrip(".")] = objtype
    return current, blocking


def read_names(client, zone, view, policy, fqdns):
    """One ``request`` reading ``fqdns`` of ``zone``: ``(current NiosRecords, blocking)`` as
    :func:`read_zone_records` gives for the whole zone, or None when the owner EA is not defined
    (a full stage defines it). Raises SyncError when the zone does not exist."""
    searches = [("zone_auth", {"fqdn": zone, "view": view}, ["fqdn", "view"]),
                ("extensibleattributedef", {"name": policy.owner_ea}, ["name", "type"])]
    for name in fqdns:
        where = {"name": name, "zone": zone, "view": view}
        for rtype in ("A", "AAAA"):
            searches.append((WAPI_TYPES[rtype][0], where, RETURN_FIELDS[rtype]))
        for objtype in BLOCKING_TYPES:
            searches.append((objtype, where, ["name"]))
    found = client.get_many(searches, what="read of %d name(s) in zone %s" % (len(fqdns), zone))
    if not found[0]:
        raise SyncError("zone %s does not exist in DNS view %s in NIOS; create it there first (the collection "
                        "manages records, not zones)" % (zone, view))
    if not found[1]:
        return None
    current, blocking, position = [], {}, 2
    for _name in fqdns:
        for rtype in ("A", "AAAA"):
            current.extend(nios_records(found[position], rtype, policy))
            position += 1
        for objtype in BLOCKING_TYPES:
            for obj in found[position]:
                blocking[obj["name"].lower().rstrip(".")] = objtype
            position += 1
    return current, blocking


class ZoneKnowledge(object):
    """What a long-lived driver knows of one zone in NIOS after its last commit, name by name.

    ``owned``: ``{fqdn: number of A/AAAA records the collection owns}``; ``skipped`` and ``conflicts``:
    ``{fqdn: [plan entries]}`` of desired records left alone or blocked by unowned records. Built from
    a full read and brought up to date by each commit (:meth:`StagedPush.knowledge`); a name-scoped
    stage takes from it what it does not read.
    """

    def __init__(self, owned=None, skipped=None, conflicts=None):
        self.owned = dict(owned or {})
        self.skipped = dict(skipped or {})
        self.conflicts = dict(conflicts or {})

    @property
    def total_owned(self):
        return sum(self.owned.values())

    def owned_outside(self, names):
        return self.total_owned - sum(self.owned.get(name, 0) for name in names)

    def entries_outside(self, names, which):
        kept = getattr(self, which)
        return [entry for name in sorted(kept) if name not in names for entry in kept[name]]

    def after(self, names, current, plan):
        """The knowledge once ``plan`` is applied: ``names`` (None: every name) as ``current`` and ``plan`` say."""
        if names is None:
            known = ZoneKnowledge()
        else:
            known = ZoneKnowledge(*[dict((k, v) for k, v in getattr(self, which).items() if k not in names)
                                    for which in ("owned", "skipped", "conflicts")])
        owned = known.owned
        for record in current:
            if record.owned:
                owned[record.fqdn] = owned.get(record.fqdn, 0) + 1
        for want in plan.creates:
            owned[want.fqdn] = owned.get(want.fqdn, 0) + 1
        for record in plan.deletes:
            owned[record.fqdn] = owned.get(record.fqdn, 0) - 1
        for name in [name for name, count in owned.items() if count <= 0]:
            del owned[name]
        for which in ("skipped", "conflicts"):
            for entry in getattr(plan, which):
                getattr(known, which).setdefault(entry["record"]["fqdn"], []).append(entry)
        return known


class StagedPush(object):
    """A planned push of one zone: read and checked against the safety valves, nothing written yet.

    ``scope``: None when the whole zone was read, else the names read (a name-scoped push), with
    ``known`` the :class:`ZoneKnowledge` it started from.
    """

    def __init__(self, client, zone, view, plan, owned_current, policy, warnings, current=None, scope=None,
                 known=None):
        self.client = client
        self.zone = zone
        self.view = view
        self.plan = plan
        self.owned_current = owned_current
        self.policy = policy
        self.warnings = warnings
        self.current = owned_current if current is None else current
        self.scope = None if scope is None else frozenset(scope)
        self.known = known
        self.applied = 0
        self.requests_sent = 0

    @property
    def changed(self):
        return self.plan.changes > 0

    def diff(self):
        return self.plan.diff(self.owned_current)

    def summary(self):
        """``(counts, conflicts)`` of the whole zone: the plan's, plus for a name-scoped push what is
        known of the names it did not read (their owned records count as unchanged)."""
        counts = self.plan.summary()
        conflicts = list(self.plan.conflicts)
        if self.scope is not None:
            counts["unchanged"] += self.known.owned_outside(self.scope)
            counts["skipped"] += len(self.known.entries_outside(self.scope, "skipped"))
            carried = self.known.entries_outside(self.scope, "conflicts")
            counts["skipped"] += len(carried)
            conflicts.extend(carried)
        return counts, conflicts

    def knowledge(self):
        """The :class:`ZoneKnowledge` of the zone once this push is committed."""
        return (self.known or ZoneKnowledge()).after(self.scope, self.current, self.plan)

    def commit(self, max_batch=1000, restart_services=False):
        """Apply the plan: one ``request`` (per ``max_batch`` operations); raises SyncError saying what applied."""
        if not self.changed:
            return
        ops = operations(self.plan, self.view, self.policy)
        for start in range(0, len(ops), max_batch):
            chunk = ops[start:start + max_batch]
            try:
                self.client.request(chunk, what="request with %d changes to zone %s" % (len(chunk), self.zone))
            except WapiError as exc:
                raise SyncError(
                    "push to zone %s failed after %d of %d changes were applied (%d request%s succeeded): %s"
                    % (self.zone, self.applied, len(ops), self.requests_sent,
                       "" if self.requests_sent == 1 else "s", exc))
            self.applied += len(chunk)
            self.requests_sent += 1
        if restart_services:
            restart_grid_services(self.client)

    def discard(self):
        """Nothing was written: nothing to undo."""


def stage_push(client, zone, view, records, policy, create_owner_ea=True, check_mode=False, names=None,
               known=None):
    """Read ``zone`` in NIOS, plan it for ``records`` (zone_model Records) and check the safety valves.

    ``names`` (FQDNs) with ``known`` (the :class:`ZoneKnowledge` of the last commit): read and plan
    only those names (a name-scoped push); the whole zone is read when either is missing, when there
    are more than :data:`MAX_SCOPED_NAMES` names, or when the owner EA is not defined.
    ``records`` is always the whole desired zone.

    Raises PlanRefused (a valve), SyncError or WapiError; writes nothing (except, outside check mode,
    the owner EA definition when it is missing and ``create_owner_ea``).
    """
    if names is not None and known is not None and len(names) <= MAX_SCOPED_NAMES:
        staged = _stage_names(client, zone, view, records, policy, sorted(set(names)), known)
        if staged is not None:
            return staged
    warnings = []
    ensure_zone(client, zone, view)
    ea_note = ensure_owner_ea(client, policy, create_owner_ea, check_mode)
    if ea_note:
        warnings.append(ea_note)
    wanted = wanted_records(zone, records)
    current, blocking = read_zone_records(client, zone, view, policy)
    plan = plan_sync(zone, wanted, current, blocking, policy)
    check_safety(plan, wanted, current, policy)
    return StagedPush(client, zone, view, plan, [r for r in current if r.owned], policy, warnings, current=current)


def _stage_names(client, zone, view, records, policy, fqdns, known):
    """The name-scoped stage of :func:`stage_push`; None when it has to read the whole zone instead."""
    if fqdns:
        found = read_names(client, zone, view, policy, fqdns)
        if found is None:
            return None
        current, blocking = found
    else:
        current, blocking = [], {}  # nothing changed: nothing to read or write
    names = set(relative_name(zone, fqdn) for fqdn in fqdns)
    in_scope = [r for r in records if r.name in names]
    wanted = wanted_records(zone, in_scope)
    plan = plan_sync(zone, wanted, current, blocking, policy) if fqdns else Plan(zone)
    owned_total = known.owned_outside(fqdns) + sum(1 for r in current if r.owned)
    wanted_total = sum(1 for r in records if r.rtype in WAPI_TYPES)
    check_safety(plan, wanted, current, policy, owned_total=owned_total, wanted_total=wanted_total)
    return StagedPush(client, zone, view, plan, [r for r in current if r.owned], policy, [], current=current,
                      scope=fqdns, known=known)


def sync_zone(client, zone, view, records, policy, check_mode=False, max_batch=1000, create_owner_ea=True,
              restart_services=False):
    """Stage and (outside check mode) commit at once: the ``infoblox_zone_sync`` module's run."""
    staged = stage_push(client, zone, view, records, policy, create_owner_ea=create_owner_ea, check_mode=check_mode)
    if not check_mode:
        staged.commit(max_batch=max_batch, restart_services=restart_services)
    return staged


def restart_grid_services(client):
    """Ask the grid to restart DNS where NIOS says it is needed (RESTART_IF_NEEDED)."""
    grid = client.get_one("grid", {}, None)
    if not grid:
        raise SyncError("changes applied, but no grid object was found to restart services on")
    client.call_function(grid["_ref"], "restartservices", {
        "restart_option": "RESTART_IF_NEEDED", "services": ["DNS"], "mode": "GROUPED"})
