"""The seeded fault schedule: the same seed and profile give the same faults, targets, offsets and
durations (what the system does in between is not replayed, only the schedule).

A run is a sequence of **phases**; each starts with an exclusive slot for a mass failure (when the
phase has one: nothing else runs then, so the shrink guard is what stands between the failure and
DNS), then faults start at random offsets and overlap. After a phase the runner waits for every fault
to end and for a quiet period (see ``run.py``).
"""
import random

from bench.chaos.bed import FAULTABLE, instances

STATE_KINDS = ("flap", "instance_fail")
MASS = "mass_failure"
SERVER_KINDS = ("leader_kill", "quorum_loss")
AGENT_KINDS = ("agent_kill", "agent_restart")
WAPI_KINDS = ("wapi_5xx", "wapi_timeout", "wapi_drop", "wapi_slow", "wapi_request_item", "wapi_401")
OTHER_KINDS = ("watch_kill", "watches_stopped", "zone_dir_ro", "corrupt_state")
KINDS = STATE_KINDS + (MASS,) + SERVER_KINDS + AGENT_KINDS + WAPI_KINDS + OTHER_KINDS
ONE_PER_PHASE = SERVER_KINDS + ("watch_kill", "watches_stopped", "zone_dir_ro")

# seconds (min, max) per kind and profile; instantaneous kinds have none. watches_stopped lasts at least
# 1.25 timer periods + 5 s, so that a timer run syncs while it lasts.
DURATIONS = {
    "short": {"flap": (8, 18), "instance_fail": (8, 20), MASS: (10, 14), "agent_kill": (5, 12),
              "leader_kill": (5, 10), "quorum_loss": (20, 25), "watch_kill": (2, 6), "wapi_5xx": (4, 10),
              "wapi_timeout": (6, 12), "wapi_drop": (3, 8), "wapi_slow": (6, 14), "wapi_request_item": (10, 15),
              "wapi_401": (4, 10), "zone_dir_ro": (5, 10), "watches_stopped": (30, 34)},
    "long": {"flap": (15, 60), "instance_fail": (15, 90), MASS: (15, 30), "agent_kill": (5, 40),
             "leader_kill": (5, 30), "quorum_loss": (20, 45), "watch_kill": (2, 20), "wapi_5xx": (5, 30),
             "wapi_timeout": (8, 30), "wapi_drop": (3, 20), "wapi_slow": (10, 40), "wapi_request_item": (10, 30),
             "wapi_401": (5, 30), "zone_dir_ro": (5, 30), "watches_stopped": (80, 100)},
}
CORRUPT_VALUES = ['{"version": 1, "addresses": ', "not json at all", '{"version": 99, "addresses": {}}', "[]",
                  '{"encoding": "zlib+base64", "data": "!!!"}']
WAPI_KINDS_SET = frozenset(WAPI_KINDS)


class FaultSpec(object):
    def __init__(self, kind, phase, at, duration, **params):
        self.kind, self.phase, self.at, self.duration, self.params = kind, phase, at, duration, params

    def describe(self):
        out = {"kind": self.kind, "phase": self.phase, "at": round(self.at, 2), "duration": round(self.duration, 2)}
        out.update(self.params)
        return out


def faultable_instances():
    return [i for i in instances() if not i.steady]


def _after_server_faults(specs, kind):
    """Move ``kind`` after the phase's Consul server fault when they would overlap (only the timer syncs
    while the watch services are stopped: it needs a leader to)."""
    servers = [s for s in specs if s.kind in SERVER_KINDS]
    for spec in specs:
        if spec.kind != kind:
            continue
        for server in servers:
            if spec.at < server.at + server.duration and server.at < spec.at + spec.duration:
                spec.at = server.at + server.duration + 1.0


