"""Chaos soak: a real Consul cluster, the WAPI simulator, BIND and the sync in watch and timer mode under
a seeded schedule of faults; invariants checked from outside; figures as a table and JSON.

    .venv/bin/python -m bench.chaos [--profile short|long] [--seed N] [--output FILE.json]

Exit status: 0 with no invariant violation, 1 with violations (the seed to replay is printed), 3 when
the watchdog had to stop a run that overran. See bench/README.md, "Chaos soak".
"""
import argparse
import os
import random
import sys
import time

from bench import REPO_ROOT, COLLECTIONS
from bench.chaos import figures
from bench.chaos.config import PROFILES
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
    return parser.parse_args(argv)


def main(argv=None):
    options = parse_args(argv)
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(1, 2 ** 31)
    block = options.address_block or "127.211.%d" % (os.getpid() % 200 + 20)
    output = options.output or str(DEFAULT_OUTPUT) % options.profile
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(COLLECTIONS)  # the timer's playbook: the same collection
    start = time.time()

    def log(message):
        print("[chaos %6.1fs] %s" % (time.time() - start, message), flush=True)

    log("seed %d (replay: python -m bench.chaos --profile %s --seed %d); collection %s; addresses %s.x"
        % (seed, options.profile, seed, COLLECTIONS, block))
    fig = Soak(seed, options.profile, block, log, options.workdir).run()
    if fig is None:
        log("the soak did not get far enough to produce figures")
        return 2
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    figures.write(fig, output)
    print(figures.table(fig), flush=True)
    print("figures: %s" % output, flush=True)
    if fig["violations"]["total"]:
        print("FAILED: %d invariant violation(s); replay with --profile %s --seed %d"
              % (fig["violations"]["total"], options.profile, seed), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
