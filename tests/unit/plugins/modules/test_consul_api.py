"""The consul_api module in-process: its helpers, and main() with Ansible's fetch_url patched.

The module calls Consul with ansible.module_utils.urls (no requests); the integration test
tests/integration/test_consul_api_module.py calls a real agent.
"""

import io
import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.geant.consul_dns.plugins.modules import consul_api as module_under_test
from tests.unit.plugins.modules.harness import run_main

TOKEN = "s3cr3t-token-4f1c"
# Ansible's own exit_json / fail_json, before conftest.py's autouse fixture replaces them for each test.
REAL_EXIT_JSON = AnsibleModule.exit_json
REAL_FAIL_JSON = AnsibleModule.fail_json


@pytest.fixture
def consul(monkeypatch):
    """Answers fetch_url with ``consul.status`` / ``consul.body``; records each call in ``consul.calls``."""

    class FakeConsul(object):
        status = 200
        body = b'{"Config": {"Version": "1.8.7"}}'
        msg = "OK"
        calls = []

    def fetch_url(module, url, data=None, headers=None, method=None, timeout=10, **kwargs):
        FakeConsul.calls.append(dict(kwargs, url=url, data=data, headers=dict(headers or {}), method=method,
                                     timeout=timeout, params=dict(module.params)))
        info = {"status": FakeConsul.status, "msg": FakeConsul.msg, "url": url}
        if FakeConsul.status == -1:
            return None, info
        if FakeConsul.status >= 400:
            # As fetch_url does for an HTTPError: the body is read into info["body"].
            info["body"] = FakeConsul.body
            return io.BytesIO(b""), info
        return io.BytesIO(FakeConsul.body), info

    monkeypatch.setattr(module_under_test, "fetch_url", fetch_url)
    FakeConsul.calls = []
    return FakeConsul


def run(**args):
    return run_main(module_under_test.main, **args)


def test_query_string():
    assert module_under_test.query_string({"enable": True, "reason": "kernel update"}) == \
        "enable=true&reason=kernel+update"
    assert module_under_test.query_string({"prune": None}) == "prune"
    assert module_under_test.query_string({"prune": 1, "enable": False}) == "enable=false&prune=1"
    assert module_under_test.query_string({}) == "" and module_under_test.query_string(None) == ""
    assert module_under_test.query_string({"reason": "a&b=c/d"}) == "reason=a%26b%3Dc%2Fd"


def test_api_url():
    assert module_under_test.api_url("http://127.0.0.1:8500", "/v1/agent/self") == "http://127.0.0.1:8500/v1/agent/self"
    assert module_under_test.api_url("https://consul01", "/v1/agent/force-leave/node 1", {"prune": None}) == \
        "https://consul01:8501/v1/agent/force-leave/node%201?prune"
    assert module_under_test.api_url("[::1]:8500", "/v1/kv/a", datacenter="dc2") == "http://[::1]:8500/v1/kv/a?dc=dc2"
    # An explicit dc in the query wins over the datacenter option.
    assert module_under_test.api_url("h", "/v1/kv/a", {"dc": "dc3"}, "dc2") == "http://h:8500/v1/kv/a?dc=dc3"
    for path in ("/v2/agent/self", "v1/agent/self", "/agent/self", "/v1/kv/a?raw"):
        with pytest.raises(ValueError):
            module_under_test.api_url("http://127.0.0.1:8500", path)
    with pytest.raises(ValueError):
        module_under_test.api_url("ftp://consul", "/v1/agent/self")


def test_parse_body():
    assert module_under_test.parse_body(b'{"a": 1}') == ({"a": 1}, None)
    assert module_under_test.parse_body(b'"10.0.0.1:8300"') == ("10.0.0.1:8300", None)
    assert module_under_test.parse_body(b"Permission denied") == (None, "Permission denied")
    assert module_under_test.parse_body(b"") == (None, "")
    assert module_under_test.parse_body(None) == (None, "")
    parsed, content = module_under_test.parse_body(b"x" * (module_under_test.CONTENT_LIMIT + 10))
    assert parsed is None and len(content) == module_under_test.CONTENT_LIMIT


def test_get_reads_and_changes_nothing(consul):
    result = run(path="/v1/agent/self")
    assert not result.failed and result.result["changed"] is False
    assert result.result["status"] == 200 and result.result["json"] == {"Config": {"Version": "1.8.7"}}
    assert result.result["content"] is None
    assert result.result["url"] == "http://127.0.0.1:8500/v1/agent/self"
    call = consul.calls[0]
    assert call["method"] == "GET" and call["data"] is None and call["headers"] == {} and call["timeout"] == 10


