package sshtest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// dial connects to s with the shared client key, checking the host key
// against s.KnownHostsFile.
func dial(t *testing.T, s *Server) *ssh.Client {
	t.Helper()
	b, err := os.ReadFile(s.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatalf("parse client key: %v", err)
	}
	hk, err := knownhosts.New(s.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", s.Addr, &ssh.ClientConfig{
		User:              currentUser(),
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   hk,
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		Timeout:           5 * time.Second,
	})
	if err != nil {
		t.Fatalf("dial %s: %v\n%s", s.Addr, err, s.Log())
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func run(t *testing.T, c *ssh.Client, cmd string) string {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.CombinedOutput(cmd)
	if err != nil {
		t.Fatalf("run %q: %v\n%s", cmd, err, out)
	}
	return string(out)
}

func TestStartCountsConnectionsAndSessions(t *testing.T) {
	srvs := Start(t, 2)
	if srvs[0].Port == srvs[1].Port {
		t.Fatalf("two servers on one port %d", srvs[0].Port)
	}
	if srvs[0].ClientKeyFile != srvs[1].ClientKeyFile {
		t.Errorf("client key not shared: %s, %s", srvs[0].ClientKeyFile, srvs[1].ClientKeyFile)
	}
	s := srvs[0]
	c := dial(t, s)
	for i := range 3 {
		if got := run(t, c, "echo hi"); got != "hi\n" {
			t.Fatalf("run %d: got %q", i, got)
		}
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestSubsystem("sftp"); err != nil {
		t.Fatalf("sftp subsystem: %v", err)
	}
	sess.Close()
	// The subsystem's log line may trail the request's reply a little.
	deadline := time.Now().Add(2 * time.Second)
	for s.Sessions() < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := s.Connections(); got != 1 {
		t.Errorf("Connections() = %d, want 1\n%s", got, s.Log())
	}
	if got := s.Sessions(); got != 4 {
		t.Errorf("Sessions() = %d, want 4\n%s", got, s.Log())
	}
	if got := srvs[1].Connections(); got != 0 {
		t.Errorf("second server Connections() = %d, want 0", got)
	}
}

func TestKillConnectionsDropsClient(t *testing.T) {
	s := Start(t, 1)[0]
	c := dial(t, s)
	run(t, c, "true")
	if n := s.KillConnections(t); n == 0 {
		t.Fatal("KillConnections found no connection process")
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("client connection still open after KillConnections")
	}
	// The listener survives and takes new connections.
	run(t, dial(t, s), "true")
}

func TestRotateHostKey(t *testing.T) {
	s := Start(t, 1, WithECDSAHostKey())[0]
	old, err := os.ReadFile(s.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	run(t, dial(t, s), "true")
	oldKey := s.HostKey
	newKey := s.RotateHostKey(t)
	if string(newKey.Marshal()) == string(oldKey.Marshal()) {
		t.Fatal("RotateHostKey returned the old key")
	}
	run(t, dial(t, s), "true") // KnownHostsFile has the new key
	// With the old known_hosts the server is refused.
	if err := os.WriteFile(s.KnownHostsFile, old, 0o600); err != nil {
		t.Fatal(err)
	}
	hk, err := knownhosts.New(s.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ssh.Dial("tcp", s.Addr, &ssh.ClientConfig{
		User:              currentUser(),
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(s.ClientSigner)},
		HostKeyCallback:   hk,
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		Timeout:           5 * time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), "key mismatch") {
		t.Fatalf("dial with the old known_hosts: err = %v, want key mismatch", err)
	}
}

func TestHost(t *testing.T) {
	s := Start(t, 1)[0]
	h := s.Host("web1")
	if h.Name != "web1" || h.Address != "127.0.0.1" || h.Port != s.Port || h.KnownHosts != s.KnownHostsFile ||
		len(h.IdentityFiles) != 1 || h.IdentityFiles[0] != s.ClientKeyFile || h.User == "" || h.ConnectTimeout == 0 {
		t.Errorf("Host() = %+v", h)
	}
	if !h.Vars.Type().IsObjectType() {
		t.Errorf("Vars is %s, want an object", h.Vars.Type().FriendlyName())
	}
}

func TestClientKeyOptions(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, extra, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	extraSigner, err := ssh.NewSignerFromKey(extra)
	if err != nil {
		t.Fatal(err)
	}
	s := Start(t, 1, WithClientKey(ecKey), WithAuthorizedKeys(extraSigner.PublicKey()))[0]
	if s.ClientSigner.PublicKey().Type() != ssh.KeyAlgoECDSA256 {
		t.Fatalf("client key type %s, want the ECDSA key given", s.ClientSigner.PublicKey().Type())
	}
	run(t, dial(t, s), "true") // ClientKeyFile holds the ECDSA key
	hk, err := knownhosts.New(s.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", s.Addr, &ssh.ClientConfig{
		User:            currentUser(),
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(extraSigner)},
		HostKeyCallback: hk,
		Timeout:         5 * time.Second,
	})
	if err != nil {
		t.Fatalf("the extra authorized key was refused: %v", err)
	}
	c.Close()
}
