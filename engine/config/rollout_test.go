package config

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/inventory"
)

// TestRolloutDecode decodes rollout blocks: counts, percentages, defaults,
// the JSON form, and a role without one.
func TestRolloutDecode(t *testing.T) {
	c := loadString(t, map[string]string{"roles.hcl": `
role "web" {
  hosts = ["web-*"]
  rollout {
    batch      = 2
    max_failed = 1
    pause      = "10s"
  }
}
role "api" {
  hosts = ["api-*"]
  rollout {
    batch      = "25%"
    max_failed = "50%"
  }
}
role "db" {
  hosts = ["db-*"]
  rollout {}
}
role "plain" {
  hosts = ["*"]
}
`, "more.hcl.json": `{"role": {"json": {"hosts": ["*"], "rollout": {"batch": "3", "pause": "1m"}}}}`})
	got := map[string]*Rollout{}
	for _, r := range c.Roles() {
		got[r.Name] = r.Rollout
	}
	type plain struct {
		Batch        int
		BatchPercent bool
		MaxFailed    int
		MaxPercent   bool
		Pause        time.Duration
		Line         int
	}
	flat := func(r *Rollout) *plain {
		if r == nil {
			return nil
		}
		return &plain{r.Batch, r.BatchPercent, r.MaxFailed, r.MaxFailedPercent, r.Pause, r.DeclRange.Start.Line}
	}
	want := map[string]*plain{
		"web":   {2, false, 1, false, 10 * time.Second, 4},
		"api":   {25, true, 50, true, 0, 12},
		"db":    {1, false, 0, false, 0, 19},
		"plain": nil,
		"json":  {3, false, 0, false, time.Minute, 1},
	}
	for name, w := range want {
		if diff := cmp.Diff(w, flat(got[name])); diff != "" {
			t.Errorf("role %s rollout (-want +got):\n%s", name, diff)
		}
	}
}

// TestRolloutDiagnostics checks that every bad value is an error at the
// value (file:line:column), and a second block one at its header.
func TestRolloutDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		body    string
		summary string
		line    int
		col     int
	}{
		{"batch = 0", "Invalid batch", 4, 13},
		{"batch = -2", "Invalid batch", 4, 13},
		{`batch = "0%"`, "Invalid batch", 4, 13},
		{`batch = "150%"`, "Invalid batch", 4, 13},
		{`batch = "many"`, "Invalid batch", 4, 13},
		{"batch = 1.5", "Invalid batch", 4, 13},
		{"batch = true", "Invalid batch", 4, 13},
		{"batch = var.n", "Variables not allowed", 4, 13},
		{"max_failed = -1", "Invalid max_failed", 4, 18},
		{`max_failed = "101%"`, "Invalid max_failed", 4, 18},
		{`max_failed = ["1"]`, "Invalid max_failed", 4, 18},
		{`pause = "soon"`, "Invalid pause", 4, 13},
		{`pause = "-1s"`, "Invalid pause", 4, 13},
		{`pause = 10`, "Invalid pause", 4, 13},
		{`parallel = 3`, "Unsupported argument", 4, 5},
		{"}\n  rollout {", "Duplicate rollout block", 5, 3},
	} {
		t.Run(tc.body, func(t *testing.T) {
			src := fmt.Sprintf("role \"web\" {\n  hosts = [\"*\"]\n  rollout {\n    %s\n  }\n}\n", tc.body)
			_, diags := Load(mapFS(map[string]string{"web.hcl": src}), ".")
			if !diags.HasErrors() {
				t.Fatalf("accepted:\n%s", src)
			}
			d := diags[0]
			if d.Summary != tc.summary || d.Subject == nil || d.Subject.Filename != "web.hcl" ||
				d.Subject.Start.Line != tc.line || d.Subject.Start.Column != tc.col {
				t.Errorf("diagnostic %q at %v, want %q at web.hcl:%d:%d", d.Summary, d.Subject, tc.summary, tc.line, tc.col)
			}
			if len(diags) != 1 {
				t.Errorf("%d diagnostics, want 1: %v", len(diags), diags)
			}
		})
	}
}

// TestRolloutSizes checks BatchSize (ceil of a percentage, at least one),
// Budget (floor of a percentage of the batch) and Batches.
func TestRolloutSizes(t *testing.T) {
	pct := &Rollout{Batch: 25, BatchPercent: true, MaxFailed: 50, MaxFailedPercent: true}
	for n, want := range map[int]int{1: 1, 3: 1, 4: 1, 5: 2, 8: 2, 10: 3, 100: 25} {
		if got := pct.BatchSize(n); got != want {
			t.Errorf("25%% of %d hosts: batch %d, want %d", n, got, want)
		}
	}
	for n, want := range map[int]int{1: 0, 2: 1, 3: 1, 5: 2} {
		if got := pct.Budget(n); got != want {
			t.Errorf("50%% of a batch of %d: budget %d, want %d", n, got, want)
		}
	}
	fixed := &Rollout{Batch: 2, MaxFailed: 1}
	if got := fixed.Budget(7); got != 1 {
		t.Errorf("budget %d, want 1", got)
	}
	got := fixed.Batches([]string{"a", "b", "c", "d", "e"})
	if diff := cmp.Diff([][]string{{"a", "b"}, {"c", "d"}, {"e"}}, got); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
	half := &Rollout{Batch: 50, BatchPercent: true}
	if got := half.Batches([]string{"a", "b", "c", "d"}); len(got) != 2 {
		t.Errorf("50%% of 4 hosts: %d batches, want 2", len(got))
	}
	if s := pct.MaxFailedText(); s != "50%" {
		t.Errorf("MaxFailedText = %q", s)
	}
}

// TestHostGraphRoles checks that a host's graph names the roles that select
// it, in declaration order, also when the graph waits for facts.
func TestHostGraphRoles(t *testing.T) {
	files := map[string]string{"a.hcl": `
role "web" {
  hosts = ["group:web"]
  file "/etc/a" {
    content = "a"
  }
}
role "all" {
  hosts = ["*"]
}
`, "b.hcl": `
role "base" {
  hosts = ["web1"]
}
role "db" {
  hosts = ["group:db"]
}
`}
	c := loadString(t, files)
	hg := compileOK(t, c, testHost(), nil)
	if diff := cmp.Diff([]string{"web", "all", "base"}, hg.Roles); diff != "" {
		t.Errorf("Roles (-want +got):\n%s", diff)
	}
	files["c.hcl"] = `
role "facts" {
  hosts = ["*"]
  file "/etc/os" {
    content = host.facts.os.id
  }
}
`
	c = loadString(t, files)
	hg = compileOK(t, c, &inventory.Host{Name: "db1", Groups: []string{"db"}, Vars: cty.EmptyObjectVal}, nil)
	if hg.Deferred == nil {
		t.Fatal("the graph does not wait for facts")
	}
	if diff := cmp.Diff([]string{"all", "db", "facts"}, hg.Roles); diff != "" {
		t.Errorf("deferred Roles (-want +got):\n%s", diff)
	}
}
