# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Flap damping (hold-down, grace, RFC 2439 suppression, all-failing policy) and the shrink guard.

    Its argument spec is ``damping_argument_spec()`` in ``plugins/module_utils/damping/options.py``;
    keep both in step (ansible-test sanity validate-modules compares them).
    """

    DOCUMENTATION = r"""
options:
  hold_down:
    description: Seconds a new or recovered address must be healthy before it is published (0 = at once).
    type: float
    default: 60
  grace:
    description: Seconds a published address may be failing before it is withdrawn (0 = at once).
    type: float
    default: 0
  penalty:
    description: Penalty added each time an address falls from healthy to failing or leaves Consul (a flap).
    type: float
    default: 1000
  half_life:
    description: Seconds in which the penalty halves.
    type: float
    default: 900
  suppress_limit:
    description: An address whose penalty exceeds this is suppressed.
    type: float
    default: 2000
  reuse_limit:
    description: A suppressed address is reused once its penalty is below this.
    type: float
    default: 750
  max_suppress:
    description:
      - Longest suppression, in seconds, after the last flap. Must make C(reuse_limit * 2^(max_suppress/half_life))
        exceed O(suppress_limit).
    type: float
    default: 3600
  all_failing:
    description: What happens to a name whose instances are all failing, unless its service meta says otherwise.
    type: str
    choices: [withdraw, keep]
    default: withdraw
  all_failing_meta_key:
    description: Service meta key with a per-service O(all_failing) policy (V(keep) or V(withdraw)).
    type: str
    default: dns_all_failing
  state_prefix:
    description: Consul KV prefix of the damping state; the zone's state is the key PREFIX/ZONE.
    type: str
    default: consul-dns/state
  max_shrink_ratio:
    description: Largest share (0-1) of the last published address records that one run may withdraw.
    type: float
    default: 0.5
  min_records_for_shrink:
    description: The shrink guard applies once the last published zone had at least this many address records.
    type: int
    default: 4
  force:
    description: Publish even when the shrink guard would refuse (with a warning).
    type: bool
    default: false
"""
