"""The zone sync job against a real 3-server Consul cluster with two client agents and the WAPI
simulator: flap suppression, hold-down, all-failing policies, quorum loss, and the one-writer lock.

Each test registers its own services on prod-crowd01 (1.1.1.10) and prod-crowd02 (1.1.1.11), publishes
its own zone, and uses its own lock key, so the tests share the module's cluster without sharing state.
The sync talks to the client agent prod-crowd01, as a sync on a Consul host talks to its local agent.
Times are short (hold-down 2 s, half-life 30 s, session TTL 10 s) and every wait has a deadline;
the flap test counts falls with a half-life long enough that slow runs do not change the count.
"""

import time

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import ConsulReader, ConsulUnavailable
from tests.integration.zone_sync_bed import (
    SyncBed,
    failure_messages,
    lock_message,
    lock_skipped,
    nios_addresses,
    nios_create_zone,
    nios_writes,
    records_result,
    sync_result,
)

pytestmark = [pytest.mark.consul, pytest.mark.slow, pytest.mark.client_library]

HOSTS = {"prod-crowd01": "1.1.1.10", "prod-crowd02": "1.1.1.11"}
A, B = "1.1.1.10", "1.1.1.11"
DAMPING = {"consul_dns_hold_down": 2, "consul_dns_grace": 0, "consul_dns_flap_half_life": 30,
           "consul_dns_flap_max_suppress": 90}


def register(cluster, service, meta=None):
    for host, address in HOSTS.items():
        cluster.clients[host].register_service({
            "Name": service, "ID": "%s-%s" % (service, host), "Address": address, "Meta": meta or {},
            "Check": {"CheckID": "%s-%s" % (service, host), "TTL": "10m", "Status": "passing"}})


STATUS = {"pass": "passing", "warn": "warning", "fail": "critical"}


def set_check(cluster, service, host, status, wait=True):
    """Move a TTL check and wait until the catalog (read through the sync's agent) shows it."""
    check_id = "%s-%s" % (service, host)
    cluster.clients[host].set_ttl_check(check_id, status)
    if not wait:
        return

    def visible():
        checks = cluster.clients["prod-crowd01"].api("GET", "/v1/health/checks/%s" % service)
        return any(c["CheckID"] == check_id and c["Status"] == STATUS[status] for c in checks)
    cluster.wait_for(visible, 30, "check %s never became %s in the catalog" % (check_id, status))


def make_bed(cluster, tmp_path, nios, zone, services, lock, **overrides):
    nios_create_zone(nios, zone)
    zones = [{"name": zone, "nameservers": ["ns1.geant.net."], "services": services}]
    settings = dict(DAMPING, consul_dns_lock_key="consul-dns/lock/%s" % lock)
    settings.update(overrides)
    return SyncBed(cluster.clients["prod-crowd01"].http_url, tmp_path, zones, nios=nios, **settings)


def fqdn(name, zone):
    return "%s.%s" % (name, zone)


def test_flapping_check_is_suppressed_and_stays_out(consul_cluster, wapi_simulator, tmp_path):
    cluster, nios, zone = consul_cluster, wapi_simulator, "flap.geant.services"
    register(cluster, "flap")
    register(cluster, "steady")
    # A long half-life makes the count independent of how fast the runs are: three falls suppress.
    sync = make_bed(cluster, tmp_path, nios, zone, ["flap", "steady"], "flap",
                    consul_dns_flap_half_life=300, consul_dns_flap_max_suppress=900)
    assert records_result(sync.run())["published"] == {"flap": [A, B], "steady": [A, B]}

    set_check(cluster, "flap", "prod-crowd02", "fail")
    assert records_result(sync.run())["withdrawn"] == [{"name": "flap", "address": B, "reason": "failing"}]
    assert nios_addresses(nios, zone)[fqdn("flap", zone)] == [A]
    nios.sim.log.clear()

    # The check flips at every run; each fall is a flap (penalty 1000): the third takes the figure
    # over 2000.
    suppressed = []
    for _attempt in range(3):
        set_check(cluster, "flap", "prod-crowd02", "pass")
        result = records_result(sync.run())
        assert result["published"]["flap"] == [A]
        set_check(cluster, "flap", "prod-crowd02", "fail")
        result = records_result(sync.run())
        assert result["published"]["flap"] == [A]
        suppressed = result["suppressed"]
        if suppressed:
            break
    assert [(s["name"], s["address"]) for s in suppressed] == [("flap", B)]
    assert suppressed[0]["flaps"] >= 3 and suppressed[0]["penalty"] > 2000

    # Healthy and stable well past the hold-down: still suppressed, still out.
    set_check(cluster, "flap", "prod-crowd02", "pass")
    passed_at = time.time()
    records_result(sync.run())
    time.sleep(max(0.0, passed_at + 2.5 - time.time()))
    result = records_result(sync.run())
    assert result["published"]["flap"] == [A]
    assert result["suppressed"][0]["healthy"] is True and result["suppressed"][0]["reuse_in"] > 0
    assert any("flap 1.1.1.11 suppressed (flapping" in line for line in result["report"])
    assert nios_writes(nios) == []  # no WAPI write for any of the flips
    assert nios_addresses(nios, zone)[fqdn("flap", zone)] == [A]
    assert "1.1.1.11" not in [line.split()[-1] for line in sync.zone_text(zone).splitlines()
                              if line.startswith("flap")]


