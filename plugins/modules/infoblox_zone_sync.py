#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: infoblox_zone_sync
author:
  - GEANT network services team (@geant)
version_added: 0.1.0
short_description: Make the A/AAAA records of a zone in Infoblox NIOS match the desired records
description:
  - Reads the A and AAAA records of O(zone) in O(view) from Infoblox NIOS through WAPI, plans the
    creates, deletes and updates that make them match the desired records, and applies them in
    one multi-object C(request) call (or a few, see O(max_batch)). With nothing to change nothing is written.
  - Only records the collection owns are changed or deleted. A record is owned when it carries the
    extensible attribute O(owner_ea) with the value O(owner_value); every record this module creates
    carries it. Unowned records are never touched unless O(adopt_unowned=true).
  - "Existing records of a published name (docs/adopting.md): an unowned A/AAAA record or a host record with a
    healthy address serves it already (nothing is created); an unowned CNAME, host alias, shared-record CNAME,
    ALIAS record, or an authoritative sub-zone blocks the name (a C(blocked) conflict, nothing created); an
    unowned A/AAAA record or host address that is not healthy stays served (a C(stale) conflict).
    Conflicts are warnings, in RV(conflicts) and in RV(status); see O(on_conflict)."
  - A disabled owned record that is wanted is enabled again.
  - Safety valves refuse a plan that would empty the zone, delete or change more than
    O(max_change_ratio) of the owned records, or leave a name with no address, unless O(force=true)
    (or the matching C(allow_*) option). The failure message lists what would have been done.
  - The desired records come from the lookup P(geant.consul_dns.consul_zone#lookup) (O(records)) or
    from a zone file written by M(geant.consul_dns.zone_file) (O(zone_file)).
options:
  zone:
    description: The authoritative zone, for example V(geant.services). It must exist in NIOS.
    type: str
    required: true
  view:
    description: DNS view of the zone.
    type: str
    default: default
  records:
    description:
      - Desired records, as returned by the lookup P(geant.consul_dns.consul_zone#lookup) - dicts with
        C(name) (relative to the zone, V(@) for the apex), C(type), C(ttl), C(value). Only A and AAAA are synced.
      - Mutually exclusive with O(zone_file).
    type: list
    elements: dict
  zone_file:
    description: Path of a zone file (on the host running the module) to take the desired A/AAAA records from.
    type: path
  owner_ea:
    description: Name of the extensible attribute that marks records the collection owns.
    type: str
    default: ManagedBy
  owner_value:
    description: Value of O(owner_ea) on owned records. Distinct values let several independent syncs share a zone.
    type: str
    default: geant.consul_dns
  create_owner_ea:
    description:
      - Define O(owner_ea) in NIOS (type STRING) when it is missing. Otherwise a missing definition fails,
        saying what to define.
      - NIOS lets only superusers define extensible attributes; the sync account normally is not one. Set
        this once, as a superuser, or have a superuser define the attribute (see docs/permissions.md).
      - An existing definition is checked either way (type STRING, or ENUM listing O(owner_value); allowed for
        A and AAAA records), and a wrong one fails saying what is wrong.
    type: bool
    default: false
  adopt_unowned:
    description:
      - Take over unowned A and AAAA records of the names this zone publishes. One with a healthy address is
        marked owned (the owner attribute is added, its other attributes kept); one with another address is
        deleted. Run with C(--check --diff) first to see which.
      - Off, such records are left alone; one with another address is reported as a C(stale) conflict.
    type: bool
    default: false
  inherit_ttl:
    description: Records carry no TTL of their own in NIOS and inherit the zone's (C(use_ttl) false).
    type: bool
    default: false
  on_conflict:
    description:
      - What a conflict does to the task (a desired record blocked by, or an unhealthy address served by, a
        record the collection does not own). The rest of the zone is synced either way.
      - V(warn) reports it (a warning, RV(conflicts), RV(status) V(conflicts)); V(fail) also fails the task.
    type: str
    choices: [warn, fail]
    default: warn
  max_change_ratio:
    description: Largest share (0-1) of owned records one run may delete or change.
    type: float
    default: 0.3
  min_records_for_ratio:
    description: O(max_change_ratio) applies only once the zone has at least this many owned records.
    type: int
    default: 10
  allow_name_removal:
    description: Allow a run to delete the last address of a name (a service with no healthy instance, or removed).
    type: bool
    default: false
  allow_empty:
    description: Allow an empty desired set to delete every owned record.
    type: bool
    default: false
  force:
    description: Apply the plan even when it breaks a safety valve.
    type: bool
    default: false
  max_batch:
    description:
      - Most operations in one multi-object C(request). Larger plans are sent in chunks; creates come
        first, so a run stopped half-way only adds addresses. The next run completes it.
    type: int
    default: 500
  max_request_bytes:
    description: Largest JSON body of one C(request); a chunk ends at O(max_batch) operations or this size.
    type: int
    default: 131072
  restart_services:
    description: After changes, ask the grid to restart DNS services where needed (C(RESTART_IF_NEEDED)).
    type: bool
    default: false
requirements:
  - dnspython (for O(zone_file))
extends_documentation_fragment:
  - geant.consul_dns.infoblox
attributes:
  check_mode:
    support: full
    description: Reads NIOS and reports the exact plan; writes nothing.
  diff_mode:
    support: full
    description: Shows the owned records before and after.
  platform:
    support: full
    platforms: posix
    description: Usually run on the controller (C(delegate_to) V(localhost)).
notes:
  - Fault handling - a read that fails after retries, a 401/403, or a failed C(request) ends the run with an
    error. After a failed or timed-out write the module reads the planned names again and the message says how
    many changes NIOS holds, whether or not NIOS rolled the request back (no public source says which it does).
    The next run re-reads NIOS and re-plans from what is really there.
  - The NIOS permissions the account needs are listed in docs/permissions.md.
seealso:
  - module: geant.consul_dns.zone_file
  - plugin: geant.consul_dns.consul_zone
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Push the healthy instances of geant.services to Infoblox
  geant.consul_dns.infoblox_zone_sync:
    server: gm.geant.net
    username: "{{ infoblox_user }}"
    password: "{{ infoblox_password }}"
    ca_path: /etc/ssl/certs/geant-ca.pem
    zone: geant.services
    records: "{{ lookup('geant.consul_dns.consul_zone', 'geant.services', wantlist=True) }}"
  delegate_to: localhost

- name: Before managing an existing zone, list what the sync would create, take over or find blocked
  geant.consul_dns.infoblox_zone_sync:
    server: gm.geant.net
    username: "{{ infoblox_user }}"
    password: "{{ infoblox_password }}"
    zone: geant.services
    records: "{{ lookup('geant.consul_dns.consul_zone', 'geant.services', wantlist=True) }}"
    adopt_unowned: true
  check_mode: true
  diff: true
  delegate_to: localhost
  register: adoption

- name: Show the adoption report
  ansible.builtin.debug:
    var: adoption.adoption

- name: Push from a zone file written earlier, allowing a service to disappear
  geant.consul_dns.infoblox_zone_sync:
    server: gm.geant.net
    username: "{{ infoblox_user }}"
    password: "{{ infoblox_password }}"
    zone: geant.services
    zone_file: /var/lib/consul_dns/geant.services.zone
    allow_name_removal: true
  delegate_to: localhost
"""

RETURN = r"""
counts:
  description: How many records were (or, in check mode, would be) created, updated, deleted, left unchanged, skipped.
  returned: always
  type: dict
  sample: {created: 1, updated: 0, deleted: 1, unchanged: 5, skipped: 0}
plan:
  description: The exact plan.
  returned: always
  type: dict
  contains:
    create:
      description: Records to create (fqdn, type, value, ttl).
      type: list
      elements: dict
    update:
      description: Owned records whose TTL changes or that are enabled again (with old_ttl, enable and ref).
      type: list
      elements: dict
    take_over:
      description: Unowned records with a healthy address marked owned (O(adopt_unowned)).
      type: list
      elements: dict
    delete:
      description: Records to delete (with ref; C(taken_over) true for an unowned one of O(adopt_unowned)).
      type: list
      elements: dict
    skipped:
      description: Desired records left alone because an unowned A/AAAA or host record serves them already.
      type: list
      elements: dict
    conflicts:
      description: As RV(conflicts).
      type: list
      elements: dict
  sample:
    create: [{fqdn: crowd.geant.services, type: A, value: 1.1.1.11, ttl: 300}]
    update: []
    take_over: []
    delete: []
    skipped: []
    conflicts: []
conflicts:
  description:
    - Records the collection does not own that stand in the way. C(kind) V(blocked) - a desired record that
      was not created (the C(reason) names what holds the name); V(stale) - an address served by an unowned
      record that is not a healthy address of the name (C(record) is that address).
  returned: always
  type: list
  elements: dict
  sample: [{record: {fqdn: cacti.geant.services, type: A, value: 1.1.1.10, ttl: 300}, kind: blocked,
            reason: "unowned CNAME cacti.geant.services (-> old-cacti.geant.net) holds this name ..."}]
status:
  description: V(ok), or V(conflicts) when RV(conflicts) is not empty.
  returned: always
  type: str
  sample: ok
adoption:
  description:
    - The adoption report - every desired record and every record of a published name, with C(action)
      (V(create), V(take_over), V(delete_taken_over), V(equivalent), V(blocked), V(stale), V(unchanged),
      V(update), V(delete)) and C(reason).
  returned: in check mode
  type: list
  elements: dict
  sample: [{fqdn: crowd.geant.services, type: A, value: 1.1.1.10, action: take_over,
            reason: "unowned record with this address; adopt_unowned marks it owned"}]
requests:
  description: Number of multi-object C(request) calls sent (0 in check mode or when nothing changed).
  returned: always
  type: int
  sample: 1
wapi_calls:
  description: WAPI calls made, split in reads and writes.
  returned: always
  type: dict
  sample: {reads: 6, writes: 1}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.names import InvalidDnsName, normalize_zone
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.push import SyncError, sync_zone
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.options import (
    infoblox_argument_spec,
    wapi_client_from_params,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.wapi import REQUESTS_IMPORT_ERROR, WapiError
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import Record, sort_records
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.plan import PlanRefused, SyncPolicy


def desired_records(module, zone):
    if module.params["records"] is not None:
        return [Record.from_dict(item) for item in module.params["records"]]
    from ansible_collections.geant.consul_dns.plugins.module_utils.dns import zone_text
    if zone_text.DNSPYTHON_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("dnspython"), exception=zone_text.DNSPYTHON_IMPORT_ERROR)
    path = module.params["zone_file"]
    try:
        with open(path) as handle:
            content = zone_text.read_zone_text(handle.read(), zone)
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot read zone file %s: %s" % (path, to_native(exc)))
    except zone_text.ZoneTextError as exc:
        module.fail_json(msg="zone file %s is not a valid zone %s: %s" % (path, zone, to_native(exc)))
    return sort_records(r for r in content.records if r.rtype in ("A", "AAAA"))


def argument_spec():
    spec = infoblox_argument_spec()
    spec.update(
        zone=dict(type="str", required=True),
        view=dict(type="str", default="default"),
        records=dict(type="list", elements="dict"),
        zone_file=dict(type="path"),
        owner_ea=dict(type="str", default="ManagedBy"),
        owner_value=dict(type="str", default="geant.consul_dns"),
        create_owner_ea=dict(type="bool", default=False),
        adopt_unowned=dict(type="bool", default=False),
        inherit_ttl=dict(type="bool", default=False),
        on_conflict=dict(type="str", choices=["warn", "fail"], default="warn"),
        max_change_ratio=dict(type="float", default=0.3),
        min_records_for_ratio=dict(type="int", default=10),
        allow_name_removal=dict(type="bool", default=False),
        allow_empty=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
        max_batch=dict(type="int", default=500),
        max_request_bytes=dict(type="int", default=131072),
        restart_services=dict(type="bool", default=False),
    )
    return spec


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("records", "zone_file")],
        required_one_of=[("records", "zone_file")],
        supports_check_mode=True,
    )
    if REQUESTS_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
    p = module.params
    if not 0 <= p["max_change_ratio"] <= 1:
        module.fail_json(msg="max_change_ratio must be between 0 and 1, got %s" % p["max_change_ratio"])
    if p["max_batch"] < 1:
        module.fail_json(msg="max_batch must be at least 1")
    if p["max_request_bytes"] < 1024:
        module.fail_json(msg="max_request_bytes must be at least 1024")
    try:
        zone = normalize_zone(p["zone"])
        records = desired_records(module, zone)
    except (InvalidDnsName, ValueError) as exc:
        module.fail_json(msg=to_native(exc))

    policy = SyncPolicy(owner_ea=p["owner_ea"], owner_value=p["owner_value"], max_change_ratio=p["max_change_ratio"],
                        min_records_for_ratio=p["min_records_for_ratio"], allow_name_removal=p["allow_name_removal"],
                        allow_empty=p["allow_empty"], force=p["force"], adopt_unowned=p["adopt_unowned"],
                        inherit_ttl=p["inherit_ttl"])
    try:
        client = wapi_client_from_params(p)
    except WapiError as exc:
        module.fail_json(msg=to_native(exc))

    def calls():
        return {"reads": client.reads, "writes": client.writes}

    try:
        result = sync_zone(client, zone, p["view"], records, policy, check_mode=module.check_mode,
                           max_batch=p["max_batch"], create_owner_ea=p["create_owner_ea"],
                           restart_services=p["restart_services"], max_bytes=p["max_request_bytes"])
    except PlanRefused as exc:
        module.fail_json(msg=to_native(exc), refused=True, wapi_calls=calls())
    except (SyncError, WapiError) as exc:
        module.fail_json(msg=to_native(exc), wapi_calls=calls())
    finally:
        client.logout()

    for warning in result.warnings:
        module.warn(warning)
    conflicts = result.plan.conflicts
    output = dict(changed=result.changed, counts=result.plan.summary(), plan=result.plan.as_dict(),
                  conflicts=conflicts, status="conflicts" if conflicts else "ok",
                  requests=result.requests_sent, wapi_calls=calls())
    for conflict in conflicts:
        module.warn("%s: %s" % (conflict["record"]["fqdn"], conflict["reason"]))
    if module.check_mode:
        output["adoption"] = result.plan.adoption_report()
    if module._diff:
        output["diff"] = result.plan.diff(result.owned_current)
    if conflicts and p["on_conflict"] == "fail":
        module.fail_json(msg="zone %s: %d conflict(s) with records the collection does not own (the rest of the "
                             "zone was synced): %s" % (zone, len(conflicts), "; ".join(
                                 "%s %s %s" % (c["record"]["fqdn"], c["record"]["type"], c["record"]["value"])
                                 for c in conflicts[:10])), **output)
    module.exit_json(**output)


if __name__ == "__main__":
    main()
