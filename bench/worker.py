"""One cold sync engine run in a fresh interpreter, for its peak resident memory.

    python -m bench.worker VARIABLES_JSON   -> one JSON line on stdout

``VARIABLES_JSON``: the consul_dns_* variables (``engine_run.bench_variables``) as JSON; the caller
resets the zone to cold first. The peak is VmHWM from /proc/self/status (the high-water mark of this
process's own memory). ``ru_maxrss`` would not do: on Linux it carries the parent's resident size
across fork + exec, so a worker started by a large benchmark process would report the benchmark's size.
"""
import json
import sys

from bench.engine_run import sync  # imports everything the sync needs


def vm_hwm_kib():
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(argv):
    (variables,) = argv
    baseline = vm_hwm_kib()
    result = sync(json.loads(variables))
    result["peak_rss_kib"] = vm_hwm_kib()
    result["peak_rss_after_imports_kib"] = baseline
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
