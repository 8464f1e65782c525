# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The desired records of one zone: Consul health -> flap damping -> shrink guard.

1. :func:`observe` reads Consul like the lookup does (leader first, then the catalog and one health
   read per selected service; any failure fails the whole read) and turns it into per-address
   observations, the names still in Consul, and each name's all-failing policy (service meta).
2. :func:`decide` applies :mod:`flap_damping` to the stored state and builds the records.
3. The shrink guard refuses a result that lost more than ``max_shrink_ratio`` of the records
   published last time (when that was at least ``min_records`` records), unless forced: a Consul
   that briefly answers with half the catalog must not become a mass delete.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.zone_read import read_selected_health
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.names import normalize_zone
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.flap import (
    ALL_FAILING_POLICIES,
    evaluate,
    published_from_state,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.healthy_instances import zone_addresses
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import (
    address_records,
    address_type,
    canonical_address,
)


class ZoneShrinkRefused(Exception):
    """The zone lost more records than allowed since the last published state."""


class Observed(object):
    def __init__(self, zone, observations, names, policies, addresses, leader, http_calls):
        self.zone = zone
        self.observations = observations  # {(name, address): healthy}
        self.names = names                # names with at least one selected instance
        self.policies = policies          # {name: 'keep' | 'withdraw'} set through service meta
        self.ttl_by_name = addresses.ttl_by_name
        self.warnings = list(addresses.warnings)
        self.skipped = addresses.skipped
        self.leader = leader
        self.http_calls = http_calls


def _name_policies(health, selection, instances, meta_key, warnings):
    """A name's policy is ``keep`` only when all its instances that set ``meta_key`` say ``keep``."""
    dns_name_of = dict(((i.node, i.service_id), i.dns_name) for i in instances)
    seen = {}
    for service_name in sorted(health):
        for entry in health[service_name]:
            service = entry.get("Service") or {}
            if not meta_key or not selection.wants_instance(service):
                continue
            value = (service.get("Meta") or {}).get(meta_key)
            name = dns_name_of.get(((entry.get("Node") or {}).get("Node"), service.get("ID")))
            if value in (None, "") or name is None:
                continue
            if value not in ALL_FAILING_POLICIES:
                warnings.append("service %s: meta %s=%r is not one of %s; ignored"
                                % (service_name, meta_key, value, ", ".join(ALL_FAILING_POLICIES)))
                continue
            seen.setdefault(name, set()).add(value)
    return dict((name, "keep" if values == {"keep"} else "withdraw") for name, values in seen.items())


def observe(reader, selection, zone, all_failing_meta_key="dns_all_failing"):
    zone = normalize_zone(zone)
    calls_before = reader.http_calls
    leader, health = read_selected_health(reader, selection)
    addresses = zone_addresses(health, selection, zone)
    observations = {}
    for instance in addresses.instances:
        if address_type(instance.address or "") is None:
            continue  # reported in the warnings by zone_addresses
        key = (instance.dns_name, canonical_address(instance.address))
        observations[key] = observations.get(key, False) or instance.healthy
    warnings = []
    policies = _name_policies(health, selection, addresses.instances, all_failing_meta_key, warnings)
    observed = Observed(zone, observations, set(addresses.addresses_by_name), policies, addresses, leader,
                        reader.http_calls - calls_before)
    observed.warnings.extend(warnings)
    return observed


class ShrinkGuard(object):
    def __init__(self, max_shrink_ratio=0.5, min_records=4, force=False):
        if not 0 <= max_shrink_ratio <= 1:
            raise ValueError("max_shrink_ratio must be between 0 and 1, got %s" % max_shrink_ratio)
        self.max_shrink_ratio = float(max_shrink_ratio)
        self.min_records = int(min_records)
        self.force = force

    def check(self, zone, previous, published, compared_with="the damping state"):
        """Raise ZoneShrinkRefused when too much of ``previous`` is missing from ``published``.

        ``compared_with`` names where ``previous`` comes from, for the message."""
        before = set((n, a) for n, addrs in previous.items() for a in addrs)
        after = set((n, a) for n, addrs in published.items() for a in addrs)
        lost = sorted(before - after)
        if not before or len(before) < self.min_records or not lost:
            return None
        ratio = len(lost) / float(len(before))
        if ratio <= self.max_shrink_ratio:
            return None
        message = ("zone %s would lose %d of its %d published address records (%.0f%% > max_shrink_ratio %.0f%%, "
                   "compared with %s): %s. Refusing to publish it; the zone file and Infoblox stay as they are. "
                   "If this is wanted, run once with force (consul_dns_force=true)."
                   % (zone, len(lost), len(before), ratio * 100, self.max_shrink_ratio * 100, compared_with,
                      ", ".join("%s %s" % item for item in lost[:20]) + (" ..." if len(lost) > 20 else "")))
        if self.force:
            return "forced: " + message
        raise ZoneShrinkRefused(message)


class Decision(object):
    def __init__(self, observed, damping, records, previous_published, forced_warning):
        self.zone = observed.zone
        self.damping = damping
        self.records = records
        self.previous_published = previous_published
        self.warnings = list(observed.warnings) + ([forced_warning] if forced_warning else [])

    @property
    def changed(self):
        return self.previous_published != self.damping.published

    def record_dicts(self):
        return [dict(record.to_dict(self.zone), zone=self.zone) for record in self.records]

    def as_result(self, state_written, bootstrap, leader, with_records=True):
        """The ``consul_zone_records`` module's result keys (the engine's ``decisions`` are the same).

        ``with_records=False`` leaves out ``zone``, ``changed`` and ``records``: the engine reports those
        elsewhere, and a large zone's record list (one dict per record) is not even built.
        """
        d = self.damping
        result = dict(
            published=d.published, added=d.added, withdrawn=d.withdrawn, pending=d.pending, in_grace=d.in_grace,
            suppressed=d.suppressed, kept=d.kept, report=self.report_lines(), state_written=state_written,
            bootstrap=bootstrap, leader=leader,
        )
        if with_records:
            result.update(zone=self.zone, changed=self.changed, records=self.record_dicts())
        return result

    def report_lines(self):
        """Human readable lines on what the damping did (for the job log)."""
        d, lines = self.damping, []
        for item in d.added:
            lines.append("%s %s published" % (item["name"], item["address"]))
        for item in d.withdrawn:
            lines.append("%s %s withdrawn (%s)" % (item["name"], item["address"], item["reason"]))
        for item in d.pending:
            lines.append("%s %s pending: healthy for %gs, published in %gs (hold-down)"
                         % (item["name"], item["address"], item["healthy_for"], item["publish_in"]))
        for item in d.in_grace:
            lines.append("%s %s failing for %gs, withdrawn in %gs (grace)"
                         % (item["name"], item["address"], item["failing_for"], item["withdraw_in"]))
        for item in d.suppressed:
            lines.append("%s %s suppressed (flapping: %d flaps, penalty %g, reuse in %gs)"
                         % (item["name"], item["address"], item["flaps"], item["penalty"], item["reuse_in"]))
        for item in d.kept:
            lines.append("%s %s kept: every instance is failing and the policy is keep"
                         % (item["name"], item["address"]))
        return ["%s: %s" % (self.zone, line) for line in lines]


def decide(observed, previous_state, now, config, default_ttl=300, guard=None, fallback_published=None):
    """Damping + records + shrink guard; ``previous_state`` None means start clean.

    ``fallback_published`` (``{name: addresses}``, or a callable returning it or None): what was published
    last according to another source, for the shrink guard when there is no state - a lost or unreadable
    state must not also switch the guard off. A callable is only called when there is no state.
    """
    damping = evaluate(previous_state, observed.observations, now, config, names_present=observed.names,
                       name_policies=observed.policies)
    ttl_by_name = dict((n, t) for n, t in observed.ttl_by_name.items() if n in damping.published)
    records = address_records(damping.published, default_ttl, ttl_by_name)
    previous_published = published_from_state(previous_state)
    baseline, compared_with = previous_published, "the damping state"
    if previous_state is None and fallback_published is not None:
        fallback = fallback_published() if callable(fallback_published) else fallback_published
        if fallback:
            baseline, compared_with = fallback, "the last zone file (no damping state)"
    forced = (guard or ShrinkGuard()).check(observed.zone, baseline, damping.published, compared_with)
    return Decision(observed, damping, records, previous_published, forced)
