#!/usr/bin/env bash
# Builds (once per machine) the Debian 12 root file system that the end-to-end
# tests boot with systemd-nspawn. It is cached; a second call returns at once.
#
#   scripts/testhost-base.sh [DIR]      (default: /var/cache/tend/testhost-bookworm)
#
# The mirror is read from this machine's apt sources, never hard-coded.
set -euo pipefail
dir=${1:-${TEND_TESTHOST_BASE:-/var/cache/tend/testhost-bookworm}}
if [ -f "$dir/.tend-base-ready" ]; then
  echo "testhost base ready: $dir"
  exit 0
fi
mirror=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list)
fi
if [ -z "$mirror" ]; then
  echo "cannot find a Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list" >&2
  exit 1
fi
for tool in debootstrap systemd-nspawn; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install -y debootstrap systemd-container" >&2; exit 1; }
done
tmp="$dir.tmp"
rm -rf "$tmp"
mkdir -p "$(dirname "$dir")"
echo "debootstrap bookworm from $mirror into $dir (about 80 s)"
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,openssh-server,iproute2,sudo,ca-certificates,procps \
  bookworm "$tmp" "$mirror" >"$dir.log" 2>&1 || { tail -n 30 "$dir.log" >&2; exit 1; }
: >"$tmp/etc/machine-id"
rm -f "$tmp"/var/cache/apt/archives/*.deb
# Test hosts get their sshd port from a drop-in written per host; keep the
# base's sshd from listening on 22 of the shared network namespace.
mkdir -p "$tmp/etc/ssh/sshd_config.d" "$tmp/root/.ssh"
chmod 700 "$tmp/root/.ssh"
# Host keys are made per host at boot (ssh-keygen -A by the unit), not shared.
rm -f "$tmp"/etc/ssh/ssh_host_*
# A quiet, fast boot: no getty on the console, no timers that touch apt.
rm -f "$tmp"/etc/systemd/system/getty.target.wants/* 2>/dev/null || true
rm -f "$tmp"/etc/systemd/system/timers.target.wants/* 2>/dev/null || true
touch "$tmp/.tend-base-ready"
mv "$tmp" "$dir"
echo "testhost base ready: $dir"
