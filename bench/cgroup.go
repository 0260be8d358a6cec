package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroup is a cgroup v2 directory the harness made. The tools run in one
// and the sshd hosts in another, so that CPU time is counted for every
// process, however it was started and whoever reaps it: a tool's daemonized
// descendants (OpenSSH ControlPersist masters) and the hosts' sessions,
// login shells and the programs they run.
type cgroup struct {
	dir string
	fd  int // an open descriptor of dir, for SysProcAttr.CgroupFD
}

// cgroupRoot finds the cgroup v2 hierarchy: /sys/fs/cgroup on a unified
// system, /sys/fs/cgroup/unified on a hybrid one.
func cgroupRoot() (string, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return "", fmt.Errorf("read mounts: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) >= 3 && fl[2] == "cgroup2" {
			return fl[1], nil
		}
	}
	return "", errors.New("no cgroup2 file system is mounted (mount -t cgroup2 none /sys/fs/cgroup/unified)")
}

// newCgroup makes the cgroup parent/name.
func newCgroup(parent, name string) (*cgroup, error) {
	dir := filepath.Join(parent, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	return &cgroup{dir: dir, fd: fd}, nil
}

// cpu is the CPU time every process that was ever in the cgroup used
// (cpu.stat usage_usec).
func (c *cgroup) cpu() time.Duration {
	b, err := os.ReadFile(filepath.Join(c.dir, "cpu.stat"))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "usage_usec "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return time.Duration(n) * time.Microsecond
		}
	}
	return 0
}

// pids lists the processes in the cgroup.
func (c *cgroup) pids() []int {
	b, err := os.ReadFile(filepath.Join(c.dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// rss is the summed resident memory of the cgroup's processes, in bytes.
func (c *cgroup) rss() int64 {
	var pages int64
	for _, p := range c.pids() {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/statm")
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 1 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			pages += n
		}
	}
	return pages * int64(os.Getpagesize())
}

// empty ends every process left in the cgroup (SIGTERM, SIGKILL after a
// second) and waits until none is left, for at most 3 seconds. It returns
// how many there were.
func (c *cgroup) empty() int {
	left := c.pids()
	for _, p := range left {
		_ = syscall.Kill(p, syscall.SIGTERM)
	}
	deadline := time.Now().Add(3 * time.Second)
	killed := false
	for len(c.pids()) > 0 && time.Now().Before(deadline) {
		if !killed && time.Until(deadline) < 2*time.Second {
			for _, p := range c.pids() {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			killed = true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return len(left)
}

// remove kills what is left and removes the cgroup.
func (c *cgroup) remove() {
	_ = os.WriteFile(filepath.Join(c.dir, "cgroup.kill"), []byte("1"), 0o644)
	_ = syscall.Close(c.fd)
	// A killed process leaves the cgroup once it is reaped.
	var err error
	for range 500 {
		if err = os.Remove(c.dir); err == nil || errors.Is(c.statErr(), os.ErrNotExist) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "tendbench: remove cgroup %s: %v (processes left: %v)\n", c.dir, err, c.pids())
}

func (c *cgroup) statErr() error {
	_, err := os.Stat(c.dir)
	return err
}
