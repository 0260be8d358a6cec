package config

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/resources"
)

// capture is a test-only kind that keeps the evaluated block, so that tests
// can look at attribute values. It takes any of the attributes below; an
// attribute "fail" makes New report a diagnostic at its value.
type capture struct{ b *resources.Block }

func (c *capture) Addr() resources.Addr                                { return c.b.Addr }
func (c *capture) Observe(*resources.Probe)                            {}
func (c *capture) Diff(*resources.Observed) (*resources.Change, error) { return nil, nil }
func (c *capture) Apply(context.Context, *resources.Target, *resources.Change) error {
	return nil
}

func init() {
	resources.Register(&resources.Kind{
		Name: "capture",
		Attributes: []hcl.AttributeSchema{
			{Name: "value"}, {Name: "other"}, {Name: "list"}, {Name: "fail"},
		},
		New: func(b *resources.Block) (resources.Resource, hcl.Diagnostics) {
			if a, ok := b.Attrs["fail"]; ok {
				return nil, hcl.Diagnostics{errorAt(a.Range, "Capture failed", "The capture was told to fail.")}
			}
			// A copy: the compiler reuses b and its attributes
			// (Kind.New).
			kept := *b
			kept.Attrs = make(map[string]*resources.Attr, len(b.Attrs))
			for n, a := range b.Attrs {
				c := *a
				kept.Attrs[n] = &c
			}
			return &capture{b: &kept}, nil
		},
	})
}

// testHost is web1, in group web, with a few variables.
func testHost() *inventory.Host {
	return &inventory.Host{
		Name:    "web1",
		Address: "10.0.0.1",
		Groups:  []string{"all", "web"},
		Vars: cty.ObjectVal(map[string]cty.Value{
			"http_port": cty.NumberIntVal(8080),
			"env":       cty.StringVal("prod"),
		}),
	}
}

// testVars are the values "given on the command line" for the fixtures;
// values for undeclared variables are ignored by Compile.
func testVars(*Config) map[string]Value {
	return map[string]Value{
		"given_port": {Value: cty.StringVal("not a number")},
	}
}

// given turns plain values into values given with -var (no range).
func given(vals map[string]cty.Value) map[string]Value {
	if vals == nil {
		return nil
	}
	m := make(map[string]Value, len(vals))
	for k, v := range vals {
		m[k] = Value{Value: v}
	}
	return m
}

// loadString loads specs given as file name -> content; it fails the test
// on any diagnostic.
func loadString(t *testing.T, files map[string]string) *Config {
	t.Helper()
	c, diags := Load(mapFS(files), ".")
	if len(diags) > 0 {
		t.Fatalf("Load: %s", diagText(c, diags))
	}
	return c
}

func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for k, v := range files {
		m[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return m
}

// compileOK compiles c for h and fails the test on any diagnostic.
func compileOK(t *testing.T, c *Config, h *inventory.Host, vars map[string]cty.Value) *HostGraph {
	t.Helper()
	hg, diags := c.Compile(h, given(vars))
	if len(diags) > 0 {
		t.Fatalf("Compile: %s", diagText(c, diags))
	}
	return hg
}

func diagText(c *Config, diags hcl.Diagnostics) string {
	var b strings.Builder
	var files map[string]*hcl.File
	if c != nil {
		files = c.Files()
	}
	_ = hcl.NewDiagnosticTextWriter(&b, files, 100, false).WriteDiagnostics(diags)
	return b.String()
}

// captured returns the block the capture kind got for name.
func captured(t *testing.T, hg *HostGraph, name string) *resources.Block {
	t.Helper()
	for _, n := range hg.Nodes {
		if n.Addr == (resources.Addr{Kind: "capture", Name: name}) {
			c, ok := n.Resource.(*capture)
			if !ok {
				t.Fatalf("capture[%s] was not built (Resource = %T)", name, n.Resource)
			}
			return c.b
		}
	}
	t.Fatalf("no capture[%s] in the graph", name)
	return nil
}

// capturedAt returns the block the capture kind got for the instance whose
// address prints as addr, such as capture.v["a"].
func capturedAt(t *testing.T, hg *HostGraph, addr string) *resources.Block {
	t.Helper()
	for _, n := range hg.Nodes {
		if n.Addr.String() == addr {
			c, ok := n.Resource.(*capture)
			if !ok {
				t.Fatalf("%s was not built (Resource = %T)", addr, n.Resource)
			}
			return c.b
		}
	}
	t.Fatalf("no %s in the graph: %v", addr, addrs(hg))
	return nil
}

// valueAt returns the value of attribute a of the capture instance addr.
func valueAt(t *testing.T, hg *HostGraph, addr, a string) cty.Value {
	t.Helper()
	at, ok := capturedAt(t, hg, addr).Attrs[a]
	if !ok {
		t.Fatalf("%s has no attribute %s", addr, a)
	}
	return at.Value
}

// deps returns the dependencies of every node as strings.
func depsOf(hg *HostGraph) map[string][]string {
	m := map[string][]string{}
	for _, n := range hg.Nodes {
		for _, d := range n.Deps {
			m[n.Addr.String()] = append(m[n.Addr.String()], d.String())
		}
	}
	return m
}

// summaries lists the diagnostics as "file:line: Summary" (or the summary
// alone when there is no subject), sorted.
func summaries(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		s := d.Summary
		if d.Subject != nil {
			s = fmt.Sprintf("%s:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Summary)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// attr returns the value of attribute a of capture[name].
func attr(t *testing.T, hg *HostGraph, name, a string) *resources.Attr {
	t.Helper()
	at, ok := captured(t, hg, name).Attrs[a]
	if !ok {
		t.Fatalf("capture[%s] has no attribute %s", name, a)
	}
	return at
}

func sortStrings(s []string) { slices.Sort(s) }
