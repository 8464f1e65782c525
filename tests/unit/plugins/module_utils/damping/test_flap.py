"""Flap damping arithmetic with a fake clock: hold-down, grace, RFC 2439 suppression, policies."""

import json
import math

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.damping.flap import (
    DampingConfig,
    evaluate,
    published_from_state,
    valid_state,
)

A = ("crowd", "1.1.1.10")
B = ("crowd", "1.1.1.11")


class Clock(object):
    def __init__(self, now=1000.0):
        self.now = now

    def advance(self, seconds):
        self.now += seconds
        return self.now


class Run(object):
    """Runs of the sync against a fake clock, carrying the state from run to run (through JSON)."""

    def __init__(self, config, state=None, **kwargs):
        self.config = config
        self.state = state
        self.clock = Clock()
        self.kwargs = kwargs
        self.last = None

    def __call__(self, observations, after=0, **kwargs):
        self.clock.advance(after)
        self.last = evaluate(self.state, observations, self.clock.now, self.config, **dict(self.kwargs, **kwargs))
        self.state = json.loads(json.dumps(self.last.state))  # what Consul KV gives back
        return self.last.published

    def entry(self, name_address):
        return self.state["addresses"]["%s/%s" % name_address]


def config(**kwargs):
    values = dict(hold_down=2, grace=0, half_life=10, max_suppress=40)
    values.update(kwargs)
    return DampingConfig(**values)


def test_bootstrap_publishes_healthy_at_once():
    run = Run(config(hold_down=60))
    assert run({A: True, B: False}) == {"crowd": ["1.1.1.10"]}
    assert run.last.added == [{"name": "crowd", "address": "1.1.1.10"}]
    assert run.last.pending == []


def test_new_address_waits_for_hold_down():
    run = Run(config(hold_down=2))
    run({A: True})
    assert run({A: True, B: True}, after=1) == {"crowd": ["1.1.1.10"]}
    assert run.last.pending == [{"name": "crowd", "address": "1.1.1.11", "healthy_for": 0, "publish_in": 2}]
    assert run({A: True, B: True}, after=1.5) == {"crowd": ["1.1.1.10"]}
    assert run.last.pending[0]["publish_in"] == 0.5
    assert run({A: True, B: True}, after=0.5) == {"crowd": ["1.1.1.10", "1.1.1.11"]}
    assert run.last.added == [{"name": "crowd", "address": "1.1.1.11"}]


def test_hold_down_zero_publishes_at_once():
    run = Run(config(hold_down=0))
    run({A: True})
    assert run({A: True, B: True}, after=1) == {"crowd": ["1.1.1.10", "1.1.1.11"]}


def test_failing_address_withdrawn_after_grace_and_recovery_held_down():
    run = Run(config(hold_down=5, grace=3))
    run({A: True, B: True})
    assert run({A: True, B: False}, after=1) == {"crowd": ["1.1.1.10", "1.1.1.11"]}  # in grace
    assert run.last.in_grace == [{"name": "crowd", "address": "1.1.1.11", "failing_for": 0, "withdraw_in": 3}]
    assert run({A: True, B: False}, after=2.9) == {"crowd": ["1.1.1.10", "1.1.1.11"]}
    assert run({A: True, B: False}, after=0.1) == {"crowd": ["1.1.1.10"]}
    assert run.last.withdrawn == [{"name": "crowd", "address": "1.1.1.11", "reason": "failing"}]
    assert run({A: True, B: True}, after=100) == {"crowd": ["1.1.1.10"]}  # recovered: hold-down
    assert run({A: True, B: True}, after=4.9) == {"crowd": ["1.1.1.10"]}
    assert run({A: True, B: True}, after=0.1) == {"crowd": ["1.1.1.10", "1.1.1.11"]}


def test_failure_shorter_than_grace_is_never_withdrawn():
    run = Run(config(grace=10))
    run({A: True, B: True})
    assert run({A: True, B: False}, after=5) == {"crowd": ["1.1.1.10", "1.1.1.11"]}
    assert run({A: True, B: True}, after=4) == {"crowd": ["1.1.1.10", "1.1.1.11"]}
    assert run.last.withdrawn == [] and run.last.pending == []


