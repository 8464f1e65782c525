# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one zone sync did, for machines: a JSON summary and Prometheus textfile metrics.

- :class:`ZoneOutcome` is what one run did to one zone (the sync engine returns them);
  :meth:`ZoneOutcome.summary` is the zone's entry in the report. :func:`zone_outcome` builds one from
  the result dicts of the modules ``consul_zone_records``, ``zone_file`` and ``infoblox_zone_sync``, for
  playbooks that chain the modules themselves (lists may be given as their lengths).
- :func:`build_report` puts the zones of one run together with its times, mode, lock and error.
- :func:`prometheus_text` renders a report in the Prometheus text exposition format (0.0.4) for
  node_exporter's textfile collector. Counters and the time of the last success carry over from the
  previous file's text, so a failed run keeps the last success and a restart keeps the totals.
- :func:`write_json` and :func:`write_textfile` replace a file atomically (temporary file in the same
  directory, then rename), so that a reader never sees half a file.

No I/O here except in the two writers; no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import math
import os
import re

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.zone_file import fsync_directory, write_temp_file

SCHEMA_VERSION = 1
MODES = ("playbook", "timer", "watch")
DAMPING_KEYS = ("added", "withdrawn", "pending", "in_grace", "suppressed", "kept")
CHANGE_ACTIONS = ("created", "updated", "deleted")
PUSH_KEYS = ("created", "updated", "deleted", "unchanged", "skipped")
MAX_CONFLICT_RECORDS = 100
ZONE_STATUSES = ("ok", "conflicts", "refused", "failed")
RUN_RESULTS = ("success", "failure", "skipped")
FILE_MODE = 0o644
DIR_MODE = 0o755
PREFIX = "consul_dns_"


# ---------------------------------------------------------------------------------------------------
# One zone


def _count(value):
    """A list's length, a number as it is, None for None (unknown)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, (list, tuple, dict, set)):
        return len(value)
    raise ValueError("expected a list or a number, got %r" % (value,))


def _published_count(published):
    """``published`` is ``{name: [addresses]}`` or already a number."""
    if isinstance(published, dict):
        return sum(len(addresses or []) for addresses in published.values())
    return _count(published)


def _ran(result):
    """A result dict of a task that ran (given, and not skipped)."""
    return isinstance(result, dict) and not result.get("skipped")


def _failed(result):
    return _ran(result) and bool(result.get("failed"))


def _message(result, default):
    msg = result.get("msg")
    return str(msg) if msg else default


class ZoneOutcome(object):
    """What one run did to one zone: the engine's typed result, and what the report is built from.

    ``refused``: the message of a safety valve; ``error``: any other failure; ``failed_step``: where
    (``records``: Consul read or damping, ``zone_file``, ``push``, ``state``: the damping state in KV).
    The counts are None when the run did not get that far. ``zone_file`` and ``push`` are the summaries
    of the two publishers (see :meth:`summary`), None when that publisher was not staged.
    """

    def __init__(self, zone):
        self.zone = str(zone)
        self.refused = None
        self.error = None
        self.failed_step = None
        self.records = None
        self.published = None
        self.damping = dict((key, None) for key in DAMPING_KEYS)
        self.suppressed_addresses = []
        self.bootstrap = None
        self.state_written = None
        self.zone_file = None
        self.push = None
        self.warnings = []
        self.damping_lines = []
        self.decisions = None  # the damping's decisions with their addresses (consul_zone_records' keys)
        self.diffs = []
        self.record_list = None
        self.next_wakeup = None
        self.adoption = None  # check mode: the push's adoption report (plan.Plan.adoption_report)
        # A write was sent without an answer: NIOS may still apply it after the next read (watch mode
        # reads the zone again later, see sync/watch.py).
        self.write_outcome_unknown = False

    @property
    def ok(self):
        return self.refused is None and self.error is None

    def fail(self, step, message, refused=False):
        self.failed_step = step
        if refused:
            self.refused = str(message)
        else:
            self.error = str(message)

    def summary(self):
        """The zone's entry in the report (docs/zone_sync.md, "The report of each run")."""
        out = {
            "zone": self.zone, "ok": self.ok, "refused": self.refused, "error": self.error,
            "failed_step": self.failed_step, "records": self.records, "published": self.published,
            "bootstrap": self.bootstrap, "state_written": self.state_written,
            "suppressed_addresses": list(self.suppressed_addresses), "zone_file": self.zone_file,
            "pushed": self.push is not None, "push": self.push,
            "changes": dict((action, 0) for action in CHANGE_ACTIONS), "changes_source": None,
        }
        out.update(self.damping)
        if out["records"] is None and self.zone_file is not None:
            out["records"] = self.zone_file["records"]
        if self.push is not None:
            out["changes"] = dict((action, self.push[action]) for action in CHANGE_ACTIONS)
            out["changes_source"] = "infoblox"
        elif self.zone_file is not None:
            out["changes"] = {"created": self.zone_file["added"], "updated": 0, "deleted": self.zone_file["removed"]}
            out["changes_source"] = "zone_file"
        out["changed"] = bool((self.zone_file or {}).get("changed") or (self.push or {}).get("changed"))
        out["status"] = zone_status(out)
        return out


