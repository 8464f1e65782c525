"""extensions/molecule/zone_sync/wapi_simulator.sh: ``start`` stops a simulator a killed run left on the same
address and port (another checkout, another state folder), instead of failing with "Address already in use".

Needs podman's default network (gateway 10.88.0.1, the address the script binds to); skipped without it.
"""

import os
import subprocess
import time

import pytest

from tests.playbook import REPO_ROOT

SCRIPT = REPO_ROOT / "extensions" / "molecule" / "zone_sync" / "wapi_simulator.sh"
PORT = "28497"


def _gateway():
    try:
        out = subprocess.run(["podman", "network", "inspect", "podman", "--format",
                              "{{range .Subnets}}{{.Gateway}} {{end}}"], capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return out.stdout.split()[0] if out.returncode == 0 and out.stdout.split() else ""


def _script(state_dir, action):
    env = dict(os.environ, WAPI_PORT=PORT, WAPI_STATE_DIR=str(state_dir), WAPI_ADDRESS=_gateway())
    return subprocess.run(["bash", str(SCRIPT), action], capture_output=True, text=True, env=env, check=False,
                          timeout=120)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with open("/proc/%d/stat" % pid) as handle:
        return handle.read().split()[2] != "Z"


@pytest.mark.skipif(not _gateway(), reason="podman's default network is not there")
def test_start_stops_a_simulator_left_by_another_checkout(tmp_path):
    left = _script(tmp_path / "killed-run", "start")
    assert left.returncode == 0, left.stderr
    left_pid = int((tmp_path / "killed-run" / "wapi-simulator.pid").read_text())
    try:
        started = _script(tmp_path / "this-run", "start")
        assert started.returncode == 0, started.stdout + started.stderr
        assert "stopping a simulator left on %s:%s (pid %d" % (_gateway(), PORT, left_pid) in started.stdout
        deadline = time.monotonic() + 10
        while _alive(left_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(left_pid)
        assert "listening" in (tmp_path / "this-run" / "wapi-simulator.log").read_text()
    finally:
        _script(tmp_path / "this-run", "stop")
        _script(tmp_path / "killed-run", "stop")
