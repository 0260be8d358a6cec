package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/armor"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"golang.org/x/crypto/ssh"

	"github.com/tendhq/tend/resources"
)

// Option changes how Load reads and evaluates specs.
type Option func(*Config)

// WithIdentities gives the age identities that the secret function decrypts
// with (see ReadIdentityFile). Without any, a call of secret is an error,
// unless WithUnknownSecrets is given too.
func WithIdentities(ids ...age.Identity) Option {
	return func(c *Config) { c.secrets.ids = append(c.secrets.ids, ids...) }
}

// WithUnknownSecrets makes the secret function, when no identity is given,
// check that its file exists and is an age file and return an unknown
// sensitive string instead of an error. It is meant for tend validate, which
// checks specs where the identity is not at hand: resources that use a
// secret are then not built (Compile does not report them as not known).
// With identities given it changes nothing: secrets are decrypted.
func WithUnknownSecrets() Option {
	return func(c *Config) { c.secrets.unknown = true }
}

// Redacted is what replaces a secret's value in a message.
const Redacted = "(sensitive value)"

// secretStore holds the identities of a Config and the secrets decrypted
// with them, each file once however many hosts use it.
type secretStore struct {
	ids     []age.Identity
	unknown bool

	mu sync.Mutex
	// done holds the outcome of each file, by path in the spec file
	// system: the plaintext, or the error (which never holds plaintext).
	done map[string]secretResult
}

type secretResult struct {
	plain string
	err   error
}

// secretFunc is secret(path): the decrypted content of an age file of the
// spec or module directory dir, as a sensitive string. Errors about the
// path point at the argument; those about identities and decryption at the
// whole call. No error holds any part of the plaintext.
func (c *Config) secretFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the decrypted content of an age-encrypted file of the spec or module directory, as a sensitive string.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			full, err := c.resolve(dir, args[0].AsString())
			if err != nil {
				return cty.UnknownVal(cty.String), function.NewArgError(0, err)
			}
			plain, unknown, err := c.secrets.get(c.fsys, full)
			var pe *secretPathError
			switch {
			case errors.As(err, &pe):
				return cty.UnknownVal(cty.String), function.NewArgError(0, err)
			case err != nil:
				return cty.UnknownVal(cty.String), err
			case unknown:
				return cty.UnknownVal(cty.String).Mark(sensitiveMark), nil
			}
			return cty.StringVal(plain).Mark(sensitiveMark), nil
		},
	})
}

// secretPathError is a secret file that cannot be read: the problem is the
// path argument.
type secretPathError struct{ msg string }

func (e *secretPathError) Error() string { return e.msg }

// get returns the plaintext of the secret file full, decrypting it on the
// first call. unknown is true when there is no identity and unknown
// secrets were asked for: the file was only checked.
func (s *secretStore) get(fsys fs.FS, full string) (plain string, unknown bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.done[full]; ok {
		return r.plain, len(s.ids) == 0, r.err
	}
	if s.done == nil {
		s.done = map[string]secretResult{}
	}
	plain, err = s.decrypt(fsys, full)
	s.done[full] = secretResult{plain: plain, err: err}
	return plain, err == nil && len(s.ids) == 0, err
}

// decrypt reads and decrypts one file. Nothing of a partly decrypted
// payload is kept: a corrupt file gives an error and no text.
func (s *secretStore) decrypt(fsys fs.FS, full string) (string, error) {
	b, err := fs.ReadFile(fsys, full)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", &secretPathError{fmt.Sprintf("no secret file %s in the spec repository", full)}
	case err != nil:
		return "", &secretPathError{fmt.Sprintf("read secret file %s: %v", full, err)}
	}
	var src io.Reader = bytes.NewReader(b)
	if bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte(armor.Header)) {
		src = armor.NewReader(bytes.NewReader(b))
	}
	if len(s.ids) == 0 {
		if !s.unknown {
			return "", fmt.Errorf("the secret %s cannot be decrypted: no age identity was given; give one with --age-identity FILE or $TEND_AGE_IDENTITY (for the agent, age_identity in agent.hcl)", full)
		}
		// Without identities, only the header can be checked.
		if _, err := age.ExtractHeader(src); err != nil {
			return "", fmt.Errorf("the secret %s is not an age-encrypted file: %v", full, err)
		}
		return "", nil
	}
	r, err := age.Decrypt(src, s.ids...)
	var nm *age.NoIdentityMatchError
	switch {
	case errors.As(err, &nm):
		return "", fmt.Errorf("the secret %s cannot be decrypted with the age identities given: it is encrypted to other recipients; re-encrypt it to an identity's recipient (age-keygen -y) or give the right identity", full)
	case err != nil:
		return "", fmt.Errorf("the secret %s is not a valid age-encrypted file: %v", full, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		// age's stream errors say which chunk failed, never its bytes.
		return "", fmt.Errorf("the secret %s is corrupt: %v", full, err)
	}
	if !utf8.Valid(out) {
		return "", fmt.Errorf("the decrypted content of %s is not UTF-8 text; secrets must be text", full)
	}
	return string(out), nil
}

