"""Zone sync against the WAPI simulator through the real HTTPS client: plan, ownership, safety, faults."""

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.push import SyncError, sync_zone
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.wapi import (
    WapiAuthError,
    WapiClient,
    WapiUnavailable,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import address_records
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.plan import PlanRefused, SyncPolicy
from tests.wapi_simulator.client import wapi_json as wapi

ZONE = "geant.services"
DESIGN = {"crowd": ["1.1.1.10", "1.1.1.11"], "dashboard": ["1.1.1.10", "1.1.1.11"],
          "cacti": ["1.1.1.10"], "bodportal": ["1.1.1.11"]}


@pytest.fixture
def nios(wapi_simulator):
    wapi(wapi_simulator, "POST", "zone_auth", json={"fqdn": ZONE, "view": "default"})
    wapi_simulator.sim.define_ea("ManagedBy")  # the superuser's one-time step (docs/permissions.md)
    wapi_simulator.sim.log.clear()
    return wapi_simulator


def client_for(server, **kwargs):
    kwargs.setdefault("sleep", lambda seconds: None)
    return WapiClient(server.host, server.username, server.password, ca_path=server.ca_path, **kwargs)


def records_in_nios(server, rtype="a"):
    field = "ipv4addr" if rtype == "a" else "ipv6addr"
    objs = wapi(server, "GET", "record:%s" % rtype, params={"zone": ZONE, "_return_fields": "name,%s,ttl,extattrs" % field})
    return sorted((o["name"], o[field]) for o in objs)


def sync(server, addresses, policy=None, **kwargs):
    return sync_zone(client_for(server), ZONE, "default", address_records(addresses, 300), policy or SyncPolicy(),
                     **kwargs)


def writes(server):
    """Every call that could change NIOS, answered or not (the logout POST is not a change)."""
    return [e for e in server.sim.log.entries()
            if e["method"] in ("POST", "PUT", "DELETE") and not e["path"].endswith("/logout")]


def request_calls(server):
    """The multi-object requests that write (a re-read after a failed write is a request of GET items)."""
    return [e for e in writes(server) if e["path"].endswith("/request")
            and not all(item.get("method") == "GET" for item in e["body"] or [])]


def test_design_story_create_then_remove_one_then_nothing(nios):
    first = sync(nios, DESIGN)
    assert first.plan.summary()["created"] == 6 and first.requests_sent == 1
    assert ("crowd.geant.services", "1.1.1.11") in records_in_nios(nios)

    nios.sim.log.clear()
    failed = dict(DESIGN, crowd=["1.1.1.10"])
    second = sync(nios, failed)
    assert second.plan.summary() == {"created": 0, "updated": 0, "deleted": 1, "unchanged": 5, "skipped": 0}
    assert len(request_calls(nios)) == 1
    assert len(writes(nios)) == 1  # exactly one write call: the request
    assert ("crowd.geant.services", "1.1.1.11") not in records_in_nios(nios)
    assert ("dashboard.geant.services", "1.1.1.11") in records_in_nios(nios)

    nios.sim.log.clear()
    third = sync(nios, failed)
    assert not third.changed and third.requests_sent == 0
    assert writes(nios) == []


def test_unowned_records_survive_and_block(nios):
    wapi(nios, "POST", "record:a", json={"name": "legacy.geant.services", "ipv4addr": "10.9.9.9"})
    wapi(nios, "POST", "record:a", json={"name": "crowd.geant.services", "ipv4addr": "1.1.1.10"})
    wapi(nios, "POST", "record:cname", json={"name": "cacti.geant.services", "canonical": "old-cacti.geant.net"})
    result = sync(nios, DESIGN)
    plan = result.plan.as_dict()
    assert [c["record"]["fqdn"] for c in plan["conflicts"]] == ["cacti.geant.services"]
    assert [s["record"]["value"] for s in plan["skipped"]] == ["1.1.1.10"]
    # Everything unowned is still there, untouched, after a sync that wants them gone.
    sync(nios, {"crowd": ["1.1.1.11"]}, SyncPolicy(force=True))
    remaining = records_in_nios(nios)
    assert ("legacy.geant.services", "10.9.9.9") in remaining
    assert ("crowd.geant.services", "1.1.1.10") in remaining
    assert wapi(nios, "GET", "record:cname", params={"name": "cacti.geant.services"})


def test_ttl_change_is_an_update_and_aaaa_works(nios):
    sync(nios, {"crowd": ["1.1.1.10", "2001:db8::10"]})
    result = sync_zone(client_for(nios), ZONE, "default",
                       address_records({"crowd": ["1.1.1.10", "2001:db8::10"]}, 60), SyncPolicy())
    assert result.plan.summary()["updated"] == 2
    ttls = {o["ipv6addr"]: o["ttl"] for o in wapi(nios, "GET", "record:aaaa", params={"_return_fields": "ipv6addr,ttl"})}
    assert ttls == {"2001:db8::10": 60}


def test_safety_valves_refuse_and_say_what_they_would_do(nios):
    many = {"svc%02d" % i: ["10.0.0.%d" % i] for i in range(1, 21)}
    sync(nios, many)
    nios.sim.log.clear()
    shrunk = dict(list(many.items())[:10])
    with pytest.raises(PlanRefused) as err:
        sync(nios, shrunk, SyncPolicy(allow_name_removal=True))
    assert "10 of 20 owned records (50%)" in str(err.value)
    assert "delete svc20.geant.services. 300 IN A 10.0.0.20" in str(err.value)
    with pytest.raises(PlanRefused, match="every one of the 20 records"):
        sync(nios, {}, SyncPolicy(allow_name_removal=True))
    with pytest.raises(PlanRefused, match="leave svc01.geant.services with no address"):
        sync(nios, dict(many, svc01=[]))
    assert writes(nios) == []  # nothing was written by any refused plan
    assert len(records_in_nios(nios)) == 20
    forced = sync(nios, shrunk, SyncPolicy(force=True))
    assert forced.plan.summary()["deleted"] == 10


def test_check_mode_plans_without_writing(nios):
    result = sync(nios, DESIGN, check_mode=True)
    assert result.plan.summary()["created"] == 6
    assert writes(nios) == [] and records_in_nios(nios) == []


def test_missing_zone_and_missing_ea_definition(wapi_simulator):
    with pytest.raises(SyncError, match="zone geant.services does not exist in DNS view default"):
        sync(wapi_simulator, DESIGN)
    wapi(wapi_simulator, "POST", "zone_auth", json={"fqdn": ZONE})
    with pytest.raises(SyncError, match="extensible attribute ManagedBy is not defined in NIOS. Once, a NIOS superuser"):
        sync(wapi_simulator, DESIGN)  # the default: the sync account does not define it
    assert writes(wapi_simulator) == [
        e for e in wapi_simulator.sim.log.entries() if e["path"].endswith("zone_auth") and e["method"] == "POST"]
    sync(wapi_simulator, DESIGN, create_owner_ea=True)  # a superuser's run
    assert wapi(wapi_simulator, "GET", "extensibleattributedef", params={"name": "ManagedBy"})


def test_wrong_password_is_clear_and_secret_free(nios):
    client = WapiClient(nios.host, "admin", "s3cret-wrong", ca_path=nios.ca_path)
    with pytest.raises(WapiAuthError) as err:
        sync_zone(client, ZONE, "default", address_records(DESIGN, 300), SyncPolicy())
    assert "401" in str(err.value) and "s3cret-wrong" not in str(err.value)


def test_wapi_down_is_clear():
    client = WapiClient("127.0.0.1:9", "admin", "x", retries=1, sleep=lambda s: None, timeout=2)
    with pytest.raises(WapiUnavailable, match="cannot reach WAPI at https://127.0.0.1:9/wapi/v2.12/"):
        sync_zone(client, ZONE, "default", address_records(DESIGN, 300), SyncPolicy())


def test_tls_is_verified_by_default(nios):
    client = WapiClient(nios.host, nios.username, nios.password, retries=0)  # no CA given: must refuse
    with pytest.raises(WapiUnavailable, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        sync_zone(client, ZONE, "default", address_records(DESIGN, 300), SyncPolicy())


def test_reads_are_retried_after_5xx(nios):
    nios.sim.faults.fail_next(2, status=503, method="GET")
    result = sync(nios, DESIGN)
    assert result.plan.summary()["created"] == 6


def test_5xx_on_the_write_is_not_resent_and_next_run_recovers(nios):
    nios.sim.faults.fail_next(1, status=503, method="POST", path="request")
    with pytest.raises(SyncError, match="HTTP 503.*Read again after the failure, 0 of 6 changes are in NIOS"):
        sync(nios, DESIGN)
    assert len(request_calls(nios)) == 1  # sent once, not retried
    assert records_in_nios(nios) == []
    assert sync(nios, DESIGN).plan.summary()["created"] == 6


def test_request_failing_halfway_applies_nothing(nios):
    sync(nios, DESIGN)
    before = records_in_nios(nios)
    nios.sim.faults.fail_request_item(1)
    change = dict(DESIGN, crowd=["1.1.1.10", "1.1.1.12"], cacti=["1.1.1.13"])
    with pytest.raises(SyncError, match="Read again after the failure, 0 of 4 changes are in NIOS"):
        sync(nios, change)
    assert records_in_nios(nios) == before  # all-or-nothing
    sync(nios, change)
    assert ("crowd.geant.services", "1.1.1.12") in records_in_nios(nios)


def test_dropped_connection_during_write_is_reported_as_unknown_outcome(nios):
    nios.sim.faults.drop_next(1, method="POST", path="request")
    with pytest.raises(SyncError, match="may or may not have been applied"):
        sync(nios, DESIGN)
    assert sync(nios, DESIGN).plan.summary()["created"] in (0, 6)
    assert len(records_in_nios(nios)) == 6


def test_chunked_push_and_paged_reads(nios):
    many = {"svc%04d" % i: ["10.1.%d.%d" % (i // 250, i % 250 + 1)] for i in range(2500)}
    first = sync(nios, many, max_batch=1000, max_bytes=10 ** 7)
    assert first.requests_sent == 3
    nios.sim.log.clear()
    again = sync(nios, many)
    assert not again.changed
    # 2,500 A records come back in 3 pages of 1,000 (plus the other reads), no write.
    assert nios.sim.log.reads("record:a") == 3
    assert writes(nios) == []


def test_restart_services_when_asked(nios):
    sync(nios, DESIGN, restart_services=True)
    assert nios.sim.restarts
