package testhost

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A test binary that dies before its cleanups run (a -timeout panic, a
// SIGKILL) leaves its hosts behind: the kernel stops their nspawn
// (Pdeathsig), but the overlay mounts, cgroup folders and work dirs stay.
// Every Boot first sweeps the work dirs whose owner process is gone.

// selfIdentity names this process in a way that survives PID reuse: its
// PID and its start time in clock ticks since boot.
func selfIdentity() string { return processIdentity(os.Getpid()) }

// processIdentity returns "PID STARTTIME" for a running process, or "" when
// there is none with that PID.
func processIdentity(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) may hold spaces; fields after it do not.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); starttime is field 22.
	if len(fields) < 20 {
		return ""
	}
	return strconv.Itoa(pid) + " " + fields[19]
}

// ownerAlive reports whether the process recorded in an owner file still
// runs.
func ownerAlive(owner string) bool {
	pidText, _, _ := strings.Cut(owner, " ")
	pid, err := strconv.Atoi(pidText)
	if err != nil {
		return false
	}
	return processIdentity(pid) == owner
}

// sweep tears down the hosts of test binaries that are gone.
func sweep(t testing.TB) {
	entries, err := os.ReadDir(workRoot())
	if err != nil {
		return // nothing booted on this machine yet
	}
	for _, e := range entries {
		dir := filepath.Join(workRoot(), e.Name())
		owner, err := os.ReadFile(filepath.Join(dir, "owner"))
		if err != nil {
			// Made but not yet claimed, or half removed: leave it to its
			// owner unless it is old.
			if info, err := os.Stat(dir); err != nil || time.Since(info.ModTime()) < time.Minute {
				continue
			}
		} else if ownerAlive(string(owner)) {
			continue
		}
		t.Logf("sweep leaked test host %s", e.Name())
		if err := sweepHost(e.Name(), dir); err != nil {
			t.Logf("sweep leaked test host %s: %v", e.Name(), err)
		}
	}
}

// sweepHost releases what a leaked host holds.
func sweepHost(name, dir string) error {
	if b, err := os.ReadFile(filepath.Join(dir, "nspawn.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			killNspawn(pid)
		}
	}
	root := filepath.Join(dir, "root")
	if mounted(root) {
		if err := unmount(root); err != nil {
			return err
		}
	}
	for _, d := range cgroupDirs(name) {
		if err := removeCgroup(d); err != nil {
			return err
		}
	}
	if mounted(root) {
		return fmt.Errorf("remove %s: %s is still mounted", dir, root)
	}
	return os.RemoveAll(dir)
}

// killNspawn kills pid if it is still a systemd-nspawn and waits up to 10 s
// for it to go.
func killNspawn(pid int) {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != "systemd-nspawn" {
		return
	}
	syscall.Kill(pid, syscall.SIGKILL)
	for range 100 {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mounted reports whether dir is a mount point in this mount namespace.
func mounted(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// Field 5 is the mount point, with spaces etc. octal-escaped.
		if len(fields) > 4 && fields[4] == dir {
			return true
		}
	}
	return false
}
