package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPruneLocal converges this machine under a host name of its own (so
// that its manifest, STATE_DIR/manifest.NAME, is this test's alone): a resource removed from the spec is orphaned (a plan
// with --detailed-exitcode exits 2, JSON says "orphaned"), left in place by
// apply, removed by apply --prune, and by prune = true on its role.
func TestPruneLocal(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	name := fmt.Sprintf("tend-prune-test-%d", os.Getpid())
	manifest := filepath.Join(testStateDir(t), "manifest."+name)
	inv := filepath.Join(dir, "inventory.hcl")
	writeFile(t, inv, fmt.Sprintf("host %q {\n  address = \"localhost\"\n  vars = { root = %q }\n}\n", name, root))
	spec := filepath.Join(dir, "spec")
	file := func(n string) string {
		return fmt.Sprintf("  file %q {\n    path    = \"${host.vars.root}/%s\"\n    content = \"%s\\n\"\n  }\n", n, n, n)
	}
	writeSpec := func(prune bool, files ...string) {
		t.Helper()
		body := "role \"web\" {\n  hosts = [\"*\"]\n"
		if prune {
			body += "  prune = true\n"
		}
		for _, f := range files {
			body += file(f)
		}
		writeFile(t, filepath.Join(spec, "main.hcl"), body+"}\n")
	}
	exists := func(n string) bool {
		_, err := os.Stat(filepath.Join(root, n))
		return err == nil
	}
	base := []string{"-i", inv, "--local", spec}
	run := func(args ...string) result {
		t.Helper()
		return tend(t, append(args, base...)...)
	}

	writeSpec(false, "a", "b", "c")
	if r := run("apply"); r.code != 0 {
		t.Fatalf("apply:\n%s", r)
	}
	if _, err := os.Stat(manifest); err != nil {
		t.Fatalf("apply wrote no manifest: %v", err)
	}

	writeSpec(false, "a")
	r := run("plan", "--detailed-exitcode")
	if r.code != 2 || !strings.Contains(r.stdout, `  - file[b] (orphaned: no longer in the spec; prune with --prune or prune = true on role "web")`) ||
		!strings.Contains(r.stdout, "0 to delete, 2 orphaned.") {
		t.Fatalf("plan with orphans:\n%s", r)
	}
	if r = run("plan", "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, `"status": "orphaned"`) || !strings.Contains(r.stdout, `"orphaned": 2`) {
		t.Fatalf("json plan with orphans:\n%s", r)
	}
	if r = run("apply"); r.code != 0 || !exists("b") || !exists("c") {
		t.Fatalf("apply without --prune (b and c must stay):\n%s", r)
	}
	if r = run("plan", "--prune", "--detailed-exitcode"); r.code != 2 || !strings.Contains(r.stdout, "2 to delete") || !exists("b") {
		t.Fatalf("plan --prune:\n%s", r)
	}

	writeSpec(false, "a", "c")
	if r = run("apply", "--prune"); r.code != 0 || exists("b") || !exists("c") || !exists("a") {
		t.Fatalf("apply --prune (b goes, a and c stay):\n%s", r)
	}
	if r = run("plan", "--detailed-exitcode"); r.code != 0 || !strings.Contains(r.stdout, "No changes.") {
		t.Fatalf("plan after prune:\n%s", r)
	}

	writeSpec(true, "a")
	if r = run("apply"); r.code != 0 || exists("c") || !exists("a") {
		t.Fatalf("apply with prune = true on the role (c goes):\n%s", r)
	}
}
