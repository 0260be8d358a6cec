package source

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/tendhq/tend/internal/sshtest"
)

// gpgHome makes a short GNUPGHOME with one ed25519 signing key and returns
// the home, the key's fingerprint and its armored public key. The agent is
// stopped when the test ends.
func gpgHome(t *testing.T, uid string) (home, fpr, armored string) {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatal("gpg is missing: apt-get install -y gnupg")
	}
	home, err := os.MkdirTemp("/tmp", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent").Run()
		_ = os.RemoveAll(home)
	})
	env := append(gitEnv(), "GNUPGHOME="+home)
	run := func(args ...string) string {
		cmd := exec.Command("gpg", append([]string{"--batch", "--homedir", home}, args...)...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gpg %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}
	run("--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
	for _, line := range strings.Split(run("--with-colons", "--list-secret-keys"), "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			fpr = f[9]
			break
		}
	}
	if fpr == "" {
		t.Fatal("no fingerprint for the generated gpg key")
	}
	return home, fpr, run("--armor", "--export", fpr)
}

func TestPGPSignatures(t *testing.T) {
	home, fpr, pub := gpgHome(t, "Trusted Signer <trusted@example.test>")
	_, _, otherPub := gpgHome(t, "Other Signer <other@example.test>")
	r := newRepo(t)
	r.env = append(r.env, "GNUPGHOME="+home)
	r.cfg = []string{"-c", "user.signingkey=" + fpr}
	signed := r.commit(specFiles("signed\n"), "signed", "-S")

	trusting := func(keys ...string) *Source {
		return mustNew(t, Spec{URL: r.bare, Ref: "main", CacheDir: t.TempDir(), RequireSigned: true, TrustedPGPKeys: keys})
	}
	snap, err := trusting(otherPub, pub).Fetch(ctx)
	if err != nil {
		t.Fatalf("a commit signed by a trusted key was refused: %v", err)
	}
	if rv := snap.Revision; rv.Hash != signed || !rv.Signed || !strings.Contains(rv.SignedBy, "trusted@example.test") {
		t.Fatalf("revision = %+v", rv)
	}
	// The same commit with only another key trusted is refused.
	var se *SignatureError
	s := trusting(otherPub)
	if _, err := s.Fetch(ctx); !errors.As(err, &se) || !strings.Contains(se.Reason, "unknown key") || se.Revision.Hash != signed {
		t.Fatalf("unknown key: %v", err)
	}
	if _, ok := s.Head(); ok {
		t.Fatal("a refused revision became Head")
	}
	// An unsigned commit is refused, and At refuses it too.
	r.cfg = nil
	unsigned := r.commit(map[string]string{"specs/templates/motd.tmpl": "unsigned\n"}, "unsigned")
	s = trusting(pub)
	if _, err := s.Fetch(ctx); !errors.As(err, &se) || se.Reason != "unsigned" || se.Revision.Hash != unsigned || se.Revision.Signed {
		t.Fatalf("unsigned: %v", err)
	}
	if _, err := s.At(ctx, signed); err != nil {
		t.Fatalf("At of the signed commit: %v", err)
	}
	if _, err := s.At(ctx, unsigned); !errors.As(err, &se) {
		t.Fatalf("At of the unsigned commit: %v", err)
	}
	// Without RequireSigned, anything goes, and Signed is still reported.
	plain := mustNew(t, Spec{URL: r.bare, Ref: signed})
	if snap, err := plain.Fetch(ctx); err != nil || !snap.Revision.Signed {
		t.Fatalf("signature not required: %v", err)
	}
}

func TestSSHSignatures(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "signing")
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshtest.WritePrivateKey(t, keyFile, priv, "")
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pubLine := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " release-key"
	if err := os.WriteFile(keyFile+".pub", []byte(pubLine+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(otherPriv)
	otherLine := string(ssh.MarshalAuthorizedKey(otherSigner.PublicKey()))

	r := newRepo(t)
	r.cfg = []string{"-c", "gpg.format=ssh", "-c", "user.signingkey=" + keyFile + ".pub"}
	h := r.commit(specFiles("ssh-signed\n"), "ssh signed", "-S")

	s := mustNew(t, Spec{URL: r.bare, Ref: "main", RequireSigned: true, TrustedSSHKeys: []string{otherLine, pubLine}})
	snap, err := s.Fetch(ctx)
	if err != nil {
		t.Fatalf("ssh-signed commit with its key trusted: %v", err)
	}
	if rv := snap.Revision; rv.Hash != h || !rv.Signed || !strings.HasPrefix(rv.SignedBy, "release-key (SHA256:") {
		t.Fatalf("revision = %+v", rv)
	}
	var se *SignatureError
	s = mustNew(t, Spec{URL: r.bare, Ref: "main", RequireSigned: true, TrustedSSHKeys: []string{otherLine}})
	if _, err := s.Fetch(ctx); !errors.As(err, &se) || !strings.Contains(se.Reason, "unknown ssh key") {
		t.Fatalf("ssh-signed commit with its key not trusted: %v", err)
	}
	// A signed commit whose content was changed after signing is refused.
	raw := gitCmd(t, r.work, r.env, "cat-file", "commit", "HEAD")
	tampered := strings.Replace(raw, "\n\nssh signed", "\n\nssh signed, then changed", 1)
	if tampered == raw {
		t.Fatalf("could not tamper with the commit:\n%s", raw)
	}
	objFile := filepath.Join(dir, "tampered")
	if err := os.WriteFile(objFile, []byte(tampered+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := gitCmd(t, r.work, r.env, "hash-object", "-t", "commit", "-w", objFile)
	gitCmd(t, r.work, r.env, "push", "-q", "-f", "origin", bad+":refs/heads/main")
	s = mustNew(t, Spec{URL: r.bare, Ref: "main", RequireSigned: true, TrustedSSHKeys: []string{pubLine}})
	if _, err := s.Fetch(ctx); !errors.As(err, &se) || !strings.Contains(se.Reason, "bad ssh signature") || se.Revision.Hash != bad {
		t.Fatalf("tampered ssh-signed commit: %v", err)
	}
	// Only PGP keys trusted: refused as well.
	_, _, pgp := gpgHome(t, "PGP Only <pgp@example.test>")
	s = mustNew(t, Spec{URL: r.bare, Ref: "main", RequireSigned: true, TrustedPGPKeys: []string{pgp}})
	if _, err := s.Fetch(ctx); !errors.As(err, &se) {
		t.Fatalf("ssh-signed commit with only pgp keys trusted: %v", err)
	}
}
