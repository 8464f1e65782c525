"""Convergence: seconds from a check turning critical to its record deleted in the WAPI simulator.

Both modes run the collection as deployed, against the seeded Consul and the simulator, hold-down 0:

- watch mode: the watch service (``roles/zone_sync/files/consul-dns-zone-watch``) as its own process
  with the role's settings file. Trials are ``GAP`` seconds apart, as independent failures are (a
  change within ``consul_dns_watch_min_interval`` of the last sync waits for it). Per trial one instance's check is re-registered critical through the
  catalog API; the clock starts just before that call and stops when a WAPI read no longer finds the
  record (polled every ``POLL`` seconds). The check then passes again and the time until the record is
  back is taken too (recovery, hold-down 0). The WAPI calls the service made for each change are counted
  from the simulator's request log (this bench's own polling left out): reads are GETs and
  multi-object ``request`` calls made only of GET items (a name-scoped read), writes the other
  ``request`` calls.
- timer mode: ``ansible-playbook geant.consul_dns.zone_sync`` (what the timer's wrapper runs: one
  task, the sync engine) started right after the check turned critical; its wall time is measured.
  What a timer adds, the wait for its next tick, is computed, not slept through: with failures at
  random times and a tick every ``period`` seconds plus up to ``random_delay`` seconds of systemd's
  RandomizedDelaySec, the wait is ``period/2 + random_delay/2`` at the median and
  ``period + random_delay`` at worst.
"""
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import requests

from bench import COLLECTIONS, playbooks
from bench.consul_seed import ZONE, instance_address, service_name
from tests.integration.zone_watch_bed import WatchProcess

POLL = 0.02
GAP = 1.5  # > consul_dns_watch_min_interval (1 s): at most one sync per second


