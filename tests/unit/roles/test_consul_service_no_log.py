"""The consul_service role hides definitions that carry secrets (token, check headers, URL credentials).

The role runs on localhost into a temporary config dir (no agent: validation and reload off) with
``--diff -v``, once per case (one secret each): every definition is written, but its content (the
diff) only shows in the output when it holds no secret.
"""

import grp
import json
import os

import pytest

from tests.playbook import run_playbook

CASES = {
    "header": ([{"http": "http://127.0.0.1:8095/", "interval": "10s",
                 "header": {"Authorization": ["Bearer header-S3cr3t"]}}], "", "header-S3cr3t"),
    "url": ([{"http": "http://monitor:url-S3cr3t@127.0.0.1:8095/", "interval": "10s"}], "", "url-S3cr3t"),
    "token": ([{"tcp": "127.0.0.1:8095", "interval": "10s"}], "token-S3cr3t", "token-S3cr3t"),
    "plain": ([{"http": "http://127.0.0.1:8095/plain-status", "interval": "10s"}], "", None),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("consul-service")
    tasks = []
    for name, (checks, token, _expected) in CASES.items():
        tasks.append({"name": "Register %s" % name,
                      "ansible.builtin.include_role": {"name": "geant.consul_dns.consul_service"},
                      "vars": {"consul_service_name": name, "consul_service_port": 8095,
                               "consul_service_checks": checks, "consul_service_token": token,
                               "consul_service_config_dir": str(out),
                               "consul_service_file_group": grp.getgrgid(os.getgid()).gr_name,
                               "consul_service_validate": False, "consul_service_reload": False}})
    result = run_playbook(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]),
                          args=["--diff", "-v"])
    assert result.rc == 0, result.output[-4000:]
    return out, result.output


@pytest.mark.parametrize("case", ["header", "url", "token"])
def test_secrets_are_not_logged(run, case):
    out, output = run
    secret = CASES[case][2]
    assert secret in (out / ("service-%s.json" % case)).read_text()
    assert secret not in output


def test_a_definition_without_secrets_is_shown(run):
    out, output = run
    assert "http://127.0.0.1:8095/plain-status" in output  # the diff of the new file
    assert output.count("the output has been hidden") == 3
