package sshtest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/inventory"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHD is the OpenSSH server binary the harness runs. It must be called by
// its absolute path: sshd re-executes itself for every connection.
const SSHD = "/usr/sbin/sshd"

// readyTimeout bounds how long Start waits for one sshd to answer.
const readyTimeout = 5 * time.Second

// Server is one running sshd. Its fields are fixed once Start returns, except
// HostKey and HostKeySigner, which RotateHostKey replaces.
type Server struct {
	// Addr is "127.0.0.1:PORT", ready for net.Dial.
	Addr string
	// Port is the TCP port sshd listens on.
	Port int
	// Dir holds everything of this instance: config, keys, pid and log.
	Dir string
	// ConfigFile is the sshd_config the server runs with.
	ConfigFile string
	// LogFile is sshd's log (LogLevel VERBOSE), read by Connections and
	// Sessions.
	LogFile string
	// ClientKeyFile is the private key (OpenSSH format, no passphrase) that
	// every server of the same Start call accepts.
	ClientKeyFile string
	// ClientSigner is the same client key, for in-process agents.
	ClientSigner ssh.Signer
	// ClientKey is the same client key as a crypto private key, for
	// agent.Keyring.Add.
	ClientKey any
	// KnownHostsFile is a known_hosts file with this server's ed25519 host
	// key under "[127.0.0.1]:PORT".
	KnownHostsFile string
	// HostKeyFile is the ed25519 private host key sshd loads.
	HostKeyFile string
	// HostKey is the public half of HostKeyFile.
	HostKey ssh.PublicKey
	// HostKeySigner is the private half of HostKeyFile.
	HostKeySigner ssh.Signer
	// ExtraHostKeys are the host keys added by WithECDSAHostKey; they are
	// not in KnownHostsFile.
	ExtraHostKeys []ssh.PublicKey

	t        testing.TB
	cfgLines []string // sshd_config without the Port line
	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when cmd has exited and been waited for
}

// Option changes how Start configures its servers.
type Option func(*config)

type config struct {
	authorized  []ssh.PublicKey
	ecdsa       bool
	extraConfig []string
	client      any
}

// WithAuthorizedKeys authorizes more client keys besides the shared one.
func WithAuthorizedKeys(keys ...ssh.PublicKey) Option {
	return func(c *config) { c.authorized = append(c.authorized, keys...) }
}

// WithClientKey makes the servers accept key (an ed25519.PrivateKey,
// *ecdsa.PrivateKey or *rsa.PrivateKey) as the shared client key, written to
// ClientKeyFile, instead of a freshly generated ed25519 key.
func WithClientKey(key any) Option {
	return func(c *config) { c.client = key }
}

// WithECDSAHostKey gives every server a second host key (ECDSA P-256) that
// KnownHostsFile does not list. Go's SSH client prefers ECDSA, so a client
// that does not restrict HostKeyAlgorithms to the known key types fails with
// "key mismatch" against such a server.
func WithECDSAHostKey() Option {
	return func(c *config) { c.ecdsa = true }
}

// WithConfig appends raw lines to every server's sshd_config, e.g.
// "MaxSessions 2".
func WithConfig(lines ...string) Option {
	return func(c *config) { c.extraConfig = append(c.extraConfig, lines...) }
}

// Start runs n sshd processes on free ports of 127.0.0.1 and returns them
// once each answers with an SSH banner. They are stopped in t.Cleanup. A
// missing sshd fails the test with the command that installs it.
func Start(t testing.TB, n int, opts ...Option) []*Server {
	t.Helper()
	if _, err := os.Stat(SSHD); err != nil {
		t.Fatalf("sshd not found (%v): apt-get install -y openssh-server", err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("sshd needs /run/sshd: %v", err)
	}
	var c config
	for _, o := range opts {
		o(&c)
	}
	base := t.TempDir()
	if c.client == nil {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatalf("generate client key: %v", err)
		}
		c.client = priv
	}
	clientSigner, err := ssh.NewSignerFromKey(c.client)
	if err != nil {
		t.Fatalf("client signer: %v", err)
	}
	clientKeyFile := filepath.Join(base, "id_client")
	WritePrivateKey(t, clientKeyFile, c.client, "")
	if err := os.WriteFile(clientKeyFile+".pub", ssh.MarshalAuthorizedKey(clientSigner.PublicKey()), 0o644); err != nil {
		t.Fatalf("write client public key: %v", err)
	}

	servers := make([]*Server, n)
	for i := range servers {
		s := &Server{
			Dir:           filepath.Join(base, fmt.Sprintf("sshd%d", i)),
			ClientKeyFile: clientKeyFile,
			ClientSigner:  clientSigner,
			ClientKey:     c.client,
			t:             t,
		}
		s.setup(&c, clientSigner.PublicKey())
		t.Cleanup(s.stop)
		s.startOnFreePort()
		servers[i] = s
	}
	return servers
}

