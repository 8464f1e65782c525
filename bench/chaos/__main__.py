"""Chaos soak: a real Consul cluster, the WAPI simulator, BIND and the sync in watch and timer mode under
a seeded schedule of faults; invariants checked from outside; figures as a table and JSON.

    .venv/bin/python -m bench.chaos [--profile short|long] [--seed N] [--output FILE.json]

Exit status: 0 with no invariant violation, 1 with violations (the seed to replay is printed), 3 when
the watchdog had to stop a run that overran. See bench/README.md, "Chaos soak".
"""
import argparse
import os
import random
import shutil
import signal
import sys
import time

from bench import REPO_ROOT, COLLECTIONS
from bench.chaos import figures
from bench.chaos.config import PROFILES
from bench.chaos.patched import PATCHES, patched_collection
from bench.chaos.run import Soak

DEFAULT_OUTPUT = REPO_ROOT / "bench" / "results" / "chaos-%s.json"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="short",
                        help="short: ~3 minutes (CI); long: 15-30 minutes, by hand")
    parser.add_argument("--seed", type=int, help="schedule seed (default: a random one, printed)")
    parser.add_argument("--address-block", help="loopback /24 for the Consul agents and named, e.g. 127.211.5 "
                                                "(default: from the process id)")
    parser.add_argument("--output", help="JSON figures (default bench/results/chaos-PROFILE.json)")
    parser.add_argument("--workdir", help="keep the bed's files (logs, zone file, reports) here")
    parser.add_argument("--without", choices=sorted(PATCHES),
                        help="run against a temporary copy of the collection with this safety removed (proves "
                             "the checks can fail; expect violations)")
    parser.add_argument("--max-violations", type=int,
                        help="stop the schedule once this many violations were seen")
    return parser.parse_args(argv)


def _terminated(signum, _frame):
    raise SystemExit("stopped by signal %d" % signum)  # the bed is stopped on the way out (finally blocks)


def main(argv=None):
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(1, 2 ** 31)
    block = options.address_block or "127.211.%d" % (os.getpid() % 200 + 20)
    output = options.output or str(DEFAULT_OUTPUT) % (
        options.profile + ("-without-%s" % options.without if options.without else ""))
    start = time.time()

    def log(message):
        print("[chaos %6.1fs] %s" % (time.time() - start, message), flush=True)

    collections = patched_collection(options.without) if options.without else COLLECTIONS
    replay = "python -m bench.chaos --profile %s --seed %d%s" % (
        options.profile, seed, " --without %s" % options.without if options.without else "")
    log("seed %d (replay: %s); collection %s%s; addresses %s.x" % (
        seed, replay, collections, " (WITHOUT %s: expect violations)" % options.without if options.without else "",
        block))
    try:
        fig = Soak(seed, options.profile, block, log, options.workdir, max_violations=options.max_violations,
                   collections=collections).run()
    finally:
        if options.without:
            shutil.rmtree(str(collections), ignore_errors=True)
    if fig is None:
        log("the soak did not get far enough to produce figures")
        return 2
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    fig["without"] = options.without
    figures.write(fig, output)
    print(figures.table(fig), flush=True)
    print("figures: %s" % output, flush=True)
    if fig["violations"]["total"]:
        print("FAILED: %d invariant violation(s); replay: %s" % (fig["violations"]["total"], replay), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
