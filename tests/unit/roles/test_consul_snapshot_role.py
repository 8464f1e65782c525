"""Role consul_snapshot without containers: the README's variable table, the units rendered by Ansible, and the
host script ``consul-snapshot-save`` run against a stand-in ``consul`` binary.

- (README table == ``meta/argument_specs.yml``: tests/unit/roles/test_role_readme_tables.py.)
- The service: oneshot as root, the settings in its environment, ``ReadWritePaths=`` only the snapshot folder,
  ``LoadCredential=token:<file>`` only when a token is given (the token itself never in the unit); the timer:
  ``OnCalendar=``, ``RandomizedDelaySec=``, ``Persistent=true``.
- The script: a snapshot ``consul-<UTC time>.snap`` mode 0600 in a 0700 folder, checked with ``snapshot inspect``;
  the newest N kept; a failed save or inspect leaves no file and deletes nothing; the token from the systemd
  credential reaches consul in ``CONSUL_HTTP_TOKEN``; ``-stale`` when asked.
"""

import os
import stat
import subprocess

import pytest
import yaml

from tests.playbook import REPO_ROOT, run_playbook

ROLE = REPO_ROOT / "roles" / "consul_snapshot"
SCRIPT = ROLE / "files" / "consul-snapshot-save"

FAKE_CONSUL = """#!/bin/bash
# stand-in for consul: logs its arguments and token, writes a snapshot unless told to fail (mode 0666, as the
# Consul 1.8.7 of Debian does whatever the umask)
echo "$* token=${CONSUL_HTTP_TOKEN:-}" >>"$FAKE_LOG"
case "$1 $2" in
  "snapshot save") [ -z "${FAKE_FAIL_SAVE:-}" ] || exit 1; echo snapshot-data >"${@: -1}"; chmod 0666 "${@: -1}" ;;
  "snapshot inspect") [ -z "${FAKE_FAIL_INSPECT:-}" ] || exit 1; grep -q snapshot-data "$3" ;;
  *) exit 3 ;;
esac
"""


@pytest.fixture(scope="module")
def units(tmp_path_factory):
    out = tmp_path_factory.mktemp("units")
    acl = {"consul_snapshot_token": "s3cr3t-token", "consul_snapshot_stale": True,
           "consul_snapshot_ca_file": "/etc/consul.d/tls/ca.pem",
           "consul_snapshot_client_cert": "/etc/consul.d/tls/agent.pem",
           "consul_snapshot_client_key": "/etc/consul.d/tls/agent-key.pem",
           "consul_snapshot_dir": "/srv/snap", "consul_snapshot_on_calendar": "*:0/15"}
    cases = {"default": {}, "acl": acl}
    tasks = []
    for case, case_vars in cases.items():
        for kind in ("service", "timer"):
            tasks.append({"name": "render %s %s" % (case, kind), "vars": case_vars, "ansible.builtin.copy": {
                "dest": str(out / ("%s.%s" % (case, kind))), "mode": "0644",
                "content": "{{ lookup('ansible.builtin.template', '%s') }}" % (ROLE / "templates" / ("consul-snapshot.%s.j2" % kind))}})
    playbook = [{"hosts": "localhost", "gather_facts": False,
                 "vars_files": [str(ROLE / "defaults" / "main.yml")], "tasks": tasks}]
    result = run_playbook(yaml.safe_dump(playbook))
    assert result.rc == 0, result
    return {path.name: path.read_text() for path in out.iterdir()}


def _settings(text):
    lines = [line for line in text.splitlines() if "=" in line and not line.startswith("#")]
    return [tuple(line.split("=", 1)) for line in lines]


def test_service_default(units):
    settings = _settings(units["default.service"])
    assert ("Type", "oneshot") in settings and ("User", "root") in settings
    assert ("ExecStart", "/usr/local/sbin/consul-snapshot-save") in settings
    env = dict(value.split("=", 1) for key, value in settings if key == "Environment")
    assert env == {"CONSUL_SNAPSHOT_DIR": "/var/lib/consul-snapshots", "CONSUL_SNAPSHOT_RETAIN": "48",
                   "CONSUL_SNAPSHOT_CONSUL": "/usr/bin/consul", "CONSUL_SNAPSHOT_STALE": "false",
                   "CONSUL_HTTP_ADDR": "http://127.0.0.1:8500"}
    assert ("ProtectSystem", "strict") in settings and ("UMask", "0077") in settings
    assert [value for key, value in settings if key == "ReadWritePaths"] == ["/var/lib/consul-snapshots"]
    assert "LoadCredential" not in dict(settings)


