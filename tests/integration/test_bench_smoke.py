"""The benchmark (bench/) runs end to end in --quick mode and writes its table and JSON.

Only the shape of the output is checked, and the counts that are behaviour rather than speed (a
no-change sync of the sync engine writes nothing, not even its damping state; a cold sync is one
``request``). Timings are printed, never asserted.
"""
import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.consul, pytest.mark.slow]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIOS = ("consul_read", "cold", "no_change", "change_fail", "change_recover", "memory")


def test_quick_benchmark_writes_table_and_json(tmp_path, worker_id):
    worker = 0 if worker_id in (None, "master") else int(worker_id.lstrip("gw") or 0)
    output = tmp_path / "latest.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output),
         "--consul-address", "127.210.%d.1" % worker],
        cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
        env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "cold sync" in proc.stdout and "Side by side" in proc.stdout

    results = json.loads(output.read_text())
    assert set(results) >= {"machine", "config", "sizes", "side_by_side", "table"}
    assert results["config"]["quick"] is True
    assert set(results["machine"]) >= {"nproc", "cpu_model", "mem_total_gib"}
    size = results["sizes"]["100"]
    assert size["records"] == 100
    mu = size["module_utils"]
    assert set(mu) >= set(SCENARIOS)
    for name in ("cold", "no_change", "change_fail", "change_recover"):
        assert set(mu[name]) >= {"seconds", "cpu_seconds", "consul_read_seconds", "wapi_seconds", "zone_file_seconds",
                                 "simulator_cpu_seconds", "wapi_calls", "runs"}
    assert mu["consul_read"]["http_calls"] == 2 + 25  # leader, catalog, one health read per service
    assert mu["cold"]["wapi_calls"]["writes"] == 1  # one request with every create
    assert mu["no_change"]["wapi_calls"]["writes"] == 0
    assert mu["cold"]["state_written"] is True and mu["no_change"]["state_written"] is False
    assert mu["change_fail"]["summary"]["deleted"] == 1 and mu["change_recover"]["summary"]["created"] == 1
    assert set(mu["memory"]) >= {"tracemalloc_peak_mib", "peak_rss_mib"}
    assert set(size["ansible_playbook"]) == {"cold", "no_change", "ping", "no_change_vs_ping"}
    assert size["ansible_playbook"]["cold"]["wapi_calls"]["writes"] == 1
    assert size["ansible_playbook"]["no_change"]["wapi_calls"]["writes"] == 0

    side = results["side_by_side"]
    assert side["records"] == 10
    assert set(side) >= {"nios_a_record_loop", "infoblox_zone_sync_playbook", "ratios"}
    assert side["nios_a_record_loop"]["cold"]["wapi_calls"]["writes"] == 10  # one create per record
    assert side["infoblox_zone_sync_playbook"]["cold"]["wapi_calls"]["writes"] == 1
    assert "nios_loop_vs_zone_sync_playbook_same_records" in side["ratios"]
