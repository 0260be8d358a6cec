package engine

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"

	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/inventory"
)

// Compile builds the resource graph of every host, before any host is
// contacted. Hosts that no role selects get no graph. A host's variable
// values are, by precedence: the variable's default < the host's variable
// files (inventory.Host.VarFiles, in order, each read once) < vars, the
// command line's values (--var-file, then --var). The diagnostics of all
// hosts are merged: a problem found for several hosts is listed once. When
// the diagnostics hold an error, the run must not start.
func Compile(cfg *config.Config, hosts []*inventory.Host, vars map[string]config.Value) ([]*config.HostGraph, hcl.Diagnostics) {
	// The hosts are compiled on every CPU; the graphs and diagnostics are
	// merged in host order, as a single loop would.
	type result struct {
		g     *config.HostGraph
		diags hcl.Diagnostics
	}
	res := make([]result, len(hosts))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(hosts)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(hosts) {
					return
				}
				res[i].g, res[i].diags = compileHost(cfg, hosts[i], vars)
			}
		})
	}
	wg.Wait()

	var graphs []*config.HostGraph
	var diags hcl.Diagnostics
	seen := map[string]bool{}
	for _, r := range res {
		for _, d := range r.diags {
			k := diagKey(d)
			if seen[k] {
				continue
			}
			seen[k] = true
			diags = append(diags, d)
		}
		if g := r.g; g != nil && (len(g.Nodes) > 0 || g.Deferred != nil) {
			graphs = append(graphs, g)
		}
	}
	return graphs, diags
}

// compileHost compiles one host's graph with its variable files' values
// under vars; the diagnostics of the files come first.
func compileHost(cfg *config.Config, h *inventory.Host, vars map[string]config.Value) (*config.HostGraph, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	given := vars
	if len(h.VarFiles) > 0 {
		given = map[string]config.Value{}
		for _, f := range h.VarFiles {
			// The Config caches each file, so hosts sharing one read it
			// once; its problems are merged like the others.
			vals, ds := cfg.LoadVarFile(f)
			diags = append(diags, ds...)
			for k, v := range vals {
				given[k] = v
			}
		}
		for k, v := range vars {
			given[k] = v
		}
	}
	g, ds := cfg.Compile(h, given)
	return g, append(diags, ds...)
}

func diagKey(d *hcl.Diagnostic) string {
	k := fmt.Sprintf("%d|%s|%s", d.Severity, d.Summary, d.Detail)
	if d.Subject != nil {
		k += "|" + d.Subject.String()
	}
	return k
}
