# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read one zone's records from Consul: the glue between the reader, the selection and the model.

A read is all or nothing: the leader is checked first, and any failing health read fails the whole
read, so a caller never gets a zone that silently lost services because of a transient fault.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.names import normalize_zone
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.healthy_instances import zone_addresses
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import address_records


class ConsulZone(object):
    """The outcome of reading one zone: records plus what was seen on the way."""

    def __init__(self, zone, records, addresses, leader, http_calls):
        self.zone = zone
        self.records = records
        self.instances = addresses.instances
        self.names = sorted(addresses.addresses_by_name)  # every published name, healthy or not
        self.warnings = addresses.warnings
        self.skipped = addresses.skipped
        self.leader = leader
        self.http_calls = http_calls

    def record_dicts(self):
        return [record.to_dict(self.zone) for record in self.records]

    def unhealthy_instances(self):
        return [i for i in self.instances if not i.healthy]


def read_selected_health(reader, selection):
    """(leader, {service: health entries}) of the selected services: leader first, all or nothing."""
    leader = reader.leader()
    catalog = reader.services()
    wanted = sorted(name for name, tags in catalog.items() if selection.wants_service(name, tags))
    return leader, reader.health_of(wanted)


def read_zone(reader, selection, zone, default_ttl=300):
    """Read ``zone`` through ``reader`` (a ConsulReader) with ``selection`` (a ServiceSelection)."""
    zone = normalize_zone(zone)
    calls_before = reader.http_calls
    leader, health = read_selected_health(reader, selection)
    addresses = zone_addresses(health, selection, zone)
    records = address_records(addresses.addresses_by_name, default_ttl, addresses.ttl_by_name)
    return ConsulZone(zone, records, addresses, leader, reader.http_calls - calls_before)


class RunReader(object):
    """A reader that asks Consul once per run: the leader, the catalog and each service's health.

    Zones of one run that select the same services share one read (and so one view of Consul).
    ``reader`` is a ConsulReader, or the watch service's cached health reader.
    """

    def __init__(self, reader):
        self.reader = reader
        self._leader = None
        self._services = None
        self._health = {}

    @property
    def http_calls(self):
        return self.reader.http_calls

    def leader(self):
        if self._leader is None:
            self._leader = self.reader.leader()
        return self._leader

    def services(self):
        if self._services is None:
            self._services = self.reader.services()
        return self._services

    def health_of(self, names):
        names = list(names)
        missing = [name for name in names if name not in self._health]
        if missing:
            self._health.update(self.reader.health_of(missing))
        return dict((name, self._health[name]) for name in names)
