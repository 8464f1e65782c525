"""Watch mode (consul-dns-zone-watch) against a real 3-server Consul cluster with two client agents and
the WAPI simulator: changes reach Infoblox without a timer, the damping still holds, only the lock
holder writes, and a standby takes over when the holder stops or dies.

Every wait has a generous deadline; how fast it converges is measured by the benchmark
(bench/run.sh, "convergence"), not asserted here.
"""

import json
import time

import pytest

from tests.integration.test_zone_sync_cluster import A, B, HOSTS, register, set_check
from tests.integration.zone_sync_bed import nios_addresses, nios_create_zone, nios_writes
from tests.integration.zone_watch_bed import (
    WatchProcess,
    names_in,
    register_external,
    sim_a_records,
    wait_until,
    wapi_calls,
)

pytestmark = [pytest.mark.consul, pytest.mark.slow, pytest.mark.client_library]


def settings(cluster, nios, tmp_path, zone, services, lock, agent="prod-crowd01", **overrides):
    if not nios.sim.store.has_zone("default", zone):
        nios_create_zone(nios, zone)
    values = {
        "consul_dns_consul_address": cluster.clients[agent].http_url,
        "consul_dns_zones": [{"name": zone, "nameservers": ["ns1.geant.net."], "services": services}],
        "consul_dns_zone_dir": str(tmp_path / "zones"),
        "consul_dns_zone_validate": "never",
        "consul_dns_hold_down": 0,
        "consul_dns_lock_key": "consul-dns/lock/%s" % lock,
        "consul_dns_lock_delay": 1,
        "consul_dns_watch_lock_ttl": 10,
        "consul_dns_state_prefix": "consul-dns/state-%s" % lock,
        "consul_dns_infoblox_server": nios.host, "consul_dns_infoblox_username": nios.username,
        "consul_dns_infoblox_password": nios.password, "consul_dns_infoblox_ca_path": nios.ca_path,
    }
    values.update(overrides)
    (tmp_path / "zones").mkdir(exist_ok=True)
    return values