// plaintexts returns the secrets decrypted so far.
func (s *secretStore) plaintexts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.done {
		if r.err == nil && r.plain != "" {
			out = append(out, r.plain)
		}
	}
	return out
}

// minRedact is the shortest text that redaction looks for: shorter ones
// (a secret "1", a line "}") would blank out ordinary words.
const minRedact = 4

// redactStrings returns the texts to remove from messages: each secret
// value, and each of its lines, longest first so that a whole value goes
// before the parts of it.
func redactStrings(vals []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if len(s) >= minRedact && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, v := range vals {
		add(v)
		add(strings.TrimSpace(v))
		for _, l := range strings.Split(v, "\n") {
			add(strings.TrimSpace(l))
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// redactDiags returns diags with every text of secrets removed from their
// summaries and details. It is a second line of defence: messages should
// not print sensitive values in the first place, but kinds quote the values
// they reject. A diagnostic that needs no change is kept as it is.
func redactDiags(diags hcl.Diagnostics, secrets []string) hcl.Diagnostics {
	if len(secrets) == 0 || len(diags) == 0 {
		return diags
	}
	out := make(hcl.Diagnostics, len(diags))
	for i, d := range diags {
		sum, det := redactText(d.Summary, secrets), redactText(d.Detail, secrets)
		if sum == d.Summary && det == d.Detail {
			out[i] = d
			continue
		}
		c := *d
		c.Summary, c.Detail = sum, det
		out[i] = &c
	}
	return out
}

func redactText(s string, secrets []string) string {
	for _, x := range secrets {
		if strings.Contains(s, x) {
			s = strings.ReplaceAll(s, x, Redacted)
		}
	}
	return s
}

// sensitiveStrings returns the string values of the sensitive attributes
// of a block and its nested blocks: what a kind's diagnostics must not
// quote.
func sensitiveStrings(attrs map[string]*resources.Attr, nested []*resources.Nested) []string {
	var out []string
	add := func(attrs map[string]*resources.Attr) {
		for _, a := range attrs {
			if a.Sensitive {
				out = appendStrings(out, a.Value)
			}
		}
	}
	add(attrs)
	for _, n := range nested {
		add(n.Attrs)
	}
	return out
}

// appendStrings appends every known string in v (deeply) to out.
func appendStrings(out []string, v cty.Value) []string {
	if v.IsNull() || !v.IsKnown() {
		return out
	}
	_ = cty.Walk(v, func(_ cty.Path, e cty.Value) (bool, error) {
		if e.IsKnown() && !e.IsNull() && e.Type() == cty.String {
			out = append(out, e.AsString())
		}
		return true, nil
	})
	return out
}

// Redact returns diags with the text of every secret decrypted so far
// removed. Compile redacts its own diagnostics already; callers that mix
// in diagnostics from elsewhere may run the whole list through it before
// printing.
func (c *Config) Redact(diags hcl.Diagnostics) hcl.Diagnostics {
	return redactDiags(diags, redactStrings(c.secrets.plaintexts()))
}

// ReadIdentityFile reads the age identities of a file: the lines
// AGE-SECRET-KEY-1... that age-keygen writes (comments and blank lines
// skipped), or an SSH private key (ed25519 or RSA, without passphrase) as
// agessh reads it. Errors name the file and never quote its content.
func ReadIdentityFile(name string) ([]age.Identity, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read age identity file: %w", err)
	}
	ids, err := ParseIdentities(b)
	if err != nil {
		return nil, fmt.Errorf("read age identity file %s: %w", name, err)
	}
	return ids, nil
}

// ParseIdentities parses identities as ReadIdentityFile reads them from a
// file's content.
func ParseIdentities(b []byte) ([]age.Identity, error) {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN")) {
		id, err := agessh.ParseIdentity(b)
		var pm *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &pm):
			return nil, errors.New("the SSH private key is protected by a passphrase, which tend cannot ask for: use an age identity (age-keygen) or a key without passphrase")
		case err != nil:
			return nil, fmt.Errorf("not a usable SSH private key (ed25519 or RSA): %v", err)
		}
		return []age.Identity{id}, nil
	}
	// age.ParseIdentities never quotes a key in its errors.
	ids, err := age.ParseIdentities(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		return nil, fmt.Errorf("not an age identity file (lines AGE-SECRET-KEY-1..., as age-keygen writes them): %v", err)
	}
	return ids, nil
}
