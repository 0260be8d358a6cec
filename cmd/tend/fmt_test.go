package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/tendhq/tend/internal/golden"
)

// fmtTree lays out a spec directory with formatted and unformatted files,
// and files fmt must leave alone. It returns the directory and the input
// of the unformatted files.
func fmtTree(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	messy := readFile(t, "testdata/fmt/messy.hcl.input")
	writeFile(t, filepath.Join(dir, "messy.hcl"), messy)
	writeFile(t, filepath.Join(dir, "roles/nested.hcl"), messy)
	writeFile(t, filepath.Join(dir, "good.hcl"), "locals {\n  a = 1\n}\n")
	// Hidden directories, JSON syntax and other files are not touched.
	writeFile(t, filepath.Join(dir, ".git/hooks.hcl"), messy)
	writeFile(t, filepath.Join(dir, "vars.hcl.json"), `{"a":   1}`)
	writeFile(t, filepath.Join(dir, "notes.txt"), "a   =   1\n")
	if err := os.Chmod(filepath.Join(dir, "messy.hcl"), 0o640); err != nil {
		t.Fatal(err)
	}
	return dir, messy
}

func TestFmtCheckThenRewrite(t *testing.T) {
	dir, messy := fmtTree(t)
	before := snapshot(t, dir)

	// --check lists what is not formatted, fails, and writes nothing.
	r := tend(t, "fmt", "--check", dir)
	want := filepath.Join(dir, "messy.hcl") + "\n" + filepath.Join(dir, "roles/nested.hcl") + "\n"
	if r.code != 1 || r.stdout != want {
		t.Fatalf("fmt --check on unformatted files, want exit 1 and\n%s\n%s", want, r)
	}
	if after := snapshot(t, dir); after != before {
		t.Fatalf("fmt --check changed files:\n%s", r)
	}

	// --diff shows the change as a unified diff.
	r = tend(t, "fmt", "--check", "--diff", filepath.Join(dir, "messy.hcl"))
	if r.code != 1 || !strings.Contains(r.stdout, "+++ "+filepath.Join(dir, "messy.hcl")+" (formatted)") ||
		!strings.Contains(r.stdout, "-\thosts = [ \"group:web\" ,\"host:db1\"]\n+  hosts = [\"group:web\", \"host:db1\"]\n") {
		t.Fatalf("fmt --check --diff:\n%s", r)
	}

	// fmt rewrites both and names them; the result is the golden file.
	r = tend(t, "fmt", dir)
	if r.code != 0 || r.stdout != want {
		t.Fatalf("fmt, want exit 0 and\n%s\n%s", want, r)
	}
	got := readFile(t, filepath.Join(dir, "messy.hcl"))
	golden.Check(t, "testdata/fmt/messy.hcl.golden", []byte(got))
	if nested := readFile(t, filepath.Join(dir, "roles/nested.hcl")); nested != got {
		t.Errorf("the nested copy was formatted differently:\n%s", nested)
	}
	if got == messy {
		t.Fatal("fmt left the file as it was")
	}
	fi, err := os.Stat(filepath.Join(dir, "messy.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o640 {
		t.Errorf("fmt changed the mode to %v, want -rw-r-----", fi.Mode())
	}
	for name, content := range map[string]string{
		".git/hooks.hcl": messy,
		"vars.hcl.json":  `{"a":   1}`,
		"notes.txt":      "a   =   1\n",
		"good.hcl":       "locals {\n  a = 1\n}\n",
	} {
		if readFile(t, filepath.Join(dir, name)) != content {
			t.Errorf("fmt changed %s", name)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*.tend-fmt-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// Formatted now: --check passes, and fmt again changes nothing.
	formatted := snapshot(t, dir)
	mt := mtimes(t, dir)
	if r = tend(t, "fmt", "--check", dir); r.code != 0 || r.stdout != "" {
		t.Fatalf("fmt --check after fmt:\n%s", r)
	}
	if r = tend(t, "fmt", "--diff", dir); r.code != 0 || r.stdout != "" {
		t.Fatalf("fmt on formatted files:\n%s", r)
	}
	if snapshot(t, dir) != formatted || !sameMtimes(mt, mtimes(t, dir)) {
		t.Error("fmt rewrote formatted files")
	}
}

func TestFmtSyntaxError(t *testing.T) {
	dir := t.TempDir()
	broken := readFile(t, "testdata/fmt/broken.hcl.input")
	messy := readFile(t, "testdata/fmt/messy.hcl.input")
	writeFile(t, filepath.Join(dir, "broken.hcl"), broken)
	writeFile(t, filepath.Join(dir, "messy.hcl"), messy)

	r := tend(t, "fmt", dir)
	pos := filepath.Join(dir, "broken.hcl") + ":3:19"
	if r.code != 1 || !strings.Contains(r.stderr, "Error: Missing newline after argument") ||
		!strings.Contains(r.stderr, "--> "+pos) || !strings.Contains(r.stderr, `3 |     content = "a" "b"`) {
		t.Fatalf("fmt on a file with a syntax error, want exit 1 and a diagnostic at %s:\n%s", pos, r)
	}
	if got := readFile(t, filepath.Join(dir, "broken.hcl")); got != broken {
		t.Errorf("fmt rewrote the broken file:\n%s", got)
	}
	// The other files are still formatted.
	if got := readFile(t, filepath.Join(dir, "messy.hcl")); got == messy || r.stdout != filepath.Join(dir, "messy.hcl")+"\n" {
		t.Errorf("the good file was not formatted:\n%s", r)
	}
	if r = tend(t, "fmt", "--check", dir); r.code != 1 || !strings.Contains(r.stderr, pos) {
		t.Errorf("fmt --check with a syntax error:\n%s", r)
	}
}

func TestFmtPaths(t *testing.T) {
	dir := t.TempDir()
	messy := readFile(t, "testdata/fmt/messy.hcl.input")
	writeFile(t, filepath.Join(dir, "real/spec.hcl"), messy)
	// A link found in a walk is not followed; a link named is, and stays
	// a link.
	if err := os.Symlink("real/spec.hcl", filepath.Join(dir, "link.hcl")); err != nil {
		t.Fatal(err)
	}
	r := tend(t, "fmt", "--check", dir)
	if r.code != 1 || r.stdout != filepath.Join(dir, "real/spec.hcl")+"\n" {
		t.Fatalf("fmt --check on a tree with a link:\n%s", r)
	}
	r = tend(t, "fmt", filepath.Join(dir, "link.hcl"))
	if r.code != 0 || r.stdout != filepath.Join(dir, "link.hcl")+"\n" {
		t.Fatalf("fmt on a link:\n%s", r)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "link.hcl")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v, %v", fi.Mode(), err)
	}
	if readFile(t, filepath.Join(dir, "real/spec.hcl")) == messy {
		t.Error("the link's target was not formatted")
	}

	// The default path is the current directory; a missing path fails.
	if r = tend(t, "fmt", "--check", filepath.Join(dir, "missing")); r.code != 1 || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("fmt on a missing path:\n%s", r)
	}
	t.Chdir(filepath.Join(dir, "real"))
	if r = tend(t, "fmt", "--check"); r.code != 0 || r.stdout != "" {
		t.Errorf("fmt --check in a formatted directory:\n%s", r)
	}
}

// TestFmtExamples keeps the examples formatted.
func TestFmtExamples(t *testing.T) {
	if r := tend(t, "fmt", "--check", "--diff", "../../examples"); r.code != 0 {
		t.Errorf("examples/ is not formatted (run tend fmt examples):\n%s", r)
	}
}

// TestFmtIdempotent formats every HCL file of the repository's fixtures
// twice: formatting formatted text must change nothing.
func TestFmtIdempotent(t *testing.T) {
	n := 0
	for _, root := range []string{"testdata", "engine/config/testdata", "engine/testdata", "inventory/testdata", "examples", "cmd/tend/testdata/fmt"} {
		root = filepath.Join("../..", root)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".hcl") || strings.HasSuffix(p, ".hcl.input")) {
				return err
			}
			src, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if _, diags := hclwrite.ParseConfig(src, p, hcl.InitialPos); diags.HasErrors() {
				return nil // a fixture with an intentional syntax error
			}
			once, diags := formatHCL(p, src)
			if diags.HasErrors() {
				t.Errorf("%s: %s", p, diags.Error())
				return nil
			}
			twice, diags := formatHCL(p, once)
			if diags.HasErrors() {
				t.Errorf("%s: the formatted text does not parse: %s\n%s", p, diags.Error(), once)
				return nil
			}
			if !bytes.Equal(once, twice) {
				t.Errorf("%s: formatting is not idempotent:\n--- once:\n%s\n--- twice:\n%s", p, once, twice)
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatalf("walk %s: %v", root, err)
		}
	}
	t.Logf("formatted %d files twice", n)
	if n < 20 {
		t.Errorf("formatted %d files, expected the repository's fixtures (at least 20)", n)
	}
}

// snapshot returns the names and contents of the files under dir.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		content, err := os.ReadFile(p)
		b.WriteString("== " + p + "\n" + string(content) + "\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func sameMtimes(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
