# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health of many services from one read of ``/v1/internal/ui/nodes`` (pure functions, no I/O).

Consul has no public call for the health of every service: the public way is one
``/v1/health/service/<name>`` per service (N+1 reads; ~3 s and ~3 s of Consul CPU for 2,500 services
on a 2-core machine). The web UI's node list, ``/v1/internal/ui/nodes``, returns every node with its
services and all its checks in one answer, which holds everything a health entry holds:

- ``Node``: the node's ID, Node, Address, TaggedAddresses and Meta (a health entry also carries
  Datacenter, CreateIndex and ModifyIndex, which nothing in this collection reads);
- ``Service``: the same service record (Address override, Port, Tags, Meta ...), services without
  checks included; Consul 1.8.7 sends ``Tags: null`` here where the health read sends ``[]``;
- ``Checks``: the node's checks (``serfHealth``, node maintenance) then the service's own checks
  (service maintenance included), in the health read's order.

ACLs (measured on Consul 1.8.7): both reads drop an instance unless the token may read its node and
its service, and keep every node check of a readable node, so they return the same instances.

Without a leader this endpoint answers anyway, from any server's state with ``X-Consul-KnownLeader:
false``, where a health read fails with "No cluster leader": the caller refuses such an answer unless
stale reads were asked for.

The endpoint is the UI's own: no compatibility promise. The answer's shape is checked here and the
caller falls back to the public per-service reads when it is refused or not what is expected.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

NODE_DUMP_PATH = "/v1/internal/ui/nodes"

# Answers that mean "this agent does not offer the bulk read to us": no such endpoint (404), another
# method expected (405), refused by an ACL or a proxy in front of Consul (403). The public reads decide.
BULK_REFUSED_STATUSES = (403, 404, 405)

# The bulk read downloads the whole datacenter: for 10,000 instances of 2,500 services, 14 MB and about
# 0.4 s of Consul CPU and 0.4 s of ours, whatever the selection. One health read costs Consul about
# 1.0 ms of CPU and us about 2 ms. Measured break-even on Consul CPU: a sixth of the catalog's
# services (consul-and-dns-facts.md); from a quarter on, the bulk read is cheaper for Consul too.
# Below that share a small zone in a large datacenter reads its services one by one.
BULK_MIN_SHARE = 0.25
# ... and never for fewer services than this: their per-service reads take about 0.1 s, not worth
# depending on an internal endpoint for (and small test beds keep the public reads).
BULK_MIN_SERVICES = 100


class UnexpectedShape(ValueError):
    """The node dump is not shaped as Consul 1.8 sends it: do not trust it."""


def use_bulk_read(selected, catalog_size):
    """Whether ``selected`` services of a catalog of ``catalog_size`` are worth one bulk read.

    ``catalog_size`` None (the catalog was not read through this reader): the size of the download
    is unknown, so no bulk read.
    """
    if not catalog_size:
        return False
    return selected >= BULK_MIN_SERVICES and selected >= BULK_MIN_SHARE * catalog_size


def _require(condition, what):
    if not condition:
        raise UnexpectedShape(what)


def _node_parts(node):
    """``(node without its lists, node checks, {service ID: its checks})`` of one dump entry, checked."""
    node_part = dict(node)
    del node_part["Services"], node_part["Checks"]
    node_checks, service_checks = [], {}
    for check in node["Checks"]:
        _require(isinstance(check, dict) and isinstance(check.get("CheckID"), str)
                 and isinstance(check.get("Status"), str), "a check of node %s without CheckID or Status"
                 % node["Node"])
        service_id = check.get("ServiceID") or ""
        _require(isinstance(service_id, str), "a check of node %s with a ServiceID that is not text" % node["Node"])
        if check.get("ServiceTags") is None:
            check["ServiceTags"] = []  # as the health read sends it
        if service_id:
            service_checks.setdefault(service_id, []).append(check)
        else:
            node_checks.append(check)
    return node_part, node_checks, service_checks


def health_from_node_dump(dump, names):
    """``({name: health entries}, [names to read one by one])`` from a node dump, for ``names``.

    The entries are what ``/v1/health/service/<name>`` returns for each name (see the module
    docstring), in the same order: nodes by name, a node's services by ID. Like that read, a name
    matches services case-insensitively. A name with no instance in the dump is left for a
    per-service read: a service registered after the dump, or any case where the dump and the public
    read disagree, is then answered by the public read itself. Raises :class:`UnexpectedShape` (the
    nodes that hold a wanted service are checked in full; 10,000 nodes take ~0.1 s here).
    """
    _require(isinstance(dump, list), "not a list of nodes")
    wanted = {}
    for name in set(names):
        wanted.setdefault(name.lower(), []).append(name)
    health = dict((name, []) for name in names)
    for node in dump:
        _require(isinstance(node, dict) and isinstance(node.get("Node"), str) and isinstance(node.get("Address"), str)
                 and isinstance(node.get("Services"), list) and isinstance(node.get("Checks"), list),
                 "a node without Node, Address, Services or Checks")
        parts = None
        for service in node["Services"]:
            _require(isinstance(service, dict) and isinstance(service.get("ID"), str)
                     and isinstance(service.get("Service"), str), "a service of node %s without ID or Service"
                     % node["Node"])
            targets = wanted.get(service["Service"].lower())
            if not targets:
                continue
            if parts is None:
                parts = _node_parts(node)
            if service.get("Tags") is None:
                service["Tags"] = []  # as the health read sends it
            entry = {"Node": parts[0], "Service": service, "Checks": parts[1] + parts[2].get(service["ID"], [])}
            for name in targets:
                health[name].append(entry)
    missing = [name for name in names if not health[name]]
    return health, missing
