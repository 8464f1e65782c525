"""The instances' HTTP health endpoints, in a process of their own (so that the harness's own work never
delays an answer past the check's timeout): ``GET /i/<instance>`` answers 200, or 503 while the instance
is failing; ``PUT /fail/<instance>`` and ``PUT /pass/<instance>`` switch it.

    python -m bench.chaos.checks      # prints "port: N", serves 127.0.0.1:N until killed
"""
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        iid = self.path.rsplit("/", 1)[-1]
        with self.server.lock:
            failing = iid in self.server.failing
        self._answer(503 if failing else 200, b"failing\n" if failing else b"ok\n")

    def do_PUT(self):
        _empty, action, iid = self.path.split("/", 2)
        with self.server.lock:
            (self.server.failing.add if action == "fail" else self.server.failing.discard)(iid)
        self._answer(200, b"")


class CheckServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super(CheckServer, self).__init__(("127.0.0.1", 0), _Handler)
        self.failing = set()
        self.lock = threading.Lock()

    def handle_error(self, request, client_address):
        pass


def main():
    server = CheckServer()
    print("port: %d" % server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.5)


if __name__ == "__main__":
    sys.exit(main())
