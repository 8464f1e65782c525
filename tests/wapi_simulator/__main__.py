"""Run the WAPI simulator until killed (used by the README demo and the Molecule scenario zone_sync).

    python -m tests.wapi_simulator --host 127.0.0.1 --port 8443 \
        [--user admin --password infoblox] [--cert-dir DIR] [--state-file F] [--define-ea Owner]
        [--request-rollback on|off] [--users-file users.json]
        [--add-user '{"name": "bot", "password": "pw", "permissions": [{"object": "record:a",
                      "zone": "geant.services", "permission": "WRITE"}]}']

--user/--password is a superuser; --add-user (repeatable) and --users-file (a JSON list of such
objects) add more users with NIOS-like permissions (tests/wapi_simulator/permissions.py).
--request-rollback off keeps the items before a failing one of a multi-object request.

The server certificate names 127.0.0.1, localhost and ::1, and --host as well when that is
another address or name (e.g. a container bridge's gateway the containers connect to).
"""
import argparse
import json
import signal
import sys
import tempfile
import threading

from .control import add_user
from .engine import Simulator
from .server import DEFAULT_WAPI_VERSION, WapiSimulatorServer
from .tls import LOOPBACK_NAMES, certificate_names, ensure_certs


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.wapi_simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443, help="0 picks a free port")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="infoblox")
    parser.add_argument("--cert-dir", help="keep the CA and server certificate here (reused on restart)")
    parser.add_argument("--state-file", help="JSON file the objects are saved to and loaded from")
    parser.add_argument("--define-ea", action="append", default=[], metavar="NAME",
                        help="extensible attribute definition (STRING) to create at start; repeatable")
    parser.add_argument("--add-user", action="append", default=[], metavar="JSON", type=json.loads,
                        help='another API user: {"name", "password", "superuser", "permissions", "group", '
                             '"access_method"}; '
                             "repeatable")
    parser.add_argument("--users-file", metavar="FILE", help="JSON list of users as for --add-user")
    parser.add_argument("--request-rollback", choices=("on", "off"), default="on",
                        help="a multi-object request failing halfway undoes the items before the failing "
                             "one (on, default) or keeps them (off)")
    return parser.parse_args(argv)


def build_simulator(options):
    """The Simulator the options describe (EA definitions, extra users, request mode)."""
    sim = Simulator(ea_definitions=options.define_ea)
    users = list(options.add_user)
    if options.users_file:
        with open(options.users_file) as handle:
            users += json.load(handle)
    for spec in users:
        add_user(sim, spec)
    sim.request_rollback = options.request_rollback == "on"
    return sim


def main(argv=None):
    options = parse_args(argv)
    sim = build_simulator(options)

    cert_dir = options.cert_dir
    if len(certificate_names([options.host])) > len(LOOPBACK_NAMES):
        # Not loopback: make (or reuse) a certificate that names --host too; the server loads it.
        cert_dir = cert_dir or tempfile.mkdtemp(prefix="wapi-simulator-")
        ensure_certs(cert_dir, hosts=[options.host])
    server = WapiSimulatorServer(host=options.host, port=options.port, username=options.user,
                                 password=options.password, cert_dir=cert_dir,
                                 state_file=options.state_file, sim=sim)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    server.start()
    print("WAPI simulator listening on %s" % server.wapi_url(DEFAULT_WAPI_VERSION))
    print("host: %s" % server.host)
    print("CA certificate: %s" % server.ca_path)
    print("credentials: %s / %s" % (options.user, options.password))
    sys.stdout.flush()
    while not stopped.wait(0.2):  # a timed wait lets the signal handler run promptly
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
