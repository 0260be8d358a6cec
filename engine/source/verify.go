package source

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// sshSigPrefix starts an SSH signature in a commit's gpgsig header.
const sshSigPrefix = "-----BEGIN SSH SIGNATURE-----"

// trustedSSHKey is one parsed Spec.TrustedSSHKeys entry.
type trustedSSHKey struct {
	key  ssh.PublicKey
	name string // "comment (SHA256:...)" or the fingerprint alone
}

// sshKeys parses Spec.TrustedSSHKeys.
func (s *Source) sshKeys() ([]trustedSSHKey, error) {
	var out []trustedSSHKey
	for i, line := range s.spec.TrustedSSHKeys {
		k, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("source: trusted ssh key %d: %w", i+1, err)
		}
		name := ssh.FingerprintSHA256(k)
		if comment != "" {
			name = comment + " (" + name + ")"
		}
		out = append(out, trustedSSHKey{key: k, name: name})
	}
	return out, nil
}

// verify checks c's signature against the trusted keys. It returns the name
// of the key that verified it, or "" and the reason it is not trusted.
func (s *Source) verify(c *object.Commit) (signedBy, reason string) {
	sig := strings.TrimSpace(c.PGPSignature)
	switch {
	case sig == "":
		return "", "unsigned"
	case strings.HasPrefix(sig, sshSigPrefix):
		return s.verifySSH(c, sig)
	}
	for _, key := range s.spec.TrustedPGPKeys {
		e, err := c.Verify(key)
		if err != nil || e == nil {
			continue
		}
		name := fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
		for id := range e.Identities {
			name = id + " (" + name + ")"
			break
		}
		return name, ""
	}
	return "", "signed by an unknown key or the signature does not match"
}

// verifySSH checks an SSH signature (git's gpg.format=ssh) with sshsig.
func (s *Source) verifySSH(c *object.Commit, armored string) (string, string) {
	sig, err := sshsig.Unarmor([]byte(armored))
	if err != nil {
		return "", "unreadable ssh signature: " + err.Error()
	}
	keys, err := s.sshKeys()
	if err != nil {
		return "", err.Error()
	}
	payload := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(payload); err != nil {
		return "", "encode commit: " + err.Error()
	}
	r, err := payload.Reader()
	if err != nil {
		return "", "encode commit: " + err.Error()
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return "", "encode commit: " + err.Error()
	}
	signer := sig.PublicKey.Marshal()
	for _, k := range keys {
		if !bytes.Equal(k.key.Marshal(), signer) {
			continue
		}
		if err := sshsig.Verify(bytes.NewReader(data), sig, k.key, sig.HashAlgorithm, "git"); err != nil {
			return "", "bad ssh signature: " + err.Error()
		}
		return k.name, ""
	}
	return "", "signed by an unknown ssh key " + ssh.FingerprintSHA256(sig.PublicKey)
}
