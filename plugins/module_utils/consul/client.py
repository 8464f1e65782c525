# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one adapter between the collection and the Python Consul client library.

Works with ``python-consul2`` (the named dependency) and with its maintained fork ``py-consul``:
both install the module ``consul`` and differ in details this adapter hides:

- both let the environment (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_HTTP_SSL_VERIFY) override
  the arguments given to ``consul.Consul``; here explicit options always win, so the HTTP client and
  the token are set again after construction (callers read the environment themselves, if at all);
- the request timeout is ``timeout`` on python-consul2's HTTP client and ``connections_timeout`` on
  py-consul's.

Errors come out as :class:`ConsulUnavailable` (cannot reach Consul, no leader, timeouts) or
:class:`ConsulError` (Consul answered with an error, e.g. ACL denied), with the address in the
message and never the token.

The health reads send the datacenter, the consistency mode and the token themselves: both libraries'
``health.service`` ignore the client's consistency mode, which the ``consistency`` option promises.
Many services are read in one call of the UI's node list when that is worth it (``node_dump.py``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported, kept for sanity's import test
    from urlparse import urlsplit

from ansible_collections.geant.consul_dns.plugins.module_utils.heap import PausedGc
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.node_dump import (
    BULK_REFUSED_STATUSES,
    NODE_DUMP_PATH,
    UnexpectedShape,
    health_from_node_dump,
    use_bulk_read,
)

CONSUL_IMPORT_ERROR = None
try:
    import consul
    import requests
    try:
        from consul.callback import CB  # py-consul
    except ImportError:
        from consul.base import CB  # python-consul2
except ImportError:
    consul = None
    requests = None
    CONSUL_IMPORT_ERROR = traceback.format_exc()

HAS_CONSUL = CONSUL_IMPORT_ERROR is None


class ConsulError(Exception):
    """Consul answered, but with an error."""


class ConsulUnavailable(ConsulError):
    """Consul could not be read reliably (unreachable, timed out, or without a leader)."""


def library_name():
    """'py-consul' or 'python-consul2' (which distribution provides the ``consul`` module)."""
    if consul is None:
        return None
    # py-consul moved the API classes to consul.api; python-consul2 keeps them in consul.base.
    return "py-consul" if hasattr(consul, "api") or _has_submodule("consul.api") else "python-consul2"


def _has_submodule(name):
    try:
        __import__(name)
        return True
    except ImportError:
        return False


def parse_address(address):
    """``http://host:8500`` / ``https://host`` / ``host:8500`` / ``host`` -> (scheme, host, port)."""
    if "//" not in address:
        address = "http://" + address
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("invalid Consul address %r: expected http(s)://host[:port]" % address)
    port = parts.port or (8501 if parts.scheme == "https" else 8500)
    host = parts.hostname
    if ":" in host:  # IPv6 literal needs its brackets back in the URL
        host = "[%s]" % host
    return parts.scheme, host, port


def _memoize_environment(session):
    """Look requests' environment settings up once per scheme and host, not on every call.

    With ``trust_env`` (the default) requests scans the whole environment for proxy and CA-bundle
    variables on every request: about a third of the CPU of one small health read, which adds up
    over N reads. The environment does not change during a read, so the result is the same; what
    the caller passes (proxies, verify, cert) is part of the key.
    """
    merge = session.merge_environment_settings
    cache = {}

    def merge_environment_settings(url, proxies, stream, verify, cert):
        parts = urlsplit(url)
        try:
            key = (parts.scheme, parts.netloc, tuple(sorted((proxies or {}).items())), stream, verify, cert)
            settings = cache.get(key)
        except TypeError:  # something unhashable: no caching
            return merge(url, proxies, stream, verify, cert)
        if settings is None:
            settings = cache[key] = merge(url, dict(proxies or {}), stream, verify, cert)
        return dict(settings, proxies=dict(settings["proxies"] or {}))

    session.merge_environment_settings = merge_environment_settings


