"""Fidelity: the unmodified infoblox-client 0.6.2 against the simulator."""
import pytest
from infoblox_client import connector, exceptions, objects


@pytest.fixture
def conn(wapi_simulator):
    wapi_simulator.sim.define_ea("Owner")
    conn = connector.Connector({
        "host": wapi_simulator.host, "username": wapi_simulator.username,
        "password": wapi_simulator.password, "ssl_verify": wapi_simulator.ca_path,
        "wapi_version": "2.10",
    })
    objects.DNSZone.create(conn, fqdn="geant.services", view="default")
    return conn


def owned(value="consul_dns"):
    return objects.EA({"Owner": value})


def test_create_search_update_delete_a_record(conn):
    created = objects.ARecord.create(conn, view="default", name="crowd.geant.services", ip="1.1.1.10",
                                     extattrs=owned())
    assert created.ref.startswith("record:a/") and created.ipv4addr == "1.1.1.10"

    found = objects.ARecord.search(conn, name="crowd.geant.services", view="default")
    assert found.ref == created.ref and found.extattrs.get("Owner") == "consul_dns"

    found.comment = "managed"
    found.extattrs = owned("someone-else")
    found.update()
    again = objects.ARecord.search(conn, name="crowd.geant.services", return_fields=["comment", "extattrs"])
    assert again.comment == "managed" and again.extattrs.ea_dict == {"Owner": "someone-else"}

    found.delete()
    assert objects.ARecord.search(conn, name="crowd.geant.services") is None


def test_create_is_idempotent_with_check_if_exists(conn, wapi_simulator):
    first = objects.ARecord.create(conn, view="default", name="a.geant.services", ip="10.0.0.1")
    second = objects.ARecord.create(conn, view="default", name="a.geant.services", ip="10.0.0.1")
    assert first.ref == second.ref
    assert wapi_simulator.sim.store.count("record:a") == 1


def test_create_duplicate_without_check_raises_conflict(conn):
    objects.ARecord.create(conn, view="default", name="a.geant.services", ip="10.0.0.1")
    with pytest.raises(exceptions.InfobloxCannotCreateObject) as info:
        objects.ARecord.create(conn, check_if_exists=False, view="default", name="a.geant.services", ip="10.0.0.1")
    assert info.value.response["code"] == "Client.Ibap.Data.Conflict"


def test_missing_parent_zone_raises(conn):
    with pytest.raises(exceptions.InfobloxCannotCreateObject) as info:
        objects.ARecord.create(conn, view="default", name="a.example.org", ip="10.0.0.1")
    assert info.value.response["text"] == "A parent was not found."


def test_other_record_types(conn):
    aaaa = objects.AAAARecord.create(conn, view="default", name="a.geant.services", ip="2001:db8::1")
    cname = objects.CNAMERecord.create(conn, view="default", name="www.geant.services", canonical="a.geant.services")
    txt = objects.TXTRecord.create(conn, view="default", name="a.geant.services", text="owner=consul_dns")
    srv = objects.SRVRecord.create(conn, view="default", name="_http._tcp.geant.services", port=80,
                                   priority=10, weight=5, target="a.geant.services")
    host = objects.HostRecord.create(conn, view="default", name="h.geant.services",
                                     ip=objects.IP.create(ip="10.0.0.5"))
    assert [o.ref.split("/")[0] for o in (aaaa, cname, txt, srv, host)] == \
        ["record:aaaa", "record:cname", "record:txt", "record:srv", "record:host"]
    assert objects.HostRecord.search(conn, name="h.geant.services").ipv4addrs[0].ip == "10.0.0.5"
    with pytest.raises(exceptions.InfobloxCannotCreateObject):
        objects.CNAMERecord.create(conn, view="default", name="a.geant.services", canonical="x.geant.services")


def test_extensible_attribute_search_with_paging(conn, wapi_simulator):
    for i in range(7):
        objects.ARecord.create(conn, check_if_exists=False, view="default", name="n%d.geant.services" % i,
                               ip="10.0.0.%d" % (i + 1), extattrs=owned() if i % 2 == 0 else None)
    wapi_simulator.sim.log.clear()
    mine = objects.ARecord.search_all(conn, search_extattrs=owned(), paging=True, max_results=2)
    assert sorted(r.name for r in mine) == ["n0.geant.services", "n2.geant.services",
                                            "n4.geant.services", "n6.geant.services"]
    assert wapi_simulator.sim.log.reads("record:a") == 2  # pages of 2: one full, one last


def test_ea_definition_objects(conn):
    definition = objects.EADefinition.create(conn, name="Site", type="STRING", comment="where")
    assert definition.ref.startswith("extensibleattributedef/")
    objects.ARecord.create(conn, view="default", name="a.geant.services", ip="10.0.0.1",
                           extattrs=objects.EA({"Site": "ams", "Owner": "consul_dns"}))
    found = objects.ARecord.search(conn, search_extattrs=objects.EA({"Site": "ams"}))
    assert found.extattrs.ea_dict == {"Site": "ams", "Owner": "consul_dns"}


def test_undefined_ea_is_rejected(conn):
    with pytest.raises(exceptions.InfobloxCannotCreateObject) as info:
        objects.ARecord.create(conn, view="default", name="a.geant.services", ip="10.0.0.1",
                               extattrs=objects.EA({"Undefined": "x"}))
    assert "Unknown extensible attribute" in info.value.response["text"]


def test_cookie_is_reused_and_expiry_recovers(conn, wapi_simulator):
    conn.get_object("view")
    conn.get_object("view")
    entries = wapi_simulator.sim.log.entries()
    assert all(e["status"] == 200 for e in entries[-2:])
    # The client sends only the cookie once it has one; an expired session must re-authenticate.
    wapi_simulator.sessions.expire_all()
    wapi_simulator.sim.log.clear()
    assert conn.get_object("view")[0]["name"] == "default"
    assert [e["status"] for e in wapi_simulator.sim.log.entries()] == [401, 200]


def test_transient_503_on_read_is_retried_by_the_client(conn, wapi_simulator):
    objects.ARecord.create(conn, view="default", name="a.geant.services", ip="10.0.0.1")
    wapi_simulator.sim.faults.fail_next(1, method="GET")
    assert objects.ARecord.search(conn, name="a.geant.services").ipv4addr == "10.0.0.1"


def test_503_on_update_is_reported_as_grid_unavailable(conn, wapi_simulator):
    record = objects.ARecord.create(conn, view="default", name="a.geant.services", ip="10.0.0.1")
    wapi_simulator.sim.faults.fail_matching(503, method="PUT")
    record.comment = "x"
    with pytest.raises(exceptions.InfobloxGridTemporaryUnavailable):
        record.update()


def test_grid_restart_services(conn, wapi_simulator):
    grid = objects.Grid.search(conn)
    assert grid.restartservices({"restart_option": "RESTART_IF_NEEDED", "services": ["DNS"]}) == {}
    assert len(wapi_simulator.sim.restarts) == 1
