"""The simulator over HTTPS with plain ``requests``: auth, queries, errors, /request, faults."""
import json
import threading

import pytest
import requests

from tests.wapi_simulator.client import WapiTestClient
from tests.wapi_simulator.engine import Simulator
from tests.wapi_simulator.server import WapiSimulatorServer


@pytest.fixture
def wapi(wapi_simulator):
    client = WapiTestClient(wapi_simulator)
    wapi_simulator.sim.define_ea("Owner")
    assert client.post("zone_auth", json={"fqdn": "geant.services"}).status_code == 201
    return client


def add_a(wapi, name, ip, **fields):
    response = wapi.post("record:a", json=dict(fields, name=name, ipv4addr=ip))
    assert response.status_code == 201, response.text
    return response.json()


# ------------------------------------------------------------------ auth
def test_no_credentials_gets_401_html(wapi_simulator):
    response = WapiTestClient(wapi_simulator, auth=False).get("record:a")
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("text/html")
    assert "WWW-Authenticate" in response.headers


def test_wrong_password_gets_401(wapi_simulator):
    client = WapiTestClient(wapi_simulator, auth=False)
    assert client.get("record:a", auth=("admin", "wrong")).status_code == 401


def test_cookie_alone_authenticates_until_logout(wapi_simulator):
    client = WapiTestClient(wapi_simulator)
    first = client.get("view")
    assert first.status_code == 200
    cookie = client.session.cookies.get("ibapauth")
    fields = dict(p.split("=", 1) for p in cookie.strip('"').split(",") if "=" in p)
    assert fields["user"] == "admin" and int(fields["timeout"]) > 0 and int(fields["ctime"]) > 0
    client.session.auth = None
    assert client.get("view").status_code == 200
    assert client.post("logout").status_code == 200
    anonymous = WapiTestClient(wapi_simulator, auth=False)
    assert anonymous.get("view", cookies={"ibapauth": cookie}).status_code == 401


@pytest.mark.parametrize("version", ["0.9", "3.0", "3.1.2", "10.1"])
def test_unsupported_version(wapi_simulator, version):
    response = WapiTestClient(wapi_simulator, version=version).get("record:a")
    assert response.status_code == 400
    assert response.json()["text"] == "Version %s not supported" % version


@pytest.mark.parametrize("version", ["1.0", "1.4", "1.7.5", "2.0", "2.5", "2.12.3", "2.13.1"])
def test_versions_from_1_0_up_are_served(wapi_simulator, version):
    assert WapiTestClient(wapi_simulator, version=version).get("view").status_code == 200
    schema = WapiTestClient(wapi_simulator, version=version).get("", params={"_schema": ""}).json()
    assert schema["requested_version"] == version


def test_url_encoded_object_type(wapi):
    ref = add_a(wapi, "a.geant.services", "10.0.0.1")
    found = wapi.get("record%3Aa?name=a.geant.services").json()
    assert [r["_ref"] for r in found] == [ref]


# ------------------------------------------------------------------ search and return fields
def test_filters(wapi):
    add_a(wapi, "web1.geant.services", "10.0.0.1", extattrs={"Owner": {"value": "consul_dns"}})
    add_a(wapi, "web2.geant.services", "10.0.0.2")
    add_a(wapi, "db.geant.services", "10.0.1.1", extattrs={"Owner": {"value": "someone"}})

    def names(params):
        response = wapi.get("record:a", params=params)
        assert response.status_code == 200, response.text
        return sorted(r["name"] for r in response.json())

    assert names({"name~": "^web"}) == ["web1.geant.services", "web2.geant.services"]
    assert names({"name:": "DB.Geant.Services"}) == ["db.geant.services"]
    assert names({"name!": "db.geant.services"}) == ["web1.geant.services", "web2.geant.services"]
    assert names({"ipv4addr~": "^10\\.0\\.1\\."}) == ["db.geant.services"]
    assert names({"ipv4addr": "10.0.0.2"}) == ["web2.geant.services"]
    assert names({"*Owner": "consul_dns"}) == ["web1.geant.services"]
    assert names({"*Owner!": "consul_dns"}) == ["db.geant.services", "web2.geant.services"]
    assert names({"zone": "geant.services", "view": "default", "_proxy_search": "GM"}) == \
        ["db.geant.services", "web1.geant.services", "web2.geant.services"]
    assert names({"name": "nothing.geant.services"}) == []