def is_loopback(host):
    """Whether ``host`` (as :func:`parse_address` returns it) is this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name
        return False


def _node_dump_answer(response):
    """``(status, X-Consul-KnownLeader, body)``; an error other than a refusal raised as the libraries do."""
    if response.code >= 400 and response.code not in BULK_REFUSED_STATUSES:
        raise consul.ConsulException("%d %s" % (response.code, response.body))
    return response.code, response.headers.get("X-Consul-KnownLeader"), response.body


class ConsulReader(object):
    """Read-only view of one Consul datacenter through one agent."""

    def __init__(self, address="http://127.0.0.1:8500", token=None, datacenter=None,
                 validate_certs=True, ca_path=None, client_cert=None, client_key=None,
                 timeout=10, consistency="default", max_workers=8):
        if not HAS_CONSUL:
            raise ConsulError("the python library 'python-consul2' (or 'py-consul') is required")
        self.scheme, self.host, self.port = parse_address(address)
        self.address = "%s://%s:%d" % (self.scheme, self.host, self.port)
        verify = (ca_path or True) if validate_certs else False
        cert = (client_cert, client_key) if client_cert and client_key else client_cert
        self.max_workers = max(1, int(max_workers))
        self.consistency = consistency
        self.client = consul.Consul(host=self.host, port=self.port, token=token, scheme=self.scheme,
                                    consistency=consistency, dc=datacenter, verify=verify, cert=cert)
        # Explicit options win over CONSUL_HTTP_* environment variables (see module docstring).
        self.client.http = self.client.http_connect(self.host, self.port, self.scheme, verify, cert)
        if hasattr(self.client.http, "connections_timeout"):  # py-consul ('timeout' is a method there)
            self.client.http.connections_timeout = timeout
        else:  # python-consul2
            self.client.http.timeout = timeout
        self.client.token = token
        self.client.dc = datacenter
        session = getattr(self.client.http, "session", None)
        if session is not None and hasattr(session, "merge_environment_settings"):
            _memoize_environment(session)
        self.http_calls = 0
        self._calls_lock = threading.Lock()  # health reads run in threads
        self.catalog_size = None  # services in the last catalog read: how much a bulk read would download
        self.bulk_refused = None  # why this reader no longer tries the bulk read (refused, unexpected answer)
        self.read_path = None     # how the last health_of read, for logs and the benchmark
        # Consul gzips its answers when asked (requests asks by default): on loopback that only costs
        # CPU on both sides, about a third of Consul's CPU for the 14 MB node dump of 10,000 instances.
        self.read_headers = {"Accept-Encoding": "identity"} if is_loopback(self.host) else {}

    def _call(self, what, func, *args, **kwargs):
        with self._calls_lock:
            self.http_calls += 1
        try:
            return func(*args, **kwargs)
        except requests.exceptions.Timeout as exc:
            raise ConsulUnavailable("Consul at %s timed out reading %s: %s" % (self.address, what, exc))
        except requests.exceptions.RequestException as exc:
            raise ConsulUnavailable("cannot reach Consul at %s (reading %s): %s" % (self.address, what, exc))
        except consul.ACLPermissionDenied as exc:
            raise ConsulError("Consul at %s denied reading %s (ACL token lacks permission): %s"
                              % (self.address, what, exc))
        except consul.ConsulException as exc:
            text = str(exc)
            if "No cluster leader" in text or "rpc error" in text.lower():
                raise ConsulUnavailable("Consul at %s has no usable leader (reading %s): %s"
                                        % (self.address, what, text))
            raise ConsulError("Consul at %s failed on %s: %s" % (self.address, what, text))

    def leader(self):
        """Address of the Raft leader; raise ConsulUnavailable when the cluster has none."""
        leader = self._call("the leader", self.client.status.leader)
        if not leader:
            raise ConsulUnavailable("Consul at %s reports no cluster leader" % self.address)
        return leader

    def services(self):
        """``{service name: [tags of all instances]}`` from the catalog."""
        _index, services = self._call("the service catalog", self.client.catalog.services)
        self.catalog_size = len(services or {})
        return services or {}

    def _read(self, what, path, callback):
        """GET ``path`` with this reader's datacenter, consistency mode and token (as the library would)."""
        params = [("dc", self.client.dc)] if self.client.dc else []
        if self.consistency in ("stale", "consistent"):
            params.append((self.consistency, "1"))
        headers = dict(self.read_headers)
        if self.client.token:
            headers["X-Consul-Token"] = self.client.token
        return self._call(what, self.client.http.get, callback, path, params=params, headers=headers)

    def service_health(self, name):
        """Raw ``/v1/health/service/<name>`` entries: one per instance, with Node, Service and Checks."""
        _index, entries = self._read("health of service %s" % name, "/v1/health/service/%s" % name,
                                     CB.json(index=True))
        return entries or []

    # --- blocking queries (see consul_watch.py): index 0 asks for the current state at once ---
    def watch_checks(self, index, wait):
        """``(index, every check in the datacenter)`` from ``/v1/health/state/any``, blocking on ``index``."""
        return self._call("all checks (blocking)", self.client.health.state, "any", index=index or None,
                          wait="%ds" % wait)

    def watch_services(self, index, wait):
        """``(index, {service: tags})`` from ``/v1/catalog/services``, blocking on ``index``."""
        return self._call("the service catalog (blocking)", self.client.catalog.services, index=index or None,
                          wait="%ds" % wait)

    def health_of(self, names):
        """``{name: entries}`` for many services; any failed read fails it all.

        One bulk read (``node_dump.py``) when enough of the catalog is selected (``use_bulk_read``;
        the catalog's size is that of this reader's last :meth:`services`), else, or when the bulk
        read is refused or its answer is not as expected, one public health read per service.
        """
        names = list(names)
        if not names:
            return {}
        if self.bulk_refused is None and use_bulk_read(len(names), self.catalog_size):
            health = self._bulk_health(names)
            if health is not None:
                return health
        self.read_path = "per-service" + (" (bulk read off: %s)" % self.bulk_refused if self.bulk_refused else "")
        return self._health_one_by_one(names)

    def _health_one_by_one(self, names):
        """Consul's public way, N reads: a small thread pool keeps a large catalog fast."""
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(names))) as pool:
            results = list(pool.map(self.service_health, names))
        return dict(zip(names, results))

    def _bulk_health(self, names):
        """``{name: entries}`` from one node dump; None (and the bulk read off for this reader) when
        Consul refuses it or answers something unexpected."""
        status, known_leader, body = self._read("every node's services and checks", NODE_DUMP_PATH,
                                                _node_dump_answer)
        if status in BULK_REFUSED_STATUSES:
            self.bulk_refused = "%s answered HTTP %d" % (NODE_DUMP_PATH, status)
            return None
        # Without a leader this endpoint retries as a stale read by itself, where a health read fails.
        if known_leader == "false" and self.consistency != "stale":
            raise ConsulUnavailable("Consul at %s has no known leader (reading every node's services and checks)"
                                    % self.address)
        try:
            # About a million objects, none in a cycle: the collector would take half the decoding time.
            with PausedGc():
                health, missing = health_from_node_dump(json.loads(body), names)
        except (UnexpectedShape, ValueError) as exc:  # ValueError: not JSON
            self.bulk_refused = "unexpected answer from %s: %s" % (NODE_DUMP_PATH, str(exc)[:200])
            return None
        if missing:  # registered after the catalog read, or unreadable: the public read answers
            health.update(self._health_one_by_one(missing))
        self.read_path = "bulk %s" % NODE_DUMP_PATH + (" + %d per-service" % len(missing) if missing else "")
        return health