def test_stable_recovery_comes_back_after_hold_down(consul_cluster, wapi_simulator, tmp_path):
    cluster, nios, zone = consul_cluster, wapi_simulator, "recover.geant.services"
    register(cluster, "recover")
    register(cluster, "steady")
    sync = make_bed(cluster, tmp_path, nios, zone, ["recover", "steady"], "recover")
    sync.run()
    set_check(cluster, "recover", "prod-crowd02", "fail")
    assert records_result(sync.run())["published"]["recover"] == [A]
    assert nios_addresses(nios, zone)[fqdn("recover", zone)] == [A]

    set_check(cluster, "recover", "prod-crowd02", "pass")
    recovered_at = time.time()
    result = records_result(sync.run())
    if result["published"]["recover"] == [A]:  # the usual case: the run came within the hold-down
        assert [p["address"] for p in result["pending"]] == [B]
        assert nios_addresses(nios, zone)[fqdn("recover", zone)] == [A]
    time.sleep(max(0.0, recovered_at + 2.5 - time.time()))
    result = records_result(sync.run())
    assert result["published"]["recover"] == [A, B]
    assert result["suppressed"] == [] and result["pending"] == []
    assert nios_addresses(nios, zone)[fqdn("recover", zone)] == [A, B]


def test_all_failing_service_under_each_policy(consul_cluster, wapi_simulator, tmp_path):
    cluster, nios = consul_cluster, wapi_simulator
    register(cluster, "keepsvc", meta={"dns_all_failing": "keep"})
    register(cluster, "optout", meta={"dns_all_failing": "withdraw"})
    register(cluster, "plain")
    register(cluster, "steady")
    zones = [
        # Zone-level withdraw; keepsvc's service meta says keep.
        {"name": "policy-a.geant.services", "nameservers": ["ns1.geant.net."], "all_failing": "withdraw",
         "services": ["keepsvc", "plain", "steady"]},
        # The global default (consul_dns_all_failing) is keep here; optout's meta says withdraw.
        {"name": "policy-b.geant.services", "nameservers": ["ns1.geant.net."],
         "services": ["plain", "optout", "steady"]},
    ]
    for zone in zones:
        nios_create_zone(nios, zone["name"])
    sync = SyncBed(cluster.clients["prod-crowd01"].http_url, tmp_path, zones, nios=nios,
                   consul_dns_all_failing="keep", consul_dns_lock_key="consul-dns/lock/policy", **DAMPING)
    assert sync.run().rc == 0
    for service in ("keepsvc", "optout", "plain"):
        for host in HOSTS:
            set_check(cluster, service, host, "fail")
    result = sync.run()
    a = records_result(result, "policy-a.geant.services")
    b = records_result(result, "policy-b.geant.services")
    assert a["published"] == {"keepsvc": [A, B], "steady": [A, B]}
    assert sorted((w["name"], w["address"]) for w in a["withdrawn"]) == [("plain", A), ("plain", B)]
    assert sorted((k["name"], k["address"]) for k in a["kept"]) == [("keepsvc", A), ("keepsvc", B)]
    assert b["published"] == {"plain": [A, B], "steady": [A, B]}
    assert sorted((w["name"], w["address"]) for w in b["withdrawn"]) == [("optout", A), ("optout", B)]
    assert nios_addresses(nios, "policy-a.geant.services") == {
        "keepsvc.policy-a.geant.services": [A, B], "steady.policy-a.geant.services": [A, B]}
    assert nios_addresses(nios, "policy-b.geant.services") == {
        "plain.policy-b.geant.services": [A, B], "steady.policy-b.geant.services": [A, B]}
    assert "plain" not in sync.zone_text("policy-a.geant.services")
    assert "optout" not in sync.zone_text("policy-b.geant.services")


def test_two_syncs_at_once_exactly_one_pushes(consul_cluster, wapi_simulator, tmp_path):
    cluster, nios, zone = consul_cluster, wapi_simulator, "race.geant.services"
    register(cluster, "race")
    sync = make_bed(cluster, tmp_path, nios, zone, ["race"], "race")
    nios.sim.log.clear()
    # The holder keeps the lock until the other run has ended (25 s at most: under the 30 s WAPI read
    # timeout), however far apart the two ansible-playbook start-ups are under load.
    nios.sim.faults.add_latency(25, count=1, method="GET")
    runs = [sync.start(consul_dns_lock_holder="runner-%d" % i) for i in (1, 2)]
    try:
        for _attempt in range(1200):
            if any(run.proc.poll() is not None for run in runs):
                break
            time.sleep(0.1)
        nios.sim.faults.end_latency()
        results = [run.wait() for run in runs]
    finally:
        nios.sim.faults.end_latency()
        for run in runs:
            run.close()
    nios.sim.faults.clear()
    assert [r.rc for r in results] == [0, 0], results
    pushed = [r for r in results if not lock_skipped(r)]
    skipped = [r for r in results if lock_skipped(r)]
    assert len(pushed) == 1 and len(skipped) == 1, results
    holder = sync_result(pushed[0])["holder"]
    assert "is held by %s" % holder in lock_message(skipped[0])
    assert len([e for e in nios_writes(nios) if e["kind"] == "request"]) == 1
    assert nios_addresses(nios, zone) == {fqdn("race", zone): [A, B]}


