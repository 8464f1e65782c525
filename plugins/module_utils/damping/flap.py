# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flap damping of published addresses (pure functions, no I/O, the clock is an argument).

Each run of the zone sync observes, for every address of every DNS name of a zone, whether it is
healthy now (``True``), failing (``False``) or gone from Consul (not in the observations). This
module turns a series of such observations into the set of addresses to publish, keeping per
address (key ``name/address``) a small state that is stored between runs (see consul_state.py):

- **hold-down** - a new or recovered address is published only once it has been observed healthy
  for ``hold_down`` seconds without a change (0 = at once). Until then it is *pending*.
- **grace** - a published address that fails is withdrawn once it has been failing for ``grace``
  seconds (0 = at the first failing observation). During the grace time it stays published.
- **suppression** (RFC 2439 route flap damping) - every observed fall of an address from healthy
  to failing (a deregistration counts as failing) is a *flap*, like a route withdrawal in RFC 2439,
  and adds ``penalty`` to the address's figure of merit (a recovery adds nothing; one outage is one
  flap). The figure decays exponentially with
  ``half_life``. Above ``suppress_limit`` the address is *suppressed*: never published, whatever
  its health. It is reused once the figure has decayed below ``reuse_limit``; after that the
  hold-down still applies from its last change. The figure is capped at
  ``reuse_limit * 2 ** (max_suppress / half_life)`` (RFC 2439 section 4.8.5), so an address that
  stops flapping is suppressed for at most ``max_suppress`` seconds after its last flap, while an
  address that keeps flapping stays suppressed.
- **all failing** - when a name that is still in Consul would be left with no address (every
  instance failing, suppressed or still pending), its policy decides: ``withdraw`` (the default,
  the design's behaviour: the name disappears) or ``keep`` (fail open: the addresses published
  last stay published, reported as *kept*).
- **bootstrap** - with no stored state (first run, or a state that was lost or unreadable) the
  healthy addresses are published at once: holding everything down would empty the zone.

Observations happen only when the sync runs: flips between two runs are not seen. The state
only changes on a change (a transition, a publish decision, suppression or reuse), so a run that
sees nothing new leaves it byte for byte the same and the caller can skip the write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

ALL_FAILING_POLICIES = ("withdraw", "keep")
STATE_VERSION = 1
# An entry for an address that is gone from Consul and unpublished is forgotten once its decayed
# penalty is below this (about 10 half-lives after its last flap).
FORGET_BELOW = 1.0


class DampingConfig(object):
    """Times in seconds; penalties and limits are RFC 2439 figures of merit."""

    def __init__(self, hold_down=60, grace=0, penalty=1000, half_life=900, suppress_limit=2000,
                 reuse_limit=750, max_suppress=3600, all_failing="withdraw"):
        self.hold_down = float(hold_down)
        self.grace = float(grace)
        self.penalty = float(penalty)
        self.half_life = float(half_life)
        self.suppress_limit = float(suppress_limit)
        self.reuse_limit = float(reuse_limit)
        self.max_suppress = float(max_suppress)
        self.all_failing = all_failing
        self.validate()

    def validate(self):
        if self.hold_down < 0 or self.grace < 0:
            raise ValueError("hold_down and grace must be 0 or more seconds")
        if self.half_life <= 0:
            raise ValueError("half_life must be more than 0 seconds")
        if self.penalty < 0:
            raise ValueError("penalty must be 0 or more")
        if not 0 < self.reuse_limit < self.suppress_limit:
            raise ValueError("reuse_limit (%g) must be more than 0 and less than suppress_limit (%g)"
                             % (self.reuse_limit, self.suppress_limit))
        if self.ceiling <= self.suppress_limit:
            raise ValueError(
                "max_suppress %gs is too short for half_life %gs: the penalty ceiling "
                "reuse_limit * 2^(max_suppress/half_life) = %g must exceed suppress_limit %g, "
                "or nothing could ever be suppressed"
                % (self.max_suppress, self.half_life, self.ceiling, self.suppress_limit))
        if self.all_failing not in ALL_FAILING_POLICIES:
            raise ValueError("all_failing must be one of %s, got %r"
                             % (", ".join(ALL_FAILING_POLICIES), self.all_failing))

    @property
    def ceiling(self):
        """Largest figure of merit (RFC 2439 4.8.5): decays to reuse_limit in max_suppress seconds."""
        return self.reuse_limit * math.pow(2.0, self.max_suppress / self.half_life)

    def decayed(self, penalty, since, now):
        """``penalty`` recorded at ``since``, decayed to ``now``."""
        if penalty <= 0:
            return 0.0
        return penalty * math.pow(2.0, -max(0.0, now - since) / self.half_life)

    def seconds_until(self, penalty, target):
        """Seconds for ``penalty`` to decay to ``target`` (0 when it is already there)."""
        if penalty <= target:
            return 0.0
        return self.half_life * math.log(penalty / target, 2)


def address_key(name, address):
    return "%s/%s" % (name, address)


def split_key(key):
    name, _sep, address = key.rpartition("/")
    return name, address


def empty_state():
    return {"version": STATE_VERSION, "addresses": {}}


def valid_state(state):
    """Raise ValueError unless ``state`` has the shape this module writes."""
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise ValueError("not a version %d damping state" % STATE_VERSION)
    addresses = state.get("addresses")
    if not isinstance(addresses, dict):
        raise ValueError("'addresses' is not a mapping")
    for key, entry in addresses.items():
        name, address = split_key(key)
        if not name or not address or not isinstance(entry, dict):
            raise ValueError("bad entry %r" % key)
        for field, kinds in (("healthy", (bool,)), ("since", (int, float)), ("published", (bool,)),
                             ("penalty", (int, float)), ("penalty_at", (int, float)), ("suppressed", (bool,))):
            if not isinstance(entry.get(field), kinds):
                raise ValueError("entry %r: field %r is missing or of the wrong type" % (key, field))
    return state


