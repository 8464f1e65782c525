"""The soak's figures: built from what the bed, the taps, the observer and the checker recorded; printed
as a table and written as JSON."""
import json
import re

from bench.chaos.config import ZONE
from bench.chaos.invariants import quantiles
from bench.chaos.schedule import KINDS


def lock_handovers(timeline, kills=()):
    """``[{"from", "to", "at", "gap", "since_kill"}]``: each time a new session took the lock key; ``gap``:
    the seconds the key stood free before (0 when one session followed another directly); ``since_kill``:
    when the holder had been killed (``kills``: times), the seconds from the kill."""
    out = []
    last, freed = None, None
    for t, holder, session in timeline:
        if session is None:
            if last is not None and freed is None:
                freed = t
            continue
        if last is not None and session != last[1]:
            killed = [k for k in kills if last[2] < k < t]
            out.append({"from": last[0], "to": holder, "at": t, "gap": round(t - freed, 3) if freed is not None
                        else 0.0, "since_kill": round(t - killed[-1], 3) if killed else None})
        last, freed = (holder, session, t), None
    return out


def writes_per_flap(checker, injector, taps, zone):
    """WAPI writes per fall of a flapping check: for each ``flap`` fault, the falls of its instance during
    the fault, and the writes touching its DNS name from the fault's start until 10 s after its end (other
    changes of that name in the same window count too: an upper bound)."""
    writes = falls = 0
    entries = [e for tap in taps.values() for e in tap.since(0) if e["kind"] == "write"]
    for fault in injector.faults:
        if fault.kind != "flap" or fault.end is None:
            continue
        iid = fault.spec.params["instance"]
        name = "%s.%s" % (iid.split("-", 1)[0], zone)
        falls += sum(1 for t, who, healthy in checker.transitions
                     if who == iid and not healthy and fault.start <= t <= fault.end)
        writes += sum(1 for e in entries if fault.start <= e["start"] <= fault.end + 10 and name in e.get("names", ()))
    return {"writes": writes, "flaps": falls, "per_flap": round(writes / float(falls), 3) if falls else None}


def build(run):
    """The figures of a finished soak ``run`` (bench.chaos.run.Soak)."""
    checker, injector, bed = run.checker, run.injector, run.bed
    t0, seconds = run.t0, run.seconds
    faults = dict((kind, {"injected": 0, "skipped": 0, "seconds": 0.0}) for kind in KINDS)
    for fault in injector.faults:
        entry = faults[fault.kind]
        if fault.status.startswith("skipped"):
            entry["skipped"] += 1
            continue
        entry["injected"] += 1
        entry["seconds"] = round(entry["seconds"] + max(0.0, (fault.end or fault.start) - fault.start), 1)
    calls = {}
    for name, tap in bed.taps.items():
        entries = tap.since(0)
        calls[name] = {"reads": sum(1 for e in entries if e["kind"] == "read"),
                       "writes": sum(1 for e in entries if e["kind"] == "write"),
                       "other": sum(1 for e in entries if e["kind"] == "other")}
    total = dict((k, sum(c[k] for c in calls.values())) for k in ("reads", "writes", "other"))
    hours = seconds / 3600.0
    kills = [f.start for f in injector.faults if f.kind == "watch_kill" and "killed" in f.note]
    handovers = lock_handovers(checker.lock_timeline, kills)
    for entry in handovers:
        entry["at"] = round(entry["at"] - t0, 2)
    watches = {}
    for name, driver in bed.watches.items():
        cpu = driver.cpu_seconds()
        watches[name] = {"cpu_seconds": round(cpu, 2), "cpu_percent": round(100 * cpu / seconds, 2),
                         "peak_rss_mib": round(driver.rss_max / 1048576.0, 1), "incarnations": driver.incarnations,
                         "syncs": len(re.findall(r"INFO sync \d+ ", driver.log()))}
    timer_runs = bed.timer.runs
    no_leader = sum(((end or t0 + seconds) - start) for start, end in checker.no_leader_periods)
    samples = checker.samples
    return {
        "seed": run.seed, "profile": run.profile_name, "seconds": round(seconds, 1),
        "machine": run.machine, "bounds": run.bounds.describe(), "settings": bed.settings,
        "faults": faults,
        "violations": {"total": sum(checker.violation_counts.values()), "by_invariant": checker.violation_counts,
                       "list": checker.violations},
        "convergence": {
            "failure_to_withdrawn_infoblox": quantiles(samples["withdraw_wapi"]),
            "failure_to_withdrawn_dns": quantiles(samples["withdraw_dns"]),
            "failures_during_faults_or_holds": samples["withdraw_impaired"],
            "recovery_to_published_infoblox": quantiles(samples["recover_wapi"]),
            "recovery_to_published_dns": quantiles(samples["recover_dns"]),
            "recoveries_during_faults": samples["recover_impaired"],
            "samples": checker.sample_list,
        },
        "writes_per_flap": writes_per_flap(checker, injector, bed.taps, ZONE),
        "wapi": {"by_writer": calls, "total": total,
                 "per_hour": dict((k, round(v / hours)) for k, v in total.items()),
                 "writes_checked_against_lock": checker.writes_checked},
        "lock": {"handovers": len(handovers), "gap_seconds": quantiles([h["gap"] for h in handovers]),
                 "after_kill_seconds": quantiles([h["since_kill"] for h in handovers if h["since_kill"] is not None]),
                 "list": handovers},
        "watch_service": watches,
        "timer": {"runs": len(timer_runs), "synced": sum(1 for r in timer_runs if r["ok"] and not r["skipped"]),
                  "lock_held_elsewhere": sum(1 for r in timer_runs if r["skipped"]),
                  "failed": sum(1 for r in timer_runs if not r["ok"]), "ticks_skipped": bed.timer.skipped_ticks,
                  "failures": [r.get("error") for r in timer_runs if not r["ok"]]},
        "observation": {"ticks": run.observer.ticks, "late_ticks": run.observer.slow_ticks,
                        "dns_timeouts": run.observer.dns_timeouts, "wapi_read_errors": run.observer.wapi_errors,
                        "named_reloads": bed.named.reloads, "consul_without_leader_seconds": round(no_leader, 1),
                        "consul_transitions": len(checker.transitions)},
        "quiet_periods": checker.quiet_results,
        "corrupt_states": [dict((k, v) for k, v in c.items()
                                if k in ("value", "index", "rebuilt", "rebuilt_index", "by", "reported", "done"))
                           for c in checker.corruptions],
        "fault_list": [f.describe(t0) for f in injector.faults],
    }


