#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: zone_sync_report
author: GEANT network services team (@geant)
version_added: 0.1.0
short_description: Write the summary of a zone sync run as JSON and as Prometheus textfile metrics
description:
  - Sums up one run of the zone sync (playbook C(geant.consul_dns.zone_sync)) from the results of
    M(geant.consul_dns.consul_zone_records), M(geant.consul_dns.zone_file) and M(geant.consul_dns.infoblox_zone_sync)
    for each zone, and returns it as RV(report).
  - With O(summary_file) the report is written there as JSON. With O(metrics_file) it is written there in the
    Prometheus text exposition format, for node_exporter's textfile collector. Metric names start with
    C(consul_dns_); zone metrics have the label C(zone).
  - The counters (C(consul_dns_sync_runs_total), C(consul_dns_sync_refusals_total),
    C(consul_dns_zone_record_changes_total)) and C(consul_dns_sync_last_success_timestamp_seconds) carry on from
    the values in the existing O(metrics_file), so a failed run keeps the time of the last success.
  - Both files are replaced atomically (a temporary file in the same directory, then a rename), with mode
    C(0644). Their directories are created (mode C(0755)) when missing.
  - Writing the report is not counted as a change, so a run that changed nothing reports nothing changed.
options:
  zones:
    description:
      - One entry per zone of the run. A step that did not run is left out (or V(null)).
      - The results may be slimmed down. Lists the report only counts (C(records), C(added), C(withdrawn),
        C(pending), C(in_grace), C(kept), and C(added), C(removed) of a zone file) may be given as their lengths,
        C(published) as the number of published addresses, and of C(plan) only C(conflicts) is read.
    type: list
    elements: dict
    default: []
    suboptions:
      zone:
        description: The zone.
        type: str
        required: true
      desired:
        description: The result of M(geant.consul_dns.consul_zone_records) for the zone (a failure has C(failed),
          C(msg) and, when the shrink guard refused the zone, C(refused)).
        type: dict
      zone_file:
        description: The result of M(geant.consul_dns.zone_file) for the zone.
        type: dict
      push:
        description: The result of M(geant.consul_dns.infoblox_zone_sync) for the zone.
        type: dict
      error:
        description: A failure of the zone that none of the results tells.
        type: str
  started:
    description: When the run started, in seconds since the epoch. The run ends when this module runs.
    type: float
    required: true
  mode:
    description: How the run was started, for the report.
    type: str
    choices: [playbook, timer, watch]
    default: playbook
  holder:
    description: Who ran the sync (as the lock names it). Default C(user@host pid N).
    type: str
  lock:
    description:
      - The result of M(geant.consul_dns.consul_lock) that took the lock (C(acquired), C(holder), C(key),
        C(holder_info)); left out when the run took no lock.
      - A run whose lock was not acquired (another run holds it) is reported as skipped.
    type: dict
  error:
    description: Why the run failed, when it failed. The run is reported as failed then.
    type: str
  summary_file:
    description: Write the report to this file as JSON. Not written when unset or empty.
    type: path
  metrics_file:
    description:
      - Write Prometheus textfile metrics to this file, for example
        V(/var/lib/prometheus/node-exporter/consul_dns.prom). Not written when unset or empty.
      - node_exporter's textfile collector reads only files ending in C(.prom).
    type: path
attributes:
  check_mode:
    support: full
    description: Returns the report and writes no file.
  diff_mode:
    support: none
    description: No diff.
  platform:
    support: full
    platforms: posix
    description: Runs where the files are to be written (the zone sync runs on C(localhost)).
notes:
  - The report's format has a version (RV(report.version)); fields may be added, none is removed or changes
    meaning within a version.
  - The zone metrics describe the zones of the last run; a run that did not get as far as the zones (or was
    skipped because another run held the lock) has none.
seealso:
  - module: geant.consul_dns.consul_zone_records
  - module: geant.consul_dns.zone_file
  - module: geant.consul_dns.infoblox_zone_sync
  - name: Prometheus text exposition format
    description: The format of O(metrics_file).
    link: https://prometheus.io/docs/instrumenting/exposition_formats/
  - name: node_exporter textfile collector
    description: Reads O(metrics_file).
    link: https://github.com/prometheus/node_exporter#textfile-collector
"""

EXAMPLES = r"""
- name: Note when the run starts
  ansible.builtin.set_fact:
    sync_started: "{{ now().timestamp() }}"

- name: Damped records of geant.services
  geant.consul_dns.consul_zone_records:
    zone: geant.services
  register: desired

- name: Report
  geant.consul_dns.zone_sync_report:
    started: "{{ sync_started }}"
    zones:
      - zone: geant.services
        desired: "{{ desired }}"
    summary_file: /var/lib/consul_dns/last_sync.json
    metrics_file: /var/lib/prometheus/node-exporter/consul_dns.prom
