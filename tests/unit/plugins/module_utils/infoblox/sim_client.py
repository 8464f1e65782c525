"""A WapiClient whose transport is the WAPI simulator's engine, in-process (no HTTP): the client's own
paging, multi-object reads and writes against the simulator's WAPI semantics, every call recorded."""

from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.wapi import (
    WapiClient,
    WapiError,
    WapiUnavailable,
)
from tests.wapi_simulator import errors
from tests.wapi_simulator.engine import Simulator

ZONE = "geant.services"
OWNER_EA = "ManagedBy"


class SimClient(WapiClient):
    def __init__(self, sim):
        super(SimClient, self).__init__("sim.invalid", "admin", "infoblox")
        self.sim = sim
        self.calls = []  # (method, path, args, body)
        self.unavailable = 0  # answer this many next calls as a grid that is down (HTTP 503)

    def _send(self, method, path, what, params=None, body=None, write=False):
        args = dict((key, [str(value)]) for key, value in (params or {}).items())
        self.calls.append((method, path, args, body))
        if self.unavailable:
            self.unavailable -= 1
            raise WapiUnavailable("WAPI %s failed: HTTP 503: Service Unavailable" % what, 503)
        try:
            _status, payload = self.sim.handle(method, path, args, body)
        except errors.WapiError as exc:
            raise WapiError("WAPI %s failed: HTTP %d %s: %s" % (what, exc.status, exc.code, exc.text), exc.status,
                            exc.code, exc.text)
        return payload

    def logout(self):
        pass

    # ------------------------------------------------------------------ what the tests look at
    def clear(self):
        del self.calls[:]

    def read_calls(self):
        """HTTP calls that only read: GETs and ``request`` calls made of GET items."""
        return [c for c in self.calls if c[0] == "GET" or (c[1] == "request" and all(
            item.get("method") == "GET" for item in c[3]))]

    def write_calls(self):
        return [c for c in self.calls if c not in self.read_calls()]

    def names_read(self):
        """The record names searched by name in the recorded calls."""
        names = set()
        for method, path, args, body in self.calls:
            if path == "request" and method == "POST":
                for item in body:
                    if item.get("method") == "GET" and "name" in (item.get("data") or {}) and \
                            item["object"].startswith("record:"):
                        names.add(item["data"]["name"])
            elif method == "GET" and "name" in args and path.startswith("record:"):
                names.add(args["name"][0])
        return names


def new_sim(zone=ZONE):
    sim = Simulator(ea_definitions=[OWNER_EA])
    sim.handle("POST", "zone_auth", {}, {"fqdn": zone})
    return sim


def add_record(sim, name, address, owned=True, ttl=300, zone=ZONE, objtype="record:a"):
    data = {"name": "%s.%s" % (name, zone) if name != "@" else zone, "ttl": ttl, "use_ttl": True}
    if objtype == "record:a":
        data["ipv4addr"] = address
    elif objtype == "record:aaaa":
        data["ipv6addr"] = address
    elif objtype == "record:cname":
        data["canonical"] = address
    if owned:
        data["extattrs"] = {OWNER_EA: {"value": "geant.consul_dns"}}
    return sim.handle("POST", objtype, {}, data)[1]


def a_records(sim, zone=ZONE):
    """``{fqdn: sorted addresses}`` of the A records in the simulator."""
    out = {}
    for obj in sim.objects("record:a"):
        out.setdefault(obj["name"], []).append(obj["ipv4addr"])
    return dict((name, sorted(addresses)) for name, addresses in out.items())
