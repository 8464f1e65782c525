#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: consul_api
author: GEANT network services team (@geant)
version_added: 0.2.0
short_description: One call of the Consul HTTP API, the ACL token kept out of the command line and the logs
description:
  - Sends one request to the Consul HTTP API (usually the local agent of the host it runs on) and returns Consul's
    answer - the status, the body parsed as JSON, or the body as text.
  - The ACL token is a C(no_log) module parameter sent as the C(X-Consul-Token) header. Unlike the C(consul) CLI
    with C(CONSUL_HTTP_TOKEN) in a task's C(environment) (which Ansible puts in front of the remote command line,
    visible in C(ps) to every local user and in sudo's log), or M(ansible.builtin.uri) with the header in
    C(headers) (shown in the task's C(invocation) with C(-vvv)), the token appears neither on the host's command
    lines nor in any result.
  - Replaces the token-needing C(consul) CLI calls, for example C(consul leave) (V(PUT) V(/v1/agent/leave)),
    C(consul force-leave -prune NODE) (V(PUT) V(/v1/agent/force-leave/NODE), O(query) with C(prune) set to
    V(1)), C(consul maint -enable -reason R) (V(PUT) V(/v1/agent/maintenance), O(query) with C(enable) set to
    V(true) and C(reason) to R) and C(consul snapshot restore FILE) (V(PUT) V(/v1/snapshot) with
    O(body_file=FILE)); the CLI makes the same calls.
  - Needs no Python library beyond Ansible's own HTTP client (C(ansible.module_utils.urls)), so it runs on the
    Consul nodes themselves.
  - RV(ignore:changed) is V(false) for V(GET) and V(true) for the other methods.
options:
  method:
    description: The HTTP method.
    type: str
    choices: [GET, PUT, POST, DELETE]
    default: GET
  path:
    description:
      - The API path, starting with V(/v1/), without a query string (give it in O(query)); for example
        V(/v1/agent/self).
      - Characters that are not allowed in a URL path are percent-encoded.
    type: str
    required: true
  query:
    description:
      - Query parameters, URL-encoded. V(true) and V(false) are sent as C(true) and C(false); V(null) sends the
        parameter's name alone (C(?prune)), for the flags Consul only looks for.
      - With O(datacenter) and no C(dc) here, C(dc) is added.
    type: dict
  body:
    description:
      - The request body as JSON (C(Content-Type) C(application/json)). A dict or a list is encoded; a string is
        sent as it is (JSON text, or a raw KV value).
      - Mutually exclusive with O(body_file).
    type: json
  body_file:
    description:
      - A file on the managed host whose bytes are the request body (C(Content-Type) C(application/octet-stream)),
        for example a snapshot for V(PUT) V(/v1/snapshot). Read into memory.
      - Not read in check mode (a write is not sent then).
      - Mutually exclusive with O(body).
    type: path
  status_code:
    description: The HTTP statuses that count as success; any other fails the task.
    type: list
    elements: int
    default: [200]
  consul_token:
    description:
      - ACL token for the Consul HTTP API, with the permissions the call needs (Consul's API documentation lists
        them per endpoint; for example C(agent:write) on the node for V(/v1/agent/leave), C(operator:write) for
        V(/v1/agent/force-leave/...), a management token for V(/v1/snapshot)). Never logged.
      - Empty or not given, no token is sent (Consul's anonymous token).
  ca_path:
    description: CA bundle that signed Consul's certificate. An empty string counts as not given.
  client_cert:
    description: Client certificate for Consul's C(verify_incoming). An empty string counts as not given.
  client_key:
    description: Key of O(client_cert). An empty string counts as not given.
notes:
  - The connection options are those of the other Consul plugins. In a play, set them once with C(module_defaults)
    (see the examples); the day-2 playbooks do so from the C(consul) role's fact C(consul_agent_api).
attributes:
  check_mode:
    support: partial
    description: Reads are sent, writes are not.
    details:
      - V(GET) is sent in check mode as in a normal run (reads feed the checks of a C(--check) run).
      - V(PUT), V(POST) and V(DELETE) are not sent (nor O(body_file) read); the module reports
        RV(ignore:changed=true) and says what it would have sent.
  diff_mode:
    support: none
    description: No diff.
  platform:
    support: full
    platforms: posix
    description: Runs on any host that reaches the Consul HTTP API, usually a Consul node (its local agent).
seealso:
  - module: geant.consul_dns.zone_sync_state_info
  - name: Consul HTTP API
    description: The endpoints, their parameters and the ACL permissions each needs.
    link: https://developer.hashicorp.com/consul/api-docs
extends_documentation_fragment:
  - geant.consul_dns.consul
"""

EXAMPLES = r"""
# The connection once per play; the token is a no_log parameter, never an environment variable or a header in a
# task's arguments.
- name: Day-2 work on the Consul agents
  hosts: consul_servers
  module_defaults:
    geant.consul_dns.consul_api:
      consul_address: "{{ consul_agent_api.url }}"
      consul_token: "{{ consul_agent_api.token }}"
      ca_path: "{{ consul_agent_api.ca_path }}"
      client_cert: "{{ consul_agent_api.client_cert }}"
      client_key: "{{ consul_agent_api.client_key }}"
  tasks:
    - name: Load the consul role's settings (fact consul_agent_api)
      ansible.builtin.include_role:
        name: geant.consul_dns.consul
        tasks_from: agent_api

    - name: Read the agent's version
      geant.consul_dns.consul_api:
        path: /v1/agent/self
      register: agent_self

    - name: Wait until autopilot reports the cluster healthy (429 while it is not, with the same JSON)
      geant.consul_dns.consul_api:
        path: /v1/operator/autopilot/health
        status_code: [200, 429]
      register: health
      until: health.json.Healthy | default(false)
      retries: 30
      delay: 2

    - name: Put the node in maintenance (consul maint -enable -reason ...)
      geant.consul_dns.consul_api:
        method: PUT
        path: /v1/agent/maintenance
        query:
          enable: true
          reason: kernel update

    - name: Remove a dead server from raft and the member list (consul force-leave -prune consul-server05)
      geant.consul_dns.consul_api:
        method: PUT
        path: /v1/agent/force-leave/consul-server05
        query:
          prune: 1

    - name: Restore a snapshot (consul snapshot restore FILE)
      geant.consul_dns.consul_api:
        method: PUT
        path: /v1/snapshot
        body_file: /var/lib/consul-snapshots/consul-20260101T030000Z.snap

    - name: Write a KV key (a raw value)
      geant.consul_dns.consul_api:
        method: PUT
        path: /v1/kv/example/key
        body: some value

    - name: Read the KV key (its text in content)
      geant.consul_dns.consul_api:
        path: /v1/kv/example/key
        query:
          raw: null
      register: kv_value
"""

RETURN = r"""
status:
  description: The HTTP status of Consul's answer; V(null) in check mode for a write (not sent), V(-1) when Consul
    could not be reached.
  returned: always
  type: int
  sample: 200
json:
  description:
    - The answer's body parsed as JSON, whatever its C(Content-Type) (Consul 1.8 answers an unhealthy
      C(/v1/operator/autopilot/health) with status 429 and the JSON as C(text/plain)); V(null) when the body is
      empty or not JSON.
  returned: always
  type: raw
  sample: {Healthy: true, FailureTolerance: 1}
content:
  description:
    - The answer's body as text when it is not JSON (for example a raw KV value or an error message), cut to its
      first 64 KiB; V(null) when the body is JSON.
  returned: always
  type: str
  sample: Permission denied
url:
  description: The URL called (the token is a header, never in the URL).
  returned: always
  type: str
  sample: http://127.0.0.1:8500/v1/agent/maintenance?enable=true&reason=kernel+update
msg:
  description: What was done, in words; on failure the method, path, status and Consul's answer.
  returned: always
  type: str
  sample: PUT /v1/agent/leave answered 200
"""

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

METHODS = ("GET", "PUT", "POST", "DELETE")
CONTENT_LIMIT = 65536
# Characters kept as they are in a path: RFC 3986 pchar and "/" ("%" too: a path may be encoded already).
PATH_SAFE = "/%:@!$&'()*+,;=-._~"


def query_string(query):
    """``query`` (a dict) URL-encoded: booleans as true/false, None as the name alone (``prune``)."""
    parts = []
    for name in sorted(query or {}):
        value = query[name]
        if value is None:
            parts.append(quote(to_text(name), safe=""))
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        parts.append(urlencode({to_text(name): to_text(value)}))
    return "&".join(parts)


def api_url(address, path, query=None, datacenter=None):
    """The URL of ``path`` (``/v1/...``) at ``address`` (as the option takes it), with the query string."""
    if not path.startswith("/v1/"):
        raise ValueError("path %r: must start with /v1/" % (path,))
    if "?" in path or "#" in path:
        raise ValueError("path %r: give the query string in the option query, not in the path" % (path,))
    scheme, host, port = parse_address(address)
    query = dict(query or {})
    if datacenter and "dc" not in query:
        query["dc"] = datacenter
    url = "%s://%s:%d%s" % (scheme, host, port, quote(path, safe=PATH_SAFE))
    encoded = query_string(query)
    return url + ("?" + encoded if encoded else "")


def parse_body(raw):
    """``(json, content)`` of an answer's bytes: the parsed JSON, else the text (bounded)."""
    text = to_text(raw or b"", errors="surrogate_then_replace")
    if text.strip():
        try:
            return json.loads(text), None
        except ValueError:
            pass
    return None, text[:CONTENT_LIMIT]


def failure_message(method, path, base, status, status_codes, detail, token):
    """The message of an unexpected answer: method, path, status, Consul's text, and what a 403 means."""
    if status == -1:
        return "%s %s: cannot reach Consul at %s: %s" % (method, path, base, detail)
    msg = "%s %s at %s answered HTTP %s (expected %s)" % (
        method, path, base, status, ", ".join(str(code) for code in status_codes))
    if detail:
        msg += ": %s" % detail
    if status == 403:
        if token:
            msg += " - the ACL token (consul_token) lacks a permission this call needs"
        else:
            msg += " - no ACL token was given (consul_token) and the anonymous token lacks a permission this call needs"
    return msg


def main():
    spec = consul_argument_spec()
    spec.update(
        method=dict(type="str", default="GET", choices=list(METHODS)),
        path=dict(type="str", required=True),
        query=dict(type="dict"),
        body=dict(type="json"),
        body_file=dict(type="path"),
        status_code=dict(type="list", elements="int", default=[200]),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, mutually_exclusive=[("body", "body_file")])
    p = module.params
    # consul_agent_api holds empty strings without TLS or ACLs: the same as not given (fetch_url reads
    # client_cert and client_key from the parameters).
    for name in ("consul_token", "ca_path", "client_cert", "client_key"):
        if not p[name]:
            p[name] = None
    method, path = p["method"], p["path"]
    result = dict(changed=False, status=None, json=None, content=None, url=None)
    try:
        url = api_url(p["consul_address"], path, p["query"], p["datacenter"])
    except ValueError as exc:
        module.fail_json(msg=to_native(exc), **result)
    result["url"] = url
    base = url.split("/v1/")[0]

    if module.check_mode and method != "GET":
        result["changed"] = True
        module.exit_json(msg="%s %s not sent (check mode)" % (method, path), **result)

    headers = {}
    data = None
    if p["consul_token"]:
        headers["X-Consul-Token"] = p["consul_token"]
    if p["body"] is not None:
        data = to_text(p["body"]).encode("utf-8")
        headers["Content-Type"] = "application/json"
    elif p["body_file"] is not None:
        try:
            with open(p["body_file"], "rb") as handle:
                data = handle.read()
        except (IOError, OSError) as exc:
            module.fail_json(msg="%s %s: cannot read body_file %s: %s" % (
                method, path, p["body_file"], to_native(exc.strerror or exc)), **result)
        headers["Content-Type"] = "application/octet-stream"

    response, info = fetch_url(module, url, data=data, headers=headers, method=method, timeout=p["timeout"],
                               ca_path=p["ca_path"])
    status = info.get("status")
    # An HTTP error's body was read by fetch_url already (info["body"]); a success is read here.
    if "body" in info or response is None:
        raw = info.get("body") or b""
    else:
        try:
            raw = response.read()
        finally:
            response.close()
    result["status"] = status
    result["json"], result["content"] = parse_body(raw)

    if status not in p["status_code"]:
        detail = to_native(raw if status != -1 else info.get("msg") or "", errors="surrogate_then_replace")
        if status != -1 and not detail.strip():
            detail = to_native(info.get("msg") or "")
        module.fail_json(msg=failure_message(method, path, base, status, p["status_code"], detail.strip()[:500],
                                             p["consul_token"]), **result)
    result["changed"] = method != "GET"
    module.exit_json(msg="%s %s answered %s" % (method, path, status), **result)


if __name__ == "__main__":
    main()
