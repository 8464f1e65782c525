# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One sync of every configured zone in-process, for the watch service (``zone_watch``).

It does what ``playbooks/zone_sync.yml`` does with its modules, in the same order and with the same
guards, from the same ``consul_dns_*`` settings (see ``playbooks/vars/zone_sync_defaults.yml``):

1. desired records: Consul health -> flap damping (state in KV, check-and-set) -> shrink guard;
2. the zone file (same serial and named-checkzone rules as the ``zone_file`` module);
3. the lock is checked again, then the Infoblox push (one WAPI ``request``, same safety valves).

One difference, on purpose: zones are independent. A zone that is refused or fails does not stop
the others (in the playbook a failed loop item ends the run), because the service keeps running and
retries the failed zone on its own.

Each zone's outcome is a dict ``{zone, desired, zone_file, push, error, refused}`` whose ``desired``,
``zone_file`` and ``push`` have the keys of the ``consul_zone_records``, ``zone_file`` and
``infoblox_zone_sync`` module results, so reports are built the same way for both.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import ConsulError
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.kv import LockLost, StateStore
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.decision import (
    ShrinkGuard,
    ZoneShrinkRefused,
    decide,
    observe,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.names import InvalidDnsName, normalize_zone
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.flap import DampingConfig
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.healthy_instances import ServiceSelection
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.push import SyncError, sync_zone
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.wapi import WapiError
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.zone_file import ZoneFileError, write_zone_file
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import ZoneSettings
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.plan import PlanRefused, SyncPolicy

# Zone keys the playbook reads (docs/zone_sync.md); anything else is a typo worth an error.
ZONE_KEYS = frozenset([
    "name", "nameservers", "services", "exclude_services", "tags", "service_meta", "dns_name_meta_key",
    "dns_ttl_meta_key", "invalid_names", "warning_is_healthy", "ttl", "hold_down", "grace", "all_failing",
    "max_shrink_ratio", "min_records_for_shrink", "zone_file", "hostmaster", "default_ttl", "refresh",
    "retry", "expire", "negative_ttl", "allow_empty", "infoblox_view",
])


class SettingsError(ValueError):
    """The consul_dns_* settings cannot be used."""


def _given(item, names):
    """``{argument: item[key]}`` for the keys of ``names`` (key -> argument) that ``item`` sets."""
    return dict((argument, item[key]) for key, argument in names.items() if item.get(key) is not None)


class ZoneJob(object):
    """One entry of ``consul_dns_zones`` with the playbook's defaults applied."""

    def __init__(self, item, settings):
        unknown = sorted(set(item) - ZONE_KEYS)
        if unknown:
            raise SettingsError("zone %s: unknown key(s) %s" % (item.get("name"), ", ".join(unknown)))
        if not item.get("name") or not item.get("nameservers"):
            raise SettingsError("every entry of consul_dns_zones needs name and nameservers")
        s = settings
        self.zone = normalize_zone(item["name"])
        # Keys the zone leaves out get ServiceSelection's and ZoneSettings' own defaults (the modules' too).
        self.selection = ServiceSelection(**_given(item, {
            "services": "services", "exclude_services": "exclude", "tags": "tags", "service_meta": "meta",
            "dns_name_meta_key": "dns_name_meta_key", "dns_ttl_meta_key": "dns_ttl_meta_key",
            "invalid_names": "invalid_names", "warning_is_healthy": "warning_is_healthy"}))
        self.damping = DampingConfig(
            hold_down=float(item.get("hold_down", s["consul_dns_hold_down"])),
            grace=float(item.get("grace", s["consul_dns_grace"])),
            penalty=float(s["consul_dns_flap_penalty"]), half_life=float(s["consul_dns_flap_half_life"]),
            suppress_limit=float(s["consul_dns_flap_suppress_limit"]),
            reuse_limit=float(s["consul_dns_flap_reuse_limit"]),
            max_suppress=float(s["consul_dns_flap_max_suppress"]),
            all_failing=item.get("all_failing", s["consul_dns_all_failing"]))
        self.damping.validate()
        self.ttl = int(item.get("ttl", s["consul_dns_record_ttl"]))
        self.guard = ShrinkGuard(float(item.get("max_shrink_ratio", s["consul_dns_max_shrink_ratio"])),
                                 int(item.get("min_records_for_shrink", s["consul_dns_min_records_for_shrink"])),
                                 bool(s["consul_dns_force"]))
        self.zone_settings = ZoneSettings(
            self.zone, item["nameservers"], item.get("hostmaster") or "hostmaster.%s" % self.zone.rstrip("."),
            **_given(item, dict((key, key) for key in ("default_ttl", "refresh", "retry", "expire", "negative_ttl"))))
        self.zone_file = item.get("zone_file") or os.path.join(s["consul_dns_zone_dir"], "%s.zone" % self.zone)
        self.allow_empty = bool(item.get("allow_empty", False))
        self.view = item.get("infoblox_view") or s["consul_dns_infoblox_view"]


class SyncJob(object):
    """Everything one sync needs, built once from the merged consul_dns_* settings."""

    def __init__(self, settings):
        self.settings = settings
        zones = settings.get("consul_dns_zones") or []
        if not zones:
            raise SettingsError("consul_dns_zones must list at least one zone")
        try:
            self.zones = [ZoneJob(item, settings) for item in zones]
        except (InvalidDnsName, ValueError) as exc:
            raise SettingsError(str(exc))
        self.push = bool(settings.get("consul_dns_infoblox_server"))
        if self.push and not (settings.get("consul_dns_infoblox_username")
                              and settings.get("consul_dns_infoblox_password")):
            raise SettingsError("with consul_dns_infoblox_server set, consul_dns_infoblox_username and "
                                "consul_dns_infoblox_password are needed too")
        self.policy = SyncPolicy(
            owner_value=settings["consul_dns_infoblox_owner_value"],
            max_change_ratio=float(settings["consul_dns_infoblox_max_change_ratio"]),
            min_records_for_ratio=int(settings["consul_dns_infoblox_min_records_for_ratio"]),
            allow_name_removal=bool(settings["consul_dns_infoblox_allow_name_removal"]),
            force=bool(settings["consul_dns_force"]))
        self.zone_mode = int(str(settings["consul_dns_zone_file_mode"]), 8)
        self.kept_zones = {}  # parsed zone files between runs of a long-lived job (write_zone_file's kept)
        self.validate = settings["consul_dns_zone_validate"]

    def run(self, kv, wapi=None, lock=None, session=None, writer="consul_dns watch", now=None, reader=None):
        """Sync every zone once; returns one outcome dict per zone (see the module docstring).

        ``reader`` reads health (default ``kv``; the watch service passes one with a cache).
        """
        return [self.run_zone(job, kv, wapi, lock, session, writer, now, reader) for job in self.zones]

    def run_zone(self, job, kv, wapi, lock, session, writer, now=None, reader=None):
        outcome = dict(zone=job.zone, desired=None, zone_file=None, push=None, error=None, refused=None,
                       warnings=[])
        step = "desired"  # the step running: a failure is reported in its result, as the module's would be
        try:
            observed = observe(reader or kv, job.selection, job.zone, self.settings["consul_dns_all_failing_meta_key"])
            store = StateStore(kv, self.settings["consul_dns_state_prefix"], job.zone)
            previous, state_warnings = store.load()
            decision = decide(observed, previous, time.time() if now is None else now, job.damping,
                              default_ttl=job.ttl, guard=job.guard)
            written = False
            if not store.unchanged(decision.damping.state):
                if session:
                    lock.check(session)
                store.save(decision.damping.state, job.zone, writer)
                written = True
            outcome["warnings"].extend(state_warnings + decision.warnings)
            outcome["desired"] = decision.as_result(state_written=written, bootstrap=previous is None,
                                                    leader=observed.leader)

            step = "zone_file"
            zone_file = write_zone_file(job.zone_file, job.zone_settings, decision.record_dicts(),
                                        validate=self.validate, mode=self.zone_mode, allow_empty=job.allow_empty,
                                        kept=self.kept_zones)
            outcome["warnings"].extend(zone_file.pop("warnings"))
            outcome["zone_file"] = zone_file

            step = "push"
            if self.push and wapi is not None:
                if session:
                    lock.check(session)
                reads, writes = wapi.reads, wapi.writes
                pushed = sync_zone(wapi, job.zone, job.view, decision.records, self.policy)
                outcome["warnings"].extend(pushed.warnings)
                outcome["push"] = dict(changed=pushed.changed, counts=pushed.plan.summary(),
                                       requests=pushed.requests_sent,
                                       wapi_calls={"reads": wapi.reads - reads, "writes": wapi.writes - writes},
                                       conflicts=len(pushed.plan.conflicts))
        except LockLost:
            raise  # not this zone's fault: the caller stops writing and stands by
        except (ZoneShrinkRefused, PlanRefused) as exc:
            outcome["refused"] = outcome["error"] = str(exc)
            outcome[step] = dict(failed=True, refused=True, msg=str(exc))
        except (ConsulError, WapiError, SyncError, ZoneFileError, InvalidDnsName, ValueError) as exc:
            outcome["error"] = "%s: %s" % (job.zone, exc)
            outcome[step] = dict(failed=True, msg=outcome["error"])
        return outcome


def next_wakeup(outcomes, now):
    """Epoch time at which the damping changes its mind without any Consul change (None: never).

    A pending address is published when its hold-down ends, a failing one in grace is withdrawn when
    the grace ends, and a suppressed one may be reused when its penalty has decayed.
    """
    times = []
    for outcome in outcomes:
        desired = outcome.get("desired") or {}
        times.extend(now + item["publish_in"] for item in desired.get("pending", ()))
        times.extend(now + item["withdraw_in"] for item in desired.get("in_grace", ()))
        times.extend(now + item["reuse_in"] for item in desired.get("suppressed", ()) if item.get("healthy"))
    return min(times) if times else None
