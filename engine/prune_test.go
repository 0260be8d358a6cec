package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/tendhq/tend/engine"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/inventory/local"
)

// pruneHost runs specs against this machine through the local transport,
// with its own state directory, counting remote executions.
type pruneHost struct {
	t     *testing.T
	root  string
	state string

	mu         sync.Mutex
	probeReply string // the stdout of the last run's first execution
	execs      int
}

func newPruneHost(t *testing.T) *pruneHost {
	return &pruneHost{t: t, root: t.TempDir(), state: filepath.Join(t.TempDir(), "state")}
}

// run plans (or applies) spec; it returns the report of the one host and
// the number of remote executions it cost.
func (p *pruneHost) run(spec string, o engine.Options) (*report.Run, int) {
	p.t.Helper()
	graphs := compile(p.t, spec, p.root)
	p.mu.Lock()
	p.execs = 0
	p.mu.Unlock()
	o.StateDir = p.state
	o.Log = zaptest.NewLogger(p.t)
	o.Dial = func(ctx context.Context, h *inventory.Host) (inventory.Transport, error) {
		return &countingTransport{Transport: local.New(local.Options{Name: h.Name}), p: p}, nil
	}
	run := engine.Run(context.Background(), graphs, o)
	if len(run.Hosts) != 1 {
		p.t.Fatalf("%d hosts in the report", len(run.Hosts))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return run, p.execs
}

// countingTransport counts the executions of the transports of one test.
type countingTransport struct {
	*local.Transport
	p *pruneHost
}

func (c *countingTransport) Run(ctx context.Context, cmd inventory.Cmd) (*inventory.Result, error) {
	c.p.mu.Lock()
	c.p.execs++
	first := c.p.execs == 1
	c.p.mu.Unlock()
	res, err := c.Transport.Run(ctx, cmd)
	if err == nil && first {
		c.p.mu.Lock()
		c.p.probeReply = string(res.Stdout)
		c.p.mu.Unlock()
	}
	return res, err
}

func (p *pruneHost) path(rel string) string { return filepath.Join(p.root, rel) }

func (p *pruneHost) exists(rel string) bool {
	_, err := os.Lstat(p.path(rel))
	return err == nil
}

// manifest returns the addresses the host's manifest lists, sorted, and
// the sha256 of each entry that has one.
func (p *pruneHost) manifest() ([]string, map[string]string) {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.state, "manifest.local"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		p.t.Fatal(err)
	}
	var m struct {
		Version   int
		Resources []struct {
			Address string
			Role    string
			Prune   map[string]string
			SHA256  string
		}
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Version != 1 {
		p.t.Fatalf("manifest %q: version %d, %v", b, m.Version, err)
	}
	var addrs []string
	sums := map[string]string{}
	for _, e := range m.Resources {
		addrs = append(addrs, e.Address)
		if e.SHA256 != "" {
			sums[e.Address] = e.SHA256
		}
	}
	sort.Strings(addrs)
	return addrs, sums
}

// byAddr returns the host's resources by address.
func byAddr(run *report.Run) map[string]*report.Resource {
	m := map[string]*report.Resource{}
	for _, r := range run.Hosts[0].Resources {
		m[r.Addr.String()] = r
	}
	return m
}

func text(t *testing.T, run *report.Run) string {
	t.Helper()
	var b strings.Builder
	if err := report.Text(&b, run, report.Options{}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func mustSucceed(t *testing.T, what string, run *report.Run) {
	t.Helper()
	if run.Hosts[0].Failed() {
		t.Fatalf("%s failed:\n%s", what, text(t, run))
	}
}

const specAll = `
role "web" {
  hosts = ["*"]
  directory "app" {
    path = "${host.vars.root}/app"
  }
  file "conf" {
    path    = "${host.vars.root}/app/conf"
    content = "v1\n"
  }
  symlink "current" {
    path   = "${host.vars.root}/current"
    target = "${host.vars.root}/app"
  }
  file "keep" {
    path    = "${host.vars.root}/keep"
    content = "keep\n"
  }
}
`

const specKeepOnly = `
role "web" {
  hosts = ["*"]
  file "keep" {
    path    = "${host.vars.root}/keep"
    content = "keep\n"
  }
}
`

// A resource removed from the spec is reported as orphaned and left alone;
// --prune removes it (files before their directory) and the manifest
// forgets it; a no-op run then costs one execution.
func TestOrphansReportedThenPruned(t *testing.T) {
	h := newPruneHost(t)
	run, _ := h.run(specAll, engine.Options{Apply: true})
	mustSucceed(t, "first apply", run)
	addrs, sums := h.manifest()
	want := []string{"directory[app]", "file[conf]", "file[keep]", "symlink[current]"}
	if strings.Join(addrs, " ") != strings.Join(want, " ") {
		t.Fatalf("manifest lists %v, want %v", addrs, want)
	}
	if len(sums) != 2 || sums["file[conf]"] == "" || sums["file[keep]"] == "" {
		t.Errorf("manifest hashes = %v, want the two files'", sums)
	}

	// A no-op run on a host with a manifest: one execution.
	run, execs := h.run(specAll, engine.Options{Apply: true})
	mustSucceed(t, "second apply", run)
	if c := run.Count(); c.Create+c.Update+c.Delete+c.Orphaned != 0 || execs != 1 {
		t.Errorf("second apply: %+v in %d executions, want nothing in 1:\n%s", c, execs, text(t, run))
	}

	// Removed from the spec: orphaned, not failed, left in place.
	for _, apply := range []bool{false, true} {
		run, _ = h.run(specKeepOnly, engine.Options{Apply: apply})
		mustSucceed(t, "plan without prune", run)
		got := byAddr(run)
		for _, a := range []string{"directory[app]", "file[conf]", "symlink[current]"} {
			if r := got[a]; r == nil || r.Status != report.StatusOrphaned || !r.Orphaned {
				t.Errorf("apply=%v: %s = %+v, want orphaned", apply, a, r)
			}
		}
		if c := run.Count(); c.Orphaned != 3 || c.Delete != 0 {
			t.Errorf("apply=%v: counts %+v, want 3 orphaned and nothing to delete", apply, c)
		}
		out := text(t, run)
		if !strings.Contains(out, `  - file[conf] (orphaned: no longer in the spec; prune with --prune or prune = true on role "web")`) ||
			!strings.Contains(out, "0 to delete, 3 orphaned.") {
			t.Errorf("apply=%v: text plan:\n%s", apply, out)
		}
		if !h.exists("app/conf") || !h.exists("current") {
			t.Fatalf("apply=%v without prune removed an orphan", apply)
		}
	}
	if addrs, _ := h.manifest(); len(addrs) != 4 {
		t.Errorf("after an apply without prune the manifest lists %v, want the orphans still", addrs)
	}

	// --prune in a plan: planned deletes, deepest path first.
	run, _ = h.run(specKeepOnly, engine.Options{Prune: true})
	var order []string
	for _, r := range run.Hosts[0].Resources {
		if r.Orphaned {
			order = append(order, r.Addr.String())
			if r.Status != report.StatusPlanned || r.Change.Action.String() != "delete" {
				t.Errorf("plan --prune: %s = %+v, want a planned delete", r.Addr, r)
			}
		}
	}
	if strings.Join(order, " ") != "file[conf] directory[app] symlink[current]" {
		t.Errorf("prune order = %v", order)
	}
	if out := text(t, run); !strings.Contains(out, "  - file[conf]\n      # orphaned: no longer in the spec\n") ||
		!strings.Contains(out, "0 to create, 0 to update, 3 to delete.") {
		t.Errorf("plan --prune text:\n%s", out)
	}
	if !h.exists("app/conf") {
		t.Fatal("a plan pruned")
	}

	run, _ = h.run(specKeepOnly, engine.Options{Apply: true, Prune: true})
	mustSucceed(t, "apply --prune", run)
	for a, r := range byAddr(run) {
		if r.Orphaned && r.Status != report.StatusApplied {
			t.Errorf("apply --prune: %s = %+v, want applied", a, r)
		}
	}
	for _, p := range []string{"app", "current"} {
		if h.exists(p) {
			t.Errorf("%s was not pruned", p)
		}
	}
	if !h.exists("keep") {
		t.Error("a resource still in the spec was removed")
	}
	if addrs, _ := h.manifest(); strings.Join(addrs, " ") != "file[keep]" {
		t.Errorf("after prune the manifest lists %v", addrs)
	}
	run, execs = h.run(specKeepOnly, engine.Options{})
	if c := run.Count(); c.Create+c.Update+c.Delete+c.Orphaned != 0 || execs != 1 || run.Hosts[0].Failed() {
		t.Errorf("plan after prune: %+v in %d executions:\n%s", c, execs, text(t, run))
	}
}

// prune = true on a role prunes its orphans without --prune; an orphan
// changed by hand says so; one already gone is forgotten silently.
func TestRolePruneAndHandEdits(t *testing.T) {
	h := newPruneHost(t)
	mustSucceed(t, "apply", first(h.run(specAll, engine.Options{Apply: true})))
	if err := os.WriteFile(h.path("app/conf"), []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(h.path("current")); err != nil {
		t.Fatal(err)
	}
	run, _ := h.run(specKeepOnly, engine.Options{Apply: true, PruneRoles: map[string]bool{"other": true}})
	got := byAddr(run)
	if r := got["file[conf]"]; r == nil || r.Status != report.StatusOrphaned || !strings.Contains(r.Change.Reason, "changed on the host since tend wrote it") {
		t.Errorf("hand-edited orphan = %+v", r)
	}
	if r := got["symlink[current]"]; r != nil {
		t.Errorf("an orphan already gone is reported: %+v", r)
	}
	if addrs, _ := h.manifest(); strings.Join(addrs, " ") != "directory[app] file[conf] file[keep]" {
		t.Errorf("manifest = %v, want the gone symlink forgotten", addrs)
	}

	run, _ = h.run(specKeepOnly, engine.Options{Apply: true, PruneRoles: map[string]bool{"web": true}})
	mustSucceed(t, "apply with role prune", run)
	if h.exists("app") {
		t.Error("prune = true on the role did not prune")
	}
	if addrs, _ := h.manifest(); strings.Join(addrs, " ") != "file[keep]" {
		t.Errorf("manifest = %v", addrs)
	}
}

func first(run *report.Run, _ int) *report.Run { return run }

// A renamed resource (same path, new address) is not an orphan; a resource
// whose path changed under the same address orphans the old path; a
// directory that still holds a managed path is kept until it does not.
func TestOrphanRenamesAndKeeps(t *testing.T) {
	h := newPruneHost(t)
	mustSucceed(t, "apply", first(h.run(specAll, engine.Options{Apply: true})))
	renamed := `
role "web" {
  hosts = ["*"]
  file "config" {
    path    = "${host.vars.root}/app/conf"
    content = "v1\n"
  }
  file "keep" {
    path    = "${host.vars.root}/elsewhere"
    content = "keep\n"
  }
}
`
	run, _ := h.run(renamed, engine.Options{Apply: true, Prune: true})
	mustSucceed(t, "apply renamed", run)
	got := byAddr(run)
	if r := got["file[conf]"]; r != nil {
		t.Errorf("a renamed file is an orphan: %+v", r)
	}
	if r := got["directory[app]"]; r != nil {
		t.Errorf("a directory holding a managed file is reported: %+v", r)
	}
	if !h.exists("app/conf") || !h.exists("elsewhere") {
		t.Fatal("prune removed a managed path")
	}
	if h.exists("keep") || h.exists("current") {
		t.Error("the old path of file[keep], or symlink[current], was not pruned")
	}
	addrs, _ := h.manifest()
	if strings.Join(addrs, " ") != "directory[app] file[config] file[keep]" {
		t.Errorf("manifest = %v, want the kept directory, the renamed file and keep at its new path", addrs)
	}

	// Nothing holds the directory any more: now it is pruned.
	run, _ = h.run(specKeepOnly, engine.Options{Apply: true, Prune: true})
	mustSucceed(t, "apply keep only", run)
	if h.exists("app") {
		t.Error("the directory was not pruned once nothing kept it")
	}
}

// A manifest tend cannot read fails the host before anything changes.
func TestCorruptManifest(t *testing.T) {
	h := newPruneHost(t)
	if err := os.MkdirAll(h.state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.state, "manifest.local"), []byte(`{"version":1,"resources":[{"address":"file[x]"`), 0o600); err != nil {
		t.Fatal(err)
	}
	run, _ := h.run(specKeepOnly, engine.Options{Apply: true})
	if e := run.Hosts[0].Error; !strings.Contains(e, "read manifest") {
		t.Errorf("host error = %q, want a manifest error", e)
	}
	if h.exists("keep") {
		t.Error("a host with a corrupt manifest was changed")
	}
}
