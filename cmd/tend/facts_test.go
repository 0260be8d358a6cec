package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFactsAndWhen: host.facts in a template shows rendered in the plan,
// and when conditions over facts (and each) select resources.
func TestFactsAndWhen(t *testing.T) {
	osID := "unknown"
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "ID="); ok {
				osID = strings.Trim(v, `"`)
			}
		}
	}
	host, _ := os.Hostname()
	root := filepath.Join(t.TempDir(), "facts")
	spec := "../../testdata/e2e/facts"
	r := tend(t, "plan", "--local", "--var=root="+root, spec)
	if r.code != 0 {
		t.Fatalf("plan: %s", r)
	}
	for _, want := range []string{"+os=" + osID + " ", "host=" + host, "+ file.big-only[\"a\"]"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, `file.big-only["b"]`) {
		t.Errorf("when = false still planned big-only[b]:\n%s", r.stdout)
	}
	if (osID == "debian") != strings.Contains(r.stdout, "+ file[debian-only]") {
		t.Errorf("debian-only planned wrongly for os %s:\n%s", osID, r.stdout)
	}
	if strings.Contains(r.stdout, "alpine-only") && osID != "alpine" {
		t.Errorf("alpine-only planned on %s:\n%s", osID, r.stdout)
	}
	if r = tend(t, "apply", "--local", "--var=root="+root, spec); r.code != 0 {
		t.Fatalf("apply: %s", r)
	}
	if r = tend(t, "plan", "--local", "--detailed-exitcode", "--var=root="+root, spec); r.code != 0 {
		t.Fatalf("plan after apply: %s", r)
	}
	// validate checks a facts spec without any host.
	if r = tend(t, "validate", spec); r.code != 0 {
		t.Fatalf("validate: %s", r)
	}
}