def test_service_with_token_and_tls(units):
    text = units["acl.service"]
    settings = _settings(text)
    assert ("LoadCredential", "token:/etc/consul-snapshot/token") in settings
    assert "s3cr3t-token" not in text
    env = dict(value.split("=", 1) for key, value in settings if key == "Environment")
    assert env["CONSUL_CACERT"] == "/etc/consul.d/tls/ca.pem"
    assert env["CONSUL_CLIENT_CERT"] == "/etc/consul.d/tls/agent.pem"
    assert env["CONSUL_CLIENT_KEY"] == "/etc/consul.d/tls/agent-key.pem"
    assert env["CONSUL_SNAPSHOT_STALE"] == "true"
    assert [value for key, value in settings if key == "ReadWritePaths"] == ["/srv/snap"]


def test_timer(units):
    assert ("OnCalendar", "hourly") in _settings(units["default.timer"])
    assert ("RandomizedDelaySec", "5min") in _settings(units["default.timer"])
    assert ("Persistent", "true") in _settings(units["default.timer"])
    assert ("OnCalendar", "*:0/15") in _settings(units["acl.timer"])


@pytest.fixture
def host(tmp_path):
    consul = tmp_path / "consul"
    consul.write_text(FAKE_CONSUL)
    consul.chmod(0o755)
    log = tmp_path / "consul.log"

    def run(retain="3", **extra):
        env = dict(os.environ, CONSUL_SNAPSHOT_DIR=str(tmp_path / "snap"), CONSUL_SNAPSHOT_RETAIN=retain,
                   CONSUL_SNAPSHOT_CONSUL=str(consul), FAKE_LOG=str(log))
        env.pop("CONSUL_HTTP_TOKEN", None)
        env.pop("CREDENTIALS_DIRECTORY", None)
        env.update(extra)
        return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, check=False)

    run.dir = tmp_path / "snap"
    run.log = log
    return run


def _snapshots(folder):
    return sorted(name for name in os.listdir(folder) if name.endswith(".snap"))


def test_save_into_a_root_only_folder(host):
    result = host()
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(host.dir.stat().st_mode) == 0o700
    (name,) = os.listdir(host.dir)
    assert name.startswith("consul-") and name.endswith("Z.snap")
    assert stat.S_IMODE((host.dir / name).stat().st_mode) == 0o600
    calls = host.log.read_text().splitlines()
    assert calls[0].startswith("snapshot save ") and calls[1].startswith("snapshot inspect ")
    assert "-stale" not in calls[0]


def test_retention_keeps_the_newest(host):
    host.dir.mkdir(mode=0o700)
    old = ["consul-20250101T0%d0000Z.snap" % hour for hour in range(5)]
    for name in old:
        (host.dir / name).write_text("old")
    (host.dir / "notes.txt").write_text("not a snapshot")
    result = host(retain="3")
    assert result.returncode == 0, result.stderr
    kept = _snapshots(host.dir)
    assert len(kept) == 3 and kept[:2] == old[3:] and kept[2] not in old
    assert (host.dir / "notes.txt").exists()


@pytest.mark.parametrize("failure", ["FAKE_FAIL_SAVE", "FAKE_FAIL_INSPECT"])
def test_a_failed_save_keeps_everything(host, failure):
    host.dir.mkdir(mode=0o700)
    old = ["consul-20250101T0%d0000Z.snap" % hour for hour in range(4)]
    for name in old:
        (host.dir / name).write_text("old")
    result = host(retain="1", **{failure: "1"})
    assert result.returncode != 0
    assert sorted(os.listdir(host.dir)) == old


def test_token_from_the_systemd_credential_and_stale(host, tmp_path):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "token").write_text("the-token\n")
    result = host(CREDENTIALS_DIRECTORY=str(creds), CONSUL_SNAPSHOT_STALE="true")
    assert result.returncode == 0, result.stderr
    save = host.log.read_text().splitlines()[0]
    assert save.startswith("snapshot save -stale ") and save.endswith("token=the-token")
    assert "the-token" not in result.stdout + result.stderr


def test_retain_must_be_positive(host):
    assert host(retain="0").returncode == 2
    assert host(retain="x").returncode == 2
