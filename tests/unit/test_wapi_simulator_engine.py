"""WAPI semantics of the simulator engine, without HTTP."""
import pytest

from tests.wapi_simulator import errors
from tests.wapi_simulator.engine import Simulator
from tests.wapi_simulator.query import Criterion


def call(sim, method, target, body=None, **args):
    return sim.handle(method, target, {k: v if isinstance(v, list) else [v] for k, v in args.items()}, body)


@pytest.fixture
def sim():
    sim = Simulator(ea_definitions=["Owner"])
    call(sim, "POST", "zone_auth", {"fqdn": "geant.services"})
    return sim


def add_a(sim, name, ip, **fields):
    return call(sim, "POST", "record:a", dict(fields, name=name, ipv4addr=ip))[1]


def error_of(sim, method, target, body=None, **args):
    with pytest.raises(errors.WapiError) as info:
        call(sim, method, target, body, **args)
    return info.value


# ------------------------------------------------------------------ search modifiers
@pytest.mark.parametrize("key,value,stored,expected", [
    ("name", "a.b", "a.b", True),
    ("name", "a.b", "a.bc", False),
    ("name~", "^a\\.", "a.bc", True),
    ("name~", "^A", "a.bc", False),
    ("name:~", "^A", "a.bc", True),
    ("name:", "A.B", "a.b", True),
    ("name!", "a.b", "a.b", False),
    ("name!", "a.b", "x.y", True),
    ("name!~", "^x", "x.y", False),
    ("ttl<", "300", 300, True),
    ("ttl<", "299", 300, False),
    ("ttl>", "300", 301, True),
    ("disable", "false", False, True),
    ("name", "a.b", None, False),
    ("name!", "a.b", None, True),
    ("*Site", "x", ["y", "x"], True),
])
def test_criterion_modifiers(key, value, stored, expected):
    assert Criterion(key, value).matches(stored) is expected


def test_bad_regex_is_a_proto_error():
    with pytest.raises(errors.WapiError) as info:
        Criterion("name~", "(")
    assert info.value.code == "Client.Ibap.Proto"


# ------------------------------------------------------------------ create / read
def test_names_are_stored_lower_case_without_trailing_dot(sim):
    ref = add_a(sim, "Crowd.GEANT.services.", "1.1.1.10")
    assert ref.startswith("record:a/") and ref.endswith(":crowd.geant.services/default")
    _status, found = call(sim, "GET", "record:a", name="CROWD.geant.services")
    assert [r["name"] for r in found] == ["crowd.geant.services"]


def test_basic_fields_and_return_fields(sim):
    add_a(sim, "a.geant.services", "10.0.0.1", comment="hello")
    _status, [basic] = call(sim, "GET", "record:a")
    assert sorted(basic) == ["_ref", "ipv4addr", "name", "view"]
    _status, [only] = call(sim, "GET", "record:a", _return_fields="comment")
    assert sorted(only) == ["_ref", "comment"]
    _status, [plus] = call(sim, "GET", "record:a", **{"_return_fields+": "comment,extattrs,zone"})
    assert plus["comment"] == "hello" and plus["extattrs"] == {} and plus["zone"] == "geant.services"


def test_write_arguments_in_the_json_body(sim):
    """octoblox's create_zones POSTs zone_auth with "_return_fields+" in the JSON body."""
    status, zone = call(sim, "POST", "zone_auth", {"fqdn": "geant.org", "_return_fields+": "soa_default_ttl",
                                                   "soa_default_ttl": 3600})
    assert status == 201 and zone["fqdn"] == "geant.org" and zone["soa_default_ttl"] == 3600
    assert zone["_ref"].startswith("zone_auth/")
    ref = add_a(sim, "a.geant.services", "10.0.0.1")
    _status, got = call(sim, "PUT", ref, {"comment": "c", "_return_fields": ["comment", "ttl"], "_return_as_object": 1})
    assert got == {"result": {"_ref": ref, "comment": "c"}}  # list joined; ttl not shown: inherited
    # the query string wins over the body
    _status, got = call(sim, "PUT", ref, {"comment": "d", "_return_fields": "comment"}, _return_fields="name")
    assert got == {"_ref": ref, "name": "a.geant.services"}
    # only those three arguments: any other underscore key stays an unknown field
    assert error_of(sim, "POST", "record:a", {"name": "b.geant.services", "ipv4addr": "10.0.0.2",
                                              "_max_results": 1}).text == "Unknown argument/field: _max_results"
    # in a multi-object request item's data as well
    _status, [created] = call(sim, "POST", "request", [
        {"method": "POST", "object": "record:a",
         "data": {"name": "c.geant.services", "ipv4addr": "10.0.0.3", "_return_fields": "name"}}])
    assert created["name"] == "c.geant.services"


def test_ttl_switches_use_ttl_on_and_is_hidden_when_inherited(sim):
    add_a(sim, "a.geant.services", "10.0.0.1", ttl=60)
    add_a(sim, "b.geant.services", "10.0.0.2")
    _status, found = call(sim, "GET", "record:a", _return_fields="name,ttl,use_ttl")
    by_name = {r["name"]: r for r in found}
    assert by_name["a.geant.services"]["ttl"] == 60 and by_name["a.geant.services"]["use_ttl"] is True
    assert "ttl" not in by_name["b.geant.services"] and by_name["b.geant.services"]["use_ttl"] is False


def test_zone_search_uses_deepest_zone_and_default_view(sim):
    call(sim, "POST", "zone_auth", {"fqdn": "sub.geant.services"})
    add_a(sim, "a.geant.services", "10.0.0.1")
    add_a(sim, "b.sub.geant.services", "10.0.0.2")
    _status, found = call(sim, "GET", "record:a", zone="sub.geant.services")
    assert [r["name"] for r in found] == ["b.sub.geant.services"]


