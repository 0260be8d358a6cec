package ssh

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// endpoint is one SSH server to authenticate to: the target or its jump
// host, with the inventory's settings already defaulted.
type endpoint struct {
	label         string // "web1" or "jump host bastion:22", for messages
	addr          string // address without port
	port          int
	user          string
	identityFiles []string
	useAgent      bool
	knownHosts    string
}

// hostport is the "addr:port" form dialled and looked up in known_hosts.
func (ep endpoint) hostport() string {
	return net.JoinHostPort(ep.addr, fmt.Sprint(ep.port))
}

// authMethod collects the signers for ep: every identity file, then the
// keys of ssh-agent when ep.useAgent. The returned function releases the
// agent connection; call it once the handshake is over. When no signer is
// found the error says why.
func authMethod(ep endpoint, opts Options, timeout time.Duration, log *zap.Logger) (ssh.AuthMethod, func(), error) {
	noop := func() {}
	var (
		signers []ssh.Signer
		seen    = map[string]bool{}
		sources []string
	)
	add := func(s ssh.Signer) {
		k := string(s.PublicKey().Marshal())
		if !seen[k] {
			seen[k] = true
			signers = append(signers, s)
		}
	}
	// A listed file that cannot be used is an error, not a silent skip:
	// the inventory asked for it by name.
	for _, f := range ep.identityFiles {
		path, err := expandHome(f)
		if err != nil {
			return nil, noop, fmt.Errorf("identity file %s: %w", f, err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, noop, fmt.Errorf("read identity file %s: %w", path, err)
		}
		s, err := ssh.ParsePrivateKey(b)
		var pm *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &pm) && ep.useAgent:
			// The agent may hold the decrypted key, as with OpenSSH.
			log.Warn("identity file is protected by a passphrase; relying on ssh-agent for it",
				zap.String("file", path))
			continue
		case errors.As(err, &pm):
			return nil, noop, fmt.Errorf("identity file %s is protected by a passphrase, which tend cannot ask for: "+
				"load it into ssh-agent (ssh-add %s) and set ssh_agent = true", path, path)
		case err != nil:
			return nil, noop, fmt.Errorf("parse identity file %s: %w", path, err)
		}
		add(s)
		sources = append(sources, path)
	}

	// Agent keys come after the files, as with OpenSSH. The agent
	// connection must stay open through the handshake, which signs with
	// it; the caller releases it afterwards.
	release := noop
	if ep.useAgent {
		ag := opts.Agent
		where := "the ssh-agent given in Options"
		if ag == nil {
			sock := os.Getenv("SSH_AUTH_SOCK")
			if sock == "" {
				if len(signers) == 0 {
					return nil, noop, fmt.Errorf("no key to log in as %s: ssh_agent is set but SSH_AUTH_SOCK is not", ep.user)
				}
				log.Warn("ssh_agent is set but SSH_AUTH_SOCK is not; using the identity files only")
			} else {
				conn, err := net.DialTimeout("unix", sock, timeout)
				if err != nil {
					return nil, noop, fmt.Errorf("connect to ssh-agent at %s: %w", sock, err)
				}
				release = func() { _ = conn.Close() }
				ag = agent.NewClient(conn)
				where = "ssh-agent at " + sock
			}
		}
		if ag != nil {
			keys, err := ag.Signers()
			if err != nil {
				release()
				return nil, noop, fmt.Errorf("list the keys of %s: %w", where, err)
			}
			for _, s := range keys {
				add(s)
			}
			sources = append(sources, fmt.Sprintf("%d key(s) of %s", len(keys), where))
		}
	}
	if len(signers) == 0 {
		release()
		if len(sources) == 0 {
			return nil, noop, fmt.Errorf("no key to log in as %s: the host has no identity files and ssh_agent is off", ep.user)
		}
		return nil, noop, fmt.Errorf("no key to log in as %s: %s", ep.user, strings.Join(sources, ", "))
	}
	return ssh.PublicKeys(signers...), release, nil
}

// describeAuth says which keys were offered, for an authentication failure.
func describeAuth(ep endpoint) string {
	var parts []string
	if len(ep.identityFiles) > 0 {
		parts = append(parts, "identity files "+strings.Join(ep.identityFiles, ", "))
	}
	if ep.useAgent {
		parts = append(parts, "ssh-agent keys")
	}
	return strings.Join(parts, " and ")
}

// expandHome replaces a leading "~" or "~user" with that home directory.
func expandHome(p string) (string, error) {
	if !strings.HasPrefix(p, "~") {
		return p, nil
	}
	name, rest, _ := strings.Cut(p[1:], "/")
	var home string
	if name == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		home = h
	} else {
		u, err := user.Lookup(name)
		if err != nil {
			return "", err
		}
		home = u.HomeDir
	}
	return filepath.Join(home, rest), nil
}

// currentUser is the login name used when the inventory gives none.
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

// lockedBuffer is a bytes.Buffer safe for one writer and concurrent
// readers, for the stderr of a long-lived session.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
