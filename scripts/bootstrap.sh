#!/usr/bin/env bash
# Install everything the demo and the tests need on a fresh Debian 12 machine.
# Idempotent: a second run only checks. Caches go to ignored folders (.venv, .cache).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

need_apt=()
for pair in named-checkzone:bind9-utils named:bind9 podman:podman runc:runc debootstrap:debootstrap \
            dig:dnsutils ip:iproute2 curl:curl dot:graphviz; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "bootstrap: apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! cmp -s requirements-dev.txt .venv/.requirements-dev.txt 2>/dev/null; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements-dev.txt
  cp requirements-dev.txt .venv/.requirements-dev.txt
fi

bash scripts/fetch_consul.sh >/dev/null

# py-consul, the maintained fork of python-consul2, installs the same 'consul' module: it lives in
# its own folder so the test suite can run a second time with it first on PYTHONPATH.
if [ ! -d .cache/py-consul/consul ]; then
  .venv/bin/pip install -q --no-deps --target .cache/py-consul "py-consul==1.8.0"
fi

# Ansible finds this checkout as the collection geant.consul_dns through a symlink.
mkdir -p .cache/collections/ansible_collections/geant
ln -sfn "$root" .cache/collections/ansible_collections/geant/consul_dns
echo "bootstrap: ready (venv .venv, consul $(.cache/consul/usr/bin/consul version | head -1))"