def zone_status(zone):
    """One word for a zone's entry: failed, refused, conflicts (published, but records the collection does
    not own stand in the way) or ok."""
    if zone.get("error") is not None:
        return "failed"
    if zone.get("refused") is not None:
        return "refused"
    if (zone.get("push") or {}).get("conflicts"):
        return "conflicts"
    return "ok"


def zone_file_summary(path, serial, previous_serial, changed, records, added, removed):
    return {"path": path, "serial": serial, "previous_serial": previous_serial, "changed": bool(changed),
            "records": _count(records), "added": _count(added) or 0, "removed": _count(removed) or 0}


def push_summary(counts, conflicts, requests, changed):
    """``conflicts``: the plan's conflict entries (``record``, ``kind``, ``reason``), or their number. The
    first :data:`MAX_CONFLICT_RECORDS` are named in ``conflict_records``: where the zone file and
    Infoblox differ."""
    out = dict((key, _count((counts or {}).get(key)) or 0) for key in PUSH_KEYS)
    out.update(conflicts=_count(conflicts) or 0, requests=_count(requests) or 0, changed=bool(changed))
    out["conflict_records"] = [_conflict_record(c) for c in conflicts[:MAX_CONFLICT_RECORDS]
                               if isinstance(c, dict)] if isinstance(conflicts, (list, tuple)) else []
    return out


def _conflict_record(conflict):
    record = conflict.get("record") or {}
    return {"fqdn": record.get("fqdn"), "type": record.get("type"), "value": record.get("value"),
            "kind": conflict.get("kind") or "blocked", "reason": conflict.get("reason")}


def zone_outcome(zone, desired=None, zone_file=None, push=None, error=None):
    """One zone's report entry from module results (each a dict, or None when that step did not run).

    For playbooks that chain the modules themselves: ``desired`` is a ``consul_zone_records`` result,
    ``zone_file`` a ``zone_file`` result, ``push`` an ``infoblox_zone_sync`` result; a failed one has
    ``failed`` and ``msg`` (and ``refused`` for a refusal). ``error`` is a failure of the zone that none
    of them reports. Built through :class:`ZoneOutcome`, as the engine's own results are.
    """
    outcome = ZoneOutcome(zone)
    for step, result in (("records", desired), ("zone_file", zone_file), ("push", push)):
        if _failed(result):
            outcome.fail(step, _message(result, "%s %s" % (step, "refused" if result.get("refused") else "failed")),
                         refused=bool(result.get("refused")))
            break
    if error and outcome.error is None:
        outcome.error = str(error)
    if _ran(desired) and not _failed(desired):
        outcome.records = _count(desired.get("records"))
        outcome.published = _published_count(desired.get("published"))
        for key in DAMPING_KEYS:
            outcome.damping[key] = _count(desired.get(key)) or 0
        outcome.suppressed_addresses = [_suppressed(item) for item in desired.get("suppressed") or []
                                        if isinstance(item, dict)]
        outcome.bootstrap = desired.get("bootstrap")
        outcome.state_written = desired.get("state_written")
    if _ran(zone_file) and not _failed(zone_file):
        outcome.zone_file = zone_file_summary(zone_file.get("path"), zone_file.get("serial"),
                                              zone_file.get("previous_serial"), zone_file.get("changed"),
                                              zone_file.get("records"), zone_file.get("added"),
                                              zone_file.get("removed"))
    if _ran(push) and not _failed(push):
        plan = push.get("plan") or {}
        outcome.push = push_summary(push.get("counts"), push.get("conflicts", plan.get("conflicts")),
                                    push.get("requests"), push.get("changed"))
    return outcome.summary()


