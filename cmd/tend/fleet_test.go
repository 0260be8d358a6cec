package main

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/testhost"
)

// fleetRoot is where the fleet spec converges inside the containers.
const fleetRoot = "/srv/tend-e2e"

// stamps returns "path mtime" lines for everything under fleetRoot on h.
func stamps(t *testing.T, h *testhost.Host) string {
	t.Helper()
	return h.Exec(t, "find", fleetRoot, "-printf", "%p %T@ %m %u\\n")
}

// TestFleetContainers converges three Debian hosts booted with systemd, plus
// one unreachable host, and checks acceptance points 2, 3 and 6 of the core
// engine: convergence, an empty second plan, unchanged mtimes, a hand edit
// shown as a diff of that one file and repaired, a deleted directory
// recreated, and a dead host reported while the others converge.
func TestFleetContainers(t *testing.T) {
	hosts := testhost.Boot(t, 3)
	// A port with nothing listening: the fourth host is unreachable.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var names []string
	for _, h := range hosts {
		names = append(names, fmt.Sprintf("%q", h.Name))
	}
	extra := fmt.Sprintf(`
host "down" {
  address         = "127.0.0.1"
  port            = %d
  connect_timeout = "3s"
  vars            = { app_port = 1 }
}

group "fleet" {
  hosts = [%s, "down"]
  vars  = { root = %q }
}
`, deadPort, strings.Join(names, ", "), fleetRoot)
	inv := testhost.WriteInventory(t, hosts, extra)
	spec := "../../testdata/e2e/fleet"

	// One of four hosts unreachable: the others converge, exit code 1.
	r := tend(t, "apply", "-i", inv, spec)
	if r.code != 1 {
		t.Fatalf("apply with a dead host: exit %d, want 1\n%s", r.code, r)
	}
	if !strings.Contains(r.stdout, "down") || !strings.Contains(r.stdout, "unreachable") {
		t.Errorf("the dead host is not reported with its reason:\n%s", r)
	}
	for _, h := range hosts {
		got := h.Exec(t, "cat", fleetRoot+"/d0/f0.conf")
		want := fmt.Sprintf("# managed by tend\nname  = %q\nport  = %d\nindex = 0\n", h.Name, h.AppPort)
		if got != want {
			t.Errorf("%s: f0.conf = %q, want %q", h.Name, got, want)
		}
		if got := h.Exec(t, "stat", "-c", "%a %U", fleetRoot+"/d1", fleetRoot+"/d1/f1.conf"); got != "750 root\n640 root\n" {
			t.Errorf("%s: modes = %q", h.Name, got)
		}
		if got := h.Exec(t, "readlink", fleetRoot+"/l2"); got != fleetRoot+"/d2/f2.conf\n" {
			t.Errorf("%s: l2 -> %q", h.Name, got)
		}
		if n := strings.Count(stamps(t, h), "\n"); n != 30 {
			t.Errorf("%s: %d paths under %s, want 30", h.Name, n, fleetRoot)
		}
	}

	live := "--limit=" + strings.Join(strings.Fields(strings.ReplaceAll(strings.Join(names, " "), `"`, "")), ",")
	r = tend(t, "plan", "--detailed-exitcode", "-i", inv, live, spec)
	if r.code != 0 || !strings.Contains(r.stdout, "No changes. 3 hosts are converged.") {
		t.Fatalf("plan after apply:\n%s", r)
	}
	before := map[string]string{}
	for _, h := range hosts {
		before[h.Name] = stamps(t, h)
	}
	if r = tend(t, "apply", "-i", inv, live, spec); r.code != 0 {
		t.Fatalf("second apply:\n%s", r)
	}
	for _, h := range hosts {
		if after := stamps(t, h); after != before[h.Name] {
			t.Errorf("%s: a no-op apply changed the files:\nbefore:\n%s\nafter:\n%s", h.Name, before[h.Name], after)
		}
	}

	// A hand edit on one host: the plan shows that host, that file, as a
	// unified diff; apply repairs it and leaves the others alone.
	edited := hosts[1]
	edited.Exec(t, "sh", "-c", "printf 'file 4 on intruder\\n' > "+fleetRoot+"/d4/f4.conf")
	r = tend(t, "plan", "--detailed-exitcode", "-i", inv, live, spec)
	if r.code != 2 {
		t.Fatalf("plan after a hand edit: exit %d, want 2\n%s", r.code, r)
	}
	for _, want := range []string{
		"host " + edited.Name,
		"~ file[f4]",
		"-file 4 on intruder",
		"+file 4 on " + edited.Name,
		"Plan: 3 hosts, 0 to create, 1 to update, 0 to delete.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan does not show %q:\n%s", want, r.stdout)
		}
	}
	for _, h := range hosts {
		if h != edited && strings.Contains(r.stdout, "host "+h.Name) {
			t.Errorf("plan shows untouched host %s:\n%s", h.Name, r.stdout)
		}
	}
	if r = tend(t, "apply", "-i", inv, live, spec); r.code != 0 {
		t.Fatalf("repair: %s", r)
	}
	if got := edited.Exec(t, "cat", fleetRoot+"/d4/f4.conf"); got != "file 4 on "+edited.Name+"\n" {
		t.Errorf("f4.conf not repaired: %q", got)
	}
	for _, h := range hosts {
		if h != edited && stamps(t, h) != before[h.Name] {
			t.Errorf("%s was touched by the repair of %s", h.Name, edited.Name)
		}
	}

	// A deleted directory comes back with its files.
	hosts[2].Exec(t, "rm", "-rf", fleetRoot+"/d3")
	r = tend(t, "plan", "--detailed-exitcode", "-i", inv, live, spec)
	if r.code != 2 || !strings.Contains(r.stdout, "+ directory[d3]") || !strings.Contains(r.stdout, "+ file[f3]") {
		t.Fatalf("plan after deleting a directory:\n%s", r)
	}
	if r = tend(t, "apply", "-i", inv, live, spec); r.code != 0 {
		t.Fatalf("apply after deleting a directory:\n%s", r)
	}
	r = tend(t, "plan", "--detailed-exitcode", "-i", inv, live, spec)
	if r.code != 0 {
		t.Fatalf("plan after repair:\n%s", r)
	}
}