# ------------------------------------------------------------------ validation rules
def test_record_without_parent_zone(sim):
    err = error_of(sim, "POST", "record:a", {"name": "x.example.org", "ipv4addr": "10.0.0.1"})
    assert (err.status, err.code, err.text) == (400, "Client.Ibap.Data.Conflict", "A parent was not found.")


def test_duplicate_record_conflicts_but_other_address_does_not(sim):
    add_a(sim, "a.geant.services", "10.0.0.1")
    add_a(sim, "a.geant.services", "10.0.0.2")
    err = error_of(sim, "POST", "record:a", {"name": "a.geant.services", "ipv4addr": "10.0.0.1"})
    assert err.code == "Client.Ibap.Data.Conflict"
    assert "IB.Data.Conflict" in err.body()["Error"]


@pytest.mark.parametrize("first,second", [
    (("record:a", {"ipv4addr": "10.0.0.1"}), ("record:cname", {"canonical": "t.geant.services"})),
    (("record:cname", {"canonical": "t.geant.services"}), ("record:aaaa", {"ipv6addr": "2001:db8::1"})),
    (("record:cname", {"canonical": "t.geant.services"}), ("record:host", {"ipv4addrs": [{"ipv4addr": "10.0.0.1"}]})),
    (("record:host", {"ipv4addrs": [{"ipv4addr": "10.0.0.1"}]}), ("record:a", {"ipv4addr": "10.0.0.1"})),
])
def test_conflicting_record_types(sim, first, second):
    call(sim, "POST", first[0], dict(first[1], name="n.geant.services"))
    err = error_of(sim, "POST", second[0], dict(second[1], name="n.geant.services"))
    assert err.code == "Client.Ibap.Data.Conflict"


def test_a_aaaa_and_host_may_share_a_name(sim):
    add_a(sim, "n.geant.services", "10.0.0.1")
    call(sim, "POST", "record:aaaa", {"name": "n.geant.services", "ipv6addr": "2001:db8::1"})
    call(sim, "POST", "record:host", {"name": "n.geant.services", "ipv4addrs": [{"ipv4addr": "10.0.0.2"}]})
    assert sim.store.count("record:host") == 1


@pytest.mark.parametrize("body,text", [
    ({"name": "a.geant.services", "ipv4addr": "10.0.0.1", "bogus": 1}, "Unknown argument/field: bogus"),
    ({"name": "a.geant.services"}, "Required field missing: ipv4addr"),
    ({"name": "a.geant.services", "ipv4addr": "10.0.0.1", "zone": "geant.services"}, "Field is not writable: zone"),
    ({"name": "a.geant.services", "ipv4addr": "300.0.0.1"}, "Invalid value for ipv4addr"),
])
def test_proto_errors_on_create(sim, body, text):
    err = error_of(sim, "POST", "record:a", body)
    assert err.code == "Client.Ibap.Proto" and err.text.startswith(text)


def test_undefined_extensible_attribute(sim):
    err = error_of(sim, "POST", "record:a", {"name": "a.geant.services", "ipv4addr": "10.0.0.1",
                                             "extattrs": {"Nope": {"value": "x"}}})
    assert err.body() == {"Error": "AdmConProtoError: Unknown extensible attribute: Nope",
                          "code": "Client.Ibap.Proto", "text": "Unknown extensible attribute: Nope"}
    ref = add_a(sim, "a.geant.services", "10.0.0.1")
    assert error_of(sim, "PUT", ref, {"extattrs+": {"Nope": {"value": "x"}}}).code == "Client.Ibap.Proto"


@pytest.mark.parametrize("key", ["*Nope", "*Nope~", "*Nope!"])
def test_search_by_an_undefined_extensible_attribute_is_an_error(sim, key):
    err = error_of(sim, "GET", "record:a", **{key: "x"})
    assert (err.status, err.code, err.text) == (400, "Client.Ibap.Proto", "Unknown extensible attribute: Nope")
    assert call(sim, "GET", "record:a", **{"*Owner": "x"})[1] == []


def test_put_replaces_extattrs_and_refuses_view(sim):
    sim.define_ea("Site")
    ref = add_a(sim, "a.geant.services", "10.0.0.1",
                extattrs={"Owner": {"value": "me"}, "Site": {"value": "x"}})
    call(sim, "PUT", ref, {"extattrs": {"Site": {"value": "y"}}})
    _status, obj = call(sim, "GET", ref, _return_fields="extattrs")
    assert obj["extattrs"] == {"Site": {"value": "y"}}
    err = error_of(sim, "PUT", ref, {"view": "other"})
    assert err.text == "Field is not allowed for update: view"


def test_rename_changes_the_ref_suffix_but_keeps_the_object(sim):
    ref = add_a(sim, "a.geant.services", "10.0.0.1")
    _status, new_ref = call(sim, "PUT", ref, {"name": "b.geant.services"})
    assert new_ref.split(":")[0] == ref.split(":")[0] and new_ref.endswith(":b.geant.services/default")


def test_unknown_ref_and_type(sim):
    err = error_of(sim, "GET", "record:a/ZG5zLmJpbmRfYSQ5OTk:x.geant.services/default")
    assert (err.status, err.code) == (404, "Client.Ibap.Data.NotFound")
    assert error_of(sim, "GET", "record:mx").code == "Client.Ibap.Proto"


def test_deleting_a_zone_deletes_its_records(sim):
    _status, [zone] = call(sim, "GET", "zone_auth", fqdn="geant.services")
    add_a(sim, "a.geant.services", "10.0.0.1")
    call(sim, "DELETE", zone["_ref"])
    assert sim.store.count("record:a") == 0


