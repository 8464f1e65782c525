# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Which Consul services and instances make a zone, and how their names and TTLs are chosen.

    Shared by the lookup ``consul_zone`` and the module ``consul_zone_records``. Its argument spec is
    ``selection_argument_spec()`` in ``plugins/module_utils/consul/options.py``; keep both in step
    (ansible-test sanity validate-modules compares them for the modules).
    """

    DOCUMENTATION = r"""
options:
  consistency:
    description:
      - Consul read consistency mode of the health reads. V(stale) lets any server answer (still refused
        without a leader).
    type: str
    choices: [default, consistent, stale]
    default: default
  services:
    description: Only these services are published. Default all services.
    type: list
    elements: str
  exclude_services:
    description: Services never published.
    type: list
    elements: str
    default: [consul]
  tags:
    description: An instance is published only when it carries all these tags.
    type: list
    elements: str
    default: []
  service_meta:
    description: An instance is published only when its service meta has each of these key/value pairs.
    type: dict
    default: {}
  dns_name_meta_key:
    description: Service meta key whose value, when set, is the DNS name of the service instead of its name.
    type: str
    default: dns_name
  dns_ttl_meta_key:
    description: Service meta key whose value, when set, is the TTL of the service's records.
    type: str
    default: dns_ttl
  ttl:
    description: TTL of the records of services without a TTL of their own.
    type: int
    default: 300
  invalid_names:
    description:
      - What to do with a service whose DNS name is invalid (underscores, a label over 63 characters, a full
        name over 253).
      - V(fail) stops with an error naming the service; V(skip) leaves it out with a warning.
    type: str
    choices: [fail, skip]
    default: fail
  warning_is_healthy:
    description: Count instances with checks in C(warning) as healthy (published).
    type: bool
    default: false
"""
