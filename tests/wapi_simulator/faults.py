"""Fault injection rules and the request log, both shared by Python callers and /_sim/ HTTP calls."""
import copy
import itertools
import re
import threading
import time

from . import errors

GRID_UNAVAILABLE_HTML = (
    "<html><head><title>503 Service Unavailable</title></head><body>"
    "<h1>Service Unavailable</h1><p>The Infoblox grid is temporarily unavailable "
    "(simulated).</p></body></html>"
)
ACTIONS = ("status", "drop", "latency", "request_item")


class Rule:
    """One fault: what to do, to which requests (method, path regex), how many times (None = always)."""

    _ids = itertools.count(1)

    def __init__(self, action, count=None, method=None, path=None, status=503, body=None,
                 content_type=None, delay=0.0, index=None, code=None, text=None):
        if action not in ACTIONS:
            raise ValueError("unknown fault action %r (expected one of %s)" % (action, ", ".join(ACTIONS)))
        if action == "request_item" and index is None:
            raise ValueError("request_item faults need the index of the failing operation")
        self.id = next(self._ids)
        self.action = action
        self.count = count
        self.method = method.upper() if method else None
        self.path = re.compile(path) if path else None
        self.status = int(status)
        self.body = body
        self.content_type = content_type
        self.delay = float(delay)
        self.index = index
        self.code = code
        self.text = text

    def applies(self, method, target):
        if self.count is not None and self.count <= 0:
            return False
        if self.method and self.method != method:
            return False
        return not self.path or self.path.search(target) is not None

    def consume(self):
        if self.count is not None:
            self.count -= 1

    def response(self):
        """(status, content type, body bytes) for a ``status`` rule."""
        if self.body is not None:
            body = self.body
            ctype = self.content_type or "application/json"
        elif self.status >= 500:
            body, ctype = GRID_UNAVAILABLE_HTML, "text/html"
        else:
            body = '{"Error": "AdmConError: injected", "code": "Client.Ibap.Injected", "text": "injected"}'
            ctype = "application/json"
        return self.status, ctype, body.encode()

    def as_error(self):
        return errors.injected(status=self.status,
                               code=self.code or "Client.Ibap.Data.Conflict",
                               text=self.text or "Injected failure of request operation %d" % self.index)

    def describe(self):
        return {
            "id": self.id, "action": self.action, "count": self.count, "method": self.method,
            "path": self.path.pattern if self.path else None, "status": self.status,
            "delay": self.delay, "index": self.index,
        }


class FaultInjector:
    def __init__(self):
        self._rules = []
        self._lock = threading.Lock()
        self._latency_ended = threading.Condition()
        self._latency_generation = 0

    # -------------------------------------------------------------- convenience API for tests
    def add(self, action, **kwargs):
        rule = Rule(action, **kwargs)
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail_next(self, n=1, status=503, **kwargs):
        """Answer the next ``n`` (matching) WAPI requests with ``status`` (503: HTML page)."""
        return self.add("status", count=n, status=status, **kwargs)

    def fail_matching(self, status=503, method=None, path=None, count=None, **kwargs):
        return self.add("status", count=count, status=status, method=method, path=path, **kwargs)

    def drop_next(self, n=1, **kwargs):
        """Close the connection without answering the next ``n`` (matching) requests."""
        return self.add("drop", count=n, **kwargs)

    def add_latency(self, seconds, count=None, **kwargs):
        return self.add("latency", count=count, delay=seconds, **kwargs)

    def fail_request_item(self, index, count=1, status=400, code=None, text=None):
        """Make operation number ``index`` (0-based) of the next multi-object request fail."""
        return self.add("request_item", count=count, index=index, status=status, code=code, text=text)

    def clear(self):
        with self._lock:
            self._rules.clear()

    def end_latency(self):
        """Cut short the injected delays requests are waiting out now (later ones are not affected): a
        test that needs a request to last "long enough" injects a long delay and ends it when done."""
        with self._latency_ended:
            self._latency_generation += 1
            self._latency_ended.notify_all()

    def wait_latency(self, seconds):
        """Wait ``seconds`` of injected latency, or less if :meth:`end_latency` is called meanwhile."""
        deadline = time.monotonic() + seconds
        with self._latency_ended:
            generation = self._latency_generation
            while self._latency_generation == generation:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._latency_ended.wait(left)

    def rules(self):
        with self._lock:
            return [r.describe() for r in self._rules if r.count is None or r.count > 0]

    # -------------------------------------------------------------- used by the server
    def for_request(self, method, target):
        """Consume and return (total latency, first status/drop rule or None) for one request."""
        delay, blocking = 0.0, None
        with self._lock:
            for rule in self._rules:
                if rule.action not in ("latency", "status", "drop") or not rule.applies(method, target):
                    continue
                if rule.action == "latency":
                    delay += rule.delay
                    rule.consume()
                elif blocking is None:
                    blocking = rule
                    rule.consume()
        return delay, blocking

    def request_item_failure(self, index):
        with self._lock:
            for rule in self._rules:
                if rule.action == "request_item" and rule.index == index and rule.applies("POST", ""):
                    rule.consume()
                    return rule.as_error()
        return None


class RequestLog:
    """What clients sent and got: method, path, query, args, body, status, kind (read/write/...)."""

    def __init__(self):
        self._entries = []
        self._lock = threading.Lock()

    def append(self, entry):
        with self._lock:
            self._entries.append(entry)

    def entries(self):
        with self._lock:
            return copy.deepcopy(self._entries)

    def clear(self):
        with self._lock:
            self._entries.clear()

    def count(self, method=None, kind=None, object_type=None, status=None):
        with self._lock:
            return sum(
                1 for e in self._entries
                if (method is None or e["method"] == method)
                and (kind is None or e["kind"] == kind)
                and (object_type is None or e.get("object") == object_type)
                and (status is None or e["status"] == status)
            )

    def reads(self, object_type=None):
        return self.count(kind="read", object_type=object_type)

    def writes(self, object_type=None):
        return self.count(kind="write", object_type=object_type)
