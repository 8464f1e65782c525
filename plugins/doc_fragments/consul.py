# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The Consul connection options, documented once.

    - ``geant.consul_dns.consul``: the options (modules and the lookup). Their argument spec is
      ``consul_argument_spec()`` in ``plugins/module_utils/consul/options.py``; keep both in step
      (ansible-test sanity validate-modules compares them).
    - ``geant.consul_dns.consul.lookup``: in addition, the environment variables the lookup reads
      (the modules read none: they run on targets, where the controller's environment is not theirs).
    The requirement (python-consul2) is each plugin's own: ``zone_sync_state_info`` reads with Ansible's HTTP
    client and does without it.

    A plugin may override an option's description (for example to name the ACL rules its token needs)
    by listing only ``description`` under that option in its own DOCUMENTATION.
    """

    DOCUMENTATION = r"""
options:
  consul_address:
    description:
      - URL of the Consul HTTP API, V(http://host:8500) or V(https://host:8501); V(host:port) means http.
    type: str
    default: http://127.0.0.1:8500
  consul_token:
    description: ACL token for the Consul HTTP API. Never logged.
    type: str
  datacenter:
    description: Consul datacenter to use; default the agent's own.
    type: str
  validate_certs:
    description: Verify Consul's TLS certificate (https only).
    type: bool
    default: true
  ca_path:
    description: CA bundle that signed Consul's certificate.
    type: path
  client_cert:
    description: Client certificate for Consul's C(verify_incoming).
    type: path
  client_key:
    description: Key of O(client_cert).
    type: path
  timeout:
    description: Seconds to wait for each Consul HTTP call.
    type: float
    default: 10
"""

    # Used after the DOCUMENTATION fragment (geant.consul_dns.consul, geant.consul_dns.consul.lookup):
    # adds only the environment variables to the options defined there.
    LOOKUP = r"""
options:
  consul_address:
    env:
      - name: CONSUL_HTTP_ADDR
  consul_token:
    env:
      - name: CONSUL_HTTP_TOKEN
  ca_path:
    env:
      - name: CONSUL_CACERT
  client_cert:
    env:
      - name: CONSUL_CLIENT_CERT
  client_key:
    env:
      - name: CONSUL_CLIENT_KEY
"""
