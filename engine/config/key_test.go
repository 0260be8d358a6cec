package config

import (
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/resources"
)

// TestNodeKeyIsAddrString checks that Node.Key, kept from compilation, is
// Addr.String() for plain, for_each and count instances, and for a node
// made elsewhere.
func TestNodeKeyIsAddrString(t *testing.T) {
	c := loadString(t, map[string]string{"main.hcl": `
role "web" {
  hosts = ["*"]
  file "plain" {
    path    = "/etc/plain"
    content = "x"
  }
  file "each" {
    for_each = toset(["a", "b"])
    path     = "/etc/each-${each.key}"
    content  = each.key
  }
  directory "n" {
    count = 2
    path  = "/srv/n${count.index}"
  }
}
`})
	hg, diags := c.Compile(&inventory.Host{Name: "h", Vars: cty.EmptyObjectVal}, nil)
	if diags.HasErrors() {
		t.Fatalf("compile: %v", diags)
	}
	if len(hg.Nodes) != 5 {
		t.Fatalf("%d nodes, want 5", len(hg.Nodes))
	}
	for _, n := range hg.Nodes {
		if n.Key() != n.Addr.String() || !hg.Graph.Has(n.Key()) {
			t.Errorf("Key() = %q, Addr.String() = %q", n.Key(), n.Addr.String())
		}
	}
	n := &Node{Addr: resources.Addr{Kind: "file", Name: "x", Key: `"k"`}}
	if n.Key() != n.Addr.String() {
		t.Errorf("a node made elsewhere: Key() = %q, want %q", n.Key(), n.Addr.String())
	}
}
