"""The soak's product settings, its two profiles, and the bounds derived from the settings.

Every writer (two watch services, the timer's playbook) runs with the same ``consul_dns_*`` settings
(:func:`product_settings`); only the Consul agent, the WAPI address (its tap), the lock holder's name and
the report file differ. Damping and lock times are shortened so that faults resolve within minutes;
everything else (shrink guard 50 % / 4 records, Infoblox change ratio 30 % / 10 records, settle,
min_interval, all-failing withdraw) is the schema's default.

The withdrawal bound (docs: bench/README.md, "Chaos soak") is derived here, from those settings:

    B = grace + watch_settle + watch_min_interval + SYNC_BUDGET

from the moment an address's instance is critical in Consul's health API, or - when a fault kept the
sync from running - from the moment that fault ended plus the fault's own allowance (:meth:`Bounds.allowance`):

- Consul server faults (leader killed, quorum lost): ELECTION_BUDGET + 2 x watch_lock_ttl + lock_delay +
  watch_retry_max (a new leader, the holder's session ended by Consul and the key's lock-delay, the
  watch's back-off after failed blocking queries);
- the lock holder killed: 2 x watch_lock_ttl (Consul ends a session up to twice its TTL after the last
  renewal) + lock_delay + TIMER_HOLD_BUDGET (a timer run may take the free lock first);
- WAPI faults: the fault's latency (a call already waiting) + READ_RETRIES (the client's read retries:
  0.5 + 1 + 2 s) + watch_retry_max (the back-off of a failed sync);
- the zone file's directory read-only: watch_retry_max + READ_RETRIES;
- both watch services stopped (only the timer syncs then): 1.25 x the timer's period (its ticks come
  up to a quarter period late) + TIMER_HOLD_BUDGET;
- check flaps, failed instances, client agents killed or restarted, a corrupt damping state: 0 (they
  are the changes themselves, or - corrupt state - the next run rebuilds it without waiting).

While a documented policy holds an address, no bound runs: the shrink guard (the zone would lose more
than max_shrink_ratio of its published records) or Infoblox's change ratio (more than
infoblox_max_change_ratio of the owned records deleted at once), or all-failing ``keep`` (every instance
of a ``keep`` service failing, until one is healthy for hold_down).
"""

ZONE = "geant.services"
OWNER = "geant.consul_dns"
SYNC_BUDGET = 10.0  # one sync and its observation on a loaded 2-core machine (measured 0.3-2 s)
ELECTION_BUDGET = 10.0  # a Consul leader elected after a server returns (raft_multiplier 1)
TIMER_HOLD_BUDGET = 15.0  # a timer run that took the lock holds it for its sync
READ_RETRIES = 3.5  # WapiClient: 3 read retries, 0.5, 1 and 2 s apart
RELOAD_BUDGET = 1.0  # the zone file seen changed (0.1 s poll) and BIND reloaded

PROFILES = {
    # ~3 minutes in all: two chaos phases with every kind of fault, each followed by a quiet period and
    # ``probes`` single failures and recoveries in calm conditions (the clean convergence figures).
    "short": {"phases": 2, "phase_seconds": 36, "timer_period": 20, "mass_failures": 1, "extra_faults": 0,
              "probes": 2, "durations": "short"},
    # 15-30 minutes: more phases, more faults per phase, every kind at least once.
    "long": {"phases": 10, "phase_seconds": 75, "timer_period": 60, "mass_failures": 2, "extra_faults": 7,
             "probes": 3, "durations": "long"},
}


def product_settings(zone_dir):
    """The consul_dns_* settings every writer shares (plus its own address, holder, report)."""
    return {
        "consul_dns_zones": [{"name": ZONE, "nameservers": ["ns1.geant.net."]}],
        "consul_dns_zone_dir": str(zone_dir),
        "consul_dns_hold_down": 3,
        "consul_dns_grace": 2,
        "consul_dns_flap_half_life": 60,
        "consul_dns_flap_max_suppress": 120,
        "consul_dns_lock_delay": 5,
        "consul_dns_lock_ttl": 30,
        "consul_dns_watch_lock_ttl": 10,
        "consul_dns_watch_retry_max": 10,
        "consul_dns_watch_resync": 60,
        "consul_dns_consul_timeout": 5,
        "consul_dns_infoblox_timeout": 5,
        "consul_dns_infoblox_write_timeout": 10,
    }


DEFAULTS = {  # the schema's defaults the soak relies on (plugins/module_utils/sync/settings.py)
    "consul_dns_watch_settle": 0.1,
    "consul_dns_watch_min_interval": 1,
    "consul_dns_max_shrink_ratio": 0.5,
    "consul_dns_min_records_for_shrink": 4,
    "consul_dns_infoblox_max_change_ratio": 0.3,
    "consul_dns_infoblox_min_records_for_ratio": 10,
    "consul_dns_flap_penalty": 1000,
    "consul_dns_flap_suppress_limit": 2000,
    "consul_dns_flap_reuse_limit": 750,
}


class Bounds(object):
    """The figures of the settings the invariants use, and the bound derived from them."""

    def __init__(self, settings, timer_period=60.0):
        s = dict(DEFAULTS, **settings)
        self.s = s
        self.hold_down = float(s["consul_dns_hold_down"])
        self.grace = float(s["consul_dns_grace"])
        self.shrink_ratio = float(s["consul_dns_max_shrink_ratio"])
        self.shrink_min = int(s["consul_dns_min_records_for_shrink"])
        self.change_ratio = float(s["consul_dns_infoblox_max_change_ratio"])
        self.change_min = int(s["consul_dns_infoblox_min_records_for_ratio"])
        self.penalty = float(s["consul_dns_flap_penalty"])
        self.half_life = float(s["consul_dns_flap_half_life"])
        self.suppress_limit = float(s["consul_dns_flap_suppress_limit"])
        self.reuse_limit = float(s["consul_dns_flap_reuse_limit"])
        self.max_suppress = float(s["consul_dns_flap_max_suppress"])
        self.resync = float(s["consul_dns_watch_resync"])
        self.retry_max = float(s["consul_dns_watch_retry_max"])
        ttl, delay = float(s["consul_dns_watch_lock_ttl"]), float(s["consul_dns_lock_delay"])
        self.withdraw = self.grace + float(s["consul_dns_watch_settle"]) + float(
            s["consul_dns_watch_min_interval"]) + SYNC_BUDGET
        self.allowances = {
            "consul": ELECTION_BUDGET + 2 * ttl + delay + self.retry_max,
            "holder_killed": 2 * ttl + delay + TIMER_HOLD_BUDGET,
            "wapi": READ_RETRIES + self.retry_max,
            "zone_dir": READ_RETRIES + self.retry_max,
            "timer_only": 1.25 * timer_period + TIMER_HOLD_BUDGET,
            "none": 0.0,
        }

    def allowance(self, family, latency=0.0):
        return self.allowances[family] + latency

    def describe(self):
        return {"withdraw_seconds": self.withdraw, "allowances_seconds": dict(self.allowances),
                "sync_budget_seconds": SYNC_BUDGET, "hold_down": self.hold_down, "grace": self.grace,
                "reload_budget_seconds": RELOAD_BUDGET,
                "formula": "grace + watch_settle + watch_min_interval + sync budget, from max(critical, "
                           "fault end + allowance)"}
