"""Benchmark: the sync engine, Consul (dev agent) -> zone file + Infoblox (WAPI simulator), vs a nios_a_record loop.

    .venv/bin/python -m bench [--sizes 500x4,2500x4] [--runs 5] [--playbook-runs 3] [--loop-records 200]
                              [--quick] [--output bench/results/latest.json]

Prints a table and writes the figures as JSON. See bench/README.md for what each figure means.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid

from bench import REPO_ROOT
from bench.consul_seed import ZONE, SeededConsul
from bench.convergence import Convergence
from bench.engine_run import bench_variables, consul_read, sync
from bench.nios import NiosSimulator
from bench import playbooks

DEFAULT_OUTPUT = REPO_ROOT / "bench" / "results" / "latest.json"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500x4,2500x4",
                        help="comma-separated SERVICESxINSTANCES (default 500x4,2500x4: 2,000 and 10,000 records)")
    parser.add_argument("--runs", type=int, default=5, help="runs per in-process figure; the median is shown")
    parser.add_argument("--playbook-runs", type=int, default=3, help="runs per ansible-playbook figure (median)")
    parser.add_argument("--loop-records", type=int, default=200,
                        help="records in the side-by-side (nios_a_record loop vs infoblox_zone_sync module)")
    parser.add_argument("--loop-runs", type=int, default=1,
                        help="runs of the nios_a_record loop (median); 0 skips the side-by-side")
    parser.add_argument("--change-percent", type=float, default=1.0, help="instances flipped in the change runs")
    parser.add_argument("--no-playbooks", action="store_true", help="skip every ansible-playbook measurement")
    parser.add_argument("--convergence-trials", type=int, default=10,
                        help="watch mode: checks turned critical, one at a time, at the first size (0: skip)")
    parser.add_argument("--timer-trials", type=int, default=3, help="timer mode: zone_sync playbook runs timed")
    parser.add_argument("--timer-period", type=float, default=60, help="timer mode: seconds between ticks (role: 60)")
    parser.add_argument("--timer-random-delay", type=float, default=15,
                        help="timer mode: systemd RandomizedDelaySec (role: 15)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 25x4 records, 2 runs, 1 playbook run, 10 records in the side-by-side")
    parser.add_argument("--consul-address", default="127.201.0.1", help="loopback address of the Consul dev agent")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT), help="JSON results file")
    parser.add_argument("--print", metavar="JSON", dest="print_file",
                        help="only print the table of an earlier run's JSON file, measure nothing")
    options = parser.parse_args(argv)
    if options.print_file:
        return options
    if options.quick:
        options.sizes, options.runs, options.playbook_runs = "25x4", 2, 1
        options.loop_records, options.loop_runs = 10, 1
        options.convergence_trials, options.timer_trials = 3, 1
    options.sizes = [tuple(int(n) for n in item.lower().split("x")) for item in options.sizes.split(",") if item]
    instances = set(i for _s, i in options.sizes)
    if len(instances) != 1:
        parser.error("every size needs the same instance count (the catalog grows from one size to the next)")
    options.sizes.sort()
    return options


def median(values):
    return statistics.median(values)


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "")
    except OSError:
        pass
    mem_kib = 0
    try:
        with open("/proc/meminfo") as handle:
            mem_kib = int(next(line.split()[1] for line in handle if line.startswith("MemTotal")))
    except (OSError, StopIteration):
        pass
    from tests.consul_testbed.agent import consul_binary
    consul_version = subprocess.run([consul_binary(), "version"], capture_output=True, text=True,
                                    check=True).stdout.split("\n")[0]
    import ansible
    return {"nproc": os.cpu_count(), "cpu_model": model, "mem_total_gib": round(mem_kib / 1048576.0, 1),
            "python": platform.python_version(), "ansible_core": ansible.__version__, "consul": consul_version,
            "kernel": platform.release()}


class Bench(object):
    def __init__(self, options):
        self.o = options
        self.consul = SeededConsul(options.consul_address, instances=options.sizes[0][1])
        self.nios = NiosSimulator(ZONE)
        self.tmp = tempfile.mkdtemp(prefix="bench-")
        self.zone_dir = os.path.join(self.tmp, "zones")
        self.run_id = uuid.uuid4().hex[:8]
        self.variables = None  # the consul_dns_* settings, once the simulator's address is known
        self.results = {"machine": machine(), "config": {
            "sizes": ["%dx%d" % s for s in options.sizes], "runs": options.runs,
            "playbook_runs": options.playbook_runs, "loop_records": options.loop_records,
            "loop_runs": options.loop_runs, "change_percent": options.change_percent, "quick": options.quick,
            "convergence_trials": options.convergence_trials, "timer_trials": options.timer_trials,
            "statistic": "median", "path": "SyncEngine(load_settings(...)).run('playbook', 'bench')",
            "hold_down": 0, "lock": True, "report_file": "", "force": False, "zone_validate": "auto",
            "named_checkzone": shutil.which("named-checkzone"),
            "cold": "zone emptied in the simulator, zone file removed, damping state deleted from KV"}, "sizes": {}}

    def log(self, message):
        print("[bench %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)

    def reset_cold(self):
        """Cold start: the zone empty in the simulator, no zone file, no damping state (no force needed)."""
        self.nios.empty_zone()
        shutil.rmtree(self.zone_dir, ignore_errors=True)
        self.consul.delete_kv_prefix(self.variables["consul_dns_state_prefix"])

    # ---------------------------------------------------------------- one timed sync, in-process
    def sync_once(self):
        self.nios.clear_log()
        sim_before, consul_before = self.nios.cpu_seconds(), self.consul.cpu_seconds()
        run = sync(self.variables)
        run["simulator_cpu_seconds"] = self.nios.cpu_seconds() - sim_before
        run["consul_agent_cpu_seconds"] = self.consul.cpu_seconds() - consul_before
        run["wapi_calls"] = self.nios.calls()
        return run

    def read_once(self):
        consul_before, cpu_before = self.consul.cpu_seconds(), time.process_time()
        observed, seconds = consul_read(self.variables)
        return {"seconds": seconds, "cpu_seconds": time.process_time() - cpu_before,
                "consul_agent_cpu_seconds": self.consul.cpu_seconds() - consul_before,
                "http_calls": observed.http_calls, "records": len(observed.observations)}

    @staticmethod
    def summarize(runs):
        first = runs[0]
        out = dict((key, median([r[key] for r in runs])) for key in (
            "seconds", "cpu_seconds", "consul_read_seconds", "consul_agent_cpu_seconds", "wapi_seconds",
            "zone_file_seconds", "simulator_cpu_seconds"))
        out.update({
            "seconds_runs": [round(r["seconds"], 4) for r in runs],
            "consul_http_calls": first["consul_http_calls"],
            "wapi_calls": first["wapi_calls"],
            "wapi_calls_runs": [r["wapi_calls"] for r in runs],
            "requests": first["requests"],
            "summary": first["summary"],
            "records": first["records"],
            "state_written": first["state_written"],
            "runs": len(runs),
        })
        return out

    def measure_size(self, services, instances):
        key = str(services * instances)
        out = self.results["sizes"][key] = {"services": services, "instances": instances}
        start = time.perf_counter()
        records = self.consul.seed(services)
        out["records"] = records
        out["seed_seconds"] = round(time.perf_counter() - start, 2)
        self.log("%d records seeded in Consul (%.1f s)" % (records, out["seed_seconds"]))
        mu = out["module_utils"] = {}

        reads = [self.read_once() for _run in range(self.o.runs)]
        mu["consul_read"] = {
            "seconds": median([r["seconds"] for r in reads]), "seconds_runs": [round(r["seconds"], 4) for r in reads],
            "cpu_seconds": median([r["cpu_seconds"] for r in reads]),
            "consul_agent_cpu_seconds": median([r["consul_agent_cpu_seconds"] for r in reads]),
            "http_calls": reads[0]["http_calls"], "records": reads[0]["records"], "runs": len(reads)}
        assert reads[0]["records"] == records, "Consul read %d records, seeded %d" % (reads[0]["records"], records)
        self.log("consul read: %.3f s, %d HTTP calls" % (mu["consul_read"]["seconds"], mu["consul_read"]["http_calls"]))

        cold = []
        for _run in range(self.o.runs):
            self.reset_cold()
            cold.append(self.sync_once())
        mu["cold"] = self.summarize(cold)
        mu["cold"]["per_record_ms"] = 1000.0 * mu["cold"]["seconds"] / records
        self.log("cold: %.3f s, WAPI %s" % (mu["cold"]["seconds"], mu["cold"]["wapi_calls"]))

        mu["no_change"] = self.summarize([self.sync_once() for _run in range(self.o.runs)])
        self.log("no change: %.3f s, WAPI %s" % (mu["no_change"]["seconds"], mu["no_change"]["wapi_calls"]))

        flipped = max(1, int(round(records * self.o.change_percent / 100.0)))
        fail, recover = [], []
        for run in range(self.o.runs):
            items = self.consul.flip_set(services, flipped, offset=run)
            self.consul.set_status(items, "critical")
            fail.append(self.sync_once())
            self.consul.set_status(items, "passing")
            recover.append(self.sync_once())
        mu["change_fail"] = dict(self.summarize(fail), instances_changed=flipped)
        mu["change_recover"] = dict(self.summarize(recover), instances_changed=flipped)
        self.log("%d instances critical: %.3f s, WAPI %s; recovered: %.3f s"
                 % (flipped, mu["change_fail"]["seconds"], mu["change_fail"]["wapi_calls"],
                    mu["change_recover"]["seconds"]))

        mu["memory"] = self.memory()
        self.log("memory: %s" % mu["memory"])

        if not self.o.no_playbooks:
            out["ansible_playbook"] = self.playbook_runs(records)
        return out

    def playbook_runs(self, records):
        """ansible-playbook geant.consul_dns.zone_sync cold and no-change; the ping playbook between the
        no-change runs, so that both see the same machine."""
        cold, same, ping = [], [], []
        for _run in range(self.o.playbook_runs):
            self.reset_cold()
            cold.append(playbooks.timed(playbooks.ZONE_SYNC, self.nios, self.variables))
        cold_calls = self.nios.calls()
        assert self.nios.counts()["record:a"] == records
        for _run in range(self.o.playbook_runs):
            self.nios.clear_log()
            same.append(playbooks.timed(playbooks.ZONE_SYNC, self.nios, self.variables))
            same_calls = self.nios.calls()
            ping.append(playbooks.timed(playbooks.STARTUP, self.nios, {}))
        # WAPI calls: those of the last run (the log is cleared before each run)
        pb = {"cold": {"seconds": median(cold), "seconds_runs": [round(s, 3) for s in cold],
                       "wapi_calls": cold_calls, "runs": len(cold)},
              "no_change": {"seconds": median(same), "seconds_runs": [round(s, 3) for s in same],
                            "wapi_calls": same_calls, "runs": len(same)},
              "ping": {"seconds": median(ping), "seconds_runs": [round(s, 3) for s in ping], "runs": len(ping),
                       "what": "ansible-playbook with one ansible.builtin.ping task"}}
        pb["no_change_vs_ping"] = pb["no_change"]["seconds"] / pb["ping"]["seconds"]
        self.log("ansible-playbook %s: cold %.2f s, no change %.2f s; ping %.2f s; no change / ping %.2fx"
                 % (playbooks.ZONE_SYNC, pb["cold"]["seconds"], pb["no_change"]["seconds"], pb["ping"]["seconds"],
                    pb["no_change_vs_ping"]))
        return pb

    def memory(self):
        """tracemalloc peak of an in-process cold sync; VmHWM of a cold sync in a fresh interpreter."""
        self.reset_cold()
        tracemalloc.start()
        try:
            sync(self.variables)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        self.reset_cold()
        proc = subprocess.run([sys.executable, "-m", "bench.worker", json.dumps(self.variables)],
                              cwd=str(REPO_ROOT), capture_output=True, text=True, check=True)
        worker = json.loads(proc.stdout.strip().splitlines()[-1])
        return {"tracemalloc_peak_mib": round(peak / 1048576.0, 1),
                "peak_rss_mib": round(worker["peak_rss_kib"] / 1024.0, 1),
                "peak_rss_after_imports_mib": round(worker["peak_rss_after_imports_kib"] / 1024.0, 1),
                "what": "tracemalloc: peak of Python allocations during an in-process cold sync; peak_rss: VmHWM "
                        "of a fresh interpreter (python -m bench.worker) that ran one cold sync"}

    # ---------------------------------------------------------------- side by side
    def side_by_side(self):
        records = self.consul.a_records(self.o.loop_records)
        n = len(records)
        out = {"records": n}
        loop, loop_calls = [], None
        for _run in range(self.o.loop_runs):
            self.nios.empty_zone()
            loop.append(playbooks.timed(playbooks.NIOS_LOOP, self.nios, {"records": records}))
            loop_calls = self.nios.calls()
            assert self.nios.counts()["record:a"] == n
        self.nios.clear_log()
        loop_same = playbooks.timed(playbooks.NIOS_LOOP, self.nios, {"records": records})
        loop_same_calls = self.nios.calls()
        out["nios_a_record_loop"] = {
            "cold": {"seconds": median(loop), "seconds_runs": [round(s, 3) for s in loop], "wapi_calls": loop_calls,
                     "per_record_ms": 1000.0 * median(loop) / n, "runs": len(loop)},
            "no_change": {"seconds": loop_same, "wapi_calls": loop_same_calls, "per_record_ms": 1000.0 * loop_same / n,
                          "runs": 1}}
        self.log("nios_a_record loop, %d records: cold %.1f s, no change %.1f s" % (n, median(loop), loop_same))

        ours, ours_same = [], []
        extra = {"records": records, "zone": ZONE}
        for _run in range(self.o.playbook_runs):
            self.nios.empty_zone()
            ours.append(playbooks.timed(playbooks.INFOBLOX_ZONE_SYNC, self.nios, extra))
        ours_calls = self.nios.calls()
        assert self.nios.counts()["record:a"] == n
        for _run in range(self.o.playbook_runs):
            self.nios.clear_log()
            ours_same.append(playbooks.timed(playbooks.INFOBLOX_ZONE_SYNC, self.nios, extra))
        ours_same_calls = self.nios.calls()
        out["infoblox_zone_sync_playbook"] = {
            "cold": {"seconds": median(ours), "seconds_runs": [round(s, 3) for s in ours], "wapi_calls": ours_calls,
                     "per_record_ms": 1000.0 * median(ours) / n, "runs": len(ours)},
            "no_change": {"seconds": median(ours_same), "seconds_runs": [round(s, 3) for s in ours_same],
                          "wapi_calls": ours_same_calls, "per_record_ms": 1000.0 * median(ours_same) / n,
                          "runs": len(ours_same)}}
        loop_ms = out["nios_a_record_loop"]["cold"]["per_record_ms"]
        out["ratios"] = {
            "nios_loop_vs_zone_sync_playbook_same_records": loop_ms / out["infoblox_zone_sync_playbook"]["cold"]["per_record_ms"],
            "nios_loop_no_change_vs_zone_sync_playbook_no_change": (
                out["nios_a_record_loop"]["no_change"]["per_record_ms"]
                / out["infoblox_zone_sync_playbook"]["no_change"]["per_record_ms"]),
        }
        loop_same_ms = out["nios_a_record_loop"]["no_change"]["per_record_ms"]
        for key, size in self.results["sizes"].items():
            mu = size["module_utils"]
            out["ratios"]["nios_loop_vs_engine_cold_%s" % key] = loop_ms / mu["cold"]["per_record_ms"]
            out["ratios"]["nios_loop_no_change_vs_engine_no_change_%s" % key] = (
                loop_same_ms / (1000.0 * mu["no_change"]["seconds"] / size["records"]))
        self.results["side_by_side"] = out

    # ---------------------------------------------------------------- driver
    def run(self):
        self.results["machine"]["loadavg_start"] = os.getloadavg()
        self.log("starting Consul dev agent on %s and the WAPI simulator" % self.o.consul_address)
        self.consul.start()
        self.nios.start()
        self.variables = bench_variables(self.consul.url, self.nios, ZONE, self.zone_dir, self.run_id)
        try:
            for number, (services, instances) in enumerate(self.o.sizes):
                self.measure_size(services, instances)
                if number == 0 and self.o.convergence_trials > 0:
                    self.results["convergence"] = Convergence(self.consul, self.nios, services, self.log).measure(
                        self.o.convergence_trials, self.o.timer_trials, self.o.timer_period,
                        self.o.timer_random_delay, timer=not self.o.no_playbooks and self.o.timer_trials > 0)
            if not self.o.no_playbooks and self.o.loop_runs > 0:
                self.side_by_side()
        finally:
            self.nios.stop()
            self.consul.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.results["machine"]["loadavg_end"] = os.getloadavg()
        return self.results


def fmt(value, digits=3):
    if value is None:
        return "-"
    if isinstance(value, float):
        return "%.*f" % (digits, value)
    return str(value)


def ratio_order(key):
    """Cold before no-change ratios; the ansible-playbook one before the in-process ones."""
    return not key.startswith("nios_loop_vs"), "engine" in key or "module_utils" in key, key


ROW = "%-7s %-40s %7s %7s %7s %7s %7s %9s %7s %6s %6s %8s"


def table(results):
    cfg = results["config"]
    m = results["machine"]
    path = ("the sync engine (SyncEngine.run, what the action plugin geant.consul_dns.zone_sync runs; hold-down 0, "
            "lock on, zone files validated by %s)" % (cfg.get("named_checkzone") or "nothing"))
    if "path" not in cfg:
        path = "the side pipeline measured before the sync engine (Consul read + Infoblox push only)"
    lines = ["", "Machine: %s CPU(s), %s, %s GiB; Python %s, ansible-core %s, %s; load average %s at start, %s at end"
             % (m["nproc"], m["cpu_model"], m["mem_total_gib"], m["python"], m["ansible_core"], m["consul"],
                "/".join("%.1f" % x for x in m.get("loadavg_start", ())),
                "/".join("%.1f" % x for x in m.get("loadavg_end", ()))),
             "Medians of %d runs (ansible-playbook rows: %d runs). Seconds. 'in-process' = %s in one Python "
             "process, no Ansible." % (cfg["runs"], cfg["playbook_runs"], path),
             "wall = elapsed, of which consul / wapi / zone file (the rest: settings, lock, damping and its state); "
             "our CPU = CPU of the syncing process (all threads); Consul CPU / sim CPU = CPU of the Consul agent / of "
             "the WAPI simulator (the NIOS stand-in, its own process: not ours to claim).", ""]
    header = ROW % ("records", "scenario", "wall", "consul", "wapi", "zonefile", "our CPU", "ConsulCPU", "sim CPU",
                    "reads", "writes", "wall/rec")
    lines += [header, "-" * len(header)]
    for key, size in sorted(results["sizes"].items(), key=lambda kv: int(kv[0])):
        mu = size["module_utils"]
        cr = mu["consul_read"]
        lines.append(ROW % (key, "Consul read alone, %d HTTP calls" % cr["http_calls"], fmt(cr["seconds"]),
                            fmt(cr["seconds"]), "-", "-", fmt(cr["cpu_seconds"], 2),
                            fmt(cr["consul_agent_cpu_seconds"], 2), "-", "-", "-",
                            "%.3fms" % (1000.0 * cr["seconds"] / size["records"])))
        for name, label in (("cold", "cold sync (empty zone)"), ("no_change", "no-change sync"),
                            ("change_fail", "%s%% instances -> critical" % fmt(cfg["change_percent"], 0)),
                            ("change_recover", "%s%% instances recover" % fmt(cfg["change_percent"], 0))):
            row = mu[name]
            calls = row["wapi_calls"]
            lines.append(ROW % (
                key, "in-process " + label, fmt(row["seconds"]), fmt(row["consul_read_seconds"]),
                fmt(row["wapi_seconds"]), fmt(row.get("zone_file_seconds")), fmt(row["cpu_seconds"], 2),
                fmt(row["consul_agent_cpu_seconds"], 2),
                fmt(row["simulator_cpu_seconds"], 2), calls["reads"], calls["writes"],
                "%.3fms" % (1000.0 * row["seconds"] / size["records"])))
        pb = size.get("ansible_playbook")
        if pb:
            what = "zone_sync" if "ping" in pb else "lookup+module"  # before the engine: lookup + module
            for name, label in (("cold", "ansible-playbook %s cold" % what),
                                ("no_change", "ansible-playbook %s no-change" % what),
                                ("ping", "ansible-playbook, one ping task")):
                row = pb.get(name)
                if row:
                    calls = row.get("wapi_calls") or {}
                    lines.append(ROW % (
                        key, label, fmt(row["seconds"], 2), "-", "-", "-", "-", "-", "-", calls.get("reads", "-"),
                        calls.get("writes", "-"),
                        "%.3fms" % (1000.0 * row["seconds"] / size["records"]) if calls else "-"))
            if "no_change_vs_ping" in pb:
                lines.append("%-7s %-40s %.2fx (target: at most 2x)" % (key, "zone_sync no-change / ping",
                                                                        pb["no_change_vs_ping"]))
        mem = mu["memory"]
        lines.append("%-7s %-40s tracemalloc peak %s MiB; peak RSS (VmHWM) of a fresh process %s MiB (%s after "
                     "imports)" % (key, "memory of a cold sync", mem["tracemalloc_peak_mib"], mem["peak_rss_mib"],
                                   mem["peak_rss_after_imports_mib"]))
    if "ansible_startup" in results:
        lines += ["", "ansible-playbook start-up (one ansible.builtin.ping task): %.2f s"
                  % results["ansible_startup"]["seconds"]]  # results written before the sync engine
    conv = results.get("convergence")
    if conv:
        watch = conv["watch"]
        lines += ["", "Convergence, check critical -> record deleted in the simulator (hold-down 0, %d records, "
                  "WAPI polled every %g s):" % (conv["records"], conv["poll_seconds"]),
                  "  %-44s median %6.2f s   worst %6.2f s   (%d trials; back after recovery: median %.2f s, "
                  "worst %.2f s)" % ("watch mode (consul-dns-zone-watch)", watch["deleted_seconds"]["median"],
                                     watch["deleted_seconds"]["worst"], watch["trials"],
                                     watch["recovered_seconds"]["median"], watch["recovered_seconds"]["worst"])]
        timer = conv.get("timer")
        if timer:
            lines += [
                "  %-44s median %6.2f s   worst %6.2f s   (computed: tick every %g s + up to %g s random delay; "
                "zone_sync playbook run measured: median %.2f s, worst %.2f s, %d runs)" % (
                    "timer mode (systemd timer, playbook)", timer["deleted_seconds"]["median"],
                    timer["deleted_seconds"]["worst"], timer["period_seconds"], timer["random_delay_seconds"],
                    timer["run_seconds"]["median"], timer["run_seconds"]["worst"], timer["trials"])]
    sbs = results.get("side_by_side")
    if sbs:
        n = sbs["records"]
        lines += ["", "Side by side, the same %d A records; cold = empty zone, no-change = all present "
                  "(WAPI calls per run):" % n]
        for key, label in (("nios_a_record_loop", "ansible-playbook, loop of nios_a_record"),
                           ("infoblox_zone_sync_playbook", "ansible-playbook, infoblox_zone_sync")):
            for mode in ("cold", "no_change"):
                row = sbs[key][mode]
                lines.append("  %-42s %-9s %8.2f s %9.2f ms/record   reads %4d writes %4d" % (
                    label, mode, row["seconds"], row["per_record_ms"], row["wapi_calls"]["reads"],
                    row["wapi_calls"]["writes"]))
        label = "in-process " + ("sync engine" if "path" in cfg else "module_utils (Consul + WAPI)")
        for key, size in sorted(results["sizes"].items(), key=lambda kv: int(kv[0])):
            for mode in ("cold", "no_change"):
                row = size["module_utils"][mode]
                lines.append("  %-42s %-9s %8.2f s %9.3f ms/record   (%s records)" % (
                    label, mode, row["seconds"], 1000.0 * row["seconds"] / size["records"], key))
        lines.append("  Per-record ratio, nios_a_record loop / ours:")
        for key in sorted(sbs["ratios"], key=ratio_order):
            lines.append("    %-62s %9.1fx" % (key, sbs["ratios"][key]))
    return "\n".join(lines)


def main(argv=None):
    options = parse_args(argv)
    if options.print_file:
        with open(options.print_file) as handle:
            print(table(json.load(handle)))
        return 0
    results = Bench(options).run()
    text = table(results)
    print(text)
    results["table"] = text
    os.makedirs(os.path.dirname(os.path.abspath(options.output)), exist_ok=True)
    with open(options.output, "w") as handle:
        json.dump(results, handle, indent=2, sort_keys=True)
    print("\nJSON: %s" % options.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
