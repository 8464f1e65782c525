#!/usr/bin/env bash
# The chaos soak, from any directory: bash bench/chaos.sh [--profile short|long] [--seed N] [--without lock|shrink-guard]
# (options: .venv/bin/python -m bench.chaos --help). Installs what it needs first (scripts/bootstrap.sh).
# Exit status 0: no invariant violated; 1: violations (the seed to replay is printed). See bench/README.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh >/dev/null
export ANSIBLE_CONFIG="$root/ansible.cfg"
exec .venv/bin/python -m bench.chaos "$@"
