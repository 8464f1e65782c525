# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Infoblox publisher: reconcile one zone in NIOS with the desired records.

:func:`stage_push` reads, plans and checks the safety valves without writing;
:meth:`StagedPush.commit` applies the plan.

The read is four paged GETs (A, AAAA, and the CNAME and host names that could block ours); the
write is one ``request`` call holding every change (or one per chunk of ``max_batch`` operations
for very large changes). With nothing to change, nothing is written at all.

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
    check_safety,
    nios_records,
    operations,
    plan_sync,
    wanted_records,
)


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


class StagedPush(object):
    """A planned push of one zone: read and checked against the safety valves, nothing written yet."""

    def __init__(self, client, zone, view, plan, owned_current, policy, warnings):
        self.client = client
        self.zone = zone
        self.view = view
        self.plan = plan
        self.owned_current = owned_current
        self.policy = policy
        self.warnings = warnings
        self.applied = 0
        self.requests_sent = 0

    @property
    def changed(self):
        return self.plan.changes > 0

    def diff(self):
        return self.plan.diff(self.owned_current)

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


def stage_push(client, zone, view, records, policy, create_owner_ea=True, check_mode=False):
    """Read ``zone`` in NIOS, plan it for ``records`` (zone_model Records) and check the safety valves.

    Raises PlanRefused (a valve), SyncError or WapiError; writes nothing (except, outside check mode,
    the owner EA definition when it is missing and ``create_owner_ea``).
    """
    warnings = []
    ensure_zone(client, zone, view)
    ea_note = ensure_owner_ea(client, policy, create_owner_ea, check_mode)
    if ea_note:
        warnings.append(ea_note)
    wanted = wanted_records(zone, records)
    current, blocking = read_zone_records(client, zone, view, policy)
    plan = plan_sync(zone, wanted, current, blocking, policy)
    check_safety(plan, wanted, current, policy)
    return StagedPush(client, zone, view, plan, [r for r in current if r.owned], policy, warnings)


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
