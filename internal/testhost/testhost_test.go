package testhost

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// TestMain fails the run when a test of this package left a host behind:
// an overlay mount, a work dir or a systemd-nspawn of this process.
func TestMain(m *testing.M) {
	code := m.Run()
	if leaks := leftovers(); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "test hosts leaked:\n  %s\n", strings.Join(leaks, "\n  "))
		code = 1
	}
	os.Exit(code)
}

// leftovers lists what this process still holds of any test host.
func leftovers() []string {
	var leaks []string
	me := selfIdentity()
	entries, _ := os.ReadDir(workRoot())
	for _, e := range entries {
		dir := filepath.Join(workRoot(), e.Name())
		// Other test binaries (go test runs packages in parallel, and
		// cmd/tend boots hosts too) own their own dirs: only ours count.
		if owner, _ := os.ReadFile(filepath.Join(dir, "owner")); string(owner) != me {
			continue
		}
		leaks = append(leaks, "work dir "+dir)
		if mounted(filepath.Join(dir, "root")) {
			leaks = append(leaks, "mount "+filepath.Join(dir, "root"))
		}
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if strings.TrimSpace(string(comm)) != "systemd-nspawn" {
			continue
		}
		// Field 4 is the parent PID.
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			leaks = append(leaks, "systemd-nspawn "+p.Name())
		}
	}
	return leaks
}

// TestHosts boots three hosts and checks that each is a real, separate
// Debian with systemd, reachable over SSH as root, with working apt.
func TestHosts(t *testing.T) {
	start := time.Now()
	hosts := Boot(t, 3)
	t.Logf("boot of 3 hosts to sshd answering: %s", time.Since(start).Round(time.Millisecond))

	names := map[string]bool{}
	ports := map[int]bool{}
	for _, h := range hosts {
		if len(h.Name) > 15 {
			t.Errorf("host name %q is longer than 15 characters", h.Name)
		}
		names[h.Name] = true
		ports[h.Port], ports[h.AppPort] = true, true
	}
	if len(names) != 3 || len(ports) != 6 {
		t.Fatalf("names %v and ports %v are not all distinct", names, ports)
	}

	t.Run("each", func(t *testing.T) {
		for _, h := range hosts {
			t.Run(h.Name, func(t *testing.T) {
				t.Parallel()
				checkSystem(t, h)
			})
		}
	})
	t.Run("isolated", func(t *testing.T) { checkIsolated(t, hosts) })
	t.Run("apt", func(t *testing.T) { checkApt(t, hosts[0], hosts[1]) })
	t.Run("inventory", func(t *testing.T) { checkInventory(t, hosts) })
	t.Run("stop", func(t *testing.T) { checkStop(t, hosts[2], hosts[0]) })
}

// checkSystem checks systemd, the hostname, the login user and a unit.
func checkSystem(t *testing.T, h *Host) {
	// is-system-running exits non-zero when degraded: look at its output.
	out, _, err := h.Run("systemctl", "is-system-running", "--wait")
	state := strings.TrimSpace(out)
	switch state {
	case "running":
	case "degraded":
		failed, _, _ := h.Run("systemctl", "--failed", "--no-legend", "--plain")
		t.Logf("%s is degraded; failed units:\n%s", h.Name, failed)
	default:
		t.Fatalf("systemctl is-system-running on %s = %q (%v), want running or degraded", h.Name, state, err)
	}
	if got := strings.TrimSpace(h.Exec(t, "hostname")); got != h.Name {
		t.Errorf("hostname = %q, want %q", got, h.Name)
	}
	if got := strings.TrimSpace(h.Exec(t, "id", "-un")); got != "root" {
		t.Errorf("id -un = %q, want root", got)
	}
	if got := strings.TrimSpace(h.Exec(t, "cat", "/proc/1/comm")); got != "systemd" {
		t.Errorf("PID 1 is %q, want systemd", got)
	}

	unit := "[Unit]\nDescription=tend test unit\n\n[Service]\nExecStart=/bin/sleep infinity\n"
	h.Exec(t, "sh", "-c", `printf '%s' "$1" > /etc/systemd/system/tend-th.service`, "sh", unit)
	if out, _, err := h.Run("systemctl", "is-active", "tend-th.service"); err == nil {
		t.Fatalf("tend-th.service is active before start: %s", out)
	}
	h.Exec(t, "systemctl", "daemon-reload")
	h.Exec(t, "systemctl", "start", "tend-th.service")
	if got := strings.TrimSpace(h.Exec(t, "systemctl", "is-active", "tend-th.service")); got != "active" {
		t.Errorf("systemctl is-active tend-th.service = %q, want active", got)
	}
	pid := strings.TrimSpace(h.Exec(t, "systemctl", "show", "-P", "MainPID", "tend-th.service"))
	if comm := strings.TrimSpace(h.Exec(t, "cat", "/proc/"+pid+"/comm")); comm != "sleep" {
		t.Errorf("main process of tend-th.service is %q, want sleep", comm)
	}
}

