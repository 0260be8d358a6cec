package main

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/engine"
	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/inventory/local"
)

// The harness itself runs only with make bench; these tests check its pure
// parts quickly: the workload's mix, that the generated tend spec compiles to
// exactly the expected files, and the parsing of the tools' reports.

func TestWorkloadMix(t *testing.T) {
	for _, c := range []struct{ m, dirs, templates, copies int }{
		{10, 2, 5, 3},
		{50, 12, 25, 13},
		{100, 25, 50, 25},
	} {
		w := newWorkload(c.m, "u")
		if len(w.dirs) != c.dirs || len(w.templates) != c.templates || len(w.copies) != c.copies {
			t.Errorf("M=%d: %d dirs, %d templates, %d copies; want %d, %d, %d",
				c.m, len(w.dirs), len(w.templates), len(w.copies), c.dirs, c.templates, c.copies)
		}
		if w.dirs[0] != "" {
			t.Errorf("M=%d: the first directory is %q, want the root", c.m, w.dirs[0])
		}
		if got := len(w.expected(&host{name: "h000"}, 0)); got != c.m {
			t.Errorf("M=%d: the expected tree has %d paths", c.m, got)
		}
	}
}

// TestTendSpecConverges converges the generated spec for two hosts with
// the local transport and checks the trees with verify, the check the
// harness makes after every converge: the spec does exactly the work the
// harness expects, and the Ansible side names the same paths and renders
// its templates the same way.
func TestTendSpecConverges(t *testing.T) {
	dir := t.TempDir()
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	w := newWorkload(10, me.Username)
	f := &fleet{user: me.Username, keyFile: "/k", knownHosts: "/kh"}
	hosts := []*host{
		{name: "h000", port: 2200, root: filepath.Join(dir, "h000"), appPort: 8000},
		{name: "h001", port: 2201, root: filepath.Join(dir, "h001"), appPort: 8001},
	}
	spec, inv, err := w.writeTend(filepath.Join(dir, "tend"), f, hosts)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(inv); err != nil || !strings.Contains(string(b), "port    = 2201") {
		t.Fatalf("inventory: %v\n%s", err, b)
	}
	cfg, diags := config.Load(os.DirFS(spec), ".")
	if diags.HasErrors() {
		t.Fatalf("load: %v", diags)
	}
	var ih []*inventory.Host
	for _, h := range hosts {
		ih = append(ih, &inventory.Host{Name: h.name, Address: "127.0.0.1", Vars: cty.ObjectVal(map[string]cty.Value{
			"root": cty.StringVal(h.root), "app_port": cty.NumberIntVal(int64(h.appPort)),
		})})
	}
	graphs, diags := engine.Compile(cfg, ih, nil)
	if diags.HasErrors() {
		t.Fatalf("compile: %v", diags)
	}
	r := engine.Run(context.Background(), graphs, engine.Options{
		Apply:    true,
		StateDir: filepath.Join(dir, "state"),
		Dial: func(_ context.Context, h *inventory.Host) (inventory.Transport, error) {
			return local.New(local.Options{Name: h.Name}), nil
		},
	})
	if c := r.Count(); c.Failed > 0 || c.Create != 20 {
		t.Fatalf("converge: %+v", c)
	}
	uid, _ := strconv.Atoi(me.Uid)
	for _, h := range hosts {
		if err := w.verify(h, uid); err != nil {
			t.Error(err)
		}
	}
	// A hand edit is a difference verify reports.
	if err := os.WriteFile(hosts[0].root+w.driftFile(), []byte(driftContent), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := w.verify(hosts[0], uid); err == nil || !strings.Contains(err.Error(), w.driftFile()) {
		t.Errorf("verify after a hand edit: %v", err)
	}

	if err := w.writeAnsible(filepath.Join(dir, "ansible"), f, hosts); err != nil {
		t.Fatal(err)
	}
	pb, _ := os.ReadFile(filepath.Join(dir, "ansible", "site-tuned.yml"))
	for _, tf := range w.templates {
		if !strings.Contains(string(pb), tf.rel) {
			t.Errorf("the playbook lacks %s", tf.rel)
		}
	}
	if !strings.Contains(string(pb), "gather_facts: false") {
		t.Errorf("the tuned playbook gathers facts:\n%s", pb)
	}
	j2, _ := os.ReadFile(filepath.Join(dir, "ansible", "templates", "t00.j2"))
	if got := strings.ReplaceAll(strings.ReplaceAll(string(j2), "{{ inventory_hostname }}", "h000"), "{{ app_port }}", "8000"); got != render(0, hosts[0]) {
		t.Errorf("the Jinja template does not render like the HCL one:\n%s\nwant\n%s", got, render(0, hosts[0]))
	}
}

func TestAnsibleRecap(t *testing.T) {
	out := `PLAY RECAP *********
h000                       : ok=3    changed=1    unreachable=0    failed=0    skipped=0
h001                       : ok=3    changed=1    unreachable=0    failed=0    skipped=0
-edited by hand
-edited by hand
`
	s := &size{n: 2, w: newWorkload(10, "u")}
	a := &ansibleTool{tuned: true, s: s}
	if err := a.check(scPlan, &outcome{stdout: out}); err != nil {
		t.Errorf("a good plan is refused: %v", err)
	}
	if err := a.check(scNoop, &outcome{stdout: out}); err == nil {
		t.Error("a no-op with changes is accepted")
	}
	if err := a.check(scPlan, &outcome{stdout: strings.Replace(out, "failed=0", "failed=1", 1)}); err == nil {
		t.Error("a failed host is accepted")
	}
}

func TestTendCheck(t *testing.T) {
	s := &size{n: 1, m: 10}
	tt := &tendTool{s: s}
	good := `{"summary":{"hosts":1,"create":0,"update":1,"delete":0,"failed":0},
	  "hosts":[{"name":"h000","resources":[{"content":{"diff":"--- a\n+++ b\n-edited by hand\n+x\n"}}]}]}`
	if err := tt.check(scPlan, &outcome{stdout: good}); err != nil {
		t.Errorf("a good plan is refused: %v", err)
	}
	if err := tt.check(scNoop, &outcome{stdout: good}); err == nil {
		t.Error("a no-op with an update is accepted")
	}
	if err := tt.check(scConverge, &outcome{stdout: good, exit: 1}); err == nil {
		t.Error("a failed run is accepted")
	}
}

func TestMedianAndTargets(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	m := median([]Sample{{Wall: ms(30)}, {Wall: ms(10)}, {Wall: ms(20)}})
	if m.Wall != ms(20) {
		t.Errorf("median of 10, 20, 30 ms = %s", m.Wall)
	}
	rs := []*Result{
		{N: 10, M: 50, Tool: toolTend, Scenario: scNoop, Samples: []Sample{{Wall: ms(100), ConnsPerHost: 1, MaxConns: 1, MaxSessions: 1}}},
		{N: 10, M: 50, Tool: toolAnsibleTuned, Scenario: scNoop, Samples: []Sample{{Wall: ms(4000)}}},
	}
	for _, r := range rs {
		r.Median = median(r.Samples)
	}
	computeRatios(rs)
	if rs[1].Ratio != 40 {
		t.Errorf("ratio = %v, want 40", rs[1].Ratio)
	}
	ts := targets(rs)
	if ts[0].Met || !strings.Contains(ts[0].Detail, "40.0x") {
		t.Errorf("a 40x no-op is reported as %+v", ts[0])
	}
	if !ts[3].Met {
		t.Errorf("one connection per host is reported as %+v", ts[3])
	}
}
