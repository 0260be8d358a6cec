package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/sshtest"
)

// sshInventory writes an inventory for sshd test hosts; each host gets its
// own root directory (they share this machine's file system) and the names
// h0, h1, ...
func sshInventory(t *testing.T, servers []*sshtest.Server) (inv string, roots []string) {
	t.Helper()
	var b strings.Builder
	dir := t.TempDir()
	for i, s := range servers {
		root := filepath.Join(dir, fmt.Sprintf("h%d", i))
		roots = append(roots, root)
		// A copy: the server rewrites its own file when its key rotates.
		known := filepath.Join(dir, fmt.Sprintf("known_hosts_h%d", i))
		writeFile(t, known, readFile(t, s.KnownHostsFile))
		fmt.Fprintf(&b, `host "h%d" {
  address         = "127.0.0.1"
  port            = %d
  identity_file   = %q
  known_hosts     = %q
  ssh_agent       = false
  connect_timeout = "5s"
  vars            = { root = %q, app_port = %d }
}
`, i, s.Port, s.ClientKeyFile, known, root, 8000+i)
	}
	inv = filepath.Join(dir, "inventory.hcl")
	writeFile(t, inv, b.String())
	return inv, roots
}

// TestNoOpCost: a no-op run over 3 hosts x 30 resources opens one SSH
// connection and runs at most two remote commands per host, as counted by
// the servers themselves.
func TestNoOpCost(t *testing.T) {
	servers := sshtest.Start(t, 3)
	inv, roots := sshInventory(t, servers)
	spec := "../../testdata/e2e/fleet"
	if r := tend(t, "apply", "-i", inv, spec); r.code != 0 {
		t.Fatalf("apply:\n%s", r)
	}
	for _, root := range roots {
		if got := readFile(t, filepath.Join(root, "d1/f1.conf")); !strings.HasPrefix(got, "file 1 on h") {
			t.Fatalf("f1.conf = %q", got)
		}
	}
	conns := make([]int, len(servers))
	sessions := make([]int, len(servers))
	for i, s := range servers {
		conns[i], sessions[i] = s.Connections(), s.Sessions()
	}
	r := tend(t, "plan", "--detailed-exitcode", "-i", inv, spec)
	if r.code != 0 || !strings.Contains(r.stdout, "No changes. 3 hosts are converged.") {
		t.Fatalf("no-op plan:\n%s", r)
	}
	// sshd logs a connection as the client learns it is in: give it a moment.
	time.Sleep(200 * time.Millisecond)
	for i, s := range servers {
		c, n := s.Connections()-conns[i], s.Sessions()-sessions[i]
		t.Logf("h%d: %d connection(s), %d session(s) for a no-op plan of 30 resources", i, c, n)
		if c != 1 || n < 1 || n > 2 {
			t.Errorf("h%d: a no-op run cost %d connections and %d remote executions, want 1 and at most 2", i, c, n)
		}
	}
}

// TestInvalidSpecContactsNoHost: five different problems are all listed with
// file:line:column and the source line, and no host is contacted.
func TestInvalidSpecContactsNoHost(t *testing.T) {
	servers := sshtest.Start(t, 1)
	inv, _ := sshInventory(t, servers)
	spec := "../../testdata/e2e/invalid"
	want := map[string]*regexp.Regexp{
		"unknown attribute":  regexp.MustCompile(`(?s)Error: Unsupported argument.*?--> main\.hcl:8:5\n.*colour  = "red"`),
		"bad mode":           regexp.MustCompile(`(?s)Error: Invalid file mode.*?--> main\.hcl:13:15\n.*"0999"`),
		"undefined variable": regexp.MustCompile(`(?s)Error: [^\n]*(variable|attribute)[^\n]*\n  --> main\.hcl:17:\d+\n.*var\.nope`),
		"duplicate resource": regexp.MustCompile(`(?s)Error: Duplicate resource[^\n]*\n  --> main\.hcl:24:\d+\n.*main\.hcl:20:`),
		"dependency cycle":   regexp.MustCompile(`(?s)Error: Dependency cycle[^\n]*\n  --> main\.hcl:2[89]:\d+`),
	}
	for _, args := range [][]string{
		{"validate", spec},
		{"validate", "-i", inv, spec},
		{"plan", "-i", inv, spec},
	} {
		r := tend(t, args...)
		if r.code != 1 {
			t.Errorf("%v: exit %d, want 1\n%s", args, r.code, r)
		}
		for what, re := range want {
			if !re.MatchString(r.stderr) {
				t.Errorf("%v: no %s diagnostic matching %s\n%s", args, what, re, r.stderr)
			}
		}
		if n := strings.Count(r.stderr, "Error: "); n != 5 {
			t.Errorf("%v: %d errors, want exactly 5\n%s", args, n, r.stderr)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if n := servers[0].Connections(); n != 0 {
		t.Errorf("an invalid spec contacted the host: %d connections", n)
	}
}

// TestChangedHostKeyRefused: a host whose key changed is refused with a
// message naming the host and the known_hosts line; nothing is changed.
func TestChangedHostKeyRefused(t *testing.T) {
	servers := sshtest.Start(t, 1)
	inv, roots := sshInventory(t, servers)
	servers[0].RotateHostKey(t)
	known := filepath.Join(filepath.Dir(inv), "known_hosts_h0")
	r := tend(t, "apply", "-i", inv, "../../testdata/e2e/fleet")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r)
	}
	out := r.stdout + r.stderr
	t.Logf("refusal:\n%s", r.stdout)
	line := known + ":1"
	for _, want := range []string{"h0", line, "changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not mention %q:\n%s", want, r)
		}
	}
	if _, err := os.Stat(roots[0]); !os.IsNotExist(err) {
		t.Errorf("a host with a changed key was changed: %s exists", roots[0])
	}
}