# ------------------------------------------------------------------ max results / paging
def test_max_results_negative_errors_positive_truncates(sim):
    for i in range(5):
        add_a(sim, "h%d.geant.services" % i, "10.0.0.%d" % (i + 1))
    err = error_of(sim, "GET", "record:a", _max_results="-4")
    assert err.body() == {"Error": "AdmConProtoError: Result set too large (> 4)",
                          "code": "Client.Ibap.Proto", "text": "Result set too large (> 4)"}
    assert len(call(sim, "GET", "record:a", _max_results="3")[1]) == 3
    assert len(call(sim, "GET", "record:a", _max_results="-5")[1]) == 5


def test_paging_walks_all_results_once(sim):
    for i in range(7):
        add_a(sim, "h%d.geant.services" % i, "10.0.0.%d" % (i + 1))
    page = call(sim, "GET", "record:a", _paging="1", _return_as_object="1", _max_results="3")[1]
    names = [r["name"] for r in page["result"]]
    while "next_page_id" in page:
        page = call(sim, "GET", "record:a", _page_id=page["next_page_id"])[1]
        names += [r["name"] for r in page["result"]]
    assert sorted(names) == ["h%d.geant.services" % i for i in range(7)]


# ------------------------------------------------------------------ multi-object request
def test_request_rolls_back_everything_on_failure(sim):
    body = [
        {"method": "POST", "object": "record:a", "data": {"name": "a.geant.services", "ipv4addr": "10.0.0.1"}},
        {"method": "POST", "object": "record:a", "data": {"name": "a.geant.services", "ipv4addr": "10.0.0.1"}},
    ]
    err = error_of(sim, "POST", "request", body)
    assert err.code == "Client.Ibap.Data.Conflict" and err.body()["index"] == 1
    assert sim.store.count("record:a") == 0


def test_request_rollback_restores_updates_and_deletes(sim):
    ref = add_a(sim, "a.geant.services", "10.0.0.1", comment="before")
    other = add_a(sim, "b.geant.services", "10.0.0.2")
    body = [
        {"method": "PUT", "object": ref, "data": {"comment": "after"}},
        {"method": "DELETE", "object": other},
        {"method": "GET", "object": "record:a", "data": {"bogus": "x"}},
    ]
    error_of(sim, "POST", "request", body)
    _status, objs = call(sim, "GET", "record:a", _return_fields="name,comment")
    assert {o["name"]: o["comment"] if "comment" in o else None for o in objs} == \
        {"a.geant.services": "before", "b.geant.services": None}


def test_request_state_substitution(sim):
    add_a(sim, "a.geant.services", "10.0.0.1")
    body = [
        {"method": "STATE:ASSIGN", "data": {"host": "a.geant.services"}},
        {"method": "GET", "object": "record:a", "data": {"name": "##STATE:host:##"},
         "assign_state": {"a_ref": "_ref"}, "enable_substitution": True, "discard": True},
        {"method": "PUT", "object": "##STATE:a_ref:##", "enable_substitution": True,
         "data": {"comment": "for ##STATE:host:##"}, "args": {"_return_fields": "comment"},
         "assign_state": {"comment": "comment"}, "discard": True},
        {"method": "STATE:DISPLAY"},
    ]
    status, result = call(sim, "POST", "request", body)
    assert status == 200 and len(result) == 1
    assert result[0]["comment"] == "for a.geant.services" and result[0]["a_ref"].startswith("record:a/")


def test_zone_view_may_be_repeated_on_put_but_not_changed(sim):
    """nios_zone re-sends view on every zone update; records must never send it."""
    call(sim, "POST", "view", {"name": "internal"})
    _status, [zone] = call(sim, "GET", "zone_auth", fqdn="geant.services")
    call(sim, "PUT", zone["_ref"], {"view": "default", "comment": "x"})
    err = error_of(sim, "PUT", zone["_ref"], {"view": "internal"})
    assert err.text == "Field is not allowed for update: view"


# ------------------------------------------------------------------ _schema
def test_schema_of_the_version_root(sim):
    _status, root = call(sim, "GET", "", _schema="")
    assert set(root) == {"requested_version", "supported_objects", "supported_versions"}
    assert root["requested_version"] == "2.12"
    assert {"record:a", "record:host", "zone_auth", "request"} <= set(root["supported_objects"])
    assert root["supported_versions"][0] == "1.0" and "2.12" in root["supported_versions"]
    _status, v2 = call(sim, "GET", "", _schema="1", _schema_version="2")
    assert v2["schema_version"] == "2"


def test_schema_of_an_object_type_follows_the_field_flags(sim):
    _status, doc = call(sim, "GET", "record:a", _schema="1")
    assert set(doc) == {"cloud_additional_restrictions", "fields", "restrictions", "type", "version"}
    assert (doc["type"], doc["version"], doc["restrictions"]) == ("record:a", "2.12", [])
    fields = {f["name"]: f for f in doc["fields"]}
    assert fields["name"] == {"is_array": False, "name": "name", "standard_field": True, "supports": "rwus",
                              "type": ["string"], "searchable_by": ":=~"}
    assert fields["ttl"]["overridden_by"] == "use_ttl" and fields["ttl"]["type"] == ["uint"]
    assert fields["creator"]["enum_values"] == ["STATIC", "DYNAMIC", "SYSTEM"]
    assert fields["zone"]["supports"] == "rs" and fields["view"]["supports"] == "rws"
    assert "doc" not in fields["name"]
    # every readable field of the schema can be asked for (what ibx-sdk's object_fields does)
    readable = ",".join(n for n, f in fields.items() if "r" in f["supports"])
    add_a(sim, "a.geant.services", "10.0.0.1")
    assert call(sim, "GET", "record:a", _return_fields=readable)[0] == 200
    _status, grid = call(sim, "GET", "grid", _schema="1")
    assert grid["restrictions"] == ["create", "delete"]


