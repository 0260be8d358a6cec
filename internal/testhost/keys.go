package testhost

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// keyPair is an ed25519 key in the forms the hosts and the client need.
type keyPair struct {
	private    []byte // OpenSSH PEM
	authorized []byte // one authorized_keys / .pub line
	public     ssh.PublicKey
	signer     ssh.Signer
}

// clientKey is the key the tests log in with, written to file.
type clientKey struct {
	keyPair
	file string
}

// newKeyPair generates a fresh ed25519 key.
func newKeyPair(comment string) (keyPair, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return keyPair{}, fmt.Errorf("generate ed25519 key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return keyPair{}, fmt.Errorf("marshal ed25519 key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return keyPair{}, fmt.Errorf("signer from ed25519 key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return keyPair{}, fmt.Errorf("public ed25519 key: %w", err)
	}
	line := strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(sshPub)), "\n") + " " + comment + "\n"
	return keyPair{
		private:    pem.EncodeToMemory(block),
		authorized: []byte(line),
		public:     sshPub,
		signer:     signer,
	}, nil
}

// newHostKey generates a host's sshd key.
func newHostKey() (keyPair, error) { return newKeyPair("tend-testhost-host") }

// newClientKey generates the client key and writes its private half to file
// (0600) and its public half to file.pub.
func newClientKey(file string) (*clientKey, error) {
	kp, err := newKeyPair("tend-testhost-client")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, kp.private, 0o600); err != nil {
		return nil, fmt.Errorf("write client key %s: %w", file, err)
	}
	if err := os.WriteFile(file+".pub", kp.authorized, 0o644); err != nil {
		return nil, fmt.Errorf("write client key %s.pub: %w", file, err)
	}
	return &clientKey{keyPair: kp, file: file}, nil
}

// knownHostsLine returns h's known_hosts line, in the [127.0.0.1]:PORT form.
func (h *Host) knownHostsLine() string {
	addr := knownhosts.Normalize(net.JoinHostPort("127.0.0.1", strconv.Itoa(h.Port)))
	return knownhosts.Line([]string{addr}, h.hostKey) + "\n"
}

// writeKnownHosts writes one known_hosts file with a line for every host.
func writeKnownHosts(file string, hosts []*Host) error {
	var b strings.Builder
	for _, h := range hosts {
		b.WriteString(h.knownHostsLine())
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write known_hosts %s: %w", file, err)
	}
	return nil
}