def _q(entry):
    if not entry["n"]:
        return "-"
    return "p50 %.2f s  p99 %.2f s  max %.2f s  (n=%d)" % (entry["p50"], entry["p99"], entry["max"], entry["n"])


def table(fig):
    """The figures as text."""
    lines = ["Chaos soak, profile %s, seed %d: %.0f s; %s"
             % (fig["profile"], fig["seed"], fig["seconds"], fig["machine"])]
    b = fig["bounds"]
    allowances = ", ".join("%s %.1f s" % kv for kv in sorted(b["allowances_seconds"].items()) if kv[1])
    lines.append("Withdrawal bound: %.1f s after the failure, or after a fault's end + its allowance (%s)"
                 % (b["withdraw_seconds"], allowances))
    lines.append("")
    lines.append("%-20s %8s %8s %9s" % ("fault", "injected", "skipped", "seconds"))
    for kind, entry in fig["faults"].items():
        lines.append("%-20s %8d %8d %9.1f" % (kind, entry["injected"], entry["skipped"], entry["seconds"]))
    v = fig["violations"]
    lines.append("")
    lines.append("Invariant violations: %d%s" % (v["total"], "" if not v["total"] else "  (%s)" % ", ".join(
        "%s %d" % kv for kv in sorted(v["by_invariant"].items()))))
    c = fig["convergence"]
    lines.append("Failure -> withdrawn, Infoblox:     %s" % _q(c["failure_to_withdrawn_infoblox"]))
    lines.append("Failure -> withdrawn, BIND answers: %s" % _q(c["failure_to_withdrawn_dns"]))
    lines.append("  (failures during a fault or a policy hold, not in these figures: %d)"
                 % c["failures_during_faults_or_holds"])
    lines.append("Recovery -> published, Infoblox:    %s  (hold-down %.0f s included)" % (
        _q(c["recovery_to_published_infoblox"]), b["hold_down"]))
    lines.append("Recovery -> published, BIND:        %s" % _q(c["recovery_to_published_dns"]))
    w = fig["writes_per_flap"]
    lines.append("WAPI writes per fall of a flapping check: %s (%d writes touching the name, %d falls)" % (
        "-" if w["per_flap"] is None else "%.2f" % w["per_flap"], w["writes"], w["flaps"]))
    wapi = fig["wapi"]
    lines.append("WAPI requests per hour (all writers): %d reads, %d writes; total %d reads, %d writes" % (
        wapi["per_hour"]["reads"], wapi["per_hour"]["writes"], wapi["total"]["reads"], wapi["total"]["writes"]))
    lock = fig["lock"]
    lines.append("Lock hand-overs: %d; key free before the next holder: %s" % (
        lock["handovers"], _q(lock["gap_seconds"]) if lock["handovers"] else "-"))
    if lock["after_kill_seconds"]["n"]:
        lines.append("  after the holder's kill -9, next holder in: %s" % _q(lock["after_kill_seconds"]))
    for name, entry in sorted(fig["watch_service"].items()):
        lines.append("Watch service %s: CPU %.1f s (%.2f %% of a core), peak RSS %.1f MiB, %d syncs, %d start(s)" % (
            name, entry["cpu_seconds"], entry["cpu_percent"], entry["peak_rss_mib"], entry["syncs"],
            entry["incarnations"]))
    t = fig["timer"]
    lines.append("Timer runs: %d (%d synced, %d found the lock held, %d failed; %d ticks skipped)" % (
        t["runs"], t["synced"], t["lock_held_elsewhere"], t["failed"], t["ticks_skipped"]))
    o = fig["observation"]
    lines.append("Observation: %d ticks (%d late), %d DNS timeouts, %d WAPI read errors, %d named reloads, "
                 "Consul without leader %.1f s" % (o["ticks"], o["late_ticks"], o["dns_timeouts"],
                                                   o["wapi_read_errors"], o["named_reloads"],
                                                   o["consul_without_leader_seconds"]))
    for entry in v["list"][:30]:
        lines.append("  VIOLATION t=%.1fs %s: %s [active: %s; recovering: %s]" % (
            entry["t"], entry["invariant"], entry["detail"], ", ".join(entry["active"]) or "-",
            ", ".join(entry["recovering"]) or "-"))
    lines.append("Replay: python -m bench.chaos --profile %s --seed %d%s" % (
        fig["profile"], fig["seed"], " --without %s" % fig["without"] if fig.get("without") else ""))
    return "\n".join(lines)


def write(fig, path):
    with open(path, "w") as handle:
        json.dump(fig, handle, indent=1, sort_keys=True, default=str)
