"""Fidelity: the unmodified ibx-sdk (Infoblox Professional Services) WAPI session ``Gift``.

Gift is an httpx client: ``connect`` reads ``grid`` with Basic auth, ``get``/``post``/``put``/
``delete`` return the httpx response (only ``get`` and ``getone`` raise on an HTTP error),
``get_paginated`` repeats every original argument with ``_page_id``, ``max_wapi_ver`` and
``object_fields`` read ``_schema``. Calls are written as the ibx-sdk user guide shows them.
"""
import pytest
from ibx_sdk.nios.exceptions import WapiRequestException
from ibx_sdk.nios.gift import Gift

ZONE = "geant.services"


def gift(server, wapi_ver="2.12"):
    return Gift(grid_mgr=server.host, wapi_ver=wapi_ver, ssl_verify=server.ca_path)


@pytest.fixture
def wapi(wapi_simulator):
    wapi_simulator.sim.define_ea("Owner")
    session = gift(wapi_simulator)
    session.connect(username=wapi_simulator.username, password=wapi_simulator.password)
    res = session.post("zone_auth", json={"fqdn": ZONE, "view": "default"})
    assert res.status_code == 201, res.text
    return session


def add_a(wapi, name, ip, **fields):
    res = wapi.post("record:a", json=dict(fields, name="%s.%s" % (name, ZONE), ipv4addr=ip))
    assert res.status_code == 201, res.text
    return res.json()


def test_connect_reads_the_grid_reference(wapi_simulator):
    session = gift(wapi_simulator)
    session.connect(username=wapi_simulator.username, password=wapi_simulator.password)
    assert session.grid_ref.startswith("grid/")
    assert session.get("grid").json()[0]["_ref"] == session.grid_ref
    assert session.conn.cookies.get("ibapauth")  # the session cookie NIOS hands out


def test_connect_with_a_bad_password_raises(wapi_simulator):
    session = gift(wapi_simulator)
    with pytest.raises(WapiRequestException) as info:
        session.connect(username=wapi_simulator.username, password="wrong")
    assert "401" in str(info.value)
    assert session.conn is None


def test_max_wapi_ver_reads_the_supported_versions(wapi_simulator):
    session = gift(wapi_simulator, wapi_ver="2.5")
    session.connect(username=wapi_simulator.username, password=wapi_simulator.password)
    session.max_wapi_ver()  # GET /wapi/v1.0/?_schema
    version = tuple(int(p) for p in session.wapi_ver.split("."))
    assert (2, 12) <= version < (3, 0)
    assert session.get("grid").status_code == 200  # the new version is served
    assert wapi_simulator.sim.log.entries()[-1]["version"] == session.wapi_ver


def test_object_fields_from_the_schema_are_all_returnable(wapi):
    add_a(wapi, "crowd", "1.1.1.10", comment="managed", ttl=300)
    fields = wapi.object_fields("record:a")  # GET record:a?_schema, the fields marked "r"
    assert {"name", "ipv4addr", "view", "ttl", "use_ttl", "comment", "extattrs", "zone"} <= set(fields.split(","))
    [record] = wapi.get("record:a", params={"name": "crowd.%s" % ZONE, "_return_fields": fields}).json()
    assert (record["comment"], record["ttl"], record["zone"]) == ("managed", 300, ZONE)


def test_records_crud_in_a_zone(wapi):
    ref = add_a(wapi, "crowd", "1.1.1.10")
    assert ref.startswith("record:a/")
    host = wapi.post("record:host", json={"name": "h.%s" % ZONE, "ipv4addrs": [{"ipv4addr": "10.0.0.5"}]})
    cname = wapi.post("record:cname", json={"name": "www.%s" % ZONE, "canonical": "crowd.%s" % ZONE})
    txt = wapi.post("record:txt", json={"name": "crowd.%s" % ZONE, "text": "owner=consul_dns"})
    assert [r.status_code for r in (host, cname, txt)] == [201, 201, 201]

    # the user guide's update: getone for the _ref, then put(_ref, json=body)
    found = wapi.getone("record:a", params={"name": "crowd.%s" % ZONE, "view": "default"})
    assert found == ref
    res = wapi.put(found, json={"comment": "managed", "ttl": 300})
    assert res.status_code == 200
    record = wapi.get(res.json(), params={"_return_fields": "name,ipv4addr,comment,ttl,use_ttl"}).json()
    assert (record["comment"], record["ttl"], record["use_ttl"]) == ("managed", 300, True)
    zone_records = wapi.get("record:a", params={"zone": ZONE}).json()
    assert [r["ipv4addr"] for r in zone_records] == ["1.1.1.10"]

    duplicate = wapi.post("record:a", json={"name": "crowd.%s" % ZONE, "ipv4addr": "1.1.1.10"})
    assert (duplicate.status_code, duplicate.json()["code"]) == (400, "Client.Ibap.Data.Conflict")
    blocked = wapi.post("record:cname", json={"name": "crowd.%s" % ZONE, "canonical": "x.%s" % ZONE})
    assert blocked.status_code == 400

    assert wapi.delete(found).status_code == 200
    assert wapi.get("record:a", params={"name": "crowd.%s" % ZONE}).json() == []
    gone = wapi.delete(found)
    assert (gone.status_code, gone.json()["code"]) == (404, "Client.Ibap.Data.NotFound")
    with pytest.raises(WapiRequestException, match="No data was returned"):
        wapi.getone("record:a", params={"name": "crowd.%s" % ZONE})
    add_a(wapi, "pool", "10.0.1.1")
    add_a(wapi, "pool", "10.0.1.2")
    with pytest.raises(WapiRequestException, match="Multiple data records"):
        wapi.getone("record:a", params={"name": "pool.%s" % ZONE})


