# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The damping and shrink-guard options of the modules: argument spec and the objects built from them.

Documented once in the doc fragment ``geant.consul_dns.damping`` (``plugins/doc_fragments/damping.py``);
:func:`damping_argument_spec` is its argument spec (ansible-test validate-modules checks that they agree).
The sync engine takes the same values from the settings schema (``sync/settings.py``) instead.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.geant.consul_dns.plugins.module_utils.damping.decision import ShrinkGuard
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.flap import DampingConfig


def damping_argument_spec():
    """Argument spec of the damping and shrink-guard options (a new dict each call)."""
    return dict(
        hold_down=dict(type="float", default=60),
        grace=dict(type="float", default=0),
        penalty=dict(type="float", default=1000),
        half_life=dict(type="float", default=900),
        suppress_limit=dict(type="float", default=2000),
        reuse_limit=dict(type="float", default=750),
        max_suppress=dict(type="float", default=3600),
        all_failing=dict(type="str", default="withdraw", choices=["withdraw", "keep"]),
        all_failing_meta_key=dict(type="str", default="dns_all_failing", no_log=False),
        state_prefix=dict(type="str", default="consul-dns/state"),
        max_shrink_ratio=dict(type="float", default=0.5),
        min_records_for_shrink=dict(type="int", default=4),
        force=dict(type="bool", default=False),
    )


def damping_config_from_params(params):
    """The :class:`DampingConfig` of the damping options in ``params``."""
    return DampingConfig(hold_down=params["hold_down"], grace=params["grace"], penalty=params["penalty"],
                         half_life=params["half_life"], suppress_limit=params["suppress_limit"],
                         reuse_limit=params["reuse_limit"], max_suppress=params["max_suppress"],
                         all_failing=params["all_failing"])


def shrink_guard_from_params(params):
    """The :class:`ShrinkGuard` of the shrink-guard options in ``params``."""
    return ShrinkGuard(params["max_shrink_ratio"], params["min_records_for_shrink"], params["force"])
