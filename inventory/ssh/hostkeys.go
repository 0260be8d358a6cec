package ssh

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// knownHostsMu serialises appends to known_hosts files by this process, so
// that hosts trusted on first use in parallel do not interleave their lines.
var knownHostsMu sync.Mutex

// probeKey is a key no known_hosts file lists; looking it up returns every
// key that is listed for a host (knownhosts.KeyError.Want).
var probeKey = func() ssh.PublicKey {
	k, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public())
	if err != nil {
		panic(err)
	}
	return k
}()

// hostKeys checks the host key of one endpoint against its known_hosts file.
type hostKeys struct {
	ep   endpoint
	tofu bool
	log  *zap.Logger
	db   ssh.HostKeyCallback // nil when the file does not exist yet

	mu       sync.Mutex
	err      error         // the last refusal, explained
	accepted ssh.PublicKey // the key recorded on first use, if any
}

// newHostKeys reads ep.knownHosts. A missing file is an empty database: every
// host is unknown until trusted on first use or added with ssh-keyscan.
func newHostKeys(ep endpoint, tofu bool, log *zap.Logger) (*hostKeys, error) {
	hk := &hostKeys{ep: ep, tofu: tofu, log: log}
	db, err := knownhosts.New(ep.knownHosts)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read known_hosts %s: %w", ep.knownHosts, err)
	default:
		hk.db = db
	}
	return hk, nil
}

// known returns the keys listed for ep (in file order).
func (hk *hostKeys) known() []knownhosts.KnownKey {
	if hk.db == nil {
		return nil
	}
	remote := &net.TCPAddr{IP: net.IPv4zero, Port: hk.ep.port}
	var ke *knownhosts.KeyError
	if errors.As(hk.db(hk.ep.hostport(), remote, probeKey), &ke) {
		return ke.Want
	}
	return nil
}

// algorithms returns the host key algorithms to offer: those of the keys
// known for ep, so that a server with several host keys presents the one on
// record. Nil (Go's defaults) for a host with no known key.
func (hk *hostKeys) algorithms() []string {
	var algos []string
	seen := map[string]bool{}
	for _, k := range hk.known() {
		var names []string
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			names = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		default:
			names = []string{t}
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				algos = append(algos, n)
			}
		}
	}
	return algos
}

// check is the ssh.HostKeyCallback. It accepts a listed key, records an
// unknown one when trusting on first use, and refuses everything else with
// an error that says what to do; the same error is kept for lastErr because
// the ssh package wraps it.
func (hk *hostKeys) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	hk.mu.Lock()
	defer hk.mu.Unlock()
	if hk.accepted != nil && string(hk.accepted.Marshal()) == string(key.Marshal()) {
		return nil // a re-key after the first use
	}
	// With no file, every host is unknown: the same path as a file that
	// does not list it.
	var err error = &knownhosts.KeyError{}
	if hk.db != nil {
		err = hk.db(hostname, remote, key)
	}
	if err == nil {
		return nil
	}
	var (
		ke *knownhosts.KeyError
		re *knownhosts.RevokedError
	)
	switch {
	case errors.As(err, &re):
		hk.err = fmt.Errorf("host key %s %s of %s is revoked at %s:%d",
			key.Type(), ssh.FingerprintSHA256(key), hk.ep.label, re.Revoked.Filename, re.Revoked.Line)
	case errors.As(err, &ke) && len(ke.Want) == 0:
		// Unknown: no key of this host is on record.
		if hk.tofu {
			if err := hk.record(hostname, key); err != nil {
				hk.err = err
				return err
			}
			hk.accepted = key
			hk.log.Warn("trusted a new host key on first use",
				zap.String("host", hk.ep.label), zap.String("address", hk.ep.hostport()),
				zap.String("type", key.Type()), zap.String("fingerprint", ssh.FingerprintSHA256(key)),
				zap.String("known_hosts", hk.ep.knownHosts))
			return nil
		}
		hk.err = fmt.Errorf("host key of %s is unknown: the server at %s offers %s %s, which %s does not list; "+
			"check that fingerprint, then rerun with --trust-on-first-use to record it, "+
			"or add the host's keys with: ssh-keyscan -p %d %s >> %s",
			hk.ep.label, hk.ep.hostport(), key.Type(), ssh.FingerprintSHA256(key), hk.ep.knownHosts,
			hk.ep.port, hk.ep.addr, hk.ep.knownHosts)
	case errors.As(err, &ke):
		// Changed: keys are on record and none matches. Never
		// recorded, whatever TrustOnFirstUse says; the message points
		// at the lines to check and at how to remove them.
		var recorded []string
		for _, w := range ke.Want {
			recorded = append(recorded, fmt.Sprintf("%s:%d has %s %s", w.Filename, w.Line, w.Key.Type(), ssh.FingerprintSHA256(w.Key)))
		}
		name := knownhosts.Normalize(hk.ep.hostport())
		hk.err = fmt.Errorf("host key of %s has CHANGED, which may be a man-in-the-middle attack: "+
			"the server at %s offers %s %s but %s; "+
			"if the change is expected, remove the line with ssh-keygen -R %s -f %s and connect again",
			hk.ep.label, hk.ep.hostport(), key.Type(), ssh.FingerprintSHA256(key), strings.Join(recorded, ", "),
			Quote(name), hk.ep.knownHosts)
	default:
		hk.err = fmt.Errorf("check host key of %s against %s: %w", hk.ep.label, hk.ep.knownHosts, err)
	}
	return hk.err
}

// lastErr returns the explained refusal of the last check, or nil.
func (hk *hostKeys) lastErr() error {
	hk.mu.Lock()
	defer hk.mu.Unlock()
	return hk.err
}

// record appends key for hostname to the known_hosts file, creating the file
// (0600) and its directory (0700) when missing.
func (hk *hostKeys) record(hostname string, key ssh.PublicKey) error {
	knownHostsMu.Lock()
	defer knownHostsMu.Unlock()
	file := hk.ep.knownHosts
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("record host key of %s: %w", hk.ep.label, err)
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("record host key of %s: %w", hk.ep.label, err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key) + "\n"
	// Do not glue the new line to a last line without a newline.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			line = "\n" + line
		} else if err != nil && err != io.EOF {
			f.Close()
			return fmt.Errorf("record host key of %s in %s: %w", hk.ep.label, file, err)
		}
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("record host key of %s in %s: %w", hk.ep.label, file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("record host key of %s in %s: %w", hk.ep.label, file, err)
	}
	return nil
}