def test_connection_options_and_the_token_never_in_the_result(consul):
    result = run(method="PUT", path="/v1/agent/maintenance", query={"enable": True, "reason": "decommissioned"},
                 consul_address="https://consul01:8501", consul_token=TOKEN, datacenter="dc2",
                 ca_path="/etc/consul/ca.pem", client_cert="/etc/consul/agent.pem",
                 client_key="/etc/consul/agent-key.pem", timeout=3)
    assert not result.failed and result.result["changed"] is True
    call = consul.calls[0]
    assert call["url"] == "https://consul01:8501/v1/agent/maintenance?dc=dc2&enable=true&reason=decommissioned"
    assert call["method"] == "PUT" and call["headers"] == {"X-Consul-Token": TOKEN}
    assert call["ca_path"] == "/etc/consul/ca.pem" and call["timeout"] == 3
    # fetch_url takes the client certificate and validate_certs from the module's parameters.
    assert call["params"]["client_cert"] == "/etc/consul/agent.pem"
    assert call["params"]["client_key"] == "/etc/consul/agent-key.pem"
    assert call["params"]["validate_certs"] is True
    assert TOKEN not in json.dumps(result.result)


def test_token_not_in_the_output_nor_the_invocation(consul, monkeypatch, capsys):
    """Ansible's own exit_json and fail_json: the JSON the module prints (with the invocation -vvv shows) has no token."""
    monkeypatch.setattr(AnsibleModule, "exit_json", REAL_EXIT_JSON)
    monkeypatch.setattr(AnsibleModule, "fail_json", REAL_FAIL_JSON)
    for status, body in ((200, b"true"), (403, b"Permission denied")):
        consul.status, consul.body = status, body
        with patch_module_args({"method": "PUT", "path": "/v1/kv/k", "body": "v", "consul_token": TOKEN}):
            with pytest.raises(SystemExit):
                module_under_test.main()
        out = capsys.readouterr().out
        printed = json.loads(out)
        assert TOKEN not in out
        assert printed["invocation"]["module_args"]["consul_token"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
        assert printed["status"] == status and printed.get("failed", False) is (status != 200)
    # It was sent, as the header.
    assert all(call["headers"]["X-Consul-Token"] == TOKEN for call in consul.calls)


def test_empty_connection_strings_count_as_not_given(consul):
    """consul_agent_api holds empty strings without TLS or ACLs: no token header, no CA, no client cert."""
    result = run(path="/v1/agent/self", consul_token="", ca_path="", client_cert="", client_key="")
    assert not result.failed
    call = consul.calls[0]
    assert call["headers"] == {} and call["ca_path"] is None
    assert call["params"]["client_cert"] is None and call["params"]["client_key"] is None


def test_check_mode_sends_get_but_not_put(consul):
    result = run(path="/v1/status/leader", _ansible_check_mode=True)
    assert not result.failed and result.result["changed"] is False and len(consul.calls) == 1
    for method in ("PUT", "POST", "DELETE"):
        result = run(method=method, path="/v1/agent/leave", consul_token=TOKEN, _ansible_check_mode=True)
        assert not result.failed and result.result["changed"] is True
        assert result.result["msg"] == "%s /v1/agent/leave not sent (check mode)" % method
        assert result.result["status"] is None
    assert len(consul.calls) == 1


def test_check_mode_does_not_read_body_file(consul, tmp_path):
    result = run(method="PUT", path="/v1/snapshot", body_file=str(tmp_path / "not-copied-yet.snap"),
                 _ansible_check_mode=True)
    assert not result.failed and result.result["changed"] is True and consul.calls == []


def test_body_file_is_sent_as_bytes(consul, tmp_path):
    snapshot = tmp_path / "consul.snap"
    payload = bytes(range(256)) * 4
    snapshot.write_bytes(payload)
    consul.body = b""
    result = run(method="PUT", path="/v1/snapshot", body_file=str(snapshot), consul_token=TOKEN)
    assert not result.failed and result.result["changed"] is True
    assert result.result["json"] is None and result.result["content"] == ""
    call = consul.calls[0]
    assert call["data"] == payload and call["method"] == "PUT"
    assert call["headers"] == {"X-Consul-Token": TOKEN, "Content-Type": "application/octet-stream"}


def test_missing_body_file_fails_before_sending(consul, tmp_path):
    result = run(method="PUT", path="/v1/snapshot", body_file=str(tmp_path / "missing.snap"))
    assert result.failed and consul.calls == []
    assert result.result["msg"].startswith("PUT /v1/snapshot: cannot read body_file %s" % (tmp_path / "missing.snap"))


@pytest.mark.parametrize("body, sent", [
    ({"Name": "web", "Port": 80}, b'{"Name": "web", "Port": 80}'),
    ([1, 2], b"[1, 2]"),
    ("raw value", b"raw value"),
])
def test_body_is_sent_as_json(consul, body, sent):
    result = run(method="PUT", path="/v1/kv/k", body=body)
    assert not result.failed
    call = consul.calls[0]
    assert call["data"] == sent
    assert call["headers"]["Content-Type"] == "application/json"


def test_body_and_body_file_are_exclusive(consul, tmp_path):
    result = run(method="PUT", path="/v1/kv/k", body="x", body_file=str(tmp_path / "f"))
    assert result.failed and "mutually exclusive" in result.result["msg"] and consul.calls == []


def test_status_code_list_and_text_answers(consul):
    """Consul 1.8 answers an unhealthy autopilot health with 429 and the JSON as text/plain: parsed anyway."""
    consul.status, consul.body = 429, b'{"Healthy": false, "FailureTolerance": 0, "Servers": []}'
    result = run(path="/v1/operator/autopilot/health", status_code=[200, 429])
    assert not result.failed and result.result["status"] == 429
    assert result.result["json"]["Healthy"] is False and result.result["content"] is None


def test_status_mismatch_fails_naming_method_path_status_and_answer(consul):
    consul.status, consul.body = 500, b"rpc error making call: No cluster leader"
    result = run(method="PUT", path="/v1/agent/force-leave/node1", query={"prune": 1}, consul_token=TOKEN)
    assert result.failed and result.result["changed"] is False
    assert result.result["msg"] == ("PUT /v1/agent/force-leave/node1 at http://127.0.0.1:8500 answered HTTP 500 "
                                    "(expected 200): rpc error making call: No cluster leader")
    assert result.result["status"] == 500 and result.result["content"] == "rpc error making call: No cluster leader"
    # A status that is not in status_code fails even when it is a success for HTTP.
    consul.status, consul.body = 200, b"true"
    result = run(method="PUT", path="/v1/kv/k", body="v", status_code=[204])
    assert result.failed and "answered HTTP 200 (expected 204)" in result.result["msg"]


def test_403_says_the_token_lacks_a_permission(consul):
    consul.status, consul.body = 403, b"Permission denied"
    result = run(method="PUT", path="/v1/agent/leave", consul_token=TOKEN)
    assert result.failed
    assert result.result["msg"] == ("PUT /v1/agent/leave at http://127.0.0.1:8500 answered HTTP 403 (expected 200): "
                                    "Permission denied - the ACL token (consul_token) lacks a permission this call needs")
    assert TOKEN not in json.dumps(result.result)
    result = run(method="PUT", path="/v1/agent/leave")
    assert result.failed and "no ACL token was given (consul_token)" in result.result["msg"]


def test_404_with_an_empty_body_names_the_status(consul):
    consul.status, consul.body, consul.msg = 404, b"", "HTTP Error 404: Not Found"
    result = run(path="/v1/kv/missing")
    assert result.failed and result.result["msg"] == (
        "GET /v1/kv/missing at http://127.0.0.1:8500 answered HTTP 404 (expected 200): HTTP Error 404: Not Found")
    # ... unless 404 is expected.
    result = run(path="/v1/kv/missing", status_code=[200, 404])
    assert not result.failed and result.result["status"] == 404


def test_unreachable_consul(consul):
    consul.status, consul.msg = -1, "Request failed: <urlopen error [Errno 111] Connection refused>"
    result = run(path="/v1/agent/self", consul_address="http://127.0.0.1:1", consul_token=TOKEN)
    assert result.failed and result.result["status"] == -1
    assert result.result["msg"] == ("GET /v1/agent/self: cannot reach Consul at http://127.0.0.1:1: "
                                    "Request failed: <urlopen error [Errno 111] Connection refused>")


def test_bad_path_fails_before_sending(consul):
    result = run(path="/v1/kv/a?raw")
    assert result.failed and "give the query string in the option query" in result.result["msg"]
    result = run(path="/agent/self")
    assert result.failed and "must start with /v1/" in result.result["msg"]
    assert consul.calls == []