def _suppressed(item):
    entry = {"name": item.get("name"), "address": item.get("address")}
    for key in ("penalty", "reuse_in", "flaps"):
        if item.get(key) is not None:
            entry[key] = item[key]
    return entry


# ---------------------------------------------------------------------------------------------------
# One run


class _Utc(datetime.tzinfo):
    def utcoffset(self, dt):
        return datetime.timedelta(0)

    def tzname(self, dt):
        return "UTC"

    def dst(self, dt):
        return datetime.timedelta(0)


_UTC = _Utc()
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=_UTC)


def _epoch(value):
    """Epoch seconds of a number or an aware datetime."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime %s: give epoch seconds or an aware datetime" % value)
        return (value - _EPOCH).total_seconds()
    return float(value)


def iso_time(epoch):
    """``2025-11-25T10:00:00.123Z`` (UTC, milliseconds)."""
    moment = _EPOCH + datetime.timedelta(seconds=float(epoch))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def _lock_summary(lock):
    if not lock:
        return None
    info = lock.get("holder_info") or {}
    return {
        "key": lock.get("key"),
        "acquired": bool(lock.get("acquired")),
        "holder": lock.get("holder") or info.get("holder"),
        "since": lock.get("since") or info.get("since"),
    }


def build_report(outcomes, started, finished, mode, holder=None, lock=None, error=None):
    """The report of one run: ``outcomes`` from :func:`zone_outcome`, times as epoch seconds.

    ``lock`` is the ``consul_lock`` result (``acquired``, ``holder``, ``key``, ``holder_info``), or None
    when the run took no lock. A run that found the lock held elsewhere is ``skipped`` (and ok).
    ``error`` is a failure of the run itself (not of one zone).
    """
    if mode not in MODES:
        raise ValueError("mode must be one of %s, got %r" % (", ".join(MODES), mode))
    started, finished = _epoch(started), _epoch(finished)
    zones = {}
    for outcome in outcomes:
        zones[outcome["zone"]] = outcome
    lock_info = _lock_summary(lock)
    skipped = None
    if error is None and lock_info is not None and not lock_info["acquired"]:
        skipped = "lock %s is held by %s" % (lock_info["key"], lock_info["holder"] or "another run")
    ok = error is None and all(outcome["ok"] for outcome in zones.values())
    return {
        "version": SCHEMA_VERSION,
        "mode": mode,
        "holder": holder,
        "started": iso_time(started),
        "started_epoch": round(started, 3),
        "finished": iso_time(finished),
        "finished_epoch": round(finished, 3),
        "duration_seconds": round(max(finished - started, 0.0), 3),
        "ok": ok,
        "success": ok and skipped is None,
        "status": run_status(ok, skipped, zones.values()),
        "skipped": skipped,
        "error": None if error is None else str(error),
        "lock": lock_info,
        "zones": zones,
        "totals": _totals(zones.values()),
    }


def run_status(ok, skipped, zones):
    """skipped, failed (a zone failed or was refused, or the run itself), conflicts, or ok."""
    if skipped is not None:
        return "skipped"
    if not ok:
        return "failed"
    if any(zone.get("status") == "conflicts" for zone in zones):
        return "conflicts"
    return "ok"


def _totals(outcomes):
    outcomes = list(outcomes)
    totals = {
        "zones": len(outcomes),
        "zones_ok": sum(1 for o in outcomes if o["ok"]),
        "zones_refused": sum(1 for o in outcomes if o["refused"] is not None),
        "zones_failed": sum(1 for o in outcomes if o["error"] is not None),
        "zones_changed": sum(1 for o in outcomes if o["changed"]),
        "zones_pushed": sum(1 for o in outcomes if o["pushed"]),
        "conflicts": sum((o["push"] or {}).get("conflicts", 0) for o in outcomes),
        "changes": dict((action, sum(o["changes"][action] for o in outcomes)) for action in CHANGE_ACTIONS),
    }
    for key in ("records", "published") + DAMPING_KEYS:
        totals[key] = sum(o[key] or 0 for o in outcomes)
    return totals


# ---------------------------------------------------------------------------------------------------
# Prometheus text exposition format

_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+-?\d+)?[ \t]*$")
_LABEL_RE = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\\n]|\\.)*)"[ \t]*(,|$)')
_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n"}


def _parse_labels(text):
    labels = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _LABEL_RE.match(text, pos)
        if not match:
            raise ValueError("bad labels %r" % text)
        labels[match.group(1)] = re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m.group(1), "\\" + m.group(1)),
                                        match.group(2))
        pos = match.end()
    return labels


def parse_samples(text):
    """``{(name, ((label, value), ...)): value}`` of the samples in exposition-format ``text``.

    Lenient: comments, blank lines and lines it cannot read are left out (a damaged previous file
    loses what it cannot tell, never the run).
    """
    samples = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE_RE.match(line)
        if not match:
            continue
        try:
            labels = _parse_labels(match.group(2) or "")
            value = float(match.group(3))
        except ValueError:
            continue
        samples[(match.group(1), tuple(sorted(labels.items())))] = value
    return samples


def escape_label_value(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_value(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


class _Exposition(object):
    def __init__(self, previous):
        self.previous = previous
        self.families = []  # [(name, type, help, [(labels, value)])]
        self.index = {}

    def add(self, name, kind, help_text, value, **labels):
        name = PREFIX + name
        if name not in self.index:
            self.index[name] = (kind, help_text, [])
            self.families.append(name)
        self.index[name][2].append((labels, value))

    def before(self, name, **labels):
        """The sample's value in the previous text, or None."""
        return self.previous.get((PREFIX + name, tuple(sorted((k, str(v)) for k, v in labels.items()))))

    def counter(self, name, help_text, increment, **labels):
        before = self.before(name, **labels)
        if before is None or before < 0 or math.isnan(before) or math.isinf(before):
            before = 0
        self.add(name, "counter", help_text, before + increment, **labels)

    def text(self):
        lines = []
        for name in self.families:
            kind, help_text, samples = self.index[name]
            lines.append("# HELP %s %s" % (name, help_text.replace("\\", "\\\\").replace("\n", "\\n")))
            lines.append("# TYPE %s %s" % (name, kind))
            for labels, value in samples:
                label_text = ",".join('%s="%s"' % (key, escape_label_value(labels[key])) for key in sorted(labels))
                lines.append("%s%s %s" % (name, "{%s}" % label_text if label_text else "", _format_value(value)))
        return "\n".join(lines) + "\n"


