package testhost

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DefaultBase is the base root file system Boot uses unless
// $TEND_TESTHOST_BASE or WithBase says otherwise.
const DefaultBase = "/var/cache/tend/testhost-bookworm"

// cgroupName is the folder under each cgroup hierarchy that holds the
// cgroups of every test host on this machine.
const cgroupName = "tend-testhost"

// cgroupRoots are the hierarchies in which a host gets its own cgroup before
// nspawn starts: the named systemd v1 hierarchy and the unified v2 one.
var cgroupRoots = []string{"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"}

// readyMarker is the file scripts/testhost-base.sh writes last; a base
// without it is incomplete.
const readyMarker = ".tend-base-ready"

// Option changes how Boot boots hosts.
type Option func(*config)

type config struct {
	base    string
	timeout time.Duration
}

// WithBase boots the hosts from the base root file system in dir instead of
// $TEND_TESTHOST_BASE or DefaultBase.
func WithBase(dir string) Option { return func(c *config) { c.base = dir } }

// WithBootTimeout changes how long Boot waits for every host's sshd to answer
// (default 60 s).
func WithBootTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// Boot boots n Debian 12 hosts in parallel and returns them once each one's
// sshd answers on its port. It fails the test (with the command that fixes
// it) when a prerequisite is missing, and with the tail of the console
// output when a host does not come up in time. Everything it starts is torn
// down in t.Cleanup, also when the test fails.
func Boot(t testing.TB, n int, opts ...Option) []*Host {
	t.Helper()
	cfg := config{base: defaultBase(), timeout: 60 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if err := checkPrerequisites(cfg.base); err != nil {
		t.Fatal(err)
	}
	if n < 1 {
		t.Fatalf("boot %d test hosts: need at least one", n)
	}
	// Hosts of a test binary that died before its cleanups ran would hold
	// mounts and cgroups forever; release them first.
	sweep(t)

	// One client key and one known_hosts file for the whole set.
	setDir, err := os.MkdirTemp("", "tend-testhost-keys-")
	if err != nil {
		t.Fatalf("make key dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(setDir) })
	client, err := newClientKey(filepath.Join(setDir, "id_ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	// Ports are picked free on 127.0.0.1 now and bound by sshd (or by the
	// test's service) later: another process could take one in between,
	// but the kernel hands out ephemeral ports in random order, so that is
	// rare, and Boot then fails with the console output saying so.
	ports, err := freePorts(2 * n)
	if err != nil {
		t.Fatal(err)
	}
	// The random part keeps names unique across test binaries running at
	// the same time; 15 characters at most for up to 100 hosts.
	prefix := "th-" + randomHex(3)
	hosts := make([]*Host, n)
	// Registered before anything is made, so that a failure half way still
	// releases what was made. Hosts are torn down in parallel: a stop takes
	// a fraction of a second, but up to 10 s for a host stuck in boot.
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, h := range hosts {
			if h == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := h.teardown(); err != nil {
					t.Errorf("tear down test host %s: %v", h.Name, err)
				}
			}()
		}
		wg.Wait()
	})
	for i := range hosts {
		h := &Host{
			Name:           prefix + "-" + strconv.Itoa(i),
			Port:           ports[2*i],
			AppPort:        ports[2*i+1],
			ClientKeyFile:  client.file,
			KnownHostsFile: filepath.Join(setDir, "known_hosts"),
			client:         client,
			done:           make(chan struct{}),
		}
		hosts[i] = h
		if err := h.prepare(cfg.base); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeKnownHosts(hosts[0].KnownHostsFile, hosts); err != nil {
		t.Fatal(err)
	}

	// Start every nspawn and wait for every sshd at once: a boot is mostly
	// waiting, and the hosts do not depend on each other.
	start := time.Now()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.start(); err != nil {
				errs[i] = err
				return
			}
			errs[i] = h.waitReady(start.Add(cfg.timeout))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("booted %d test hosts (%s..%s) in %s", n, hosts[0].Name, hosts[n-1].Name,
		time.Since(start).Round(time.Millisecond))
	return hosts
}

// defaultBase returns $TEND_TESTHOST_BASE, or DefaultBase when it is unset.
func defaultBase() string {
	if env := os.Getenv("TEND_TESTHOST_BASE"); env != "" {
		return env
	}
	return DefaultBase
}

// checkPrerequisites returns an error that says how to fix the machine when
// test hosts cannot be booted here.
func checkPrerequisites(base string) error {
	if os.Geteuid() != 0 {
		return errors.New("test hosts need root (overlay mounts, systemd-nspawn): run the tests as root, e.g. sudo -E go test ./...")
	}
	for _, tool := range []string{"systemd-nspawn", "mount", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("find %s: %w: apt-get install -y debootstrap systemd-container", tool, err)
		}
	}
	if _, err := os.Stat(filepath.Join(base, readyMarker)); err != nil {
		return fmt.Errorf("test host base %s is missing or incomplete (%v): run scripts/testhost-base.sh %s (after apt-get install -y debootstrap systemd-container)", base, err, base)
	}
	return nil
}

// freePorts returns n distinct ports that are free on 127.0.0.1. All
// listeners stay open until every port is chosen, so none repeats.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// randomHex returns 2n random lowercase hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// workRoot is the folder that holds one work dir per running test host; the
// sweep looks there for hosts whose test binary is gone.
func workRoot() string { return filepath.Join(os.TempDir(), "tend-testhost") }

// prepare makes the host's work dir, mounts its overlay and writes the
// per-host files into it.
func (h *Host) prepare(base string) error {
	h.dir = filepath.Join(workRoot(), h.Name)
	// Mkdir, not MkdirAll: a name in use by another test binary is an
	// error. The shared parent may vanish under a concurrent teardown
	// between the two steps; make it again then.
	var err error
	for range 5 {
		if err = os.MkdirAll(workRoot(), 0o700); err == nil {
			if err = os.Mkdir(h.dir, 0o700); !errors.Is(err, os.ErrNotExist) {
				break
			}
		}
	}
	if err != nil {
		h.dir = "" // not ours to remove
		return fmt.Errorf("make work dir of %s: %w", h.Name, err)
	}
	// The owner file lets a later sweep tell a live host from a leaked one.
	if err := os.WriteFile(filepath.Join(h.dir, "owner"), []byte(selfIdentity()), 0o600); err != nil {
		return fmt.Errorf("write owner of %s: %w", h.Name, err)
	}
	upper, work := filepath.Join(h.dir, "upper"), filepath.Join(h.dir, "work")
	h.Root = filepath.Join(h.dir, "root")
	for _, d := range []string{upper, work, h.Root} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("make %s: %w", d, err)
		}
	}
	opts := "lowerdir=" + base + ",upperdir=" + upper + ",workdir=" + work
	if err := syscall.Mount("overlay", h.Root, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay at %s (%s): %w", h.Root, opts, err)
	}
	h.mounted = true

	hostKey, err := newHostKey()
	if err != nil {
		return fmt.Errorf("host key of %s: %w", h.Name, err)
	}
	h.hostKey = hostKey.public
	dropIn := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey /etc/ssh/ssh_host_ed25519_key\n"+
		"PermitRootLogin prohibit-password\nLogLevel VERBOSE\n", h.Port)
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{"/etc/hostname", []byte(h.Name + "\n"), 0o644},
		{"/etc/hosts", []byte("127.0.0.1\tlocalhost\n127.0.1.1\t" + h.Name + "\n::1\tlocalhost ip6-localhost ip6-loopback\n"), 0o644},
		{"/etc/ssh/sshd_config.d/port.conf", []byte(dropIn), 0o644},
		{"/etc/ssh/ssh_host_ed25519_key", hostKey.private, 0o600},
		{"/etc/ssh/ssh_host_ed25519_key.pub", hostKey.authorized, 0o644},
		{"/root/.ssh/authorized_keys", h.client.authorized, 0o600},
	}
	for _, f := range files {
		p := filepath.Join(h.Root, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("write %s on %s: %w", f.path, h.Name, err)
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			return fmt.Errorf("write %s on %s: %w", f.path, h.Name, err)
		}
		// WriteFile keeps the mode of a file the base already has.
		if err := os.Chmod(p, f.mode); err != nil {
			return fmt.Errorf("chmod %s on %s: %w", f.path, h.Name, err)
		}
	}
	return nil
}

