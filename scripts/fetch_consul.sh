#!/usr/bin/env bash
# Fetch the real HashiCorp consul 1.8.7 build that Debian's bullseye suite carries, without touching
# the system's apt configuration (own sources list, state and cache dirs), and unpack it to
# .cache/consul/usr/bin/consul. Prints the binary's path.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/.cache/consul"
bin="$cache/usr/bin/consul"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
apt_dir="$root/.cache/apt-bullseye"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$cache"
# The mirror the machine already uses for bookworm (deb822 "URIs:" line), else Debian's CDN.
mirror=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
mirror=${CONSUL_DNS_DEBIAN_MIRROR:-${mirror:-http://deb.debian.org/debian}}
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bullseye main" > "$apt_dir/sources.list"
opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
      -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir" -o "Dir::Cache::archives=$apt_dir/archives"
      -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
apt-get "${opts[@]}" update -qq >&2
( cd "$apt_dir" && apt-get "${opts[@]}" download consul >&2 )
deb=$(ls "$apt_dir"/consul_*.deb | head -1)
dpkg-deb -x "$deb" "$cache"
"$bin" version >&2
echo "$bin"
