package resources

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestProbeContent reads files of every shape with this machine's sh:
// text, empty, binary (NUL, newlines, invalid UTF-8), exactly the limit, one
// byte over it, awkward names, a symlink to a file, and paths that are not
// files; each answer is checked byte for byte or as the right error.
func TestProbeContent(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	binary := []byte{0, 1, 2, '\n', '\n', 0xff, 0xfe, 'x', 0, '\r', '\n'}
	limit := bytes.Repeat([]byte("0123456789abcdef"), ContentLimit/16)
	files := map[string][]byte{
		write("text", []byte("{\"version\":1}\n")): []byte("{\"version\":1}\n"),
		write("empty", nil):                        {},
		write("binary", binary):                    binary,
		write("limit", limit):                      limit,
	}
	for _, n := range awkwardNames {
		files[write("n "+n, []byte(n))] = []byte(n)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("text", link); err != nil {
		t.Fatal(err)
	}
	files[link] = []byte("{\"version\":1}\n")
	over := write("over", append(limit, 'x'))
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing", "deeper")

	p := NewProbe()
	for f := range files {
		p.Content(f)
	}
	for _, f := range []string{over, sub, fifo, missing} {
		p.Content(f)
	}
	p.Path(filepath.Join(dir, "text"), true) // a path query of the same file does not mix with it
	o := runProbe(t, p, false)

	for f, want := range files {
		got, exists, err := o.Content(f)
		if err != nil || !exists || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, exists %v, %v; want %d bytes", f, len(got), exists, err, len(want))
		}
	}
	if s, err := o.Path(filepath.Join(dir, "text")); err != nil || s.SHA256 != HashOf(files[filepath.Join(dir, "text")]) {
		t.Errorf("path query of text: %+v, %v", s, err)
	}
	for f, msg := range map[string]string{over: "larger than 1048576 bytes", sub: "not a regular file", fifo: "not a regular file"} {
		if _, exists, err := o.Content(f); err == nil || exists || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: exists %v, error %v; want an error saying %q", f, exists, err, msg)
		}
	}
	if got, exists, err := o.Content(missing); err != nil || exists || got != nil {
		t.Errorf("missing: %q, %v, %v; want absent", got, exists, err)
	}
	if _, _, err := o.Content("/never/asked"); err == nil {
		t.Error("a path that was not probed has content")
	}
}

// TestProbeContentUnreadable: a file the login cannot read, or under a
// directory it cannot search, is an error, never absent.
func TestProbeContentUnreadable(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	closed := filepath.Join(dir, "closed")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	p := NewProbe()
	p.Content(secret)
	p.Content(filepath.Join(closed, "manifest"))
	o := runProbe(t, p, true)
	for _, f := range []string{secret, filepath.Join(closed, "manifest")} {
		if _, exists, err := o.Content(f); err == nil || exists {
			t.Errorf("%s: exists %v, error %v; want an error", f, exists, err)
		}
	}
}

// TestParseContentRecords checks the strict parsing of content records.
func TestParseContentRecords(t *testing.T) {
	p := NewProbe()
	p.Content("/a")
	reply := func(rec string) []byte { return []byte("T tend-probe 1\n" + rec + "E 1\n") }
	big := base64.StdEncoding.EncodeToString(make([]byte, ContentLimit+1))
	for _, tc := range []struct {
		rec     string
		parse   bool   // ParseProbe succeeds
		content string // what Content returns, when it succeeds
		err     string // Content's error
	}{
		{rec: "R 0 content aGk=\n", parse: true, content: "hi"},
		{rec: "R 0 content \n", parse: true, content: ""},
		{rec: "R 0 absent\n", parse: true},
		{rec: "R 0 error permission denied: /a\n", parse: true, err: "permission denied"},
		{rec: "R 0 content " + big + "\n", parse: true, err: "larger than"},
		{rec: "R 0 content !!!\n"},
		{rec: "R 0 absent x\n"},
		{rec: "R 0 path 81a4 0 0 1 root root\n"},
		{rec: "R 0 content aGk=\nR 0 content aGk=\n"},
		{rec: ""},
	} {
		o, err := ParseProbe(p, reply(tc.rec))
		if (err == nil) != tc.parse {
			t.Errorf("%.40q: parse error %v, want success %v", tc.rec, err, tc.parse)
			continue
		}
		if err != nil {
			continue
		}
		got, exists, err := o.Content("/a")
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%.40q: error %v, want %q", tc.rec, err, tc.err)
			}
		case err != nil:
			t.Errorf("%.40q: %v", tc.rec, err)
		case strings.HasPrefix(tc.rec, "R 0 absent"):
			if exists {
				t.Errorf("%.40q: exists", tc.rec)
			}
		case !exists || string(got) != tc.content:
			t.Errorf("%.40q: %q, exists %v; want %q", tc.rec, got, exists, tc.content)
		}
	}
}

// TestProbeContentUnless runs conditional content queries with this
// machine's sh: a file that is the known content is answered "same" (the
// known bytes come back, and ContentSame says so), one that differs, even
// by a byte, sends its content, and a missing file is absent. An
// unconditional query of the same probe is unaffected.
func TestProbeContentUnless(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	manifest := "{\"version\":1,\"resources\":[\n]}\n"
	same := write("same", manifest)
	differs := write("differs", manifest[:len(manifest)-1]+" \n")
	empty := write("empty", "")
	awkward := write("tab\there", manifest)
	plain := write("plain", "plain\n")
	missing := filepath.Join(dir, "missing")

	p := NewProbe()
	for _, f := range []string{same, differs, awkward, missing} {
		p.ContentUnless(f, HashOf([]byte(manifest)), textOf(manifest))
	}
	p.ContentUnless(empty, HashOf(nil), textOf(""))
	p.Content(plain)
	o := runProbe(t, p, false)

	for f, want := range map[string]struct {
		data string
		same bool
	}{
		same:    {manifest, true},
		awkward: {manifest, true},
		empty:   {"", true},
		differs: {manifest[:len(manifest)-1] + " \n", false},
		plain:   {"plain\n", false},
	} {
		got, exists, err := o.Content(f)
		if err != nil || !exists || string(got) != want.data || o.ContentSame(f) != want.same {
			t.Errorf("%s: %q, exists %v, same %v, %v; want %q, same %v", f, got, exists, o.ContentSame(f), err, want.data, want.same)
		}
	}
	if got, exists, err := o.Content(missing); err != nil || exists || got != nil || o.ContentSame(missing) {
		t.Errorf("missing: %q, %v, %v", got, exists, err)
	}

	// Known content that no longer has the hash the host answered for is
	// an error, never another file's bytes.
	changing := textOf(manifest)
	p = NewProbe()
	p.ContentUnless(same, HashOf([]byte(manifest)), &changing)
	o = runProbe(t, p, false)
	changing = "other"
	if got, _, err := o.Content(same); err == nil || got != nil {
		t.Errorf("changed known content: %q, %v; want an error", got, err)
	}

	// A "same" record for a query without known content is a bad reply.
	q := NewProbe()
	q.Content(plain)
	reply := "T tend-probe 1\nR 0 same\n"
	if _, err := ParseProbe(q, []byte(reply)); err == nil || !strings.Contains(err.Error(), "not known") {
		t.Errorf("same record without known content: %v", err)
	}
}
