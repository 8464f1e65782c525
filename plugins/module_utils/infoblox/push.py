# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Infoblox publisher: reconcile one zone in NIOS with the desired records.

:func:`stage_push` reads, plans and checks the safety valves without writing;
:meth:`StagedPush.commit` applies the plan.

The full read is a few paged GETs: A and AAAA records, and what else may hold a published name
(CNAMEs, host records and their aliases, ALIAS records, shared-record CNAMEs of the zone's shared
record groups, authoritative sub-zones; see :mod:`plan` for the adoption policy). The write is one
``request`` call holding every change, or one per chunk of at most ``max_batch`` operations and
``max_bytes`` of JSON. With nothing to change, nothing is written at all.

Name-scoped push (watch mode): given the names whose records changed and the :class:`ZoneKnowledge`
left by the previous commit, the read is one ``request`` call of GET items (the zone, the owner
EA, and per name its A, AAAA, CNAME, host and ALIAS records) and the plan covers those names only; the
safety valves count the whole zone (see :func:`plan.check_safety`). Names not read are taken to be
as the last commit left them: a hand edit there is repaired by the next full read.

A failed write: no public source says whether NIOS rolls back a multi-object ``request`` when one of
its items fails. The commit does not assume either: after a failure it reads the planned names again
and reports how many changes NIOS actually holds. Chunks before the failing one stay applied; creates
are ordered first so that a half-applied push only ever adds addresses, and the next run re-reads NIOS
and completes the plan.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import canonical_address
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.wapi import WapiError, WriteOutcomeUnknown
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.plan import (
    HOST,
    RETURN_FIELDS,
    WAPI_TYPES,
    Occupant,
    Plan,
    ZoneOccupants,
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
# A request body: NIOS applies it under one API call; keep each well inside a write timeout.
DEFAULT_MAX_BATCH = 500
DEFAULT_MAX_BYTES = 128 * 1024
# Object types that may hold a name we publish, searched by name and zone like A records.
NAMED_OCCUPANT_TYPES = ("record:cname", "record:host", "record:alias")
OCCUPANT_FIELDS = {"record:cname": ["name", "canonical"],
                   "record:host": ["name", "ipv4addrs", "ipv6addrs", "aliases", "configure_for_dns"],
                   "record:alias": ["name", "target_name", "target_type"]}
# Occupants a name-scoped read cannot search by name: known from the last full read.
UNSEARCHABLE_KINDS = ("host record alias", "shared-record CNAME")


class SyncError(Exception):
    """The sync could not complete; the message says what was and was not applied.

    ``outcome_unknown``: a write was sent and no answer came back; NIOS may still apply it later."""

    outcome_unknown = False


def ensure_zone(client, zone, view):
    found = client.get_one("zone_auth", {"fqdn": zone, "view": view}, ["fqdn", "view"])
    if not found:
        raise SyncError("zone %s does not exist in DNS view %s in NIOS; create it there first (the collection "
                        "manages records, not zones)" % (zone, view))
    return found


# The object type names NIOS uses in an EA definition's allowed_object_types for A and AAAA records.
EA_OBJECT_TYPES = {"A": "ARecord", "AAAA": "AAAARecord"}
OWNER_EA_FIELDS = ["name", "type", "allowed_object_types", "list_values", "flags"]


def ensure_owner_ea(client, policy, create, check_mode):
    """Make sure the owner extensible attribute is defined and usable; returns a warning or None.

    Defining it needs a superuser (NIOS reserves EA definitions to them): the sync account normally
    finds it defined (docs/permissions.md gives the one-time step) and only checks it."""
    definition = client.get_one("extensibleattributedef", {"name": policy.owner_ea}, OWNER_EA_FIELDS)
    if definition:
        problem = owner_ea_problem(definition, policy)
        if problem:
            raise SyncError("extensible attribute %s cannot mark the records this collection owns: %s. Fix the "
                            "definition in NIOS (a superuser's task) or choose another owner attribute"
                            % (policy.owner_ea, problem))
        return None
    if not create:
        raise SyncError("extensible attribute %s is not defined in NIOS. Once, a NIOS superuser defines it: type "
                        "STRING, allowed for A and AAAA records (docs/permissions.md shows how; or run the sync "
                        "once with create_owner_ea=true as a superuser)" % policy.owner_ea)
    if check_mode:
        return "extensible attribute %s would be created" % policy.owner_ea
    client.create("extensibleattributedef", {
        "name": policy.owner_ea, "type": "STRING",
        "comment": "Records whose value is %s are managed by geant.consul_dns" % policy.owner_value,
    })
    return "created extensible attribute definition %s" % policy.owner_ea


def owner_ea_problem(definition, policy):
    """What makes an existing owner EA definition unusable (a sentence), or None."""
    ea_type = definition.get("type")
    if ea_type == "ENUM":
        values = [v.get("value") if isinstance(v, dict) else v for v in definition.get("list_values") or []]
        if policy.owner_value not in values:
            listed = ", ".join(map(str, values)) or "none"
            return ("it is of type ENUM and %r is not one of its values (%s); the collection needs type STRING, or "
                    "an ENUM that lists %r" % (policy.owner_value, listed, policy.owner_value))
    elif ea_type != "STRING":
        return "it is of type %s; the collection writes a text value and needs type STRING" % ea_type
    allowed = definition.get("allowed_object_types") or []
    # The spelling NIOS uses is not confirmed by a public source: compare leniently (ARecord, "A Record" ...).
    present = set(re.sub(r"[^a-z0-9]", "", str(t).lower()).replace("record", "") for t in allowed)
    missing = [nios for rtype, nios in sorted(EA_OBJECT_TYPES.items()) if rtype.lower() not in present]
    if allowed and missing:
        return ("it is restricted to the object types %s; add %s to its allowed object types"
                % (", ".join(sorted(allowed)), " and ".join(missing)))
    return None


def read_zone_records(client, zone, view, policy):
    """(current A/AAAA NiosRecords, :class:`ZoneOccupants`) of ``zone`` in ``view``: the whole zone."""
    current = []
    for rtype in ("A", "AAAA"):
        objects = client.get_all(WAPI_TYPES[rtype][0], {"zone": zone, "view": view}, RETURN_FIELDS[rtype])
        current.extend(nios_records(objects, rtype, policy))
    where = {"zone": zone, "view": view}
    occupants = ZoneOccupants(subzones=read_subzones(client, zone, view))
    for objtype in NAMED_OCCUPANT_TYPES:
        for occupant in occupants_of(objtype, _optional_read(client, objtype, where)):
            occupants.add(occupant)
    for occupant in read_shared_cnames(client, zone, view):
        occupants.add(occupant)
    return current, occupants


def read_subzones(client, zone, view):
    """The authoritative zones of ``view`` under ``zone`` (a record there lives in them, not in ``zone``)."""
    found = client.get_all("zone_auth", {"fqdn~": r"\.%s$" % re.escape(zone), "view": view}, ["fqdn"])
    return sorted(set(z["fqdn"].lower().rstrip(".") for z in found
                      if z["fqdn"].lower().rstrip(".").endswith("." + zone)))


def read_shared_cnames(client, zone, view):
    """Shared-record CNAMEs of the shared record groups associated with ``zone``: occupants of the zone."""
    groups = _optional_read(client, "sharedrecordgroup", {}, ["name", "zone_associations"])
    occupants = []
    for group in groups:
        zones = [(z.get("fqdn") if isinstance(z, dict) else z) or "" for z in group.get("zone_associations") or []]
        if zone not in [z.lower().rstrip(".") for z in zones]:
            continue
        for obj in _optional_read(client, "sharedrecord:cname", {"shared_record_group": group["name"]},
                                  ["name", "canonical"]):
            name = obj["name"].lower().rstrip(".")
            fqdn = name if name == zone or name.endswith("." + zone) else "%s.%s" % (name, zone)
            occupants.append(Occupant(fqdn, "shared-record CNAME", "group %s -> %s"
                                      % (group["name"], obj.get("canonical")), ()))
    return occupants


def _optional_read(client, objtype, where, fields=None):
    """A search of an object type some WAPI versions lack (ALIAS records, shared records): none then."""
    try:
        return client.get_all(objtype, where, fields or OCCUPANT_FIELDS[objtype])
    except WapiError as exc:
        if exc.status == 400 and "unknown object" in (str(exc.text or exc)).lower():
            return []
        raise


def occupants_of(objtype, objects):
    """:class:`Occupant` entries of WAPI objects: a CNAME, an ALIAS record, a host and its aliases."""
    found = []
    for obj in objects:
        fqdn = obj["name"].lower().rstrip(".")
        if objtype == "record:cname":
            found.append(Occupant(fqdn, "CNAME", "-> %s" % obj.get("canonical"), ()))
        elif objtype == "record:alias":
            found.append(Occupant(fqdn, "ALIAS record", "-> %s %s" % (obj.get("target_type"), obj.get("target_name")),
                                  ()))
        elif objtype == "record:host":
            if obj.get("configure_for_dns") is False:
                continue  # not in DNS at all
            addresses = tuple([("A", canonical_address(a["ipv4addr"])) for a in obj.get("ipv4addrs") or []] +
                              [("AAAA", canonical_address(a["ipv6addr"])) for a in obj.get("ipv6addrs") or []])
            found.append(Occupant(fqdn, HOST, fqdn, addresses))
            for alias in obj.get("aliases") or []:
                found.append(Occupant(alias.lower().rstrip("."), "host record alias", "of host %s" % fqdn, ()))
    return found


def read_names(client, zone, view, policy, fqdns, known_occupants=None):
    """One ``request`` reading ``fqdns`` of ``zone``: ``(current NiosRecords, occupants)`` as
    :func:`read_zone_records` gives for the whole zone, or None when the owner EA is not defined
    (a full stage defines it). Raises SyncError when the zone does not exist.

    Host aliases, shared-record CNAMEs and sub-zones cannot be searched by name: they come from
    ``known_occupants`` (the last full read); one added since makes a create fail, and the failed
    commit makes the next stage read the whole zone, which sees it."""
    searches = [("zone_auth", {"fqdn": zone, "view": view}, ["fqdn", "view"]),
                ("extensibleattributedef", {"name": policy.owner_ea}, ["name", "type"])]
    for name in fqdns:
        where = {"name": name, "zone": zone, "view": view}
        for rtype in ("A", "AAAA"):
            searches.append((WAPI_TYPES[rtype][0], where, RETURN_FIELDS[rtype]))
        for objtype in NAMED_OCCUPANT_TYPES:
            searches.append((objtype, where, OCCUPANT_FIELDS[objtype]))
    found = client.get_many(searches, what="read of %d name(s) in zone %s" % (len(fqdns), zone))
    if not found[0]:
        raise SyncError("zone %s does not exist in DNS view %s in NIOS; create it there first (the collection "
                        "manages records, not zones)" % (zone, view))
    if not found[1]:
        return None
    current, position = [], 2
    occupants = (known_occupants or ZoneOccupants()).only(UNSEARCHABLE_KINDS)
    for _name in fqdns:
        for rtype in ("A", "AAAA"):
            current.extend(nios_records(found[position], rtype, policy))
            position += 1
        for objtype in NAMED_OCCUPANT_TYPES:
            for occupant in occupants_of(objtype, found[position]):
                if occupant.kind not in UNSEARCHABLE_KINDS:
                    occupants.add(occupant)
            position += 1
    return current, occupants


class ZoneKnowledge(object):
    """What a long-lived driver knows of one zone in NIOS after its last commit, name by name.

    ``owned``: ``{fqdn: number of A/AAAA records the collection owns}``; ``skipped`` and ``conflicts``:
    ``{fqdn: [plan entries]}`` of desired records left alone or blocked by unowned records. Built from
    a full read and brought up to date by each commit (:meth:`StagedPush.knowledge`); a name-scoped
    stage takes from it what it does not read.
    """

    def __init__(self, owned=None, skipped=None, conflicts=None, occupants=None):
        self.owned = dict(owned or {})
        self.skipped = dict(skipped or {})
        self.conflicts = dict(conflicts or {})
        # Host aliases, shared-record CNAMEs and sub-zones seen by the last full read.
        self.occupants = occupants or ZoneOccupants()

    @property
    def total_owned(self):
        return sum(self.owned.values())

    def owned_outside(self, names):
        return self.total_owned - sum(self.owned.get(name, 0) for name in names)

    def entries_outside(self, names, which):
        kept = getattr(self, which)
        return [entry for name in sorted(kept) if name not in names for entry in kept[name]]

    def after(self, names, current, plan, occupants=None):
        """The knowledge once ``plan`` is applied: ``names`` (None: every name) as ``current`` and ``plan`` say;
        ``occupants``: those of a full read (a name-scoped one keeps what was known)."""
        if names is None:
            known = ZoneKnowledge(occupants=(occupants or ZoneOccupants()).only(UNSEARCHABLE_KINDS))
        else:
            known = ZoneKnowledge(*[dict((k, v) for k, v in getattr(self, which).items() if k not in names)
                                    for which in ("owned", "skipped", "conflicts")], occupants=self.occupants)
        owned = known.owned
        for record in current:
            if record.owned:
                owned[record.fqdn] = owned.get(record.fqdn, 0) + 1
        for want in list(plan.creates) + [want for _old, want in plan.takeovers]:
            owned[want.fqdn] = owned.get(want.fqdn, 0) + 1
        for record in plan.deletes:
            if record.owned:
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
                 known=None, occupants=None):
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
        self.occupants = occupants
        self.applied = 0
        self.requests_sent = 0
        self.verified = None  # what a re-read after a failed commit found applied

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
        return (self.known or ZoneKnowledge()).after(self.scope, self.current, self.plan, self.occupants)

    def commit(self, max_batch=DEFAULT_MAX_BATCH, restart_services=False, max_bytes=DEFAULT_MAX_BYTES):
        """Apply the plan: one ``request`` per chunk (at most ``max_batch`` operations and ``max_bytes`` of
        JSON). On a failure NIOS is read again and SyncError says what is in NIOS now, whether or not NIOS
        rolled the failed request back."""
        if not self.changed:
            return
        ops = operations(self.plan, self.view, self.policy)
        for chunk in chunk_operations(ops, max_batch, max_bytes):
            try:
                self.client.request(chunk, what="request with %d changes to zone %s" % (len(chunk), self.zone))
            except WapiError as exc:
                error = SyncError("push to zone %s failed (%d of %d changes had been sent in %d request%s before "
                                  "this one): %s. %s" % (self.zone, self.applied, len(ops), self.requests_sent,
                                                         "" if self.requests_sent == 1 else "s", exc,
                                                         self._applied_after_failure()))
                error.outcome_unknown = isinstance(exc, WriteOutcomeUnknown)
                raise error
            self.applied += len(chunk)
            self.requests_sent += 1
        if restart_services:
            restart_grid_services(self.client)

    def _applied_after_failure(self):
        """What a re-read of NIOS finds of this push's changes, as a sentence (its own failure included)."""
        try:
            verified = verify_plan(self.client, self.zone, self.view, self.plan, self.policy)
        except (WapiError, SyncError) as exc:
            return ("NIOS could not be read again after the failure (%s): which changes applied is unknown; "
                    "the next run reads the zone and completes the plan" % exc)
        self.verified = verified
        done = sum(len(v) for v in verified["applied"].values())
        return ("Read again after the failure, %d of %d changes are in NIOS (%s); the next run reads the zone and "
                "completes the plan" % (done, self.plan.changes, ", ".join(
                    "%s %d of %d" % (action, len(verified["applied"][action]), verified["planned"][action])
                    for action in ("created", "updated", "deleted"))))

    def discard(self):
        """Nothing was written: nothing to undo."""