// setup writes the instance directory: host keys, authorized_keys and the
// parts of the config that do not depend on the port.
func (s *Server) setup(c *config, client ssh.PublicKey) {
	t := s.t
	t.Helper()
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		t.Fatalf("sshtest dir: %v", err)
	}
	s.ConfigFile = filepath.Join(s.Dir, "sshd_config")
	s.LogFile = filepath.Join(s.Dir, "sshd.log")
	s.KnownHostsFile = filepath.Join(s.Dir, "known_hosts")
	s.HostKeyFile = filepath.Join(s.Dir, "ssh_host_ed25519_key")
	s.newHostKey(t)

	var auth bytes.Buffer
	auth.Write(ssh.MarshalAuthorizedKey(client))
	for _, k := range c.authorized {
		auth.Write(ssh.MarshalAuthorizedKey(k))
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "authorized_keys"), auth.Bytes(), 0o600); err != nil {
		t.Fatalf("write authorized_keys: %v", err)
	}

	hostKeys := []string{s.HostKeyFile}
	if c.ecdsa {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatalf("generate ecdsa host key: %v", err)
		}
		sg, err := ssh.NewSignerFromKey(priv)
		if err != nil {
			t.Fatalf("ecdsa signer: %v", err)
		}
		f := filepath.Join(s.Dir, "ssh_host_ecdsa_key")
		WritePrivateKey(t, f, priv, "")
		hostKeys = append(hostKeys, f)
		s.ExtraHostKeys = append(s.ExtraHostKeys, sg.PublicKey())
	}
	s.cfgLines = []string{
		"ListenAddress 127.0.0.1",
	}
	for _, hk := range hostKeys {
		s.cfgLines = append(s.cfgLines, "HostKey "+hk)
	}
	s.cfgLines = append(s.cfgLines,
		"PidFile "+filepath.Join(s.Dir, "sshd.pid"),
		"AuthorizedKeysFile "+filepath.Join(s.Dir, "authorized_keys"),
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes no",
		"MaxStartups 100:30:200",
		"Subsystem sftp internal-sftp",
		"LogLevel VERBOSE",
		"PermitRootLogin yes",
		"PrintMotd no",
	)
	s.cfgLines = append(s.cfgLines, c.extraConfig...)
}

// startOnFreePort picks a free port and starts sshd on it, retrying with
// another port when one was taken between the pick and sshd's bind.
func (s *Server) startOnFreePort() {
	t := s.t
	t.Helper()
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		err = s.start(port)
		if err == nil {
			return
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	t.Fatalf("start sshd in %s: %v", s.Dir, lastErr)
}

var errPortTaken = errors.New("port already in use")

// start writes the config for port and runs sshd until it answers.
func (s *Server) start(port int) error {
	s.Port = port
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg := "Port " + strconv.Itoa(port) + "\n" + strings.Join(s.cfgLines, "\n") + "\n"
	if err := os.WriteFile(s.ConfigFile, []byte(cfg), 0o600); err != nil {
		return err
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, s.HostKey)
	if err := os.WriteFile(s.KnownHostsFile, []byte(line+"\n"), 0o600); err != nil {
		return err
	}
	before := logSize(s.LogFile)
	stderr, err := os.OpenFile(filepath.Join(s.Dir, "sshd.stderr"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer stderr.Close()
	cmd := exec.Command(SSHD, "-D", "-f", s.ConfigFile, "-E", s.LogFile)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", SSHD, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			tail := s.logSince(before)
			if strings.Contains(tail, "Address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("sshd exited (%v); its log:\n%s", cmd.ProcessState, tail)
		default:
		}
		if banner(s.Addr) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.stop()
	return fmt.Errorf("sshd on %s did not answer within %s; its log:\n%s", s.Addr, readyTimeout, s.logSince(before))
}

// banner reports whether an SSH server answers on addr, with deadlines so
// that a wedged listener cannot hang the probe.
func banner(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-")
}

// stop kills the per-connection children of sshd and then sshd itself, by
// PID, and waits for it. It is safe to call more than once.
func (s *Server) stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	killTree(cmd.Process.Pid, false)
	_ = cmd.Process.Kill()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.t.Errorf("sshd %d did not exit after SIGKILL", cmd.Process.Pid)
	}
}

// Restart stops sshd and starts it again on the same port with the same
// directory, for instance after its host key file changed.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.stop()
	if err := s.start(s.Port); err != nil {
		t.Fatalf("restart sshd on %s: %v", s.Addr, err)
	}
}

