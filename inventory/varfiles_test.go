package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// abs returns the absolute forms of paths, relative to the package
// directory the tests run in.
func abs(t *testing.T, paths ...string) []string {
	t.Helper()
	var out []string
	for _, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// TestVarFiles checks the order of Host.VarFiles: defaults, then groups by
// precedence, then the host, each file once at its highest position.
func TestVarFiles(t *testing.T) {
	inv := mustLoad(t, "testdata/varfiles", nil)
	v := func(names ...string) []string {
		for i, n := range names {
			names[i] = "testdata/varfiles/vars/" + n + ".hcl"
		}
		return abs(t, names...)
	}
	for host, want := range map[string][]string{
		// common: defaults and h1 -> h1's; shared: defaults and parent -> parent's.
		"h1": v("parent", "shared", "child", "h1", "common"),
		"h2": v("common", "shared"),
		"h3": v("common", "parent", "shared"),
	} {
		if diff := cmp.Diff(want, inv.Host(host).VarFiles); diff != "" {
			t.Errorf("%s: VarFiles (-want +got):\n%s", host, diff)
		}
	}

	// No vars_files anywhere: nil.
	inv = mustLoad(t, "testdata/precedence.hcl", nil)
	for _, h := range inv.Hosts {
		if h.VarFiles != nil {
			t.Errorf("%s: VarFiles %q, want nil", h.Name, h.VarFiles)
		}
	}
}

// TestVarFilesOS resolves vars_files on the local file system: relative to
// the file declaring them (not the working directory), up and out of the
// inventory's directory, absolute, and through symbolic links, which are
// kept as written.
func TestVarFilesOS(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	shared := write("shared/site.hcl", `a = 1`)
	elsewhere := write("elsewhere/abs.hcl", `b = 2`)
	write("inv/a.hcl", `defaults { vars_files = ["../shared/site.hcl"] }`)
	// Not *.hcl: a vars file in the inventory directory would be read as
	// part of the inventory.
	if err := os.Symlink("../shared/site.hcl", filepath.Join(dir, "inv", "site.vars")); err != nil {
		t.Fatal(err)
	}
	write("inv/b.hcl", `host "h" { vars_files = ["site.vars", "`+elsewhere+`"] }`)

	inv, diags := Load(filepath.Join(dir, "inv"))
	if len(diags) > 0 {
		t.Fatalf("Load: %s", diags.Error())
	}
	want := []string{shared, filepath.Join(dir, "inv", "site.vars"), elsewhere}
	if diff := cmp.Diff(want, inv.Host("h").VarFiles); diff != "" {
		t.Errorf("VarFiles (-want +got):\n%s", diff)
	}

	// A dangling link is a missing file, reported at the element.
	if err := os.Remove(shared); err != nil {
		t.Fatal(err)
	}
	_, diags = Load(filepath.Join(dir, "inv"))
	var got []string
	for _, d := range diags {
		got = append(got, filepath.Base(d.Subject.Filename)+": "+d.Summary)
	}
	if diff := cmp.Diff([]string{"a.hcl: Missing vars file", "b.hcl: Missing vars file"}, got); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s\n%s", diff, diags.Error())
	}
}

