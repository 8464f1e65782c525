"""The consul_agent_helper module: a real (fake) helper program run in-process through main(), and once
through ansible-playbook at -vvv to see what Ansible prints and what the host's command lines show.

The role's own use of it (pre-flight, restarts, reloads) is covered by tests/unit/roles/
test_consul_restart_helper.py and test_role_tokens_on_stdin.py, and for real by Molecule.
"""

import json
import os
import stat

from ansible_collections.geant.consul_dns.plugins.modules import consul_agent_helper as module_under_test
from tests.playbook import run_playbook
from tests.unit.plugins.modules.harness import run_main

TOKEN = "9d0c5e2a-0000-4000-8000-helpertoken0"

# Records its argv, its first stdin line and its ancestors' command lines; prints what FAKE_STDOUT says
# on stdout, FAKE_STDERR on stderr, and exits with FAKE_RC.
FAKE = r'''#!/bin/sh
out="${FAKE_OUT:?}"
printf '%s\n' "$@" > "$out/argv"
IFS= read -r line; printf '%s' "$line" > "$out/stdin"
pid=$$
while [ "$pid" -gt 1 ]; do
  tr '\0' ' ' < /proc/$pid/cmdline >> "$out/cmdlines"; echo >> "$out/cmdlines"
  pid=$(awk '/^PPid:/ {print $2}' /proc/$pid/status)
done
[ -z "${FAKE_STDOUT:-}" ] || printf '%s\n' "$FAKE_STDOUT"
[ -z "${FAKE_STDERR:-}" ] || printf '%s\n' "$FAKE_STDERR" >&2
exit "${FAKE_RC:-0}"
'''


def fake_helper(tmp_path, monkeypatch, rc=0, stdout="", stderr=""):
    helper = tmp_path / "consul-restart-wait"
    helper.write_text(FAKE)
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    out = tmp_path / "out"
    out.mkdir()
    for name, value in (("FAKE_OUT", str(out)), ("FAKE_RC", str(rc)), ("FAKE_STDOUT", stdout),
                        ("FAKE_STDERR", stderr)):
        monkeypatch.setenv(name, value)
    return str(helper), out


def test_helper_command_adds_token_stdin_last():
    assert module_under_test.helper_command(["/h", "preflight", "--url", "u"]) == \
        ["/h", "preflight", "--url", "u", "--token-stdin"]


def test_failure_message():
    assert module_under_test.failure_message("", 1, "pre-flight check failed on n1: x\n") == \
        "pre-flight check failed on n1: x"
    assert module_under_test.failure_message("consul reload of n1", 1, " refused \n") == \
        "consul reload of n1: refused"
    assert module_under_test.failure_message("Restart of n1", 3, "") == \
        "Restart of n1: exited with status 3 and printed nothing on stderr"


def test_token_is_the_first_stdin_line_and_json_stdout_is_parsed(tmp_path, monkeypatch):
    helper, out = fake_helper(tmp_path, monkeypatch, stdout='{"running": true, "version": "1.8.7"}')
    result = run_main(module_under_test.main, argv=[helper, "preflight", "--node", "n1"], consul_token=TOKEN)
    assert not result.failed
    assert (out / "stdin").read_text() == TOKEN
    assert (out / "argv").read_text().split("\n")[:-1] == ["preflight", "--node", "n1", "--token-stdin"]
    assert result.result["json"] == {"running": True, "version": "1.8.7"}
    assert result.result["rc"] == 0 and result.result["changed"] is False
    assert TOKEN not in (out / "cmdlines").read_text()


def test_no_token_sends_an_empty_line(tmp_path, monkeypatch):
    helper, out = fake_helper(tmp_path, monkeypatch, stdout="reloaded")
    result = run_main(module_under_test.main, argv=[helper, "reload"], changed=True)
    assert (out / "stdin").read_text() == ""
    assert result.result["changed"] is True
    assert result.result["json"] is None and result.result["stdout"] == "reloaded\n"


def test_failure_reports_stderr_with_the_prefix(tmp_path, monkeypatch):
    helper = fake_helper(tmp_path, monkeypatch, rc=1, stderr="Consul refused the reload: bad config")[0]
    result = run_main(module_under_test.main, argv=[helper, "reload"], consul_token=TOKEN,
                      error_prefix="consul reload of n1")
    assert result.failed
    assert result.result["msg"] == "consul reload of n1: Consul refused the reload: bad config"
    assert result.result["rc"] == 1


def test_missing_helper_fails_with_the_prefix(tmp_path):
    result = run_main(module_under_test.main, argv=[str(tmp_path / "consul-agent-reload")], consul_token=TOKEN,
                      error_prefix="consul reload of n1")
    assert result.failed and result.result["rc"] == 127
    assert result.result["msg"].startswith("consul reload of n1: cannot run %s: " % (tmp_path / "consul-agent-reload"))


def test_empty_argv_fails_clearly():
    result = run_main(module_under_test.main, argv=[], consul_token=TOKEN)
    assert result.failed and "argv is empty" in result.result["msg"]


def _play(helper, check_mode_false=False):
    return """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Run the helper
      geant.consul_dns.consul_agent_helper:
        argv: [%s, preflight, --node, n1]
        consul_token: "%s"
        error_prefix: "Pre-flight of n1"
      %s
      register: run
    - name: Show it
      ansible.builtin.debug:
        var: run
""" % (json.dumps(helper), TOKEN, "check_mode: false" if check_mode_false else "")


def test_through_ansible_the_token_is_in_no_output_and_on_no_command_line(tmp_path, monkeypatch):
    # The helper echoes its stdin line to stderr and fails: Ansible masks the no_log parameter's value even there.
    helper, out = fake_helper(tmp_path, monkeypatch, rc=1, stderr="failed with token " + TOKEN)
    proc = run_playbook(_play(helper), args=["-vvv"], env=dict(os.environ))
    output = proc.stdout + proc.stderr
    assert proc.rc != 0
    assert (out / "stdin").read_text() == TOKEN
    assert TOKEN not in output
    assert "Pre-flight of n1: failed with token" in output
    assert "ansible-playbook" in (out / "cmdlines").read_text()
    assert TOKEN not in (out / "cmdlines").read_text()


def test_skipped_in_check_mode_unless_check_mode_false(tmp_path, monkeypatch):
    helper, out = fake_helper(tmp_path, monkeypatch, stdout='{"running": true}')
    proc = run_playbook(_play(helper), args=["--check"], env=dict(os.environ))
    assert proc.rc == 0, proc.stdout + proc.stderr
    assert not (out / "argv").exists()
    proc = run_playbook(_play(helper, check_mode_false=True), args=["--check"], env=dict(os.environ))
    assert proc.rc == 0, proc.stdout + proc.stderr
    assert (out / "stdin").read_text() == TOKEN
