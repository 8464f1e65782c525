# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The Infoblox NIOS WAPI connection options, documented once.

    Their argument spec is ``infoblox_argument_spec()`` in ``plugins/module_utils/infoblox/options.py``;
    keep both in step (ansible-test sanity validate-modules compares them).
    """

    DOCUMENTATION = r"""
options:
  server:
    description:
      - Grid master, as a host name or V(https://host[:port]). Plain V(http://) is refused (WAPI sends the
        password with HTTP Basic).
      - Falls back to the environment variable E(INFOBLOX_HOST).
    type: str
    required: true
  username:
    description: WAPI user. Falls back to E(INFOBLOX_USERNAME).
    type: str
    required: true
  password:
    description: Password of O(username). Falls back to E(INFOBLOX_PASSWORD). Never logged.
    type: str
    required: true
  wapi_version:
    description: WAPI version in the URL path.
    type: str
    default: "2.12"
  validate_certs:
    description: Verify the grid master's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: CA bundle that signed the grid master's certificate.
    type: path
  timeout:
    description: Seconds to wait for each WAPI read.
    type: float
    default: 30
  write_timeout:
    description:
      - Seconds to wait for each WAPI write (a C(request) call may hold hundreds of changes).
      - A write that times out is not re-sent; the push reads NIOS again and says what applied.
    type: float
    default: 120
  retries:
    description:
      - Retries of reads (with exponential backoff) after connection faults, timeouts and 5xx answers.
      - Writes are never re-sent blindly; only a write whose connection could not be opened is retried.
    type: int
    default: 3
requirements:
  - requests
"""
