# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""From Consul health entries to the addresses a zone publishes (pure functions, no I/O).

The rule for "healthy": an instance is published when *every* check that applies to it passes,
its service checks and its node's checks (``serfHealth``, maintenance mode) alike. ``warning``
counts as not passing, as in Consul's own ``?passing`` filter; ``warning_is_healthy`` relaxes that.
Consul's DNS interface is looser (it only drops critical instances); this zone is deliberately not.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.names import (
    InvalidDnsName,
    fqdn,
    normalize_name,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import address_type

Instance = namedtuple("Instance", [
    "service",        # Consul service name
    "dns_name",       # relative DNS name it is published under (validated)
    "service_id",
    "node",
    "address",        # service address, else node address
    "healthy",        # bool, by the rule above
    "failing_checks",  # tuple of "check-id=status" for the checks that are not passing
])

INVALID_NAME_POLICIES = ("fail", "skip")


class ServiceSelection(object):
    """Which services and instances a zone publishes, and under which names.

    services: names to publish (None = every service); exclude: names never published (``consul``
    by default, the servers' own service); tags: an instance needs all of them; meta: an instance's
    service meta must carry each key with that value; dns_name_meta_key / dns_ttl_meta_key: service
    meta keys that choose the DNS name / TTL; invalid_names: 'fail' or 'skip' (skip warns).
    """

    def __init__(self, services=None, exclude=("consul",), tags=(), meta=None,
                 dns_name_meta_key="dns_name", dns_ttl_meta_key="dns_ttl", invalid_names="fail",
                 warning_is_healthy=False):
        if invalid_names not in INVALID_NAME_POLICIES:
            raise ValueError("invalid_names must be one of %s" % ", ".join(INVALID_NAME_POLICIES))
        self.services = set(services) if services else None
        self.exclude = set(exclude or ())
        self.tags = set(tags or ())
        self.meta = dict(meta or {})
        self.dns_name_meta_key = dns_name_meta_key
        self.dns_ttl_meta_key = dns_ttl_meta_key
        self.invalid_names = invalid_names
        self.healthy_states = ("passing", "warning") if warning_is_healthy else ("passing",)

    def wants_service(self, name, catalog_tags):
        """Pre-filter on the catalog: can any instance of this service match at all?"""
        if name in self.exclude or (self.services is not None and name not in self.services):
            return False
        return self.tags.issubset(set(catalog_tags or ()))

    def wants_instance(self, service):
        """``service`` is the ``Service`` part of a health entry."""
        if not self.tags.issubset(set(service.get("Tags") or ())):
            return False
        meta = service.get("Meta") or {}
        return all(meta.get(key) == str(value) for key, value in self.meta.items())


class ZoneAddresses(object):
    """What a read of Consul yields for one zone."""

    def __init__(self):
        self.instances = []          # every selected instance (healthy or not)
        self.addresses_by_name = {}  # {dns name: set of healthy addresses}
        self.ttl_by_name = {}
        self.warnings = []
        self.skipped = []            # {"service", "reason"} for services/instances left out

    def healthy_addresses(self):
        return {name: sorted(addrs) for name, addrs in self.addresses_by_name.items()}


def instance_from_entry(entry, dns_name, healthy_states=("passing",)):
    node, service = entry.get("Node") or {}, entry.get("Service") or {}
    checks = entry.get("Checks") or []
    failing = tuple(sorted(
        "%s=%s" % (check.get("CheckID"), check.get("Status"))
        for check in checks if check.get("Status") not in healthy_states
    ))
    return Instance(
        service=service.get("Service"),
        dns_name=dns_name,
        service_id=service.get("ID"),
        node=node.get("Node"),
        address=service.get("Address") or node.get("Address"),
        healthy=not failing,
        failing_checks=failing,
    )


def _dns_name_for(service_name, service, selection, zone):
    """Validated relative DNS name of an instance; raise InvalidDnsName naming the service."""
    wanted = (service.get("Meta") or {}).get(selection.dns_name_meta_key) or service_name
    try:
        name = normalize_name(wanted)
        fqdn(name, zone)
    except InvalidDnsName as exc:
        source = "service meta %s" % selection.dns_name_meta_key if wanted != service_name else "service name"
        raise InvalidDnsName("Consul service %r cannot be published in zone %s: %s (from its %s)"
                             % (service_name, zone, exc, source))
    return name


def _ttl_for(service_name, service, selection):
    raw = (service.get("Meta") or {}).get(selection.dns_ttl_meta_key)
    if raw in (None, ""):
        return None
    try:
        ttl = int(raw)
        if ttl < 0 or ttl > 2147483647:
            raise ValueError
    except ValueError:
        raise ValueError("Consul service %r: meta %s=%r is not a TTL in seconds"
                         % (service_name, selection.dns_ttl_meta_key, raw))
    return ttl


def zone_addresses(health_by_service, selection, zone):
    """Turn ``{service name: health entries}`` into the healthy addresses of ``zone``.

    Invalid names raise InvalidDnsName (policy 'fail') or are skipped with a warning ('skip').
    Addresses that are not IPs (a node registered by host name) are skipped with a warning: they
    cannot become A/AAAA records. When two services choose the same DNS name their addresses merge
    and the lowest TTL wins.
    """
    result = ZoneAddresses()
    # Many instances share a DNS name and (rarely) an address: check each once, not per instance.
    names, address_types = {}, {}
    for service_name in sorted(health_by_service):
        invalid_reported = False
        for entry in health_by_service[service_name]:
            service = entry.get("Service") or {}
            if not selection.wants_instance(service):
                continue
            wanted = (service.get("Meta") or {}).get(selection.dns_name_meta_key)
            try:
                dns_name = names.get((service_name, wanted))
                if dns_name is None:
                    dns_name = names[(service_name, wanted)] = _dns_name_for(service_name, service, selection, zone)
            except InvalidDnsName as exc:
                if selection.invalid_names == "fail":
                    raise
                if not invalid_reported:
                    result.warnings.append("skipped: %s" % exc)
                    result.skipped.append({"service": service_name, "reason": str(exc)})
                    invalid_reported = True
                continue
            instance = instance_from_entry(entry, dns_name, selection.healthy_states)
            result.instances.append(instance)
            kind = address_types.get(instance.address)
            if kind is None:
                kind = address_types[instance.address] = address_type(instance.address or "") or ""
            if not kind:
                message = ("skipped instance %s of service %s on node %s: address %r is not an IP address"
                           % (instance.service_id, service_name, instance.node, instance.address))
                result.warnings.append(message)
                result.skipped.append({"service": service_name, "reason": message})
                continue
            ttl = _ttl_for(service_name, service, selection)
            if ttl is not None:
                result.ttl_by_name[dns_name] = min(ttl, result.ttl_by_name.get(dns_name, ttl))
            addresses = result.addresses_by_name.setdefault(dns_name, set())
            if instance.healthy:
                addresses.add(instance.address)
    return result
