"""Regressions found with the chaos soak (bench/chaos, issue #15): each test replays, in a small bed, a
failure of the product under one of the soak's faults (the docstring says which, and the seed of the soak
run that showed it, if one did).

A real Consul dev agent, the WAPI simulator (in-process, its fault injection) and the watch service as
its own process, as in tests/integration/test_zone_watch.py.
"""
import time

import pytest

from tests.integration import test_zone_watch
from tests.integration.zone_sync_bed import nios_addresses, nios_create_zone
from tests.integration.zone_watch_bed import WatchProcess, register_external

pytestmark = [pytest.mark.consul, pytest.mark.slow]
watches = test_zone_watch.watches  # the fixture that stops the watch services a test started

ZONE = "geant.services"
ADDRESSES = ["10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.0.4"]
LATE = 20.0  # seconds NIOS takes to answer a slow request


def watch_settings(agent, nios, tmp_path, **overrides):
    nios_create_zone(nios, ZONE)
    (tmp_path / "zones").mkdir(exist_ok=True)
    values = {
        "consul_dns_consul_address": agent.http_url,
        "consul_dns_zones": [{"name": ZONE, "nameservers": ["ns1.geant.net."], "services": ["crowd"]}],
        "consul_dns_zone_dir": str(tmp_path / "zones"),
        "consul_dns_zone_validate": "never",
        "consul_dns_hold_down": 0,
        "consul_dns_lock_delay": 0,
        "consul_dns_watch_lock_ttl": 10,
        "consul_dns_watch_retry_max": 1,
        "consul_dns_infoblox_timeout": 2,
        "consul_dns_infoblox_write_timeout": 2,
        "consul_dns_infoblox_server": nios.host, "consul_dns_infoblox_username": nios.username,
        "consul_dns_infoblox_password": nios.password, "consul_dns_infoblox_ca_path": nios.ca_path,
    }
    values.update(overrides)
    return values


def crowd(nios):
    return nios_addresses(nios, ZONE).get("crowd.%s" % ZONE, [])


def test_a_write_that_lands_after_its_timeout_is_repaired(consul_dev, wapi_simulator, tmp_path, watches):
    """A WAPI write that timed out may still be applied by NIOS later (the simulator applies a slow request
    once its latency is over, as a server does). The watch service re-reads Infoblox on its retry, finds
    nothing to change - the late write has not landed yet - and from then on believes Infoblox is as it
    left it; when the write lands, Infoblox differs from Consul and from the zone file, and name-scoped
    syncs never read that name again: only the full resync (consul_dns_watch_resync, 300 s by default)
    would repair it.

    Here: the withdrawal of 10.9.0.4 times out, the instance recovers, the retry finds nothing to do, and
    the late delete removes a healthy address. The soak's fault: ``wapi_timeout`` on writes (a request held
    12 or 16 s against a 10 s write timeout); its ``agreement`` check (or ``withdraw_bound``, when the late
    write is a create) reports the outcome. Found while building that fault, reproduced here; no soak run
    had hit the timing yet when this test was written.
    """
    nios = wapi_simulator
    register_external(consul_dev, "crowd", ADDRESSES)
    settings = watch_settings(consul_dev, nios, tmp_path, consul_dns_watch_resync=3600)
    first = WatchProcess(tmp_path, "first", settings)
    watches.append(first)
    first.wait_log(r"INFO sync 1 ", timeout=30)
    assert crowd(nios) == ADDRESSES
    assert first.terminate() == 0

    # 10.9.0.4 fails while no service runs; multi-object requests are slow from now on: NIOS takes 20 s,
    # the write timeout is 2 s. The next service's first sync (a full one: its reads are GETs, not slowed)
    # deletes 10.9.0.4; the delete times out, and so does the re-read after it (a multi-object request).
    register_external(consul_dev, "crowd", ADDRESSES[3:], status="critical", first=3)
    nios.sim.faults.add_latency(LATE, method="POST", path=r"/request$")
    late_write = time.monotonic() + LATE
    watch = WatchProcess(tmp_path, "watch", settings)
    watches.append(watch)
    watch.wait_log(r"timed out after the write was sent", timeout=LATE)
    register_external(consul_dev, "crowd", ADDRESSES[3:], status="passing", first=3)
    nios.sim.faults.clear()
    # The retry (a full sync) reads Infoblox before the late delete lands: 10.9.0.4 is there, nothing to do.
    watch.wait_log(r"INFO sync 2 ", timeout=20)
    time.sleep(max(0.0, late_write - time.monotonic()) + 3)  # the late delete has landed by now

    # Consul says all four are healthy and the zone file has all four: Infoblox must get them back.
    zone_text = (tmp_path / "zones" / ("%s.zone" % ZONE)).read_text()
    assert "10.9.0.4" in zone_text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and crowd(nios) != ADDRESSES:
        time.sleep(0.2)
    assert crowd(nios) == ADDRESSES, (
        "Infoblox lost the healthy address 10.9.0.4 to a delete that landed after its timeout, and the watch "
        "service did not repair it within 30 s (Infoblox: %s; zone file: all four)\n%s"
        % (crowd(nios), watch.log()[-3000:]))
