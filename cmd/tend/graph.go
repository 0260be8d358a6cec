package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/inventory"
)

func newGraph(g *globalFlags) *cobra.Command {
	f := &runFlags{parallel: 1}
	var host string
	cmd := &cobra.Command{
		Use:   "graph [SPEC_DIR (default .)]",
		Short: "Print the resource graph of one host in Graphviz DOT (contacts no host)",
		Long: `Compile the specs for one host, as tend validate does, and print its
resource graph in the Graphviz DOT language. Edges run in apply order, from a
dependency to what depends on it. Render it with:

  tend graph -i inventory.hcl --host web-1 | dot -Tsvg > web-1.svg

--host picks the host of the inventory; it may be left out when the inventory
has one host. Without an inventory the graph is this machine's, as with
--local, and --host names that placeholder host instead.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGraph(cmd, f, host, specDir(args))
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.inventory, "inventory", "i", "", "inventory file or directory (HCL)")
	fl.StringVar(&host, "host", "", "the host to draw (default: the inventory's only host, or this machine without an inventory)")
	fl.BoolVar(&f.local, "local", false, "draw this machine's graph (the default without an inventory)")
	fl.StringArrayVar(&f.vars, "var", nil, "set a variable: NAME=VALUE (repeatable)")
	fl.StringArrayVar(&f.varFiles, "var-file", nil, "read variables from an HCL file (repeatable)")
	return cmd
}

// runGraph loads and compiles the specs for one host and prints its graph.
// Problems in the specs or the inventory are printed as diagnostics (exit
// 1) and no graph is printed.
func runGraph(cmd *cobra.Command, f *runFlags, host, dir string) error {
	// The graph never contacts a host: with an inventory --local means
	// nothing, and without one the graph is always this machine's.
	f.local = f.inventory == ""
	l, err := f.load(dir, false)
	if err != nil {
		return err
	}
	if len(l.hosts) > 0 {
		h, err := pickHost(l.hosts, host, f.inventory != "")
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		l.hosts = []*inventory.Host{h}
	}
	// Without hosts (the inventory did not load) compile validates the
	// specs, so every problem is listed at once.
	graphs := l.compile()
	l.printDiags(cmd.ErrOrStderr())
	if l.diags.HasErrors() {
		return &exitError{code: 1}
	}
	if len(graphs) != 1 {
		return &exitError{code: 1, err: fmt.Errorf("graph: compiled %d hosts, want 1", len(graphs))}
	}
	if err := report.DOT(cmd.OutOrStdout(), dotGraph(graphs[0])); err != nil {
		return &exitError{code: 1, err: err}
	}
	return nil
}

// pickHost returns the host named name, or the only host when name is "".
// Without an inventory hosts is the placeholder for this machine, and name
// renames it.
func pickHost(hosts []*inventory.Host, name string, fromInventory bool) (*inventory.Host, error) {
	if !fromInventory {
		h := hosts[0]
		if name != "" {
			h.Name = name
		}
		return h, nil
	}
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
		if name != "" && h.Name == name {
			return h, nil
		}
	}
	switch {
	case name != "":
		return nil, fmt.Errorf("graph: no host named %q in the inventory; its hosts are %s", name, strings.Join(names, ", "))
	case len(hosts) > 1:
		return nil, fmt.Errorf("graph: the inventory has %d hosts (%s): pick one with --host", len(hosts), strings.Join(names, ", "))
	}
	return hosts[0], nil
}

// dotGraph converts a host's compiled graph for drawing. Nodes are the
// resources, grouped by module; every dependency is an edge from the
// dependency to its dependent (apply order), styled by why it exists:
// depends_on, a reference in an attribute, or a path inside a directory.
func dotGraph(hg *config.HostGraph) *report.DotGraph {
	dg := &report.DotGraph{Name: hg.Host.Name}
	index := map[string]int{}
	for _, n := range hg.Nodes {
		id := n.Addr.String()
		index[id] = len(dg.Nodes)
		dg.Nodes = append(dg.Nodes, report.DotNode{ID: id, Label: id, Kind: n.Addr.Kind, Group: n.Addr.Module})
	}
	for _, n := range hg.Nodes {
		for _, e := range n.Edges {
			d := e.To
			i, ok := index[d.String()]
			if !ok {
				// Compile relates only resources of the graph; should a
				// dependency be missing, it is drawn rather than dropped.
				i = len(dg.Nodes)
				index[d.String()] = i
				dg.Nodes = append(dg.Nodes, report.DotNode{ID: d.String(), Kind: d.Kind, Group: d.Module})
			}
			dg.Nodes[i].Edges = append(dg.Nodes[i].Edges, report.DotEdge{To: n.Addr.String(), Style: edgeStyle(e.Kind)})
		}
	}
	return dg
}

// edgeStyle draws each kind of dependency its own way.
func edgeStyle(k config.EdgeKind) report.EdgeStyle {
	switch k {
	case config.EdgeReference:
		return report.EdgeReference
	case config.EdgePath:
		return report.EdgePath
	case config.EdgeNotify:
		return report.EdgeNotify
	}
	return report.EdgeDependsOn
}