// RotateHostKey gives the server a new ed25519 host key and restarts it. The
// KnownHostsFile is rewritten with the new key; files the test copied or
// wrote before still hold the old one, which is how a "host key changed"
// test is set up. It returns the new public key.
func (s *Server) RotateHostKey(t testing.TB) ssh.PublicKey {
	t.Helper()
	s.newHostKey(t)
	s.Restart(t)
	return s.HostKey
}

// PID returns the process ID of the listening sshd, or 0 when stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// KillConnections kills, with SIGKILL and by PID, every process sshd forked
// for a client connection, which drops all open connections as a crashed or
// rebooted host would. The listener keeps running and accepts new ones. It
// returns how many processes it killed.
func (s *Server) KillConnections(t testing.TB) int {
	t.Helper()
	pid := s.PID()
	if pid == 0 {
		t.Fatalf("KillConnections: sshd on %s is not running", s.Addr)
	}
	return killTree(pid, false)
}

// Host returns an inventory host that reaches this server as the current
// user with the shared client key and the server's known_hosts file.
func (s *Server) Host(name string) *inventory.Host {
	return &inventory.Host{
		Name:           name,
		Address:        "127.0.0.1",
		Port:           s.Port,
		User:           currentUser(),
		IdentityFiles:  []string{s.ClientKeyFile},
		KnownHosts:     s.KnownHostsFile,
		ConnectTimeout: 5 * time.Second,
		Vars:           cty.EmptyObjectVal,
	}
}

// Jump returns this server as a bastion for another host.
func (s *Server) Jump() *inventory.Jump {
	return &inventory.Jump{
		Address:       "127.0.0.1",
		Port:          s.Port,
		User:          currentUser(),
		IdentityFiles: []string{s.ClientKeyFile},
		KnownHosts:    s.KnownHostsFile,
	}
}

// Connections counts the client connections sshd authenticated so far (its
// "Accepted publickey" log lines). sshd's monitor writes that line at about
// the moment the client learns it is in, so count after the client has run
// at least one command.
func (s *Server) Connections() int {
	return strings.Count(s.Log(), "Accepted publickey for ")
}

// Sessions counts the sessions sshd started so far: one per command
// execution and one per SFTP subsystem ("Starting session:" log lines, which
// sshd writes before it runs the command).
func (s *Server) Sessions() int {
	return strings.Count(s.Log(), "Starting session: ")
}

// Log returns the whole sshd log, for counting and for failure messages.
func (s *Server) Log() string {
	b, err := os.ReadFile(s.LogFile)
	if err != nil {
		return ""
	}
	return string(b)
}

func (s *Server) logSince(off int64) string {
	l := s.Log()
	if off > int64(len(l)) {
		return l
	}
	return l[off:]
}

func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
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

// newHostKey makes a new ed25519 host key and writes it to HostKeyFile.
func (s *Server) newHostKey(t testing.TB) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generate ed25519 host key: %v", err)
	}
	sg, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatalf("ed25519 signer: %v", err)
	}
	WritePrivateKey(t, s.HostKeyFile, priv, "")
	s.HostKeySigner, s.HostKey = sg, sg.PublicKey()
}

// WritePrivateKey writes key (an ed25519.PrivateKey, *ecdsa.PrivateKey or
// *rsa.PrivateKey) to path in OpenSSH format with mode 0600; with a
// non-empty passphrase the file is encrypted with it.
func WritePrivateKey(t testing.TB, path string, key any, passphrase string) {
	t.Helper()
	var (
		b   *pem.Block
		err error
	)
	if passphrase == "" {
		b, err = ssh.MarshalPrivateKey(key, "")
	} else {
		b, err = ssh.MarshalPrivateKeyWithPassphrase(key, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatalf("marshal private key %s: %v", path, err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(b), 0o600); err != nil {
		t.Fatalf("write private key: %v", err)
	}
}
