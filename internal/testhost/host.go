package testhost

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	"golang.org/x/crypto/ssh"

	"github.com/tendhq/tend/inventory"
)

// Host is one booted test host: a Debian 12 container with systemd as PID 1
// whose sshd listens on 127.0.0.1:Port.
type Host struct {
	// Name is the host's hostname and machine name, unique on this machine.
	Name string
	// Port is where the host's sshd listens on 127.0.0.1.
	Port int
	// AppPort is a second free port, reserved for a service the test runs
	// inside the host (all hosts share this machine's port space).
	AppPort int
	// Root is the host's root file system (the merged overlay) as this
	// machine sees it. Tests should prefer running commands over SSH.
	Root string
	// ClientKeyFile is the private key (OpenSSH format) root logs in with.
	ClientKeyFile string
	// KnownHostsFile has the host key lines of every host of the same Boot
	// call, in the [127.0.0.1]:PORT form.
	KnownHostsFile string

	client  *clientKey
	hostKey ssh.PublicKey
	dir     string   // work dir: upper, work, root, console.log
	cgroups []string // own cgroup folders, one per hierarchy
	log     string   // console output of systemd-nspawn
	mounted bool

	pid     int           // systemd-nspawn, set once started
	proc    *os.Process   // the same, for signals
	done    chan struct{} // closed when systemd-nspawn has exited
	exitErr error         // how it exited; read after done

	stopOnce sync.Once
	stopErr  error
}

// Inventory returns the host as the inventory would load it: root on
// 127.0.0.1:Port with the client key and the known_hosts file. Vars holds
// app_port, as in the file WriteInventory writes.
func (h *Host) Inventory() *inventory.Host {
	return &inventory.Host{
		Name:           h.Name,
		Address:        "127.0.0.1",
		Port:           h.Port,
		User:           "root",
		IdentityFiles:  []string{h.ClientKeyFile},
		KnownHosts:     h.KnownHostsFile,
		ConnectTimeout: 10 * time.Second,
		Vars:           cty.ObjectVal(map[string]cty.Value{"app_port": cty.NumberIntVal(int64(h.AppPort))}),
	}
}

// Exec runs argv inside the host as root over SSH and returns its standard
// output. It fails the test when the command cannot run or exits non-zero.
func (h *Host) Exec(t testing.TB, argv ...string) string {
	t.Helper()
	stdout, stderr, err := h.Run(argv...)
	if err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", h.Name, err, stdout, stderr)
	}
	return stdout
}

// Run runs argv inside the host as root over SSH. It returns the command's
// output and an error when it could not run or exited non-zero (an
// *ssh.ExitError then).
func (h *Host) Run(argv ...string) (stdout, stderr string, err error) {
	if len(argv) == 0 {
		return "", "", fmt.Errorf("run on %s: empty argv", h.Name)
	}
	cfg := &ssh.ClientConfig{
		User:            "root",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(h.client.signer)},
		HostKeyCallback: ssh.FixedHostKey(h.hostKey),
		Timeout:         10 * time.Second,
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(h.Port))
	c, err := ssh.Dial("tcp", addr, cfg)
	if err != nil {
		return "", "", fmt.Errorf("connect to %s at %s: %w", h.Name, addr, err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return "", "", fmt.Errorf("open session on %s: %w", h.Name, err)
	}
	defer s.Close()
	var out, errOut bytes.Buffer
	s.Stdout, s.Stderr = &out, &errOut
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = shellQuote(a)
	}
	cmd := strings.Join(quoted, " ")
	if err := s.Run(cmd); err != nil {
		err = fmt.Errorf("run %s on %s: %w", cmd, h.Name, err)
		return out.String(), errOut.String(), err
	}
	return out.String(), errOut.String(), nil
}

// shellQuote quotes s for a POSIX shell, once.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Stop shuts the host down (SIGTERM to systemd-nspawn, SIGKILL after 10 s)
// and waits for it. Its port stops answering; its overlay stays mounted
// until the test's cleanup. Stop is safe to call more than once.
func (h *Host) Stop() error {
	h.stopOnce.Do(func() { h.stopErr = h.stop() })
	return h.stopErr
}

func (h *Host) stop() error {
	if h.pid == 0 {
		return nil // never started
	}
	select {
	case <-h.done:
		return nil
	default:
	}
	// nspawn turns SIGTERM into an orderly shutdown of the container, but
	// a systemd that has not yet set up its handlers drops it (it is PID 1
	// of its namespace): send it again every half second.
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for term := true; term; {
		// Signal through the os.Process (a pidfd): never a reused PID.
		if err := h.proc.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("stop %s: signal systemd-nspawn %d: %w", h.Name, h.pid, err)
		}
		select {
		case <-h.done:
			return nil
		case <-tick.C:
		case <-deadline:
			term = false
		}
	}
	h.proc.Signal(syscall.SIGKILL)
	select {
	case <-h.done:
		return fmt.Errorf("stop %s: systemd-nspawn %d ignored SIGTERM for 10 s and was killed", h.Name, h.pid)
	case <-time.After(10 * time.Second):
		return fmt.Errorf("stop %s: systemd-nspawn %d survived SIGKILL", h.Name, h.pid)
	}
}

// teardown stops the host and releases everything it holds: the overlay
// mount, the cgroup folders and the work dir. It is what t.Cleanup runs.
func (h *Host) teardown() error {
	errs := []error{h.Stop()}
	if h.mounted {
		if err := unmount(h.Root); err != nil {
			errs = append(errs, err)
		} else {
			h.mounted = false
		}
	}
	for _, d := range h.cgroups {
		if err := removeCgroup(d); err != nil {
			errs = append(errs, err)
		}
	}
	if h.dir != "" && !h.mounted {
		if err := os.RemoveAll(h.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove work dir of %s: %w", h.Name, err))
		}
		os.Remove(workRoot()) // fails while other hosts use it
	}
	return errors.Join(errs...)
}

// unmount unmounts the overlay at dir, retrying while it is busy, and
// detaches it lazily as the last resort.
func unmount(dir string) error {
	var err error
	for range 50 {
		err = syscall.Unmount(dir, 0)
		if err == nil || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT) {
			return nil // unmounted, or not a mount point (any more)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lerr := syscall.Unmount(dir, syscall.MNT_DETACH); lerr != nil {
		return fmt.Errorf("unmount %s: %w (lazily: %v)", dir, err, lerr)
	}
	return nil
}

// removeCgroup removes the cgroup folder dir and every child cgroup that
// systemd made inside it, depth-first, retrying while processes leave. Its
// parent (shared by all test hosts) goes too once it is empty.
func removeCgroup(dir string) error {
	var err error
	for i := range 50 {
		if err = removeCgroupTree(dir); err == nil {
			os.Remove(filepath.Dir(dir)) // fails while other hosts use it
			return nil
		}
		if i == 10 {
			// Still busy after a second: something of the container
			// outlived its init. Only the container ever ran in here.
			killCgroupTree(dir)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", dir, err)
}

func removeCgroupTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroupTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	// A cgroup folder holds only kernel files; rmdir removes it whole.
	if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, syscall.ENOENT) {
		return err
	}
	return nil
}

// killCgroupTree sends SIGKILL to every process in dir and its children.
func killCgroupTree(dir string) {
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		b, _ := os.ReadFile(path)
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		return nil
	})
}
