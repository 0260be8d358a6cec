package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/zclconf/go-cty/cty"
	"go.uber.org/zap/zaptest"

	"github.com/tendhq/tend/engine"
	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/inventory/local"
)

func compile(t *testing.T, spec string, root string) []*config.HostGraph {
	t.Helper()
	fsys := fstest.MapFS{"main.hcl": {Data: []byte(spec)}}
	cfg, diags := config.Load(fsys, ".")
	if diags.HasErrors() {
		t.Fatalf("load: %v", diags)
	}
	h := &inventory.Host{
		Name:    "local",
		Address: "localhost",
		Vars:    cty.ObjectVal(map[string]cty.Value{"root": cty.StringVal(root)}),
	}
	graphs, diags := engine.Compile(cfg, []*inventory.Host{h}, nil)
	if diags.HasErrors() {
		t.Fatalf("compile: %v", diags)
	}
	return graphs
}

func localDial(t *testing.T) engine.DialFunc {
	return func(ctx context.Context, h *inventory.Host) (inventory.Transport, error) {
		return local.New(local.Options{Name: h.Name}), nil
	}
}

// A resource that fails skips what depends on it, and only that: an
// independent resource still converges.
func TestFailedResourceSkipsDependents(t *testing.T) {
	root := t.TempDir()
	// A regular file where a directory's parent should be: mkdir fails.
	if err := os.WriteFile(filepath.Join(root, "blocker"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	graphs := compile(t, `
role "r" {
  hosts = ["*"]
  directory "d" {
    path = "${host.vars.root}/blocker/sub"
  }
  file "inside" {
    path       = "${host.vars.root}/blocker/sub/f"
    content    = "never\n"
    depends_on = [directory["d"]]
  }
  symlink "link" {
    path   = "${host.vars.root}/link"
    target = file["inside"].path
  }
  file "independent" {
    path    = "${host.vars.root}/ok"
    content = "ok\n"
  }
}
`, root)
	run := engine.Run(context.Background(), graphs, engine.Options{Apply: true, Dial: localDial(t), Log: zaptest.NewLogger(t), StateDir: t.TempDir()})
	h := run.Hosts[0]
	got := map[string]*report.Resource{}
	for _, r := range h.Resources {
		got[r.Addr.String()] = r
	}
	if r := got["directory[d]"]; r.Status != report.StatusFailed || !strings.Contains(r.Error, "blocker") {
		t.Errorf("directory[d] = %+v, want failed", r)
	}
	for _, a := range []string{"file[inside]", "symlink[link]"} {
		if r := got[a]; r.Status != report.StatusSkipped {
			t.Errorf("%s = %+v, want skipped", a, r)
		}
	}
	if r := got["file[inside]"]; r.SkippedBecause != "directory[d]" {
		t.Errorf("file[inside] skipped because %q, want directory[d]", r.SkippedBecause)
	}
	if r := got["file[independent]"]; r.Status != report.StatusApplied {
		t.Errorf("file[independent] = %+v, want applied", r)
	}
	if b, err := os.ReadFile(filepath.Join(root, "ok")); err != nil || string(b) != "ok\n" {
		t.Errorf("independent file = %q, %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(root, "link")); !os.IsNotExist(err) {
		t.Errorf("a skipped symlink was made: %v", err)
	}
	if !h.Failed() {
		t.Error("the host is not reported as failed")
	}
	var text strings.Builder
	if err := report.Text(&text, run, report.Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "skipped because directory[d] failed") {
		t.Errorf("the report does not say why file[inside] was skipped:\n%s", text.String())
	}
}

// An unreachable host is a host error; the others still run.
func TestUnreachableHostDoesNotStopOthers(t *testing.T) {
	root := t.TempDir()
	spec := `
role "r" {
  hosts = ["*"]
  file "f" {
    path    = "${host.vars.root}/${host.name}"
    content = "x"
  }
}
`
	fsys := fstest.MapFS{"main.hcl": {Data: []byte(spec)}}
	cfg, diags := config.Load(fsys, ".")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	vars := cty.ObjectVal(map[string]cty.Value{"root": cty.StringVal(root)})
	hosts := []*inventory.Host{{Name: "a", Vars: vars}, {Name: "b", Vars: vars}, {Name: "c", Vars: vars}}
	graphs, diags := engine.Compile(cfg, hosts, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	dial := func(ctx context.Context, h *inventory.Host) (inventory.Transport, error) {
		if h.Name == "b" {
			return nil, os.ErrDeadlineExceeded
		}
		return local.New(local.Options{Name: h.Name}), nil
	}
	run := engine.Run(context.Background(), graphs, engine.Options{Apply: true, Dial: dial, Parallel: 1, StateDir: t.TempDir()})
	for _, h := range run.Hosts {
		failed := h.Name == "b"
		if h.Failed() != failed || (failed && !strings.HasPrefix(h.Error, "unreachable: ")) {
			t.Errorf("host %s: failed=%v error=%q", h.Name, h.Failed(), h.Error)
		}
		_, err := os.Stat(filepath.Join(root, h.Name))
		if failed != os.IsNotExist(err) {
			t.Errorf("host %s: file exists = %v", h.Name, err == nil)
		}
	}
	if c := run.Count(); c.Failed != 1 || c.Hosts != 3 {
		t.Errorf("counts = %+v", c)
	}
}

// Files and symlinks whose parents are missing and unmanaged get them
// created, also when a directory resource creates a shared parent at the
// same moment.
func TestMissingParentsAreCreated(t *testing.T) {
	for i := 0; i < 5; i++ {
		root := filepath.Join(t.TempDir(), "missing")
		graphs := compile(t, `
role "r" {
  hosts = ["*"]
  directory "conf" {
    path = "${host.vars.root}/conf/d"
  }
  file "plain" {
    path    = "${host.vars.root}/plain.txt"
    content = "plain\n"
  }
  file "deep" {
    path    = "${host.vars.root}/a/b/c/deep.txt"
    content = "deep\n"
  }
  symlink "link" {
    path   = "${host.vars.root}/links/l"
    target = "/nowhere"
  }
}
`, root)
		run := engine.Run(context.Background(), graphs, engine.Options{Apply: true, Dial: localDial(t), StateDir: t.TempDir()})
		if h := run.Hosts[0]; h.Failed() {
			var b strings.Builder
			_ = report.Text(&b, run, report.Options{})
			t.Fatalf("apply %d failed:\n%s", i, b.String())
		}
		for p, want := range map[string]string{"plain.txt": "plain\n", "a/b/c/deep.txt": "deep\n"} {
			if b, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(b) != want {
				t.Errorf("%s = %q, %v", p, b, err)
			}
		}
		if target, err := os.Readlink(filepath.Join(root, "links/l")); err != nil || target != "/nowhere" {
			t.Errorf("links/l -> %q, %v", target, err)
		}
	}
}
