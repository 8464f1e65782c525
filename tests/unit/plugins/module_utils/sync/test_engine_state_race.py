"""A damping state corrupted between the engine's state write and its read-back of the key's ModifyIndex
(the chaos soak's ``state_silent``, seed 567665779): the next run must read the corrupt value and warn,
never take it for the state it saved and overwrite it unread."""

from ansible_collections.geant.consul_dns.plugins.module_utils.damping.state_store import StateStore
from tests.unit.plugins.module_utils.infoblox.sim_client import ZONE
from tests.unit.plugins.module_utils.sync import test_engine_scope as scope
from tests.unit.plugins.module_utils.sync.test_engine_scope import FakeKV, run

bed = scope.bed  # the fixture: an engine that remembers, fake Consul and KV, the WAPI simulator

CORRUPT = '{"version": 99, "addresses": {}}'


def corrupt_after_next_state_write(kv):
    """The next write of the state key (by ``kv``, a FakeKV) is followed at once by someone else's write
    of ``CORRUPT`` - before the writer reads the key back. Returns a list that holds True once done."""
    done = []
    put = kv.kv_put

    def kv_put(key, value, cas=None, acquire=None, release=None):
        applied = put(key, value, cas=cas, acquire=acquire, release=release)
        if applied and not done and key.startswith("consul-dns/state/"):
            done.append(put(key, CORRUPT))
        return applied
    kv.kv_put = kv_put
    return done


def state_key(engine):
    return StateStore.key_for(engine.settings["state_prefix"], ZONE)


def test_a_corruption_landing_right_after_the_state_write_is_read_and_warned_about(bed):
    engine, consul, _client = bed
    first = run(engine, consul)
    assert first.ok, first.failure_message()
    kv = engine.kv
    corrupted = corrupt_after_next_state_write(kv)
    consul.set("svc05", "svc05-1", "critical")
    second = run(engine, consul)
    assert second.ok, second.failure_message()
    assert corrupted == [True] and kv.kv_get(state_key(engine))[1] == CORRUPT

    consul.set("svc06", "svc06-1", "critical")
    third = run(engine, consul)
    assert third.ok, third.failure_message()
    warnings = third.outcomes[0].warnings
    assert any("is unreadable" in w for w in warnings), warnings
    assert kv.kv_get(state_key(engine))[1] != CORRUPT  # rebuilt, and said so


def test_save_remembers_only_its_own_value():
    kv = FakeKV()
    store = StateStore(kv, "consul-dns/state", ZONE)
    assert store.load()[0] is None
    state = {"version": 1, "addresses": {}}
    assert store.save(state, ZONE, "test") == kv.kv_get(store.key)[0]
    assert store.loaded == state and store.unchanged(state)
    corrupt_after_next_state_write(kv)
    assert store.save({"version": 1, "addresses": {"a/10.0.0.1": {}}}, ZONE, "test") is None
    assert store.loaded is None and not store.unchanged(state)
    loaded, warnings = StateStore(kv, "consul-dns/state", ZONE).load()
    assert loaded is None and "is unreadable" in warnings[0]
