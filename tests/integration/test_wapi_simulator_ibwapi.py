"""Fidelity: the unmodified ibwapi client (a thin requests wrapper) against the simulator.

ibwapi pages every ``get`` by default (``_paging=1&_return_as_object=1&_max_results=N``, then
``_page_id`` alone), sends ``_return_fields+`` for ``['default', ...]``, posts the multi-object
``request`` body as given, and raises ``WAPIError`` (status, Error, code, text) on HTTP errors.
"""
import pytest
import ibwapi
from ibwapi.exceptions import LimitExceededError, WAPIError

ZONE = "geant.services"


@pytest.fixture(autouse=True)
def trust_simulator_ca(wapi_simulator, monkeypatch):
    """requests lets REQUESTS_CA_BUNDLE override a Session's own verify (psf/requests#3829)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", wapi_simulator.ca_path)


def client(server, **options):
    return ibwapi.Client(server.host, (server.username, server.password), tls_verify=server.ca_path, **options)


@pytest.fixture
def wapi(wapi_simulator):
    wapi_simulator.sim.define_ea("Owner")
    session = client(wapi_simulator)
    session.new("zone_auth", {"fqdn": ZONE})
    return session


def add_a(wapi, name, ip, **fields):
    return wapi.new("record:a", dict(fields, name="%s.%s" % (name, ZONE), ipv4addr=ip))


def test_readme_flow(wapi_simulator):
    wapi = client(wapi_simulator, wapi_version="2.13.4")  # the README's version
    wapi.new("zone_auth", {"fqdn": ZONE})
    ref = wapi.new("record:a", {"name": "myhost.%s" % ZONE, "ipv4addr": "192.168.100.1", "comment": "My Host"})
    resp = wapi.get("record:a", {"name:": "MyHost.Geant.Services"}, return_fields=["default", "comment"])
    assert resp == [{"_ref": ref, "comment": "My Host", "ipv4addr": "192.168.100.1",
                     "name": "myhost.%s" % ZONE, "view": "default"}]
    updated = wapi.update(resp[0]["_ref"], {"comment": "New Comment"})
    assert isinstance(updated, str) and updated.startswith("record:a/")
    assert wapi.get("record:a", {"comment": "New Comment"})[0]["_ref"] == updated
    assert wapi.delete(updated) == updated
    assert wapi.get("record:a", {"name": "myhost.%s" % ZONE}) == []
    assert {e["version"] for e in wapi_simulator.sim.log.entries()} == {"2.13.4"}


def test_new_and_update_return_the_object_with_return_fields(wapi):
    created = wapi.new("record:a", {"name": "crowd.%s" % ZONE, "ipv4addr": "1.1.1.10", "ttl": 300},
                       return_fields=["default", "ttl", "use_ttl"])
    assert (created["name"], created["ttl"], created["use_ttl"]) == ("crowd.%s" % ZONE, 300, True)
    updated = wapi.update(created["_ref"], {"use_ttl": False}, return_fields=["use_ttl", "ttl"])
    assert updated["use_ttl"] is False and "name" not in updated


def test_paging_and_max_results(wapi, wapi_simulator):
    for i in range(25):
        add_a(wapi, "n%02d" % i, "10.0.0.%d" % (i + 1))
    wapi_simulator.sim.log.clear()
    assert len(wapi.get("record:a", {"zone": ZONE}, page_size=10)) == 25
    pages = [e for e in wapi_simulator.sim.log.entries() if e["object"] == "record:a"]
    assert len(pages) == 3 and set(pages[1]["args"]) == {"_page_id"}

    assert [r["name"] for r in wapi.get("record:a", {"zone": ZONE}, max_results=5)] == \
        ["n%02d.%s" % (i, ZONE) for i in range(5)]
    with pytest.raises(LimitExceededError):
        wapi.get("record:a", {"zone": ZONE}, max_results=-20)
    with pytest.raises(WAPIError) as info:  # no paging: NIOS refuses the oversized result
        wapi.get("record:a", {"zone": ZONE}, paging=False, max_results=-20)
    assert (info.value.status_code, info.value.error_code, info.value.error_text) == \
        (400, "Client.Ibap.Proto", "Result set too large (> 20)")


def test_read_by_reference(wapi):
    ref = add_a(wapi, "crowd", "1.1.1.10", comment="managed")
    record = wapi.get(ref, paging=False, return_fields=["default", "comment"])
    assert (record["_ref"], record["comment"]) == (ref, "managed")
    # ibwapi pages by default, also on a reference: NIOS refuses paging there
    with pytest.raises(WAPIError) as info:
        wapi.get(ref)
    assert info.value.status_code == 400
    assert "Paging is not supported for object reference read operations" in info.value.error_text


def test_multi_object_request(wapi, wapi_simulator):
    body = [
        {"method": "POST", "object": "record:a", "data": {"name": "a.%s" % ZONE, "ipv4addr": "10.0.0.1"}},
        {"method": "GET", "object": "record:a", "data": {"name": "a.%s" % ZONE},
         "assign_state": {"a_ref": "_ref"}, "discard": True},
        {"method": "PUT", "object": "##STATE:a_ref:##", "data": {"comment": "via request"},
         "enable_substitution": True},
        {"method": "POST", "object": "record:cname", "data": {"name": "www.%s" % ZONE, "canonical": "a.%s" % ZONE}},
    ]
    result = wapi.request(body)
    assert len(result) == 3 and all(r.startswith("record:") for r in result)
    assert wapi.get("record:a", {"comment": "via request"})[0]["name"] == "a.%s" % ZONE

    single = wapi.request({"method": "GET", "object": "record:cname", "data": {"name": "www.%s" % ZONE}})
    assert [r["canonical"] for r in single] == ["a.%s" % ZONE]

    with pytest.raises(WAPIError) as info:  # the second item conflicts with the CNAME
        wapi.request([
            {"method": "POST", "object": "record:a", "data": {"name": "b.%s" % ZONE, "ipv4addr": "10.0.0.2"}},
            {"method": "POST", "object": "record:a", "data": {"name": "www.%s" % ZONE, "ipv4addr": "10.0.0.3"}},
        ])
    assert (info.value.status_code, info.value.error_code) == (400, "Client.Ibap.Data.Conflict")


def test_grid_restartservices_function(wapi, wapi_simulator):
    [grid] = wapi.get("grid")
    add_a(wapi, "crowd", "1.1.1.10")
    result = wapi.call_func(grid["_ref"], "restartservices",
                            {"restart_option": "RESTART_IF_NEEDED", "services": ["DNS"], "mode": "GROUPED"})
    assert result == {}
    assert [r["restarted"] for r in wapi_simulator.sim.restarts] == [True]


def test_errors_as_wapierror(wapi, wapi_simulator):
    bad = client(wapi_simulator)
    bad.auth = (wapi_simulator.username, "wrong")
    with pytest.raises(WAPIError) as info:
        bad.get("grid")
    assert info.value.status_code == 401
    assert info.value.error_message.startswith("Invalid credentials")  # the 401 body is HTML

    with pytest.raises(WAPIError) as info:
        wapi.get("record:a", {"nosuchfield": "x"})
    assert (info.value.status_code, info.value.error_code) == (400, "Client.Ibap.Proto")
    with pytest.raises(WAPIError) as info:
        add_a(wapi, "a", "10.0.0.1", view="nosuchview")
    assert (info.value.status_code, info.value.error_code) == (404, "Client.Ibap.Data.NotFound")


def test_search_in_an_unknown_view_is_not_found(wapi):
    add_a(wapi, "a", "10.0.0.1")
    with pytest.raises(WAPIError) as info:
        wapi.get("record:a", {"name": "a.%s" % ZONE, "view": "nosuchview"})
    assert (info.value.status_code, info.value.error_code) == (404, "Client.Ibap.Data.NotFound")
    assert "nosuchview" in info.value.error_text


def test_extensible_attribute_search(wapi):
    mine = add_a(wapi, "a", "10.0.0.1", extattrs={"Owner": {"value": "consul_dns"}})
    add_a(wapi, "b", "10.0.0.2", extattrs={"Owner": {"value": "someone-else"}})
    add_a(wapi, "c", "10.0.0.3")
    found = wapi.get("record:a", {"*Owner": "consul_dns"}, return_fields=["default", "extattrs"])
    assert [(r["_ref"], r["extattrs"]) for r in found] == [(mine, {"Owner": {"value": "consul_dns"}})]
