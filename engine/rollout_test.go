package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/tendhq/tend/engine"
	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/internal/sshtest"
	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/inventory/local"
	"github.com/tendhq/tend/inventory/ssh"
	"github.com/tendhq/tend/resources"
)

// rolloutSpec is a role over the hosts web-*, whose rollout block holds
// rollout, with one file per host under its root.
func rolloutSpec(rollout string) string {
	return fmt.Sprintf(`
role "web" {
  hosts = ["web-*"]
  rollout {
    %s
  }
  file "marker" {
    path    = "${host.vars.root}/marker"
    content = "deployed ${host.name}\n"
  }
}
`, rollout)
}

// fleet is a set of hosts for a rollout test, with their file roots.
type fleet struct {
	hosts   []*inventory.Host
	roots   map[string]string
	servers map[string]*sshtest.Server // by host name; nil for local hosts
}

// sshFleet starts one sshd per name and returns hosts reaching them. The
// host named in broken gets a root below a regular file, so that writing
// its marker fails.
func sshFleet(t *testing.T, names []string, broken ...string) *fleet {
	t.Helper()
	servers := sshtest.Start(t, len(names))
	f := &fleet{roots: map[string]string{}, servers: map[string]*sshtest.Server{}}
	dir := t.TempDir()
	blocker := filepath.Join(dir, "blocker")
	if err := os.WriteFile(blocker, []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		root := filepath.Join(dir, n)
		if slices.Contains(broken, n) {
			root = filepath.Join(blocker, n)
		}
		h := servers[i].Host(n)
		h.Vars = cty.ObjectVal(map[string]cty.Value{"root": cty.StringVal(root)})
		f.hosts = append(f.hosts, h)
		f.roots[n] = root
		f.servers[n] = servers[i]
	}
	return f
}

// localFleet returns hosts reached through the local transport.
func localFleet(t *testing.T, names ...string) *fleet {
	f := &fleet{roots: map[string]string{}}
	dir := t.TempDir()
	for _, n := range names {
		root := filepath.Join(dir, n)
		f.hosts = append(f.hosts, &inventory.Host{Name: n, Vars: cty.ObjectVal(map[string]cty.Value{"root": cty.StringVal(root)})})
		f.roots[n] = root
	}
	return f
}

// dial reaches the fleet's hosts: over SSH when they have a server.
func (f *fleet) dial(t *testing.T) engine.DialFunc {
	return func(ctx context.Context, h *inventory.Host) (inventory.Transport, error) {
		if f.servers[h.Name] == nil {
			return local.New(local.Options{Name: h.Name}), nil
		}
		return ssh.Dial(ctx, h, ssh.Options{Log: zaptest.NewLogger(t)})
	}
}

// deployed reports whether the host's marker file exists.
func (f *fleet) deployed(t *testing.T, name string) bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.roots[name], "marker"))
	if err == nil {
		if string(b) != "deployed "+name+"\n" {
			t.Errorf("%s: marker holds %q", name, b)
		}
		return true
	}
	return false
}

// compileRollouts loads spec, compiles it for the fleet and returns the
// graphs and the rollout blocks by role, as the CLI passes them.
func compileRollouts(t *testing.T, spec string, f *fleet) ([]*config.HostGraph, map[string]*config.Rollout) {
	t.Helper()
	cfg, diags := config.Load(fstest.MapFS{"main.hcl": {Data: []byte(spec)}}, ".")
	if diags.HasErrors() {
		t.Fatalf("load: %v", diags)
	}
	graphs, diags := engine.Compile(cfg, f.hosts, nil)
	if diags.HasErrors() {
		t.Fatalf("compile: %v", diags)
	}
	rollouts := map[string]*config.Rollout{}
	for _, r := range cfg.Roles() {
		if r.Rollout != nil {
			rollouts[r.Name] = r.Rollout
		}
	}
	return graphs, rollouts
}

// hostsByName indexes a run's hosts.
func hostsByName(r *report.Run) map[string]*report.Host {
	m := map[string]*report.Host{}
	for _, h := range r.Hosts {
		m[h.Name] = h
	}
	return m
}

// textOf renders r as text, for failure messages.
func textOf(r *report.Run) string {
	var b strings.Builder
	_ = report.Text(&b, r, report.Options{})
	_ = report.Summary(&b, r)
	return b.String()
}

// batchHosts lists the hosts of each batch of ro.
func batchHosts(ro *report.Rollout) [][]string {
	var out [][]string
	for _, b := range ro.Batches {
		out = append(out, b.Hosts)
	}
	return out
}

