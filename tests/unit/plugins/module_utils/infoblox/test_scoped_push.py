"""Name-scoped Infoblox push (watch mode): which names changed, reading and planning only those, and
the safety valves counted over the whole zone. Against the WAPI simulator's engine, in-process."""

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import Record, address_records
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox import push
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.plan import (
    PlanRefused,
    SyncPolicy,
    changed_names,
    name_fqdn,
    published_records,
    relative_name,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.push import stage_push
from tests.unit.plugins.module_utils.infoblox.sim_client import (
    ZONE,
    SimClient,
    a_records,
    add_record,
    new_sim,
)

POLICY = SyncPolicy(allow_name_removal=True)


def zone(addresses, ttl=300):
    """Desired records from ``{name: [addresses]}``."""
    return address_records(addresses, ttl)


def big_zone(names=20, per_name=1):
    return dict(("svc%02d" % n, ["10.0.%d.%d" % (n, i + 1) for i in range(per_name)]) for n in range(names))


def fqdns(*names):
    return ["%s.%s" % (name, ZONE) for name in names]


@pytest.fixture
def client():
    return SimClient(new_sim())


def full_sync(client, records, policy=POLICY):
    """A full stage and commit; returns the ZoneKnowledge it leaves."""
    staged = stage_push(client, ZONE, "default", records, policy)
    staged.commit()
    return staged.knowledge()


# ------------------------------------------------------------------ which names changed
def test_changed_names_compares_addresses_and_ttls_per_name():
    before = published_records(zone({"crowd": ["1.1.1.10", "1.1.1.11"], "cacti": ["1.1.1.12"], "old": ["1.1.1.9"]}))
    after = published_records(zone({"crowd": ["1.1.1.10"], "cacti": ["1.1.1.12"], "new": ["1.1.1.13"]})
                              + [Record("v6", "AAAA", 300, "2001:db8::1")])
    assert changed_names(before, after) == {"crowd", "old", "new", "v6"}
    assert changed_names(after, after) == set()
    ttl_changed = published_records(zone({"cacti": ["1.1.1.12"]}, ttl=60))
    assert changed_names(published_records(zone({"cacti": ["1.1.1.12"]})), ttl_changed) == {"cacti"}


def test_only_address_records_count_and_names_map_both_ways():
    with_ns = published_records(zone({"crowd": ["1.1.1.10"]}) + [Record("@", "NS", 300, "ns1.geant.net.")])
    assert changed_names(published_records(zone({"crowd": ["1.1.1.10"]})), with_ns) == set()
    assert name_fqdn(ZONE, "@") == ZONE and name_fqdn(ZONE, "crowd") == "crowd." + ZONE
    assert relative_name(ZONE, "Crowd.%s." % ZONE) == "crowd" and relative_name(ZONE, ZONE) == "@"
    assert relative_name(ZONE, "crowd.other.services") is None


# ------------------------------------------------------------------ reads and writes only those names
def test_a_scoped_push_reads_and_writes_only_the_changed_names(client):
    desired = big_zone(20, per_name=2)
    known = full_sync(client, zone(desired))
    assert known.total_owned == 40
    desired["svc03"] = ["10.0.3.1"]  # one address withdrawn
    client.clear()
    staged = stage_push(client, ZONE, "default", zone(desired), POLICY, names=fqdns("svc03"), known=known)
    assert staged.scope == frozenset(fqdns("svc03"))
    assert len(client.calls) == 1 and len(client.read_calls()) == 1  # one request of GET items
    assert client.names_read() == set(fqdns("svc03"))
    assert [r.value for r in staged.plan.deletes] == ["10.0.3.2"] and not staged.plan.creates
    counts, conflicts = staged.summary()
    assert counts == {"created": 0, "updated": 0, "deleted": 1, "unchanged": 39, "skipped": 0} and conflicts == []
    staged.commit()
    assert len(client.write_calls()) == 1
    assert a_records(client.sim)["svc03." + ZONE] == ["10.0.3.1"]
    assert staged.knowledge().total_owned == 39


def test_the_number_of_reads_does_not_grow_with_the_zone():
    reads = []
    for size in (20, 200):
        client = SimClient(new_sim())
        desired = big_zone(size)
        known = full_sync(client, zone(desired))
        desired["svc07"] = ["10.0.7.1", "10.0.7.99"]
        client.clear()
        staged = stage_push(client, ZONE, "default", zone(desired), POLICY, names=fqdns("svc07"), known=known)
        staged.commit()
        reads.append(len(client.read_calls()))
        assert client.names_read() == set(fqdns("svc07"))
    assert reads == [1, 1]


def test_nothing_changed_means_no_wapi_call_at_all(client):
    desired = zone(big_zone(5))
    known = full_sync(client, desired)
    client.clear()
    staged = stage_push(client, ZONE, "default", desired, POLICY, names=[], known=known)
    staged.commit()
    assert client.calls == [] and not staged.changed
    assert staged.summary()[0]["unchanged"] == 5


def test_a_scoped_push_repairs_its_names_but_not_drift_elsewhere(client):
    desired = big_zone(5)
    known = full_sync(client, zone(desired))
    # By hand in NIOS: svc01's record deleted, an extra owned address on svc02.
    client.sim.handle("DELETE", [o for o in client.sim.objects("record:a") if o["name"].startswith("svc01.")][0]["_ref"],
                      {}, None)
    add_record(client.sim, "svc02", "10.9.9.9")
    desired["svc02"] = ["10.0.2.1", "10.0.2.2"]
    staged = stage_push(client, ZONE, "default", zone(desired), POLICY, names=fqdns("svc02"), known=known)
    staged.commit()
    state = a_records(client.sim)
    assert state["svc02." + ZONE] == ["10.0.2.1", "10.0.2.2"]  # the stray address on the name read is gone
    assert "svc01." + ZONE not in state  # not read, so not repaired ...
    full_sync(client, zone(desired))
    assert a_records(client.sim)["svc01." + ZONE] == ["10.0.1.1"]  # ... until the next full reconcile


def test_unowned_records_on_a_scoped_name_are_never_touched(client):
    desired = big_zone(3)
    known = full_sync(client, zone(desired))
    add_record(client.sim, "svc01", "10.8.8.8", owned=False)
    add_record(client.sim, "blocked", "target.example.org", owned=False, objtype="record:cname")
    desired["svc01"] = ["10.0.1.1", "10.8.8.8"]
    desired["blocked"] = ["10.0.9.1"]
    staged = stage_push(client, ZONE, "default", zone(desired), POLICY, names=fqdns("svc01", "blocked"),
                        known=known)
    assert [s["record"]["value"] for s in staged.plan.skipped] == ["10.8.8.8"]
    assert [c["record"]["fqdn"] for c in staged.plan.conflicts] == fqdns("blocked")
    assert not staged.plan.creates and not staged.plan.deletes
    staged.commit()
    known = staged.knowledge()
    assert known.conflicts and known.skipped
    # The next scoped push elsewhere still reports them (carried from what is known).
    desired["svc02"] = []
    desired.pop("svc02")
    staged = stage_push(client, ZONE, "default", zone(desired), POLICY, names=fqdns("svc02"), known=known)
    counts, conflicts = staged.summary()
    assert counts["skipped"] == 2 and [c["record"]["fqdn"] for c in conflicts] == fqdns("blocked")
    staged.commit()
    unowned = [o for o in client.sim.objects("record:a") if not o.get("extattrs")]
    assert [o["ipv4addr"] for o in unowned] == ["10.8.8.8"]


# ------------------------------------------------------------------ safety valves on a partial read
def test_change_ratio_counts_the_whole_zone_not_the_names_read(client):
    # 20 owned records; a change to 7 of them (35% > 30%) is refused although only 7 records were read,
    # which alone would be under min_records_for_ratio (10) and escape the valve.
    desired = big_zone(20)
    known = full_sync(client, zone(desired))
    for n in range(7):
        desired.pop("svc%02d" % n)
    names = fqdns(*["svc%02d" % n for n in range(7)])
    with pytest.raises(PlanRefused) as info:
        stage_push(client, ZONE, "default", zone(desired), POLICY, names=names, known=known)
    assert "7 of 20 owned records (35%)" in str(info.value)
    # A change to 2 of a name's 2 records is 2 of 20 (10%): allowed, although it is all of what was read.
    desired = big_zone(20)
    desired["svc00"] = []
    desired.pop("svc00")
    staged = stage_push(client, ZONE, "default", zone(desired), POLICY, names=fqdns("svc00"), known=known)
    assert len(staged.plan.deletes) == 1


def test_the_ratio_uses_what_was_read_for_the_names_read(client):
    # Known: 10 owned records. By hand, 5 more owned records on svc00 (not known): the scoped read sees
    # them, and the zone counts 15 - deleting those 5 is 5 of 15 (33%): refused.
    desired = big_zone(10)
    known = full_sync(client, zone(desired))
    for i in range(5):
        add_record(client.sim, "svc00", "10.7.0.%d" % (i + 1))
    with pytest.raises(PlanRefused) as info:
        stage_push(client, ZONE, "default", zone(desired), POLICY, names=fqdns("svc00"), known=known)
    assert "5 of 15 owned records" in str(info.value)


def test_a_scoped_push_never_empties_the_zone(client):
    desired = {"only": ["10.0.0.1"]}
    known = full_sync(client, zone(desired))
    with pytest.raises(PlanRefused) as info:
        stage_push(client, ZONE, "default", [], POLICY, names=fqdns("only"), known=known)
    assert "delete every one of the 1 records" in str(info.value)
    allowed = SyncPolicy(allow_name_removal=True, allow_empty=True)
    staged = stage_push(client, ZONE, "default", [], allowed, names=fqdns("only"), known=known)
    staged.commit()
    assert a_records(client.sim) == {}


def test_a_scoped_push_refuses_to_empty_a_name_unless_allowed(client):
    desired = big_zone(4)
    strict = SyncPolicy(allow_name_removal=False)
    known = full_sync(client, zone(desired), strict)
    desired.pop("svc01")
    with pytest.raises(PlanRefused) as info:
        stage_push(client, ZONE, "default", zone(desired), strict, names=fqdns("svc01"), known=known)
    assert "leave svc01.%s with no address" % ZONE in str(info.value)


def test_force_passes_the_valves_of_a_scoped_push(client):
    desired = big_zone(10)
    known = full_sync(client, zone(desired))
    for n in range(5):
        desired.pop("svc%02d" % n)
    forced = SyncPolicy(allow_name_removal=True, force=True)
    staged = stage_push(client, ZONE, "default", zone(desired), forced,
                        names=fqdns(*["svc%02d" % n for n in range(5)]), known=known)
    assert len(staged.plan.deletes) == 5


# ------------------------------------------------------------------ when the whole zone is read instead
def test_without_knowledge_or_with_too_many_names_the_whole_zone_is_read(client, monkeypatch):
    desired = big_zone(6)
    known = full_sync(client, zone(desired))
    client.clear()
    staged = stage_push(client, ZONE, "default", zone(desired), POLICY, names=fqdns("svc01"), known=None)
    assert staged.scope is None and client.names_read() == set()
    monkeypatch.setattr(push, "MAX_SCOPED_NAMES", 2)
    staged = stage_push(client, ZONE, "default", zone(desired), POLICY, names=fqdns("svc01", "svc02", "svc03"),
                        known=known)
    assert staged.scope is None


def test_a_missing_owner_ea_definition_falls_back_to_a_full_stage(client):
    known = full_sync(client, zone(big_zone(3)))
    ea = [o for o in client.sim.objects("extensibleattributedef") if o["name"] == "ManagedBy"][0]
    client.sim.handle("DELETE", ea["_ref"], {}, None)
    with pytest.raises(push.SyncError, match="ManagedBy is not defined"):  # the full stage says what is missing
        stage_push(client, ZONE, "default", zone(big_zone(3)), POLICY, names=fqdns("svc01"), known=known)
    staged = stage_push(client, ZONE, "default", zone(big_zone(3)), POLICY, names=fqdns("svc01"), known=known,
                        create_owner_ea=True)
    assert staged.scope is None and any("ManagedBy" in w for w in staged.warnings)


def test_a_missing_zone_fails_a_scoped_stage(client):
    known = full_sync(client, zone(big_zone(2)))
    client.sim.handle("DELETE", client.sim.objects("zone_auth")[0]["_ref"], {}, None)
    with pytest.raises(push.SyncError) as info:
        stage_push(client, ZONE, "default", zone(big_zone(2)), POLICY, names=fqdns("svc01"), known=known)
    assert "does not exist" in str(info.value)


def test_knowledge_follows_the_commits(client):
    desired = big_zone(3, per_name=2)
    known = full_sync(client, zone(desired))
    assert known.owned == dict(("svc%02d.%s" % (n, ZONE), 2) for n in range(3))
    desired["svc00"] = ["10.0.0.1"]
    desired["svc09"] = ["10.0.9.1"]
    staged = stage_push(client, ZONE, "default", zone(desired), POLICY, names=fqdns("svc00", "svc09"), known=known)
    staged.commit()
    after = staged.knowledge()
    assert after.owned == {"svc00." + ZONE: 1, "svc01." + ZONE: 2, "svc02." + ZONE: 2, "svc09." + ZONE: 1}
    assert known.owned["svc00." + ZONE] == 2  # the knowledge a stage started from is not changed


def test_a_scoped_stage_knows_host_aliases_shared_cnames_and_sub_zones_from_the_last_full_read(client):
    """They cannot be searched by name: the full read's knowledge blocks them in a name-scoped stage."""
    sim = client.sim
    sim.handle("POST", "record:host", {}, {"name": "web01." + ZONE, "ipv4addrs": [{"ipv4addr": "10.5.5.5"}],
                                           "aliases": ["bod." + ZONE]})
    sim.handle("POST", "sharedrecordgroup", {}, {"name": "common", "zone_associations": [ZONE]})
    sim.handle("POST", "sharedrecord:cname", {}, {"name": "shared", "canonical": "x.example.org",
                                                  "shared_record_group": "common"})
    sim.handle("POST", "zone_auth", {}, {"fqdn": "prod." + ZONE})
    desired = big_zone(2)
    known = full_sync(client, zone(desired))
    desired.update({"bod": ["10.0.8.1"], "shared": ["10.0.8.2"], "app.prod": ["10.0.8.3"]})
    staged = stage_push(client, ZONE, "default", zone(desired), POLICY, names=fqdns("bod", "shared", "app.prod"),
                        known=known)
    assert staged.scope is not None  # name-scoped, not a full read
    assert sorted(c["record"]["fqdn"] for c in staged.plan.conflicts) == fqdns("app.prod", "bod", "shared")
    assert not staged.plan.creates
    staged.commit()
    assert staged.knowledge().occupants.subzones == ["prod." + ZONE]  # carried on to the next stage