def test_penalty_decays_with_half_life():
    cfg = config(half_life=10)
    run = Run(cfg)
    run({A: True, B: True})
    run({A: True, B: False}, after=1)  # flap 1
    assert run.entry(B)["penalty"] == 1000
    run({A: True, B: True}, after=5)  # a recovery is no flap
    assert run.entry(B)["penalty"] == 1000 and run.entry(B)["flaps"] == 1
    run({A: True, B: False}, after=5)  # flap 2, one half-life after the first: 500 + 1000
    assert run.entry(B)["penalty"] == pytest.approx(1500, abs=0.01)
    run({A: True, B: False}, after=20)  # no flap: the stored figure is not rewritten
    assert run.entry(B)["penalty"] == pytest.approx(1500, abs=0.01)
    assert cfg.decayed(1500, 0, 20) == pytest.approx(375)
    assert run.entry(B)["flaps"] == 2


def test_one_outage_is_one_flap_and_never_suppressed():
    run = Run(config(hold_down=2, half_life=10))
    run({A: True, B: True})
    run({A: True, B: False}, after=1)
    assert run({A: True, B: True}, after=0.1) == {"crowd": ["1.1.1.10"]}  # held down, not suppressed
    assert run.last.suppressed == []
    assert run({A: True, B: True}, after=2) == {"crowd": ["1.1.1.10", "1.1.1.11"]}


def flap(run, times, every=1):
    """``times`` outages of B: failing, then healthy again, ``every`` seconds apart."""
    for _step in range(times):
        run({A: True, B: False}, after=every)
        run({A: True, B: True}, after=every)


def test_flapping_address_is_suppressed_then_reused_below_reuse_limit():
    cfg = config(hold_down=2, half_life=10, max_suppress=40)
    run = Run(cfg)
    run({A: True, B: True})
    flap(run, 2)                                 # 1000 * 2^-0.2 + 1000 = 1870.6
    assert not run.entry(B)["suppressed"]
    run({A: True, B: False}, after=1)            # 1870.6 * 2^-0.2 + 1000 = 2628.4 > 2000
    assert run.entry(B)["suppressed"]
    assert run.last.newly_suppressed == [{"name": "crowd", "address": "1.1.1.11"}]
    figure = (1000 * 2 ** -0.2 + 1000) * 2 ** -0.2 + 1000
    assert run.last.suppressed[0]["penalty"] == pytest.approx(figure, abs=0.01)
    assert run.last.suppressed[0]["flaps"] == 3
    reuse_in = 10 * math.log2(figure / 750)
    assert run.last.suppressed[0]["reuse_in"] == pytest.approx(reuse_in, abs=0.01)

    # Healthy again and stable: no publication while suppressed, even long after the hold-down.
    assert run({A: True, B: True}, after=1) == {"crowd": ["1.1.1.10"]}
    assert run({A: True, B: True}, after=reuse_in - 1.1) == {"crowd": ["1.1.1.10"]}
    assert run.last.suppressed[0]["reuse_in"] == pytest.approx(0.1, abs=0.01)
    # Below the reuse limit: published at once, it has been healthy longer than the hold-down.
    assert run({A: True, B: True}, after=0.2) == {"crowd": ["1.1.1.10", "1.1.1.11"]}
    assert run.last.suppressed == []
    assert not run.entry(B)["suppressed"]


def test_reuse_still_needs_the_hold_down():
    run = Run(config(hold_down=30, half_life=10, max_suppress=40))
    run({A: True, B: True})
    flap(run, 2)
    run({A: True, B: False}, after=1)
    assert run.entry(B)["suppressed"]
    figure = run.last.suppressed[0]["penalty"]
    reuse_in = 10 * math.log2(figure / 750)
    assert reuse_in < 30
    run({A: True, B: True}, after=reuse_in - 1)  # recovers now: hold-down 30 s from here
    assert run.entry(B)["suppressed"]
    assert run({A: True, B: True}, after=1.1) == {"crowd": ["1.1.1.10"]}
    assert not run.entry(B)["suppressed"]
    assert run.last.pending[0]["address"] == "1.1.1.11"
    assert run({A: True, B: True}, after=28.9) == {"crowd": ["1.1.1.10", "1.1.1.11"]}


