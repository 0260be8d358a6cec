package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshdPath is the OpenSSH server; it must be run by its absolute path
// because it re-executes itself for every connection.
const sshdPath = "/usr/sbin/sshd"

// benchHome is the home directory of the benchmark user: empty, so that no
// shell rc file runs on login.
const benchHome = "/var/lib/tendbench"

// fleet is the set of sshd test hosts of one harness run. Hosts are started
// on demand (ensure) and kept for the following sizes: the first n hosts of
// the fleet serve a size of n hosts.
type fleet struct {
	dir        string // the harness's work directory
	user       string // the login user of both tools
	uid, gid   int
	keyFile    string // the client's private key (OpenSSH format)
	knownHosts string // known_hosts with every host's key
	signer     ssh.Signer
	hosts      []*host
	cg         *cgroup // every sshd host and its sessions run in it
}

// host is one running sshd with its own port, host key, config and log,
// and its own target directory (root) that the workload converges.
type host struct {
	name    string
	port    int
	dir     string // config, keys and log of this sshd
	logFile string
	root    string // the target directory both tools converge
	appPort int    // a per-host value the templates render
	cmd     *exec.Cmd
	hostKey ssh.PublicKey
}

// newFleet prepares the benchmark user and the client key; it starts no
// host yet.
func newFleet(dir, userName string, cg *cgroup) (*fleet, error) {
	if _, err := os.Stat(sshdPath); err != nil {
		return nil, fmt.Errorf("find sshd (%v): install it with apt-get install -y openssh-server", err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, fmt.Errorf("create /run/sshd: %w", err)
	}
	f := &fleet{dir: dir, user: userName, cg: cg}
	if err := f.ensureUser(); err != nil {
		return nil, err
	}
	for _, d := range []string{dir, filepath.Join(dir, "sshd"), filepath.Join(dir, "keys")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	// The directories the user writes to: the hosts' roots and tend's
	// state directory.
	for _, d := range []string{f.hostsDir(), f.stateDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
		if err := os.Chown(d, f.uid, f.gid); err != nil {
			return nil, fmt.Errorf("chown %s: %w", d, err)
		}
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate client key: %w", err)
	}
	f.signer, err = ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("client key signer: %w", err)
	}
	f.keyFile = filepath.Join(dir, "keys", "id_ed25519")
	if err := writeKey(f.keyFile, priv); err != nil {
		return nil, err
	}
	f.knownHosts = filepath.Join(dir, "keys", "known_hosts")
	if err := os.WriteFile(f.knownHosts, nil, 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", f.knownHosts, err)
	}
	return f, nil
}

func (f *fleet) hostsDir() string { return filepath.Join(f.dir, "hosts") }
func (f *fleet) stateDir() string { return filepath.Join(f.dir, "state") }

// ensureUser creates the benchmark user when it is missing: a plain /bin/sh
// login with an empty home, unlocked for key login (sshd with UsePAM no
// refuses a locked account).
func (f *fleet) ensureUser() error {
	u, err := user.Lookup(f.user)
	if err != nil {
		if os.Geteuid() != 0 {
			return fmt.Errorf("user %s is missing and only root can create it: run the harness as root", f.user)
		}
		if out, err := exec.Command("useradd", "-M", "-d", benchHome, "-s", "/bin/sh", f.user).CombinedOutput(); err != nil {
			return fmt.Errorf("useradd %s: %v: %s", f.user, err, out)
		}
		if u, err = user.Lookup(f.user); err != nil {
			return fmt.Errorf("look up %s after useradd: %w", f.user, err)
		}
	}
	if out, err := exec.Command("usermod", "-p", "*", f.user).CombinedOutput(); err != nil {
		return fmt.Errorf("unlock %s: %v: %s", f.user, err, out)
	}
	f.uid, _ = strconv.Atoi(u.Uid)
	f.gid, _ = strconv.Atoi(u.Gid)
	if err := os.MkdirAll(u.HomeDir, 0o755); err != nil {
		return fmt.Errorf("create home %s: %w", u.HomeDir, err)
	}
	if err := os.Chown(u.HomeDir, f.uid, f.gid); err != nil {
		return fmt.Errorf("chown home %s: %w", u.HomeDir, err)
	}
	// No rc file may slow a login down: the measure is of the tools.
	for _, rc := range []string{".profile", ".bashrc", ".bash_profile", ".shrc"} {
		_ = os.Remove(filepath.Join(u.HomeDir, rc))
	}
	return nil
}

// ensure starts hosts until the fleet has n of them, and rewrites the
// known_hosts file.
func (f *fleet) ensure(n int) error {
	for len(f.hosts) < n {
		h, err := f.start(len(f.hosts))
		if err != nil {
			return err
		}
		f.hosts = append(f.hosts, h)
	}
	var b strings.Builder
	for _, h := range f.hosts {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(h.port))
		b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(addr)}, h.hostKey) + "\n")
	}
	if err := os.WriteFile(f.knownHosts, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", f.knownHosts, err)
	}
	return nil
}

