# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Infoblox WAPI connection options of the modules: argument spec and client construction.

Documented once in the doc fragment ``geant.consul_dns.infoblox`` (``plugins/doc_fragments/infoblox.py``);
:func:`infoblox_argument_spec` is its argument spec (ansible-test validate-modules checks that they
agree). The sync engine takes the same values from the settings schema (``consul_dns_infoblox_*``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import env_fallback

from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.wapi import WapiClient


def infoblox_argument_spec():
    """Argument spec of the WAPI connection options (a new dict each call: modules add their own)."""
    return dict(
        server=dict(type="str", required=True, fallback=(env_fallback, ["INFOBLOX_HOST"])),
        username=dict(type="str", required=True, fallback=(env_fallback, ["INFOBLOX_USERNAME"])),
        password=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["INFOBLOX_PASSWORD"])),
        wapi_version=dict(type="str", default="2.12"),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        timeout=dict(type="float", default=30),
        write_timeout=dict(type="float", default=120),
        retries=dict(type="int", default=3),
    )


def wapi_client_from_params(params):
    """A :class:`WapiClient` for the connection options in ``params``."""
    return WapiClient(params["server"], params["username"], params["password"],
                      wapi_version=params["wapi_version"], validate_certs=params["validate_certs"],
                      ca_path=params["ca_path"], timeout=params["timeout"], retries=params["retries"],
                      write_timeout=params["write_timeout"])