// With batch = 1, the three hosts run one at a time in name order: each
// starts after the previous one ended, as the report's times show; the
// plan before lists the same batches.
func TestRolloutOneAtATime(t *testing.T) {
	names := []string{"web-3", "web-1", "web-2"} // the rollout sorts them
	f := sshFleet(t, names)
	graphs, rollouts := compileRollouts(t, rolloutSpec(`batch = 1`), f)
	state := t.TempDir()
	opts := engine.Options{Dial: f.dial(t), StateDir: state, Rollouts: rollouts, Log: zaptest.NewLogger(t)}

	plan := engine.Run(context.Background(), graphs, opts)
	if len(plan.Rollouts) != 1 {
		t.Fatalf("plan has %d rollouts, want 1:\n%s", len(plan.Rollouts), textOf(plan))
	}
	want := [][]string{{"web-1"}, {"web-2"}, {"web-3"}}
	if got := batchHosts(plan.Rollouts[0]); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("plan batches %v, want %v", got, want)
	}
	for _, b := range plan.Rollouts[0].Batches {
		if b.Status != report.BatchPlanned {
			t.Errorf("plan batch %v: %s", b.Hosts, b.Status)
		}
	}
	for _, n := range names {
		if f.deployed(t, n) {
			t.Errorf("the plan wrote %s's file", n)
		}
	}

	opts.Apply = true
	run := engine.Run(context.Background(), graphs, opts)
	if c := run.Count(); c.Failed != 0 {
		t.Fatalf("apply failed:\n%s", textOf(run))
	}
	hosts := hostsByName(run)
	var prevEnd time.Time
	for i, n := range []string{"web-1", "web-2", "web-3"} {
		h := hosts[n]
		if h.Rollout != "web" || h.Batch != i+1 {
			t.Errorf("%s: rollout %q batch %d, want web %d", n, h.Rollout, h.Batch, i+1)
		}
		if h.Started.IsZero() || h.Duration <= 0 {
			t.Fatalf("%s: started %v, duration %v", n, h.Started, h.Duration)
		}
		if !h.Started.After(prevEnd) {
			t.Errorf("%s started at %s, before the previous host ended at %s", n,
				h.Started.Format("15:04:05.000"), prevEnd.Format("15:04:05.000"))
		}
		prevEnd = h.Started.Add(h.Duration)
		if !f.deployed(t, n) {
			t.Errorf("%s: marker not written", n)
		}
		b := run.Rollouts[0].Batches[i]
		if b.Status != report.BatchOK || b.Started.IsZero() || b.Duration < h.Duration {
			t.Errorf("batch %d: %s, started %v, took %v (host took %v)", i+1, b.Status, b.Started, b.Duration, h.Duration)
		}
	}
	if run.Rollouts[0].Stopped != "" {
		t.Errorf("rollout stopped: %s", run.Rollouts[0].Stopped)
	}
}

// A failed host in the first batch stops the rollout with max_failed = 0:
// the other hosts are never contacted (sshd saw no connection), their files
// are absent, and they are reported not started with the reason.
func TestRolloutStopsOnFailure(t *testing.T) {
	f := sshFleet(t, []string{"web-1", "web-2", "web-3"}, "web-1")
	graphs, rollouts := compileRollouts(t, rolloutSpec(`batch = 1`), f)
	run := engine.Run(context.Background(), graphs, engine.Options{
		Apply: true, Dial: f.dial(t), StateDir: t.TempDir(), Rollouts: rollouts, Log: zaptest.NewLogger(t),
	})
	hosts := hostsByName(run)
	if h := hosts["web-1"]; !h.Failed() || h.NotStarted {
		t.Fatalf("web-1 did not fail:\n%s", textOf(run))
	}
	const reason = "rollout of role web stopped after batch 1: web-1 failed"
	for _, n := range []string{"web-2", "web-3"} {
		h := hosts[n]
		if !h.NotStarted || h.Error != reason || !h.Started.IsZero() {
			t.Errorf("%s: not started %v, error %q, started %v; want not started: %q", n, h.NotStarted, h.Error, h.Started, reason)
		}
		if f.deployed(t, n) {
			t.Errorf("%s: its file was written", n)
		}
		if c := f.servers[n].Connections(); c != 0 {
			t.Errorf("%s: sshd saw %d connections, want 0", n, c)
		}
	}
	ro := run.Rollouts[0]
	if ro.Stopped != "stopped after batch 1: web-1 failed" {
		t.Errorf("Stopped = %q", ro.Stopped)
	}
	var status []report.BatchStatus
	for _, b := range ro.Batches {
		status = append(status, b.Status)
	}
	if want := []report.BatchStatus{report.BatchFailed, report.BatchNotStarted, report.BatchNotStarted}; !slices.Equal(status, want) {
		t.Errorf("batch statuses %v, want %v", status, want)
	}
	if c := run.Count(); c.Failed != 3 || c.NotStarted != 2 {
		t.Errorf("counts %+v, want 3 failed of which 2 not started", c)
	}
	var sum strings.Builder
	if err := report.Summary(&sum, run); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sum.String(), "web-2  NOT STARTED   "+reason+"\n") {
		t.Errorf("summary lacks web-2 NOT STARTED:\n%s", sum.String())
	}
}

