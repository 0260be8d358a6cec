package resources

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// runFetch runs FetchCmd(paths) with this machine's sh and parses the reply.
func runFetch(t *testing.T, paths []string) [][]byte {
	t.Helper()
	c := FetchCmd(paths)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	cmd.Stdin = c.Stdin
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fetch: %v (ctx %v)", err, ctx.Err())
	}
	got, err := ParseFetch(paths, out)
	if err != nil {
		t.Fatalf("parse fetch: %v", err)
	}
	return got
}

func TestFetchLocal(t *testing.T) {
	dir := t.TempDir()
	big := make([]byte, 3<<20)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	files := []struct {
		name string
		data []byte // nil: not created (or not a regular file)
	}{
		{"newline", []byte("one\ntwo\n")},
		{"no newline", []byte("one\ntwo")},
		{"empty", []byte{}},
		{"only newlines", []byte("\n\n\n")},
		{"binary", []byte{0, 1, 2, 0xff, 0xfe, '\n', 'C', ' ', '5', '\n', 'X', '\n', 0}},
		{"looks like framing", []byte("C 3\nabc\nX\n")},
		{"-n", []byte("dash\n")},
		{`back\slash and 'quotes' "$HOME"`, []byte("quoted\n")},
		{"ünïcödé 文件", []byte("unicode ✓\n")},
		{"big", big},
		{"missing", nil},
	}
	var paths []string
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		paths = append(paths, p)
		if f.data != nil {
			if err := os.WriteFile(p, f.data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link to newline")
	if err := os.Symlink("newline", link); err != nil {
		t.Fatal(err)
	}
	extra := []string{dir, fifo, filepath.Join(dir, "newline", "under a file"), link}
	got := runFetch(t, append(append([]string{}, paths...), extra...))
	if len(got) != len(paths)+len(extra) {
		t.Fatalf("got %d entries for %d paths", len(got), len(paths)+len(extra))
	}
	for i, f := range files {
		switch {
		case f.data == nil && got[i] != nil:
			t.Errorf("%s: got %q, want nil", f.name, got[i])
		case f.data != nil && (got[i] == nil || !bytes.Equal(got[i], f.data)):
			t.Errorf("%s: got %d bytes (nil %v), want %d", f.name, len(got[i]), got[i] == nil, len(f.data))
		}
	}
	for i, p := range extra[:3] {
		if got[len(paths)+i] != nil {
			t.Errorf("%s: got %q, want nil (not a regular file)", p, got[len(paths)+i])
		}
	}
	// A symlink to a file is read through, like the probe's hash is not:
	// the engine only fetches paths the probe found to be regular files.
	if string(got[len(got)-1]) != "one\ntwo\n" {
		t.Errorf("link: got %q", got[len(got)-1])
	}

	if got := runFetch(t, nil); len(got) != 0 {
		t.Errorf("no paths: %q", got)
	}
}

func TestParseFetchStrict(t *testing.T) {
	paths := []string{"/a", "/b"}
	for name, reply := range map[string]string{
		"truncated header": "C 3\nabc",
		"short content":    "X\nC 5\nabc",
		"bad size":         "C x\nabc\nX\n",
		"signed size":      "C +3\nabcX\n",
		"negative size":    "C -1\nX\n",
		"empty size":       "C \nX\n",
		"unknown header":   "D 3\nabcX\n",
		"trailing bytes":   "X\nX\nmore",
		"one entry short":  "X\n",
		"empty":            "",
	} {
		if got, err := ParseFetch(paths, []byte(reply)); err == nil {
			t.Errorf("%s: no error, got %q", name, got)
		}
	}
	got, err := ParseFetch(paths, []byte("C 0\nC 2\nhi"))
	if err != nil {
		t.Fatal(err)
	}
	if got[0] == nil || len(got[0]) != 0 || string(got[1]) != "hi" {
		t.Errorf("got %q; want an empty (non-nil) entry and \"hi\"", got)
	}
	// Entries do not share capacity: appending to one must not overwrite
	// the next.
	got[0] = append(got[0], 'Z')
	if string(got[1]) != "hi" {
		t.Errorf("entries share memory: %q", got)
	}
}