"""

RETURN = r"""
report:
  description: The report of the run (also the content of O(summary_file)).
  returned: always
  type: dict
  contains:
    version:
      description: Version of the report's format.
      type: int
      sample: 1
    mode:
      description: O(mode).
      type: str
      sample: timer
    holder:
      description: O(holder).
      type: str
      sample: root@consul-server01 pid 4711
    started:
      description: Start of the run, ISO 8601 UTC.
      type: str
      sample: "2025-11-25T10:00:00.125Z"
    started_epoch:
      description: Start of the run, seconds since the epoch.
      type: float
      sample: 1764064800.125
    finished:
      description: End of the run, ISO 8601 UTC.
      type: str
      sample: "2025-11-25T10:00:01.875Z"
    finished_epoch:
      description: End of the run, seconds since the epoch.
      type: float
      sample: 1764064801.875
    duration_seconds:
      description: How long the run took.
      type: float
      sample: 1.75
    ok:
      description: The run did not fail (it synced every zone, or another run held the lock).
      type: bool
      sample: true
    success:
      description: The run synced every zone without a failure (RV(report.ok) and not RV(report.skipped)).
      type: bool
      sample: true
    skipped:
      description: Why the run did nothing (another run held the lock), or V(null).
      type: str
      sample: lock consul-dns/lock/zone_sync is held by root@consul-server02 pid 4711
    error:
      description: Why the run failed, or V(null).
      type: str
      sample: null
    lock:
      description: The lock (C(key), C(acquired), C(holder), C(since)), or V(null) when the run took none.
      type: dict
      sample: {key: consul-dns/lock/zone_sync, acquired: true, holder: root@consul-server01 pid 4711,
               since: "2025-11-25T10:00:00Z"}
    zones:
      description:
        - The zones by name. Each has C(ok), C(refused) (the refusal's message or V(null)), C(error) (V(null) or
          the message), C(failed_step) (V(records), V(zone_file), V(push) or V(null)), C(changed), C(records),
          C(published) (addresses), the damping counts C(added), C(withdrawn), C(pending), C(in_grace),
          C(suppressed), C(kept), C(suppressed_addresses) (C(name), C(address), C(penalty), C(reuse_in), C(flaps)),
          C(bootstrap), C(state_written), C(zone_file) (C(path), C(serial), C(previous_serial), C(changed),
          C(records), C(added), C(removed)) or V(null), C(pushed), C(push) (C(created), C(updated), C(deleted),
          C(unchanged), C(skipped), C(conflicts), C(requests), C(changed)) or V(null), C(changes) (C(created),
          C(updated), C(deleted)) and C(changes_source) (V(infoblox), V(zone_file) or V(null)).
        - A count is V(null) when the run could not tell it (the step failed or did not run).
      type: dict
      sample:
        geant.services:
          zone: geant.services
          ok: true
          refused: null
          error: null
          failed_step: null
          changed: true
          records: 5
          published: 5
          added: 1
          withdrawn: 0
          pending: 0
          in_grace: 0
          suppressed: 1
          kept: 0
          suppressed_addresses: [{name: crowd, address: 1.1.1.12, penalty: 2804.2, reuse_in: 19.0, flaps: 3}]
          bootstrap: false
          state_written: true
          zone_file: {path: /var/lib/consul_dns/zones/geant.services.zone, serial: 2025112502,
                      previous_serial: 2025112501, changed: true, records: 5, added: 1, removed: 0}
          pushed: true
          push: {created: 1, updated: 0, deleted: 0, unchanged: 4, skipped: 0, conflicts: 0, requests: 1,
                 changed: true}
          changes: {created: 1, updated: 0, deleted: 0}
          changes_source: infoblox
    totals:
      description: Sums over the zones.
      type: dict
      sample: {zones: 1, zones_ok: 1, zones_refused: 0, zones_failed: 0, zones_changed: 1, zones_pushed: 1,
               records: 5, published: 5, added: 1, withdrawn: 0, pending: 0, in_grace: 0, suppressed: 1, kept: 0,
               conflicts: 0, changes: {created: 1, updated: 0, deleted: 0}}
summary_file:
  description: The JSON file written, or V(null) (none asked for, or check mode).
  returned: always
  type: str
  sample: /var/lib/consul_dns/last_sync.json
metrics_file:
  description: The metrics file written, or V(null) (none asked for, or check mode).
  returned: always
  type: str
  sample: /var/lib/prometheus/node-exporter/consul_dns.prom
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.geant.consul_dns.plugins.module_utils.sync.lock_keeper import holder_name
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.report import (
    MODES,
    build_report,
    write_json,
    write_metrics,
    zone_outcome,
)


def argument_spec():
    return dict(
        zones=dict(type="list", elements="dict", default=[], options=dict(
            zone=dict(type="str", required=True),
            desired=dict(type="dict"),
            zone_file=dict(type="dict"),
            push=dict(type="dict"),
            error=dict(type="str"),
        )),
        started=dict(type="float", required=True),
        mode=dict(type="str", default="playbook", choices=list(MODES)),
        holder=dict(type="str"),
        lock=dict(type="dict"),
        error=dict(type="str"),
        summary_file=dict(type="path"),
        metrics_file=dict(type="path"),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    p = module.params
    try:
        outcomes = [zone_outcome(z["zone"], desired=z["desired"], zone_file=z["zone_file"], push=z["push"],
                                 error=z["error"]) for z in p["zones"]]
        holder = holder_name("zone_sync_report module", os.getpid(), configured=p["holder"])
        report = build_report(outcomes, p["started"], time.time(), p["mode"], holder=holder, lock=p["lock"],
                              error=p["error"])
    except (ValueError, TypeError, KeyError) as exc:
        module.fail_json(msg="cannot build the report: %s" % to_native(exc))

    result = dict(changed=False, report=report, summary_file=None, metrics_file=None)
    if module.check_mode:
        module.exit_json(**result)
    for key, write in (("summary_file", lambda path: write_json(path, report)),
                       ("metrics_file", lambda path: write_metrics(path, report))):
        if not p[key]:
            continue
        try:
            result[key] = write(p[key])
        except (IOError, OSError) as exc:
            module.fail_json(msg="cannot write %s %s: %s" % (key, p[key], to_native(exc)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
