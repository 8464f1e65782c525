#!/usr/bin/env bash
# Produce the execution environment's build context (no container engine needed):
# build the collection tarball, then `ansible-builder create` into build/ee-context.
# `ansible-builder build` (or podman build of the context) makes the image where that can run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$root/.venv/bin:$PATH"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp awx/execution-environment.yml awx/requirements.yml "$work/"
ansible-galaxy collection build --force --output-path "$work" . >/dev/null
mv "$work"/geant-consul_dns-*.tar.gz "$work/geant-consul_dns.tar.gz"
rm -rf build/ee-context
ansible-builder create -f "$work/execution-environment.yml" -c build/ee-context --output-filename Containerfile >/dev/null
test -s build/ee-context/Containerfile
test -s build/ee-context/_build/collections/geant-consul_dns.tar.gz
grep -q "ansible-galaxy" build/ee-context/Containerfile
echo "ee: build context in build/ee-context (Containerfile, collection tarball, requirements)"