// With max_failed = 1, one failed host in a batch lets the rollout go on.
func TestRolloutMaxFailed(t *testing.T) {
	f := sshFleet(t, []string{"web-1", "web-2"}, "web-1")
	graphs, rollouts := compileRollouts(t, rolloutSpec("batch = 1\n    max_failed = 1"), f)
	run := engine.Run(context.Background(), graphs, engine.Options{
		Apply: true, Dial: f.dial(t), StateDir: t.TempDir(), Rollouts: rollouts, Log: zaptest.NewLogger(t),
	})
	hosts := hostsByName(run)
	if !hosts["web-1"].Failed() {
		t.Fatalf("web-1 did not fail:\n%s", textOf(run))
	}
	for _, n := range []string{"web-2"} {
		if hosts[n].Failed() || !f.deployed(t, n) {
			t.Errorf("%s: failed %v (%s), deployed %v", n, hosts[n].Failed(), hosts[n].Error, f.deployed(t, n))
		}
	}
	ro := run.Rollouts[0]
	if ro.Stopped != "" || ro.Batches[0].Status != report.BatchFailed || !slices.Equal(ro.Batches[0].Failed, []string{"web-1"}) {
		t.Errorf("rollout: stopped %q, batch 1 %s %v", ro.Stopped, ro.Batches[0].Status, ro.Batches[0].Failed)
	}
}

// "50%" of four hosts makes two batches of two; the second starts after
// the first ended.
func TestRolloutPercent(t *testing.T) {
	f := sshFleet(t, []string{"web-1", "web-2", "web-3", "web-4"})
	graphs, rollouts := compileRollouts(t, rolloutSpec(`batch = "50%"`), f)
	run := engine.Run(context.Background(), graphs, engine.Options{
		Apply: true, Dial: f.dial(t), StateDir: t.TempDir(), Rollouts: rollouts, Log: zaptest.NewLogger(t),
	})
	if run.Count().Failed != 0 {
		t.Fatalf("apply failed:\n%s", textOf(run))
	}
	ro := run.Rollouts[0]
	want := [][]string{{"web-1", "web-2"}, {"web-3", "web-4"}}
	if got := batchHosts(ro); !slices.EqualFunc(got, want, slices.Equal) || ro.BatchSize != 2 {
		t.Fatalf("batches %v of %d, want %v", got, ro.BatchSize, want)
	}
	hosts := hostsByName(run)
	end1 := ro.Batches[0].Started.Add(ro.Batches[0].Duration)
	for _, n := range want[0] {
		if e := hosts[n].Started.Add(hosts[n].Duration); e.After(end1) {
			t.Errorf("%s ended after its batch", n)
		}
	}
	for _, n := range want[1] {
		if !hosts[n].Started.After(end1) {
			t.Errorf("%s started before batch 1 ended", n)
		}
		if !f.deployed(t, n) {
			t.Errorf("%s not deployed", n)
		}
	}
}