def test_return_fields_and_return_as_object(wapi):
    add_a(wapi, "a.geant.services", "10.0.0.1", comment="c", ttl=60)
    only = wapi.get("record:a", params={"_return_fields": "name,ttl"}).json()
    assert only == [{"_ref": only[0]["_ref"], "name": "a.geant.services", "ttl": 60}]
    plus = wapi.get("record:a", params={"_return_fields+": "comment", "_return_type": "json"}).json()[0]
    assert set(plus) == {"_ref", "name", "ipv4addr", "view", "comment"}
    wrapped = wapi.get("record:a", params={"_return_as_object": "1"}).json()
    assert list(wrapped) == ["result"] and len(wrapped["result"]) == 1


def test_max_results_default_error_and_truncation(wapi_simulator):
    client = WapiTestClient(wapi_simulator)
    client.post("zone_auth", json={"fqdn": "big.test"})
    records = [{"method": "POST", "object": "record:a",
                "data": {"name": "h%d.big.test" % i, "ipv4addr": "10.1.%d.%d" % (i // 250, i % 250 + 1)}}
               for i in range(1001)]
    assert client.post("request", json=records).status_code == 200
    too_many = client.get("record:a")
    assert too_many.status_code == 400
    assert too_many.json() == {"Error": "AdmConProtoError: Result set too large (> 1000)",
                               "code": "Client.Ibap.Proto", "text": "Result set too large (> 1000)"}
    assert len(client.get("record:a", params={"_max_results": 1000}).json()) == 1000
    assert len(client.get("record:a", params={"_max_results": -2000}).json()) == 1001


@pytest.mark.parametrize("with_original_args", [False, True])
def test_paging_across_pages(wapi, with_original_args):
    for i in range(10):
        add_a(wapi, "h%d.geant.services" % i, "10.0.0.%d" % (i + 1))
    args = {"_paging": 1, "_return_as_object": 1, "_max_results": 4, "name~": "^h"}
    page = wapi.get("record:a", params=args).json()
    pages = [page]
    while "next_page_id" in page:
        follow = dict(args, _page_id=page["next_page_id"]) if with_original_args else {"_page_id": page["next_page_id"]}
        page = wapi.get("record:a", params=follow).json()
        pages.append(page)
    # every page has the first page's shape (never wrapped twice); the last has no next_page_id
    assert [sorted(p) for p in pages] == [["next_page_id", "result"]] * 2 + [["result"]]
    assert all(isinstance(r, dict) and r["_ref"].startswith("record:a/") for p in pages for r in p["result"])
    sizes, names = [len(p["result"]) for p in pages], [r["name"] for p in pages for r in p["result"]]
    assert sizes == [4, 4, 2]
    assert sorted(names) == sorted("h%d.geant.services" % i for i in range(10))


# ------------------------------------------------------------------ writes and errors
def test_return_fields_in_the_post_body(wapi):
    # as octoblox creates a zone: the argument sits in the JSON body, not the query string
    created = wapi.post("zone_auth", json={"fqdn": "geant.org", "zone_format": "FORWARD",
                                           "_return_fields+": "soa_default_ttl", "soa_default_ttl": 3600})
    assert created.status_code == 201, created.text
    assert created.json()["fqdn"] == "geant.org" and created.json()["soa_default_ttl"] == 3600


def test_ref_round_trip(wapi):
    ref = add_a(wapi, "a.geant.services", "10.0.0.1")
    assert ref.startswith("record:a/") and ref.endswith(":a.geant.services/default")
    assert wapi.get(ref).json()["_ref"] == ref
    updated = wapi.put(ref, json={"comment": "x"})
    assert updated.status_code == 200 and updated.json() == ref
    deleted = wapi.delete(ref)
    assert deleted.status_code == 200 and deleted.json() == ref
    missing = wapi.get(ref)
    assert missing.status_code == 404 and missing.json()["code"] == "Client.Ibap.Data.NotFound"


def test_post_with_return_fields_returns_the_object(wapi):
    response = wapi.post("record:a", params={"_return_fields+": "comment"},
                         json={"name": "a.geant.services", "ipv4addr": "10.0.0.1", "comment": "hi"})
    assert response.status_code == 201
    body = response.json()
    assert body["comment"] == "hi" and body["_ref"].startswith("record:a/")


@pytest.mark.parametrize("method,path,body,status,code", [
    ("POST", "record:a", {"name": "a.nowhere.test", "ipv4addr": "10.0.0.1"}, 400, "Client.Ibap.Data.Conflict"),
    ("POST", "record:a", {"name": "a.geant.services", "ipv4addr": "10.0.0.1", "foo": 1}, 400, "Client.Ibap.Proto"),
    ("GET", "record:a?foo=1", None, 400, "Client.Ibap.Proto"),
    ("GET", "record:a?_bogus=1", None, 400, "Client.Ibap.Proto"),
    ("GET", "record:a?ttl=5", None, 400, "Client.Ibap.Proto"),
    ("GET", "record:nope", None, 400, "Client.Ibap.Proto"),
    ("DELETE", "record:a/ZG5zLmJpbmRfYSQ5OTk5:a.geant.services/default", None, 404, "Client.Ibap.Data.NotFound"),
    ("POST", "record:a", {"name": "a.geant.services", "ipv4addr": "10.0.0.1",
                          "extattrs": {"Undefined": {"value": "x"}}}, 400, "Client.Ibap.Proto"),
    ("GET", "record:a?*Undefined=x", None, 400, "Client.Ibap.Proto"),
])
def test_error_bodies(wapi, method, path, body, status, code):
    response = wapi.request(method, path, json=body)
    assert response.status_code == status
    payload = response.json()
    assert set(payload) >= {"Error", "code", "text"} and payload["code"] == code
    assert payload["Error"].startswith("AdmCon")


def test_duplicate_and_cname_conflicts(wapi):
    add_a(wapi, "a.geant.services", "10.0.0.1")
    dup = wapi.post("record:a", json={"name": "a.geant.services", "ipv4addr": "10.0.0.1"})
    assert dup.status_code == 400 and dup.json()["code"] == "Client.Ibap.Data.Conflict"
    cname = wapi.post("record:cname", json={"name": "a.geant.services", "canonical": "b.geant.services"})
    assert cname.status_code == 400 and cname.json()["code"] == "Client.Ibap.Data.Conflict"


def test_immutable_view_on_put(wapi):
    ref = add_a(wapi, "a.geant.services", "10.0.0.1")
    response = wapi.put(ref, json={"view": "default"})
    assert response.status_code == 400 and "not allowed for update: view" in response.json()["text"]


def test_grid_restartservices(wapi_simulator, wapi):
    grid_ref = wapi.get("grid").json()[0]["_ref"]
    add_a(wapi, "a.geant.services", "10.0.0.1")
    assert wapi_simulator.sim.restart_needed is True
    response = wapi.post(grid_ref, params={"_function": "restartservices"},
                         json={"restart_option": "RESTART_IF_NEEDED", "services": ["DNS"]})
    assert response.status_code == 200
    assert wapi_simulator.sim.restart_needed is False
    assert [r["restarted"] for r in wapi_simulator.sim.restarts] == [True]
    bad = wapi.post(grid_ref, params={"_function": "restartservices"}, json={"restart_option": "NOW"})
    assert bad.status_code == 400


# ------------------------------------------------------------------ multi-object request
def test_request_endpoint_atomic(wapi_simulator, wapi):
    body = [
        {"method": "POST", "object": "record:a", "data": {"name": "x.geant.services", "ipv4addr": "10.0.0.9"}},
        {"method": "POST", "object": "record:a", "data": {"name": "y.nowhere.test", "ipv4addr": "10.0.0.9"}},
    ]
    response = wapi.post("request", json=body)
    assert response.status_code == 400
    assert response.json()["index"] == 1 and response.json()["text"] == "A parent was not found."
    assert wapi.get("record:a").json() == []


def test_request_endpoint_results_and_substitution(wapi):
    body = [
        {"method": "POST", "object": "record:a", "data": {"name": "x.geant.services", "ipv4addr": "10.0.0.9"},
         "assign_state": {"ref": "_ref"}},
        {"method": "PUT", "object": "##STATE:ref:##", "enable_substitution": True,
         "data": {"comment": "set via request"}, "discard": True},
        {"method": "GET", "object": "record:a", "data": {"name": "x.geant.services"},
         "args": {"_return_fields": "comment"}},
    ]
    response = wapi.post("request", json=body)
    assert response.status_code == 200, response.text
    created_ref, found = response.json()
    assert found == [{"_ref": created_ref, "comment": "set via request"}]


def test_request_endpoint_single_object_body(wapi):
    add_a(wapi, "a.geant.services", "10.0.0.1")
    response = wapi.post("request", json={"method": "GET", "object": "record:a", "data": {"name": "a.geant.services"}})
    assert response.status_code == 200 and len(response.json()) == 1


# ------------------------------------------------------------------ faults and the request log
def test_fail_next_requests_with_503_html(wapi_simulator, wapi):
    wapi_simulator.sim.faults.fail_next(2)
    first, second, third = (wapi.get("view") for _attempt in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert first.headers["Content-Type"].startswith("text/html")


def test_fail_matching_requests_only(wapi_simulator, wapi):
    wapi_simulator.sim.faults.fail_matching(500, method="POST", path=r"/record:a($|\?)")
    assert wapi.get("record:a").status_code == 200
    assert wapi.post("record:a", json={"name": "a.geant.services", "ipv4addr": "10.0.0.1"}).status_code == 500
    assert wapi.post("record:aaaa", json={"name": "a.geant.services", "ipv6addr": "::1"}).status_code == 201


def test_drop_connection(wapi_simulator, wapi):
    wapi_simulator.sim.faults.drop_next(1)
    with pytest.raises(requests.ConnectionError):
        wapi.get("view")
    assert wapi.get("view").status_code == 200


def test_latency_is_applied(wapi_simulator, wapi):
    wapi_simulator.sim.faults.add_latency(0.05, count=1)
    assert wapi.get("view").status_code == 200
    assert wapi_simulator.sim.faults.rules() == []  # consumed


def test_end_latency_lets_a_waiting_request_go_on(wapi_simulator, wapi):
    faults = wapi_simulator.sim.faults
    faults.add_latency(600, count=1)
    answers = []
    caller = threading.Thread(target=lambda: answers.append(wapi.get("view").status_code), daemon=True)
    caller.start()
    for _attempt in range(200):  # the request is waiting once it has consumed the rule
        if not faults.rules():
            break
        caller.join(0.05)
    faults.end_latency()
    caller.join(60)
    assert answers == [200]
    assert wapi.get("view").status_code == 200  # nothing left to wait for


def test_fail_nth_operation_of_request(wapi_simulator, wapi):
    wapi_simulator.sim.faults.fail_request_item(1, text="boom")
    body = [{"method": "POST", "object": "record:a",
             "data": {"name": "n%d.geant.services" % i, "ipv4addr": "10.0.0.%d" % (i + 1)}}
            for i in range(3)]
    failed = wapi.post("request", json=body)
    assert failed.status_code == 400 and failed.json()["index"] == 1 and failed.json()["text"] == "boom"
    assert wapi.get("record:a").json() == []
    assert wapi.post("request", json=body).status_code == 200
    assert len(wapi.get("record:a").json()) == 3


def test_faults_and_log_over_http(wapi_simulator, wapi):
    wapi.control("DELETE", "log")
    added = wapi.control("POST", "faults", json={"action": "status", "status": 503, "count": 1, "method": "GET"})
    assert added.status_code == 201
    assert wapi.get("record:a").status_code == 503
    add_a(wapi, "a.geant.services", "10.0.0.1")
    assert wapi.get("record:a").status_code == 200
    log = wapi.control("GET", "log").json()
    assert [(e["method"], e["status"], e["kind"]) for e in log] == \
        [("GET", 503, "other"), ("POST", 201, "write"), ("GET", 200, "read")]
    assert log[1]["body"] == {"name": "a.geant.services", "ipv4addr": "10.0.0.1"}
    assert wapi_simulator.sim.log.writes("record:a") == 1 and wapi_simulator.sim.log.reads() == 1
    state = wapi.control("GET", "state").json()
    assert state["counts"]["record:a"] == 1 and state["restart_needed"] is True
    assert wapi.control("POST", "reset").status_code == 200
    assert wapi_simulator.sim.store.count("record:a") == 0


def test_expired_sessions_need_credentials_again(wapi_simulator):
    client = WapiTestClient(wapi_simulator)
    client.get("view")
    client.session.auth = None
    client.control("POST", "sessions/expire")
    assert client.get("view").status_code == 401


# ------------------------------------------------------------------ server lifecycle and persistence
def test_state_file_survives_restart(tmp_path, wapi_simulator_cert_dir):
    state = str(tmp_path / "state.json")
    with WapiSimulatorServer(cert_dir=wapi_simulator_cert_dir, state_file=state) as server:
        client = WapiTestClient(server)
        client.post("zone_auth", json={"fqdn": "geant.services"})
        ref = client.post("record:a", json={"name": "a.geant.services", "ipv4addr": "10.0.0.1"}).json()
    assert json.load(open(state))["store"]["objects"]
    with WapiSimulatorServer(cert_dir=wapi_simulator_cert_dir, state_file=state) as server:
        client = WapiTestClient(server)
        assert client.get(ref).json()["name"] == "a.geant.services"
        second = client.post("record:a", json={"name": "b.geant.services", "ipv4addr": "10.0.0.2"}).json()
        assert second != ref


def test_stop_closes_idle_keep_alive_connections(wapi_simulator_cert_dir):
    server = WapiSimulatorServer(cert_dir=wapi_simulator_cert_dir, sim=Simulator()).start()
    client = WapiTestClient(server)
    assert client.get("view").status_code == 200  # leaves a keep-alive connection open
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    stopper.join(timeout=15)
    assert not stopper.is_alive()
    with pytest.raises(requests.ConnectionError):
        client.get("view")


# ------------------------------------------------------------------ _schema
def test_schema_over_http(wapi):
    root = wapi.get("", params={"_schema": ""})
    assert root.status_code == 200, root.text
    assert root.json()["requested_version"] == "2.12" and "record:a" in root.json()["supported_objects"]
    obj = wapi.get("record%3Aa", params={"_schema": "1", "_schema_version": "2", "_get_doc": "1"}).json()
    assert obj["type"] == "record:a" and obj["version"] == "2.12"
    assert {"name", "ipv4addr", "view", "zone"} <= {f["name"] for f in obj["fields"]}


def test_search_naming_an_unknown_view_is_404(wapi):
    response = wapi.get("record:a", params={"name": "a.geant.services", "view": "Nope"})
    assert response.status_code == 404
    assert response.json() == {"Error": "AdmConDataNotFoundError: View Nope not found",
                               "code": "Client.Ibap.Data.NotFound", "text": "View Nope not found"}


def test_paging_on_a_read_by_reference_is_refused(wapi):
    ref = add_a(wapi, "a.geant.services", "10.0.0.1")
    response = wapi.get(ref, params={"_paging": 1, "_return_as_object": 1, "_max_results": 100})
    assert response.status_code == 400 and response.json()["code"] == "Client.Ibap.Proto"
    assert response.json()["text"] == "Paging is not supported for object reference read operations"


def test_restartservicestatus_over_http(wapi):
    [status] = wapi.get("restartservicestatus").json()
    assert status["member"] == "infoblox.localdomain" and status["dns_status"] == "YES"
    assert set(status) == {"_ref", "member", "dns_status", "dhcp_status", "reporting_status"}
    assert wapi.get(status["_ref"]).json() == status


def test_host_alias_conflicts_like_a_cname(wapi):
    host = wapi.post("record:host", json={"name": "h.geant.services", "ipv4addrs": [{"ipv4addr": "10.0.0.1"}],
                                          "aliases": ["www.geant.services"]})
    assert host.status_code == 201, host.text
    a = wapi.post("record:a", json={"name": "www.geant.services", "ipv4addr": "10.0.0.2"})
    assert a.status_code == 400 and a.json()["code"] == "Client.Ibap.Data.Conflict"
    add_a(wapi, "api.geant.services", "10.0.0.3")
    put = wapi.put(host.json(), json={"aliases": ["api.geant.services"]})
    assert put.status_code == 400 and put.json()["code"] == "Client.Ibap.Data.Conflict"


def test_alias_and_shared_records_over_http(wapi):
    alias = wapi.post("record:alias", json={"name": "geant.services", "target_name": "lb.example.org",
                                            "target_type": "AAAA"})
    assert alias.status_code == 201, alias.text
    assert wapi.get("record:alias", params={"target_type": "AAAA"}).json()[0]["_ref"] == alias.json()
    group = wapi.post("sharedrecordgroup", json={"name": "common", "zone_associations": ["geant.services"]})
    assert group.status_code == 201, group.text
    shared = wapi.post("sharedrecord:cname", json={"name": "www", "canonical": "web.example.org",
                                                   "shared_record_group": "common"})
    assert shared.status_code == 201, shared.text
    a = wapi.post("record:a", json={"name": "www.geant.services", "ipv4addr": "10.0.0.1"})
    assert a.status_code == 400 and a.json()["code"] == "Client.Ibap.Data.Conflict"


def test_zone_search_does_not_return_sub_zone_records(wapi):
    assert wapi.post("zone_auth", json={"fqdn": "prod.geant.services"}).status_code == 201
    add_a(wapi, "app.prod.geant.services", "10.0.0.1")
    add_a(wapi, "www.geant.services", "10.0.0.2")
    parent = wapi.get("record:a", params={"zone": "geant.services", "_return_fields+": "zone"}).json()
    sub = wapi.get("record:a", params={"zone": "prod.geant.services", "_return_fields+": "zone"}).json()
    assert [(r["name"], r["zone"]) for r in parent] == [("www.geant.services", "geant.services")]
    assert [(r["name"], r["zone"]) for r in sub] == [("app.prod.geant.services", "prod.geant.services")]


def test_disable_and_inherited_ttl_over_http(wapi):
    ref = add_a(wapi, "a.geant.services", "10.0.0.1", disable=True, ttl=60, use_ttl=False)
    got = wapi.get(ref, params={"_return_fields": "disable,ttl,use_ttl"}).json()
    assert got == {"_ref": ref, "disable": True, "use_ttl": False}


# ------------------------------------------------------------------ users and permissions
def test_write_without_permission_is_400_json_as_nios_sends_it(wapi_simulator, wapi):
    ref = add_a(wapi, "a.geant.services", "10.0.0.1")
    wapi_simulator.sim.add_user("reader", "secret", permissions=[{"object": "record:a", "permission": "READ"}])
    reader = WapiTestClient(wapi_simulator)
    reader.session.auth = ("reader", "secret")
    assert [r["_ref"] for r in reader.get("record:a").json()] == [ref]
    cookie = reader.session.cookies.get("ibapauth")
    assert ",su=0," in cookie and "user=reader" in cookie
    text = ("Write permission for the resource record type 'A' in the zone 'geant.services' is required for this "
            "operation.")
    denied = reader.post("record:a", json={"name": "b.geant.services", "ipv4addr": "10.0.0.2"})
    assert denied.status_code == 400 and denied.headers["Content-Type"] == "application/json"
    assert denied.json() == {"Error": "AdmConDataError: None (IBDataConflictError: IB.Data.Conflict:%s)" % text,
                             "code": "Client.Ibap.Data.Conflict", "text": text}  # external-dns#1370
    assert reader.delete(ref).json()["text"] == text
    assert reader.put(ref, json={"comment": "x"}).status_code == 400
    in_request = reader.post("request", json=[
        {"method": "POST", "object": "record:a", "data": {"name": "c.geant.services", "ipv4addr": "10.0.0.3"}}])
    assert in_request.status_code == 400 and in_request.json() == dict(denied.json(), index=0)
    assert reader.get("zone_auth").json() == []  # nothing granted: silently empty
    ea = reader.post("extensibleattributedef", json={"name": "Site", "type": "STRING"})
    assert (ea.status_code, ea.json()["code"]) == (400, "Client.Ibap.Data.Conflict")
    assert "Only superusers can manage extensible attribute definition" in ea.json()["text"]


def test_read_by_ref_of_an_unreadable_object_is_403_html(wapi_simulator, wapi):
    ref = add_a(wapi, "a.geant.services", "10.0.0.1")
    wapi_simulator.sim.add_user("none", "secret")
    nobody = WapiTestClient(wapi_simulator, auth=False)
    nobody.session.auth = ("none", "secret")
    assert nobody.get("record:a").json() == []
    denied = nobody.get(ref)
    assert denied.status_code == 403 and denied.headers["Content-Type"].startswith("text/html")
    assert "<title>403 Forbidden</title>" in denied.text
    assert "You don't have permission to access /wapi/v2.12/%s" % ref in denied.text


def test_user_without_api_access_gets_403_html_on_every_call(wapi_simulator, wapi):
    wapi.control("POST", "users", json={"name": "gui", "password": "pw", "superuser": True,
                                        "access_method": ["GUI", "CLI"]})
    gui = WapiTestClient(wapi_simulator, auth=False)
    gui.session.auth = ("gui", "pw")
    for response in (gui.get("record:a"), gui.get("", params={"_schema": ""}),
                     gui.post("zone_auth", json={"fqdn": "x.geant.services"}), gui.post("logout")):
        assert response.status_code == 403 and response.headers["Content-Type"].startswith("text/html")
        assert "<title>403 Forbidden</title>" in response.text
        assert "ibapauth" not in response.headers.get("Set-Cookie", "")  # no session
    assert "You don't have permission to access /wapi/v2.12/record:a" in gui.get("record:a").text
    assert wapi_simulator.sim.log.entries()[-1]["status"] == 403
    assert wapi.get("zone_auth", params={"fqdn": "x.geant.services"}).json() == []


def test_users_over_the_control_api(wapi_simulator, wapi):
    added = wapi.control("POST", "users", json={"name": "dns", "password": "pw", "permissions": [
        {"object": "record:a", "zone": "geant.services", "permission": "WRITE"}]})
    assert added.status_code == 201 and added.json()["superuser"] is False
    assert {u["name"] for u in wapi.control("GET", "users").json()} == {"admin", "dns"}
    assert "password" not in wapi.control("GET", "users").json()[0]
    assert wapi.control("POST", "users", json={"name": "x", "password": "y", "permissions": [
        {"object": "nope", "permission": "READ"}]}).status_code == 400
    dns = WapiTestClient(wapi_simulator, auth=False)
    dns.session.auth = ("dns", "pw")
    assert dns.post("record:a", json={"name": "b.geant.services", "ipv4addr": "10.0.0.2"}).status_code == 201
    assert WapiTestClient(wapi_simulator, auth=False).get("record:a", auth=("dns", "wrong")).status_code == 401


def test_request_rollback_mode_over_the_control_api(wapi):
    assert wapi.control("GET", "state").json()["request_rollback"] is True
    switched = wapi.control("POST", "settings", json={"request_rollback": False})
    assert switched.status_code == 200 and switched.json() == {"request_rollback": False}
    body = [
        {"method": "POST", "object": "record:a", "data": {"name": "x.geant.services", "ipv4addr": "10.0.0.9"}},
        {"method": "POST", "object": "record:a", "data": {"name": "y.nowhere.test", "ipv4addr": "10.0.0.9"}},
    ]
    failed = wapi.post("request", json=body)
    assert failed.status_code == 400 and failed.json()["index"] == 1
    assert [r["name"] for r in wapi.get("record:a").json()] == ["x.geant.services"]
    assert wapi.control("POST", "settings", json={"request_rollback": "no"}).status_code == 400