def report(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def addresses(nios, zone, name):
    return nios_addresses(nios, zone).get("%s.%s" % (name, zone), [])


@pytest.fixture
def watches():
    started = []
    yield started
    for watch in started:
        watch.close()


def test_check_changes_reach_infoblox_without_a_timer(consul_cluster, wapi_simulator, tmp_path, watches):
    cluster, nios, zone = consul_cluster, wapi_simulator, "watch.geant.services"
    register(cluster, "wcrowd")
    register(cluster, "wsteady")
    metrics = tmp_path / "textfile" / "consul_dns.prom"
    watch = WatchProcess(tmp_path, "watch", settings(cluster, nios, tmp_path, zone, ["wcrowd", "wsteady"], "watch",
                                                     consul_dns_watch_resync=3600,
                                                     consul_dns_metrics_file=str(metrics)))
    watches.append(watch)
    wait_until(lambda: addresses(nios, zone, "wcrowd") == [A, B], 30, "first sync never published both")

    set_check(cluster, "wcrowd", "prod-crowd02", "fail", wait=False)
    wait_until(lambda: addresses(nios, zone, "wcrowd") == [A], 15, "failed instance not withdrawn")
    zone_text = (tmp_path / "zones" / ("%s.zone" % zone)).read_text()
    assert "wcrowd 300 IN A 1.1.1.10" in zone_text and "wcrowd 300 IN A 1.1.1.11" not in zone_text
    # The same report as the playbook's (consul_dns_report_file auto: next to the zone folder), mode watch.
    wait_until(lambda: report(tmp_path / "last_sync.json").get("totals", {}).get("records") == 3, 10,
               "report not written")
    summary = report(tmp_path / "last_sync.json")
    assert summary["mode"] == "watch" and summary["success"] and summary["lock"]["acquired"]
    assert summary["zones"][zone]["withdrawn"] == 1 and summary["zones"][zone]["push"]["deleted"] == 1
    # The metrics file is written after the report: wait for it too rather than read it at once.
    wait_until(lambda: 'consul_dns_zone_records{zone="%s"} 3' % zone in metrics.read_text(), 10,
               "metrics not written")
    assert "consul_dns_sync_success 1" in metrics.read_text()

    # The withdrawal's own log line (sync 2) comes after its metrics: counted before the recovery, or the
    # wait below could take it for the recovery's.
    wait_until(lambda: watch.syncs() >= 2, 10, "withdrawal sync never logged")
    before_recovery = watch.syncs()
    set_check(cluster, "wcrowd", "prod-crowd02", "pass", wait=False)
    wait_until(lambda: addresses(nios, zone, "wcrowd") == [A, B], 15, "recovered instance not published")
    # The sync's log line comes after its WAPI writes (report and state are written in between).
    wait_until(lambda: watch.syncs() > before_recovery, 10, "recovery sync never logged")

    # A check's output changing while its status stays is no change: no sync, no WAPI write.
    syncs = watch.syncs()
    nios.sim.log.clear()
    for note in ("still fine", "fine again", "fine"):
        cluster.clients["prod-crowd02"].set_ttl_check("wcrowd-prod-crowd02", "pass", note=note)
    time.sleep(2)
    assert watch.syncs() == syncs, watch.log()[-2000:]
    assert nios_writes(nios) == []

    # An instance without checks changes the catalog only (no check moves): it is picked up too.
    extra = {"Name": "wcrowd", "ID": "wcrowd-extra", "Address": "1.1.1.12"}
    cluster.clients["prod-crowd02"].register_service(extra)
    wait_until(lambda: addresses(nios, zone, "wcrowd") == [A, B, "1.1.1.12"], 15, "new instance not published")
    cluster.clients["prod-crowd02"].api("PUT", "/v1/agent/service/deregister/wcrowd-extra")
    wait_until(lambda: addresses(nios, zone, "wcrowd") == [A, B], 15, "removed instance still published")

    assert watch.terminate() == 0
    assert "lock consul-dns/lock/watch released" in watch.log()


def test_damping_and_shrink_guard_hold_in_watch_mode(consul_cluster, wapi_simulator, tmp_path, watches):
    cluster, nios, zone = consul_cluster, wapi_simulator, "watchdamp.geant.services"
    for service in ("wd1", "wd2", "wd3"):
        register(cluster, service)
    watch = WatchProcess(tmp_path, "damp", settings(cluster, nios, tmp_path, zone, ["wd1", "wd2", "wd3"], "damp",
                                                    consul_dns_hold_down=3, consul_dns_watch_resync=3600))
    watches.append(watch)
    wait_until(lambda: addresses(nios, zone, "wd1") == [A, B], 30, "first sync never published")

    set_check(cluster, "wd1", "prod-crowd02", "fail", wait=False)
    wait_until(lambda: addresses(nios, zone, "wd1") == [A], 15, "failed instance not withdrawn")

    # Recovery waits out the hold-down, and the service wakes for it with no Consul change.
    set_check(cluster, "wd1", "prod-crowd02", "pass", wait=False)
    watch.wait_log(r"wd1 1\.1\.1\.11 pending", 15)
    assert addresses(nios, zone, "wd1") == [A]
    wait_until(lambda: addresses(nios, zone, "wd1") == [A, B], 15, "not published after the hold-down")

    # Every instance on prod-crowd02 failing at once loses half the zone: refused, Infoblox untouched.
    set_check(cluster, "wd1", "prod-crowd01", "fail", wait=False)
    for service in ("wd2", "wd3"):
        for host in HOSTS:
            set_check(cluster, service, host, "fail", wait=False)
    watch.wait_log(r"refused: zone %s would lose" % zone.replace(".", r"\."), 15)
    assert addresses(nios, zone, "wd2") == [A, B] and addresses(nios, zone, "wd1") == [A, B]
    assert watch.proc.poll() is None  # a refusal is logged and retried, the service keeps running


def start_named(watches, tmp_path, cluster, nios, zone, services, lock, name, agent):
    """One of several services on one lock: named as holder after ``name``, its own report file."""
    watch = WatchProcess(tmp_path, name, settings(cluster, nios, tmp_path, zone, services, lock, agent=agent,
                                                  consul_dns_lock_holder=name,
                                                  consul_dns_report_file=str(tmp_path / ("%s.json" % name))))
    watches.append(watch)
    return watch


def lock_holder(cluster, key):
    entry = cluster.clients["prod-crowd01"].api("GET", "/v1/kv/%s" % key)
    return entry[0].get("Session") if entry else None


def test_only_the_lock_holder_writes_and_a_standby_takes_over(consul_cluster, wapi_simulator, tmp_path, watches):
    cluster, nios, zone = consul_cluster, wapi_simulator, "watchlock.geant.services"
    register(cluster, "wl")
    register(cluster, "wlsteady")
    services, key = ["wl", "wlsteady"], "consul-dns/lock/wlock"

    def start(name, agent):
        return start_named(watches, tmp_path, cluster, nios, zone, services, "wlock", name, agent)

    first = start("first", "prod-crowd01")
    first.wait_log("acquired", 30)
    second = start("second", "prod-crowd02")
    second.wait_log("standing by: lock %s is held by first" % key, 30)
    standby_report = report(tmp_path / "second.json")
    assert standby_report["skipped"] == "lock %s is held by first" % key and standby_report["ok"]
    wait_until(lambda: addresses(nios, zone, "wl") == [A, B], 30, "first sync never published")

    set_check(cluster, "wl", "prod-crowd02", "fail", wait=False)
    wait_until(lambda: addresses(nios, zone, "wl") == [A], 15, "holder did not push the change")
    assert second.syncs() == 0 and "pushed to Infoblox" in first.log()

    # A clean stop releases the lock: the standby takes over without waiting for a TTL.
    assert first.terminate() == 0
    second.wait_log("acquired", 15)
    set_check(cluster, "wl", "prod-crowd02", "pass", wait=False)
    wait_until(lambda: addresses(nios, zone, "wl") == [A, B], 15, "new holder did not push")
    second.wait_log("pushed to Infoblox", 10)  # logged after the WAPI write

    # A holder that dies keeps the lock until Consul ends its session (TTL 10 s, up to twice that,
    # plus the lock-delay); then the standby takes over and writes.
    third = start("third", "prod-crowd01")
    third.wait_log("standing by: lock %s is held by second" % key, 30)
    session = lock_holder(cluster, key)
    second.kill()
    died = time.monotonic()
    third.wait_log("acquired", 60)
    took = time.monotonic() - died
    assert lock_holder(cluster, key) not in (None, session)
    set_check(cluster, "wl", "prod-crowd02", "fail", wait=False)
    wait_until(lambda: addresses(nios, zone, "wl") == [A], 15, "the standby that took over did not push")
    wait_until(lambda: third.syncs() >= 1, 10, "the new holder never logged a sync")
    print("takeover after SIGKILL of the holder: %.1fs (session TTL 10 s, lock-delay 1 s)" % took)


def test_holder_that_loses_its_consul_agent_stops_writing(consul_cluster, wapi_simulator, tmp_path, watches):
    """The holder's node fails (its agent is killed): its session dies with the node's serfHealth and
    the standby on another node takes over; the old holder cannot write meanwhile."""
    cluster, nios, zone = consul_cluster, wapi_simulator, "watchnode.geant.services"
    register(cluster, "wn")
    register(cluster, "wnsteady")
    services = ["wn", "wnsteady"]
    holder = start_named(watches, tmp_path, cluster, nios, zone, services, "wnode", "onnode2", "prod-crowd02")
    holder.wait_log("acquired", 30)
    standby = start_named(watches, tmp_path, cluster, nios, zone, services, "wnode", "onnode1", "prod-crowd01")
    standby.wait_log("standing by", 30)
    wait_until(lambda: addresses(nios, zone, "wn") == [A, B], 30, "first sync never published")

    agent = cluster.clients["prod-crowd02"]
    agent.kill()
    try:
        standby.wait_log("acquired", 60)
        # prod-crowd02's instances are gone with its node (serfHealth critical): withdrawn by the new holder.
        wait_until(lambda: addresses(nios, zone, "wn") == [A], 20, "new holder did not withdraw the dead node")
        holder.wait_log("lock consul-dns/lock/wnode lost|cannot renew", 30)
    finally:
        agent.start()
        agent.wait_http()
        cluster.wait_for(lambda: cluster.alive_members() == len(cluster.agents), 60, "prod-crowd02 did not rejoin")


def test_holder_whose_session_ends_stops_writing_at_once(consul_cluster, wapi_simulator, tmp_path, watches):
    """An operator (or Consul) destroys the holder's session: its next sync finds the lock lost before
    writing anything and stands by; the other service takes over and writes."""
    cluster, nios, zone = consul_cluster, wapi_simulator, "watchsession.geant.services"
    register(cluster, "ws")
    register(cluster, "wssteady")
    services, key = ["ws", "wssteady"], "consul-dns/lock/wsession"

    def start(name, agent):
        return start_named(watches, tmp_path, cluster, nios, zone, services, "wsession", name, agent)

    holder = start("holder", "prod-crowd01")
    holder.wait_log("acquired", 30)
    other = start("other", "prod-crowd02")
    other.wait_log("standing by", 30)
    wait_until(lambda: addresses(nios, zone, "ws") == [A, B], 30, "first sync never published")

    cluster.clients["prod-crowd01"].api("PUT", "/v1/session/destroy/%s" % lock_holder(cluster, key))
    pushes = holder.count("pushed to Infoblox")
    set_check(cluster, "ws", "prod-crowd02", "fail", wait=False)
    other.wait_log("acquired", 30)
    wait_until(lambda: addresses(nios, zone, "ws") == [A], 15, "the new holder did not push")
    holder.wait_log("lock consul-dns/lock/wsession lost", 15)
    assert holder.count("pushed to Infoblox") == pushes  # nothing written without the lock
    holder.wait_log("standing by: lock consul-dns/lock/wsession is held by other", 15)


# ------------------------------------------------------------------ name-scoped Infoblox sync

def scale_zone(cluster, nios, tmp_path, size, **overrides):
    """A zone of ``size`` names of two instances each (external nodes registered through the catalog) and a
    watch service publishing it; returns (watch, zone, names, addresses of each name)."""
    zone, agent = "wscale%d.geant.services" % size, cluster.clients["prod-crowd01"]
    names = ["ws%d-%03d" % (size, n) for n in range(size)]
    addresses = dict((name, ["10.%d.%d.%d" % (size, n, i + 1) for i in range(2)]) for n, name in enumerate(names))
    for name in names:
        register_external(agent, name, addresses[name])
    folder = tmp_path / ("size%d" % size)
    folder.mkdir()
    watch = WatchProcess(folder, "scale", settings(cluster, nios, folder, zone, names, "wscale%d" % size,
                                                   **overrides))
    wait_until(lambda: len(sim_a_records(nios, zone)) == size, 60, "first sync never published %d names" % size)
    watch.wait_log(r"INFO sync 1 ", 30)
    return watch, zone, names, addresses


def last_sync_line(watch):
    return [line for line in watch.log().splitlines() if "INFO sync " in line][-1]


def fail_one(cluster, nios, watch, zone, name, addresses, status="critical"):
    """Turn ``name``'s second instance ``status``; wait for the sync that followed; its WAPI reads and writes."""
    syncs = watch.syncs()
    nios.sim.log.clear()
    register_external(cluster.clients["prod-crowd01"], name, addresses[name][1:], status=status, first=1)
    want = addresses[name][:1] if status == "critical" else addresses[name]
    fqdn = "%s.%s" % (name, zone)
    wait_until(lambda: sim_a_records(nios, zone).get(fqdn) == want, 30, "%s never became %s" % (fqdn, want))
    wait_until(lambda: watch.syncs() > syncs, 10, "the sync was never logged")
    return wapi_calls(nios)


def test_a_single_address_change_reads_and_writes_only_its_name_whatever_the_zone_size(
        consul_cluster, wapi_simulator, tmp_path, watches):
    cluster, nios = consul_cluster, wapi_simulator
    seen = {}
    for size in (20, 200):
        watch, zone, names, addresses = scale_zone(cluster, nios, tmp_path, size, consul_dns_watch_resync=3600)
        watches.append(watch)
        name = names[size // 2]
        reads, writes = fail_one(cluster, nios, watch, zone, name, addresses)
        fqdn = "%s.%s" % (name, zone)
        assert names_in(reads) == {fqdn} and names_in(writes) == {fqdn}, (reads, writes)
        assert "%s: Infoblox: 1 name(s)" % zone in last_sync_line(watch)
        seen[size] = (len(reads), len(writes))
        # Every other name is as it was.
        published = sim_a_records(nios, zone)
        others = [n for n in names if n != name]
        assert len(published) == size and all(published["%s.%s" % (n, zone)] == addresses[n] for n in others)
        assert watch.terminate() == 0
    print("WAPI reads / writes per single-address change: %s" % seen)
    assert seen[20] == seen[200] == (1, 1)


def test_drift_on_another_name_is_repaired_by_the_next_full_reconcile(
        consul_cluster, wapi_simulator, tmp_path, watches):
    cluster, nios = consul_cluster, wapi_simulator
    watch, zone, names, addresses = scale_zone(cluster, nios, tmp_path, 20, consul_dns_watch_resync=15)
    watches.append(watch)
    # By hand in NIOS: one of our records of another name deleted.
    drifted = "%s.%s" % (names[3], zone)
    delete_a(nios, drifted, addresses[names[3]][0])
    reads, writes = fail_one(cluster, nios, watch, zone, names[10], addresses)
    last = last_sync_line(watch)
    assert "(checks)" in last and "Infoblox: 1 name(s)" in last, last
    assert names_in(reads) == names_in(writes) == {"%s.%s" % (names[10], zone)}
    assert sim_a_records(nios, zone)[drifted] == addresses[names[3]][1:]  # not repaired by a scoped sync
    # The periodic full reconcile (consul_dns_watch_resync) reads the whole zone and repairs it.
    watch.wait_log(r"INFO sync \d+ \(resync\).*Infoblox: whole zone", 40)
    wait_until(lambda: sim_a_records(nios, zone)[drifted] == addresses[names[3]], 10, "drift never repaired")
    # A restart starts with a full reconcile too.
    assert watch.terminate() == 0
    delete_a(nios, drifted, addresses[names[3]][1])
    folder = tmp_path / "size20"
    again = WatchProcess(folder, "again", settings(cluster, nios, folder, zone, names, "wscale20",
                                                   consul_dns_watch_resync=3600))
    watches.append(again)
    again.wait_log(r"INFO sync 1 \(lock acquired\).*Infoblox: whole zone", 60)
    wait_until(lambda: sim_a_records(nios, zone)[drifted] == addresses[names[3]], 10, "drift never repaired")


def delete_a(nios, fqdn, address):
    """Delete an A record in the simulator, as someone would by hand in NIOS."""
    ref = [o["_ref"] for o in nios.sim.objects("record:a") if o["name"] == fqdn and o["ipv4addr"] == address][0]
    nios.sim.handle("DELETE", ref, {}, None)
