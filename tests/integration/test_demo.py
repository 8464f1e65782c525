"""The README's first command, scripts/demo.sh: the main job (playbook geant.consul_dns.zone_sync) on local
defaults, then a failure and a recovery, with and without the watch service. Run on its own loopback
address, port and folder so that it can run next to the other tests."""

import json
import os
import subprocess
import time

import pytest

from tests.playbook import REPO_ROOT

pytestmark = [pytest.mark.consul, pytest.mark.slow]


def demo(env, *args):
    proc = subprocess.run(["bash", "scripts/demo.sh"] + list(args), cwd=str(REPO_ROOT), env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def wait_until(condition, timeout, message):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.2)


def crowd(zone_text):
    return sorted(line.split()[-1] for line in zone_text.splitlines() if line.startswith("crowd "))


def test_demo_runs_the_main_job_and_follows_a_failure(tmp_path):
    env = dict(os.environ, CONSUL_DNS_DEMO_DIR=str(tmp_path), CONSUL_DNS_DEMO_CONSUL_ADDR="127.203.0.1",
               CONSUL_DNS_DEMO_NIOS_PORT="18443")
    zone = tmp_path / "geant.services.zone"
    try:
        out = demo(env)
        assert "TASK [Sync the zones]" in out
        report = json.loads((tmp_path / "last_sync.json").read_text())
        assert report["success"] and report["mode"] == "playbook"
        assert crowd(zone.read_text()) == ["1.1.1.10", "1.1.1.11"]
        demo(env, "fail", "crowd-prod-crowd02")
        assert crowd(zone.read_text()) == ["1.1.1.10"]
        demo(env, "recover", "crowd-prod-crowd02")
        assert crowd(zone.read_text()) == ["1.1.1.10", "1.1.1.11"]
        demo(env, "watch")
        demo(env, "fail", "crowd-prod-crowd02")  # no playbook run now: the watch service syncs by itself
        wait_until(lambda: crowd(zone.read_text()) == ["1.1.1.10"], 20, "the watch service did not withdraw 1.1.1.11")
        assert json.loads((tmp_path / "last_sync.json").read_text())["mode"] == "watch"
    finally:
        demo(env, "stop")