def test_schema_version_2_adds_structs_functions_docs_and_search_only_fields(sim):
    _status, host = call(sim, "GET", "record:host", _schema="1", _schema_version="2", _get_doc="1",
                         _schema_searchable="1")
    fields = {f["name"]: f for f in host["fields"]}
    assert fields["ipv4addrs"]["wapi_primitive"] == "struct" and fields["ipv4addrs"]["is_array"] is True
    assert "ipv4addr" in [f["name"] for f in fields["ipv4addrs"]["schema"]["fields"]]
    assert fields["mac"]["supports"] == "s"  # search-only: listed with _schema_searchable only
    assert all(f.get("doc") for f in host["fields"])
    _status, plain = call(sim, "GET", "record:host", _schema="1")
    assert "mac" not in [f["name"] for f in plain["fields"]]
    _status, grid = call(sim, "GET", "grid", _schema="1", _schema_version="2")
    [restart] = [f for f in grid["fields"] if f["name"] == "restartservices"]
    assert restart["wapi_primitive"] == "funccall"
    assert "restart_option" in [f["name"] for f in restart["schema"]["input_fields"]]


# ------------------------------------------------------------------ unknown view in a search
def test_search_naming_an_unknown_view_is_404(sim):
    err = error_of(sim, "GET", "record:a", name="a.geant.services", view="nowhere")
    assert (err.status, err.code, err.text) == (404, "Client.Ibap.Data.NotFound", "View nowhere not found")
    assert err.body()["Error"] == "AdmConDataNotFoundError: View nowhere not found"
    assert error_of(sim, "GET", "zone_auth", fqdn="geant.services", view="nowhere").status == 404
    assert call(sim, "GET", "record:a", view="default")[1] == []
    assert call(sim, "GET", "view", name="nowhere")[1] == []  # a search of views themselves: empty


def test_paging_on_a_read_by_reference_is_refused(sim):
    ref = add_a(sim, "a.geant.services", "10.0.0.1")
    err = error_of(sim, "GET", ref, _paging="1", _return_as_object="1", _max_results="10")
    assert err.body() == {"Error": "AdmConProtoError: Paging is not supported for object reference read operations",
                          "code": "Client.Ibap.Proto",
                          "text": "Paging is not supported for object reference read operations"}
    assert call(sim, "GET", ref, _return_as_object="1")[1]["result"]["_ref"] == ref


# ------------------------------------------------------------------ restartservicestatus
def test_restartservicestatus_follows_pending_changes_and_restarts(sim):
    _status, [status] = call(sim, "GET", "restartservicestatus")
    assert sorted(status) == ["_ref", "dhcp_status", "dns_status", "member", "reporting_status"]
    assert status["_ref"].startswith("restartservicestatus/") and status["member"] == "infoblox.localdomain"
    assert status["dns_status"] == "YES"  # the zone created by the fixture is not published yet
    _status, [grid] = call(sim, "GET", "grid")
    call(sim, "POST", grid["_ref"], {"restart_option": "RESTART_IF_NEEDED"}, _function="restartservices")
    assert call(sim, "GET", "restartservicestatus", member="infoblox.localdomain")[1][0]["dns_status"] == "NO"
    add_a(sim, "a.geant.services", "10.0.0.1")
    assert call(sim, "GET", status["_ref"])[1]["dns_status"] == "YES"
    assert call(sim, "GET", "restartservicestatus", member="other")[1] == []


@pytest.mark.parametrize("method,body", [("POST", {"member": "x"}), ("PUT", {"dns_status": "NO"}), ("DELETE", None)])
def test_restartservicestatus_is_read_only(sim, method, body):
    ref = call(sim, "GET", "restartservicestatus")[1][0]["_ref"]
    err = error_of(sim, method, "restartservicestatus" if method == "POST" else ref, body)
    assert (err.status, err.code) == (400, "Client.Ibap.Proto")


# ------------------------------------------------------------------ host aliases are CNAMEs
def add_host(sim, name, ip, **fields):
    return call(sim, "POST", "record:host", dict(fields, name=name, ipv4addrs=[{"ipv4addr": ip}]))[1]


@pytest.mark.parametrize("kind,fields", [
    ("record:a", {"ipv4addr": "10.0.0.9"}),
    ("record:aaaa", {"ipv6addr": "2001:db8::9"}),
    ("record:cname", {"canonical": "t.geant.services"}),
    ("record:host", {"ipv4addrs": [{"ipv4addr": "10.0.0.9"}]}),
    ("record:txt", {"text": "x"}),
])
def test_a_record_named_like_a_host_alias_conflicts(sim, kind, fields):
    add_host(sim, "h.geant.services", "10.0.0.1", aliases=["Www.geant.services."])
    err = error_of(sim, "POST", kind, dict(fields, name="www.geant.services"))
    assert (err.status, err.code) == (400, "Client.Ibap.Data.Conflict")
    call(sim, "POST", kind, dict(fields, name="other.geant.services"))


@pytest.mark.parametrize("kind,fields", [
    ("record:a", {"ipv4addr": "10.0.0.9"}),
    ("record:cname", {"canonical": "t.geant.services"}),
    ("record:host", {"ipv4addrs": [{"ipv4addr": "10.0.0.9"}]}),
])
def test_a_host_alias_named_like_an_existing_record_conflicts(sim, kind, fields):
    call(sim, "POST", kind, dict(fields, name="www.geant.services"))
    err = error_of(sim, "POST", "record:host", {"name": "h.geant.services", "ipv4addrs": [{"ipv4addr": "10.0.0.1"}],
                                                "aliases": ["www.geant.services"]})
    assert err.code == "Client.Ibap.Data.Conflict"
    ref = add_host(sim, "h.geant.services", "10.0.0.1")
    assert error_of(sim, "PUT", ref, {"aliases": ["www.geant.services"]}).code == "Client.Ibap.Data.Conflict"