def published_from_state(state):
    """``{name: sorted addresses}`` published according to ``state``."""
    published = {}
    for key, entry in (state or {}).get("addresses", {}).items():
        if entry.get("published"):
            name, address = split_key(key)
            published.setdefault(name, []).append(address)
    return {name: sorted(addresses) for name, addresses in published.items()}


class DampingResult(object):
    def __init__(self):
        self.state = empty_state()
        self.published = {}   # {name: sorted addresses}
        self.added = []       # newly published: {name, address}
        self.withdrawn = []   # published before, not now: {name, address, reason}
        self.pending = []     # healthy, waiting for the hold-down: {name, address, healthy_for, publish_in}
        self.in_grace = []    # failing but still published: {name, address, failing_for, withdraw_in}
        self.suppressed = []  # {name, address, penalty, healthy, reuse_in, flaps}
        self.kept = []        # kept by policy keep while the name has no other address: {name, address}
        self.newly_suppressed = []


def _round(value):
    return round(value, 3)


def evaluate(previous, observations, now, config, names_present=None, name_policies=None):
    """Decide what to publish at ``now``.

    previous: the state of the last run (``None`` = none: bootstrap). observations:
    ``{(name, address): healthy}`` for every address currently selected in Consul.
    names_present: names still in Consul (default: the names of ``observations``).
    name_policies: ``{name: 'keep' | 'withdraw'}`` overriding ``config.all_failing``.
    Returns a :class:`DampingResult` whose ``state`` is the state to store.
    """
    bootstrap = previous is None
    old = dict((previous or empty_state())["addresses"])
    names_present = set(names_present if names_present is not None else (n for n, _a in observations))
    name_policies = name_policies or {}
    result = DampingResult()
    entries = {}
    keys = set(old) | set(address_key(n, a) for n, a in observations)

    for key in sorted(keys):
        name, address = split_key(key)
        healthy = bool(observations.get((name, address), False))
        present = (name, address) in observations
        prev = old.get(key)
        if prev is None:
            entry = {"healthy": healthy, "since": now, "published": False, "penalty": 0.0,
                     "penalty_at": now, "suppressed": False, "flaps": 0}
        else:
            entry = dict(prev)
            if entry["healthy"] and not healthy:  # a flap: healthy -> failing (or gone)
                figure = config.decayed(entry["penalty"], entry["penalty_at"], now) + config.penalty
                entry.update(healthy=False, since=now, penalty=_round(min(figure, config.ceiling)),
                             penalty_at=now, flaps=int(entry.get("flaps", 0)) + 1)
            elif healthy and not entry["healthy"]:  # recovery: starts the hold-down, no penalty
                entry.update(healthy=True, since=now)
        figure = config.decayed(entry["penalty"], entry["penalty_at"], now)
        if not entry["suppressed"] and figure > config.suppress_limit:
            entry["suppressed"] = True
            result.newly_suppressed.append({"name": name, "address": address})
        elif entry["suppressed"] and figure < config.reuse_limit:
            entry["suppressed"] = False

        was_published = bool(prev and prev["published"])
        age = now - entry["since"]
        if entry["suppressed"]:
            publish = False
            result.suppressed.append({
                "name": name, "address": address, "healthy": healthy, "penalty": _round(figure),
                "reuse_in": _round(config.seconds_until(figure, config.reuse_limit)),
                "flaps": entry.get("flaps", 0),
            })
        elif healthy:
            publish = was_published or bootstrap or age >= config.hold_down
            if not publish:
                result.pending.append({"name": name, "address": address, "healthy_for": _round(age),
                                       "publish_in": _round(config.hold_down - age)})
        else:
            publish = was_published and age < config.grace
            if publish:
                result.in_grace.append({"name": name, "address": address, "failing_for": _round(age),
                                        "withdraw_in": _round(config.grace - age)})
        entry["published"] = publish
        if not present and not publish and figure < FORGET_BELOW:
            continue  # gone from Consul long enough: forget it
        entries[key] = entry

    # A name still in Consul that would be left with no address: its policy decides.
    published = {}
    for key, entry in entries.items():
        if entry["published"]:
            name, address = split_key(key)
            published.setdefault(name, set()).add(address)
    last_published = published_from_state(previous)
    for name in sorted(names_present):
        if published.get(name) or not last_published.get(name):
            continue
        if name_policies.get(name, config.all_failing) != "keep":
            continue
        for address in last_published[name]:
            key = address_key(name, address)
            entry = entries.get(key) or dict(old[key])
            entry["published"] = True
            entries[key] = entry
            published.setdefault(name, set()).add(address)
            result.kept.append({"name": name, "address": address})

    for name, addresses in sorted(last_published.items()):
        for address in addresses:
            if address not in published.get(name, ()):
                entry = entries.get(address_key(name, address))
                if entry is None or (name, address) not in observations:
                    reason = "gone from Consul"
                elif entry["suppressed"]:
                    reason = "suppressed (flapping)"
                else:
                    reason = "failing"
                result.withdrawn.append({"name": name, "address": address, "reason": reason})
    for name, addresses in sorted(published.items()):
        for address in sorted(addresses):
            if address not in last_published.get(name, ()):
                result.added.append({"name": name, "address": address})

    result.state = {"version": STATE_VERSION, "addresses": dict(sorted(entries.items()))}
    result.published = {name: sorted(addresses) for name, addresses in sorted(published.items())}
    return result