// checkIsolated writes a file in one host and looks for it in the others,
// over SSH and in the overlays.
func checkIsolated(t *testing.T, hosts []*Host) {
	path := "/root/only-on-" + hosts[0].Name
	hosts[0].Exec(t, "sh", "-c", `echo "$1" > "$2"`, "sh", hosts[0].Name, path)
	if got := strings.TrimSpace(hosts[0].Exec(t, "cat", path)); got != hosts[0].Name {
		t.Fatalf("%s on %s = %q, want %q", path, hosts[0].Name, got, hosts[0].Name)
	}
	if b, err := os.ReadFile(filepath.Join(hosts[0].Root, path)); err != nil || strings.TrimSpace(string(b)) != hosts[0].Name {
		t.Errorf("%s in the overlay of %s = %q, %v", path, hosts[0].Name, b, err)
	}
	for _, h := range hosts[1:] {
		_, _, err := h.Run("test", "-e", path)
		var exit *ssh.ExitError
		if !errors.As(err, &exit) || exit.ExitStatus() != 1 {
			t.Errorf("test -e %s on %s: %v, want exit status 1", path, h.Name, err)
		}
		if _, err := os.Stat(filepath.Join(h.Root, path)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists in the overlay of %s: %v", path, h.Name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(defaultBase(), path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s reached the base: %v", path, err)
	}
}