def lock_session(cluster, key):
    server = cluster.clients["prod-crowd01"]
    items = server.api("GET", "/v1/kv/%s" % key)
    return items[0].get("Session") if items else None


def test_dead_lock_holder_is_released_by_session_ttl(consul_cluster, wapi_simulator, tmp_path):
    cluster, nios, zone = consul_cluster, wapi_simulator, "dead.geant.services"
    register(cluster, "dead")
    key = "consul-dns/lock/dead"
    # TTL 20 s: the next run must start while the dead holder's session still lives (at least TTL minus
    # one renewal period after the kill); ansible-playbook's start-up alone can take seconds under load.
    sync = make_bed(cluster, tmp_path, nios, zone, ["dead"], "dead", consul_dns_lock_ttl=20)
    nios.sim.log.clear()
    hang = nios.sim.faults.add_latency(45, count=1)  # the holder hangs in its first WAPI call
    holder = sync.start(consul_dns_lock_holder="doomed-runner")
    try:
        cluster.wait_for(lambda: lock_session(cluster, key), 60, "the first run never took the lock")
        # The rule is used up when the call starts; the simulator logs a call only once it is answered,
        # 45 s later, and by then the holder could have finished and released the lock.
        cluster.wait_for(lambda: hang.count == 0, 60, "the first run never reached Infoblox")
        assert not nios.sim.log.entries()
        holder.kill()  # dies holding the lock, inside its first WAPI call: nobody releases it
    finally:
        holder.close()
    nios.sim.faults.clear()

    blocked = sync.run()
    assert lock_skipped(blocked), blocked
    assert "held by doomed-runner" in lock_message(blocked)

    # Consul invalidates the session once its TTL (20 s, Consul allows itself up to twice that) ran out.
    cluster.wait_for(lambda: lock_session(cluster, key) is None, 90, "the dead holder's lock was never released")
    result = sync.run()
    assert records_result(result)["published"] == {"dead": [A, B]}
    assert nios_addresses(nios, zone) == {fqdn("dead", zone): [A, B]}


def _leaderless(cluster):
    try:
        ConsulReader(cluster.clients["prod-crowd01"].http_url, timeout=3).leader()
    except ConsulUnavailable:
        return True
    return False


def test_quorum_loss_refuses_and_changes_nothing(consul_cluster, wapi_simulator, tmp_path):
    cluster, nios, zone = consul_cluster, wapi_simulator, "quorum.geant.services"
    register(cluster, "quorum")
    sync = make_bed(cluster, tmp_path, nios, zone, ["quorum"], "quorum", consul_dns_max_shrink_ratio=0.6)
    assert sync.run().rc == 0
    third, second = cluster.servers[2], cluster.servers[1]
    third.kill()
    try:
        cluster.wait_for(cluster.has_leader, 30, "no leader after losing one server")
        set_check(cluster, "quorum", "prod-crowd02", "fail")
        result = records_result(sync.run())  # one server down: the syncs go on
        assert result["published"] == {"quorum": [A]}
        assert nios_addresses(nios, zone) == {fqdn("quorum", zone): [A]}

        # A change the next sync would publish, made while there is still a leader.
        set_check(cluster, "quorum", "prod-crowd02", "pass")
        second.kill()
        try:
            cluster.wait_for(lambda: _leaderless(cluster), 60, "the cluster kept a leader with one server of three")
            before, nios_before = sync.zone_text(zone), nios_addresses(nios, zone)
            nios.sim.log.clear()
            refused = sync.run()
            assert refused.rc != 0, refused
            assert "leader" in " ".join(failure_messages(refused)), failure_messages(refused)
            assert sync.zone_text(zone) == before
            assert nios_addresses(nios, zone) == nios_before == {fqdn("quorum", zone): [A]}
            assert nios_writes(nios) == []
        finally:
            second.start()
            second.wait_http()
    finally:
        third.start()
        third.wait_http()
    cluster.wait_for(cluster.has_leader, 60, "no leader after the servers came back")
    cluster.wait_for(lambda: not _leaderless(cluster), 60, "the client agent sees no leader")
    # Syncs resume and publish the change held back while there was no quorum (after its hold-down).
    cluster.wait_for(lambda: sync.run().rc == 0 and nios_addresses(nios, zone) == {fqdn("quorum", zone): [A, B]},
                     90, "sync does not publish again after the quorum came back")
