#!/usr/bin/env bash
# Build the generated docs: the settings options of roles/zone_sync/meta/argument_specs.yml (from the
# settings schema, scripts/settings_docs.py), docs/reference/ (module, plugin and role reference from DOCUMENTATION
# blocks and meta/argument_specs.yml, by antsibull-docs) and docs/architecture.{svg,png} (from
# docs/architecture.dot, by Graphviz).
#   scripts/docs.sh          regenerate in place
#   scripts/docs.sh --check  fail when the committed generated docs are out of date
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$root/.cache/collections"
check=false; [ "${1:-}" = "--check" ] && check=true

out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
mkdir -p "$out/reference"
# The role's settings options come from the settings schema (scripts/settings_docs.py).
if $check; then python scripts/settings_docs.py --check >&2; else python scripts/settings_docs.py >&2; fi
# Lint first: broken DOCUMENTATION or argument_specs must fail here, not render as an error page.
antsibull-docs lint-collection-docs --plugin-docs --skip-rstcheck . >&2
antsibull-docs collection --use-current --squash-hierarchy --output-format simplified-rst \
  --dest-dir "$out/reference" geant.consul_dns >/dev/null
dot -Tsvg docs/architecture.dot -o "$out/architecture.svg"

if $check; then
  # SVG output can differ between Graphviz builds: the check is that the source still renders.
  if ! diff -r docs/reference "$out/reference" >&2; then
    echo "docs/reference is out of date: run scripts/docs.sh and commit the result" >&2
    exit 1
  fi
  echo "docs: reference up to date, architecture diagram renders"
else
  rm -rf docs/reference && cp -r "$out/reference" docs/reference
  cp "$out/architecture.svg" docs/architecture.svg
  dot -Tpng docs/architecture.dot -o docs/architecture.png
  echo "docs: regenerated docs/reference and docs/architecture.{svg,png}"
fi
