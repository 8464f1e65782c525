"""The invariants, checked at every observation tick (and on every Consul or lock change), from outside
the product. Each violation is kept with its time and the faults active (or still within their
allowance) at that time. bench/README.md ("Chaos soak") describes each:

``empty``, ``shrink`` (the shrink guard, Infoblox's change ratio), ``unowned``, ``steady`` (healthy the
whole time, never withdrawn), ``withdraw_bound`` (config.Bounds), ``agreement`` (after a quiet period),
``one_writer`` (taps + the lock key), ``state_silent`` (a corrupt damping state reported and rebuilt),
``zone_file`` (it parses).
"""
import base64
import json
import math
import threading

import requests

from bench.chaos.config import RELOAD_BUDGET, ZONE

DELTA = 0.5  # seconds: how far the lock key's observed changes may lag the writes they allow
WRITE_LAG = 3.0  # writes are judged once the lock changes around them have been seen
STATE_KEY = "consul-dns/state/%s" % ZONE
SOURCES = ("wapi", "zone", "dns")
MAX_VIOLATIONS_KEPT = 500


class Obligation(object):
    def __init__(self, t, unrest):
        self.t = t  # the instance critical (or gone) in Consul since
        self.hold_until = 0.0
        self.impaired = unrest is not None
        self.why = unrest
        self.flagged = False
        self.was_published = None
        self.gone = {}  # source -> time first seen absent


class Recovery(object):
    def __init__(self, t, impaired):
        self.t, self.impaired = t, impaired
        self.back = {}


def quantiles(values):
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    ordered = sorted(values)

    def pick(q):
        return ordered[min(len(ordered) - 1, int(math.ceil(q * len(ordered))) - 1)]
    return {"n": len(ordered), "p50": round(pick(0.5), 3), "p99": round(pick(0.99), 3), "max": round(ordered[-1], 3)}


