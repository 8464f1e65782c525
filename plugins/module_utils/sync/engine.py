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
   valves. Nothing is visible yet, and a refusal or failure of any publisher stops the zone here;
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
)
from ansible_collections.geant.consul_dns.plugins.module_utils.infoblox.plan import PlanRefused, SyncPolicy
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
                      timeout=settings["infoblox_timeout"])


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
            force=settings["force"])


# ---------------------------------------------------------------------------------------------------
# Publishers: stage (read, plan, validate; nothing visible), then commit or discard.


class Publisher(object):
    """Where a zone is published. ``step`` names it in outcomes and reports.

    :meth:`stage` returns an object with ``changed``, ``warnings``, ``diff()``, ``commit()``,
    ``discard()`` and ``summary()``; it raises PlanRefused / ZoneShrinkRefused for a refusal and one
    of :data:`ZONE_ERRORS` for a failure, and makes nothing visible. ``commit()`` makes the change
    visible, or raises leaving it as it was.
    """

    step = None

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
    step = "push"

    def __init__(self, settings, client):
        self.client = client
        self.max_batch = settings["infoblox_max_batch"]
        self.restart_services = settings["infoblox_restart_services"]

    def stage(self, plan, decision, check_mode):
        staged = stage_push(self.client, plan.zone, plan.view, decision.records, plan.policy, check_mode=check_mode)
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

    def diff(self):
        return self.staged.diff()

    def commit(self):
        self.staged.commit(max_batch=self.publisher.max_batch, restart_services=self.publisher.restart_services)

    def discard(self):
        self.staged.discard()

    def summary(self):
        plan = self.staged.plan
        return push_summary(plan.summary(), plan.conflicts, self.staged.requests_sent, plan.changes > 0)


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
    session and the parsed zone files between runs.
    """

    def __init__(self, settings, kv=None, publishers=None):
        self.settings = settings
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
            write_report=True):
        """One run under the lock; returns a :class:`RunResult` (never raises for Consul or WAPI faults).

        ``lock``: a LockKeeper the driver already holds (the watch service), None for no lock, or
        :data:`AUTO`: the run takes the lock itself when ``lock_enabled`` (not in check mode, which
        writes nothing) and gives it back at the end.
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
                                           reader=reader)
        except LockLost as exc:
            error, lock_lost = str(exc), True
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

    def sync_zones(self, lock=None, holder="consul_dns", check_mode=False, diff=False, now=None, reader=None):
        """Every zone once; LockLost propagates (the caller stops writing)."""
        now = time.time() if now is None else now
        shared = RunReader(reader or self.kv)  # one Consul read per run, whatever the number of zones
        return [self.sync_zone(plan, shared, lock, holder, check_mode, diff, now) for plan in self.plans]

    # ------------------------------------------------------------------ one zone
    def sync_zone(self, plan, reader, lock, holder, check_mode, diff, now):
        outcome = ZoneOutcome(plan.zone)
        staged = []
        step = "records"
        try:
            observed = observe(reader, plan.selection, plan.zone, self.settings["all_failing_meta_key"])
            store = StateStore(self.kv, self.settings["state_prefix"], plan.zone)
            previous, state_warnings = store.load()
            decision = decide(observed, previous, now, plan.damping, default_ttl=plan.ttl, guard=plan.guard)
            outcome.warnings.extend(state_warnings + decision.warnings)
            self._record_decision(outcome, decision, previous is None, now)
            outcome.decisions = decision.as_result(state_written=False, bootstrap=previous is None,
                                                   leader=observed.leader)
            for bulky in ("records", "changed", "zone"):
                outcome.decisions.pop(bulky)

            for publisher in self.publishers:
                step = publisher.step
                staged.append((publisher.step, publisher.stage(plan, decision, check_mode)))
                outcome.warnings.extend(staged[-1][1].warnings)
            if diff:
                outcome.diffs = [change.diff() for _step, change in staged if change.changed]
            if check_mode:
                self._summaries(outcome, staged)
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
            self._summaries(outcome, staged)
            step = "state"
            outcome.state_written = False
            if not store.unchanged(decision.damping.state):
                if lock is not None:
                    lock.check()
                store.save(decision.damping.state, plan.zone, holder)
                outcome.state_written = outcome.decisions["state_written"] = True
        except LockLost:
            raise
        except (ZoneShrinkRefused, PlanRefused) as exc:
            outcome.fail(step, exc, refused=True)
        except _PartlyPublished as exc:
            outcome.fail(step, "%s: %s%s" % (plan.zone, exc.cause, exc.note()))
        except ZONE_ERRORS as exc:
            if step == "state":
                exc = "%s (published; the damping state was not saved, the next run decides again from the " \
                      "last saved state)" % exc
            outcome.fail(step, "%s: %s" % (plan.zone, exc))
        finally:
            for _step, change in staged:
                change.discard()
        return outcome

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

    @staticmethod
    def _summaries(outcome, staged):
        for step, change in staged:
            if step == "zone_file":
                outcome.zone_file = change.summary()
            elif step == "push":
                outcome.push = change.summary()


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
