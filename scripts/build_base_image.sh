#!/usr/bin/env bash
# Build the local podman image the Molecule scenarios run on: Debian bookworm with systemd as
# PID 1, made with debootstrap (no container registry is used). Cheap when already done:
#   - the podman image localhost/consul-dns-base:bookworm is reused when present with the
#     current key (label consul-dns.revision: the revision below and a hash of the package list);
#   - else the rootfs tarball cached in .cache/images/ is imported;
#   - else debootstrap builds the rootfs (about a minute), which is cached first.
# Env: CONSUL_DNS_BASE_IMAGE (image name), CONSUL_DNS_DEBIAN_MIRROR (mirror), FORCE=1 (rebuild all).
# Needs root (debootstrap), podman and runc; CONTAINERS_CONF is set to the project's file.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image=${CONSUL_DNS_BASE_IMAGE:-localhost/consul-dns-base:bookworm}
cache="$root/.cache/images"
# Bump when the way the rootfs is made changes (the package list below is part of the key anyway).
revision=3
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/extensions/molecule/containers.conf}

# Packages the roles and the scenarios need at run time inside the containers:
# python3 + python3-apt (Ansible, apt module with deb=), systemd as init, adduser + pipexec +
# procps (Depends of Debian's consul package, installed offline from a .deb), iproute2,
# curl (checks), dnsutils (dig in verify), ca-certificates, sudo (become), openssh-server (the
# scenarios connect over ssh with pipelining: much faster than podman exec + podman cp),
# python3-venv + python3-packaging (role zone_sync: its virtualenv, and Ansible's pip module needs
# packaging in the system Python), so no container needs the Debian archive.
packages=python3,python3-apt,systemd,systemd-sysv,dbus,adduser,pipexec,procps,iproute2,curl,dnsutils,ca-certificates,libcap2-bin,sudo,openssh-server,python3-venv,python3-packaging

# Cache key of the rootfs tarball and the image: the revision and the package list, so a change
# of either builds anew instead of reusing an old image or tarball.
key="r${revision}-$(printf '%s' "$packages" | sha256sum | cut -c1-12)"
tarball="$cache/consul-dns-base-bookworm-${key}.tar"

# The image carries its key as a label: an image of another key is replaced.
present=$(podman image inspect --format '{{ index .Config.Labels "consul-dns.revision" }}' "$image" 2>/dev/null || true)
if [ "${FORCE:-0}" != 1 ] && [ "$present" = "$key" ]; then
  echo "build_base_image: $image present ($key)"
  exit 0
fi
mkdir -p "$cache"
if [ "${FORCE:-0}" = 1 ] || [ ! -s "$tarball" ]; then
  mirror=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  mirror=${CONSUL_DNS_DEBIAN_MIRROR:-${mirror:-http://deb.debian.org/debian}}
  rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  echo "build_base_image: debootstrap bookworm from $mirror (about a minute)"
  debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -30 "$cache/debootstrap.log" >&2; exit 1; }
  # Slim, container-friendly systemd: no getty, no udev-driven units, no apt caches.
  chroot "$rootfs" /bin/sh -ec '
    systemctl mask getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service \
      systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount systemd-remount-fs.service \
      systemd-logind.service >/dev/null 2>&1 || true
    # sshd for the test connection: root with a key only (the throwaway key is mounted as
    # /root/.ssh/authorized_keys when a container is created), no PAM (no logind here).
    # The host keys made at install time are shared by every container of this image.
    printf "%s\n" "PermitRootLogin prohibit-password" "PasswordAuthentication no" \
      "KbdInteractiveAuthentication no" "UsePAM no" "UseDNS no" "MaxSessions 64" "MaxStartups 64" \
      > /etc/ssh/sshd_config.d/molecule.conf
    test -s /etc/ssh/ssh_host_ed25519_key || ssh-keygen -A
    systemctl enable ssh.service >/dev/null 2>&1
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
    : > /etc/machine-id
  '
  tar -C "$rootfs" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  # Rootfs tarballs of other keys are not used again.
  find "$cache" -maxdepth 1 -name 'consul-dns-base-bookworm-*.tar' ! -name "${tarball##*/}" -delete
fi
echo "build_base_image: importing $tarball as $image"
# Drop the image of another key first (kept when a container still uses it).
! podman image exists "$image" || podman image rm "$image" >/dev/null 2>&1 || true
podman import --quiet --change 'CMD ["/sbin/init"]' --change 'ENV container=podman' \
  --change 'STOPSIGNAL SIGRTMIN+3' --change "LABEL consul-dns.revision=$key" \
  "$tarball" "$image" >/dev/null
podman image exists "$image"
echo "build_base_image: $image built"
