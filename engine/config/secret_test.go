package config

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/armor"
	"github.com/hashicorp/hcl/v2"
	"golang.org/x/crypto/ssh"
)

// newMarker returns a random text that appears nowhere unless a secret
// leaked.
func newMarker(t *testing.T) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "TENDSECRET-" + hex.EncodeToString(b[:])
}

// encrypt encrypts plain to r, armored when asked.
func encrypt(t *testing.T, plain string, armored bool, r ...age.Recipient) []byte {
	t.Helper()
	var buf bytes.Buffer
	var out io.Writer = &buf
	var a io.WriteCloser
	if armored {
		a = armor.NewWriter(&buf)
		out = a
	}
	w, err := age.Encrypt(out, r...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if a != nil {
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// secretSpecs are specs whose capture blocks use secrets every way the
// language allows: directly, interpolated, through format, through a
// template and through a local, in the root and in a module.
const secretSpecs = `
locals {
  db = secret("secrets/db.age")
}

role "all" {
  hosts = ["*"]

  capture "direct" {
    value = secret("secrets/db.age")
  }
  capture "interpolated" {
    value = "password=${local.db}"
    other = "plain"
  }
  capture "format" {
    value = format("pw: %s", secret("secrets/armored.age"))
  }
  capture "template" {
    value = templatefile("templates/app.tmpl", { pw = local.db })
  }
  capture "in_template" {
    value = templatefile("templates/direct.tmpl", {})
  }
  module "m" {
    source = "./mod"
  }
}
`

func secretFS(t *testing.T, marker string, r age.Recipient) fstest.MapFS {
	return fstest.MapFS{
		"main.hcl":              {Data: []byte(secretSpecs)},
		"secrets/db.age":        {Data: encrypt(t, marker, false, r)},
		"secrets/armored.age":   {Data: encrypt(t, marker+"-armored", true, r)},
		"templates/app.tmpl":    {Data: []byte("user = app\npassword = ${pw}\n")},
		"templates/direct.tmpl": {Data: []byte(`token = ${secret("secrets/db.age")}`)},
		"mod/main.hcl":          {Data: []byte("capture \"inmod\" {\n  value = secret(\"s.age\")\n}\n")},
		"mod/s.age":             {Data: encrypt(t, marker+"-module", false, r)},
	}
}

// TestSecretDecrypts decrypts secrets with an age-keygen identity and with
// an SSH key, binary and armored, and checks that every value derived from
// one reaches the kind marked sensitive, and that others do not.
func TestSecretDecrypts(t *testing.T) {
	marker := newMarker(t)
	x := newIdentity(t)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sshRecipient, err := agessh.NewEd25519Recipient(sshPub)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sshIDs, err := ParseIdentities(pem.EncodeToMemory(block))
	if err != nil {
		t.Fatalf("ParseIdentities of an SSH key: %v", err)
	}
	// An identity file as age-keygen writes it, with comments.
	idFile := filepath.Join(t.TempDir(), "key.txt")
	keygen := "# created: 2026-01-01T00:00:00Z\n# public key: " + x.Recipient().String() + "\n" + x.String() + "\n"
	if err := os.WriteFile(idFile, []byte(keygen), 0o600); err != nil {
		t.Fatal(err)
	}
	fileIDs, err := ReadIdentityFile(idFile)
	if err != nil {
		t.Fatalf("ReadIdentityFile: %v", err)
	}

	for _, tc := range []struct {
		name string
		r    age.Recipient
		ids  []age.Identity
	}{
		{"x25519", x.Recipient(), fileIDs},
		{"ssh-ed25519", sshRecipient, sshIDs},
		// Several identities: the one that matches is used.
		{"several", x.Recipient(), append(append([]age.Identity{}, sshIDs...), fileIDs...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, diags := Load(secretFS(t, marker, tc.r), ".", WithIdentities(tc.ids...))
			if len(diags) > 0 {
				t.Fatalf("Load: %s", diagText(c, diags))
			}
			hg := compileOK(t, c, testHost(), nil)
			want := map[string]string{
				"direct":       marker,
				"interpolated": "password=" + marker,
				"format":       "pw: " + marker + "-armored",
				"template":     "user = app\npassword = " + marker + "\n",
				"in_template":  "token = " + marker,
			}
			for name, w := range want {
				a := attr(t, hg, name, "value")
				if got := a.Value.AsString(); got != w {
					t.Errorf("capture[%s].value = %q, want %q", name, got, w)
				}
				if !a.Sensitive {
					t.Errorf("capture[%s].value is not sensitive", name)
				}
			}
			if a := attr(t, hg, "interpolated", "other"); a.Sensitive {
				t.Errorf("capture[interpolated].other is sensitive, but no secret went into it")
			}
			in := capturedAt(t, hg, "module.m.capture[inmod]").Attrs["value"]
			if in.Value.AsString() != marker+"-module" || !in.Sensitive {
				t.Errorf("module secret = %q (sensitive %v)", in.Value.AsString(), in.Sensitive)
			}
		})
	}
}

// TestSecretValueIsMarked checks the mark on the function's result itself.
func TestSecretValueIsMarked(t *testing.T) {
	marker := newMarker(t)
	x := newIdentity(t)
	c, _ := Load(secretFS(t, marker, x.Recipient()), ".", WithIdentities(x))
	v, diags := eval(t, c, `secret("secrets/db.age")`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if !v.HasMark(sensitiveMark) {
		t.Fatalf("secret() is not marked sensitive: %#v", v)
	}
	if uv, _ := v.Unmark(); uv.AsString() != marker {
		t.Fatalf("secret() = %q", uv.AsString())
	}
	// Derived values keep the mark.
	v, _ = eval(t, c, `upper(secret("secrets/db.age"))`)
	if !v.HasMark(sensitiveMark) {
		t.Fatalf("upper(secret()) lost the mark")
	}
}

// TestSecretErrors checks every error of secret: its summary, its range
// (the argument for path problems, the whole call otherwise), a detail that
// says what to do, and never the plaintext.
func TestSecretErrors(t *testing.T) {
	marker := newMarker(t)
	x := newIdentity(t)
	other := newIdentity(t)
	good := encrypt(t, marker, false, x.Recipient())
	// A flipped byte in the last payload chunk: the header is fine, the
	// payload does not authenticate.
	flipped := append([]byte{}, good...)
	flipped[len(flipped)-1] ^= 0xff
	truncated := good[:len(good)-5]
	notUTF8 := encrypt(t, "\xff\xfe"+marker, false, x.Recipient())

	// The call is on line 3: `  value = secret("secrets/X")`; its range
	// is columns 11 to the closing parenthesis, the argument's 18 to the
	// closing quote.
	spec := func(file string) string {
		return "role \"all\" {\n  hosts = [\"*\"]\n  capture \"c\" { value = secret(\"" + file + "\") }\n}\n"
	}
	const line = 3
	callStart := strings.Index(spec("X"), "secret(") - strings.Index(spec("X"), "  capture") + 1
	argStart := callStart + len("secret(")
	for _, tc := range []struct {
		name   string
		file   string // argument of secret()
		data   []byte // content of secrets/f.age
		ids    []age.Identity
		onArg  bool   // range is the argument, not the call
		detail string // part of the detail
	}{
		{"no identity", "secrets/f.age", good, nil, false, "--age-identity FILE or $TEND_AGE_IDENTITY"},
		{"missing file", "secrets/nope.age", good, []age.Identity{x}, true, "no secret file secrets/nope.age"},
		{"absolute path", "/etc/shadow", good, []age.Identity{x}, true, "is absolute"},
		{"outside the repository", "../x.age", good, []age.Identity{x}, true, "leads outside"},
		{"wrong identity", "secrets/f.age", good, []age.Identity{other}, false, "encrypted to other recipients"},
		{"not an age file", "secrets/f.age", []byte("password=" + marker + "\n"), []age.Identity{x}, false, "not a valid age-encrypted file"},
		{"flipped byte", "secrets/f.age", flipped, []age.Identity{x}, false, "is corrupt"},
		{"truncated", "secrets/f.age", truncated, []age.Identity{x}, false, "is corrupt"},
		{"not UTF-8", "secrets/f.age", notUTF8, []age.Identity{x}, false, "not UTF-8 text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := spec(tc.file)
			fsys := fstest.MapFS{
				"main.hcl":      {Data: []byte(src)},
				"secrets/f.age": {Data: tc.data},
			}
			c, diags := Load(fsys, ".", WithIdentities(tc.ids...))
			if len(diags) > 0 {
				t.Fatalf("Load: %s", diagText(c, diags))
			}
			_, diags = c.Compile(testHost(), nil)
			if len(diags) != 1 {
				t.Fatalf("want one diagnostic, got %d:\n%s", len(diags), diagText(c, diags))
			}
			d := diags[0]
			text := diagText(c, diags)
			if d.Severity != hcl.DiagError || d.Summary != "Error in function call" && d.Summary != "Invalid function argument" {
				t.Errorf("summary = %q", d.Summary)
			}
			if !strings.Contains(d.Detail, tc.detail) {
				t.Errorf("detail %q does not say %q", d.Detail, tc.detail)
			}
			// HCL puts a call's error on `secret(` with the whole call as
			// context, an argument's on the string inside the quotes.
			wantStart, wantEnd := callStart, callStart+len(`secret(`)
			if tc.onArg {
				wantStart, wantEnd = argStart+1, argStart+1+len(tc.file)
			} else if cx := d.Context; cx == nil || cx.Start.Column != callStart || cx.End.Column != callStart+len(`secret("`+tc.file+`")`) {
				t.Errorf("context = %v, want the whole call", d.Context)
			}
			if s := d.Subject; s == nil || s.Filename != "main.hcl" || s.Start.Line != line || s.Start.Column != wantStart || s.End.Column != wantEnd {
				t.Errorf("subject = %v, want main.hcl:%d,%d-%d", d.Subject, line, wantStart, wantEnd)
			}
			if strings.Contains(text, marker) {
				t.Errorf("the diagnostic holds the plaintext:\n%s", text)
			}
			// The same again (a second host) gives the same, from the cache.
			_, again := c.Compile(testHost(), nil)
			if len(again) != 1 || again[0].Detail != d.Detail {
				t.Errorf("second compile: %s", diagText(c, again))
			}
		})
	}
}

// TestSecretUnknownForValidate checks WithUnknownSecrets: without an
// identity a secret is an unknown sensitive value that fails nothing, but
// a missing file or one that is not age-encrypted is still an error.
func TestSecretUnknownForValidate(t *testing.T) {
	marker := newMarker(t)
	x := newIdentity(t)
	fsys := secretFS(t, marker, x.Recipient())
	c, diags := Load(fsys, ".", WithUnknownSecrets())
	if len(diags) > 0 {
		t.Fatalf("Load: %s", diagText(c, diags))
	}
	if diags := c.Validate(nil); len(diags) > 0 {
		t.Fatalf("Validate without identity: %s", diagText(c, diags))
	}
	// Compiling a host (tend validate -i) builds what it can.
	hg, diags := c.Compile(testHost(), nil)
	if len(diags) > 0 {
		t.Fatalf("Compile without identity: %s", diagText(c, diags))
	}
	for _, n := range hg.Nodes {
		if n.Resource != nil {
			t.Errorf("%s was built from an unknown secret", n.Addr)
		}
	}
	v, _ := eval(t, c, `secret("secrets/db.age")`)
	if v.IsKnown() || !v.HasMark(sensitiveMark) {
		t.Errorf("secret() without identity = %#v, want an unknown sensitive string", v)
	}

	fsys["secrets/plain.age"] = &fstest.MapFile{Data: []byte("not encrypted " + marker)}
	c, _ = Load(fsys, ".", WithUnknownSecrets())
	for src, want := range map[string]string{
		`secret("secrets/plain.age")`: "not an age-encrypted file",
		`secret("secrets/none.age")`:  "no secret file",
	} {
		_, diags := eval(t, c, src)
		if !diags.HasErrors() || !strings.Contains(diags[0].Detail, want) {
			t.Errorf("%s: %v, want an error saying %q", src, diags, want)
		}
		if strings.Contains(diags.Error(), marker) {
			t.Errorf("%s: the error holds the file's text: %v", src, diags)
		}
	}

	// With an identity, WithUnknownSecrets changes nothing.
	c, _ = Load(secretFS(t, marker, x.Recipient()), ".", WithUnknownSecrets(), WithIdentities(x))
	hg = compileOK(t, c, testHost(), nil)
	if got := attr(t, hg, "direct", "value").Value.AsString(); got != marker {
		t.Errorf("with an identity: %q", got)
	}
}

// TestSecretNotInDiagnostics uses secrets where they make errors: in the
// kinds' checks (which quote the values they reject), in HCL's own, and in
// paths. No diagnostic may hold the secret.
func TestSecretNotInDiagnostics(t *testing.T) {
	marker := newMarker(t)
	x := newIdentity(t)
	fsys := fstest.MapFS{
		"secrets/db.age": {Data: encrypt(t, marker, false, x.Recipient())},
		"main.hcl": {Data: []byte(`
locals {
  s = secret("secrets/db.age")
}
role "all" {
  hosts = ["*"]
  file "mode" {
    path = "/tmp/a"
    mode = local.s
  }
  file "relative" {
    path = "relative/${local.s}/x"
  }
  file "unclean" {
    path = "/srv/${local.s}/../x"
  }
  file "owner" {
    path  = "/tmp/b"
    owner = "bad owner ${local.s}"
  }
  file "state" {
    path  = "/tmp/c"
    state = local.s
  }
  capture "number" {
    value = tonumber(local.s)
  }
  capture "index" {
    value = { a = 1 }[local.s]
  }
  capture "regex" {
    value = regex("^nomatch$", local.s)
  }
}
`)},
	}
	c, diags := Load(fsys, ".", WithIdentities(x))
	if len(diags) > 0 {
		t.Fatalf("Load: %s", diagText(c, diags))
	}
	_, diags = c.Compile(testHost(), nil)
	text := diagText(c, diags)
	// One error per block, at least.
	for _, line := range []int{9, 12, 15, 19, 23, 26, 29, 32} {
		found := false
		for _, d := range diags {
			if d.Subject != nil && d.Subject.Start.Line == line {
				found = true
			}
		}
		if !found {
			t.Errorf("no diagnostic on line %d:\n%s", line, text)
		}
	}
	if strings.Contains(text, marker) {
		t.Errorf("a diagnostic holds the secret:\n%s", text)
	}
	// Redact does the same for any diagnostic.
	d := &hcl.Diagnostic{Summary: "x", Detail: "it was " + marker + "!"}
	if got := c.Redact(hcl.Diagnostics{d})[0].Detail; got != "it was "+Redacted+"!" {
		t.Errorf("Redact: %q", got)
	}
}

// TestReadIdentityFileErrors checks that bad identity files are refused
// with their name and without their content.
func TestReadIdentityFileErrors(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	enc, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("pass"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"garbage":    {[]byte("AGE-SECRET-KEY-NOTREALLYAKEYATALL\n"), "not an age identity file"},
		"empty":      {[]byte("# nothing\n"), "not an age identity file"},
		"passphrase": {pem.EncodeToMemory(enc), "protected by a passphrase"},
		"bad pem":    {[]byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), "not a usable SSH private key"},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(p, tc.data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := ReadIdentityFile(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want one naming %s and saying %q", name, err, p, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "NOTREALLY") {
			t.Errorf("%s: the error quotes the file: %v", name, err)
		}
	}
	if _, err := ReadIdentityFile(filepath.Join(dir, "none")); err == nil {
		t.Errorf("a missing identity file was read")
	}
}

// TestSensitiveVarFileValueNotShown: a problem with a sensitive variable's
// value from a file points at the declaration, not at the value, whose
// source line a printed diagnostic would show.
func TestSensitiveVarFileValueNotShown(t *testing.T) {
	marker := newMarker(t)
	c := loadString(t, map[string]string{"main.hcl": `
variable "pw" {
  type      = string
  sensitive = true
  validation {
    condition     = length(var.pw) > 100
    error_message = "The password is too short."
  }
}
variable "plain" {
  type = number
}
`})
	vf := filepath.Join(t.TempDir(), "vals.hcl")
	if err := os.WriteFile(vf, []byte("pw = \""+marker+"\"\nplain = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vals, diags := c.LoadVarFile(vf)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	_, diags = c.Compile(testHost(), vals)
	if got := summaries(diags); len(got) != 2 {
		t.Fatalf("want two errors, got %v", got)
	}
	for _, d := range diags {
		if strings.Contains(d.Detail, "password") && (d.Subject == nil || d.Subject.Filename != "main.hcl" || !strings.Contains(d.Detail, vf+":1:")) {
			t.Errorf("the sensitive value's error is at %v: %s", d.Subject, d.Detail)
		}
		if strings.Contains(d.Detail, `"plain"`) && (d.Subject == nil || d.Subject.Filename != vf) {
			t.Errorf("a plain value's error is at %v, not at the value", d.Subject)
		}
	}
	if text := diagText(c, diags); strings.Contains(text, marker) {
		t.Errorf("the diagnostics show the sensitive value:\n%s", text)
	}
}
