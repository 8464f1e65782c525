#!/usr/bin/env bash
# The whole test suite: installs what it needs (scripts/bootstrap.sh), then runs
# unit + integration tests (real Consul, WAPI simulator), ansible-lint, and Molecule scenarios.
# Stages can be chosen: scripts/test.sh [pytest] [py-consul] [lint] [docs] [ee] [sanity] [molecule]  (default: all)
# With molecule and other stages, Molecule starts first in the background (its containers mostly
# wait: systemd, Consul elections, polls) and its output is printed when it ends; every stage runs
# even after another failed, and the script fails if any did (the list is printed last).
# TEST_MOLECULE_IN_BACKGROUND=0 runs it in its turn instead.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
stages=("$@"); [ ${#stages[@]} -gt 0 ] || stages=(pytest py-consul lint docs ee sanity molecule)

run_stage() {
  case "$1" in
    pytest) python -m pytest -n 2 --durations=30 ;;
    # The tests that read and write Consul through the collection's client (marker client_library)
    # again, with the maintained fork py-consul shadowing python-consul2. Not the others (the
    # drivers, the role, the demo, the bench, the chaos tests, WAPI-side tests): they judge what the
    # sync does with what it read, which the library does not change, and they are the longest.
    py-consul) PYTHONPATH="$root/.cache/py-consul" CONSUL_DNS_EXPECT_LIBRARY=py-consul \
                 python -m pytest -n 2 -m "consul and client_library" tests/integration ;;
    lint) ansible-lint --profile production ;;
    docs) bash scripts/docs.sh --check && antsibull-changelog lint ;;
    ee) bash scripts/ee_context.sh ;;
    sanity) bash scripts/sanity.sh ;;
    molecule) bash scripts/test_molecule.sh ;;
    *) echo "unknown stage $1" >&2; return 2 ;;
  esac
}

molecule_pid=""
if [[ " ${stages[*]} " == *" molecule "* ]] && [ ${#stages[@]} -gt 1 ] && [ "${TEST_MOLECULE_IN_BACKGROUND:-1}" = 1 ]; then
  molecule_log=$(mktemp /tmp/consul-dns-molecule-stage.XXXXXX)
  bash scripts/test_molecule.sh >"$molecule_log" 2>&1 &
  molecule_pid=$!
  trap '[ -z "$molecule_pid" ] || kill "$molecule_pid" 2>/dev/null || true' INT TERM
  echo "=== stage: molecule started in the background (its output comes at its end; meanwhile $molecule_log)"
fi
failed=()
# Each stage's output is kept so that a failed stage's end can be printed again last: Molecule's
# long output comes after the other stages and would otherwise bury which test failed.
stage_logs=$(mktemp -d /tmp/consul-dns-stage-logs.XXXXXX)
start=$SECONDS
for stage in "${stages[@]}"; do
  [ "$stage" != molecule ] || [ -z "$molecule_pid" ] || continue
  echo "=== stage: $stage"
  t0=$SECONDS
  if run_stage "$stage" 2>&1 | tee "$stage_logs/$stage"; then echo "=== stage $stage: passed in $((SECONDS - t0))s"
  else echo "=== stage $stage: FAILED after $((SECONDS - t0))s"; failed+=("$stage"); fi
done
if [ -n "$molecule_pid" ]; then
  rc=0
  wait "$molecule_pid" || rc=$?
  molecule_pid=""
  echo "=== stage: molecule"
  cat "$molecule_log"
  [ "$rc" = 0 ] || { failed+=(molecule); grep -E '^=== molecule' "$molecule_log" >"$stage_logs/molecule" || true; }
  rm -f "$molecule_log"
fi
for stage in "${failed[@]}"; do
  [ -s "$stage_logs/$stage" ] || continue
  echo "=== $stage failed; its last lines, and pytest's FAILED/ERROR lines:"
  grep -E '^(FAILED|ERROR) ' "$stage_logs/$stage" | head -40 || true
  tail -n 25 "$stage_logs/$stage"
done
rm -rf "$stage_logs"
echo "=== test.sh: ${#stages[@]} stage(s), failed: ${failed[*]:-none}, $((SECONDS - start))s"
[ ${#failed[@]} -eq 0 ]