// checkApt installs a package from the mirror in one host and checks that
// the other does not have it.
func checkApt(t *testing.T, h, other *Host) {
	if b, err := os.ReadFile(filepath.Join(h.Root, "etc/resolv.conf")); err != nil || !strings.Contains(string(b), "nameserver") {
		t.Errorf("/etc/resolv.conf of %s has no nameserver: %q, %v", h.Name, b, err)
	}
	start := time.Now()
	// The base's package lists may be older than the mirror: update first.
	h.Exec(t, "timeout", "60", "apt-get", "update", "-q")
	h.Exec(t, "timeout", "60", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", "hello")
	t.Logf("apt-get update and install hello on %s: %s", h.Name, time.Since(start).Round(time.Millisecond))
	if got := h.Exec(t, "hello"); got != "Hello, world!\n" {
		t.Errorf("hello printed %q, want \"Hello, world!\\n\"", got)
	}
	if out, _, err := other.Run("sh", "-c", "command -v hello"); err == nil {
		t.Errorf("hello is installed on %s too: %s", other.Name, out)
	}
}

// checkInventory checks Inventory and WriteInventory against the hosts: the
// key and known_hosts files they name must log in with host keys checked.
func checkInventory(t *testing.T, hosts []*Host) {
	for _, h := range hosts {
		inv := h.Inventory()
		if inv.Name != h.Name || inv.Address != "127.0.0.1" || inv.Port != h.Port || inv.User != "root" ||
			inv.ConnectTimeout != 10*time.Second || len(inv.IdentityFiles) != 1 {
			t.Errorf("Inventory() = %+v", inv)
		}
		if got := inv.Vars.GetAttr("app_port"); !got.RawEquals(cty.NumberIntVal(int64(h.AppPort))) {
			t.Errorf("Inventory().Vars.app_port = %#v, want %d", got, h.AppPort)
		}
		dialWithFiles(t, inv.IdentityFiles[0], inv.KnownHosts, inv.Port, h.Name)
	}
	// known_hosts must reject a host key presented on another host's port.
	cb, err := knownhosts.New(hosts[0].KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: hosts[0].Port}
	if err := cb(net.JoinHostPort("127.0.0.1", strconv.Itoa(hosts[0].Port)), addr, hosts[1].hostKey); err == nil {
		t.Errorf("known_hosts accepts the key of %s for %s", hosts[1].Name, hosts[0].Name)
	}

	extra := "group \"web\" {\n  hosts = [\"" + hosts[0].Name + "\"]\n}\n"
	path := WriteInventory(t, hosts, extra)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("inventory:\n%s", src)
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse written inventory: %v", diags)
	}
	var defaults map[string]cty.Value
	got := map[string]map[string]cty.Value{}
	var groups []string
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		attrs := map[string]cty.Value{}
		for name, a := range b.Body.Attributes {
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() {
				t.Fatalf("%s: %v", name, diags)
			}
			attrs[name] = v
		}
		switch b.Type {
		case "defaults":
			defaults = attrs
		case "host":
			got[b.Labels[0]] = attrs
		case "group":
			groups = append(groups, b.Labels[0])
		}
	}
	if defaults["user"].AsString() != "root" {
		t.Errorf("defaults.user = %#v", defaults["user"])
	}
	if len(got) != len(hosts) || len(groups) != 1 || groups[0] != "web" {
		t.Fatalf("inventory has hosts %v and groups %v", got, groups)
	}
	for _, h := range hosts {
		a := got[h.Name]
		if a["address"].AsString() != "127.0.0.1" || !a["port"].RawEquals(cty.NumberIntVal(int64(h.Port))) ||
			!a["vars"].GetAttr("app_port").RawEquals(cty.NumberIntVal(int64(h.AppPort))) {
			t.Errorf("host %s in the inventory: %#v", h.Name, a)
		}
		dialWithFiles(t, defaults["identity_file"].AsString(), defaults["known_hosts"].AsString(), h.Port, h.Name)
	}
}

// dialWithFiles logs in as root on port with the key file, checking the host
// key against the known_hosts file, and checks the hostname.
func dialWithFiles(t *testing.T, keyFile, knownHostsFile string, port int, name string) {
	t.Helper()
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(keyFile); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("client key %s: mode %v, %v; want 0600", keyFile, info.Mode(), err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := knownhosts.New(knownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), &ssh.ClientConfig{
		User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: cb, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("log in to %s with %s and %s: %v", name, keyFile, knownHostsFile, err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Output("hostname")
	if err != nil || strings.TrimSpace(string(out)) != name {
		t.Errorf("hostname on port %d = %q, %v; want %s", port, out, err, name)
	}
}

// checkStop stops h and checks that its port no longer answers, its nspawn
// is gone and that the other host still works.
func checkStop(t *testing.T, h, other *Host) {
	start := time.Now()
	if err := h.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stop of %s: %s", h.Name, time.Since(start).Round(time.Millisecond))
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(h.Port))
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still answers on %s after Stop", h.Name, addr)
	}
	if err := syscall.Kill(h.pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("systemd-nspawn %d of %s: kill 0 = %v after Stop, want ESRCH", h.pid, h.Name, err)
	}
	if _, _, err := h.Run("true"); err == nil {
		t.Errorf("Run on stopped %s succeeded", h.Name)
	}
	if err := h.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if got := strings.TrimSpace(other.Exec(t, "hostname")); got != other.Name {
		t.Errorf("hostname of %s after stopping %s = %q", other.Name, h.Name, got)
	}
}

// fatalTB records the first Fatal of Boot and ends its goroutine, as
// testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatal(args ...any) { f.msg = fmt.Sprint(args...); runtime.Goexit() }

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// bootFailure runs Boot on a fatalTB and returns its failure message.
func bootFailure(t *testing.T, opts ...Option) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Boot(f, 1, opts...)
	}()
	<-done
	if f.msg == "" {
		t.Fatal("Boot did not fail")
	}
	return f.msg
}

