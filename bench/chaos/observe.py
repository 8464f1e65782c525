"""Observation from outside the product: Consul's health API and the lock key (blocking queries, every
change with its time), and every ~0.1 s the simulator's records (read with the observer's own admin
account, through a WAPI version no fault rule matches), the zone file, and BIND's answers (dnspython).
"""
import base64
import json
import os
import threading
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone
import requests

from bench.chaos.bed import OBSERVER, OWNER_EA, SERVICES
from bench.chaos.config import OWNER, ZONE

LOCK_KEY = "consul-dns/lock/zone_sync"
TICK = 0.1


class Follower(threading.Thread):
    """Follows one Consul endpoint with blocking queries (stale reads, so that a server without a leader
    still answers), across the live servers; an answer from a server behind the last index is ignored."""

    def __init__(self, name, cluster, path, on_data, stop, on_leader=None, wait="5s"):
        super(Follower, self).__init__(name=name, daemon=True)
        self.cluster, self.path, self.on_data, self.stop_event, self.wait = cluster, path, on_data, stop, wait
        self.on_leader = on_leader
        self.index = 0
        self.errors = 0
        self.session = requests.Session()
        self._server = 0

    def _url(self):
        servers = [s for s in self.cluster.servers if s.is_running()] or self.cluster.servers
        return servers[self._server % len(servers)].http_url

    def run(self):
        while not self.stop_event.is_set():
            try:
                response = self.session.get(self._url() + self.path, timeout=15,
                                            params={"index": self.index, "wait": self.wait, "stale": ""})
                if response.status_code not in (200, 404):
                    raise requests.RequestException("HTTP %d" % response.status_code)
                index = int(response.headers.get("X-Consul-Index", "0"))
                if index < self.index:
                    self._server += 1
                    continue
                if self.on_leader is not None:
                    self.on_leader(time.time(), response.headers.get("X-Consul-KnownLeader") == "true")
                data = response.json() if response.status_code == 200 and response.content else None
                if index > self.index or self.index == 0:
                    self.index = max(index, 1)
                    self.on_data(time.time(), data)
            except (requests.RequestException, ValueError):
                self.errors += 1
                self._server += 1
                self.stop_event.wait(0.2)


def instance_health(checks, instances):
    """``{instance id: True | False | None}`` from /v1/health/state/any: True when every check of the
    instance and of its node passes, None when Consul does not know the instance."""
    node_ok, service_ok = {}, {}
    for check in checks or []:
        passing = check["Status"] == "passing"
        if check.get("ServiceID"):
            key = (check["Node"], check["ServiceID"])
            service_ok[key] = service_ok.get(key, True) and passing
        else:
            node_ok[check["Node"]] = node_ok.get(check["Node"], True) and passing
    out = {}
    for inst in instances:
        key = (inst.node, inst.id)
        out[inst.id] = None if key not in service_ok else (service_ok[key] and node_ok.get(inst.node, False))
    return out


def lock_holder(entries):
    """``(holder, session)`` of the lock key's KV entries (holder None when no session holds it)."""
    if not entries:
        return None, None
    entry = entries[0]
    session = entry.get("Session")
    if not session:
        return None, None
    try:
        value = json.loads(base64.b64decode(entry.get("Value") or "").decode() or "{}")
    except ValueError:
        value = {}
    return value.get("holder") if isinstance(value, dict) else None, session


def zone_addresses(text):
    """``(set of (name, address), serial)`` of the A records of a zone file's text."""
    zone = dns.zone.from_text(text, origin=ZONE, relativize=True, check_origin=False)
    out = set()
    for name, rdataset in zone.iterate_rdatasets(dns.rdatatype.A):
        for rdata in rdataset:
            out.add((name.to_text(), rdata.address))
    soa = zone.get_rdataset("@", dns.rdatatype.SOA)
    return out, (soa[0].serial if soa else None)


class Snapshot(object):
    """What the observer saw at one tick. ``None`` fields: not known at this tick (a read failed)."""

    def __init__(self, t):
        self.t = t
        self.wapi = None  # set of (name, address) of the owned A records
        self.unowned = None  # {ref: object} of the A records the job does not own
        self.zone = None  # set of (name, address) in the zone file
        self.zone_serial = None
        self.zone_error = None
        self.dns = None  # set of (name, address) answered by BIND (None: a query timed out)
        self.dns_bad = None  # an rcode other than NOERROR / NXDOMAIN
        self.dns_serial = None


