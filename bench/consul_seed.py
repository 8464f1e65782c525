"""A Consul dev agent seeded through its catalog API with S services x I instances.

Every instance is its own node (``n-<service>-<i>``, one VM per instance as in production) with one
service check; the node address is unique (10.x.y.z), so S x I instances give S x I A records in
zone geant.services. Registration goes through ``PUT /v1/catalog/register`` in a small thread pool.
"""
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from bench import process_cpu_seconds
from tests.consul_testbed.agent import ConsulAgent, ConsulCluster

ZONE = "geant.services"


def service_name(s):
    return "svc%05d" % s


def instance_address(s, i, instances):
    n = s * instances + i + 1  # 1..S*I, up to 16 M distinct addresses
    return "10.%d.%d.%d" % ((n >> 16) & 255, (n >> 8) & 255, n & 255)


class SeededConsul(object):
    """Start a dev agent on ``address`` and grow its catalog with :meth:`seed`."""

    def __init__(self, address, instances=4, workers=16):
        self.agent = ConsulAgent("bench-dev", address, dev=True,
                                 extra_config={"log_level": "WARN"})
        self.instances = instances
        self.workers = workers
        self.services = 0  # services registered so far: svc00000 .. svc<services-1>
        self._local = threading.local()

    @property
    def url(self):
        return self.agent.http_url

    def start(self):
        self.agent.start()
        self.agent.wait_http()
        ConsulCluster.wait_for(lambda: bool(self.agent.api("GET", "/v1/status/leader")), 30,
                               "dev agent has no leader")
        return self

    def stop(self):
        self.agent.cleanup()

    def cpu_seconds(self):
        """CPU time the agent process has used so far."""
        return process_cpu_seconds(self.agent.process.pid)

    def _session(self):
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def register(self, s, i, status="passing"):
        name = service_name(s)
        sid = "%s-%d" % (name, i)
        body = {
            "Node": "n-%s" % sid,
            "Address": instance_address(s, i, self.instances),
            "Service": {"ID": sid, "Service": name, "Port": 443, "Tags": ["bench"]},
            "Checks": [{"CheckID": "check-%s" % sid, "Name": "https", "ServiceID": sid, "Status": status}],
        }
        response = self._session().put(self.url + "/v1/catalog/register", json=body, timeout=30)
        response.raise_for_status()

    def _register_many(self, items, status="passing"):
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            list(pool.map(lambda si: self.register(si[0], si[1], status), items))

    def seed(self, services):
        """Grow the catalog to ``services`` services of ``self.instances`` passing instances each."""
        if services > self.services:
            self._register_many([(s, i) for s in range(self.services, services) for i in range(self.instances)])
            self.services = services
        return self.services * self.instances

    def flip_set(self, services, count, offset=0):
        """``count`` instances, at most one per service, so no name ever loses all its addresses."""
        step = max(1, services // max(1, count))
        return [((k * step + offset) % services, (k + offset) % self.instances) for k in range(count)]

    def set_status(self, items, status):
        """Re-register ``items`` ((service, instance) pairs) with their check in ``status``."""
        self._register_many(items, status)

    def delete_kv_prefix(self, prefix):
        """Delete every KV key under ``prefix`` (the damping state of a cold sync)."""
        self.agent.api("DELETE", "/v1/kv/%s" % prefix.strip("/"), params={"recurse": "true"})

    def a_records(self, count, ttl=300):
        """The first ``count`` seeded A records, as record dicts (name, fqdn, type, ttl, value)."""
        records = []
        for s in range(self.services):
            for i in range(self.instances):
                name = service_name(s)
                records.append({"name": name, "fqdn": "%s.%s" % (name, ZONE), "type": "A", "ttl": ttl,
                                "value": instance_address(s, i, self.instances)})
        return records[:count]