def test_extensible_attributes(wapi):
    res = wapi.post("extensibleattributedef", json={"name": "Site", "type": "STRING", "comment": "where"})
    assert res.status_code == 201 and res.json().startswith("extensibleattributedef/")
    ref = add_a(wapi, "crowd", "1.1.1.10", extattrs={"Owner": {"value": "consul_dns"}, "Site": {"value": "ams"}})
    add_a(wapi, "other", "1.1.1.11", extattrs={"Owner": {"value": "someone-else"}})

    mine = wapi.get("record:a", params={"*Owner": "consul_dns", "_return_fields+": "extattrs"}).json()
    assert [r["_ref"] for r in mine] == [ref]
    assert mine[0]["extattrs"] == {"Owner": {"value": "consul_dns"}, "Site": {"value": "ams"}}

    assert wapi.put(ref, json={"extattrs+": {"Site": {"value": "fra"}}}).status_code == 200
    assert wapi.put(ref, json={"extattrs-": {"Owner": {}}}).status_code == 200
    [record] = wapi.get("record:a", params={"*Site": "fra", "_return_fields": "extattrs"}).json()
    assert record["extattrs"] == {"Site": {"value": "fra"}}

    undefined = wapi.post("record:a", json={"name": "x.%s" % ZONE, "ipv4addr": "1.1.1.12",
                                            "extattrs": {"Undefined": {"value": "x"}}})
    assert undefined.status_code == 400 and "Unknown extensible attribute: Undefined" in undefined.json()["text"]


def test_search_by_an_undefined_extensible_attribute_is_an_error(wapi):
    add_a(wapi, "crowd", "1.1.1.10", extattrs={"Owner": {"value": "consul_dns"}})
    with pytest.raises(WapiRequestException, match="Unknown extensible attribute: Undefined"):
        wapi.get("record:a", params={"*Undefined": "x"})


def test_get_paginated_repeats_the_arguments_with_the_page_id(wapi, wapi_simulator):
    for i in range(25):
        add_a(wapi, "n%02d" % i, "10.0.0.%d" % (i + 1), comment="c%d" % i)
    wapi_simulator.sim.log.clear()
    records = wapi.get_paginated("record:a", limit=10, params={"zone": ZONE, "_return_fields+": "comment"})
    assert len(records) == 25 and len({r["_ref"] for r in records}) == 25
    assert records[24]["comment"] == "c24"
    pages = [e for e in wapi_simulator.sim.log.entries() if e["object"] == "record:a"]
    assert len(pages) == 3 and all(e["status"] == 200 for e in pages)
    assert "_page_id" in pages[2]["args"] and pages[2]["args"]["zone"] == [ZONE]


def test_service_restart_and_restart_status(wapi, wapi_simulator):
    add_a(wapi, "crowd", "1.1.1.10")
    # as the nios_restart_service command calls it
    wapi.service_restart(mode="SEQUENTIAL", restart_option="RESTART_IF_NEEDED", services="DNS")
    [restart] = wapi_simulator.sim.restarts
    assert restart["request"]["services"] == ["DNS"] and restart["restarted"]
    wapi.update_service_status(services="ALL")
    status = wapi.get_service_restart_status()  # GET restartservicestatus (nios_restart_status)
    assert isinstance(status, list) and status and status[0]["_ref"].startswith("restartservicestatus/")