def prometheus_text(report, previous_text=None):
    """``report`` (from :func:`build_report`) as Prometheus text; ``previous_text`` is the last file's.

    From the previous text come the counters (``*_total``), the time of the last success (kept when
    this run failed or was skipped), and a zone's record and address counts when this run could not
    tell them (the zone was refused or failed: what is published did not change).
    """
    out = _Exposition(parse_samples(previous_text))
    finished = report["finished_epoch"]
    success = bool(report.get("success"))
    skipped = report.get("skipped") is not None

    last_success = finished if success else out.before("sync_last_success_timestamp_seconds")
    out.add("sync_last_run_timestamp_seconds", "gauge", "When the last sync run finished (Unix time).", finished)
    out.add("sync_last_success_timestamp_seconds", "gauge",
            "When the last sync run that held the lock finished without a failure (Unix time; 0: never).",
            last_success or 0)
    out.add("sync_success", "gauge", "1 when the last run did not fail (it synced, or another run held the lock).",
            1 if report["ok"] else 0)
    out.add("sync_skipped", "gauge", "1 when the last run did nothing because another run held the lock.",
            1 if skipped else 0)
    out.add("sync_duration_seconds", "gauge", "How long the last run took.", report["duration_seconds"])
    result = "skipped" if skipped else ("success" if report["ok"] else "failure")
    for value in RUN_RESULTS:
        out.counter("sync_runs_total", "Sync runs, by result.", 1 if value == result else 0, result=value)
    out.counter("sync_refusals_total", "Zones refused by a safety valve (shrink guard, Infoblox), summed over runs.",
                report["totals"]["zones_refused"])

    zones = [report["zones"][name] for name in sorted(report["zones"])]
    # A zone this run did not get as far as counting (refused, failed) keeps its last known figure.
    for metric, key, help_text in (
            ("zone_records", "records", "Address records of the zone as the last run left it."),
            ("zone_published_addresses", "published", "Published addresses of the zone after flap damping.")):
        for zone in zones:
            value = zone[key]
            if value is None:
                value = out.before(metric, zone=zone["zone"])
            if value is not None:
                out.add(metric, "gauge", help_text, value, zone=zone["zone"])
    for zone in zones:
        for action in CHANGE_ACTIONS:
            out.add("zone_changes", "gauge", "Records the last run created, updated or deleted (Infoblox, else the "
                    "zone file).", zone["changes"][action], zone=zone["zone"], action=action)
    for zone in zones:
        for action in CHANGE_ACTIONS:
            out.counter("zone_record_changes_total", "Records created, updated or deleted, summed over runs.",
                        zone["changes"][action], zone=zone["zone"], action=action)
    damping = (("pending", "Healthy addresses waiting for the hold-down."),
               ("in_grace", "Failing addresses still published during the grace time."),
               ("suppressed", "Addresses suppressed for flapping."),
               ("kept", "Addresses kept published while every instance of their name fails (policy keep)."))
    for key, help_text in damping:
        for zone in zones:
            if zone[key] is not None:
                out.add("zone_%s_addresses" % key, "gauge", help_text, zone[key], zone=zone["zone"])
    for zone in zones:
        if zone["push"] is not None:
            out.add("zone_conflicts", "gauge", "Records the collection does not own that block a desired record or "
                    "serve an unhealthy address of a published name.",
                    zone["push"]["conflicts"], zone=zone["zone"])
    for zone in zones:
        serial = (zone["zone_file"] or {}).get("serial")
        if serial is not None:
            out.add("zone_serial", "gauge", "SOA serial of the zone file.", serial, zone=zone["zone"])
    for zone in zones:
        out.add("zone_refused", "gauge", "1 when the last run refused the zone (a safety valve).",
                1 if zone["refused"] is not None else 0, zone=zone["zone"])
    for zone in zones:
        out.add("zone_failed", "gauge", "1 when the last run failed on the zone (not a refusal).",
                1 if zone["error"] is not None else 0, zone=zone["zone"])
    return out.text()


