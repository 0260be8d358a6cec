package engine

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/inventory"
)

// Compile builds the resource graph of every host, before any host is
// contacted. Hosts that no role selects get no graph. The diagnostics of all
// hosts are merged: a problem found for several hosts is listed once. When
// the diagnostics hold an error, the run must not start.
func Compile(cfg *config.Config, hosts []*inventory.Host, vars map[string]cty.Value) ([]*config.HostGraph, hcl.Diagnostics) {
	var graphs []*config.HostGraph
	var diags hcl.Diagnostics
	seen := map[string]bool{}
	for _, h := range hosts {
		g, ds := cfg.Compile(h, vars)
		for _, d := range ds {
			k := diagKey(d)
			if seen[k] {
				continue
			}
			seen[k] = true
			diags = append(diags, d)
		}
		if g != nil && len(g.Nodes) > 0 {
			graphs = append(graphs, g)
		}
	}
	return graphs, diags
}

func diagKey(d *hcl.Diagnostic) string {
	k := fmt.Sprintf("%d|%s|%s", d.Severity, d.Summary, d.Detail)
	if d.Subject != nil {
		k += "|" + d.Subject.String()
	}
	return k
}
