"""The zone_sync_state_info module in-process: its helpers, and main() with Ansible's fetch_url patched.

The module reads Consul with ansible.module_utils.urls (no requests, no python-consul2); the
integration test tests/integration/test_zone_sync_state_info.py reads a real agent.
"""

import base64
import io
import json

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.damping import state_store
from ansible_collections.geant.consul_dns.plugins.modules import zone_sync_state_info as module_under_test
from tests.unit.plugins.modules.harness import run_main


def entry(published, healthy=True):
    return {"healthy": healthy, "since": 1.0, "published": published, "penalty": 0.0, "penalty_at": 1.0,
            "suppressed": False, "flaps": 0}


STATE = {"version": 1, "zone": "geant.services", "updated_at": 1764064800, "updated_by": "consul-dns@zs pid 7",
         "addresses": {"crowd/1.1.1.10": entry(True), "crowd/1.1.1.11": entry(True),
                       "jira/1.1.1.11": entry(False, healthy=False), "wiki/2001:db8::11": entry(True),
                       "wiki/1.1.1.12": entry(False)}}


def kv_answer(text, key="consul-dns/state/geant.services"):
    value = None if text is None else base64.b64encode(text.encode("utf-8")).decode("ascii")
    return json.dumps([{"Key": key, "Value": value, "ModifyIndex": 42, "CreateIndex": 7, "Flags": 0,
                        "LockIndex": 0}])


@pytest.fixture
def consul(monkeypatch):
    """Answers fetch_url with ``consul.status`` / ``consul.body``; records each call in ``consul.calls``."""

    class FakeConsul(object):
        status = 200
        body = kv_answer(json.dumps(STATE))
        msg = "OK"
        calls = []

    def fetch_url(module, url, **kwargs):
        FakeConsul.calls.append(dict(kwargs, url=url, params=dict(module.params)))
        info = {"status": FakeConsul.status, "msg": FakeConsul.msg, "url": url}
        if FakeConsul.status != 200:
            info["body"] = FakeConsul.body
            return None, info
        return io.BytesIO(FakeConsul.body.encode("utf-8")), info

    monkeypatch.setattr(module_under_test, "fetch_url", fetch_url)
    FakeConsul.calls = []
    return FakeConsul


def run(**args):
    return run_main(module_under_test.main, **args)


def test_published_with_compares_addresses_not_text():
    published = {"crowd": ["1.1.1.10", "1.1.1.11"], "wiki": ["2001:db8::11"], "jira": ["1.1.1.11"]}
    assert module_under_test.published_with(published, ["1.1.1.11"]) == ["crowd/1.1.1.11", "jira/1.1.1.11"]
    assert module_under_test.published_with(published, ["2001:DB8:0::11", "10.0.0.1"]) == ["wiki/2001:db8::11"]
    assert module_under_test.published_with(published, []) == []
    assert module_under_test.published_with({}, ["1.1.1.11"]) == []
    # A published "address" that is not one (never written by the zone sync) is compared as text.
    assert module_under_test.published_with({"odd": ["not-an-ip"]}, ["1.1.1.1"]) == []


def test_key_and_url():
    assert module_under_test.state_key("/consul-dns/state/", "geant.services") == "consul-dns/state/geant.services"
    # The zone as the sync names it (normalized), so the key is the one StateStore writes.
    assert module_under_test.state_key("consul-dns/state", "Geant.Services.") == "consul-dns/state/geant.services"
    with pytest.raises(ValueError):
        module_under_test.state_key("consul-dns/state", "not a zone")
    assert module_under_test.kv_url("http://127.0.0.1:8500", "consul-dns/state/geant.services") == \
        "http://127.0.0.1:8500/v1/kv/consul-dns/state/geant.services"
    assert module_under_test.kv_url("https://consul.example.org", "a b/c", "dc 2") == \
        "https://consul.example.org:8501/v1/kv/a%20b/c?dc=dc+2"
    assert module_under_test.kv_url("[::1]:8500", "k") == "http://[::1]:8500/v1/kv/k"
    with pytest.raises(ValueError):
        module_under_test.kv_url("ftp://consul", "k")


def test_value_of():
    assert module_under_test.value_of(kv_answer("{}")) == "{}"
    assert module_under_test.value_of(kv_answer(None)) is None
    with pytest.raises(ValueError):
        module_under_test.value_of("{}")


def test_reads_a_plain_state(consul):
    result = run(zone="geant.services")
    assert not result.failed and result.result["changed"] is False
    assert result.result["exists"] is True
    assert result.result["key"] == "consul-dns/state/geant.services"
    assert result.result["published"] == {"crowd": ["1.1.1.10", "1.1.1.11"], "wiki": ["2001:db8::11"]}
    assert result.result["updated_at"] == 1764064800 and result.result["updated_by"] == "consul-dns@zs pid 7"
    assert "published_addresses" not in result.result
    call = consul.calls[0]
    assert call["url"] == "http://127.0.0.1:8500/v1/kv/consul-dns/state/geant.services"
    assert call["headers"] == {} and call["method"] == "GET" and call["timeout"] == 10