class Observer(object):
    def __init__(self, bed, checker, stop, log):
        self.bed, self.checker, self.stop_event, self.log = bed, checker, stop, log
        self.session = requests.Session()
        self.session.auth = OBSERVER
        self.instances = bed.services.instances
        self.followers = [
            Follower("health", bed.cluster, "/v1/health/state/any", self._health, stop,
                     on_leader=checker.leader_seen),
            Follower("lock", bed.cluster, "/v1/kv/%s" % LOCK_KEY, self._lock, stop),
        ]
        self.ticks = 0
        self.slow_ticks = 0
        self.dns_timeouts = 0
        self.wapi_errors = 0
        self._zone_seen = None
        self._zone_cache = (None, None, None)
        self._thread = threading.Thread(target=self._loop, name="observer", daemon=True)

    def start(self):
        for follower in self.followers:
            follower.start()
        self._thread.start()
        return self

    def join(self, timeout):
        self._thread.join(timeout)

    def _health(self, t, checks):
        self.checker.consul(t, instance_health(checks, self.instances))

    def _lock(self, t, entries):
        holder, session = lock_holder(entries)
        self.checker.lock(t, holder, session)

    # ------------------------------------------------------------------ per tick
    def wapi(self, snap):
        url = self.bed.sim_wapi + "record:a"
        try:
            response = self.session.get(url, verify=self.bed.nios.ca_path, timeout=5, params={
                "zone": ZONE, "_return_fields": "name,ipv4addr,extattrs,comment,ttl,use_ttl,disable"})
            response.raise_for_status()
            records = response.json()
        except (requests.RequestException, ValueError):
            self.wapi_errors += 1
            return
        owned, unowned = set(), {}
        for record in records:
            owner = ((record.get("extattrs") or {}).get(OWNER_EA) or {}).get("value")
            if owner == OWNER:
                owned.add((record["name"][:-len(ZONE) - 1], record["ipv4addr"]))
            else:
                unowned[record["_ref"]] = record
        snap.wapi, snap.unowned = owned, unowned

    def others(self):
        """The zone's CNAME and TXT records (none of them the job's): ``{ref: object}``."""
        out = {}
        for objtype in ("record:cname", "record:txt"):
            response = self.session.get(self.bed.sim_wapi + objtype, verify=self.bed.nios.ca_path, timeout=5,
                                        params={"zone": ZONE})
            response.raise_for_status()
            out.update((r["_ref"], r) for r in response.json())
        return out

    def zone_file(self, snap):
        path = self.bed.zone_file
        try:
            st = os.stat(path)
            seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            return
        if seen != self._zone_seen:
            try:
                with open(path) as handle:
                    addresses, serial = zone_addresses(handle.read())
                self._zone_cache = (addresses, serial, None)
            except (OSError, dns.exception.DNSException) as exc:
                self._zone_cache = (None, None, str(exc))
            self._zone_seen = seen
        snap.zone, snap.zone_serial, snap.zone_error = self._zone_cache

    def bind_answers(self, snap):
        named = self.bed.named
        out, bad = set(), None
        for name in list(SERVICES) + ["@"]:
            qname = ZONE if name == "@" else "%s.%s" % (name, ZONE)
            query = dns.message.make_query(qname, "SOA" if name == "@" else "A")
            try:
                answer = dns.query.udp(query, named.address, port=named.port, timeout=0.5)
            except (dns.exception.Timeout, OSError):
                self.dns_timeouts += 1
                return
            rcode = answer.rcode()
            if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                bad = dns.rcode.to_text(rcode)
                continue
            for rrset in answer.answer:
                for rdata in rrset:
                    if rrset.rdtype == dns.rdatatype.A:
                        out.add((name, rdata.address))
                    elif rrset.rdtype == dns.rdatatype.SOA:
                        snap.dns_serial = rdata.serial
        snap.dns, snap.dns_bad = out, bad

    def _loop(self):
        next_tick = time.time()
        while not self.stop_event.is_set():
            snap = Snapshot(time.time())
            self.wapi(snap)
            if self.ticks % 10 == 0:
                try:
                    self.checker.others(snap.t, self.others())
                except (requests.RequestException, ValueError):
                    self.wapi_errors += 1
            self.zone_file(snap)
            self.bind_answers(snap)
            self.checker.tick(snap)
            self.ticks += 1
            next_tick += TICK
            pause = next_tick - time.time()
            if pause < 0:
                self.slow_ticks += 1
                next_tick = time.time()
            else:
                self.stop_event.wait(pause)