def chunk_operations(ops, max_batch=DEFAULT_MAX_BATCH, max_bytes=DEFAULT_MAX_BYTES):
    """Split ``ops`` into ``request`` bodies of at most ``max_batch`` operations and ``max_bytes`` of JSON
    (an operation larger than ``max_bytes`` on its own goes alone)."""
    chunks, chunk, size = [], [], 2
    for op in ops:
        op_size = len(json.dumps(op)) + 2
        if chunk and (len(chunk) >= max_batch or size + op_size > max_bytes):
            chunks.append(chunk)
            chunk, size = [], 2
        chunk.append(op)
        size += op_size
    if chunk:
        chunks.append(chunk)
    return chunks


def verify_plan(client, zone, view, plan, policy):
    """Read the planned names again: ``{"applied": {action: [fqdn type value]}, "planned": {action: n}}``.

    A create is applied when NIOS has the record owned; an update or take-over when the record has the
    planned TTL, is enabled and is owned; a delete when the record is gone."""
    names = sorted(set([w.fqdn for w in plan.creates] + [w.fqdn for _o, w in plan.updates + plan.takeovers] +
                       [r.fqdn for r in plan.deletes]))
    if len(names) <= MAX_SCOPED_NAMES:
        searches = [(WAPI_TYPES[rtype][0], {"name": name, "zone": zone, "view": view}, RETURN_FIELDS[rtype])
                    for name in names for rtype in ("A", "AAAA")]
        found = client.get_many(searches, what="re-read of %d name(s) in zone %s" % (len(names), zone))
        current = []
        for (objtype, _where, _fields), objects in zip(searches, found):
            current.extend(nios_records(objects, "A" if objtype == "record:a" else "AAAA", policy))
    else:
        current, _occupants = read_zone_records(client, zone, view, policy)
    now = dict(((r.fqdn, r.rtype, r.value), r) for r in current)

    def label(fqdn, rtype, value):
        return "%s %s %s" % (fqdn, rtype, value)

    applied = {"created": [], "updated": [], "deleted": []}
    for want in plan.creates:
        record = now.get((want.fqdn, want.rtype, want.value))
        if record is not None and record.owned:
            applied["created"].append(label(want.fqdn, want.rtype, want.value))
    for _old, want in plan.updates + plan.takeovers:
        record = now.get((want.fqdn, want.rtype, want.value))
        if record is not None and record.owned and record.ttl == want.ttl and not record.disabled:
            applied["updated"].append(label(want.fqdn, want.rtype, want.value))
    for old in plan.deletes:
        if (old.fqdn, old.rtype, old.value) not in now:
            applied["deleted"].append(label(old.fqdn, old.rtype, old.value))
    planned = {"created": len(plan.creates), "updated": len(plan.updates) + len(plan.takeovers),
               "deleted": len(plan.deletes)}
    return {"applied": applied, "planned": planned}