def test_host_alias_rules_between_hosts_and_on_updates(sim):
    ref = add_host(sim, "h.geant.services", "10.0.0.1", aliases=["www.geant.services"])
    # the same alias on another host, the host's own name, a duplicate, an alias outside any zone
    for aliases in (["h.geant.services"], ["x.geant.services", "x.geant.services"]):
        assert error_of(sim, "PUT", ref, {"aliases": aliases}).code == "Client.Ibap.Data.Conflict"
    err = error_of(sim, "POST", "record:host", {"name": "g.geant.services", "ipv4addrs": [{"ipv4addr": "10.0.0.2"}],
                                                "aliases": ["www.geant.services"]})
    assert err.code == "Client.Ibap.Data.Conflict"
    assert error_of(sim, "PUT", ref, {"aliases": ["www.example.org"]}).text == "A parent was not found."
    # re-sending its own aliases, moving an alias away, then the name is free
    call(sim, "PUT", ref, {"aliases": ["www.geant.services"], "comment": "same aliases"})
    call(sim, "PUT", ref, {"aliases": ["web.geant.services"]})
    add_a(sim, "www.geant.services", "10.0.0.5")
    # not served in DNS: no CNAMEs, no conflict
    add_host(sim, "n.geant.services", "10.0.0.3", aliases=["www.geant.services"], configure_for_dns=False)


# ------------------------------------------------------------------ record:alias
def test_alias_record_fields_and_rules(sim):
    ref = call(sim, "POST", "record:alias", {"name": "geant.services", "target_name": "Lb.Example.org.",
                                             "target_type": "A", "ttl": 60})[1]
    assert ref.startswith("record:alias/") and ref.endswith(":geant.services/default")
    _status, [basic] = call(sim, "GET", "record:alias", name="geant.services")
    assert sorted(basic) == ["_ref", "name", "target_name", "target_type", "view"]
    assert basic["target_name"] == "lb.example.org"
    _status, full = call(sim, "GET", ref, _return_fields="ttl,use_ttl,disable,zone,dns_target_name,creator")
    assert (full["ttl"], full["use_ttl"], full["disable"], full["zone"]) == (60, True, False, "geant.services")
    assert error_of(sim, "POST", "record:alias", {"name": "x.geant.services", "target_name": "t.example.org",
                                                  "target_type": "CNAME"}).code == "Client.Ibap.Proto"
    assert error_of(sim, "POST", "record:alias", {"name": "x.example.org", "target_name": "t.example.org",
                                                  "target_type": "A"}).text == "A parent was not found."
    dup = {"name": "geant.services", "target_name": "lb.example.org", "target_type": "A"}
    assert error_of(sim, "POST", "record:alias", dup).code == "Client.Ibap.Data.Conflict"
    call(sim, "POST", "record:alias", dict(dup, target_type="AAAA"))  # another target type: fine
    # an ALIAS is "another record" for the CNAME rule
    err = error_of(sim, "POST", "record:cname", {"name": "geant.services", "canonical": "x.example.org"})
    assert err.code == "Client.Ibap.Data.Conflict"
    assert [r["target_type"] for r in call(sim, "GET", "record:alias", zone="geant.services")[1]] == ["A", "AAAA"]


# ------------------------------------------------------------------ shared records
def shared_setup(sim):
    call(sim, "POST", "zone_auth", {"fqdn": "geant.org"})
    group = call(sim, "POST", "sharedrecordgroup", {"name": "common", "zone_associations": ["geant.services"]})[1]
    cname = call(sim, "POST", "sharedrecord:cname", {"name": "www", "canonical": "web.example.org",
                                                     "shared_record_group": "common"})[1]
    return group, cname


def test_shared_cname_appears_in_every_associated_zone(sim):
    group, cname = shared_setup(sim)
    assert call(sim, "GET", group, _return_fields="name,zone_associations")[1]["zone_associations"] == ["geant.services"]
    assert sorted(call(sim, "GET", cname)[1]) == ["_ref", "canonical", "name", "shared_record_group"]
    # www.geant.services is a CNAME now: an A there conflicts, in another zone it does not
    assert error_of(sim, "POST", "record:a", {"name": "www.geant.services", "ipv4addr": "10.0.0.1"}).code == \
        "Client.Ibap.Data.Conflict"
    add_a(sim, "www.geant.org", "10.0.0.1")
    # associating geant.org too puts www.geant.org under the CNAME rule: refused
    err = error_of(sim, "PUT", group, {"zone_associations": ["geant.services", {"fqdn": "geant.org", "view": "default"}]})
    assert err.code == "Client.Ibap.Data.Conflict"
    # a second shared CNAME of the same name in the group, a shared CNAME over an existing A
    dup = {"name": "www", "canonical": "x.example.org", "shared_record_group": "common"}
    assert error_of(sim, "POST", "sharedrecord:cname", dup).code == "Client.Ibap.Data.Conflict"
    add_a(sim, "api.geant.services", "10.0.0.2")
    err = error_of(sim, "POST", "sharedrecord:cname", dict(dup, name="api"))
    assert err.code == "Client.Ibap.Data.Conflict"
    # host alias and CNAME at the shared name
    err = error_of(sim, "POST", "record:host", {"name": "h.geant.services", "ipv4addrs": [{"ipv4addr": "10.0.0.3"}],
                                                "aliases": ["www.geant.services"]})
    assert err.code == "Client.Ibap.Data.Conflict"
    assert error_of(sim, "POST", "record:cname", {"name": "www.geant.services", "canonical": "y.org"}).code == \
        "Client.Ibap.Data.Conflict"


