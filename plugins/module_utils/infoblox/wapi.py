# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small client for Infoblox NIOS WAPI 2.x, made for reconciling whole zones.

- One ``requests`` session: HTTP Basic on the first call, then NIOS's ``ibapauth`` cookie.
- TLS verification on by default (``ca_path`` for a private CA).
- Reads are paged (``_paging=1``) and retried with exponential backoff on connection faults,
  timeouts and 5xx. Writes are never re-sent blindly: a write whose outcome is unknown (timeout,
  dropped connection, 5xx after it was sent) raises, and the caller re-reads before planning again.
  Only a connection that could not be *established* is retried for a write, as nothing was sent.
- All changes go through the multi-object ``request`` endpoint, one call per chunk; a few searches can
  share one ``request`` call too (:meth:`WapiClient.get_many`, GET items only, counted as a read).
- Credentials never appear in an error message or a log line.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import time
import traceback

try:
    from html import unescape as html_unescape
except ImportError:  # Python 2
    from HTMLParser import HTMLParser
    html_unescape = HTMLParser().unescape

REQUESTS_IMPORT_ERROR = None
try:
    import requests
    from requests.adapters import HTTPAdapter
except ImportError:
    requests = None
    HTTPAdapter = object
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

DEFAULT_WAPI_VERSION = "2.12"
DEFAULT_WRITE_TIMEOUT = 120


class WapiError(Exception):
    """WAPI answered with an error. ``code`` / ``text`` come from NIOS's JSON error body."""

    def __init__(self, message, status=None, code=None, text=None):
        super(WapiError, self).__init__(message)
        self.status = status
        self.code = code
        self.text = text


class WapiAuthError(WapiError):
    """401: wrong user name or password (the password itself is never in the message)."""


class WapiForbidden(WapiError):
    """403: the account is known but lacks the permission for this call."""


class WapiUnavailable(WapiError):
    """NIOS could not be reached or did not answer usably (connection, timeout, 5xx)."""


class WriteOutcomeUnknown(WapiUnavailable):
    """A write was sent but no answer came back: it may or may not have been applied."""


def base_url(server, wapi_version=DEFAULT_WAPI_VERSION):
    """``nios.example.net`` or ``https://nios.example.net:8443`` -> ``https://.../wapi/v2.12/``."""
    server = server.strip().rstrip("/")
    if "//" not in server:
        server = "https://" + server
    if not server.lower().startswith("https://"):
        # WAPI takes the password in every first request (HTTP Basic): never over plain HTTP.
        raise WapiError("the Infoblox server must be reached over https (WAPI sends the password with HTTP "
                        "Basic): got %s" % server.split("//", 1)[0] + "//...")
    return "%s/wapi/v%s/" % (server, wapi_version)


def _error_from_response(response, what):
    """Turn a non-2xx response into a WapiError carrying NIOS's code and text when it sent JSON.

    NIOS answers some errors (401, 403, a grid that is down) with an HTML page: its text is reduced to
    one short line (the title, else the first words), never the page."""
    code = text = None
    try:
        body = response.json()
        if isinstance(body, dict):
            code, text = body.get("code"), body.get("text") or body.get("Error")
    except ValueError:
        body = None
    detail = text or html_summary(response.text) or response.reason
    message = "WAPI %s failed: HTTP %d%s: %s" % (what, response.status_code, " %s" % code if code else "", detail)
    if response.status_code == 401:
        return WapiAuthError("WAPI %s refused: HTTP 401, the user name or password is wrong or the "
                             "user lacks API access" % what, 401)
    if response.status_code == 400 and _is_permission_text(text):
        # NIOS refuses a write the account's object permissions do not allow with a 400 (Client.Ibap.Data.Conflict,
        # "Write permission for ... is required"), and an EA definition by a non-superuser the same way.
        return WapiForbidden("WAPI %s refused: the account lacks a NIOS permission (see the collection's "
                             "docs/permissions.md): %s" % (what, detail), 400, code, text)
    if response.status_code == 403:
        return WapiForbidden("WAPI %s refused: HTTP 403, the account lacks a NIOS permission (see the collection's "
                             "docs/permissions.md)%s" % (what, "" if not detail else ": %s" % detail),
                             403, code, text)
    if response.status_code >= 500:
        return WapiUnavailable(message, response.status_code, code, text)
    return WapiError(message, response.status_code, code, text)