// cgroupDirs returns the host's own cgroup folders, in the hierarchies this
// machine has.
func cgroupDirs(name string) []string {
	var dirs []string
	for _, root := range cgroupRoots {
		if _, err := os.Stat(filepath.Join(root, "cgroup.procs")); err == nil {
			dirs = append(dirs, filepath.Join(root, cgroupName, name))
		}
	}
	return dirs
}

// start makes the host's cgroups and starts systemd-nspawn inside them.
func (h *Host) start() error {
	h.cgroups = cgroupDirs(h.Name)
	script := ""
	for i, d := range h.cgroups {
		// A concurrent teardown may remove the shared parent between
		// MkdirAll's steps; try again.
		var err error
		for range 5 {
			if err = os.MkdirAll(d, 0o755); err == nil {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("make cgroup %s: %w", d, err)
		}
		script += fmt.Sprintf(`echo $$ > "$%d"/cgroup.procs && `, i+1)
	}
	args := []string{"-c", script + `shift ` + strconv.Itoa(len(h.cgroups)) + ` && exec "$@"`, "sh"}
	args = append(args, h.cgroups...)
	args = append(args, "systemd-nspawn", "-D", h.Root, "--boot", "--register=no", "--keep-unit",
		"-M", h.Name, "--console=passive")
	log, err := os.Create(filepath.Join(h.dir, "console.log"))
	if err != nil {
		return fmt.Errorf("create console log of %s: %w", h.Name, err)
	}
	h.log = log.Name()
	cmd := exec.Command("sh", args...)
	cmd.Stdout, cmd.Stderr = log, log
	// If the test binary dies without running its cleanups, the kernel
	// sends nspawn SIGTERM. That signal follows the thread that started the
	// process, so that thread is kept for nspawn's whole life.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer log.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			close(h.done)
			return
		}
		h.pid, h.proc = cmd.Process.Pid, cmd.Process
		started <- nil
		h.exitErr = cmd.Wait()
		close(h.done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start systemd-nspawn for %s: %w", h.Name, err)
	}
	os.WriteFile(filepath.Join(h.dir, "nspawn.pid"), []byte(strconv.Itoa(h.pid)), 0o600)
	return nil
}

// waitReady dials the host's port until sshd sends its banner, nspawn exits
// or the deadline passes.
func (h *Host) waitReady(deadline time.Time) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(h.Port))
	for {
		if bannerOK(addr) {
			return nil
		}
		select {
		case <-h.done:
			return fmt.Errorf("test host %s: systemd-nspawn exited (%v) before sshd answered on %s; console:\n%s",
				h.Name, h.exitErr, addr, tail(h.log, 40))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("test host %s: sshd did not answer on %s in time; console:\n%s",
				h.Name, addr, tail(h.log, 40))
		}
	}
}

// bannerOK reports whether an SSH server answers on addr with its banner.
// Every step has a deadline: a probe without one can hang for many seconds.
func bannerOK(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-")
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", path, err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
