package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/sshtest"
)

// TestRolloutCLI plans and applies a role with a rollout block over three
// sshd hosts through the CLI: the plan lists the batches; the apply stops
// after web-1 fails (its file's parent is a regular file), leaves web-2 and
// web-3 untouched, reports them NOT STARTED and exits 1.
func TestRolloutCLI(t *testing.T) {
	servers := sshtest.Start(t, 3)
	dir := t.TempDir()
	blocker := filepath.Join(dir, "blocker")
	writeFile(t, blocker, "not a directory\n")
	var inv strings.Builder
	roots := map[string]string{}
	for i, s := range servers {
		name := fmt.Sprintf("web-%d", i+1)
		roots[name] = filepath.Join(dir, name)
		if name == "web-1" {
			roots[name] = filepath.Join(blocker, name)
		}
		fmt.Fprintf(&inv, `host %q {
  address       = "127.0.0.1"
  port          = %d
  identity_file = %q
  known_hosts   = %q
  ssh_agent     = false
  vars          = { root = %q }
}
`, name, s.Port, s.ClientKeyFile, s.KnownHostsFile, roots[name])
	}
	invFile := filepath.Join(dir, "inventory.hcl")
	writeFile(t, invFile, inv.String())
	spec := filepath.Join(dir, "spec")
	writeFile(t, filepath.Join(spec, "main.hcl"), `
role "web" {
  hosts = ["web-*"]
  rollout {
    batch = 1
    pause = "1s"
  }
  file "marker" {
    path    = "${host.vars.root}/marker"
    content = "v2\n"
  }
}
`)

	r := tend(t, "plan", "--no-color", "-i", invFile, spec)
	want := "Rollout of role web: 3 batches of 1 (max_failed 0, pause 1s)\n  batch 1: web-1\n  batch 2: web-2\n  batch 3: web-3\n"
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("plan lacks the batches %q:\n%s", want, r)
	}

	r = tend(t, "apply", "--no-color", "-i", invFile, spec)
	if r.code != 1 {
		t.Fatalf("apply: exit %d, want 1:\n%s", r.code, r)
	}
	for _, want := range []string{
		"  batch 2: web-2   not started\n",
		"  ! stopped after batch 1: web-1 failed\n",
		"web-2  NOT STARTED   rollout of role web stopped after batch 1: web-1 failed\n",
		"Apply: 3 hosts, 0 ok, 1 failed, 2 not started;",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("apply output lacks %q:\n%s", want, r)
		}
	}
	for _, n := range []string{"web-2", "web-3"} {
		if _, err := os.Stat(filepath.Join(roots[n], "marker")); !os.IsNotExist(err) {
			t.Errorf("%s: marker exists or unreadable (%v): the stopped rollout touched it", n, err)
		}
	}
	for i, s := range servers[1:] {
		if c := s.Connections(); c != 1 {
			t.Errorf("web-%d: sshd saw %d connections, want 1 (the plan's)", i+2, c)
		}
	}
}
