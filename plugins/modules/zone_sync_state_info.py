#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: zone_sync_state_info
author: GEANT network services team (@geant)
version_added: 0.2.0
short_description: Read what the zone sync publishes for a zone, from its flap damping state in Consul KV
description:
  - Reads the flap damping state of one zone that the zone sync keeps in Consul KV under C(STATE_PREFIX/ZONE)
    (plain JSON, or compressed as C(zlib+base64) for large zones; see C(docs/zone_sync.md), "The state in Consul
    KV") and returns the addresses the zone sync publishes, per name.
  - The zone sync saves the state only after it published the zone (zone file, Infoblox), so an address that the
    state no longer publishes is no longer in the published zone.
  - With O(addresses), also returns which published entries carry one of those addresses - for example those of a
    node about to be decommissioned (playbook C(geant.consul_dns.consul_client_decommission) waits until there are
    none).
  - Runs anywhere with Python 3 and the Consul HTTP API in reach; it needs no Python library beyond Ansible's own
    (one HTTP GET through the agent), so it runs on the Consul nodes themselves.
  - Only reads; never reports RV(ignore:changed).
options:
  zone:
    description: The zone, as the zone sync names it (its C(name) in C(consul_dns_zones)).
    type: str
    required: true
  state_prefix:
    description: Consul KV prefix of the damping state (the zone sync's C(consul_dns_state_prefix)); the key is PREFIX/ZONE.
    type: str
    default: consul-dns/state
  addresses:
    description:
      - IP addresses (IPv4 or IPv6) to look for among the published ones; RV(published_addresses) lists the entries
        that carry one of them. Compared as addresses, so V(2001:db8::1) matches V(2001:DB8:0::1).
    type: list
    elements: str
  consul_token:
    description: ACL token for the Consul HTTP API, with C(key:read) on the state key. Never logged.
notes:
  - The connection options are those of the other Consul plugins, but this module reads Consul with Ansible's own
    HTTP client (C(ansible.module_utils.urls)), so it needs neither C(python-consul2) nor C(requests).
attributes:
  check_mode:
    support: full
    description: It only reads; the same in check mode.
  diff_mode:
    support: none
    description: No diff.
  platform:
    support: full
    platforms: posix
    description: Runs on any host that reaches the Consul HTTP API, a Consul node (its local agent) or the controller.
seealso:
  - module: geant.consul_dns.consul_zone_records
  - name: The damping state in Consul KV
    description: Its format, when it is written, how to start over.
    link: https://github.com/geant/consul_dns/blob/main/docs/zone_sync.md#the-state-in-consul-kv
extends_documentation_fragment:
  - geant.consul_dns.consul
"""

EXAMPLES = r"""
- name: What the zone sync publishes in geant.services
  geant.consul_dns.zone_sync_state_info:
    zone: geant.services
  register: zone_state

- name: Wait until no published record of geant.services carries this node's addresses
  geant.consul_dns.zone_sync_state_info:
    zone: geant.services
    addresses: [1.1.1.11, "2001:db8::11"]
    consul_address: "{{ consul_agent_api.url }}"
    consul_token: "{{ consul_agent_api.token }}"
    ca_path: "{{ consul_agent_api.ca_path or omit }}"
    client_cert: "{{ consul_agent_api.client_cert or omit }}"
    client_key: "{{ consul_agent_api.client_key or omit }}"
  register: node_state
  until: node_state.published_addresses == []
  retries: 120
  delay: 5
"""

RETURN = r"""
exists:
  description: Whether the key holds a state. V(false) before the zone's first sync (or after the key was deleted).
  returned: always
  type: bool
  sample: true
key:
  description: The state's Consul KV key.
  returned: always
  type: str
  sample: consul-dns/state/geant.services
published:
  description: The published addresses of each name of the zone (sorted); V({}) when there is no state.
  returned: always
  type: dict
  sample: {crowd: [1.1.1.10, 1.1.1.11]}
published_addresses:
  description: The published entries (C(name/address), sorted) that carry one of O(addresses).
  returned: when O(addresses) is given
  type: list
  elements: str
  sample: [crowd/1.1.1.11]
updated_at:
  description: When the state was last written (UNIX time); V(null) when there is no state or it does not say.
  returned: always
  type: int
  sample: 1764064800
updated_by:
  description: Who wrote the state last (C(user@host pid N)); V(null) when there is no state or it does not say.
  returned: always
  type: str
  sample: consul-dns@consul-server01 pid 4711
msg:
  description: What was read, in words.
  returned: always
  type: str
  sample: consul-dns/state/geant.services publishes 2 addresses under 1 names; 1 of them carry 1.1.1.11
"""

import base64
import ipaddress
import json

try:
    from urllib.parse import quote, urlencode
except ImportError:  # pragma: no cover - Python 2 is not supported, kept for sanity's import test
    from urllib import quote, urlencode

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.urls import fetch_url

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import parse_address
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.options import consul_argument_spec
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.flap import (
    address_key,
    published_from_state,
    valid_state,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.state_store import StateStore, state_from_text
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.names import normalize_zone


def state_key(prefix, zone):
    """The KV key of a zone's state: the zone normalized as the sync does (ValueError when it is no DNS name)."""
    return StateStore.key_for(prefix, normalize_zone(zone))


def kv_url(address, key, datacenter=None):
    """The agent's URL of one KV key (``address`` as the option takes it)."""
    scheme, host, port = parse_address(address)
    url = "%s://%s:%d/v1/kv/%s" % (scheme, host, port, quote(key, safe="/"))
    if datacenter:
        url += "?" + urlencode({"dc": datacenter})
    return url


def _ip(address):
    return ipaddress.ip_address(to_text(address).strip())


def published_with(published, addresses):
    """The entries ``name/address`` of ``published`` ({name: [addresses]}) that carry one of ``addresses`` (sorted).

    Compared as IP addresses; a published address that is not one (never written by the zone sync) is compared as text.
    """
    wanted = set()
    for address in addresses:
        wanted.add(_ip(address))
    found = []
    for name, published_addresses in published.items():
        for address in published_addresses:
            try:
                match = _ip(address) in wanted
            except ValueError:
                match = address in addresses
            if match:
                found.append(address_key(name, address))
    return sorted(found)


def value_of(body):
    """The text value of a Consul KV GET answer (``[{"Key", "Value": base64, ...}]``); None when empty."""
    entries = json.loads(body)
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        raise ValueError("unexpected answer from Consul: %r" % (body[:200],))
    value = entries[0].get("Value")
    if value is None:
        return None
    return base64.b64decode(value).decode("utf-8")


def read_value(module, key, url, token, ca_path, timeout, result):
    """``(exists, body)`` of ``key`` at ``url``; fail_json on any error but a 404 (no key)."""
    headers = {"X-Consul-Token": token} if token else {}
    response, info = fetch_url(module, url, headers=headers, method="GET", timeout=timeout, ca_path=ca_path)
    status = info.get("status")
    if status == 404:
        return False, None
    if status != 200:
        detail = info.get("body") or info.get("msg") or ""
        module.fail_json(msg="cannot read the zone sync state at Consul key %s from %s: HTTP %s %s" % (
            key, url.split("/v1/")[0], status, to_native(detail).strip()[:500]), **result)
    return True, response.read()


def main():
    spec = consul_argument_spec()
    spec.update(
        zone=dict(type="str", required=True),
        state_prefix=dict(type="str", default="consul-dns/state"),
        addresses=dict(type="list", elements="str"),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    try:
        key = state_key(p["state_prefix"], p["zone"])
    except ValueError as exc:
        module.fail_json(msg="zone %r: %s" % (p["zone"], exc), changed=False)
    result = dict(changed=False, key=key, exists=False, published={}, updated_at=None, updated_by=None)
    addresses = p["addresses"]
    if addresses is not None:
        bad = []
        for address in addresses:
            try:
                _ip(address)
            except ValueError:
                bad.append(address)
        if bad:
            module.fail_json(msg="addresses: not IP addresses: %s" % ", ".join(bad), **result)
    try:
        url = kv_url(p["consul_address"], key, p["datacenter"])
    except ValueError as exc:
        module.fail_json(msg=to_native(exc), **result)

    exists, body = read_value(module, key, url, p["consul_token"], p["ca_path"], p["timeout"], result)
    if exists:
        try:
            text = value_of(to_text(body, errors="surrogate_or_strict"))
            if text is None:
                raise ValueError("the key is empty")
            state = valid_state(state_from_text(text))
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            module.fail_json(msg="the zone sync state at Consul key %s is unreadable: %s" % (key, to_native(exc)),
                             **result)
        result.update(exists=True, published=published_from_state(state),
                      updated_at=state.get("updated_at"), updated_by=state.get("updated_by"))
        count = sum(len(found) for found in result["published"].values())
        msg = "%s publishes %d addresses under %d names" % (key, count, len(result["published"]))
    else:
        msg = "no zone sync state at %s (the zone was never synced, or the key was deleted)" % key
    if addresses is not None:
        result["published_addresses"] = published_with(result["published"], addresses)
        msg += "; %d of them carry %s" % (len(result["published_addresses"]), ", ".join(addresses))
    module.exit_json(msg=msg, **result)


if __name__ == "__main__":
    main()
