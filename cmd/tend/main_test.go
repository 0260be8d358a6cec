package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// result is what one tend invocation printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// tend runs the CLI in-process (so the race detector sees all of it) and
// returns its output and exit code.
func tend(t *testing.T, args ...string) result {
	t.Helper()
	if len(args) > 0 && (args[0] == "plan" || args[0] == "apply" || args[0] == "release") && !hasFlag(args, "--state-dir") {
		// Each test keeps tend's state (manifest, journal) apart, on this
		// machine and in containers alike, and leaves nothing behind here.
		args = append(args, "--state-dir="+testStateDir(t))
	}
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.ExecuteContext(context.Background())
	r := result{code: 0}
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			r.code = ee.code
			if ee.err != nil {
				fmt.Fprintln(&errOut, "Error:", ee.err)
			}
		} else {
			r.code = 1
			fmt.Fprintln(&errOut, "Error:", err)
		}
	}
	r.stdout, r.stderr = out.String(), errOut.String()
	return r
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// testStateDir is the state directory of the test's tend runs: the same
// for every run of one test, removed (on this machine) when it ends.
func testStateDir(t *testing.T) string {
	dir := "/tmp/tend-test-state/" + strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mtimes returns path -> modification time (ns) of everything under dir,
// symlinks not followed.
func mtimes(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		m[p] = fi.ModTime().UnixNano()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestQuickstartLocal(t *testing.T) {
	root := filepath.Join(t.TempDir(), "qs")
	spec := "../../examples/quickstart"
	v := "--var=root=" + root
	// Beside the managed tree, not in it: taking the host lock creates it.
	stateDir := "--state-dir=" + filepath.Join(filepath.Dir(root), "state")

	r := tend(t, "plan", "--local", v, stateDir, spec)
	if r.code != 0 || !strings.Contains(r.stdout, "Plan: 1 hosts, 6 to create, 0 to update, 0 to delete.") &&
		!strings.Contains(r.stdout, "Plan: 1 host, 6 to create, 0 to update, 0 to delete.") {
		t.Fatalf("first plan:\n%s", r)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatalf("plan touched the host: %s exists", root)
	}

	r = tend(t, "apply", "--local", v, stateDir, spec)
	if r.code != 0 {
		t.Fatalf("apply:\n%s", r)
	}
	host, _ := os.Hostname()
	cfg := readFile(t, filepath.Join(root, "etc/devops-map/config.toml"))
	if !strings.Contains(cfg, fmt.Sprintf("host = %q\nport = 5000\n", host)) {
		t.Errorf("config.toml = %q", cfg)
	}
	if got := readFile(t, filepath.Join(root, "etc/devops-map/token")); got != "quickstart-token-0123456789" {
		t.Errorf("token = %q", got)
	}
	for path, want := range map[string]os.FileMode{
		"etc/devops-map":             0o750 | os.ModeDir,
		"etc/devops-map/config.toml": 0o640,
		"etc/devops-map/token":       0o600,
		"motd":                       0o644,
	} {
		fi, err := os.Lstat(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("mode of %s = %v, want %v", path, fi.Mode(), want)
		}
	}
	if target, err := os.Readlink(filepath.Join(root, "current")); err != nil || target != filepath.Join(root, "etc/devops-map") {
		t.Errorf("current -> %q, %v", target, err)
	}
	if strings.Contains(r.stdout+r.stderr, "quickstart-token-0123456789") {
		t.Errorf("the sensitive token was printed:\n%s", r)
	}

	before := mtimes(t, root)
	r = tend(t, "plan", "--local", "--detailed-exitcode", v, stateDir, spec)
	if r.code != 0 || !strings.Contains(r.stdout, "No changes. 1 host is converged.") {
		t.Fatalf("plan after apply:\n%s", r)
	}
	r = tend(t, "apply", "--local", v, stateDir, spec)
	if r.code != 0 {
		t.Fatalf("second apply:\n%s", r)
	}
	if after := mtimes(t, root); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a no-op apply changed mtimes:\nbefore %v\nafter  %v", before, after)
	}

	// Drift: a hand edit shows as a diff of that file and is repaired.
	writeFile(t, filepath.Join(root, "motd"), "hacked\n")
	r = tend(t, "plan", "--local", "--detailed-exitcode", v, stateDir, spec)
	if r.code != 2 || !strings.Contains(r.stdout, "-hacked") || !strings.Contains(r.stdout, "~ file[motd]") ||
		!strings.Contains(r.stdout, "0 to create, 1 to update, 0 to delete") {
		t.Fatalf("plan after a hand edit:\n%s", r)
	}
	if r = tend(t, "apply", "--local", v, stateDir, spec); r.code != 0 {
		t.Fatalf("repair:\n%s", r)
	}
	if got := readFile(t, filepath.Join(root, "motd")); !strings.HasPrefix(got, "Welcome to ") {
		t.Errorf("motd not repaired: %q", got)
	}
}