def test_addresses_and_connection_options(consul):
    result = run(zone="geant.services", state_prefix="dns/state", addresses=["1.1.1.11", "1.1.1.12"],
                 consul_address="https://consul01:8501", consul_token="s3cr3t-token", datacenter="dc2",
                 ca_path="/etc/consul/ca.pem", client_cert="/etc/consul/agent.pem",
                 client_key="/etc/consul/agent-key.pem", validate_certs=True, timeout=3)
    assert not result.failed
    # jira/1.1.1.11 and wiki/1.1.1.12 are in the state, not published.
    assert result.result["published_addresses"] == ["crowd/1.1.1.11"]
    assert result.result["key"] == "dns/state/geant.services"
    assert "1 of them carry 1.1.1.11, 1.1.1.12" in result.result["msg"]
    call = consul.calls[0]
    assert call["url"] == "https://consul01:8501/v1/kv/dns/state/geant.services?dc=dc2"
    assert call["headers"] == {"X-Consul-Token": "s3cr3t-token"}
    assert call["ca_path"] == "/etc/consul/ca.pem" and call["timeout"] == 3
    # fetch_url takes the client certificate and validate_certs from the module's parameters.
    assert call["params"]["client_cert"] == "/etc/consul/agent.pem"
    assert call["params"]["client_key"] == "/etc/consul/agent-key.pem"
    assert call["params"]["validate_certs"] is True
    assert "s3cr3t-token" not in json.dumps(result.result)


def test_reads_a_compressed_state(consul, monkeypatch):
    monkeypatch.setattr(state_store, "PLAIN_STATE_LIMIT", 100)
    text = state_store.state_text(STATE)
    assert json.loads(text)["encoding"] == "zlib+base64"
    consul.body = kv_answer(text)
    result = run(zone="geant.services", addresses=["2001:db8::11"])
    assert not result.failed
    assert result.result["published"] == {"crowd": ["1.1.1.10", "1.1.1.11"], "wiki": ["2001:db8::11"]}
    assert result.result["published_addresses"] == ["wiki/2001:db8::11"]


def test_no_state(consul):
    consul.status, consul.body = 404, ""
    result = run(zone="geant.services", addresses=["1.1.1.11"])
    assert not result.failed
    assert result.result["exists"] is False and result.result["published"] == {}
    assert result.result["published_addresses"] == []
    assert "no zone sync state at consul-dns/state/geant.services" in result.result["msg"]


@pytest.mark.parametrize("text, why", [
    ("{not json", "Expecting property name"),
    (json.dumps({"version": 2, "addresses": {}}), "not a version 1 damping state"),
    (json.dumps({"encoding": "zlib+base64", "data": "bm90IHpsaWI="}), "compressed state cannot be decoded"),
    (None, "the key is empty"),
])
def test_unreadable_state_fails_naming_the_key(consul, text, why):
    consul.body = kv_answer(text)
    result = run(zone="geant.services", addresses=["1.1.1.11"])
    assert result.failed
    assert "the zone sync state at Consul key consul-dns/state/geant.services is unreadable" in result.result["msg"]
    assert why in result.result["msg"]
    assert "published_addresses" not in result.result


def test_consul_error_fails_naming_the_key_and_address(consul):
    consul.status, consul.body = 403, "Permission denied"
    result = run(zone="geant.services", consul_token="s3cr3t-token")
    assert result.failed
    assert result.result["msg"] == ("cannot read the zone sync state at Consul key consul-dns/state/geant.services "
                                    "from http://127.0.0.1:8500: HTTP 403 Permission denied")
    consul.status, consul.body, consul.msg = -1, "", "Request failed: <urlopen error [Errno 111] Connection refused>"
    result = run(zone="geant.services")
    assert result.failed and "HTTP -1 Request failed" in result.result["msg"]


def test_bad_options_fail_before_reading(consul):
    result = run(zone="geant.services", addresses=["1.1.1.11", "crowd02"])
    assert result.failed and result.result["msg"] == "addresses: not IP addresses: crowd02"
    result = run(zone="geant.services", consul_address="ftp://consul")
    assert result.failed and "invalid Consul address" in result.result["msg"]
    assert consul.calls == []


def test_check_mode_reads_the_same(consul):
    result = run(zone="geant.services", addresses=["1.1.1.10"], _ansible_check_mode=True)
    assert not result.failed and result.result["published_addresses"] == ["crowd/1.1.1.10"]
