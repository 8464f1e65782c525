"""One full sync in a fresh interpreter, for its peak resident memory.

    python -m bench.worker CONSUL_URL NIOS_HOST CA_PATH ZONE   -> one JSON line on stdout

The peak is VmHWM from /proc/self/status (the high-water mark of this process's own memory).
``ru_maxrss`` would not do: on Linux it carries the parent's resident size across fork + exec, so a
worker started by a large benchmark process would report the benchmark's size.
"""
import json
import sys

from bench.pipeline import full_sync  # imports everything the sync needs


def vm_hwm_kib():
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(argv):
    consul_url, nios_host, ca_path, zone = argv
    baseline = vm_hwm_kib()
    result = full_sync(consul_url, nios_host, ca_path, zone)
    result["peak_rss_kib"] = vm_hwm_kib()
    result["peak_rss_after_imports_kib"] = baseline
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