// TestVarFilesFS resolves vars_files in a file system given to LoadFS:
// paths stay in it, and none may leave it.
func TestVarFilesFS(t *testing.T) {
	fsys := fstest.MapFS{
		"repo/inventory/main.hcl": {Data: []byte(`
defaults {
  vars_files = ["vars/common.hcl", "../shared/all.hcl"]
}
host "h" {}
`)},
		"repo/inventory/vars/common.hcl": {Data: []byte(`a = 1`)},
		"repo/shared/all.hcl":            {Data: []byte(`b = 2`)},
		"bad/main.hcl": {Data: []byte(`host "h" {
  vars_files = ["/etc/tend/vars.hcl", "../../outside.hcl", "vars/none.hcl"]
}
`)},
	}
	inv, diags := LoadFS(fsys, "repo/inventory")
	if len(diags) > 0 {
		t.Fatalf("LoadFS: %s", diags.Error())
	}
	want := []string{"repo/inventory/vars/common.hcl", "repo/shared/all.hcl"}
	if diff := cmp.Diff(want, inv.Host("h").VarFiles); diff != "" {
		t.Errorf("VarFiles (-want +got):\n%s", diff)
	}

	_, diags = LoadFS(fsys, "bad")
	type at struct {
		Line, Column int
		Summary      string
	}
	wantDiags := []at{
		{2, 17, "Invalid vars file"},
		{2, 39, "Invalid vars file"},
		{2, 60, "Missing vars file"},
	}
	var gotDiags []at
	for _, d := range diags {
		gotDiags = append(gotDiags, at{d.Subject.Start.Line, d.Subject.Start.Column, d.Summary})
	}
	if diff := cmp.Diff(wantDiags, gotDiags); diff != "" {
		t.Fatalf("diagnostics (-want +got):\n%s", diff)
	}
	for i, want := range []string{
		"must be relative to the inventory file",
		"outside the repository checkout",
		"bad/vars/none.hcl does not exist",
	} {
		if !strings.Contains(diags[i].Detail, want) {
			t.Errorf("detail %q, want it to contain %q", diags[i].Detail, want)
		}
	}
}

// TestEnvironments loads the two environments of the example repository
// (testdata/environments at the top of the module) and checks which vars
// files each host reads, and the app_version and log_level those files
// give it when read in that order, later files winning.
func TestEnvironments(t *testing.T) {
	const root = "../testdata/environments/environments"
	for _, c := range []struct {
		env      string
		host     string
		files    []string
		version  string
		logLevel string
	}{
		{"staging", "stg-app1", []string{"staging/vars/staging.hcl"}, "1.5.0", "debug"},
		{"staging", "stg-app2", []string{"staging/vars/staging.hcl"}, "1.5.0", "debug"},
		{"production", "prod-app1", []string{"production/vars/production.hcl"}, "1.4.2", "warn"},
		{"production", "prod-app2", []string{"production/vars/production.hcl"}, "1.4.2", "warn"},
		{"production", "prod-canary1",
			[]string{"production/vars/production.hcl", "production/vars/canary.hcl"}, "1.5.0", "warn"},
	} {
		t.Run(c.host, func(t *testing.T) {
			inv := mustLoad(t, filepath.Join(root, c.env, "inventory.hcl"), nil)
			h := inv.Host(c.host)
			if h == nil {
				t.Fatalf("no host %s in %s", c.host, c.env)
			}
			for i, f := range c.files {
				c.files[i] = filepath.Join(root, f)
			}
			if diff := cmp.Diff(abs(t, c.files...), h.VarFiles); diff != "" {
				t.Errorf("VarFiles (-want +got):\n%s", diff)
			}
			if !h.InGroup("app") {
				t.Errorf("%s is not in group app, which the spec's role selects", h.Name)
			}
			if root := h.Vars.GetAttr("root").AsString(); !strings.HasPrefix(root, "/tmp/tend-environments/"+c.env+"/") {
				t.Errorf("root %q, want it under /tmp/tend-environments/%s", root, c.env)
			}
			vals := map[string]cty.Value{}
			for _, f := range h.VarFiles {
				for k, v := range readVarFile(t, f) {
					vals[k] = v
				}
			}
			want := map[string]cty.Value{
				"app_version": cty.StringVal(c.version),
				"log_level":   cty.StringVal(c.logLevel),
			}
			if diff := cmp.Diff(want, vals, ctyAsGo); diff != "" {
				t.Errorf("variable values (-want +got):\n%s", diff)
			}
		})
	}
}

// readVarFile reads a file of constant HCL attributes, as --var-file does.
func readVarFile(t *testing.T, path string) map[string]cty.Value {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCLFile(path)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", path, diags.Error())
	}
	attrs, diags := f.Body.JustAttributes()
	if diags.HasErrors() {
		t.Fatalf("read %s: %s", path, diags.Error())
	}
	out := map[string]cty.Value{}
	for name, a := range attrs {
		v, diags := a.Expr.Value(&hcl.EvalContext{})
		if diags.HasErrors() {
			t.Fatalf("value of %s in %s: %s", name, path, diags.Error())
		}
		out[name] = v
	}
	return out
}