class Checker(object):
    def __init__(self, bed, bounds, log):
        self.bed, self.b, self.log = bed, bounds, log
        self.injector = None
        self.t0 = None
        self.instances = bed.services.instances
        self.key = dict((i.id, i.key) for i in self.instances)
        self.inst = dict((i.id, i) for i in self.instances)
        self.all_keys = set(self.key.values())
        self.lock_ = threading.RLock()
        self.health = {}  # iid -> True / False / None
        self.since = {}  # iid -> time of the last change
        self.was_healthy = set()
        self.penalty = {}  # iid -> (figure, at)
        self.falling = {}  # iid -> time it fell (a flap not yet added)
        self.maybe_suppressed = set()
        self.steady = set(i.id for i in self.instances if i.steady)
        self.transitions = []  # (t, iid, healthy)
        self.leader = True
        self.no_leader_until = 0.0
        self.no_leader_periods = []
        self.lock_timeline = []  # (t, holder, session)
        self.prev = {}
        self.published = dict((s, False) for s in SOURCES)
        self.steady_missing = set()
        self.unowned_a = None
        self.unowned_other = None
        self.obligations = {}
        self.recoveries = {}
        self.samples = {"withdraw_wapi": [], "withdraw_dns": [], "recover_wapi": [], "recover_dns": [],
                        "withdraw_impaired": 0, "recover_impaired": 0}
        self.sample_list = []  # every convergence sample, for the JSON
        self.violations = []
        self.violation_counts = {}
        self.writes_seen = dict((name, 0) for name in bed.taps)
        self.writes_checked = 0
        self.corruptions = []
        self.quiet = None
        self.quiet_results = []
        self.armed = False  # convergence figures only once the first publication is through
        self.closed = False
        self.last = None
        self._kv_at = 0.0
        self.session = requests.Session()

    # ------------------------------------------------------------------ reporting
    def rel(self, t):
        return round(t - self.t0, 2) if self.t0 else round(t, 2)

    def violate(self, t, invariant, detail):
        self.violation_counts[invariant] = self.violation_counts.get(invariant, 0) + 1
        active, recovering = self.injector.active(t) if self.injector else ([], [])
        entry = {"t": self.rel(t), "invariant": invariant, "detail": detail, "active": sorted(set(active)),
                 "recovering": sorted(set(recovering))}
        if len(self.violations) < MAX_VIOLATIONS_KEPT:
            self.violations.append(entry)
        self.log("VIOLATION t=%.1fs %s: %s (active: %s; recovering: %s)" % (
            entry["t"], invariant, detail, ", ".join(entry["active"]) or "-", ", ".join(entry["recovering"]) or "-"))

    # ------------------------------------------------------------------ Consul and lock (follower threads)
    def leader_seen(self, t, known_leader):
        with self.lock_:
            if self.closed:
                return
            if not known_leader:
                if self.leader:
                    self.no_leader_periods.append([t, None])
                self.no_leader_until = t
            elif not self.leader and self.no_leader_periods:
                self.no_leader_periods[-1][1] = t
            self.leader = known_leader

    def consul(self, t, health):
        with self.lock_:
            if self.closed:
                return
            for iid, healthy in health.items():
                before = self.health.get(iid, "unseen")
                if before == healthy:
                    continue
                self.health[iid] = healthy
                self.since[iid] = t
                if before == "unseen":
                    if healthy:
                        self.was_healthy.add(iid)
                    continue
                self.transitions.append((t, iid, bool(healthy)))
                if healthy:
                    self._flap_ends(iid, t)
                    self.was_healthy.add(iid)
                elif before is True:
                    self.falling[iid] = t
                if iid in self.steady and healthy is not True:
                    self.steady.discard(iid)
                    self.log("note: steady instance %s seen %s in Consul; no longer counted as steady"
                             % (iid, "critical" if healthy is False else "gone"))

    def lock(self, t, holder, session):
        with self.lock_:
            if self.closed:
                return
            if not self.lock_timeline or self.lock_timeline[-1][1:] != (holder, session):
                self.lock_timeline.append((t, holder, session))

    def lock_holder(self):
        with self.lock_:
            return self.lock_timeline[-1][1] if self.lock_timeline else None

    # ------------------------------------------------------------------ flap damping, from the outside
    def _decayed(self, iid, t):
        figure, at = self.penalty.get(iid, (0.0, t))
        return figure * 2 ** (-(t - at) / self.b.half_life)

    def _flap_ends(self, iid, t):
        """A fall is counted when the address is healthy again (the latest the product may count it): an
        upper bound of the product's own figure of merit."""
        if self.falling.pop(iid, None) is None:
            return
        cap = self.b.reuse_limit * 2 ** (self.b.max_suppress / self.b.half_life)
        self.penalty[iid] = (min(cap, self._decayed(iid, t) + self.b.penalty), t)

    def _suppression(self, t):
        for iid in self.key:
            figure = self._decayed(iid, t) + (self.b.penalty if iid in self.falling else 0.0)
            if figure >= self.b.suppress_limit / 1.1:
                self.maybe_suppressed.add(iid)
            elif iid in self.maybe_suppressed and figure < self.b.reuse_limit / 1.1:
                self.maybe_suppressed.discard(iid)

    # ------------------------------------------------------------------ policies
    def _kept(self, t):
        """Instances whose addresses all-failing ``keep`` holds: every instance of a keep service failing,
        until one is publishable again (healthy for hold_down, not suppressed)."""
        kept = set()
        by_service = {}
        for inst in self.instances:
            if inst.policy == "keep":
                by_service.setdefault(inst.service, []).append(inst.id)
        for iids in by_service.values():
            publishable = [i for i in iids if self.health.get(i) is True and i not in self.maybe_suppressed
                           and t - self.since.get(i, t) >= self.b.hold_down]
            if not publishable:
                kept.update(iids)
        return kept

    def _guard_holds(self, published, kept):
        """Whether the shrink guard or Infoblox's change ratio may be refusing the zone now: the published
        addresses whose instance is failing or gone, less what keep holds, as a share of those published (an
        upper bound: some may still be in grace). A healthy published address is never lost to suppression
        alone: its figure of merit only grows when it falls."""
        if not published:
            return False
        by_key = dict((self.key[i], i) for i in self.key)
        lost = sum(1 for key in published if by_key.get(key) is not None and by_key[key] not in kept
                   and self.health.get(by_key[key]) is not True)
        ratio = lost / float(len(published))
        return ((len(published) >= self.b.shrink_min and ratio > self.b.shrink_ratio)
                or (len(published) >= self.b.change_min and ratio > self.b.change_ratio))

    def calm(self, t):
        """For the convergence figures: no fault that keeps the sync from running is active at ``t``, Consul
        has a leader, and a live writer holds the lock (the bound itself is judged with the allowances)."""
        return self.unrest(t) is None

    def unrest(self, t):
        """Why ``t`` is not calm (None when it is)."""
        if self.injector is None:
            return "starting"
        if not self.leader:
            return "no Consul leader"
        active = [f.kind for f in self.injector.faults if f.family != "none" and f.start <= t
                  and (f.end is None or f.end >= t) and not f.status.startswith("skipped")]
        if active:
            return "fault %s" % ", ".join(active)
        at, holder, _session = self.lock_timeline[-1] if self.lock_timeline else (0.0, None, None)
        return None if self.bed.writer_alive(holder, at) else "lock held by %s, not a live writer" % holder

    def release(self, t):
        out = self.injector.release(t) if self.injector else 0.0
        if self.no_leader_until:
            out = max(out, self.no_leader_until + self.b.allowance("consul"))
        return out

    # ------------------------------------------------------------------ ticks
    def tick(self, snap):
        state = self._read_state(snap.t)
        with self.lock_:
            self._tick(snap, state)

    def _tick(self, snap, state):
        t = snap.t
        self._suppression(t)
        sources = {"wapi": snap.wapi, "zone": snap.zone, "dns": snap.dns}
        if snap.zone_error:
            self.violate(t, "zone_file", "the zone file does not parse: %s" % snap.zone_error)
        if snap.dns_bad and self.published["dns"]:
            self.violate(t, "empty", "BIND answers %s for the zone" % snap.dns_bad)
        for source, current in sources.items():
            if current is None:
                continue
            self._empty_and_shrink(t, source, current)
            self._steady(t, source, current)
        self._unowned(t, snap.unowned)
        kept = self._kept(t)
        published = snap.wapi if snap.wapi is not None else (self.last.wapi if self.last else None)
        held = self._guard_holds(published or set(), kept)
        release = self.release(t)
        calm = self.calm(t)
        self._obligations(t, sources, kept, held, release, calm)
        if self.armed:
            self._recoveries(t, sources, calm)
        self._writes(t)
        self._corruptions(t, state, release)
        if self.quiet is not None:
            self._agreement(t, sources, snap, kept, held)
        self.last = snap

    def _empty_and_shrink(self, t, source, current):
        if current:
            self.published[source] = True
        elif self.published[source]:
            self.violate(t, "empty", "%s has no address record left" % source)
        prev = self.prev.get(source)
        self.prev[source] = current
        if not prev:
            return
        lost = prev - current
        ratio = len(lost) / float(len(prev))
        limits = [(self.b.shrink_min, self.b.shrink_ratio, "shrink guard")]
        if source == "wapi":
            limits.append((self.b.change_min, self.b.change_ratio, "Infoblox change ratio"))
        for minimum, limit, name in limits:
            if len(prev) >= minimum and ratio > limit:
                self.violate(t, "shrink", "%s lost %d of %d address records at once (%.0f%% > %s %.0f%%): %s" % (
                    source, len(lost), len(prev), 100 * ratio, name, 100 * limit, sorted(lost)[:8]))
                break

    def _steady(self, t, source, current):
        steady_keys = set(self.key[i] for i in self.steady)
        if not self.published.get("steady_" + source):
            if steady_keys and steady_keys <= current:
                self.published["steady_" + source] = True
            return
        for key in sorted(steady_keys - current):
            if (source, key) not in self.steady_missing:
                self.steady_missing.add((source, key))
                self.violate(t, "steady", "%s %s withdrawn from %s although its instance stayed healthy"
                             % (key[0], key[1], source))
        for item in list(self.steady_missing):
            if item[0] == source and item[1] in current:
                self.steady_missing.discard(item)

    def _unowned(self, t, unowned):
        if unowned is None:
            return
        if self.unowned_a is None:
            self.unowned_a = unowned
            return
        if unowned != self.unowned_a:
            changed = sorted(set(unowned) ^ set(self.unowned_a)) or sorted(
                r for r in unowned if unowned[r] != self.unowned_a.get(r))
            self.violate(t, "unowned", "A records the job does not own changed: %s" % changed[:5])
            self.unowned_a = unowned

    def others(self, t, records):
        with self.lock_:
            if self.unowned_other is None:
                self.unowned_other = records
            elif records != self.unowned_other:
                self.violate(t, "unowned", "CNAME/TXT records the job does not own changed: %s"
                             % sorted(set(records) ^ set(self.unowned_other))[:5])
                self.unowned_other = records

    def _obligations(self, t, sources, kept, held, release, calm):
        for iid, key in self.key.items():
            healthy = self.health.get(iid, True)
            ob = self.obligations.get(iid)
            if healthy is True:
                if ob is not None:
                    del self.obligations[iid]
                continue
            if ob is None:
                ob = self.obligations[iid] = Obligation(self.since.get(iid, t), self.unrest(self.since.get(iid, t)))
                present = [s for s, cur in sources.items() if cur is not None and key in cur]
                ob.was_published = bool(present)
            if held or iid in kept:
                ob.hold_until, ob.impaired = t, True
                ob.why = ob.why or ("shrink guard or change ratio" if held else "all-failing keep")
            if not calm:
                ob.impaired = True
                ob.why = ob.why or self.unrest(t)
            deadline = max(ob.t, ob.hold_until, release) + self.b.withdraw
            present = []
            for source, current in sources.items():
                if current is None:
                    continue
                if key in current:
                    present.append(source)
                    ob.gone.pop(source, None)
                elif source not in ob.gone:
                    ob.gone[source] = t
            late = [s for s in present if t > deadline + (RELOAD_BUDGET if s == "dns" else 0.0)]
            if late and not ob.flagged:
                ob.flagged = True
                since = "the end of a fault or hold" if deadline - self.b.withdraw > ob.t else "the failure"
                turned = "critical" if healthy is False else "gone from Consul"
                self.violate(t, "withdraw_bound", "%s %s still in %s %.1fs after its instance turned %s (bound %.1fs "
                             "from %s, %.1fs ago)" % (key[0], key[1], ", ".join(late), t - ob.t, turned,
                                                      self.b.withdraw, since, t - deadline + self.b.withdraw))
            if ob.was_published and not present and len(ob.gone) == 3 and not getattr(ob, "sampled", False):
                ob.sampled = True
                self._sample("withdraw", iid, ob.t, not ob.impaired, ob.gone, ob.why)

    def _sample(self, kind, iid, t, calm, seen, why=None):
        """One convergence sample (``kind`` withdraw or recover): in the figures when calm, counted apart
        otherwise; every one in the JSON."""
        self.sample_list.append({"kind": kind, "instance": iid, "t": self.rel(t), "calm": calm,
                                 "wapi": round(seen["wapi"] - t, 3), "dns": round(seen["dns"] - t, 3), "why": why})
        if not calm:
            self.samples["%s_impaired" % kind] += 1
            return
        for source in ("wapi", "dns"):
            self.samples["%s_%s" % (kind, source)].append(seen[source] - t)

    def _recoveries(self, t, sources, calm):
        """Times from an instance healthy again to its address back in Infoblox and BIND (hold-down included)."""
        for iid, key in self.key.items():
            rec = self.recoveries.get(iid)
            if self.health.get(iid) is not True or iid in self.maybe_suppressed:
                self.recoveries.pop(iid, None)
                continue
            if rec is None:
                since = self.since.get(iid, t)
                if sources["wapi"] is not None and key not in sources["wapi"] and iid in self.was_healthy \
                        and t - since < 1.0:
                    self.recoveries[iid] = Recovery(since, not self.calm(since))
                continue
            if rec == "done":
                continue
            if not calm:
                rec.impaired = True
            for source in ("wapi", "dns"):
                if sources[source] is not None and key in sources[source] and source not in rec.back:
                    rec.back[source] = t
            if len(rec.back) == 2:
                self._sample("recover", iid, rec.t, not rec.impaired, rec.back)
                self.recoveries[iid] = "done"
            elif t - rec.t > 300:
                self.recoveries[iid] = "done"

    # ------------------------------------------------------------------ one writer
    def _holders_around(self, t):
        """Holders of the lock key observed from t - DELTA to t + DELTA (the one holding at t - DELTA too)."""
        out = set()
        before = None
        for at, holder, _session in self.lock_timeline:
            if at <= t - DELTA:
                before = holder
            elif at <= t + DELTA:
                out.add(holder)
        out.add(before)
        return out

    def _taken_between(self, start, end):
        """``(time, holder)`` of each lock acquisition observed strictly within (start, end)."""
        return [(at, holder) for at, holder, session in self.lock_timeline if start < at < end and session]

    def _writes(self, t):
        """Every WAPI write (taps, in the order they ended) must be sent by the lock holder of that moment, and
        must not still be in flight - held by a slow NIOS - when another writer takes the lock."""
        for name, tap in self.bed.taps.items():
            for entry in tap.since(self.writes_seen[name]):
                end = entry["end"] or entry["start"]
                if end > t - WRITE_LAG:
                    break
                self.writes_seen[name] += 1
                if entry["kind"] != "write":
                    continue
                self.writes_checked += 1
                me = "chaos %s" % name
                holders = self._holders_around(entry["start"])
                what = "%s sent a WAPI write (%s %s, answer %s)" % (
                    name, entry["method"], entry["path"], entry["status"])
                if me not in holders:
                    self.violate(entry["start"], "one_writer", "%s while the lock was held by %s" % (
                        what, " / ".join(sorted(str(h) for h in holders))))
                    continue
                others = [(at, h) for at, h in self._taken_between(entry["start"] + DELTA, end - DELTA) if h != me]
                if others:
                    self.violate(end, "one_writer", "%s that NIOS answered only %.1fs later, after %s took the lock "
                                 "(%.1fs after the write was sent)"
                                 % (what, end - entry["start"], others[0][1], others[0][0] - entry["start"]))

    # ------------------------------------------------------------------ damping state
    def log_marks(self):
        """Where the writers' logs and outputs end now: taken before a corruption is written, so that a
        warning of a run that reads it at once is looked for from there."""
        with self.lock_:
            return {"offsets": dict((name, len(driver.log())) for name, driver in self.bed.watches.items()),
                    "timer_runs": len(self.bed.timer.runs)}

    def corrupted(self, t, value, index, marks):
        """A corrupt value was written at ``t`` with ModifyIndex ``index`` (the write's own); ``marks``
        (:meth:`log_marks`) taken before it was written."""
        with self.lock_:
            self.corruptions.append({"t": t, "value": value, "index": index, "offsets": marks["offsets"],
                                     "timer_runs": marks["timer_runs"], "rebuilt": None, "reported": None,
                                     "done": False})

    def _read_state(self, t):
        """``(ModifyIndex, text)`` of the damping state in KV, once a second while a corruption is followed."""
        if not any(not c["done"] for c in self.corruptions) or t - self._kv_at < 1.0:
            return None
        self._kv_at = t
        try:
            server = self.bed.cluster.any_live_server()
            response = self.session.get("%s/v1/kv/%s" % (server.http_url, STATE_KEY), params={"stale": ""},
                                        timeout=5)
            entry = response.json()[0] if response.status_code == 200 else None
            if entry is None:
                return None
            return entry["ModifyIndex"], base64.b64decode(entry.get("Value") or "").decode("utf-8", "replace")
        except (requests.RequestException, RuntimeError, ValueError, KeyError, IndexError):
            return None

    def _reported(self, corruption):
        """The writer whose log or output says the state was unreadable since the corruption, or None."""
        needle = "is unreadable"
        for name, driver in self.bed.watches.items():
            if needle in driver.log()[corruption["offsets"].get(name, 0):]:
                return name
        for run in self.bed.timer.runs[corruption["timer_runs"]:]:
            if needle in run.get("output", ""):
                return "timer"
        return None

    def _corruptions(self, t, state, release):
        """A corrupt state must be rebuilt (a valid state in KV again) and reported: the writer that rebuilt
        it logs a warning after its run (the timer's output is read once its run ended)."""
        for c in self.corruptions:
            if c["done"]:
                continue
            if c["rebuilt"] is None and state is not None and state[0] > c["index"]:
                try:
                    document = json.loads(state[1])
                except ValueError:
                    document = None
                if isinstance(document, dict) and document.get("version") == 1 and isinstance(
                        document.get("addresses"), dict) and "updated_by" in document:
                    c["rebuilt"], c["rebuilt_at"], c["by"] = self.rel(t), t, document["updated_by"]
                    c["rebuilt_index"] = state[0]
            if c["rebuilt"] is not None:
                if t - c.get("looked", 0.0) < 1.0:
                    continue  # the logs are read once a second
                c["looked"] = t
                c["reported"] = self._reported(c)
                timer_busy = c["by"] == "chaos timer" and self.bed.timer.current is not None
                if c["reported"] is not None:
                    c["done"] = True
                elif t > c["rebuilt_at"] + 15 and not timer_busy or t > c["rebuilt_at"] + 200:
                    c["done"] = True
                    self.violate(t, "state_silent", "the corrupt damping state (%r, written at %.1fs, ModifyIndex "
                                 "%s) was rebuilt by %s (ModifyIndex %s) with no warning in any writer's log or "
                                 "output" % (c["value"], self.rel(c["t"]), c["index"], c["by"], c["rebuilt_index"]))
                continue
            deadline = max(c["t"], release) + self.b.resync + self.b.withdraw
            if t > deadline:
                c["done"] = True
                self.violate(t, "state_silent", "the corrupt damping state written at %.1fs was not rebuilt within "
                             "%.0fs" % (self.rel(c["t"]), deadline - c["t"]))

    # ------------------------------------------------------------------ for the runner
    def present(self, key):
        """``(in Infoblox, in BIND's answers)`` at the last tick (None: not read)."""
        with self.lock_:
            last = self.last
            if last is None:
                return None, None
            return (None if last.wapi is None else key in last.wapi), (None if last.dns is None else key in last.dns)

    def publishable_now(self, iid):
        with self.lock_:
            return self.health.get(iid) is True and iid not in self.maybe_suppressed and all(
                self.present(self.key[iid]))

    def close(self):
        """No more Consul or lock changes are taken in (the bed is being stopped)."""
        with self.lock_:
            self.closed = True

    # ------------------------------------------------------------------ quiet periods
    def begin_quiet(self, label, earliest, deadline, done):
        with self.lock_:
            self.quiet = {"label": label, "earliest": earliest, "deadline": deadline, "done": done, "streak": None,
                          "started": earliest}

    def expected(self, t, kept, held):
        """``(must be published, must not be published)`` address sets, as the settings say."""
        must, must_not = set(), set()
        for iid, key in self.key.items():
            healthy = self.health.get(iid)
            age = t - self.since.get(iid, t)
            if healthy is True:
                if iid not in self.maybe_suppressed and age >= self.b.hold_down + 1.0:
                    must.add(key)
            elif iid not in kept and not held and age >= self.b.grace + 1.0:
                must_not.add(key)
        return must, must_not

    def _agreement(self, t, sources, snap, kept, held):
        q = self.quiet
        if t < q["earliest"]:
            return
        must, must_not = self.expected(t, kept, held)
        problems = []
        for source, current in sources.items():
            if current is None:
                problems.append("%s not read" % source)
                continue
            missing, extra = must - current, (current & must_not) | (current - self.all_keys)
            if missing:
                problems.append("%s misses %s" % (source, sorted(missing)))
            if extra:
                problems.append("%s still has %s" % (source, sorted(extra)))
        if snap.zone_serial is not None and snap.dns_serial is not None and snap.zone_serial != snap.dns_serial:
            problems.append("BIND serves serial %s, the zone file has %s" % (snap.dns_serial, snap.zone_serial))
        if not problems:
            if q["streak"] is None:
                q["streak"] = t
            if t - q["streak"] >= 3.0:
                self.quiet_results.append({"label": q["label"], "ok": True, "seconds": round(t - q["started"], 2)})
                self.quiet = None
                q["done"].set()
            return
        q["streak"] = None
        if t > q["deadline"]:
            self.violate(t, "agreement", "%s: after the quiet period: %s" % (q["label"], "; ".join(problems)))
            self.quiet_results.append({"label": q["label"], "ok": False, "seconds": round(t - q["started"], 2),
                                       "problems": problems})
            self.quiet = None
            q["done"].set()
