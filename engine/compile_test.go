package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/engine"
	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/resources"
)

// varsProbe is a test kind that keeps the value it was given.
type varsProbe struct {
	addr  resources.Addr
	value string
}

func init() {
	resources.Register(&resources.Kind{
		Name:       "test_vars",
		Attributes: []hcl.AttributeSchema{{Name: "value", Required: true}},
		New: func(b *resources.Block) (resources.Resource, hcl.Diagnostics) {
			return &varsProbe{addr: b.Addr, value: b.Attrs["value"].Value.AsString()}, nil
		},
	})
}

func (r *varsProbe) Addr() resources.Addr     { return r.addr }
func (r *varsProbe) Observe(*resources.Probe) {}
func (r *varsProbe) Diff(*resources.Observed) (*resources.Change, error) {
	return &resources.Change{Addr: r.addr}, nil
}
func (r *varsProbe) Apply(context.Context, *resources.Target, *resources.Change) error {
	return nil
}

// Each host's variable files come between the defaults and the command
// line's values, in their order; hosts sharing a file share its problems.
func TestCompileHostVarFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	low := write("low.hcl", "a = \"low\"\nb = \"low\"\nc = \"low\"\n")
	high := write("high.hcl", "b = \"high\"\nc = \"high\"\n")
	cfg, diags := config.Load(fstest.MapFS{"main.hcl": {Data: []byte(`
variable "a" {
  default = "default"
}
variable "b" {
  default = "default"
}
variable "c" {
  default = "default"
}
variable "d" {
  default = "default"
}
role "r" {
  hosts = ["*"]
  test_vars "v" {
    value = "${var.a} ${var.b} ${var.c} ${var.d}"
  }
}`)}}, ".")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	hosts := []*inventory.Host{
		{Name: "h1", VarFiles: []string{low, high}, Vars: cty.EmptyObjectVal},
		{Name: "h2", VarFiles: []string{low}, Vars: cty.EmptyObjectVal},
		{Name: "h3", Vars: cty.EmptyObjectVal},
	}
	cli := map[string]config.Value{"c": {Value: cty.StringVal("cli")}}
	graphs, diags := engine.Compile(cfg, hosts, cli)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	want := map[string]string{
		"h1": "low high cli default",
		"h2": "low low cli default",
		"h3": "default default cli default",
	}
	for _, g := range graphs {
		if got := g.Nodes[0].Resource.(*varsProbe).value; got != want[g.Host.Name] {
			t.Errorf("%s: %q, want %q", g.Host.Name, got, want[g.Host.Name])
		}
	}
	if len(graphs) != 3 {
		t.Errorf("%d graphs", len(graphs))
	}

	// A shared file with an undeclared name: one warning, at the value.
	bad := write("bad.hcl", "a = \"x\"\nzz = 1\n")
	hosts[0].VarFiles = []string{bad}
	hosts[1].VarFiles = []string{bad}
	_, diags = engine.Compile(cfg, hosts, nil)
	if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || diags[0].Subject == nil ||
		diags[0].Subject.Filename != bad || diags[0].Subject.Start.Line != 2 || !strings.Contains(diags[0].Detail, `"zz"`) {
		t.Errorf("diags = %v", diags)
	}
	// A missing file is an error, reported once.
	hosts[0].VarFiles = []string{filepath.Join(dir, "nope.hcl")}
	hosts[1].VarFiles = hosts[0].VarFiles
	_, diags = engine.Compile(cfg, hosts, nil)
	if len(diags) != 1 || diags[0].Summary != "Cannot read variable file" {
		t.Errorf("diags = %v", diags)
	}
}