def test_shared_record_group_rules(sim):
    group, cname = shared_setup(sim)
    assert error_of(sim, "POST", "sharedrecord:cname", {"name": "a", "canonical": "b.org",
                                                        "shared_record_group": "nope"}).status == 404
    assert error_of(sim, "POST", "sharedrecordgroup", {"name": "g2", "zone_associations": ["nowhere.org"]}).status == 404
    # renaming the group keeps its records; deleting a zone drops the association
    new_ref = call(sim, "PUT", group, {"name": "renamed"})[1]
    assert call(sim, "GET", "sharedrecord:cname")[1][0]["shared_record_group"] == "renamed"
    _status, [zone] = call(sim, "GET", "zone_auth", fqdn="geant.services")
    call(sim, "DELETE", zone["_ref"])
    assert call(sim, "GET", new_ref, _return_fields="zone_associations")[1]["zone_associations"] == []
    # deleting the group deletes its records
    call(sim, "DELETE", new_ref)
    assert call(sim, "GET", "sharedrecord:cname")[1] == []


# ------------------------------------------------------------------ sub-zones
def zone_names(sim, zone, **args):
    return sorted(r["name"] for r in call(sim, "GET", "record:a", zone=zone, **args)[1])


def test_records_live_in_the_deepest_authoritative_zone(sim):
    add_a(sim, "app.prod.geant.services", "10.0.0.1")  # before the sub-zone exists: in the parent
    add_a(sim, "www.geant.services", "10.0.0.2")
    assert zone_names(sim, "geant.services") == ["app.prod.geant.services", "www.geant.services"]
    call(sim, "POST", "zone_auth", {"fqdn": "prod.geant.services"})
    add_a(sim, "db.prod.geant.services", "10.0.0.3")
    add_a(sim, "prod.geant.services", "10.0.0.4")  # the sub-zone's apex
    assert zone_names(sim, "geant.services") == ["www.geant.services"]
    assert zone_names(sim, "prod.geant.services") == ["app.prod.geant.services", "db.prod.geant.services",
                                                      "prod.geant.services"]
    _status, [rec] = call(sim, "GET", "record:a", name="app.prod.geant.services", _return_fields="zone")
    assert rec["zone"] == "prod.geant.services"
    _status, [sub] = call(sim, "GET", "zone_auth", parent="geant.services", _return_fields="fqdn,parent")
    assert (sub["fqdn"], sub["parent"]) == ("prod.geant.services", "geant.services")
    # deleting the sub-zone deletes its records; the parent's stay
    call(sim, "DELETE", sub["_ref"])
    assert zone_names(sim, "geant.services") == ["www.geant.services"]


def test_a_sub_zone_in_another_view_does_not_take_the_records(sim):
    call(sim, "POST", "view", {"name": "internal"})
    call(sim, "POST", "zone_auth", {"fqdn": "prod.geant.services", "view": "internal"})
    add_a(sim, "app.prod.geant.services", "10.0.0.1")
    assert zone_names(sim, "geant.services") == ["app.prod.geant.services"]
    assert zone_names(sim, "prod.geant.services", view="internal") == []


# ------------------------------------------------------------------ disable, use_ttl
@pytest.mark.parametrize("kind,fields", [
    ("record:a", {"ipv4addr": "10.0.0.1"}), ("record:aaaa", {"ipv6addr": "2001:db8::1"}),
    ("record:cname", {"canonical": "t.example.org"}), ("record:txt", {"text": "x"}),
    ("record:host", {"ipv4addrs": [{"ipv4addr": "10.0.0.1"}]}),
    ("record:alias", {"target_name": "t.example.org", "target_type": "A"}),
])
def test_disable_is_stored_and_returned(sim, kind, fields):
    ref = call(sim, "POST", kind, dict(fields, name="d.geant.services"))[1]
    assert call(sim, "GET", ref, _return_fields="disable")[1]["disable"] is False
    call(sim, "PUT", ref, {"disable": True})
    assert call(sim, "GET", ref, _return_fields="disable")[1]["disable"] is True
    assert error_of(sim, "PUT", ref, {"disable": "yes"}).code == "Client.Ibap.Proto"


def test_disable_defaults_to_false_for_objects_stored_without_it(sim):
    ref = add_a(sim, "a.geant.services", "10.0.0.1")
    del sim.store.by_opaque(ref.split("/")[1].split(":")[0])["disable"]
    assert call(sim, "GET", ref, _return_fields="disable")[1]["disable"] is False


def test_use_ttl_false_means_the_zone_ttl_applies(sim):
    ref = add_a(sim, "a.geant.services", "10.0.0.1", ttl=60, use_ttl=False)
    got = call(sim, "GET", ref, _return_fields="ttl,use_ttl")[1]
    assert got["use_ttl"] is False and "ttl" not in got  # inherited: the zone's soa_default_ttl
    call(sim, "PUT", ref, {"use_ttl": True})
    assert call(sim, "GET", ref, _return_fields="ttl")[1]["ttl"] == 60  # the stored value is kept
    call(sim, "PUT", ref, {"use_ttl": False})
    assert "ttl" not in call(sim, "GET", ref, _return_fields="ttl")[1]


# ------------------------------------------------------------------ permissions
def as_user(sim, user, method, target, body=None, **args):
    return sim.handle(method, target, {k: v if isinstance(v, list) else [v] for k, v in args.items()}, body,
                      user=user)


def forbidden(sim, user, method, target, body=None, **args):
    """403 (HTML over HTTP): reads by reference of unreadable objects, users without API access."""
    with pytest.raises(errors.Forbidden) as info:
        as_user(sim, user, method, target, body, **args)
    return info.value


def refused(sim, user, method, target, body=None, **args):
    """A write without permission: 400 Client.Ibap.Data.Conflict, the body NIOS sends."""
    with pytest.raises(errors.WapiError) as info:
        as_user(sim, user, method, target, body, **args)
    err = info.value
    assert not isinstance(err, errors.Forbidden)
    assert (err.status, err.code) == (400, "Client.Ibap.Data.Conflict")
    assert err.body()["Error"] == "AdmConDataError: None (IBDataConflictError: IB.Data.Conflict:%s)" % err.text
    return err


def write_permission_text(rr_type, zone):
    return "Write permission for the resource record type '%s' in the zone '%s' is required for this operation." % (
        rr_type, zone)