def _is_permission_text(text):
    text = (text or "").lower()
    return ("permission" in text and "required" in text) or "only superusers" in text


def html_summary(text, limit=160):
    """One line out of an error body that may be an HTML page: its title, else its text, shortened."""
    text = (text or "").strip()
    if not text:
        return ""
    if "<" in text and ">" in text:
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        heading = re.search(r"<h1[^>]*>(.*?)</h1>", text, re.IGNORECASE | re.DOTALL)
        found = title or heading
        text = found.group(1) if found else re.sub(r"<[^>]+>", " ", text)
        text = html_unescape(text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class WapiClient(object):
    """Talks to one NIOS grid master."""

    def __init__(self, server, username, password, wapi_version=DEFAULT_WAPI_VERSION, validate_certs=True,
                 ca_path=None, timeout=30, retries=3, backoff=0.5, page_size=1000, sleep=time.sleep,
                 write_timeout=None):
        if REQUESTS_IMPORT_ERROR:
            raise WapiError("the python library 'requests' is required")
        self.url = base_url(server, wapi_version)
        self.timeout = timeout
        # A write may take NIOS longer than a read (a request of hundreds of changes): its own limit.
        self.write_timeout = write_timeout or max(timeout, DEFAULT_WRITE_TIMEOUT)
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.page_size = int(page_size)
        self._sleep = sleep
        self.session = requests.Session()
        self.session.auth = (username, password)
        # Passed on every call: a session-level 'verify' loses to REQUESTS_CA_BUNDLE in the environment.
        self.verify = (ca_path or True) if validate_certs else False
        self.session.headers.update({"Content-Type": "application/json", "Accept": "application/json"})
        # requests' own retries are off: retry policy is decided here, per read or write.
        self.session.mount("https://", HTTPAdapter(max_retries=0))
        self.session.mount("http://", HTTPAdapter(max_retries=0))
        self.reads = 0
        self.writes = 0

    # ------------------------------------------------------------------ transport
    def _send(self, method, path, what, params=None, body=None, write=False):
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.request(
                    method, self.url + path, params=params,
                    data=None if body is None else json.dumps(body),
                    timeout=self.write_timeout if write else self.timeout, verify=self.verify)
            except requests.exceptions.ConnectionError as exc:
                never_sent = isinstance(exc, requests.exceptions.ConnectTimeout) or _is_connect_refused(exc)
                if attempt <= self.retries and (not write or never_sent):
                    self._pause(attempt)
                    continue
                if write and not never_sent:
                    raise WriteOutcomeUnknown("WAPI %s: the connection broke after the write was sent; it may "
                                              "or may not have been applied (%s). The next run re-reads and "
                                              "re-plans." % (what, _short(exc)))
                raise WapiUnavailable("cannot reach WAPI at %s (%s): %s" % (self.url, what, _short(exc)))
            except requests.exceptions.Timeout as exc:
                if write:
                    raise WriteOutcomeUnknown("WAPI %s timed out after the write was sent; it may or may not "
                                              "have been applied. The next run re-reads and re-plans." % what)
                if attempt <= self.retries:
                    self._pause(attempt)
                    continue
                raise WapiUnavailable("WAPI at %s timed out (%s): %s" % (self.url, what, _short(exc)))
            if response.status_code >= 500 and not write and attempt <= self.retries:
                self._pause(attempt)
                continue
            if not response.ok:
                raise _error_from_response(response, what)
            try:
                return response.json()
            except ValueError:
                raise WapiError("WAPI %s: answer is not JSON (HTTP %d): %s"
                                % (what, response.status_code, response.text[:200]), response.status_code)

    def _pause(self, attempt):
        self._sleep(self.backoff * (2 ** (attempt - 1)))

    # ------------------------------------------------------------------ reads
    def get_all(self, objtype, filters=None, return_fields=None):
        """Every object of ``objtype`` matching ``filters``, following WAPI's paging."""
        params = dict(filters or {})
        if return_fields:
            params["_return_fields"] = ",".join(return_fields)
        params.update({"_paging": 1, "_return_as_object": 1, "_max_results": self.page_size})
        what = "read of %s" % objtype
        results = []
        while True:
            self.reads += 1
            page = self._send("GET", objtype, what, params=params)
            results.extend(page.get("result", []))
            next_page = page.get("next_page_id")
            if not next_page:
                return results
            params = {"_page_id": next_page}

    def get_one(self, objtype, filters, return_fields=None):
        found = self.get_all(objtype, filters, return_fields)
        return found[0] if found else None

    def get_many(self, searches, what="multi-object read"):
        """Several searches in one ``request`` call (GET items only, so it is retried like a read).

        ``searches``: a list of ``(objtype, filters, return_fields)``. Returns one list of objects per
        search, in order. Unpaged: a search matching more than 1000 objects fails (WAPI's default
        ``_max_results`` of -1000), it never comes back truncated.
        """
        items = []
        for objtype, filters, return_fields in searches:
            item = {"method": "GET", "object": objtype, "data": dict(filters or {})}
            if return_fields:
                item["args"] = {"_return_fields": ",".join(return_fields)}
            items.append(item)
        if not items:
            return []
        self.reads += 1
        answer = self._send("POST", "request", what, body=items)
        if isinstance(answer, dict) and "result" in answer:
            answer = answer["result"]
        if not isinstance(answer, list) or len(answer) != len(items) or \
                not all(isinstance(found, list) for found in answer):
            raise WapiError("WAPI %s: unexpected answer (expected %d lists of objects)" % (what, len(items)))
        return answer

    # ------------------------------------------------------------------ writes
    def create(self, objtype, data):
        self.writes += 1
        return self._send("POST", objtype, "create of %s" % objtype, body=data, write=True)

    def request(self, operations, what="multi-object request"):
        """Send ``operations`` (a list of {method, object, data}) as one ``request`` call (whether NIOS rolls a
        failing one back is not documented: callers read NIOS again after a failure)."""
        self.writes += 1
        return self._send("POST", "request", what, body=list(operations), write=True)

    def call_function(self, ref, function, data):
        self.writes += 1
        return self._send("POST", ref, "%s on %s" % (function, ref.split("/")[0]),
                          params={"_function": function}, body=data, write=True)

    def logout(self):
        try:
            self.session.post(self.url + "logout", timeout=self.timeout, verify=self.verify)
        except requests.exceptions.RequestException:
            pass  # the cookie expires on its own


def _is_connect_refused(exc):
    """True when the TCP connection was never established (so no request bytes left)."""
    text = str(exc)
    return any(marker in text for marker in ("Connection refused", "NewConnectionError",
                                             "Name or service not known", "No route to host"))


def _root_cause(exc):
    """The innermost reason of a requests/urllib3 error (``[Errno 111] Connection refused``)."""
    seen = set()
    current = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        inner = getattr(current, "reason", None)
        if not isinstance(inner, BaseException):
            args = getattr(current, "args", ())
            inner = args[0] if args and isinstance(args[0], BaseException) else None
        if inner is None:
            inner = current.__cause__ or current.__context__
        if inner is None:
            break
        current = inner
    return current


def _short(exc):
    """A requests error in one line that keeps its cause: the innermost reason, not a cut-off repr."""
    cause = _root_cause(exc)
    text = str(cause) if cause is not None else str(exc)
    # urllib3 prefixes the reason with the connection object's repr: keep what follows it.
    if "): " in text and text.startswith("<"):
        text = text.split("): ", 1)[1]
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:150] + " ... " + text[-145:]
