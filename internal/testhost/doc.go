// Package testhost boots real Debian 12 hosts for tests: containers run by
// systemd-nspawn --boot, each with systemd as PID 1, its own sshd, apt and
// journald, on a throwaway overlay of a cached base root file system.
//
// Start reading at Boot. The lifecycle of one host is:
//
//  1. prepare: pick two free ports on 127.0.0.1 (Port for sshd, AppPort for
//     services the test runs inside), mount an overlay (lowerdir = the base,
//     its own upper and work dirs) and write the per-host files into it: the
//     hostname, an sshd drop-in with the port, a fresh ed25519 host key and
//     the client's public key in /root/.ssh/authorized_keys;
//  2. start: make the host's own cgroup folders, then run
//     `sh -c 'echo $$ > A; echo $$ > B; exec systemd-nspawn ...'` so that
//     nspawn starts inside them (no systemd runs on the machine itself);
//  3. wait: dial the port until sshd answers with an SSH banner;
//  4. use: Host.Exec, Host.Inventory, WriteInventory, Host.Root;
//  5. tear down (t.Cleanup, also on failure): SIGTERM the nspawn by PID
//     (SIGKILL after 10 s), unmount the overlay, remove the cgroup folders
//     depth-first and the host's work dir.
//
// Hosts left behind by a test binary that died before its cleanups ran are
// swept by the next Boot (see sweep.go). The base root file system is built
// once per machine by scripts/testhost-base.sh; /work/shared/TESTHOSTS.md has
// the measured facts this package is built on.
package testhost