class Convergence(object):
    def __init__(self, consul, nios, services, log):
        self.consul, self.nios, self.services, self.log = consul, nios, services, log
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-convergence-"))
        (self.tmp / "zones").mkdir()
        self.session = requests.Session()
        self.next_service = 0
        run = uuid.uuid4().hex[:8]
        self.settings = {
            "consul_dns_consul_address": consul.url,
            "consul_dns_zones": [{"name": ZONE, "nameservers": ["ns1.geant.net."]}],
            "consul_dns_zone_dir": str(self.tmp / "zones"),
            "consul_dns_hold_down": 0,
            "consul_dns_lock_key": "bench/lock-%s" % run,
            "consul_dns_lock_delay": 0,
            "consul_dns_state_prefix": "bench/state-%s" % run,
            "consul_dns_infoblox_server": nios.host, "consul_dns_infoblox_username": nios.username,
            "consul_dns_infoblox_password": nios.password, "consul_dns_infoblox_ca_path": nios.ca_path,
        }

    def present(self, item):
        s, i = item
        response = self.session.get(
            "%s/wapi/v2.12/record:a" % self.nios.url, verify=self.nios.ca_path, timeout=30,
            auth=(self.nios.username, self.nios.password),
            params={"name": "%s.%s" % (service_name(s), ZONE), "ipv4addr": instance_address(s, i, self.consul.instances)})
        response.raise_for_status()
        return bool(response.json())

    def wait_for(self, item, present, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.present(item) == present:
                return
            time.sleep(POLL)
        raise TimeoutError("record of %s never became %s" % (item, "present" if present else "absent"))

    def pick(self):
        """A different service each trial: no name loses all its addresses, no flap penalty carries over."""
        item = (self.next_service % self.services, self.next_service % self.consul.instances)
        self.next_service += 1
        return item

    def wapi_calls(self):
        """``(reads, writes)`` the service sent since the simulator's log was last cleared."""
        reads = writes = 0
        for entry in self.nios.control("GET", "log"):
            query, body = entry.get("query") or "", entry.get("body")
            if entry["kind"] == "read":
                if "ipv4addr=" in query and "_paging" not in query:
                    continue  # this bench's polling (present())
                reads += 1
            elif entry["kind"] == "request":
                items = body if isinstance(body, list) else [body]
                if items and all(isinstance(i, dict) and i.get("method") == "GET" for i in items):
                    reads += 1
                else:
                    writes += 1
            elif entry["kind"] in ("write", "function"):
                writes += 1
        return reads, writes

    def change(self, watch, item, status, present):
        """Turn ``item``'s check ``status``; seconds until the simulator shows it, and the WAPI calls of the sync."""
        syncs = watch.syncs()
        self.nios.clear_log()
        start = time.perf_counter()
        self.consul.set_status([item], status)
        self.wait_for(item, present)
        seconds = time.perf_counter() - start
        watch.wait_log(r"INFO sync \d+ ", timeout=60, count=syncs + 1)  # logged after its last WAPI call
        return seconds, self.wapi_calls()

    def watch_mode(self, trials):
        watch = WatchProcess(self.tmp, "watch", self.settings, collections=COLLECTIONS)
        try:
            watch.wait_log(r"INFO sync 1 ", timeout=300)
            deleted, recovered, calls = [], [], []
            for _trial in range(trials):
                item = self.pick()
                self.wait_for(item, True)
                # Failures are independent events: not within the service's rate limit of the last sync.
                time.sleep(GAP)
                seconds, wapi = self.change(watch, item, "critical", False)
                deleted.append(seconds)
                calls.append(wapi)
                time.sleep(GAP)
                seconds, wapi = self.change(watch, item, "passing", True)
                recovered.append(seconds)
                calls.append(wapi)
            syncs = watch.syncs()
            scoped = watch.count(r"Infoblox: 1 name\(s\)")
        finally:
            watch.terminate()
        return {"trials": trials, "deleted_seconds": summary(deleted), "recovered_seconds": summary(recovered),
                "syncs": syncs, "name_scoped_syncs": scoped,
                "wapi_per_change": {"reads": summary([r for r, _w in calls]),
                                    "writes": summary([w for _r, w in calls]), "changes": len(calls)}}

    def timer_mode(self, trials, period, random_delay):
        runs = []
        for _trial in range(trials):
            item = self.pick()
            self.consul.set_status([item], "critical")
            runs.append(playbooks.timed(playbooks.ZONE_SYNC, self.nios, self.settings))
            if self.present(item):
                raise RuntimeError("the zone_sync playbook ran but %s is still in the simulator" % (item,))
            self.consul.set_status([item], "passing")
            playbooks.timed(playbooks.ZONE_SYNC, self.nios, self.settings)
        run = summary(runs)
        return {"trials": trials, "period_seconds": period, "random_delay_seconds": random_delay,
                "run_seconds": run,
                "deleted_seconds": {"median": period / 2.0 + random_delay / 2.0 + run["median"],
                                    "worst": period + random_delay + run["worst"], "computed": True}}

    def measure(self, trials, timer_trials, period, random_delay, timer=True):
        self.log("convergence: watch mode, %d trials" % trials)
        out = {"records": self.services * self.consul.instances, "poll_seconds": POLL,
               "collections_path": str(COLLECTIONS), "watch": self.watch_mode(trials)}
        self.log("watch: check critical -> record deleted %s" % out["watch"]["deleted_seconds"])
        wapi = out["watch"]["wapi_per_change"]
        self.log("watch: WAPI calls per single-address change (%d changes, %d records): reads median %g max %g, "
                 "writes median %g max %g" % (wapi["changes"], out["records"], wapi["reads"]["median"],
                                              wapi["reads"]["worst"], wapi["writes"]["median"],
                                              wapi["writes"]["worst"]))
        if timer:
            self.log("convergence: timer mode, %d playbook runs" % timer_trials)
            out["timer"] = self.timer_mode(timer_trials, period, random_delay)
            self.log("timer: playbook run %s" % out["timer"]["run_seconds"])
        return out


def summary(values):
    return {"median": statistics.median(values), "worst": max(values), "best": min(values),
            "runs": [round(v, 3) for v in values]}
