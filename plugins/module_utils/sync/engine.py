# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sync engine: one run of the zone sync, for every driver.

The action plugin ``geant.consul_dns.zone_sync`` (playbook, AWX, the role's timer) and the watch
service (``sync.watch``) both run it; they only decide *when*. A run, for every zone of the settings:

1. **lock** - the Consul session lock (:class:`lock_keeper.LockKeeper`), unless the driver already
   holds it; a run that finds it held elsewhere is *skipped* and writes nothing but its report;
2. **records** - Consul health (leader first, all or nothing; one read per run shared by the zones)
   -> flap damping against the state in KV -> shrink guard;
3. **stage** every publisher (:class:`Publisher`): the zone file is planned, written to a temporary
   file and checked by named-checkzone; Infoblox is read, planned and checked against its safety
   valves. Nothing is visible yet, and a refusal or failure of any publisher stops the zone here.
   A long-lived driver (watch mode) may ask for a **name-scoped** run: when the engine can prove
   which DNS names changed since the zone it last published (same lock session, that run fully
   succeeded), Infoblox reads, plans and writes only those names; otherwise the whole zone;
4. **commit**, after checking the lock again: Infoblox first (the step a fault most often stops),
   then the zone file (a rename), then the damping state in KV (check-and-set). The state is
   committed only once everything it describes was published;
5. **report** - the JSON summary and the Prometheus metrics, built from the typed outcomes.

Zones are independent: a refused or failed zone leaves its zone file, its records in Infoblox and its
damping state as they were, and the other zones are still synced; the run then fails naming it.
What each failure leaves behind is written in docs/zone_sync.md ("What a failed run leaves behind").
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile
import threading
import time

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import ConsulError
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.healthy_instances import ServiceSelection
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.kv import ConsulKV, LockLost
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.options import CONNECTION_OPTIONS
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.zone_read import RunReader
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.decision import (
    ShrinkGuard,
    ZoneShrinkRefused,
    decide,
    observe,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.flap import DampingConfig
from ansible_collections.geant.consul_dns.plugins.module_utils.damping.state_store import StateStore
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.names import InvalidDnsName, normalize_zone
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import ZoneSettings
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.zone_file import (
    ZoneFileError,
    backup_copy,
    plain_replace,
    stage_zone_file,
    zone_file_published,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.plan import (
    PlanRefused,
    SyncPolicy,
    changed_names,
    name_fqdn,
    published_records,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.push import SyncError, stage_push
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.wapi import WapiClient, WapiError
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.lock_keeper import LockKeeper
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.report import (
    DAMPING_KEYS,
    ZoneOutcome,
    build_report,
    push_summary,
    write_json,
    write_metrics,
    zone_file_summary,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.settings import SettingsError

AUTO = "auto"  # SyncEngine.run takes and gives back the lock itself

# Errors that fail one zone (anything else is a bug and propagates).
ZONE_ERRORS = (ConsulError, WapiError, SyncError, ZoneFileError, InvalidDnsName, ValueError, IOError, OSError)


def consul_connection(settings, timeout=None):
    """ConsulKV keyword arguments from the settings (``consul_<option>`` each)."""
    kwargs = {}
    for option, kwarg in CONNECTION_OPTIONS:
        name = option if option.startswith("consul_") else "consul_" + option
        kwargs[kwarg] = settings[name]
    kwargs["timeout"] = float(timeout if timeout is not None else kwargs["timeout"])
    return kwargs


def wapi_client(settings):
    """The WAPI client of the settings, or None when no Infoblox server is set (zone files only)."""
    if not settings["infoblox_server"]:
        return None
    return WapiClient(settings["infoblox_server"], settings["infoblox_username"], settings["infoblox_password"],
                      wapi_version=settings["infoblox_wapi_version"],
                      validate_certs=settings["infoblox_validate_certs"], ca_path=settings["infoblox_ca_path"],
                      timeout=settings["infoblox_timeout"], write_timeout=settings["infoblox_write_timeout"])


class ZonePlan(object):
    """Everything the engine needs for one zone, built (and so validated) before anything runs."""

    def __init__(self, zone, settings):
        where = "zone %s" % zone["name"]
        try:
            self.zone = normalize_zone(zone["name"])
            self.selection = ServiceSelection(
                services=zone["services"], exclude=zone["exclude_services"], tags=zone["tags"],
                meta=zone["service_meta"], dns_name_meta_key=zone["dns_name_meta_key"],
                dns_ttl_meta_key=zone["dns_ttl_meta_key"], invalid_names=zone["invalid_names"],
                warning_is_healthy=zone["warning_is_healthy"])
            self.damping = DampingConfig(
                hold_down=zone["hold_down"], grace=zone["grace"], penalty=settings["flap_penalty"],
                half_life=settings["flap_half_life"], suppress_limit=settings["flap_suppress_limit"],
                reuse_limit=settings["flap_reuse_limit"], max_suppress=settings["flap_max_suppress"],
                all_failing=zone["all_failing"])
            self.guard = ShrinkGuard(zone["max_shrink_ratio"], zone["min_records_for_shrink"], settings["force"])
            self.zone_settings = ZoneSettings(
                self.zone, zone["nameservers"], zone["hostmaster"] or "hostmaster.%s" % self.zone,
                default_ttl=zone["default_ttl"], refresh=zone["refresh"], retry=zone["retry"],
                expire=zone["expire"], negative_ttl=zone["negative_ttl"])
        except (InvalidDnsName, ValueError) as exc:
            raise SettingsError("%s: %s" % (where, exc))
        self.ttl = zone["ttl"]
        self.zone_file = zone["zone_file"] or os.path.join(settings["zone_dir"], "%s.zone" % self.zone)
        self.allow_empty = zone["allow_empty"]
        self.view = zone["infoblox_view"]
        self.policy = SyncPolicy(
            owner_value=settings["infoblox_owner_value"], max_change_ratio=settings["infoblox_max_change_ratio"],
            min_records_for_ratio=settings["infoblox_min_records_for_ratio"],
            allow_name_removal=settings["infoblox_allow_name_removal"], allow_empty=self.allow_empty,
            force=settings["force"], adopt_unowned=zone["infoblox_adopt_unowned"],
            inherit_ttl=zone["infoblox_inherit_ttl"])


# ---------------------------------------------------------------------------------------------------
# Publishers: stage (read, plan, validate; nothing visible), then commit or discard.


class Publisher(object):
    """Where a zone is published. ``step`` names it in outcomes and reports.

    :meth:`stage` returns an object with ``changed``, ``warnings``, ``diff()``, ``commit()``,
    ``discard()`` and ``summary()``; it raises PlanRefused / ZoneShrinkRefused for a refusal and one
    of :data:`ZONE_ERRORS` for a failure, and makes nothing visible. ``commit()`` makes the change
    visible, or raises leaving it as it was.

    A publisher with ``scoped = True`` also takes ``names=`` (FQDNs): the only names whose records
    changed since the zone the engine last published; it may publish just those.
    """

    step = None
    scoped = False

    def stage(self, plan, decision, check_mode):
        raise NotImplementedError

    def close(self):
        """End of the driver's life (log out, ...)."""


class ZoneFilePublisher(Publisher):
    step = "zone_file"

    def __init__(self, settings):
        self.validate = settings["zone_validate"]
        self.replace = plain_replace(int(settings["zone_file_mode"], 8))
        self.backup = backup_copy if settings["zone_backup"] else None
        self.kept = {}  # parsed zone files between runs of a long-lived driver (stage_zone_file's kept)

    def stage(self, plan, decision, check_mode):
        directory = os.path.dirname(os.path.abspath(plan.zone_file))
        tmp_dir = None
        if check_mode:
            tmp_dir = tempfile.mkdtemp(prefix="consul_dns_check.")
        elif not os.path.isdir(directory):
            try:
                os.makedirs(directory, 0o755)
            except OSError as exc:
                raise ZoneFileError("cannot create the zone file directory %s: %s" % (directory, exc))
        try:
            staged = stage_zone_file(plan.zone_file, plan.zone_settings, decision.record_dicts(),
                                     validate=self.validate, allow_empty=plan.allow_empty, tmp_dir=tmp_dir,
                                     kept=None if check_mode else self.kept)
        except ZoneFileError:
            _remove_tree(tmp_dir)
            raise
        return _StagedZoneFile(staged, self, tmp_dir)


class _StagedZoneFile(object):
    def __init__(self, staged, publisher, tmp_dir):
        self.staged = staged
        self.publisher = publisher
        self.tmp_dir = tmp_dir
        self.changed = staged.changed
        self.warnings = staged.warnings

    def diff(self):
        return self.staged.diff()

    def commit(self):
        self.staged.commit(self.publisher.replace, backup=self.publisher.backup)

    def discard(self):
        self.staged.discard()
        _remove_tree(self.tmp_dir)

    def summary(self):
        r = self.staged.result()
        return zone_file_summary(r["path"], r["serial"], r["previous_serial"], r["changed"], r["records"],
                                 r["added"], r["removed"])


def _remove_tree(path):
    if path:
        shutil.rmtree(path, ignore_errors=True)


class InfobloxPublisher(Publisher):
    """Infoblox: the whole zone, or (``names``) only the names that changed, read and planned with what
    it knows of the zone since its last commit (``known``, per zone; a failed commit forgets it)."""

    step = "push"
    scoped = True

    def __init__(self, settings, client):
        self.client = client
        self.max_batch = settings["infoblox_max_batch"]
        self.max_bytes = settings["infoblox_max_request_bytes"]
        self.create_owner_ea = settings["infoblox_create_owner_ea"]
        self.restart_services = settings["infoblox_restart_services"]
        self.known = {}  # zone -> push.ZoneKnowledge after the last commit

    def stage(self, plan, decision, check_mode, names=None):
        known = self.known.get(plan.zone) if names is not None else None
        staged = stage_push(self.client, plan.zone, plan.view, decision.records, plan.policy, check_mode=check_mode,
                            names=names, known=known, create_owner_ea=self.create_owner_ea)
        return _StagedPush(staged, self)

    def close(self):
        self.client.logout()


class _StagedPush(object):
    def __init__(self, staged, publisher):
        self.staged = staged
        self.publisher = publisher
        self.changed = staged.changed
        conflicts = ["%s: %s" % (c["record"]["fqdn"], c["reason"]) for c in staged.plan.conflicts]
        self.warnings = list(staged.warnings) + conflicts

    def adoption(self):
        """The adoption report of the names this push read (see plan.Plan.adoption_report)."""
        return self.staged.plan.adoption_report()

    @property
    def scope(self):
        """None when the whole zone was read, else the number of names read."""
        return None if self.staged.scope is None else len(self.staged.scope)

    def diff(self):
        return self.staged.diff()

    def commit(self):
        zone, known = self.staged.zone, self.publisher.known
        known.pop(zone, None)  # unknown until the commit is through
        self.staged.commit(max_batch=self.publisher.max_batch, restart_services=self.publisher.restart_services,
                           max_bytes=self.publisher.max_bytes)
        known[zone] = self.staged.knowledge()

    def discard(self):
        self.staged.discard()

    def summary(self):
        counts, conflicts = self.staged.summary()
        return push_summary(counts, conflicts, self.staged.requests_sent, self.staged.plan.changes > 0)


# ---------------------------------------------------------------------------------------------------
# The run


class RunResult(object):
    """One run: typed per-zone outcomes, the lock, and the report built from them."""

    def __init__(self, outcomes, report, lock=None, skipped=None, error=None, report_error=None, lock_lost=False):
        self.outcomes = outcomes
        self.lock_lost = lock_lost
        self.report = report
        self.lock = lock
        self.skipped = skipped
        self.error = error
        self.report_error = report_error

    @property
    def ok(self):
        return self.error is None and all(o.ok for o in self.outcomes)

    @property
    def changed(self):
        return any(o.summary()["changed"] for o in self.outcomes)

    def failure_message(self):
        """Why the run failed (None when it did not): the run's error, else each failed or refused zone."""
        if self.error is not None:
            return self.error
        messages = [o.refused or o.error for o in self.outcomes if not o.ok]
        return "; ".join(messages) if messages else None


def report_paths(settings):
    """(JSON summary path or None, Prometheus textfile path or None)."""
    report_file = settings["report_file"]
    if report_file == "auto":
        report_file = os.path.join(os.path.dirname(os.path.normpath(settings["zone_dir"])), "last_sync.json")
    return report_file or None, settings["metrics_file"] or None


def write_run_report(settings, report):
    """Write the JSON summary and the metrics the settings ask for; returns an error message or None."""
    report_file, metrics_file = report_paths(settings)
    try:
        if report_file:
            write_json(report_file, report)
        if metrics_file:
            write_metrics(metrics_file, report)
    except (IOError, OSError) as exc:
        return "the sync report was not written: %s" % exc
    return None


class SyncEngine(object):
    """The zone sync for validated settings (:func:`settings.load_settings`).

    ``kv``: a ConsulKV (default: from the settings); ``publishers``: default Infoblox (when a server is
    set) then the zone file, in commit order. A long-lived driver keeps one engine: it keeps the WAPI
    session and the parsed zone files between runs. With ``remember`` it also keeps, per zone, the
    records it last published, so that a run asked to be ``scoped`` can tell which names changed;
    with ``overlap`` the publishers are staged at the same time (see :meth:`_stage_publishers`).
    """

    def __init__(self, settings, kv=None, publishers=None, remember=False, overlap=False):
        self.settings = settings
        self.remember = remember
        self.overlap = overlap
        self._published = {}  # zone -> (lock session, published_records) of the last fully successful run
        self._states = {}  # zone -> the StateStore of the last run (remember only, see _load_state)
        self.push_scopes = {}  # zone -> names read by the last run's Infoblox stage (None: the whole zone)
        self.timings = {}  # zone -> [(step, seconds)] of the last run
        self.plans = [ZonePlan(zone, settings) for zone in settings.zones]
        self.kv = kv or ConsulKV(consistency=settings["consul_consistency"], **consul_connection(settings))
        if publishers is None:
            publishers = []
            client = wapi_client(settings)
            if client is not None:
                publishers.append(InfobloxPublisher(settings, client))
            publishers.append(ZoneFilePublisher(settings))
        self.publishers = publishers

    def lock_keeper(self, holder, ttl=None, on_lost=None, renew_kv=None):
        s = self.settings
        return LockKeeper(self.kv, s["lock_key"], holder, ttl or s["lock_ttl"], s["lock_delay"],
                          renew_kv=renew_kv, on_lost=on_lost)

    def close(self):
        for publisher in self.publishers:
            publisher.close()

    # ------------------------------------------------------------------ whole run
    def run(self, mode, holder, lock=AUTO, check_mode=False, diff=False, now=None, reader=None,
            write_report=True, scoped=False):
        """One run under the lock; returns a :class:`RunResult` (never raises for Consul or WAPI faults).

        ``lock``: a LockKeeper the driver already holds (the watch service), None for no lock, or
        :data:`AUTO`: the run takes the lock itself when ``lock_enabled`` (not in check mode, which
        writes nothing) and gives it back at the end.
        ``scoped``: publish to Infoblox only the names whose records changed since this engine's last
        run of the zone, where it can prove which (see :meth:`sync_zone`); the whole zone otherwise.
        """
        started = time.time()
        outcomes, skipped, error, lock_summary, lock_lost = [], None, None, None, False
        own = None
        if lock is AUTO:
            lock = None
            if self.settings["lock_enabled"] and not check_mode:
                own = lock = self.lock_keeper(holder)
        try:
            if own is not None:
                acquired, info = own.acquire()
                lock_summary = own.summary(acquired, info)
                if not acquired:
                    skipped = "lock %s is held by %s" % (own.key, info.get("holder") or "another run")
            elif lock is not None:
                lock_summary = lock.summary()
            if skipped is None:
                outcomes = self.sync_zones(lock=lock, holder=holder, check_mode=check_mode, diff=diff, now=now,
                                           reader=reader, scoped=scoped)
        except LockLost as exc:
            error, lock_lost = str(exc), True
            self._published.clear()  # another writer may have written: prove nothing from before
        except ConsulError as exc:
            error = "cannot take lock %s: %s" % (self.settings["lock_key"], exc)
        finally:
            if own is not None:
                own.release()
        report = build_report([o.summary() for o in outcomes], started, time.time(), mode, holder=holder,
                              lock=lock_summary, error=error)
        report_error = None
        if write_report and not check_mode:
            report_error = write_run_report(self.settings, report)
        return RunResult(outcomes, report, lock=lock_summary, skipped=skipped, error=error,
                         report_error=report_error, lock_lost=lock_lost)

    def report_standby(self, holder, info, mode="watch"):
        """Write the report of a driver that stands by while ``info['holder']`` writes (a skipped run)."""
        now = time.time()
        lock = {"key": self.settings["lock_key"], "acquired": False, "holder": info.get("holder"),
                "since": info.get("since")}
        return write_run_report(self.settings, build_report([], now, now, mode, holder=holder, lock=lock))

    def sync_zones(self, lock=None, holder="consul_dns", check_mode=False, diff=False, now=None, reader=None,
                   scoped=False):
        """Every zone once; LockLost propagates (the caller stops writing)."""
        now = time.time() if now is None else now
        shared = RunReader(reader or self.kv)  # one Consul read per run, whatever the number of zones
        return [self.sync_zone(plan, shared, lock, holder, check_mode, diff, now, scoped) for plan in self.plans]

    # ------------------------------------------------------------------ one zone
    def sync_zone(self, plan, reader, lock, holder, check_mode, diff, now, scoped=False):
        """One zone. ``scoped``: see :meth:`run`. The engine can prove which names changed when it
        remembers the records of its last run of the zone (``remember``), that run succeeded in every
        step, and the lock is held by the same session since; any failure, a refusal or a new session
        makes the next run publish the whole zone."""
        outcome = ZoneOutcome(plan.zone)
        staged = []
        step = "records"
        timer = _StepTimer()
        self.timings[plan.zone] = timer.steps
        self.push_scopes.pop(plan.zone, None)
        session = getattr(lock, "session", None)
        last = self._published.pop(plan.zone, None) if self.remember and not check_mode else None
        published = None
        try:
            observed = observe(reader, plan.selection, plan.zone, self.settings["all_failing_meta_key"])
            timer.lap("consul")
            store, previous, state_warnings = self._load_state(plan.zone)
            decision = decide(observed, previous, now, plan.damping, default_ttl=plan.ttl, guard=plan.guard,
                              fallback_published=lambda: zone_file_published(plan.zone_file, plan.zone))
            outcome.warnings.extend(state_warnings + decision.warnings)
            self._record_decision(outcome, decision, previous is None, now)
            outcome.decisions = _decisions(decision, bootstrap=previous is None, leader=observed.leader)
            names = None
            if self.remember and not check_mode:
                published = published_records(decision.records)
                if scoped and last is not None and last[0] == session:
                    names = [name_fqdn(plan.zone, name) for name in sorted(changed_names(last[1], published))]
            timer.lap("damping")

            results = self._stage_publishers(plan, decision, check_mode, names)
            staged.extend((pstep, change) for pstep, change, _exc, _seconds in results if change is not None)
            for pstep, change, exc, seconds in results:
                step = pstep
                if exc is not None:
                    raise exc
                outcome.warnings.extend(change.warnings)
                if pstep == "push":
                    self.push_scopes[plan.zone] = change.scope
                timer.add("stage " + pstep, seconds)
            timer.lap(None)
            if diff:
                outcome.diffs = [change.diff() for _step, change in staged if change.changed]
            if check_mode:
                self._summaries(outcome, staged)
                outcome.adoption = [entry for step, change in staged if step == "push"
                                    for entry in change.adoption()] or None
                outcome.state_written = False
                return outcome

            if lock is not None:
                lock.check()
            committed = []
            for step, change in staged:
                try:
                    change.commit()
                except ZONE_ERRORS as exc:
                    raise _PartlyPublished(exc, committed)
                committed.append(step)
                timer.lap("commit " + step)
            self._summaries(outcome, staged)
            step = "state"
            outcome.state_written = False
            if not store.unchanged(decision.damping.state):
                if lock is not None:
                    lock.check()
                store.save(decision.damping.state, plan.zone, holder)
                outcome.state_written = outcome.decisions["state_written"] = True
            timer.lap("state")
            if published is not None:
                self._published[plan.zone] = (session, published)
            step = "push"
            self._conflicts_fail(outcome)
        except LockLost:
            raise
        except (ZoneShrinkRefused, PlanRefused) as exc:
            outcome.fail(step, exc, refused=True)
        except _PartlyPublished as exc:
            outcome.fail(step, "%s: %s%s" % (plan.zone, exc.cause, exc.note()))
            outcome.write_outcome_unknown = bool(getattr(exc.cause, "outcome_unknown", False))
        except ZONE_ERRORS as exc:
            if step == "state":
                exc = "%s (published; the damping state was not saved, the next run decides again from the " \
                      "last saved state)" % exc
            outcome.fail(step, "%s: %s" % (plan.zone, exc))
        finally:
            for _step, change in staged:
                change.discard()
        return outcome

    def _load_state(self, zone):
        """``(StateStore, state or None, warnings)`` of the zone's damping state in KV.

        A remembering engine keeps the store of its last run: when the key's ModifyIndex is still the one
        it loaded or saved, the state is that one (Consul moves the index on every write) and is not
        decoded again (decompressing and checking a state of 10,000 addresses takes a while).
        """
        kept = self._states.get(zone) if self.remember else None
        if kept is not None and kept.loaded is not None:
            index, value, _session = self.kv.kv_get(kept.key)
            if value is not None and index == kept.index:
                return kept, kept.loaded, []
        store = StateStore(self.kv, self.settings["state_prefix"], zone)
        previous, warnings = store.load()
        if self.remember:
            self._states[zone] = store
        return store, previous, warnings

    def _stage_publishers(self, plan, decision, check_mode, names):
        """Stage every publisher; ``[(step, staged or None, exception or None, seconds)]`` in publisher order.

        One after the other, stopping at the first failure; with ``overlap``, all but the last in threads
        while the last stages here, so that waiting for WAPI overlaps rendering and validating the zone
        file. Either way nothing is visible before every publisher is staged (the commits come after).
        """
        def stage(publisher, out):
            started = time.time()
            try:
                if names is not None and getattr(publisher, "scoped", False):
                    change = publisher.stage(plan, decision, check_mode, names=names)
                else:
                    change = publisher.stage(plan, decision, check_mode)
                out[:] = [publisher.step, change, None, time.time() - started]
            except Exception as exc:  # handed to the caller, which raises it in this thread
                out[:] = [publisher.step, None, exc, time.time() - started]

        results = [[] for _publisher in self.publishers]
        if self.overlap and len(self.publishers) > 1:
            threads = [threading.Thread(target=stage, args=(publisher, out), name="stage-%s" % publisher.step)
                       for publisher, out in zip(self.publishers[:-1], results[:-1])]
            for thread in threads:
                thread.daemon = True
                thread.start()
            stage(self.publishers[-1], results[-1])
            for thread in threads:
                thread.join()
            for publisher, out in zip(self.publishers, results):
                if not out:  # the thread died of something that is not an Exception: never commit without it
                    out[:] = [publisher.step, None, SyncError("staging %s did not finish" % publisher.step), 0.0]
        else:
            for publisher, out in zip(self.publishers, results):
                stage(publisher, out)
                if out[2] is not None:
                    break
        return [tuple(out) for out in results if out]

    @staticmethod
    def _record_decision(outcome, decision, bootstrap, now):
        d = decision.damping
        outcome.records = len(decision.records)
        outcome.published = sum(len(addresses) for addresses in d.published.values())
        for key in DAMPING_KEYS:
            outcome.damping[key] = len(getattr(d, key))
        outcome.suppressed_addresses = [
            dict((k, item[k]) for k in ("name", "address", "penalty", "reuse_in", "flaps") if k in item)
            for item in d.suppressed]
        outcome.bootstrap = bootstrap
        outcome.damping_lines = decision.report_lines()
        outcome.next_wakeup = next_wakeup(d, now)

    def _conflicts_fail(self, outcome):
        """With on_conflict=fail, a zone published with conflicts fails (after publishing the rest)."""
        conflicts = (outcome.push or {}).get("conflicts") or 0
        if conflicts and self.settings["infoblox_on_conflict"] == "fail":
            names = sorted(set(c["fqdn"] for c in outcome.push.get("conflict_records") or []))
            raise SyncError("%d conflict(s) with records the collection does not own (the rest of the zone is "
                            "published; consul_dns_infoblox_on_conflict is fail): %s"
                            % (conflicts, ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")))

    @staticmethod
    def _summaries(outcome, staged):
        for step, change in staged:
            if step == "zone_file":
                outcome.zone_file = change.summary()
            elif step == "push":
                outcome.push = change.summary()


def _decisions(decision, bootstrap, leader):
    """The damping's decisions for the report and the action's result (no record list)."""
    return decision.as_result(state_written=False, bootstrap=bootstrap, leader=leader, with_records=False)


class _StepTimer(object):
    """Seconds per step of one zone's run, for the driver's log."""

    def __init__(self):
        self.steps = []
        self.last = time.time()

    def lap(self, step):
        """The time since the last lap is ``step``'s (None: not recorded)."""
        now = time.time()
        if step is not None:
            self.steps.append((step, now - self.last))
        self.last = now

    def add(self, step, seconds):
        self.steps.append((step, seconds))


class _PartlyPublished(Exception):
    """A commit failed after other publishers of the zone had committed."""

    def __init__(self, cause, committed):
        super(_PartlyPublished, self).__init__(str(cause))
        self.cause = cause
        self.committed = committed

    def note(self):
        if not self.committed:
            return " (nothing of this zone was published; the damping state was not saved)"
        names = {"push": "Infoblox", "zone_file": "the zone file"}
        return (" (%s already had the new records; the damping state was not saved, so the next run publishes "
                "again)" % " and ".join(names.get(step, step) for step in self.committed))


def next_wakeup(damping, now):
    """Epoch time at which the damping changes its mind without any Consul change (None: never).

    A pending address is published when its hold-down ends, a failing one in grace is withdrawn when
    the grace ends, and a suppressed one may be reused when its penalty has decayed.
    """
    times = [now + item["publish_in"] for item in damping.pending]
    times.extend(now + item["withdraw_in"] for item in damping.in_grace)
    times.extend(now + item["reuse_in"] for item in damping.suppressed if item.get("healthy"))
    return min(times) if times else None
