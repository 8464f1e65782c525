"""The watch service's side of name-scoped runs: which syncs are full, what the health cache re-reads,
what it asks of the engine, and when the settle window of a burst starts. No Consul: the engine is a fake."""

import threading
import time

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.sync.settings import load_settings
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.watch import Trigger, ZoneWatchService


class FakeEngine(object):
    def __init__(self):
        self.runs = []
        self.publishers = []
        self.push_scopes = {}
        self.timings = {}

    def run(self, mode, holder, **kwargs):
        self.runs.append(kwargs)
        return FakeResult()

    def close(self):
        pass


class FakeResult(object):
    lock_lost = False
    outcomes = []
    report_error = None
    ok = True
    error = None


@pytest.fixture
def service(tmp_path):
    settings = load_settings({
        "consul_dns_zones": [{"name": "geant.services", "nameservers": ["ns1.geant.net."]}],
        "consul_dns_zone_dir": str(tmp_path / "zones"), "consul_dns_watch_resync": 300,
        "consul_dns_lock_enabled": False})
    service = ZoneWatchService(settings, report=False)
    service.engine = FakeEngine()
    return service


@pytest.mark.parametrize("reasons, last_full, failures, now, full", [
    ({"checks"}, 1000.0, 0, 1010.0, False),
    ({"services"}, 1000.0, 0, 1010.0, False),   # the engine still tells which names changed
    ({"damping"}, 1000.0, 0, 1010.0, False),
    ({"checks"}, None, 0, 1010.0, True),         # first sync since the lock was taken
    ({"lock acquired"}, 1000.0, 0, 1010.0, True),
    ({"checks"}, 1000.0, 1, 1010.0, True),       # after a failed or refused sync
    ({"retry"}, 1000.0, 1, 1010.0, True),
    ({"checks"}, 1000.0, 0, 1300.0, True),       # the resync period is up
    ({"resync"}, 1000.0, 0, 1300.0, True),
])
def test_which_syncs_are_full(service, reasons, last_full, failures, now, full):
    assert service._full(reasons, last_full, failures, now) is full


def test_why_a_sync_nobody_asked_for_runs(service):
    assert service._why_due(None, 0, 1000.0) == "resync"
    assert service._why_due(1000.0, 0, 1300.0) == "resync"
    assert service._why_due(1000.0, 2, 1010.0) == "retry"
    assert service._why_due(1000.0, 0, 1010.0) == "damping"


def test_the_resync_is_due_after_the_last_full_sync_not_the_last_sync(service):
    assert service._next_due([], 1000.0, 1200.0, 0) == 1300.0
    assert service._next_due([], None, 1200.0, 0) == 1500.0


@pytest.mark.parametrize("reasons, full, reread_all, scoped", [
    ({"checks"}, False, False, True),
    ({"damping"}, False, False, True),
    ({"services"}, False, True, True),   # a catalog change re-reads every service's health
    ({"checks"}, True, True, False),
    ({"lock acquired"}, True, True, False),
])
def test_what_a_sync_rereads_and_asks_of_the_engine(service, reasons, full, reread_all, scoped):
    service.health_cache.all_dirty = False
    service.sync(reasons, full=full)
    assert service.health_cache.all_dirty is reread_all
    assert service.engine.runs[-1]["scoped"] is scoped


def test_the_settle_window_starts_at_the_first_change_of_a_burst():
    trigger = Trigger()
    before = time.time()
    trigger.set("checks")
    time.sleep(0.05)
    trigger.set("services")
    reasons, first = trigger.take(0)
    assert reasons == {"checks", "services"} and before <= first <= before + 0.04
    assert trigger.take(0) == (set(), None)
    threading.Timer(0.05, trigger.set, args=("checks",)).start()
    reasons, first = trigger.take(5)
    assert reasons == {"checks"} and first is not None and first >= before + 0.05
