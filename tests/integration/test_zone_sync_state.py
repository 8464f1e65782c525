"""consul_state and damped_zone against a real dev agent: CAS state, session lock, meta policies."""

import os

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.consul import client as consul_api
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.kv import (
    ConsulKV,
    ConsulLock,
    LockLost,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.state_store import StateConflict, StateStore
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.decision import (
    ShrinkGuard,
    ZoneShrinkRefused,
    decide,
    observe,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.flap import DampingConfig, empty_state
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.healthy_instances import ServiceSelection

pytestmark = [pytest.mark.consul, pytest.mark.client_library]

ZONE = "geant.services"


def test_library_under_test():
    assert consul_api.library_name() == os.environ.get("CONSUL_DNS_EXPECT_LIBRARY", "python-consul2")


def test_state_store_cas_missing_and_corrupt(consul_dev):
    kv = ConsulKV(consul_dev.http_url)
    store = StateStore(kv, "/consul-dns/state/", ZONE)
    assert store.key == "consul-dns/state/geant.services"
    state, warnings = store.load()
    assert state is None and "no damping state" in warnings[0]

    first = {"version": 1, "addresses": {"crowd/1.1.1.10": {
        "healthy": True, "since": 1.0, "published": True, "penalty": 0.0, "penalty_at": 1.0,
        "suppressed": False, "flaps": 0}}}
    store.save(first, ZONE, "test")
    stored = consul_dev.api("GET", "/v1/kv/consul-dns/state/geant.services?raw")
    assert stored["addresses"] == first["addresses"] and stored["updated_by"] == "test"

    other = StateStore(kv, "consul-dns/state", ZONE)
    assert other.load()[0]["addresses"] == first["addresses"]
    assert other.unchanged(first)
    # A concurrent writer saved in between: the stale one loses its check-and-set.
    store.save(empty_state(), ZONE, "test")
    with pytest.raises(StateConflict, match="check-and-set"):
        other.save(first, ZONE, "other")

    consul_dev.api("PUT", "/v1/kv/consul-dns/state/geant.services", data="{not json")
    state, warnings = other.load()
    assert state is None and "unreadable" in warnings[0]
    other.save(first, ZONE, "other")  # a corrupt key is overwritten with its own ModifyIndex
    assert other.load()[0]["addresses"] == first["addresses"]


def test_large_state_is_stored_compressed_under_consuls_value_limit(consul_dev):
    """10,000 addresses are ~1.6 MB of JSON, over Consul's kv_max_value_size (512 KiB)."""
    kv = ConsulKV(consul_dev.http_url)
    store = StateStore(kv, "consul-dns/state", ZONE)
    store.load()
    big = {"version": 1, "addresses": dict(
        ("svc%05d/10.0.%d.%d" % (i // 4, i >> 8 & 255, i & 255),
         {"healthy": True, "since": 1764051234.5 + i, "published": True, "penalty": 0.0,
          "penalty_at": 1764051234.5, "suppressed": False, "flaps": 0}) for i in range(10000))}
    store.save(big, ZONE, "test")
    raw = consul_dev.api("GET", "/v1/kv/consul-dns/state/geant.services?raw")
    assert raw["encoding"] == "zlib+base64" and raw["addresses_count"] == 10000 and raw["updated_by"] == "test"
    loaded, warnings = StateStore(kv, "consul-dns/state", ZONE).load()
    assert warnings == [] and loaded["addresses"] == big["addresses"]


def test_lock_one_holder_release_and_fencing(consul_dev):
    kv = ConsulKV(consul_dev.http_url)
    lock = ConsulLock(kv, "consul-dns/lock/test")
    acquired, session, info = lock.acquire("runner-a", ttl=10, lock_delay=0)
    assert acquired and info["holder"] == "runner-a"
    again, none, holder = ConsulLock(kv, "consul-dns/lock/test").acquire("runner-b", ttl=10, lock_delay=0)
    assert not again and none is None
    assert holder["holder"] == "runner-a" and holder["session"] == session
    assert len(consul_dev.api("GET", "/v1/session/list")) == 1  # runner-b's session was destroyed
    lock.check(session)
    assert lock.release(session)
    assert consul_dev.api("GET", "/v1/session/list") == []
    with pytest.raises(LockLost, match="expired or was destroyed"):
        lock.check(session)
    assert not lock.release(session)
    acquired, session_b, _info = ConsulLock(kv, "consul-dns/lock/test").acquire("runner-b", ttl=10, lock_delay=0)
    assert acquired  # released, not invalidated: no lock-delay
    lock.release(session_b)


def test_lock_arguments_checked(consul_dev):
    lock = ConsulLock(ConsulKV(consul_dev.http_url), "consul-dns/lock/test")
    with pytest.raises(ValueError, match="TTL"):
        lock.acquire("x", ttl=5)
    with pytest.raises(ValueError, match="lock delay"):
        lock.acquire("x", ttl=10, lock_delay=61)


def _register(agent, name, sid, address, status="passing", meta=None):
    agent.register_service({"Name": name, "ID": sid, "Address": address, "Meta": meta or {},
                            "Check": {"CheckID": sid, "TTL": "10m", "Status": status}})


def test_observe_policies_and_shrink_guard(consul_dev):
    _register(consul_dev, "crowd", "crowd1", "1.1.1.10")
    _register(consul_dev, "crowd", "crowd2", "1.1.1.11", status="critical")
    _register(consul_dev, "cacti", "cacti1", "1.1.1.20", meta={"dns_all_failing": "keep"})
    _register(consul_dev, "bod", "bod1", "1.1.1.30", meta={"dns_all_failing": "keep"})
    _register(consul_dev, "bod", "bod2", "1.1.1.31", meta={"dns_all_failing": "withdraw"})
    _register(consul_dev, "web", "web1", "1.1.1.40", meta={"dns_all_failing": "sometimes"})
    observed = observe(ConsulKV(consul_dev.http_url), ServiceSelection(), ZONE)
    assert observed.observations == {("crowd", "1.1.1.10"): True, ("crowd", "1.1.1.11"): False,
                                     ("cacti", "1.1.1.20"): True, ("bod", "1.1.1.30"): True,
                                     ("bod", "1.1.1.31"): True, ("web", "1.1.1.40"): True}
    assert observed.policies == {"cacti": "keep", "bod": "withdraw"}
    assert any("sometimes" in w for w in observed.warnings)

    config = DampingConfig(hold_down=0)
    first = decide(observed, None, 100.0, config)
    assert [(r.name, r.value) for r in first.records] == [
        ("bod", "1.1.1.30"), ("bod", "1.1.1.31"), ("cacti", "1.1.1.20"), ("crowd", "1.1.1.10"), ("web", "1.1.1.40")]
    # Everything fails: cacti is kept by its meta; the rest goes, which is more than half of the zone.
    for sid in ("crowd1", "cacti1", "bod1", "bod2", "web1"):
        consul_dev.set_ttl_check(sid, "fail")
    observed = observe(ConsulKV(consul_dev.http_url), ServiceSelection(), ZONE)
    with pytest.raises(ZoneShrinkRefused, match="would lose 4 of its 5 published"):
        decide(observed, first.damping.state, 101.0, config)
    forced = decide(observed, first.damping.state, 101.0, config, guard=ShrinkGuard(force=True))
    assert forced.damping.published == {"cacti": ["1.1.1.20"]}
    assert forced.damping.kept == [{"name": "cacti", "address": "1.1.1.20"}]
    assert any(w.startswith("forced:") for w in forced.warnings)
    assert decide(observed, first.damping.state, 101.0, config, guard=ShrinkGuard(max_shrink_ratio=0.8))
    # A lost or unreadable state does not switch the guard off: what the last zone file published stands in
    # (all 5 lost: without a state there is nothing for cacti's keep policy to keep).
    with pytest.raises(ZoneShrinkRefused, match=r"would lose 5 of its 5 .*compared with the last zone file"):
        decide(observed, None, 101.0, config, fallback_published=lambda: first.damping.published)
    # No zone file of its own either: a start from scratch, nothing to compare with.
    assert decide(observed, None, 101.0, config, fallback_published=lambda: None).damping.published == {}

    def never(*_args):
        raise AssertionError("the zone file is read only when there is no state")
    with pytest.raises(ZoneShrinkRefused, match="compared with the damping state"):
        decide(observed, first.damping.state, 101.0, config, fallback_published=never)