@pytest.fixture
def zoned(sim):
    """Records in geant.services, its sub-zone prod.geant.services and geant.org."""
    call(sim, "POST", "zone_auth", {"fqdn": "geant.org"})
    call(sim, "POST", "zone_auth", {"fqdn": "prod.geant.services"})
    refs = {name: add_a(sim, name, "10.0.0.%d" % i) for i, name in enumerate(
        ["a.geant.services", "b.prod.geant.services", "c.geant.org"], start=1)}
    return refs


def test_permissions_scope_reads_and_writes_by_zone(sim, zoned):
    sim.add_user("dns", "pw", permissions=[
        {"object": "record:a", "zone": "geant.services", "permission": "WRITE"},
        {"object": "record:a", "zone": "geant.org", "permission": "READ"},
    ])
    # searches show only what the user may read (prod.geant.services inherits from its parent)
    names = sorted(r["name"] for r in as_user(sim, "dns", "GET", "record:a")[1])
    assert names == ["a.geant.services", "b.prod.geant.services", "c.geant.org"]
    # writes: allowed in geant.services and below, 400 "Write permission ..." where only READ is granted
    as_user(sim, "dns", "POST", "record:a", {"name": "n.prod.geant.services", "ipv4addr": "10.0.1.1"})
    as_user(sim, "dns", "PUT", zoned["a.geant.services"], {"comment": "mine"})
    err = refused(sim, "dns", "DELETE", zoned["c.geant.org"])
    assert err.body() == {
        "Error": "AdmConDataError: None (IBDataConflictError: IB.Data.Conflict:%s)" % write_permission_text(
            "A", "geant.org"),
        "code": "Client.Ibap.Data.Conflict", "text": write_permission_text("A", "geant.org")}
    assert refused(sim, "dns", "POST", "record:a", {"name": "n.geant.org", "ipv4addr": "10.0.1.2"}).text == \
        write_permission_text("A", "geant.org")
    # renaming out of the writable zone: the zone it would move to is named
    assert refused(sim, "dns", "PUT", zoned["a.geant.services"], {"name": "a.geant.org"}).text == \
        write_permission_text("A", "geant.org")
    # other record types: nothing granted
    assert as_user(sim, "dns", "GET", "record:aaaa")[1] == []
    assert refused(sim, "dns", "POST", "record:cname", {"name": "x.geant.services", "canonical": "y.org"}).text == \
        write_permission_text("CNAME", "geant.services")
    assert as_user(sim, "dns", "GET", "zone_auth")[1] == []
    # zones: "Write permission for zone ..."
    assert refused(sim, "dns", "POST", "zone_auth", {"fqdn": "new.geant.services"}).text == \
        "Write permission for zone 'new.geant.services' is required for this operation."
    # other objects [unverified wording]
    assert refused(sim, "dns", "POST", "view", {"name": "internal"}).text == \
        "Write permission for the view 'internal' is required for this operation."
    # a record outside every zone has no permissions to check: no parent
    assert refused(sim, "dns", "POST", "record:a", {"name": "n.example.com", "ipv4addr": "10.0.1.3"}).text == \
        "A parent was not found."


def test_permissions_most_specific_wins_and_reads_by_ref(sim, zoned):
    sim.add_user("ro", "pw", permissions=[
        {"object": "record:a", "permission": "READ"},
        {"object": "record:a", "zone": "prod.geant.services", "permission": "DENY"},
        {"object": "record:a", "zone": "geant.org", "permission": "WRITE"},
    ])
    names = sorted(r["name"] for r in as_user(sim, "ro", "GET", "record:a")[1])
    assert names == ["a.geant.services", "c.geant.org"]
    assert as_user(sim, "ro", "GET", zoned["a.geant.services"])[1]["name"] == "a.geant.services"
    assert forbidden(sim, "ro", "GET", zoned["b.prod.geant.services"]).status == 403  # by ref: not an empty answer
    as_user(sim, "ro", "DELETE", zoned["c.geant.org"])
    refused(sim, "ro", "DELETE", zoned["a.geant.services"])
    # a write on an object the user cannot even read is refused the same way
    assert refused(sim, "ro", "PUT", zoned["b.prod.geant.services"], {"comment": "x"}).text == \
        write_permission_text("A", "prod.geant.services")
    # paged and limited searches see the filtered set too
    page = as_user(sim, "ro", "GET", "record:a", _paging="1", _return_as_object="1", _max_results="5")[1]
    assert [r["name"] for r in page["result"]] == ["a.geant.services"]


def test_extensible_attribute_definitions_only_superusers_change(sim):
    sim.add_user("ea", "pw", permissions=[{"object": "extensibleattributedef", "permission": "WRITE"}])
    sim.add_user("nobody", "pw")
    assert [d["name"] for d in as_user(sim, "nobody", "GET", "extensibleattributedef")[1]] == ["Owner"]
    err = refused(sim, "ea", "POST", "extensibleattributedef", {"name": "Site", "type": "STRING"})
    assert err.body() == {  # terraform-provider-infoblox#346
        "Error": "AdmConDataError: None (IBDataConflictError: IB.Data.Conflict:Cannot create extensible attribute "
                 "definition 'Site'. Only superusers can manage extensible attribute definition)",
        "code": "Client.Ibap.Data.Conflict",
        "text": "Cannot create extensible attribute definition 'Site'. Only superusers can manage extensible "
                "attribute definition"}
    ref = call(sim, "GET", "extensibleattributedef", name="Owner")[1][0]["_ref"]
    assert refused(sim, "ea", "PUT", ref, {"comment": "x"}).text.startswith(
        "Cannot modify extensible attribute definition 'Owner'.")
    assert refused(sim, "ea", "DELETE", ref).text.startswith("Cannot delete extensible attribute definition 'Owner'.")
    sim.add_user("root", "pw", superuser=True)
    as_user(sim, "root", "POST", "extensibleattributedef", {"name": "Site", "type": "STRING"})


