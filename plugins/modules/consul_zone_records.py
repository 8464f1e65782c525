#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: consul_zone_records
author: GEANT network services team (@geant)
version_added: 0.1.0
short_description: The records of a zone from Consul health, with flap damping and a shrink guard
description:
  - Reads the healthy instances of a zone from Consul exactly like the lookup
    P(geant.consul_dns.consul_zone#lookup) (leader first, all or nothing), then decides which addresses to
    publish with flap damping, keeping its state per address in Consul KV under O(state_prefix)/ZONE.
  - B(Hold-down) - a new or recovered address is published once it has been healthy for O(hold_down) seconds.
  - B(Grace) - a published address that fails is withdrawn once it has been failing for O(grace) seconds.
  - B(Suppression) (RFC 2439) - each time an address is seen falling from healthy to failing (a flap, like a route
    withdrawal) adds O(penalty); the figure halves
    every O(half_life) seconds; above O(suppress_limit) the address is suppressed (not published) until the
    figure is below O(reuse_limit). The figure is capped so that an address that stopped flapping is suppressed
    at most O(max_suppress) seconds after its last flap.
  - B(All failing) - when a name still in Consul would be left with no address, V(withdraw) removes it and
    V(keep) keeps the addresses published last (fail open). The service meta key O(all_failing_meta_key)
    (V(keep) or V(withdraw)) overrides O(all_failing) per service.
  - With no state yet (or an unreadable one, with a warning) the healthy addresses are published at once.
  - B(Shrink guard) - fails when the zone would lose more than O(max_shrink_ratio) of the address records it
    published last time (when that was at least O(min_records_for_shrink) records), unless O(force=true).
  - The state is written with check-and-set on its ModifyIndex, and only when it changed. With O(session) the
    module first checks (and renews) the lock O(lock_key) taken by M(geant.consul_dns.consul_lock), and
    fails if that session no longer holds it.
  - Fails, writing nothing, when Consul has no leader, cannot be reached, or any read fails.
  - Returns the records for M(geant.consul_dns.zone_file) and M(geant.consul_dns.infoblox_zone_sync).
options:
  # consul_token (its type) and the other connection options: doc fragment geant.consul_dns.consul
  consul_token:
    description:
      - ACL token with C(service:read) and C(node:read) on what is published, C(key:write) on the state key
        and C(key:read) on O(lock_key), C(session:write) when O(session) is set. Never logged.
  zone:
    description: The zone, for example V(geant.services).
    type: str
    required: true
  lock_key:
    description: KV key of the lock that O(session) holds.
    type: str
    default: consul-dns/lock/zone_sync
  session:
    description: Session from M(geant.consul_dns.consul_lock). When set, the state is written only while it holds O(lock_key).
    type: str
requirements:
  - python-consul2 (or its maintained fork py-consul)
attributes:
  check_mode:
    support: full
    description: Reads Consul and the state and returns what a real run would decide; writes no state.
  diff_mode:
    support: none
    description: No diff.
  platform:
    support: full
    platforms: posix
    description: Usually run on the controller (C(delegate_to) V(localhost)).
notes:
  - Observations happen when the module runs; health changes between two runs are not seen. Run it often
    (every minute) for the damping to see flaps.
  - RV(ignore:changed) is true when the set of published addresses differs from the last run's.
seealso:
  - module: geant.consul_dns.consul_lock
  - module: geant.consul_dns.zone_file
  - module: geant.consul_dns.infoblox_zone_sync
  - name: RFC 2439
    description: BGP route flap damping, the model of the suppression.
    link: https://www.rfc-editor.org/rfc/rfc2439
extends_documentation_fragment:
  - geant.consul_dns.consul
  - geant.consul_dns.selection
  - geant.consul_dns.damping
"""

EXAMPLES = r"""
- name: Damped records of geant.services
  geant.consul_dns.consul_zone_records:
    zone: geant.services
    hold_down: 120
    grace: 30
    session: "{{ sync_lock.session }}"
  register: zone

- name: Write them
  geant.consul_dns.zone_file:
    path: /var/lib/consul_dns/geant.services.zone
    zone: geant.services
    records: "{{ zone.records }}"
    nameservers: [ns1.geant.net.]
    hostmaster: hostmaster@geant.org
"""

RETURN = r"""
zone:
  description: The zone, normalized.
  returned: always
  type: str
  sample: geant.services
records:
  description: The records to publish, in the collection's deterministic order (same form as the lookup).
  returned: success
  type: list
  elements: dict
  sample: [{zone: geant.services, name: crowd, fqdn: crowd.geant.services, type: A, ttl: 300, value: 1.1.1.10}]
published:
  description: The published addresses by name.
  returned: success
  type: dict
  sample: {crowd: [1.1.1.10, 1.1.1.11]}
added:
  description: Addresses published by this run that were not published before.
  returned: success
  type: list
  elements: dict
  sample: [{name: crowd, address: 1.1.1.11}]
withdrawn:
  description: Addresses published before and withdrawn by this run, with the reason.
  returned: success
  type: list
  elements: dict
  sample: [{name: crowd, address: 1.1.1.11, reason: failing}]
pending:
  description: Healthy addresses waiting for the hold-down.
  returned: success
  type: list
  elements: dict
  sample: [{name: crowd, address: 1.1.1.11, healthy_for: 12.0, publish_in: 48.0}]
in_grace:
  description: Failing addresses still published during the grace time.
  returned: success
  type: list
  elements: dict
  sample: []
suppressed:
  description: Addresses suppressed for flapping, with their penalty and the seconds until reuse (if no more flaps).
  returned: success
  type: list
  elements: dict
  sample: [{name: crowd, address: 1.1.1.11, healthy: true, penalty: 2804.2, reuse_in: 19.0, flaps: 3}]
kept:
  description: Addresses kept by the V(keep) policy while every instance of their name is failing.
  returned: success
  type: list
  elements: dict
  sample: []
report:
  description: The damping decisions as lines of text for the job log.
  returned: success
  type: list
  elements: str
  sample: ["geant.services: crowd 1.1.1.11 suppressed (flapping: 3 flaps, penalty 2804.2, reuse in 19s)"]
state_key:
  description: The Consul KV key of the damping state.
  returned: always
  type: str
  sample: consul-dns/state/geant.services
state_written:
  description: Whether the state was written (it is only written when it changed, never in check mode).
  returned: success
  type: bool
  sample: true
bootstrap:
  description: Whether the run started without a usable state (healthy addresses published at once).
  returned: success
  type: bool
  sample: false
leader:
  description: The Consul leader seen by the read.
  returned: success
  type: str
  sample: 1.1.1.1:8300
refused:
  description: True when the shrink guard refused the zone.
  returned: failure
  type: bool
  sample: true
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import CONSUL_IMPORT_ERROR, ConsulError
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.options import (
    consul_argument_spec,
    kv_from_params,
    selection_argument_spec,
    selection_from_params,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.kv import (
    ConsulLock,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.state_store import StateStore
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.lock_keeper import holder_name
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.decision import (
    ZoneShrinkRefused,
    decide,
    observe,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.options import (
    damping_argument_spec,
    damping_config_from_params,
    shrink_guard_from_params,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.names import InvalidDnsName, normalize_zone


def argument_spec():
    spec = consul_argument_spec()
    spec.update(selection_argument_spec())
    spec.update(damping_argument_spec())
    spec.update(
        zone=dict(type="str", required=True),
        lock_key=dict(type="str", default="consul-dns/lock/zone_sync", no_log=False),
        session=dict(type="str"),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if CONSUL_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("python-consul2 (or py-consul)"), exception=CONSUL_IMPORT_ERROR)
    p = module.params
    result = dict(changed=False, zone=p["zone"])
    try:
        zone = normalize_zone(p["zone"])
        result["zone"] = zone
        config = damping_config_from_params(p)
        guard = shrink_guard_from_params(p)
        selection = selection_from_params(p)
        kv = kv_from_params(p, consistency=p["consistency"])
        store = StateStore(kv, p["state_prefix"], zone)
        result["state_key"] = store.key
        observed = observe(kv, selection, zone, p["all_failing_meta_key"])  # leader first: clearest failure
        previous, state_warnings = store.load()
        decision = decide(observed, previous, time.time(), config, default_ttl=p["ttl"], guard=guard)
        written = False
        if not module.check_mode and not store.unchanged(decision.damping.state):
            if p["session"]:
                ConsulLock(kv, p["lock_key"]).check(p["session"])
            store.save(decision.damping.state, zone, holder_name("consul_zone_records module", os.getpid()))
            written = True
    except ZoneShrinkRefused as exc:
        module.fail_json(msg=to_native(exc), refused=True, **result)
    except (ConsulError, InvalidDnsName, ValueError) as exc:
        module.fail_json(msg="consul_zone_records %s: %s" % (result["zone"], to_native(exc)), **result)

    for warning in state_warnings + decision.warnings:
        module.warn("%s: %s" % (zone, warning))
    result.update(decision.as_result(state_written=written, bootstrap=previous is None, leader=observed.leader))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