def make_schedule(seed, profile_name, profile):
    """``(phases, timer_ticks, probe_order)``: a list of phases (each a list of FaultSpec, by start offset),
    the timer's tick offsets and the order in which instances are tried for the calm probes, from the
    seed alone."""
    rng = random.Random(seed)
    durations = DURATIONS[profile["durations"]]
    n, length = profile["phases"], profile["phase_seconds"]
    kinds_by_phase = [[] for _phase in range(n)]
    # Every kind once, spread over the phases; the two server faults never in the same phase.
    singles = [k for k in KINDS if k != MASS]
    rng.shuffle(singles)
    for number, kind in enumerate(singles if n else []):
        kinds_by_phase[number % n].append(kind)
    if n >= 2:
        server_phases = [p for p in range(n) if any(k in SERVER_KINDS for k in kinds_by_phase[p])]
        if len(set(server_phases)) < 2:  # both in one phase: move one to another phase
            phase = server_phases[0]
            moved = next(k for k in kinds_by_phase[phase] if k == "quorum_loss")
            kinds_by_phase[phase].remove(moved)
            kinds_by_phase[(phase + 1) % n].append(moved)
    extra_pool = STATE_KINDS * 3 + WAPI_KINDS + AGENT_KINDS + OTHER_KINDS + SERVER_KINDS
    for phase in range(n):
        for _extra in range(profile["extra_faults"]):
            kind = rng.choice(extra_pool)
            if kind in ONE_PER_PHASE and kind in kinds_by_phase[phase]:
                kind = rng.choice(STATE_KINDS)
            if kind in SERVER_KINDS and any(k in SERVER_KINDS for k in kinds_by_phase[phase]):
                kind = rng.choice(STATE_KINDS)
            kinds_by_phase[phase].append(kind)
    mass_phases = set(rng.sample(range(n), min(n, profile["mass_failures"])))
    for_good_left = 2 if profile_name == "long" else 0
    for_good_services = set()
    targets = faultable_instances()
    phases = []
    for phase in range(n):
        specs = []
        start = 0.0
        if phase in mass_phases:
            duration = rng.uniform(*durations[MASS])
            specs.append(FaultSpec(MASS, phase, 0.0, duration))
            start = duration + 3.0
        agents = list(FAULTABLE)
        rng.shuffle(agents)
        for kind in kinds_by_phase[phase]:
            low, high = durations.get(kind, (0.0, 0.0))
            duration = rng.uniform(low, high) if high else 0.0
            latest = max(start, length - duration)
            at = rng.uniform(start, latest)
            params = {}
            if kind in ("flap", "instance_fail"):
                inst = rng.choice(targets)
                params["instance"] = inst.id
                if kind == "flap":
                    params["period"] = round(rng.choice([0.6, 1.2, 2.5, 4.0, 6.0]) * rng.uniform(0.8, 1.2), 2)
                elif for_good_left and inst.service not in for_good_services and rng.random() < 0.25:
                    params["for_good"] = True
                    for_good_left -= 1
                    for_good_services.add(inst.service)
            elif kind in AGENT_KINDS:
                params["agent"] = agents.pop() if agents else rng.choice(FAULTABLE)
            elif kind == "quorum_loss":
                params["servers"] = sorted(rng.sample(range(3), 2))
            elif kind == "watch_kill":
                params["when"] = rng.choice(["before", "after"])
                params["instance"] = rng.choice(targets).id
            elif kind == "wapi_5xx":
                params["status"] = rng.choice([500, 502, 503])
            elif kind == "wapi_timeout":
                params["delay"] = rng.choice([7.0, 12.0, 16.0])  # > read timeout 5 s; 12 and 16 s > write timeout 10 s
                params["target"] = rng.choice(["all", "writes"])  # writes: multi-object requests only
            elif kind == "wapi_slow":
                params["delay"] = round(rng.uniform(0.5, 2.5), 2)
            elif kind == "wapi_request_item":
                params["index"] = rng.choice([0, 1])
                params["count"] = rng.choice([1, 2])
                params["rollback"] = rng.choice([True, False])
            elif kind == "corrupt_state":
                params["value"] = rng.choice(CORRUPT_VALUES)
            specs.append(FaultSpec(kind, phase, at, duration, **params))
        _after_server_faults(specs, "watches_stopped")
        specs.sort(key=lambda s: s.at)
        phases.append(specs)
    ticks = [k * profile["timer_period"] + rng.uniform(0, profile["timer_period"] / 4.0) for k in range(1, 200)]
    probe_order = [i.id for i in targets]
    rng.shuffle(probe_order)
    return phases, ticks, probe_order