// TestPrerequisites checks that a missing prerequisite fails with the
// command that fixes it.
func TestPrerequisites(t *testing.T) {
	t.Run("base", func(t *testing.T) {
		msg := bootFailure(t, WithBase(filepath.Join(t.TempDir(), "nothing")))
		if !strings.Contains(msg, "scripts/testhost-base.sh") {
			t.Errorf("failure %q does not say to run scripts/testhost-base.sh", msg)
		}
	})
	t.Run("nspawn", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		msg := bootFailure(t)
		if !strings.Contains(msg, "apt-get install -y debootstrap systemd-container") {
			t.Errorf("failure %q does not say to install systemd-container", msg)
		}
	})
}

// TestBootTimeout checks that a host that does not answer in time fails
// Boot with the console output of its nspawn.
func TestBootTimeout(t *testing.T) {
	msg := bootFailure(t, WithBootTimeout(time.Millisecond))
	if !strings.Contains(msg, "did not answer") || !strings.Contains(msg, "console:\n") {
		t.Errorf("failure %q does not say that sshd did not answer or show the console", msg)
	}
	t.Logf("failure: %.300s", msg)
}

// TestSweep leaves a booted host behind as a dead test binary would and
// checks that the next Boot's sweep releases all of it.
func TestSweep(t *testing.T) {
	client, err := newClientKey(filepath.Join(t.TempDir(), "id"))
	if err != nil {
		t.Fatal(err)
	}
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	h := &Host{Name: "th-" + randomHex(3) + "-s", Port: ports[0], AppPort: ports[1], client: client, done: make(chan struct{})}
	t.Cleanup(func() { h.teardown() }) // in case the sweep fails
	if err := h.prepare(defaultBase()); err != nil {
		t.Fatal(err)
	}
	if err := h.start(); err != nil {
		t.Fatal(err)
	}
	if err := h.waitReady(time.Now().Add(60 * time.Second)); err != nil {
		t.Fatal(err)
	}
	cgroups := cgroupDirs(h.Name)
	if len(cgroups) == 0 {
		t.Fatal("no cgroup hierarchy for the host")
	}
	for _, d := range cgroups {
		// nspawn moves itself into HOST/supervisor, the container into
		// HOST/payload.
		if !inCgroupTree(d, h.pid) {
			t.Errorf("systemd-nspawn %d is not in the cgroup tree %s", h.pid, d)
		}
	}
	// An owner that is not running: PID 1 with another start time.
	if err := os.WriteFile(filepath.Join(h.dir, "owner"), []byte("1 -1"), 0o600); err != nil {
		t.Fatal(err)
	}

	sweep(t)

	select {
	case <-h.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("systemd-nspawn %d still runs after the sweep", h.pid)
	}
	if mounted(h.Root) {
		t.Errorf("%s is still mounted after the sweep", h.Root)
	}
	for _, d := range append(cgroups, h.dir) {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is left after the sweep: %v", d, err)
		}
	}
}

// inCgroupTree reports whether pid is in the cgroup dir or one below it.
func inCgroupTree(dir string, pid int) bool {
	found := false
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "cgroup.procs" {
			b, _ := os.ReadFile(path)
			for _, f := range strings.Fields(string(b)) {
				found = found || f == strconv.Itoa(pid)
			}
		}
		return nil
	})
	return found
}
