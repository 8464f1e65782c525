#!/usr/bin/env bash
# The benchmark, from any directory: bash bench/run.sh [--quick] [--sizes 500x4,2500x4] [--runs 5] ...
# (options: .venv/bin/python -m bench --help). Installs what it needs first (scripts/bootstrap.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh >/dev/null
export ANSIBLE_CONFIG="$root/ansible.cfg"
exec .venv/bin/python -m bench "$@"
