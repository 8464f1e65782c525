"""Benchmark of the Consul -> zone -> Infoblox pipeline against the way records are pushed today.

Run from the repository root: ``bash bench/run.sh`` (or ``.venv/bin/python -m bench``); see bench/README.md.
"""
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# BENCH_COLLECTIONS_PATH: measure another checkout of the collection (a folder holding
# ansible_collections/geant/consul_dns), e.g. an older commit for a before/after comparison.
COLLECTIONS = Path(os.environ.get("BENCH_COLLECTIONS_PATH") or REPO_ROOT / ".cache" / "collections")

# The collection is imported as ansible_collections.geant.consul_dns through the symlink that
# scripts/bootstrap.sh makes; the test beds (tests.consul_testbed, tests.wapi_simulator) from the root.
for _path in (str(REPO_ROOT), str(COLLECTIONS)):
    if _path not in sys.path:
        sys.path.insert(0, _path)


def process_cpu_seconds(pid):
    """User + system CPU time process ``pid`` (all its threads) has used so far, from /proc."""
    with open("/proc/%d/stat" % pid) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(_CLK_TCK)


_CLK_TCK = os.sysconf("SC_CLK_TCK")