# ---------------------------------------------------------------------------------------------------
# Files


def _make_directories(directory):
    """Create ``directory`` and missing parents with mode 0755 whatever the umask (the job runs with 077,
    and node_exporter, another user, must get through to the metrics file)."""
    missing = []
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, DIR_MODE)
        except OSError:
            if not os.path.isdir(path):
                raise
            continue  # made meanwhile by another run: leave its mode alone
        os.chmod(path, DIR_MODE)


def _atomic_write(path, text, mode=FILE_MODE):
    """Replace ``path`` with ``text``: temporary file in its directory (created if missing), rename."""
    path = os.path.abspath(path)
    directory, name = os.path.split(path)
    _make_directories(directory)
    # Its leading dot and .tmp suffix make node_exporter's textfile collector ignore the temporary file.
    tmp_path = write_temp_file(directory, name, text)
    try:
        os.chmod(tmp_path, mode)
        os.rename(tmp_path, path)
    except BaseException:
        try:
            os.unlink(tmp_path)
        except OSError:
            pass
        raise
    fsync_directory(directory)
    return path


def report_json(report):
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def write_json(path, report):
    """Write ``report`` as JSON to ``path`` atomically (mode 0644); returns the absolute path."""
    return _atomic_write(path, report_json(report))


def write_textfile(path, text):
    """Write metrics ``text`` to ``path`` atomically (mode 0644); returns the absolute path."""
    return _atomic_write(path, text)


def write_metrics(path, report):
    """Write the metrics of ``report`` to ``path``, carrying counters on from the file already there."""
    return write_textfile(path, prometheus_text(report, read_text(path)))


def read_text(path):
    """The text of ``path``, or None when it does not exist or cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except (IOError, OSError):
        return None
