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
mkdir -p "$(dirname "$dir")"
# One builder at a time; a second caller waits and then finds the base ready.
exec 9>"$dir.lock"
flock 9
if [ -f "$dir/.tend-base-ready" ]; then
  echo "testhost base ready: $dir"
  exit 0
fi
mirror=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  # The first URL of the first deb line ("deb [options] URL suite ...").
  mirror=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { print $i; exit } }' /etc/apt/sources.list)
fi
if [ -z "$mirror" ]; then
  echo "cannot find a Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list" >&2
  exit 1
fi
for tool in debootstrap systemd-nspawn; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install -y debootstrap systemd-container" >&2; exit 1; }
done
tmp="$dir.tmp"
# A debootstrap that failed half way may leave proc, sys or dev mounted in
# its target: unmount them before removing anything, and never cross into
# another file system while removing.
cleanup_tmp() {
  findmnt -rno TARGET | awk -v t="$tmp" 'index($0, t "/") == 1' | sort -r | xargs -r -n1 umount -l
  rm -rf --one-file-system "$tmp"
}
cleanup_tmp
echo "debootstrap bookworm from $mirror into $dir (about 80 s)"
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,openssh-server,iproute2,sudo,ca-certificates,procps \
  bookworm "$tmp" "$mirror" >"$dir.log" 2>&1 || { tail -n 30 "$dir.log" >&2; cleanup_tmp; exit 1; }
: >"$tmp/etc/machine-id"
rm -f "$tmp"/var/cache/apt/archives/*.deb
# Test hosts get their sshd port (127.0.0.1 only: the network namespace is
# this machine's), host key and authorized_keys from files the harness
# (internal/testhost) writes into each host's overlay before boot.
mkdir -p "$tmp/etc/ssh/sshd_config.d" "$tmp/root/.ssh"
chmod 700 "$tmp/root/.ssh"
# Host keys are per host, never shared: the harness writes a fresh one (and
# so knows the exact line for known_hosts). Without one sshd does not start.
rm -f "$tmp"/etc/ssh/ssh_host_*
# A quiet, fast boot: no getty on the console, no timers that touch apt.
rm -f "$tmp"/etc/systemd/system/getty.target.wants/* 2>/dev/null || true
rm -f "$tmp"/etc/systemd/system/timers.target.wants/* 2>/dev/null || true
# nspawn --console=passive still gives the container a /dev/console, and the
# getty generator would start a login prompt on it that nobody reads.
ln -sf /dev/null "$tmp/etc/systemd/system/console-getty.service"
touch "$tmp/.tend-base-ready"
# A base without the marker is a leftover of an interrupted build.
if [ -e "$dir" ]; then
  rm -rf --one-file-system "$dir"
fi
mv "$tmp" "$dir"
echo "testhost base ready: $dir"
