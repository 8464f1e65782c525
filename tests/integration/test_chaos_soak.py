"""The chaos soak (bench/chaos, issue #15) in CI: the short profile (~3 minutes: every kind of fault, a real
3-server Consul cluster, the WAPI simulator, BIND, two watch services and the timer's playbook) holds
every invariant; and the soak's checks can fail: against a temporary copy of the collection with the
lock, the shrink guards, or the corrupt damping state's warning removed (never a switch in the product),
it reports violations.

The seed is random unless CHAOS_SEED is set; a failure prints it, with the command that replays the
same schedule. The soaks run one at a time (a file lock), whatever pytest-xdist does.
"""
import fcntl
import json
import os
import random
import subprocess
import sys
import tempfile
from contextlib import contextmanager

import pytest

from bench.chaos.config import PROFILES
from bench.chaos.schedule import MASS, make_schedule

pytestmark = [pytest.mark.consul, pytest.mark.slow, pytest.mark.soak]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCK_FILE = os.path.join(tempfile.gettempdir(), "consul-dns-chaos-soak.lock")


@contextmanager
def one_soak_at_a_time():
    with open(LOCK_FILE, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def soak(tmp_path, worker_id, number, *args):
    """``(completed process, figures)`` of ``python -m bench.chaos --profile short ARGS``."""
    worker = 0 if worker_id in (None, "master") else int(str(worker_id).lstrip("gw") or 0)
    output = tmp_path / "chaos.json"
    with one_soak_at_a_time():
        proc = subprocess.run(
            [sys.executable, "-m", "bench.chaos", "--profile", "short", "--output", str(output),
             "--address-block", "127.212.%d" % (10 * worker + number)] + list(args),
            cwd=REPO, capture_output=True, text=True, timeout=1200, check=False,
            env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    figures = json.loads(output.read_text()) if output.exists() else None
    return proc, figures


def seed_with_mass_failure_first():
    """The first seed whose short schedule opens with the mass failure (the shrink guards' test)."""
    return next(seed for seed in range(1, 1000)
                if any(s.kind == MASS for s in make_schedule(seed, "short", PROFILES["short"])[0][0]))


def seed_with_early_corrupt_state():
    """The seed (of the first 100) whose short schedule corrupts the damping state earliest in phase 1."""
    def first_corruption(seed):
        specs = make_schedule(seed, "short", PROFILES["short"])[0][0]
        return min([s.at for s in specs if s.kind == "corrupt_state"] or [float("inf")])
    return min(range(1, 101), key=first_corruption)


def test_short_profile_holds_every_invariant(tmp_path, worker_id):
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1, 2 ** 31))
    proc, figures = soak(tmp_path, worker_id, 1, "--seed", str(seed))
    replay = "replay: python -m bench.chaos --profile short --seed %d" % seed
    assert figures is not None, "%s\n%s\n%s" % (replay, proc.stdout[-6000:], proc.stderr[-3000:])
    violations = figures["violations"]
    assert violations["total"] == 0 and proc.returncode == 0, "%d violation(s), %s:\n%s\n%s" % (
        violations["total"], replay, json.dumps(violations["list"][:20], indent=1), proc.stdout[-4000:])
    injected = dict((kind, entry["injected"]) for kind, entry in figures["faults"].items())
    skipped = [f for f in figures["fault_list"] if f["status"].startswith("skipped")]
    assert all(injected.values()), "%s: kinds never injected: %s; skipped: %s" % (
        replay, [k for k, n in injected.items() if not n], skipped)
    assert figures["wapi"]["writes_checked_against_lock"] > 0
    assert [q["ok"] for q in figures["quiet_periods"]] == [True, True, True]


@pytest.mark.parametrize("removed, invariant", [("lock", "one_writer"), ("shrink-guard", "shrink")])
def test_the_checks_fail_without_a_safety(tmp_path, worker_id, removed, invariant):
    seed = seed_with_mass_failure_first()
    proc, figures = soak(tmp_path, worker_id, 2 if removed == "lock" else 3, "--seed", str(seed),
                         "--without", removed, "--max-violations", "1")
    assert figures is not None, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert proc.returncode == 1, proc.stdout[-4000:]
    assert figures["violations"]["by_invariant"].get(invariant), (
        "seed %d without %s: no %s violation: %s" % (seed, removed, invariant, figures["violations"]))


def test_the_state_check_fails_when_a_corrupt_state_is_rebuilt_silently(tmp_path, worker_id):
    """``state_silent`` judges a rebuild by the corruption's own ModifyIndex and looks for the warning in
    every writer's log from before the corruption was written: with the warning removed from the product,
    the rebuild is still caught."""
    seed = seed_with_early_corrupt_state()
    proc, figures = soak(tmp_path, worker_id, 4, "--seed", str(seed), "--without", "state-warning",
                         "--max-violations", "1")
    assert figures is not None, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert proc.returncode == 1, proc.stdout[-4000:]
    silent = [v for v in figures["violations"]["list"] if v["invariant"] == "state_silent"]
    assert silent and "with no warning" in silent[0]["detail"], (
        "seed %d without state-warning: no silent rebuild caught: %s" % (seed, figures["violations"]))
