"""Infoblox NIOS WAPI 2.x simulator (HTTPS) for tests and the local demo.

Behaviour follows WAPI 2.12 (NIOS 8.6) as documented in the wapidoc and as the real clients
``infoblox-client`` 0.6.2 and ``infoblox.nios_modules`` expect it. Any path version
``/wapi/vN.N[.M]/`` with 1.0 <= version < 3 is accepted and behaves the same (1.x included:
NIOS still serves them, and octoblox/ibx-sdk ask ``/wapi/v1.0/?_schema``); other versions get
NIOS's "Version X not supported" error.

Implemented: HTTP Basic auth + ``ibapauth`` cookie sessions, logout; objects ``zone_auth``,
``record:a``, ``record:aaaa``, ``record:cname``, ``record:txt``, ``record:srv``, ``record:host``,
``record:alias``, ``sharedrecordgroup``, ``sharedrecord:cname``, ``view``,
``extensibleattributedef``, ``grid`` (``restartservices``), ``restartservicestatus``; host
aliases and shared CNAMEs under the CNAME rule; sub-zones; searches with modifiers
(``~ : ! < >``), EA searches (``*Name=value``), ``_return_fields[+]``, ``_max_results``,
paging, ``_return_as_object``; POST/PUT/DELETE with NIOS's validation and error bodies;
the multi-object ``request`` endpoint (all-or-nothing or, with ``sim.request_rollback = False``,
keeping the items before a failing one); users with NIOS-like permissions (writes refused
with 400 Client.Ibap.Data.Conflict, 403 HTML pages without API access);
fault injection and a request log (Python API on ``Simulator`` and HTTP under ``/_sim/``);
optional JSON state file.

Also ``_schema`` (schema.py), and ``_return_fields[+]``/``_return_as_object`` in a POST/PUT body.

Deliberately not implemented: XML (``_return_type=xml``), certificate auth,
next-available-IP functions (``func:nextavailableip``), scheduling/approval args,
DHCP/IPAM objects, EA inheritance, real DNS serving. Users: the server's username/password
is a superuser; more users with NIOS-like object permissions via ``sim.add_user`` (permissions.py).
docs/wapi-simulator.md describes all of it, with the choices made where sources are silent.
"""
import base64
import json
import os
import re
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from . import errors
from .engine import Simulator

DEFAULT_WAPI_VERSION = "2.12"
VERSION_RE = re.compile(r"^/wapi/v(\d+)\.(\d+)(?:\.(\d+))?(/.*)?$")
# NIOS keeps serving old WAPI versions (1.0 up, go-infoblox#33); octoblox and ibx-sdk ask v1.0 for
# the _schema. Every version in [1.0, 3.0) is served the same; the others are refused.
MIN_VERSION, MAX_VERSION = (1, 0), (3, 0)
UNAUTHORIZED_HTML = (
    "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n"
    "<title>401 Authorization Required</title>\n</head><body>\n<h1>Authorization Required</h1>\n"
    "<p>This server could not verify that you are authorized to access the document requested."
    "  Either you supplied the wrong credentials (e.g., bad password), or your browser doesn't "
    "understand how to supply the credentials required.</p>\n</body></html>\n"
)
NOT_FOUND_HTML = "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"


class Sessions:
    """ibapauth cookies: value format as NIOS sends it (infoblox-client parses ctime/timeout)."""

    def __init__(self, timeout=600):
        self.timeout = timeout
        self._tokens = {}  # signature -> (user, expiry)
        self._lock = threading.Lock()

    def issue(self, user, client_ip, group="admin-group", superuser=True):
        now = int(time.time())
        signature = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[signature] = (user, now + self.timeout)
        return ('ip=%s,client=API,group=%s,ctime=%d,timeout=%d,mtime=%d,su=%d,'
                'auth=LOCAL,user=%s,%s' % (client_ip, group, now, self.timeout, now, int(superuser), user, signature))

    def check(self, cookie_value):
        signature = cookie_value.strip('"').rsplit(",", 1)[-1]
        with self._lock:
            entry = self._tokens.get(signature)
            if entry is None:
                return None
            if entry[1] < time.time():
                del self._tokens[signature]
                return None
            return entry[0]

    def revoke(self, cookie_value):
        signature = cookie_value.strip('"').rsplit(",", 1)[-1]
        with self._lock:
            self._tokens.pop(signature, None)

    def expire_all(self):
        """Forget every session (simulates cookie timeout / appliance restart)."""
        with self._lock:
            self._tokens.clear()


class WapiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections
    server_version = "Apache"
    sys_version = ""
    timeout = 60  # idle keep-alive connections end after this

    # ------------------------------------------------------------ plumbing
    def log_message(self, fmt, *args):  # quiet; the request log is the record
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle + delayed ACK
        # add ~40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    @property
    def sim(self):
        return self.server.sim

    # ------------------------------------------------------------ request flow
    def _handle(self, method):
        split = urlsplit(self.path)
        raw_body = self._read_body()
        if split.path.startswith("/_sim/"):
            return self._control(method, split, raw_body)
        # Rules match the decoded path (clients send record%3Aa) plus the raw query string.
        target = unquote(split.path) + ("?" + split.query if split.query else "")
        delay, rule = self.sim.faults.for_request(method, target)
        if delay:
            self.sim.faults.wait_latency(delay)
        entry = {"method": method, "path": unquote(split.path), "query": split.query,
                 "body": _loads_or_raw(raw_body), "kind": "other", "object": None}
        if rule is not None and rule.action == "drop":
            entry["status"] = None
            self.sim.log.append(entry)
            return self._drop()
        if rule is not None:
            status, ctype, body = rule.response()
            return self._finish(entry, status, body, ctype)
        self._wapi(method, split, raw_body, entry)

    def _wapi(self, method, split, raw_body, entry):
        path = unquote(split.path)
        match = VERSION_RE.match(path)
        if not match:
            return self._finish(entry, 404, NOT_FOUND_HTML.encode(), "text/html")
        version = tuple(int(p) for p in match.group(1, 2))
        target = (match.group(4) or "/")[1:]
        entry["version"] = ".".join(p for p in match.group(1, 2, 3) if p)
        user, cookie = self._authenticate()
        if user is None:
            headers = {"WWW-Authenticate": 'Basic realm="InfoBlox ONE Platform"'}
            return self._finish(entry, 401, UNAUTHORIZED_HTML.encode(), "text/html", headers)
        if not self.sim.users[user].api:
            # the admin group lacks API access: NIOS's 403 page for every WAPI call (external-dns#3234)
            entry["error"] = errors.forbidden().body()
            return self._finish(entry, 403, errors.Forbidden.html(path).encode(), "text/html")
        headers = {"Set-Cookie": '%s="%s"; httponly; Path=/; secure' % ("ibapauth", cookie)} if cookie else {}
        if not MIN_VERSION <= version < MAX_VERSION:
            return self._error(entry, errors.unsupported_version(entry["version"]), headers)
        if target == "logout" and method == "POST":
            return self._logout(entry)
        args = _parse_args(split.query)
        entry.update(args=args, object=target.split("/", 1)[0], kind=_kind(method, target, args))
        try:
            if args.get("_return_type", ["json"])[-1] not in ("json", "json-pretty"):
                raise errors.proto_error("The simulator only supports _return_type=json")
            status, payload = self.sim.handle(method, target, args, _parse_json(raw_body),
                                              version=entry["version"], user=user)
        except errors.Forbidden as exc:
            entry["error"] = exc.body()
            return self._finish(entry, 403, exc.html(path).encode(), "text/html", headers)
        except errors.WapiError as exc:
            return self._error(entry, exc, headers)
        self._finish(entry, status, json.dumps(payload).encode(), "application/json", headers)

    def _authenticate(self):
        """Returns (user, new cookie or None); user None means 401."""
        cookie = _cookie(self.headers.get("Cookie", ""), "ibapauth")
        if cookie:
            user = self.server.sessions.check(cookie)
            if user and user in self.sim.users:
                return user, None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                name, _sep, password = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None, None
            found = self.sim.authenticate(name, password)
            if found is not None and not found.api:
                return name, None  # refused with 403 by the caller: no session
            if found is not None:
                return name, self.server.sessions.issue(name, self.client_address[0], found.group, found.superuser)
        return None, None

    def _logout(self, entry):
        entry["kind"] = "auth"
        cookie = _cookie(self.headers.get("Cookie", ""), "ibapauth")
        if cookie:
            self.server.sessions.revoke(cookie)
        expire = {"Set-Cookie": 'ibapauth=""; Max-Age=0; Path=/; secure'}
        self._finish(entry, 200, b"", "application/json", expire)

    # ------------------------------------------------------------ responses
    def _error(self, entry, exc, headers=None):
        entry["error"] = exc.body()
        self._finish(entry, exc.status, json.dumps(exc.body()).encode(), "application/json", headers)

    def _finish(self, entry, status, body, ctype, headers=None):
        entry["status"] = status
        self.sim.log.append(entry)
        self._send(status, body, ctype, headers)

    def _send(self, status, body, ctype, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _drop(self):
        """Close the TCP connection without any response (client sees a connection error)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # ------------------------------------------------------------ /_sim/ control API
    def _control(self, method, split, raw_body):
        from .control import handle_control  # local import: keeps the HTTP layer small
        try:
            status, payload = handle_control(self.server, method, split.path, _parse_args(split.query),
                                             _parse_json(raw_body))
        except (ValueError, KeyError, TypeError) as exc:
            status, payload = 400, {"error": str(exc)}
        except errors.WapiError as exc:
            status, payload = exc.status, exc.body()
        self._send(status, json.dumps(payload).encode(), "application/json")


def _parse_args(query_string):
    args = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        args.setdefault(key, []).append(value)
    return args


def _parse_json(raw):
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise errors.proto_error("Invalid JSON in request body: %s" % exc)


def _loads_or_raw(raw):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def _cookie(header, name):
    for part in header.split(";"):
        key, _sep, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _kind(method, target, args):
    """Classify a request for the log: read, write, function, request, auth."""
    if target == "request":
        return "request"
    if "_function" in args:
        return "function"
    return "read" if method == "GET" else "write"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, ssl_context, sim, username, password, sessions):
        super().__init__(address, WapiHandler)
        # Handshake lazily in the handler thread, so a stuck client cannot block accept().
        self.socket = ssl_context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.sim, self.username, self.password, self.sessions = sim, username, password, sessions
        self._conns = set()
        self._conns_lock = threading.Lock()

    def track(self, conn, alive):
        with self._conns_lock:
            (self._conns.add if alive else self._conns.discard)(conn)

    def close_connections(self):
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass  # TLS handshake failures, client resets: not the simulator's problem


class WapiSimulatorServer:
    """The simulator served over HTTPS on 127.0.0.1 from a background thread.

    Attributes for tests: ``url`` (https://host:port), ``host`` ("127.0.0.1:PORT", the form
    infoblox-client wants), ``ca_path``, ``username``, ``password``, ``sim`` (state, log, faults).
    """

    def __init__(self, host="127.0.0.1", port=0, username="admin", password="infoblox",
                 cert_dir=None, state_file=None, sim=None, cookie_timeout=600, save_interval=0.5):
        from .tls import server_context  # trustme is only needed when a server is started
        self.sim = sim or Simulator()
        self.username, self.password = username, password
        self.sim.add_user(username, password, superuser=True)  # more users: sim.add_user / /_sim/users
        self.sessions = Sessions(cookie_timeout)
        self.state_file = state_file
        self.ca_path, context = server_context(cert_dir)
        if state_file and os.path.exists(state_file):
            self.sim.load(state_file)
        self._httpd = _HTTPServer((host, port), context, self.sim, username, password, self.sessions)
        self.port = self._httpd.server_address[1]
        self.host = "%s:%d" % (host, self.port)
        self.url = "https://%s" % self.host
        self._thread = None
        self._saver = _StateSaver(self.sim, state_file, save_interval) if state_file else None

    def wapi_url(self, version=DEFAULT_WAPI_VERSION):
        return "%s/wapi/v%s/" % (self.url, version)

    def start(self):
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="wapi-simulator", daemon=True)
        self._thread.start()
        if self._saver:
            self._saver.start()
        return self

    def stop(self):
        """Stop accepting, close open keep-alive connections, save state."""
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=10)
        if self._saver:
            self._saver.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class _StateSaver:
    """Writes the state file shortly after changes (not after every write: 10k records stay fast)."""

    def __init__(self, sim, path, interval):
        self.sim, self.path, self.interval = sim, path, interval
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wapi-simulator-saver", daemon=True)
        sim.on_change = self._dirty.set

    def start(self):
        self._thread.start()

    def _run(self):
        while not self._stopping.is_set():
            if self._dirty.wait(self.interval) and not self._stopping.is_set():
                self._dirty.clear()
                self.sim.save(self.path)
                self._stopping.wait(self.interval)

    def stop(self):
        self._stopping.set()
        self._dirty.set()
        self._thread.join(timeout=10)
        self.sim.save(self.path)