// The pause between batches is waited, and a cancelled context ends it:
// the later batch is then not started.
func TestRolloutPause(t *testing.T) {
	t.Run("waited", func(t *testing.T) {
		f := localFleet(t, "web-1", "web-2")
		graphs, rollouts := compileRollouts(t, rolloutSpec("batch = 1\n    pause = \"400ms\""), f)
		run := engine.Run(context.Background(), graphs, engine.Options{
			Apply: true, Dial: f.dial(t), StateDir: t.TempDir(), Rollouts: rollouts, Log: zaptest.NewLogger(t),
		})
		if run.Count().Failed != 0 {
			t.Fatalf("apply failed:\n%s", textOf(run))
		}
		b := run.Rollouts[0].Batches
		if gap := b[1].Started.Sub(b[0].Started.Add(b[0].Duration)); gap < 400*time.Millisecond {
			t.Errorf("batch 2 started %v after batch 1 ended, want at least the 400ms pause", gap)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		f := localFleet(t, "web-1", "web-2")
		graphs, rollouts := compileRollouts(t, rolloutSpec("batch = 1\n    pause = \"1h\""), f)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Cancel as soon as the rollout starts its pause.
		log := zaptest.NewLogger(t, zaptest.WrapOptions(zap.Hooks(func(e zapcore.Entry) error {
			if e.Message == "rollout paused" {
				cancel()
			}
			return nil
		})))
		t0 := time.Now()
		run := engine.Run(ctx, graphs, engine.Options{
			Apply: true, Dial: f.dial(t), StateDir: t.TempDir(), Rollouts: rollouts, Log: log,
		})
		if d := time.Since(t0); d > 30*time.Second {
			t.Errorf("Run took %v: the pause was not cut short", d)
		}
		hosts := hostsByName(run)
		if h := hosts["web-1"]; h.Failed() || !f.deployed(t, "web-1") {
			t.Errorf("web-1: %s", h.Error)
		}
		h := hosts["web-2"]
		if !h.NotStarted || !strings.Contains(h.Error, "stopped after batch 1: interrupted") || f.deployed(t, "web-2") {
			t.Errorf("web-2: not started %v, error %q, deployed %v", h.NotStarted, h.Error, f.deployed(t, "web-2"))
		}
	})
}

// A host goes in the rollout of the first of its roles that has one; hosts
// of no rollout run at the same time as the rollouts, and a plan lists the
// batches without waiting between them.
func TestRolloutRoleAssignment(t *testing.T) {
	f := localFleet(t, "web-1", "web-2", "web-3", "db-1")
	spec := `
role "base" {
  hosts = ["*"]
  file "base" {
    path    = "${host.vars.root}/base"
    content = "base\n"
  }
}
role "canary" {
  hosts = ["web-1"]
  rollout {
    batch = 1
  }
}
` + rolloutSpec("batch = 2\n    pause = \"1h\"")
	graphs, rollouts := compileRollouts(t, spec, f)
	t0 := time.Now()
	plan := engine.Run(context.Background(), graphs, engine.Options{Dial: f.dial(t), StateDir: t.TempDir(), Rollouts: rollouts})
	if time.Since(t0) > 30*time.Second {
		t.Error("the plan waited for a pause")
	}
	var got []string
	for _, ro := range plan.Rollouts {
		got = append(got, fmt.Sprintf("%s:%v", ro.Role, batchHosts(ro)))
	}
	if want := []string{"canary:[[web-1]]", "web:[[web-2 web-3]]"}; !slices.Equal(got, want) {
		t.Errorf("rollouts %v, want %v", got, want)
	}
	hosts := hostsByName(plan)
	if h := hosts["db-1"]; h.Rollout != "" || h.Batch != 0 || h.Started.IsZero() {
		t.Errorf("db-1: rollout %q batch %d started %v", h.Rollout, h.Batch, h.Started)
	}
	if h := hosts["web-1"]; h.Rollout != "canary" || h.Batch != 1 {
		t.Errorf("web-1: rollout %q batch %d", h.Rollout, h.Batch)
	}
}

// preparedKind is a test kind whose Prepare fails when its attribute fail
// is true, and counts its calls.
type prepared struct {
	addr resources.Addr
	fail bool
}

var prepareCalls atomic.Int32

func init() {
	resources.Register(&resources.Kind{
		Name:       "test_prepared",
		Attributes: []hcl.AttributeSchema{{Name: "fail"}},
		New: func(b *resources.Block) (resources.Resource, hcl.Diagnostics) {
			p := &prepared{addr: b.Addr}
			if a, ok := b.Attrs["fail"]; ok {
				p.fail = a.Value.True()
			}
			return p, nil
		},
	})
}

func (p *prepared) Addr() resources.Addr     { return p.addr }
func (p *prepared) Observe(*resources.Probe) {}
func (p *prepared) Diff(*resources.Observed) (*resources.Change, error) {
	return &resources.Change{Addr: p.addr}, nil
}
func (p *prepared) Apply(context.Context, *resources.Target, *resources.Change) error { return nil }

func (p *prepared) Prepare(ctx context.Context) error {
	prepareCalls.Add(1)
	if p.fail {
		return errors.New("sha256 mismatch")
	}
	return nil
}

// prepareMu serialises the tests that count Prepare calls.
var prepareMu sync.Mutex

// A failing Prepare stops the run before any host is dialled: the run has
// an error naming the resource and its hosts, every host is not started,
// and no sshd saw a connection.
func TestPrepareFailureContactsNoHost(t *testing.T) {
	prepareMu.Lock()
	defer prepareMu.Unlock()
	f := sshFleet(t, []string{"web-1", "web-2"})
	spec := rolloutSpec("batch = 1") + `
role "artifacts" {
  hosts = ["*"]
  test_prepared "shop" {
    fail = host.name == "web-2"
  }
}
`
	graphs, rollouts := compileRollouts(t, spec, f)
	prepareCalls.Store(0)
	run := engine.Run(context.Background(), graphs, engine.Options{
		Apply: true, Dial: f.dial(t), StateDir: t.TempDir(), Rollouts: rollouts, Log: zaptest.NewLogger(t),
	})
	if want := "prepare test_prepared[shop] (web-2): sha256 mismatch"; run.Error != want {
		t.Errorf("run error %q, want %q", run.Error, want)
	}
	if n := prepareCalls.Load(); n != 2 {
		t.Errorf("Prepare called %d times, want 2 (one resource per host)", n)
	}
	for _, h := range run.Hosts {
		if !h.NotStarted || h.Error == "" {
			t.Errorf("%s: not started %v, error %q", h.Name, h.NotStarted, h.Error)
		}
		if c := f.servers[h.Name].Connections(); c != 0 {
			t.Errorf("%s: sshd saw %d connections, want 0", h.Name, c)
		}
		if f.deployed(t, h.Name) {
			t.Errorf("%s: file written", h.Name)
		}
	}
	if ro := run.Rollouts[0]; ro.Batches[0].Status != report.BatchNotStarted || ro.Stopped == "" {
		t.Errorf("rollout: batch 1 %s, stopped %q", ro.Batches[0].Status, ro.Stopped)
	}
	text := textOf(run)
	if !strings.Contains(text, "prepare test_prepared[shop] (web-2): sha256 mismatch") {
		t.Errorf("the text report lacks the run error:\n%s", text)
	}

	// When every Prepare succeeds, the run goes on.
	spec = strings.Replace(spec, `host.name == "web-2"`, "false", 1)
	graphs, rollouts = compileRollouts(t, spec, f)
	run = engine.Run(context.Background(), graphs, engine.Options{
		Apply: true, Dial: f.dial(t), StateDir: t.TempDir(), Rollouts: rollouts, Log: zaptest.NewLogger(t),
	})
	if run.Error != "" || run.Count().Failed != 0 || !f.deployed(t, "web-1") || !f.deployed(t, "web-2") {
		t.Errorf("run with prepared resources failed:\n%s", textOf(run))
	}
}

// A graph compiled with the host's facts prepares its resources after the
// deferred compile; a failure fails that host only.
func TestPrepareDeferred(t *testing.T) {
	prepareMu.Lock()
	defer prepareMu.Unlock()
	f := localFleet(t, "web-1", "web-2")
	spec := `
role "web" {
  hosts = ["*"]
  file "marker" {
    path    = "${host.vars.root}/marker"
    content = "deployed ${host.name}\n"
  }
  test_prepared "shop" {
    fail = host.name == "web-2" && host.facts.user != ""
  }
}
`
	graphs, _ := compileRollouts(t, spec, f)
	if graphs[0].Deferred == nil {
		t.Fatal("the graphs do not wait for facts")
	}
	prepareCalls.Store(0)
	run := engine.Run(context.Background(), graphs, engine.Options{Apply: true, Dial: f.dial(t), StateDir: t.TempDir(), Log: zaptest.NewLogger(t)})
	if run.Error != "" {
		t.Errorf("run error %q", run.Error)
	}
	hosts := hostsByName(run)
	if h := hosts["web-2"]; h.Error != "prepare test_prepared[shop] (web-2): sha256 mismatch" || h.NotStarted {
		t.Errorf("web-2: error %q, not started %v", h.Error, h.NotStarted)
	}
	if h := hosts["web-1"]; h.Failed() || !f.deployed(t, "web-1") {
		t.Errorf("web-1 failed: %s", h.Error)
	}
	if f.deployed(t, "web-2") {
		t.Error("web-2 was applied although its prepare failed")
	}
	if n := prepareCalls.Load(); n != 2 {
		t.Errorf("Prepare called %d times, want 2", n)
	}
}
