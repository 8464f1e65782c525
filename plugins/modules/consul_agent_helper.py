#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: consul_agent_helper
author: GEANT network services team (@geant)
version_added: 0.2.0
short_description: Run a helper program of the consul role with the ACL token on its stdin
description:
  - Runs one of the programs the C(geant.consul_dns.consul) role installs in C(/usr/local/sbin) - C(consul-restart-wait)
    (C(preflight), C(wait), C(restart)) or C(consul-agent-reload) - with the option C(--token-stdin) added, and
    hands it the Consul ACL token as the first line of its standard input.
  - Run by hand, the helpers read C(CONSUL_HTTP_TOKEN_FILE) or C(CONSUL_HTTP_TOKEN) instead, as the C(consul) CLI
    does.
  - The token is a C(no_log) module parameter. It is not on the host's command lines (as C(CONSUL_HTTP_TOKEN) in a
    task's C(environment) would be, which Ansible puts in front of the remote command) and not in the task's
    C(invocation) or results (as a C(stdin) argument of M(ansible.builtin.command) would be, which forces the whole
    task to C(no_log) and hides the helper's error with it). The helper's output stays visible.
  - A helper that exits non-zero fails the task with the helper's standard error (which never holds the token) as the
    message, prefixed with O(error_prefix).
  - Not for the ACL helper C(consul-acl-ensure), whose output holds token secrets.
options:
  argv:
    description:
      - The helper and its arguments; C(--token-stdin) is added at the end (both helpers take it after their
        other options).
      - The consul role's variables C(_consul_preflight_argv), C(_consul_wait_argv) and C(_consul_restart_argv) hold
        the argument lists it uses.
    type: list
    elements: str
    required: true
  consul_token:
    description:
      - The ACL token, given to the helper as the first line of its stdin. Never logged.
      - Empty, the helper gets an empty line and sends no token.
    type: str
    default: ""
  changed:
    description: Whether a successful run reports RV(ignore:changed) (a restart or a reload changes the agent).
    type: bool
    default: false
  error_prefix:
    description:
      - Put in front of the helper's standard error in the failure message, followed by a colon.
      - Empty, the message is the helper's standard error alone (the pre-flight's already names the node).
    type: str
    default: ""
attributes:
  check_mode:
    support: none
    description:
      - Skipped in check mode. A task that only reads (the pre-flight) sets C(check_mode) to V(false) to run in a
        C(--check) run too.
  diff_mode:
    support: none
    description: No diff.
  platform:
    support: full
    platforms: posix
    description: Runs on a host where the C(geant.consul_dns.consul) role installed its helpers.
seealso:
  - module: geant.consul_dns.consul_api
  - name: The consul role's restart and reload flow
    description: What the helpers check and wait for.
    link: https://github.com/geant/consul_dns/blob/main/roles/consul/README.md
"""

EXAMPLES = r"""
- name: Pre-flight checks of the agent, in --check too
  geant.consul_dns.consul_agent_helper:
    argv: [/usr/local/sbin/consul-restart-wait, preflight, --url, "http://127.0.0.1:8500", --node, "{{ inventory_hostname_short }}"]
    consul_token: "{{ consul_api_token }}"
  check_mode: false
  register: preflight

- name: The agent's state, as the pre-flight printed it
  ansible.builtin.debug:
    msg: "{{ preflight.json.version }}"

- name: consul reload, which fails when Consul refuses the new configuration
  geant.consul_dns.consul_agent_helper:
    argv: [/usr/local/sbin/consul-agent-reload]
    consul_token: "{{ consul_api_token }}"
    changed: true
    error_prefix: "consul reload of {{ inventory_hostname_short }}"
"""

RETURN = r"""
rc:
  description: The helper's exit status.
  returned: always
  type: int
  sample: 0
stdout:
  description: The helper's standard output.
  returned: always
  type: str
stderr:
  description: The helper's standard error.
  returned: always
  type: str
json:
  description: The standard output parsed as JSON, V(null) when it is not JSON (the pre-flight prints the agent's state).
  returned: always
  type: raw
  sample: {"running": true, "version": "1.8.7"}
cmd:
  description: The command run (with C(--token-stdin); the token is not in it).
  returned: always
  type: list
  elements: str
"""

import json

from ansible.module_utils.basic import AnsibleModule


def helper_command(argv):
    """``argv`` with ``--token-stdin`` at the end (an option of every helper subcommand)."""
    return list(argv) + ["--token-stdin"]


def failure_message(prefix, rc, stderr):
    """What a failed helper run reports: its stderr, after ``prefix``; the exit status when stderr is empty."""
    detail = (stderr or "").strip() or "exited with status %d and printed nothing on stderr" % rc
    return "%s: %s" % (prefix, detail) if prefix else detail


def main():
    module = AnsibleModule(
        argument_spec=dict(
            argv=dict(type="list", elements="str", required=True),
            consul_token=dict(type="str", default="", no_log=True),
            changed=dict(type="bool", default=False),
            error_prefix=dict(type="str", default=""),
        ),
        supports_check_mode=False,
    )
    p = module.params
    if not p["argv"]:
        module.fail_json(msg="argv is empty: give the helper and its arguments")
    cmd = helper_command(p["argv"])
    # Always a line, also without a token: the helper reads one line, and an unpiped stdin could block it.
    try:
        rc, stdout, stderr = module.run_command(cmd, data=(p["consul_token"] or "") + "\n", binary_data=True,
                                                handle_exceptions=False)
    except (OSError, IOError) as exc:
        # A missing or non-executable helper: the consul role did not install it on this host.
        module.fail_json(msg=failure_message(p["error_prefix"], 127, "cannot run %s: %s" % (
            cmd[0], exc.strerror or exc)), rc=127, stdout="", stderr="", json=None, cmd=cmd)
    try:
        parsed = json.loads(stdout) if stdout.strip() else None
    except ValueError:
        parsed = None
    result = dict(rc=rc, stdout=stdout, stderr=stderr, json=parsed, cmd=cmd)
    if rc != 0:
        module.fail_json(msg=failure_message(p["error_prefix"], rc, stderr), **result)
    module.exit_json(changed=p["changed"], **result)


if __name__ == "__main__":
    main()
