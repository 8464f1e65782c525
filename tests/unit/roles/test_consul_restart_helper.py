"""The consul role's host helper (roles/consul/files/consul-restart-wait) and its restart order.

- pre-flight: a certificate/key mismatch - which `consul validate` of the real 1.8.7 accepts - a
  certificate the CA did not sign, a server certificate without server.<dc>.<domain>, an address that
  is not the host's, a data dir the agent's user cannot write: each is found and named, and the
  command exits 1 before anything is restarted;
- the wait conditions of a client restart (checks that passed before pass again, having run) and the
  failure tolerance a server restart needs;
- `reload` against a real 1.8.7 agent: a reload Consul refuses fails (a SIGHUP would only be logged),
  the services of the config dir must be registered, removed ones gone;
- the order of a rolling restart (tasks/restart.yml): agents that are down first, the raft leader
  last, then clients;
- the flow of tasks/restart.yml with a fake helper: every pre-flight before the first restart, a
  failure (pre-flight or restart) ends the play and the playbook, no host is restarted after a failed
  one, the hosts left keep their pending-restart marker.
"""

import http.server
import importlib.machinery
import importlib.util
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.playbook import REPO_ROOT, run_playbook

HELPER = REPO_ROOT / "roles" / "consul" / "files" / "consul-restart-wait"