def test_grid_functions_need_grid_write(sim):
    sim.add_user("reader", "pw", permissions=[{"object": "grid", "permission": "READ"}])
    sim.add_user("restarter", "pw", permissions=[{"object": "grid", "permission": "WRITE"}])
    sim.add_user("nobody", "pw")
    assert as_user(sim, "nobody", "GET", "grid")[1] == []
    [grid] = as_user(sim, "reader", "GET", "grid")[1]
    assert as_user(sim, "reader", "GET", "restartservicestatus")[1][0]["dns_status"] == "YES"
    assert refused(sim, "reader", "POST", grid["_ref"], {}, _function="restartservices").text == \
        "Write permission for the grid 'Infoblox' is required for this operation."
    as_user(sim, "restarter", "POST", grid["_ref"], {}, _function="restartservices")
    assert sim.restarts and sim.restart_needed is False


def test_request_applies_permissions_to_each_item(sim, zoned):
    sim.add_user("dns", "pw", permissions=[{"object": "record:a", "zone": "geant.services", "permission": "WRITE"}])
    body = [
        {"method": "POST", "object": "record:a", "data": {"name": "n.geant.services", "ipv4addr": "10.0.2.1"}},
        {"method": "GET", "object": "record:a", "data": {"name~": "^c"}},
        {"method": "POST", "object": "record:a", "data": {"name": "n.geant.org", "ipv4addr": "10.0.2.2"}},
    ]
    err = refused(sim, "dns", "POST", "request", body)
    assert err.body()["index"] == 2 and err.text == write_permission_text("A", "geant.org")
    assert call(sim, "GET", "record:a", name="n.geant.services")[1] == []  # rolled back
    status, [created, found] = as_user(sim, "dns", "POST", "request", body[:2])
    assert status == 200 and created.startswith("record:a/") and found == []  # c.geant.org is not readable


def test_user_without_api_access_is_refused_every_call(sim, zoned):
    sim.add_user("gui", "pw", superuser=True, access_method=["GUI"])
    for method, target, body, args in (("GET", "record:a", None, {}), ("GET", "", None, {"_schema": ""}),
                                       ("GET", zoned["a.geant.services"], None, {}),
                                       ("POST", "record:a", {"name": "n.geant.services", "ipv4addr": "10.0.3.1"}, {}),
                                       ("POST", "request", [], {})):
        assert forbidden(sim, "gui", method, target, body, **args).status == 403
    assert sim.users["gui"].describe()["access_method"] == ["GUI"]
    assert sim.add_user("api", "pw").describe()["access_method"] == ["API"]  # the default
    with pytest.raises(ValueError):
        sim.add_user("bad", "pw", access_method=["WEB"])


def test_default_caller_is_a_superuser_and_permission_specs_are_checked(sim):
    assert call(sim, "GET", "grid")[1]  # no user: internal calls and the engine tests
    for bad in ({"object": "record:mx", "permission": "READ"}, {"object": "record:a", "permission": "ALL"},
                {"object": "record:a", "permission": "READ", "zones": "x"}):
        with pytest.raises(ValueError):
            sim.add_user("bad", "pw", permissions=[bad])
    assert sim.authenticate("bad", "pw") is None
    sim.add_user("u", "pw")
    assert sim.authenticate("u", "pw").name == "u" and sim.authenticate("u", "wrong") is None
    sim.reset()
    assert sim.authenticate("u", "pw") is not None  # users are configuration: they survive a reset


def test_main_options_add_users(tmp_path):
    from tests.wapi_simulator.__main__ import build_simulator, parse_args
    users = tmp_path / "users.json"
    users.write_text('[{"name": "ro", "password": "x", "permissions": [{"object": "view", "permission": "READ"}]}]')
    options = parse_args(["--add-user", '{"name": "root", "password": "y", "superuser": true}',
                          "--users-file", str(users)])
    built = build_simulator(options)
    assert built.authenticate("root", "y").superuser is True
    assert built.authenticate("ro", "x").describe()["permissions"] == [{"object": "view", "permission": "READ"}]


# ------------------------------------------------------------------ request failure modes
def test_request_without_rollback_keeps_the_items_before_the_failing_one(sim):
    sim.request_rollback = False
    ref = add_a(sim, "a.geant.services", "10.0.0.1", comment="before")
    body = [
        {"method": "POST", "object": "record:a", "data": {"name": "b.geant.services", "ipv4addr": "10.0.0.2"}},
        {"method": "PUT", "object": ref, "data": {"comment": "after"}},
        {"method": "POST", "object": "record:a", "data": {"name": "b.geant.services", "ipv4addr": "10.0.0.2"}},
        {"method": "POST", "object": "record:a", "data": {"name": "c.geant.services", "ipv4addr": "10.0.0.3"}},
    ]
    err = error_of(sim, "POST", "request", body)
    assert err.code == "Client.Ibap.Data.Conflict" and err.body()["index"] == 2  # same error shape
    names = {r["name"]: r.get("comment") for r in call(sim, "GET", "record:a", _return_fields="name,comment")[1]}
    assert names == {"a.geant.services": "after", "b.geant.services": None}  # 0 and 1 kept, 3 never ran
    sim.request_rollback = True
    body[0]["data"] = {"name": "d.geant.services", "ipv4addr": "10.0.0.4"}
    error_of(sim, "POST", "request", body)
    assert call(sim, "GET", "record:a", name="d.geant.services")[1] == []


def test_request_rollback_setting_from_the_command_line():
    from tests.wapi_simulator.__main__ import build_simulator, parse_args
    assert build_simulator(parse_args([])).request_rollback is True
    assert build_simulator(parse_args(["--request-rollback", "off"])).request_rollback is False
