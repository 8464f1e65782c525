"""One full sync in a fresh interpreter, for its peak resident memory (ru_maxrss).

    python -m bench.worker CONSUL_URL NIOS_HOST CA_PATH ZONE   -> one JSON line on stdout
"""
import json
import resource
import sys

from bench.pipeline import full_sync  # imports everything the sync needs


def main(argv):
    consul_url, nios_host, ca_path, zone = argv
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = full_sync(consul_url, nios_host, ca_path, zone)
    result["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["maxrss_after_imports_kib"] = baseline
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