def _load_helper():
    loader = importlib.machinery.SourceFileLoader("consul_restart_wait", str(HELPER))
    spec = importlib.util.spec_from_loader("consul_restart_wait", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


helper = _load_helper()


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """Two CAs made by `consul tls`: ca/ with a server and a client certificate, other/ with a server one."""
    from tests.consul_testbed.agent import consul_binary

    consul = consul_binary()
    root = tmp_path_factory.mktemp("tls")
    files = {}
    for name in ("ca", "other"):
        folder = root / name
        folder.mkdir()
        subprocess.run([consul, "tls", "ca", "create"], cwd=str(folder), check=True, capture_output=True)
        subprocess.run([consul, "tls", "cert", "create", "-server"], cwd=str(folder), check=True, capture_output=True)
        files[name] = {"ca": folder / "consul-agent-ca.pem", "cert": folder / "dc1-server-consul-0.pem",
                       "key": folder / "dc1-server-consul-0-key.pem"}
    subprocess.run([consul, "tls", "cert", "create", "-client"], cwd=str(root / "ca"), check=True, capture_output=True)
    files["client"] = {"cert": root / "ca" / "dc1-client-consul-0.pem", "key": root / "ca" / "dc1-client-consul-0-key.pem"}
    return files


@pytest.mark.consul
def test_tls_pair_that_matches(tls):
    ca = tls["ca"]
    assert helper.check_tls(str(ca["cert"]), str(ca["key"]), str(ca["ca"]), "server.dc1.consul") == []
    assert helper.check_tls(str(tls["client"]["cert"]), str(tls["client"]["key"]), str(ca["ca"]), None) == []


@pytest.mark.consul
def test_tls_key_of_another_certificate(tls):
    problems = helper.check_tls(str(tls["ca"]["cert"]), str(tls["other"]["key"]), str(tls["ca"]["ca"]), None)
    assert len(problems) == 1 and "does not match the certificate" in problems[0]


@pytest.mark.consul
def test_tls_certificate_of_another_ca(tls):
    problems = helper.check_tls(str(tls["other"]["cert"]), str(tls["other"]["key"]), str(tls["ca"]["ca"]), None)
    assert len(problems) == 1 and "is not verified by the CA" in problems[0]


@pytest.mark.consul
def test_tls_server_name(tls):
    client = tls["client"]
    problems = helper.check_tls(str(client["cert"]), str(client["key"]), str(tls["ca"]["ca"]), "server.dc1.consul")
    assert len(problems) == 1 and "is not valid for server.dc1.consul" in problems[0]


def test_addresses():
    assert helper.check_address("127.0.0.1", "bind address") == []
    assert helper.check_address("0.0.0.0", "bind address") == []
    assert helper.check_address("{{ GetPrivateIP }}", "bind address") == []
    problems = helper.check_address("192.0.2.55", "advertise address")
    assert len(problems) == 1 and "advertise address 192.0.2.55 is not an address of this host" in problems[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="drops to another user")
def test_data_dir_writable_by_the_agent_user():
    nobody = pwd.getpwnam("nobody")
    top = Path(tempfile.mkdtemp())  # pytest's tmp_path is under a root-only folder
    os.chmod(str(top), 0o755)
    data = top / "data"
    (data / "raft").mkdir(parents=True)
    try:
        _data_dir_cases(data, nobody)
    finally:
        shutil.rmtree(str(top))


def _data_dir_cases(data, nobody):
    os.chown(str(data), nobody.pw_uid, nobody.pw_gid)
    os.chown(str(data / "raft"), nobody.pw_uid, nobody.pw_gid)
    assert helper.check_data_dir(str(data), "nobody") == []
    # A file left by a run as root: the agent could not write it.
    (data / "raft" / "raft.db").write_text("")
    problems = helper.check_data_dir(str(data), "nobody")
    assert problems == ["%s is not writable by nobody" % (data / "raft" / "raft.db")]
    os.chown(str(data), 0, 0)
    problems = helper.check_data_dir(str(data), "nobody")
    assert len(problems) == 1 and "is not writable by nobody" in problems[0]


@pytest.mark.consul
@pytest.mark.skipif(os.geteuid() != 0, reason="drops to another user")
def test_preflight_command_fails_on_a_mismatch_consul_validate_accepts(tls, tmp_path, capsys):
    """The case of the issue: `consul validate` passes a certificate/key mismatch, the pre-flight does not."""
    from tests.consul_testbed.agent import consul_binary

    consul = consul_binary()
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    shutil.copy(str(tls["ca"]["ca"]), str(tls_dir / "ca.pem"))
    shutil.copy(str(tls["ca"]["cert"]), str(tls_dir / "agent.pem"))
    shutil.copy(str(tls["other"]["key"]), str(tls_dir / "agent-key.pem"))
    data = tmp_path / "data"
    data.mkdir()
    config_dir = tmp_path / "consul.d"
    config_dir.mkdir()
    (config_dir / "agent.json").write_text(json.dumps({
        "data_dir": str(data), "bind_addr": "127.0.0.1", "server": True, "bootstrap_expect": 1,
        "ca_file": str(tls_dir / "ca.pem"), "cert_file": str(tls_dir / "agent.pem"),
        "key_file": str(tls_dir / "agent-key.pem"), "verify_outgoing": True, "verify_server_hostname": True}))
    validate = subprocess.run([consul, "validate", str(config_dir)], capture_output=True, text=True, check=False)
    assert validate.returncode == 0, validate.stdout + validate.stderr

    argv = ["preflight", "--unit", "consul-test-absent", "--node", "server02", "--server", "--consul", consul,
            "--config-dir", str(config_dir), "--data-dir", str(data), "--user", "root", "--bind", "127.0.0.1",
            "--client-addr", "127.0.0.1", "--tls-cert", str(tls_dir / "agent.pem"),
            "--tls-key", str(tls_dir / "agent-key.pem"), "--tls-ca", str(tls_dir / "ca.pem"),
            "--server-name", "server.dc1.consul"]
    assert helper.main(argv) == 1
    err = capsys.readouterr().err
    assert "pre-flight check failed on server02: the TLS key %s does not match" % (tls_dir / "agent-key.pem") in err

    shutil.copy(str(tls["ca"]["key"]), str(tls_dir / "agent-key.pem"))
    assert helper.main(argv) == 0
    status = json.loads(capsys.readouterr().out)
    # No agent runs here (no such unit): it would be restarted first.
    assert status["running"] is False and status["server"] is True


def test_autopilot_answer_of_an_unhealthy_cluster_is_read():
    """Autopilot answers 429 (text/plain, the same JSON) while a server is down: that is health, not an error
    (read as an error, every server looked unhealthy and the leader was no longer restarted last)."""
    body = {"Healthy": False, "FailureTolerance": 0, "Servers": [
        {"Name": "s1", "Healthy": True, "Leader": True, "Voter": True},
        {"Name": "s2", "Healthy": False, "Leader": False, "Voter": True}]}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            data = json.dumps(body).encode()
            self.send_response(429 if self.path.startswith("/v1/operator/autopilot/health") else 500)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        api = helper.Api("http://127.0.0.1:%d" % server.server_address[1], token="")
        health, servers = helper.autopilot(api)
        assert health["FailureTolerance"] == 0 and servers["s1"]["Leader"] and not servers["s2"]["Healthy"]
        with pytest.raises(OSError, match="HTTP 500"):
            api.get("/v1/status/leader")
    finally:
        server.shutdown()


def test_client_waits_for_its_checks_to_run_again():
    class Api(object):
        def __init__(self, catalog, local):
            self.answers = {"/v1/health/node/n1": catalog, "/v1/agent/checks": local}

        def get(self, path):
            return self.answers[path]

    catalog = [{"CheckID": "serfHealth", "Status": "passing"}, {"CheckID": "web", "Status": "passing"},
               {"CheckID": "beat", "Status": "passing"}]
    not_run = {"web": {"Status": "passing", "Output": "", "Type": "http"},
               "beat": {"Status": "passing", "Output": "", "Type": "ttl"}}
    with pytest.raises(ValueError, match="web has not run yet"):
        helper.client_back(Api(catalog, not_run), "n1", {"serfHealth", "web", "beat"}, elapsed=1, settle=4)
    # Its interval has elapsed (a script check may print nothing).
    assert helper.client_back(Api(catalog, not_run), "n1", {"serfHealth", "web", "beat"}, elapsed=5, settle=4) \
        == "3 checks passing again"
    ran = dict(not_run, web={"Status": "passing", "Output": "HTTP GET ...: 200 OK", "Type": "http"})
    assert helper.client_back(Api(catalog, ran), "n1", {"serfHealth", "web", "beat"}, elapsed=1, settle=4)
    failing = [dict(c, Status="critical") if c["CheckID"] == "web" else c for c in catalog]
    with pytest.raises(ValueError, match="web not passing"):
        helper.client_back(Api(failing, ran), "n1", {"serfHealth", "web"}, elapsed=9, settle=4)
    down = [dict(c, Status="critical") if c["CheckID"] == "serfHealth" else c for c in catalog]
    with pytest.raises(ValueError, match="serfHealth of n1 is critical"):
        helper.client_back(Api(down, ran), "n1", set(), elapsed=9, settle=4)


@pytest.mark.parametrize("voters,wanted,needed", [(1, 1, 0), (2, 1, 0), (3, 1, 1), (5, 1, 1), (5, 2, 2), (3, 2, 1)])
def test_required_failure_tolerance(voters, wanted, needed):
    health = {"Servers": [{"Voter": True} for _voter in range(voters)] + [{"Voter": False}]}
    assert helper.required_tolerance(health, wanted) == needed


def test_check_intervals_of_the_config_dir(tmp_path):
    (tmp_path / "service-a.json").write_text(json.dumps({"service": {"name": "a", "checks": [
        {"http": "http://x", "interval": "10s", "timeout": "2s"}, {"ttl": "60s"}]}}))
    (tmp_path / "services.json").write_text(json.dumps({"services": [{"name": "b", "check": {
        "tcp": "x:1", "interval": "1m30s"}}]}))
    (tmp_path / "broken.json").write_text("{")
    assert helper.longest_check_interval(str(tmp_path)) == 90
    assert sorted(s["name"] for _path, s in helper.service_definitions(str(tmp_path))) == ["a", "b"]


@pytest.fixture
def dev_agent(tmp_path):
    """A 1.8.7 dev agent reading a config dir, on its own loopback address."""
    from tests.consul_testbed.agent import address_block, consul_binary

    address = address_block(os.environ.get("PYTEST_XDIST_WORKER")) + ".7"
    config_dir = tmp_path / "consul.d"
    config_dir.mkdir()
    (config_dir / "service-web.json").write_text(json.dumps({"service": {"name": "web", "port": 80}}))
    log = open(str(tmp_path / "agent.log"), "wb")
    process = subprocess.Popen([consul_binary(), "agent", "-dev", "-bind", address, "-client", address,
                                "-config-dir", str(config_dir), "-node", "dev1"],
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = "http://%s:8500" % address
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(url + "/v1/catalog/node/dev1", timeout=1).json():
                break
        except (requests.RequestException, ValueError):
            pass
        assert time.monotonic() < deadline, (tmp_path / "agent.log").read_text()
        time.sleep(0.2)
    yield url, config_dir, consul_binary()
    process.terminate()
    process.wait(10)
    log.close()


def test_the_token_is_read_from_stdin_a_file_or_the_environment(tmp_path, monkeypatch):
    """--token-stdin (the roles), else CONSUL_HTTP_TOKEN_FILE, else CONSUL_HTTP_TOKEN, as the consul CLI."""
    import io

    monkeypatch.setenv("CONSUL_HTTP_TOKEN", "from-env")
    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin\nrest\n"))
    assert helper.read_token(True) == "from-stdin"
    assert helper.read_token(False) == "from-env"
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    monkeypatch.setenv("CONSUL_HTTP_TOKEN_FILE", str(token_file))
    assert helper.read_token(False) == "from-file"
    token_file.unlink()
    with pytest.raises(helper.Failure, match="CONSUL_HTTP_TOKEN_FILE .* cannot be read"):
        helper.read_token(False)


def test_preflight_settle_reads_an_unhealthy_server_again(tmp_path, monkeypatch, capsys):
    """--settle (the preflight entry point): a running server autopilot reports unhealthy for a moment is
    read again until it is healthy; without it the first answer counts; a stopped agent is not waited for."""
    unhealthy = {"node": "s1", "server": True, "running": True, "leader": False, "healthy": False}
    healthy = dict(unhealthy, healthy=True)
    stopped = dict(unhealthy, running=False)
    monkeypatch.setattr(helper, "check_data_dir", lambda data_dir, user: [])
    monkeypatch.setattr(helper.time, "sleep", lambda seconds: None)
    base = ["preflight", "--server", "--consul", "/bin/true", "--data-dir", str(tmp_path)]
    for extra, answers, want in (
            (["--settle", "30"], [unhealthy, unhealthy, healthy], healthy),
            ([], [unhealthy, healthy], unhealthy),
            (["--settle", "30"], [stopped, healthy], stopped)):
        calls = iter(answers)
        monkeypatch.setattr(helper, "agent_status", lambda args, api: next(calls))
        assert helper.main(base + extra) == 0, capsys.readouterr().err
        assert json.loads(capsys.readouterr().out) == want


@pytest.mark.consul
def test_agent_status_of_a_running_server(dev_agent, monkeypatch):
    """consul_agent_status (the role's preflight entry point) as the helper reads it from a real 1.8.7 server."""
    url, _config_dir, _consul = dev_agent
    monkeypatch.setattr(helper, "unit_state", lambda unit: {"ActiveState": "active"})
    args = type("Args", (), {"unit": "consul", "node": "dev1", "server": True})()
    deadline = time.monotonic() + 60
    status = helper.agent_status(args, helper.Api(url))
    while not status["healthy"] and time.monotonic() < deadline:  # autopilot's first health update
        time.sleep(1)
        status = helper.agent_status(args, helper.Api(url))
    assert status == {"node": "dev1", "server": True, "running": True, "leader": True, "healthy": True,
                      "failure_tolerance": 0, "version": "1.8.7"}
    monkeypatch.setattr(helper, "unit_state", lambda unit: {"ActiveState": "inactive"})
    assert helper.agent_status(args, helper.Api(url))["version"] is None


@pytest.mark.consul
def test_reload_checks_what_the_agent_registered(dev_agent, capsys):
    url, config_dir, consul = dev_agent
    base = ["reload", "--url", url, "--config-dir", str(config_dir), "--consul", consul, "--timeout", "5"]
    (config_dir / "service-db.json").write_text(json.dumps({"service": {"name": "db", "port": 5432}}))
    assert helper.main(base) == 0, capsys.readouterr().err
    assert "reloaded dev1: 2 service(s)" in capsys.readouterr().out

    # A definition Consul refuses on reload: the command fails, the agent keeps the old set.
    (config_dir / "service-bad.json").write_text(json.dumps({"service": {"name": "bad", "port": "x"}}))
    assert helper.main(base) == 1
    assert "consul reload failed" in capsys.readouterr().err
    (config_dir / "service-bad.json").unlink()

    # A removed definition must be gone after the reload.
    (config_dir / "service-db.json").unlink()
    assert helper.main(base + ["--absent", "db"]) == 0, capsys.readouterr().err
    assert "removed: db" in capsys.readouterr().out
    # A service that is still registered although it should be gone fails the check.
    assert helper.main(base + ["--absent", "web"]) == 1
    assert "service web is still registered" in capsys.readouterr().err


INVENTORY = {"all": {
    "hosts": {"localhost": {"ansible_connection": "local"}},
    "children": {
        "consul_servers": {"hosts": {"s1": {}, "s2": {}, "s3": {}, "s4": {}}},
        "consul_clients": {"hosts": {"c1": {}, "c2": {}}},
    }}}

# host -> pre-flight output (None: no restart pending for it)
PREFLIGHT = {
    "c1": {"server": False, "running": True, "leader": False, "healthy": True},
    "s1": {"server": True, "running": True, "leader": True, "healthy": True},
    "s2": {"server": True, "running": True, "leader": False, "healthy": True},
    "s3": {"server": True, "running": False, "leader": False, "healthy": False},
    "s4": None,
    "c2": {"server": False, "running": False, "leader": False, "healthy": False},
}


def test_restart_order(tmp_path):
    """Servers that are down first, then followers, the leader last, then clients (down ones first); hosts
    without a pending restart are left out."""
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps(INVENTORY))
    out = tmp_path / "order.json"
    plays = [
        {"hosts": "consul_servers:consul_clients", "gather_facts": False, "connection": "local",
         "vars_files": [str(REPO_ROOT / "roles" / "consul" / "vars" / "main.yml")],
         "tasks": [
             {"name": "Pre-flight outputs", "ansible.builtin.set_fact": {
                 "_consul_restart_pending": "{{ preflight[inventory_hostname] is not none }}",
                 "_consul_preflight": {"json": "{{ preflight[inventory_hostname] }}"}},
              "vars": {"preflight": PREFLIGHT}},
             {"name": "Write the order", "ansible.builtin.copy": {
                 "content": "{{ _consul_restart_order | to_json }}", "dest": str(out), "mode": "0600"},
              "run_once": True}]}]
    result = run_playbook(json.dumps(plays), args=["-i", str(inventory)])
    assert result.rc == 0, result.output[-3000:]
    assert json.loads(out.read_text()) == ["s3", "s2", "s1", "c2", "c1"]


FAKE_HELPER = r'''#!/bin/sh
# fake consul-restart-wait: $1 = preflight|restart, $2 = host; FAIL_PRE / FAIL_RESTART / LEADER / LOG from the env.
# It keeps the token it got on stdin, and counts that token in its environment and in the command
# line of every process between it and ansible-playbook (what every local user sees in ps).
echo "$1 $2" >> "$LOG"
read -r token
echo "$token" >> "$LOG.stdin"
env | grep -c -F "$token" >> "$LOG.env"
pid=$$
while [ "$pid" -gt 1 ]; do
  line=$(tr '\0' ' ' < /proc/$pid/cmdline)
  echo "$line" >> "$LOG.cmdlines"
  case "$line" in *ansible-playbook*) break ;; esac
  pid=$(awk '/^PPid:/ {print $2}' /proc/$pid/status)
done
if [ "$1" = preflight ]; then
  [ "$2" = "$FAIL_PRE" ] && { echo "pre-flight check failed on $2: broken" >&2; exit 1; }
  leader=false; [ "$2" = "$LEADER" ] && leader=true
  echo "{\"server\": true, \"running\": true, \"healthy\": true, \"leader\": $leader}"
else
  [ "$2" = "$FAIL_RESTART" ] && { echo "$2 did not stay up after the restart" >&2; exit 1; }
  echo "$2 restarted"
fi
'''


@pytest.mark.parametrize("fail_pre,fail_restart,restarted,completed", [
    ("", "", ["s2", "s3", "s1"], True),   # followers in play order, the leader (s1) last
    ("s2", "", [], False),                # a pre-flight failure: no restart at all
    ("", "s2", ["s2"], False),            # the first restart fails: nothing after it
    ("", "s3", ["s2", "s3"], False),      # the second fails: the leader is not restarted
])
def test_rolling_restart_stops_at_the_first_failure(tmp_path, fail_pre, fail_restart, restarted, completed):
    """tasks/restart.yml and restart_one.yml as the handler runs them, with a fake helper: the pre-flight
    runs on every host before any restart, the order puts the leader last, a failure ends the play for all
    hosts (and the playbook), and the hosts not restarted keep their pending-restart marker.
    ``restarted``: the restarts attempted, the failing one included."""
    helper_path = tmp_path / "fake-helper"
    helper_path.write_text(FAKE_HELPER)
    helper_path.chmod(0o755)
    log = tmp_path / "log"
    log.write_text("")
    inventory = tmp_path / "inventory.json"
    # ACLs on: the token must reach the helper on its stdin only (in the inventory, not on a command line).
    token = "7f0c5d2e-token-of-the-test"
    inventory.write_text(json.dumps({"all": {
        "vars": {"consul_acl_enable": True, "consul_api_token": token},
        "children": {"consul_servers": {"hosts": {"s1": {}, "s2": {}, "s3": {}}}}}}))
    plays = [
        {"hosts": "consul_servers", "gather_facts": False, "connection": "local",
         "environment": {"LOG": str(log), "FAIL_PRE": fail_pre, "FAIL_RESTART": fail_restart, "LEADER": "s1"},
         "tasks": [{"name": "The role's restart, as its handler includes it", "ansible.builtin.import_role": {
             "name": "geant.consul_dns.consul", "tasks_from": "restart.yml"}}]},
        {"hosts": "consul_servers", "gather_facts": False, "connection": "local",
         "tasks": [{"name": "Next play", "ansible.builtin.debug": {"msg": "next play reached"}, "run_once": True}]},
    ]
    # Role vars (vars/main.yml) give way to extra vars only.
    extra = {
        "_consul_preflight_argv": [str(helper_path), "preflight", "{{ inventory_hostname }}"],
        "_consul_restart_argv": [str(helper_path), "restart", "{{ inventory_hostname }}"],
        "_consul_restart_marker": str(tmp_path / "markers" / "{{ inventory_hostname }}.restart-pending"),
    }
    result = run_playbook(json.dumps(plays), extra_vars=extra, args=["-i", str(inventory), "-vvv"])
    lines = log.read_text().split()
    calls = list(zip(lines[0::2], lines[1::2]))
    assert sorted(host for phase, host in calls if phase == "preflight") == ["s1", "s2", "s3"], calls
    # Every pre-flight ran before the first restart.
    assert [phase for phase, _host in calls] == ["preflight"] * 3 + ["restart"] * len(restarted), calls
    assert [host for phase, host in calls if phase == "restart"] == restarted
    assert (result.rc == 0) is completed, result.output[-3000:]
    assert ("next play reached" in result.stdout) is completed
    markers = sorted(p.name.split(".")[0] for p in (tmp_path / "markers").glob("*.restart-pending"))
    assert markers == sorted({"s1", "s2", "s3"} - (set(restarted) - {fail_restart})), markers
    # The token came on stdin to every call, and was nowhere else: not in the helper's environment,
    # not on a command line, not in Ansible's output at -vvv (module arguments are shown there).
    assert Path(str(log) + ".stdin").read_text().split() == [token] * len(calls)
    assert Path(str(log) + ".env").read_text().split() == ["0"] * len(calls)
    cmdlines = Path(str(log) + ".cmdlines").read_text()
    assert "ansible-playbook" in cmdlines and token not in cmdlines
    assert token not in result.output
    # A failure is still reported, with the helper's message.
    if fail_pre:
        assert "pre-flight check failed on s2: broken" in result.output
    if fail_restart:
        assert "%s did not stay up after the restart" % fail_restart in result.output