def test_maximum_suppression_caps_the_penalty():
    cfg = config(half_life=10, max_suppress=40)  # ceiling 750 * 2^4 = 12000
    assert cfg.ceiling == pytest.approx(12000)
    run = Run(cfg)
    run({A: True, B: True})
    for _step in range(120):  # an outage every half second for a minute
        flap(run, 1, every=0.25)
        assert run.entry(B)["penalty"] <= 12000
    assert run.entry(B)["suppressed"]  # still flapping: still suppressed
    assert run.entry(B)["penalty"] == pytest.approx(12000, rel=0.05)
    last_flap = run.entry(B)["penalty_at"]
    # Suppressed no longer than max_suppress after the last flap.
    assert run({A: True, B: True}, after=last_flap + 39.9 - run.clock.now) == {"crowd": ["1.1.1.10"]}
    assert run({A: True, B: True}, after=0.2) == {"crowd": ["1.1.1.10", "1.1.1.11"]}
    assert run.clock.now - last_flap == pytest.approx(40.1)


def test_config_refuses_ceiling_below_suppress_limit():
    with pytest.raises(ValueError, match="too short"):
        DampingConfig(half_life=900, max_suppress=900)  # 750 * 2 = 1500 < 2000
    with pytest.raises(ValueError, match="reuse_limit"):
        DampingConfig(reuse_limit=3000)
    with pytest.raises(ValueError, match="all_failing"):
        DampingConfig(all_failing="maybe")


def test_all_failing_withdraw_is_the_default():
    run = Run(config())
    run({A: True, B: True, ("web", "1.1.1.20"): True})
    assert run({A: False, B: False, ("web", "1.1.1.20"): True}, after=1) == {"web": ["1.1.1.20"]}
    assert sorted(w["address"] for w in run.last.withdrawn) == ["1.1.1.10", "1.1.1.11"]
    assert run.last.kept == []


def test_all_failing_keep_keeps_the_last_published_set():
    run = Run(config(), name_policies={"crowd": "keep"})
    run({A: True, B: True})
    run({A: True, B: False}, after=1)
    assert run.last.published == {"crowd": ["1.1.1.10"]}  # one left: normal withdrawal
    assert run({A: False, B: False}, after=1) == {"crowd": ["1.1.1.10"]}
    assert run.last.kept == [{"name": "crowd", "address": "1.1.1.10"}]
    assert run.last.withdrawn == []
    assert run({A: False, B: False}, after=100) == {"crowd": ["1.1.1.10"]}  # for as long as it lasts
    # B recovers: pending for the hold-down, A still kept meanwhile, then B replaces it.
    assert run({A: False, B: True}, after=1) == {"crowd": ["1.1.1.10"]}
    assert run({A: False, B: True}, after=2) == {"crowd": ["1.1.1.11"]}
    assert run.last.withdrawn == [{"name": "crowd", "address": "1.1.1.10", "reason": "failing"}]


def test_keep_as_global_default_and_withdraw_override():
    run = Run(config(all_failing="keep"), name_policies={"web": "withdraw"})
    run({A: True, ("web", "1.1.1.20"): True})
    assert run({A: False, ("web", "1.1.1.20"): False}, after=1) == {"crowd": ["1.1.1.10"]}


def test_keep_does_not_hold_a_name_removed_from_consul():
    run = Run(config(all_failing="keep"))
    run({A: True, ("web", "1.1.1.20"): True})
    assert run({("web", "1.1.1.20"): True}, after=1) == {"web": ["1.1.1.20"]}
    assert run.last.withdrawn == [{"name": "crowd", "address": "1.1.1.10", "reason": "gone from Consul"}]


def test_gone_addresses_are_forgotten_once_their_penalty_decayed():
    run = Run(config(half_life=10))
    run({A: True, B: True})
    run({A: True}, after=1)  # B deregistered: a flap, withdrawn
    assert "crowd/1.1.1.11" in run.state["addresses"]
    run({A: True}, after=10 * math.log2(1000) + 1)
    assert "crowd/1.1.1.11" not in run.state["addresses"]


def test_unchanged_observations_leave_the_state_unchanged():
    run = Run(config())
    run({A: True, B: True})
    before = json.dumps(run.state, sort_keys=True)
    run({A: True, B: True}, after=30)
    assert json.dumps(run.state, sort_keys=True) == before


def test_state_validation_and_published_view():
    run = Run(config())
    run({A: True, B: False})
    assert valid_state(run.state) is run.state
    assert published_from_state(run.state) == {"crowd": ["1.1.1.10"]}
    for bad in ({}, {"version": 1}, {"version": 1, "addresses": {"x": {}}}, [1, 2]):
        with pytest.raises(ValueError):
            valid_state(bad)