// start writes host i's directory and runs its sshd until it answers.
func (f *fleet) start(i int) (*host, error) {
	h := &host{
		name:    fmt.Sprintf("h%03d", i),
		appPort: 8000 + i,
	}
	h.dir = filepath.Join(f.dir, "sshd", h.name)
	h.root = filepath.Join(f.hostsDir(), h.name)
	h.logFile = filepath.Join(h.dir, "sshd.log")
	if err := os.MkdirAll(h.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", h.dir, err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate host key of %s: %w", h.name, err)
	}
	hostKeyFile := filepath.Join(h.dir, "ssh_host_ed25519_key")
	if err := writeKey(hostKeyFile, priv); err != nil {
		return nil, err
	}
	sg, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("host key signer of %s: %w", h.name, err)
	}
	h.hostKey = sg.PublicKey()
	// sshd reads authorized_keys as the user: it must be readable by it.
	auth := filepath.Join(h.dir, "authorized_keys")
	if err := os.WriteFile(auth, ssh.MarshalAuthorizedKey(f.signer.PublicKey()), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", auth, err)
	}
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		h.port = port
		cfg := strings.Join([]string{
			"Port " + strconv.Itoa(port),
			"ListenAddress 127.0.0.1",
			"HostKey " + hostKeyFile,
			"PidFile " + filepath.Join(h.dir, "sshd.pid"),
			"AuthorizedKeysFile " + auth,
			"AllowUsers " + f.user,
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"UsePAM no",
			"StrictModes no",
			"MaxStartups 100:30:200",
			"Subsystem sftp internal-sftp",
			"LogLevel VERBOSE",
			"PrintMotd no",
			"PrintLastLog no",
		}, "\n") + "\n"
		cfgFile := filepath.Join(h.dir, "sshd_config")
		if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", cfgFile, err)
		}
		_ = os.Remove(h.logFile)
		h.cmd = exec.Command(sshdPath, "-D", "-f", cfgFile, "-E", h.logFile)
		h.cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: f.cg.fd}
		if err := h.cmd.Start(); err != nil {
			return nil, fmt.Errorf("run %s for %s: %w", sshdPath, h.name, err)
		}
		if lastErr = waitBanner(h); lastErr == nil {
			return h, nil
		}
		h.stop()
	}
	return nil, fmt.Errorf("start sshd for %s: %w", h.name, lastErr)
}

// waitBanner waits until h's sshd answers with an SSH banner, or its
// process has exited.
func waitBanner(h *host) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(h.port))
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			buf := make([]byte, 4)
			_, err = c.Read(buf)
			c.Close()
			if err == nil && string(buf) == "SSH-" {
				return nil
			}
		}
		if p, err := os.ReadFile(h.logFile); err == nil && strings.Contains(string(p), "Address already in use") {
			return errors.New("port already in use")
		}
		time.Sleep(10 * time.Millisecond)
	}
	log, _ := os.ReadFile(h.logFile)
	return fmt.Errorf("no SSH banner on %s after 5s; sshd log:\n%s", addr, log)
}

// stop kills h's sshd and every session process under it, by PID.
func (h *host) stop() {
	if h.cmd == nil || h.cmd.Process == nil {
		return
	}
	pid := h.cmd.Process.Pid
	for _, p := range descendants(pid) {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	_ = h.cmd.Process.Kill()
	_ = h.cmd.Wait()
	h.cmd = nil
}

// stop stops every host of the fleet.
func (f *fleet) stop() {
	for _, h := range f.hosts {
		h.stop()
	}
}

// sshdCounts is what one sshd's log says it served so far.
type sshdCounts struct {
	conns, sessions int
	logSize         int64
}

// counts reads h's log: "Accepted publickey for" per authenticated
// connection, "Starting session:" per command or subsystem.
func (h *host) counts() sshdCounts {
	var c sshdCounts
	if b, err := os.ReadFile(h.logFile); err == nil {
		s := string(b)
		c.conns = strings.Count(s, "Accepted publickey for ")
		c.sessions = strings.Count(s, "Starting session: ")
		c.logSize = int64(len(b))
	}
	return c
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeKey writes an ed25519 private key in OpenSSH format, mode 0600.
func writeKey(path string, priv ed25519.PrivateKey) error {
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return fmt.Errorf("marshal key %s: %w", path, err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		return fmt.Errorf("write key %s: %w", path, err)
	}
	return nil
}
