"""A per-writer tap in front of the WAPI simulator: who sent which WAPI call, when.

The simulator's request log says what was asked, not by whom nor when. Each writer of the soak (the two
watch services, the timer's playbook runs) gets its own tap, an HTTPS server on 127.0.0.1 with the
simulator's own certificate (same CA, so the product's ``consul_dns_infoblox_ca_path`` is unchanged),
which forwards every call to the simulator as it is and records (writer, start, end, method, kind,
status). Nothing is changed on the way: the simulator's faults (5xx, 401, latency, dropped connections)
reach the writer as they are; a dropped connection upstream is a dropped connection downstream.

A tap can also be armed to kill its writer at its next write (``arm_kill``): before the write reaches
the simulator, or after the simulator applied it and before the answer goes back - a kill -9 in the
middle of a push.
"""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from tests.wapi_simulator.server import WapiHandler
from tests.wapi_simulator.tls import server_context

FORWARD_REQUEST_HEADERS = ("Authorization", "Cookie", "Content-Type", "Accept")
FORWARD_RESPONSE_HEADERS = ("Content-Type", "Set-Cookie", "WWW-Authenticate")
UPSTREAM_TIMEOUT = 300  # longer than any latency fault: the writer's own timeout decides


def written_names(body):
    """Record names a WAPI ``request`` body writes: ``data.name`` of creates, the name in a ref's last part."""
    try:
        items = json.loads(body or b"[]")
    except ValueError:
        return []
    names = set()
    for item in items if isinstance(items, list) else [items]:
        if not isinstance(item, dict) or item.get("method") == "GET":
            continue
        name = (item.get("data") or {}).get("name")
        target = item.get("object") or ""
        if not name and ":" in target.split("/", 1)[-1]:
            name = target.split(":", 2)[-1].rsplit("/", 1)[0]
        if name:
            names.add(name)
    return sorted(names)


def call_kind(method, path, body):
    """``read``, ``write`` or ``other`` (logout) for a WAPI call: a ``request`` is a write unless every
    item is a GET."""
    target = path.split("/wapi/", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
    if target == "logout":
        return "other"
    if method == "GET":
        return "read"
    if target == "request":
        try:
            items = json.loads(body or b"[]")
        except ValueError:
            return "write"
        items = items if isinstance(items, list) else [items]
        if items and all(isinstance(i, dict) and i.get("method") == "GET" for i in items):
            return "read"
    return "write"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self._forward("GET")

    def do_POST(self):
        self._forward("POST")

    def do_PUT(self):
        self._forward("PUT")

    def do_DELETE(self):
        self._forward("DELETE")

    def _forward(self, method):
        tap = self.server.tap
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        entry = {"writer": tap.writer, "start": time.time(), "end": None, "method": method,
                 "path": self.path.split("?", 1)[0], "kind": call_kind(method, self.path, body), "status": None}
        if entry["kind"] == "write":
            entry["names"] = written_names(body)
        kill = tap.take_kill() if entry["kind"] == "write" else None
        if kill is not None and kill["when"] == "before":
            entry["killed"] = "before"
            tap.record(entry)
            kill["callback"]()
            return self._drop()
        headers = dict((h, self.headers[h]) for h in FORWARD_REQUEST_HEADERS if self.headers.get(h))
        try:
            response = tap.session().request(method, tap.upstream + self.path, data=body, headers=headers,
                                             verify=tap.ca_path, timeout=UPSTREAM_TIMEOUT, allow_redirects=False)
        except requests.RequestException:
            entry["end"], entry["status"] = time.time(), "dropped"
            tap.record(entry)
            return self._drop()
        entry["end"], entry["status"] = time.time(), response.status_code
        if kill is not None:
            entry["killed"] = "after"
            tap.record(entry)
            kill["callback"]()
            return self._drop()
        tap.record(entry)
        try:
            self.send_response(response.status_code)
            for name in FORWARD_RESPONSE_HEADERS:
                if name in response.headers:
                    self.send_header(name, response.headers[name])
            self.send_header("Content-Length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)
        except OSError:
            self.close_connection = True  # the writer gave up (its timeout) or died

    _drop = WapiHandler._drop  # close the connection without an answer, as the simulator drops one


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass


class Tap(object):
    """HTTPS on 127.0.0.1:<port> for one writer, forwarding to the simulator at ``upstream``."""

    def __init__(self, writer, upstream, cert_dir, ca_path):
        self.writer = writer
        self.upstream = upstream.rstrip("/")
        self.ca_path = ca_path
        self.entries = []
        self._lock = threading.Lock()
        self._local = threading.local()
        self._kill = None
        _ca, context = server_context(cert_dir)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True,
                                                  do_handshake_on_connect=False)
        self._server.tap = self
        self.host = "127.0.0.1:%d" % self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="tap-%s" % writer, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def session(self):
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def record(self, entry):
        with self._lock:
            self.entries.append(entry)

    def since(self, index):
        """The calls recorded from ``index`` on (a copy)."""
        with self._lock:
            return self.entries[index:]

    def arm_kill(self, callback, when):
        """At this writer's next write call ``callback`` (which kills it): ``before`` the write reaches the
        simulator or ``after`` it was applied, before the answer goes back."""
        with self._lock:
            self._kill = {"callback": callback, "when": when}

    def disarm(self):
        with self._lock:
            armed, self._kill = self._kill, None
            return armed is not None

    def take_kill(self):
        with self._lock:
            kill, self._kill = self._kill, None
            return kill
