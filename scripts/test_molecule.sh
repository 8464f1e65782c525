#!/usr/bin/env bash
# Molecule stage: real podman containers with systemd, the real Consul 1.8.7 from Debian's
# bullseye .deb installed through the role's offline package_file path.
#   scripts/test_molecule.sh [scenario ...]   (default: every wired scenario)
# Builds the base image when missing, points podman at the project's containers.conf (runc,
# ulimits; /etc is not touched), makes the throwaway ssh key Ansible connects with (once, in
# .cache/molecule-ssh/), downloads the wheels scenario zone_sync installs offline, stops that
# scenario's WAPI simulator at exit, and fails when any scenario fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$root/.venv/bin:$PATH"
export CONTAINERS_CONF="$root/extensions/molecule/containers.conf"
export ANSIBLE_CONFIG="$root/ansible.cfg"
export ANSIBLE_COLLECTIONS_PATH="$root/.cache/collections"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 ANSIBLE_NOCOLOR=1

[ -e .cache/collections/ansible_collections/geant/consul_dns ] || bash scripts/bootstrap.sh
bash scripts/fetch_consul.sh >/dev/null
deb=$(ls "$root"/.cache/apt-bullseye/consul_*.deb "$root"/.cache/apt-bullseye/archives/consul_*.deb 2>/dev/null | head -1 || true)
[ -n "$deb" ] || { echo "test_molecule: no consul .deb in .cache/apt-bullseye" >&2; exit 1; }
export CONSUL_DNS_DEB="$deb"
bash scripts/build_base_image.sh

# The scenarios connect over ssh (pipelining, persistent master connections): a throwaway key
# pair, authorized for root in the containers (mounted at create time), never used elsewhere.
keydir="$root/.cache/molecule-ssh"
if [ ! -s "$keydir/id_ed25519" ] || [ ! -s "$keydir/id_ed25519.pub" ]; then
  mkdir -p "$keydir" && chmod 700 "$keydir"
  rm -f "$keydir/id_ed25519" "$keydir/id_ed25519.pub"
  ssh-keygen -q -t ed25519 -N '' -C consul-dns-molecule -f "$keydir/id_ed25519"
fi
# Master connections of this run only: a later run (same container addresses) never reuses
# one left to a destroyed container. Closed and removed at exit.
ANSIBLE_SSH_CONTROL_PATH_DIR=$(mktemp -d /tmp/consul-dns-ssh.XXXXXX)
export ANSIBLE_SSH_CONTROL_PATH_DIR
close_masters() {
  local s
  for s in "$ANSIBLE_SSH_CONTROL_PATH_DIR"/*; do
    [ -S "$s" ] && ssh -o ControlPath="$s" -O exit dummy >/dev/null 2>&1 || true
  done
  rm -rf "$ANSIBLE_SSH_CONTROL_PATH_DIR"
}
with_zone_sync=0
with_secure=0
cleanup() {
  close_masters
  # Scenarios zone_sync and secure: their WAPI simulators on the host, also when a scenario failed
  # half-way (secure's has its own state dir, hence its own pid file).
  [ "$with_zone_sync" = 0 ] || bash extensions/molecule/zone_sync/wapi_simulator.sh stop || true
  [ "$with_secure" = 0 ] || WAPI_STATE_DIR="$root/.cache/molecule-secure" \
    bash extensions/molecule/zone_sync/wapi_simulator.sh stop || true
}
trap cleanup EXIT

scenarios=("$@")
# The longest first, so that the two lanes end close together.
[ ${#scenarios[@]} -gt 0 ] || scenarios=(zone_sync secure day2 default)

# Scenarios zone_sync and secure install the sync's virtualenv offline (zone_sync_wheelhouse, pip --no-index
# --require-hashes): the wheels of the role's requirements file (exact versions and hashes),
# downloaded once through the host's pip configuration into .cache/molecule-wheels (mounted
# read-only into the containers) and again when the file changes. The host's virtualenv has the
# containers' Python (3.11 on Debian 12), so the wheels fit them.
[[ " ${scenarios[*]} " != *" zone_sync "* ]] || with_zone_sync=1
[[ " ${scenarios[*]} " != *" secure "* ]] || with_secure=1
if [ "$with_zone_sync" = 1 ] || [ "$with_secure" = 1 ]; then
  wheels="$root/.cache/molecule-wheels"
  requirements=roles/zone_sync/files/requirements.txt
  want=$(sha256sum "$requirements" | cut -d' ' -f1)
  if [ "$want" != "$(cat "$wheels/.requirements" 2>/dev/null)" ]; then
    echo "=== wheels for zone_sync: $requirements"
    # Emptied, not replaced: the folder may be mounted in a container still.
    mkdir -p "$wheels" && find "$wheels" -mindepth 1 -delete
    pip download -q --disable-pip-version-check --require-hashes --no-deps --only-binary :all: \
      -d "$wheels" -r "$requirements"
    printf '%s\n' "$want" >"$wheels/.requirements"
  fi
fi

# Scenarios run in MOLECULE_JOBS parallel lanes (default 2): each has its own containers, addresses
# (10.88.21x.0/24) and ephemeral directory, so only two runs of the same scenario clash - a lock per
# scenario (/tmp/geant-molecule-<scenario>.lock) serialises those, also across checkouts. Each
# scenario's output goes to a log printed whole when it ends, so lanes do not interleave.
jobs=${MOLECULE_JOBS:-2}
logs=$(mktemp -d /tmp/consul-dns-molecule-logs.XXXXXX)
run_scenario() {
  local s=$1 t0=$SECONDS rc=0
  flock "/tmp/geant-molecule-$s.lock" molecule test -s "$s" >"$logs/$s.log" 2>&1 || rc=$?
  {
    echo "=== molecule test -s $s"
    cat "$logs/$s.log"
    if [ "$rc" = 0 ]; then echo "=== molecule $s: passed in $((SECONDS - t0))s"
    else echo "=== molecule $s: FAILED after $((SECONDS - t0))s"; fi
  } | flock "$logs/.print" cat
  echo "$rc" >"$logs/$s.rc"
}
failed=()
start=$SECONDS
for s in "${scenarios[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_scenario "$s" &
done
wait
for s in "${scenarios[@]}"; do
  [ "$(cat "$logs/$s.rc" 2>/dev/null)" = 0 ] || failed+=("$s")
done
# A failed scenario's failed tasks and their messages, once more, one line each, last: the whole
# log above is too long for the end of a CI printout, which may keep only its last lines. Lines
# start with "=== molecule" so that test.sh's summary keeps them.
for s in "${failed[@]}"; do
  python scripts/molecule_failures.py "$logs/$s.log" "$s" || true
done
rm -rf "$logs"
echo "=== molecule stage: ${#scenarios[@]} scenario(s), $((${#scenarios[@]} - ${#failed[@]})) passed, ${#failed[@]} failed${failed[*]:+ (${failed[*]})}, $((SECONDS - start))s, $jobs lane(s)"
[ ${#failed[@]} -eq 0 ]
