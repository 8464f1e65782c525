# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Consul options of the modules and the lookup: argument specs and what is built from them.

- Connection: documented once in the doc fragment ``geant.consul_dns.consul``; :func:`consul_argument_spec`
  is its argument spec. :func:`reader_from_params` and :func:`kv_from_params` build a client from module
  parameters or from the lookup's options (any mapping with the keys of :data:`CONNECTION_OPTIONS`).
- Selection (which services make a zone): doc fragment ``geant.consul_dns.selection``;
  :func:`selection_argument_spec` and :func:`selection_from_params`.

ansible-test validate-modules checks that each fragment and its argument spec agree.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import ConsulReader
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.healthy_instances import ServiceSelection
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.kv import ConsulKV

# option name -> keyword argument of ConsulReader / ConsulKV
CONNECTION_OPTIONS = (
    ("consul_address", "address"),
    ("consul_token", "token"),
    ("datacenter", "datacenter"),
    ("validate_certs", "validate_certs"),
    ("ca_path", "ca_path"),
    ("client_cert", "client_cert"),
    ("client_key", "client_key"),
    ("timeout", "timeout"),
)


def consul_argument_spec():
    """Argument spec of the connection options (a new dict each call: modules add their own options)."""
    return dict(
        consul_address=dict(type="str", default="http://127.0.0.1:8500"),
        consul_token=dict(type="str", no_log=True),
        datacenter=dict(type="str"),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        client_cert=dict(type="path"),
        client_key=dict(type="path", no_log=False),
        timeout=dict(type="float", default=10),
    )


def connection_kwargs(params):
    """The ConsulReader/ConsulKV keyword arguments of the connection options in ``params``."""
    return dict((kwarg, params[option]) for option, kwarg in CONNECTION_OPTIONS)


def reader_from_params(params, **extra):
    """A :class:`ConsulReader` (read-only) for the connection options in ``params``; ``extra``: e.g. consistency."""
    kwargs = connection_kwargs(params)
    kwargs.update(extra)
    return ConsulReader(**kwargs)


def kv_from_params(params, **extra):
    """A :class:`ConsulKV` (reads, KV and sessions) for the connection options in ``params``."""
    kwargs = connection_kwargs(params)
    kwargs.update(extra)
    return ConsulKV(**kwargs)


def selection_argument_spec():
    """Argument spec of the selection options (doc fragment geant.consul_dns.selection)."""
    return dict(
        consistency=dict(type="str", default="default", choices=["default", "consistent", "stale"]),
        services=dict(type="list", elements="str"),
        exclude_services=dict(type="list", elements="str", default=["consul"]),
        tags=dict(type="list", elements="str", default=[]),
        service_meta=dict(type="dict", default={}),
        dns_name_meta_key=dict(type="str", default="dns_name", no_log=False),
        dns_ttl_meta_key=dict(type="str", default="dns_ttl", no_log=False),
        ttl=dict(type="int", default=300),
        invalid_names=dict(type="str", default="fail", choices=["fail", "skip"]),
        warning_is_healthy=dict(type="bool", default=False),
    )


def selection_from_params(params):
    """The :class:`ServiceSelection` of the selection options in ``params`` (a mapping, or the lookup's get_option)."""
    get = params if callable(params) else params.get
    return ServiceSelection(
        services=get("services"), exclude=get("exclude_services"), tags=get("tags"), meta=get("service_meta"),
        dns_name_meta_key=get("dns_name_meta_key"), dns_ttl_meta_key=get("dns_ttl_meta_key"),
        invalid_names=get("invalid_names"), warning_is_healthy=get("warning_is_healthy"))
