package config

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/tendhq/tend/resources"
)

// firewall is a test-only kind with a nested block type, rule, to show
// that nested blocks and dynamic blocks reach a kind.
type firewall struct{ b *resources.Block }

func (f *firewall) Addr() resources.Addr                                { return f.b.Addr }
func (f *firewall) Observe(*resources.Probe)                            {}
func (f *firewall) Diff(*resources.Observed) (*resources.Change, error) { return nil, nil }
func (f *firewall) Apply(context.Context, *resources.Target, *resources.Change) error {
	return nil
}

func init() {
	resources.Register(&resources.Kind{
		Name:       "test_firewall",
		Attributes: []hcl.AttributeSchema{{Name: "zone"}},
		Blocks: []resources.NestedSchema{{
			Type:       "rule",
			LabelNames: []string{"name"},
			Attributes: []hcl.AttributeSchema{{Name: "port", Required: true}, {Name: "proto"}},
		}},
		New: func(b *resources.Block) (resources.Resource, hcl.Diagnostics) {
			kept := *b // the compiler reuses b (Kind.New); Blocks are its own
			return &firewall{b: &kept}, nil
		},
	})
}

// rules prints the nested blocks a firewall got.
func rules(t *testing.T, hg *HostGraph, addr string) []string {
	t.Helper()
	for _, n := range hg.Nodes {
		if n.Addr.String() != addr {
			continue
		}
		f, ok := n.Resource.(*firewall)
		if !ok {
			t.Fatalf("%s was not built", addr)
		}
		var out []string
		for _, nb := range f.b.Blocks {
			s := fmt.Sprintf("%s %v port=%s", nb.Type, nb.Labels, nb.Attrs["port"].Value.GoString())
			if p, ok := nb.Attrs["proto"]; ok {
				s += " proto=" + p.Value.AsString()
				if p.Sensitive {
					s += " (sensitive)"
				}
			}
			out = append(out, s)
		}
		return out
	}
	t.Fatalf("no %s", addr)
	return nil
}

func TestDynamicBlocks(t *testing.T) {
	c := loadString(t, map[string]string{"main.hcl": `
variable "proto" {
  default   = "udp"
  sensitive = true
}
locals {
  ports = { http = 80, https = 443 }
}
role "r" {
  hosts = ["*"]
  test_firewall "fw" {
    zone = "public"
    rule "ssh" {
      port = 22
    }
    dynamic "rule" {
      for_each = local.ports
      labels   = [rule.key]
      content {
        port  = rule.value
        proto = "tcp"
      }
    }
    dynamic "rule" {
      for_each = [53]
      iterator = dns
      labels   = ["dns"]
      content {
        port  = dns.value
        proto = var.proto
      }
    }
  }
  test_firewall "per" {
    for_each = { a = 1000, b = 2000 }
    dynamic "rule" {
      for_each = range(2)
      labels   = ["r${rule.value}"]
      content {
        port = each.value + rule.value
      }
    }
  }
}`})
	hg := compileOK(t, c, testHost(), nil)
	want := []string{
		"rule [ssh] port=cty.NumberIntVal(22)",
		"rule [http] port=cty.NumberIntVal(80) proto=tcp",
		"rule [https] port=cty.NumberIntVal(443) proto=tcp",
		"rule [dns] port=cty.NumberIntVal(53) proto=udp (sensitive)",
	}
	if diff := cmp.Diff(want, rules(t, hg, "test_firewall[fw]")); diff != "" {
		t.Errorf("fw rules (-want +got):\n%s", diff)
	}
	want = []string{"rule [r0] port=cty.NumberIntVal(2000)", "rule [r1] port=cty.NumberIntVal(2001)"}
	if diff := cmp.Diff(want, rules(t, hg, `test_firewall.per["b"]`)); diff != "" {
		t.Errorf("per[b] rules (-want +got):\n%s", diff)
	}
}

func TestDynamicBlockProblems(t *testing.T) {
	c, diags := Load(mapFS(map[string]string{"main.hcl": `
role "r" {
  hosts = ["*"]
  test_firewall "a" {
    rule "x" {
      prot = "tcp"
    }
    dynamic "rules" {
      for_each = [1]
      content {}
    }
    dynamic "rule" {
      for_each = [1]
      labels   = ["y"]
      content {
        port = var.nope
      }
    }
  }
  test_firewall "b" {
    dynamic "rule" {
      for_each = 5
      labels   = ["z"]
      content {
        port = 1
      }
    }
  }
  capture "c" {
    dynamic "rule" {
      for_each = [1]
      content {}
    }
  }
}`}), ".")
	_, ds := c.Compile(testHost(), nil)
	diags = append(diags, ds...)
	want := []string{
		"main.hcl:16: Reference to undeclared variable",
		"main.hcl:22: Invalid dynamic for_each value",
		"main.hcl:30: Unsupported block type",
		"main.hcl:5: Missing required argument",
		"main.hcl:6: Unsupported argument",
		"main.hcl:8: Unsupported block type",
	}
	if diff := cmp.Diff(want, summaries(diags)); diff != "" {
		t.Errorf("diags (-want +got):\n%s\n%s", diff, diagText(c, diags))
	}
}
