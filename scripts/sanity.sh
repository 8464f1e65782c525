#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection (ansible-test wants the tree under
# ansible_collections/geant/consul_dns and resolves symlinks), locally, without containers.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$root/.venv/bin:$PATH"
# The pip version ansible-test bootstraps its venvs with (get_venv_packages' default).
pip_version=$(grep -oP "pip='\K[0-9.]+(?=')" "$(python -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py" | head -1)
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
cp scripts/ansible_test_get_pip.py "$cache/get_pip_${pip_version//./_}.py"
# Outside this git checkout: inside it, ansible-test would list files with git and skip ignored ones.
work="${TMPDIR:-/tmp}/geant-consul_dns-sanity"
dest="$work/ansible_collections/geant/consul_dns"
rm -rf "$work"
mkdir -p "$dest"
git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C "$dest"
cd "$dest"
ansible-test sanity --python "$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" --color no "$@"
