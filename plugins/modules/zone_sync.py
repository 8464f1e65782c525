#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: zone_sync
author: GEANT network services team (@geant)
version_added: 0.2.0
short_description: Sync DNS zones from Consul health to zone files and Infoblox, in one task
description:
  - Runs the whole zone sync for every zone of C(consul_dns_zones), in the controller process (an action
    plugin; nothing is copied to a target). The same engine runs in the watch service
    C(consul-dns-zone-watch); playbook C(geant.consul_dns.zone_sync) is this one task.
  - Its settings are the C(consul_dns_*) variables the task sees (extra vars, inventory, play vars, an AWX
    job template or credential), over the defaults of the settings schema; every setting and its default
    is listed in docs/zone_sync.md. The task's own O(settings) win over them.
  - Settings are validated before anything is read or written. An unknown C(consul_dns_*) variable or zone
    key is an error naming the zone, the key and the nearest valid key.
  - A run takes the Consul session lock C(consul_dns_lock_key) (a run that finds it held does nothing and
    succeeds, naming the holder), reads Consul's health (all or nothing), applies flap damping with its state
    in Consul KV and the shrink guard, stages the zone file (validated by named-checkzone) and the Infoblox
    push (checked against its safety valves), then publishes - Infoblox first, then the zone file - and saves
    the damping state last.
  - A zone that is refused or fails leaves its zone file, its records in Infoblox and its damping state as
    they were; the other zones are still synced and the task then fails naming it (docs/zone_sync.md, "What a
    failed run leaves behind").
  - Every run writes its report (JSON summary C(consul_dns_report_file), Prometheus metrics
    C(consul_dns_metrics_file)) - also a refused, failed or skipped run; not in check mode.
  - The damping decisions are returned as lines of text in RV(damping); the playbook prints them.
  - Records in Infoblox that the collection does not own are left alone and reported as conflicts where they
    stand in the way (RV(status), the report, the C(consul_dns_zone_conflicts) metric; docs/adopting.md).
    C(consul_dns_infoblox_adopt_unowned) (per zone) takes over unowned A/AAAA records of published names.
options:
  settings:
    description:
      - C(consul_dns_*) settings for this task, over the variables of the same name.
    type: dict
attributes:
  action:
    support: full
    description: Runs on the controller.
  check_mode:
    support: full
    description: Reads Consul, the damping state, the zone files and Infoblox and returns what a real run would
      do; takes no lock and writes nothing (no state, no zone file, no push, no report).
  diff_mode:
    support: full
    description: The zone files' text before and after, and the owned records in Infoblox before and after.
  platform:
    support: full
    platforms: posix
    description: The controller (C(localhost)).
requirements:
  - python-consul2 or py-consul, dnspython and requests on the controller
  - named-checkzone (Debian bind9-utils) to validate zone files
notes:
  - The lock holder is named C(user@host ansible-playbook pid N) (the ansible-playbook process), or
    C(AWX job N (user@host)) when C(AWX_JOB_ID) or C(JOB_ID) is set; C(consul_dns_lock_holder) overrides it.
  - Secrets (C(consul_dns_consul_token), C(consul_dns_infoblox_password)) are never part of the result or the
    report.
seealso:
  - module: geant.consul_dns.consul_zone_records
  - module: geant.consul_dns.zone_file
  - module: geant.consul_dns.infoblox_zone_sync
  - module: geant.consul_dns.consul_lock
  - module: geant.consul_dns.zone_sync_report
"""

EXAMPLES = r"""
# The settings are consul_dns_* variables (here play vars; usually extra vars, inventory or AWX):
#   consul_dns_zones: [{name: geant.services, nameservers: [ns1.geant.net.], hostmaster: hostmaster@geant.org}]
#   consul_dns_infoblox_server: gm.geant.net
#   consul_dns_infoblox_username: "{{ vault_infoblox_user }}"
#   consul_dns_infoblox_password: "{{ vault_infoblox_password }}"
- name: Sync the zones
  geant.consul_dns.zone_sync:
  register: zone_sync

- name: Show the damping decisions
  ansible.builtin.debug:
    msg: "{{ zone_sync.damping }}"

- name: A one-off run that publishes past the shrink guard
  geant.consul_dns.zone_sync:
    settings:
      consul_dns_force: true
"""

RETURN = r"""
zones:
  description: Per zone, what the run did (the zone's entry of the report, see docs/zone_sync.md).
  returned: always
  type: dict
  sample:
    geant.services:
      zone: geant.services
      ok: true
      changed: true
      records: 2
      published: 2
      failed_step: null
      zone_file: {path: /var/lib/consul_dns/zones/geant.services.zone, serial: 2026112901, changed: true}
      push: {created: 1, updated: 0, deleted: 0, unchanged: 1, skipped: 0, conflicts: 0, conflict_records: [],
             requests: 1, changed: true}
      status: ok
status:
  description:
    - The run in one word - V(ok), V(conflicts) (published, but records the collection does not own block a
      desired record or serve an unhealthy address; the zones' C(push.conflict_records) name them, and with
      C(consul_dns_infoblox_on_conflict=fail) the task fails), V(failed) or V(skipped).
  returned: always
  type: str
  sample: ok
adoption:
  description:
    - Per zone, the adoption report of the Infoblox push - every desired record and every record of a published
      name, with C(action) (V(create), V(take_over), V(delete_taken_over), V(equivalent), V(blocked), V(stale),
      V(unchanged), V(update), V(delete)) and C(reason). See docs/adopting.md.
  returned: in check mode, with Infoblox configured
  type: dict
  sample:
    geant.services:
      - {fqdn: crowd.geant.services, type: A, value: 1.1.1.10, action: equivalent,
         reason: served by an unowned host record}
adoption_lines:
  description: RV(adoption) as lines of text (the playbook prints them in check mode as C(Adoption report)).
  returned: in check mode, with Infoblox configured
  type: list
  elements: str
  sample: ["geant.services: cacti.geant.services A 1.1.1.20: blocked (unowned CNAME cacti.geant.services ...)"]
decisions:
  description:
    - Per zone, the damping's decisions with their addresses, as M(geant.consul_dns.consul_zone_records) returns
      them (C(published), C(added), C(withdrawn), C(pending), C(in_grace), C(suppressed), C(kept), C(bootstrap),
      C(state_written), C(leader)).
  returned: when Consul was read
  type: dict
  sample:
    geant.services:
      published: {crowd: [1.1.1.10]}
      withdrawn: [{name: crowd, address: 1.1.1.11, reason: failing}]
      bootstrap: false
      state_written: true
damping:
  description: The damping decisions, one line each (the playbook prints them in the job output).
  returned: always
  type: list
  elements: str
  sample: ["geant.services: crowd 1.1.1.11 withdrawn (failing)"]
report:
  description: The run's report, as written to C(consul_dns_report_file).
  returned: always
  type: dict
holder:
  description: How this run names itself as lock holder.
  returned: always
  type: str
  sample: root@consul-server01 ansible-playbook pid 4711
skipped_reason:
  description: Why the run did nothing (another run holds the lock).
  returned: when another run holds the lock
  type: str
  sample: lock consul-dns/lock/zone_sync is held by AWX job 42 (awx@awx-ee)
refused:
  description: True when a zone was refused by a safety valve (shrink guard, Infoblox).
  returned: failure
  type: bool
"""
