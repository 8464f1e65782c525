# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: consul_zone
author:
  - GEANT network services team (@geant)
version_added: 0.1.0
short_description: The DNS records of the healthy Consul service instances of a zone
description:
  - Reads from Consul which instances of which services pass all their checks and returns the
    address records (A for IPv4, AAAA for IPv6) of a DNS zone, one record per healthy address.
  - An instance is healthy when every check that applies to it passes, service checks and node
    checks (C(serfHealth), maintenance mode) alike. C(warning) counts as not passing unless
    O(warning_is_healthy=true).
  - The address of an instance is its service address, else its node's address.
  - The DNS name of a service is its name folded to lower case, or the value of the service meta key
    O(dns_name_meta_key). Names that are not valid DNS host names (underscores, more than 63
    characters, a full name over 253 characters) are never published silently - see O(invalid_names).
  - The read is all or nothing - no leader, an unreachable agent or any failed health read makes the
    lookup fail instead of returning a zone with services missing.
  - The records come in one deterministic order, ready for M(geant.consul_dns.zone_file) or a template.
options:
  _terms:
    description: Zone names, for example C(geant.services). Each record returned carries its zone.
    type: list
    elements: str
    required: true
  consul_token:
    description: ACL token with C(service:read) and C(node:read) on what is published. Never logged.
requirements:
  - python-consul2 (or its maintained fork py-consul)
notes:
  - Consul's public API has no single call for the health of every service. A small selection is read with
    one C(/v1/health/service/NAME) call per service, in a small thread pool. When the selection is at least a
    quarter of the catalog and at least 100 services, one C(/v1/internal/ui/nodes) call (the Consul UI's own
    endpoint) returns the same instances and checks; when Consul refuses it (HTTP 403, 404 or 405, for
    example C(http_config.block_endpoints)) or its answer has an unexpected shape, the reads fall back to one
    call per service. Either way the token must be able to read the services and their nodes.
seealso:
  - module: geant.consul_dns.zone_file
extends_documentation_fragment:
  - geant.consul_dns.consul
  - geant.consul_dns.consul.lookup
  - geant.consul_dns.selection
"""

EXAMPLES = r"""
- name: Records of zone geant.services from the local agent
  ansible.builtin.debug:
    msg: "{{ lookup('geant.consul_dns.consul_zone', 'geant.services', wantlist=True) }}"

- name: Only services tagged 'public', through TLS with an ACL token
  ansible.builtin.set_fact:
    zone_records: >-
      {{ lookup('geant.consul_dns.consul_zone', 'geant.services',
                consul_address='https://consul-server01.geant.net:8501',
                ca_path='/etc/consul.d/tls/ca.pem',
                consul_token=vault_consul_dns_token,
                tags=['public'], wantlist=True) }}

- name: Write the zone file from them
  geant.consul_dns.zone_file:
    path: /var/lib/consul_dns/geant.services.zone
    zone: geant.services
    records: "{{ zone_records }}"
    nameservers: [ns1.geant.net.]
    hostmaster: hostmaster@geant.org
"""

RETURN = r"""
_list:
  description: The records, in the collection's deterministic order.
  type: list
  elements: dict
  contains:
    zone:
      description: The zone.
      type: str
      sample: geant.services
    name:
      description: Owner name relative to the zone.
      type: str
      sample: crowd
    fqdn:
      description: Fully qualified owner name, without trailing dot.
      type: str
      sample: crowd.geant.services
    type:
      description: V(A) or V(AAAA).
      type: str
      sample: A
    ttl:
      description: TTL in seconds.
      type: int
      sample: 300
    value:
      description: The address.
      type: str
      sample: 1.1.1.10
"""

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import CONSUL_IMPORT_ERROR, ConsulError
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.options import (
    CONNECTION_OPTIONS,
    reader_from_params,
    selection_from_params,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.zone_read import read_zone
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.names import InvalidDnsName

display = Display()


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if CONSUL_IMPORT_ERROR:
            raise AnsibleLookupError("consul_zone needs the python library python-consul2 (or py-consul) "
                                     "on the controller: %s" % CONSUL_IMPORT_ERROR.strip().splitlines()[-1])
        opt = self.get_option
        try:
            connection = dict((name, opt(name)) for name, _kwarg in CONNECTION_OPTIONS)
            reader = reader_from_params(connection, consistency=opt("consistency"))
            selection = selection_from_params(opt)
            records = []
            for zone in terms:
                result = read_zone(reader, selection, zone, default_ttl=opt("ttl"))
                for warning in result.warnings:
                    display.warning("consul_zone %s: %s" % (result.zone, warning))
                for record in result.record_dicts():
                    record["zone"] = result.zone
                    records.append(record)
        except (ConsulError, InvalidDnsName, ValueError) as exc:
            raise AnsibleLookupError("consul_zone: %s" % to_native(exc))
        return records