def stage_push(client, zone, view, records, policy, create_owner_ea=False, check_mode=False, names=None,
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
    wanted = wanted_records(zone, records, policy.inherit_ttl)
    current, occupants = read_zone_records(client, zone, view, policy)
    plan = plan_sync(zone, wanted, current, occupants, policy)
    check_safety(plan, wanted, current, policy)
    return StagedPush(client, zone, view, plan, [r for r in current if r.owned], policy, warnings, current=current,
                      occupants=occupants)


def _stage_names(client, zone, view, records, policy, fqdns, known):
    """The name-scoped stage of :func:`stage_push`; None when it has to read the whole zone instead."""
    if fqdns:
        found = read_names(client, zone, view, policy, fqdns, known.occupants)
        if found is None:
            return None
        current, occupants = found
    else:
        current, occupants = [], ZoneOccupants()  # nothing changed: nothing to read or write
    names = set(relative_name(zone, fqdn) for fqdn in fqdns)
    in_scope = [r for r in records if r.name in names]
    wanted = wanted_records(zone, in_scope, policy.inherit_ttl)
    plan = plan_sync(zone, wanted, current, occupants, policy) if fqdns else Plan(zone)
    owned_total = known.owned_outside(fqdns) + sum(1 for r in current if r.owned)
    wanted_total = sum(1 for r in records if r.rtype in WAPI_TYPES)
    check_safety(plan, wanted, current, policy, owned_total=owned_total, wanted_total=wanted_total)
    return StagedPush(client, zone, view, plan, [r for r in current if r.owned], policy, [], current=current,
                      scope=fqdns, known=known)


def sync_zone(client, zone, view, records, policy, check_mode=False, max_batch=DEFAULT_MAX_BATCH,
              create_owner_ea=False, restart_services=False, max_bytes=DEFAULT_MAX_BYTES):
    """Stage and (outside check mode) commit at once: the ``infoblox_zone_sync`` module's run."""
    staged = stage_push(client, zone, view, records, policy, create_owner_ea=create_owner_ea, check_mode=check_mode)
    if not check_mode:
        staged.commit(max_batch=max_batch, restart_services=restart_services, max_bytes=max_bytes)
    return staged


def restart_grid_services(client):
    """Ask the grid to restart DNS where NIOS says it is needed (RESTART_IF_NEEDED)."""
    grid = client.get_one("grid", {}, None)
    if not grid:
        raise SyncError("changes applied, but no grid object was found to restart services on")
    client.call_function(grid["_ref"], "restartservices", {
        "restart_option": "RESTART_IF_NEEDED", "services": ["DNS"], "mode": "GROUPED"})
