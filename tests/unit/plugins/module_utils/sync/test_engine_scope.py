"""The engine's name-scoped runs (watch mode): it derives the DNS names that changed since the zone it
last published and has Infoblox read and write only those, and falls back to the whole zone whenever
it cannot prove which names changed. Consul and KV are fakes here; Infoblox is the WAPI simulator's
engine in-process (tests/unit/plugins/module_utils/infoblox/sim_client.py)."""

import os

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import ConsulUnavailable
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.kv import LockLost
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.zone_file import ZoneFileError
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.engine import (
    InfobloxPublisher,
    SyncEngine,
    ZoneFilePublisher,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.settings import load_settings
from tests.unit.plugins.module_utils.infoblox.sim_client import ZONE, SimClient, a_records, add_record, new_sim


class FakeKV(object):
    """The KV calls of the damping state: get and check-and-set put."""

    def __init__(self):
        self.data = {}
        self.index = 10

    def kv_get(self, key):
        if key not in self.data:
            return 0, None, None
        index, value = self.data[key]
        return index, value, None

    def kv_put(self, key, value, cas=None, acquire=None, release=None):
        if cas is not None and self.data.get(key, (0, None))[0] != cas:
            return False
        self.index += 1
        self.data[key] = (self.index, value)
        return True


class FakeConsul(object):
    """A ConsulReader over ``{service: {instance id: (address, status)}}``."""

    def __init__(self, services):
        self.services_ = services
        self.http_calls = 0
        self.health_reads = []
        self.down = False

    def leader(self):
        self.http_calls += 1
        if self.down:
            raise ConsulUnavailable("Consul is down")
        return "127.0.0.1:8300"

    def services(self):
        self.http_calls += 1
        return dict((name, []) for name in self.services_)

    def health_of(self, names):
        self.health_reads.append(list(names))
        out = {}
        for name in names:
            self.http_calls += 1
            out[name] = [{"Node": {"Node": "n-%s" % sid, "Address": address},
                          "Service": {"ID": sid, "Service": name, "Address": address, "Tags": [], "Meta": {}},
                          "Checks": [{"CheckID": "c-%s" % sid, "Status": status}]}
                         for sid, (address, status) in sorted(self.services_[name].items())]
        return out

    def set(self, service, sid, status):
        address, _old = self.services_[service][sid]
        self.services_[service][sid] = (address, status)


class FakeLock(object):
    def __init__(self, session="s1"):
        self.session = session
        self.key = "consul-dns/lock/test"

    def check(self):
        pass

    def summary(self, acquired=True, info=None):
        return {"key": self.key, "acquired": True, "holder": "test", "since": None}


def services(count):
    return dict(("svc%02d" % n, dict(("svc%02d-%d" % (n, i), ("10.0.%d.%d" % (n, i + 1), "passing"))
                                     for i in range(2))) for n in range(count))


@pytest.fixture
def bed(tmp_path):
    settings = load_settings({
        "consul_dns_zones": [{"name": ZONE, "nameservers": ["ns1.geant.net."]}],
        "consul_dns_zone_dir": str(tmp_path / "zones"),
        "consul_dns_zone_validate": "never",
        "consul_dns_hold_down": 0,
        "consul_dns_report_file": "",
        "consul_dns_infoblox_server": "sim.invalid", "consul_dns_infoblox_username": "admin",
        "consul_dns_infoblox_password": "infoblox",
    })
    client = SimClient(new_sim())
    engine = SyncEngine(settings, kv=FakeKV(), publishers=[InfobloxPublisher(settings, client),
                                                           ZoneFilePublisher(settings)], remember=True)
    consul = FakeConsul(services(20))
    return engine, consul, client


def run(engine, consul, scoped=True, lock=None):
    return engine.run("watch", "test", lock=lock or FakeLock(), reader=consul, scoped=scoped, write_report=False)


def test_a_single_address_change_reads_and_writes_one_name(bed):
    engine, consul, client = bed
    first = run(engine, consul)
    assert first.ok and engine.push_scopes[ZONE] is None  # nothing to compare with yet: the whole zone
    assert len(a_records(client.sim)) == 20
    consul.set("svc05", "svc05-1", "critical")
    client.clear()
    result = run(engine, consul)
    assert result.ok, result.failure_message()
    assert engine.push_scopes[ZONE] == 1
    assert client.names_read() == {"svc05." + ZONE}
    assert len(client.read_calls()) == 1 and len(client.write_calls()) == 1
    assert a_records(client.sim)["svc05." + ZONE] == ["10.0.5.1"]
    push = result.outcomes[0].summary()["push"]
    assert (push["deleted"], push["unchanged"], push["created"]) == (1, 39, 0)
    with open(engine.plans[0].zone_file) as handle:
        text = handle.read()
    assert "10.0.5.1" in text and "10.0.5.2" not in text


def test_no_change_means_no_wapi_call(bed):
    engine, consul, client = bed
    run(engine, consul)
    client.clear()
    result = run(engine, consul)
    assert result.ok and engine.push_scopes[ZONE] == 0 and client.calls == []


def test_unscoped_runs_and_engines_that_do_not_remember_read_the_whole_zone(bed):
    engine, consul, client = bed
    run(engine, consul)
    consul.set("svc01", "svc01-0", "critical")
    assert run(engine, consul, scoped=False).ok and engine.push_scopes[ZONE] is None
    engine.remember = False
    consul.set("svc01", "svc01-0", "passing")
    assert run(engine, consul).ok and engine.push_scopes[ZONE] is None


def test_a_new_lock_session_means_the_whole_zone(bed):
    engine, consul, client = bed
    run(engine, consul, lock=FakeLock("s1"))
    consul.set("svc02", "svc02-0", "critical")
    assert run(engine, consul, lock=FakeLock("s2")).ok and engine.push_scopes[ZONE] is None
    consul.set("svc02", "svc02-0", "passing")
    assert run(engine, consul, lock=FakeLock("s2")).ok and engine.push_scopes[ZONE] == 1


@pytest.mark.parametrize("overlap", [False, True], ids=["in-turn", "overlapped"])
@pytest.mark.parametrize("fault", ["consul", "wapi", "refused", "zone_file"])
def test_after_a_failed_or_refused_run_the_next_one_reads_the_whole_zone(bed, fault, overlap, monkeypatch):
    engine, consul, client = bed
    engine.overlap = overlap
    run(engine, consul)
    before = a_records(client.sim)
    flipped = [("svc03", "svc03-0")]
    if fault == "consul":
        consul.down = True
    elif fault == "wapi":
        client.sim.faults.fail_request_item(0, count=1, status=400, code="Client.Ibap.Data", text="simulated")
    elif fault == "refused":
        flipped = [("svc%02d" % n, "svc%02d-0" % n) for n in range(13)]  # 13 of 40: over Infoblox's 30 %
    else:
        def reject(*_args, **_kwargs):
            raise ZoneFileError("named-checkzone rejected the new zone")
        monkeypatch.setattr(engine.publishers[1], "stage", reject)
    for service, sid in flipped:
        consul.set(service, sid, "critical")
    failed = run(engine, consul)
    assert not failed.ok
    assert failed.outcomes[0].failed_step == {"consul": "records", "zone_file": "zone_file"}.get(fault, "push")
    assert a_records(client.sim) == before  # nothing of the failed run is visible
    consul.down = False
    monkeypatch.undo()
    if fault == "refused":
        for service, sid in flipped:
            if service != "svc03":
                consul.set(service, sid, "passing")
    client.clear()
    healed = run(engine, consul)
    assert healed.ok, healed.failure_message()
    assert engine.push_scopes[ZONE] is None  # the whole zone again
    assert a_records(client.sim)["svc03." + ZONE] == ["10.0.3.2"]


def test_hand_made_drift_on_another_name_waits_for_the_full_reconcile(bed):
    engine, consul, client = bed
    run(engine, consul)
    add_record(client.sim, "svc09", "10.9.9.9")  # owned, not in Consul: a drift
    consul.set("svc01", "svc01-0", "critical")
    assert run(engine, consul).ok and engine.push_scopes[ZONE] == 1
    assert "10.9.9.9" in a_records(client.sim)["svc09." + ZONE]
    assert run(engine, consul, scoped=False).ok
    assert a_records(client.sim)["svc09." + ZONE] == ["10.0.9.1", "10.0.9.2"]


def test_a_lost_lock_forgets_everything(bed):
    engine, consul, _client = bed
    run(engine, consul)
    assert ZONE in engine._published

    class Lost(FakeLock):
        def check(self):
            raise LockLost("lost")

    consul.set("svc01", "svc01-0", "critical")
    result = run(engine, consul, lock=Lost())
    assert result.lock_lost and engine._published == {}


@pytest.mark.parametrize("failing", ["push", "zone_file", "both"])
def test_overlapped_stages_fail_as_in_turn_and_leave_no_candidate(bed, failing, monkeypatch):
    engine, consul, client = bed
    engine.overlap = True
    run(engine, consul)
    before = a_records(client.sim)
    zone_dir = os.path.dirname(engine.plans[0].zone_file)
    consul.set("svc06", "svc06-0", "critical")
    if failing in ("push", "both"):
        client.unavailable = 1
    if failing in ("zone_file", "both"):
        original = engine.publishers[1].stage

        def reject(*args, **kwargs):
            original(*args, **kwargs).discard()
            raise ZoneFileError("named-checkzone rejected the new zone")
        monkeypatch.setattr(engine.publishers[1], "stage", reject)
    result = run(engine, consul)
    outcome = result.outcomes[0]
    assert not result.ok and outcome.failed_step == ("zone_file" if failing == "zone_file" else "push")
    assert a_records(client.sim) == before
    assert [n for n in os.listdir(zone_dir) if n.endswith(".tmp")] == []  # the candidate was discarded
    monkeypatch.undo()
    assert run(engine, consul).ok and engine.push_scopes[ZONE] is None
    assert a_records(client.sim)["svc06." + ZONE] == ["10.0.6.2"]


def test_the_damping_state_is_decoded_again_only_when_someone_else_wrote_it(bed, monkeypatch):
    from ansible_collections.geant.consul_dns.plugins.module_utils.damping import state_store

    engine, consul, _client = bed
    decoded = []
    original = state_store.state_from_text
    monkeypatch.setattr(state_store, "state_from_text", lambda text: decoded.append(1) or original(text))
    run(engine, consul)  # no state yet: bootstrap, then saved
    consul.set("svc01", "svc01-0", "critical")
    assert run(engine, consul).ok and decoded == []  # the state this engine saved, by its ModifyIndex
    key = "consul-dns/state/%s" % ZONE
    index, value = engine.kv.data[key]
    engine.kv.kv_put(key, value)  # another writer (same content, new ModifyIndex)
    consul.set("svc01", "svc01-0", "passing")
    result = run(engine, consul)
    assert result.ok and decoded == [1]
    assert result.outcomes[0].summary()["added"] == 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the thread's death, on purpose
def test_an_overlapped_stage_that_dies_is_never_taken_for_staged(bed, monkeypatch):
    engine, consul, client = bed
    engine.overlap = True
    run(engine, consul)
    zone_file = engine.plans[0].zone_file
    with open(zone_file) as handle:
        text = handle.read()

    def dies(*_args, **_kwargs):
        raise SystemExit("gone")  # not an Exception: ends the thread without a result
    monkeypatch.setattr(engine.publishers[0], "stage", dies)
    consul.set("svc07", "svc07-0", "critical")
    result = run(engine, consul)
    assert not result.ok and result.outcomes[0].failed_step == "push"
    assert "staging push did not finish" in result.outcomes[0].error
    with open(zone_file) as handle:
        assert handle.read() == text  # the zone file was staged, then discarded
