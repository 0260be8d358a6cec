package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
)

// DotGraph is a graph of resources to draw with Graphviz: the nodes of one
// host, each with the edges that leave it. It is a small model of its own,
// so that report does not depend on how the graph was compiled.
type DotGraph struct {
	// Name is the graph's title, e.g. the host name.
	Name  string
	Nodes []DotNode
}

// DotNode is one resource of a DotGraph.
type DotNode struct {
	// ID identifies the node among the graph's nodes; edges refer to it.
	// It may hold any text (an address such as file.vhost["shop"]).
	ID string
	// Label is what the node shows; the ID when empty.
	Label string
	// Kind (file, directory, package, ...) chooses the node's shape.
	Kind string
	// Group, e.g. a module path, puts the node in a labelled box with the
	// other nodes of the group; "" is the top level.
	Group string
	// Edges leave this node.
	Edges []DotEdge
}

// DotEdge is an edge from the DotNode that holds it to the node To.
type DotEdge struct {
	To    string
	Style EdgeStyle
}

// EdgeStyle is why an edge exists; it chooses how the edge is drawn.
type EdgeStyle int

// The edge styles.
const (
	// EdgeDependsOn is an explicit depends_on: a solid black line.
	EdgeDependsOn EdgeStyle = iota
	// EdgeReference is a dependency through a reference in an attribute
	// (path = directory["etc"].path): a solid grey line.
	EdgeReference
	// EdgePath relates a path to the directory it is inside: a dotted line
	// labelled "inside".
	EdgePath
	// EdgeNotify is a notification (restart on change): a dashed, colored
	// line labelled "notify".
	EdgeNotify
)

// String returns the style's name as the DOT output's comments use it.
func (s EdgeStyle) String() string {
	switch s {
	case EdgeDependsOn:
		return "depends_on"
	case EdgeReference:
		return "reference"
	case EdgePath:
		return "path"
	case EdgeNotify:
		return "notify"
	}
	return fmt.Sprintf("EdgeStyle(%d)", int(s))
}

// attrs are the DOT attributes of an edge of this style.
func (s EdgeStyle) attrs() string {
	switch s {
	case EdgeReference:
		return `color="grey50"`
	case EdgePath:
		return `style=dotted, label="inside"`
	case EdgeNotify:
		return `style=dashed, color="darkorange3", fontcolor="darkorange3", label="notify"`
	}
	return ""
}

// shapes are the node shapes of the resource kinds; other kinds are boxes.
var shapes = map[string]string{
	"file":      "note",
	"directory": "folder",
	"symlink":   "cds",
	"package":   "box3d",
	"service":   "component",
	"user":      "ellipse",
	"group":     "ellipse",
	"exec":      "hexagon",
	"release":   "tab",
}

// DOT writes g in the Graphviz DOT language (render it with
// `dot -Tsvg`). Edges are drawn as the model holds them, from the node that
// holds an edge to its To. tend's graphs (tend graph) put every edge in
// apply order: from a dependency to the resource that depends on it (and
// from a notifying resource to the one it notifies), so that the drawing
// reads top-down in the order apply runs, as build graphs usually do.
//
// The output is deterministic: nodes sorted by group and ID, edges by
// target and style, groups by name, one Write. Every ID and label is quoted
// and escaped, so addresses with quotes, brackets, slashes, backslashes or
// newlines are safe. Each non-empty Group becomes a `subgraph cluster_...`
// labelled with the group. An edge to a node that is not in the graph, or
// two nodes with one ID, is an error and nothing is written.
func DOT(w io.Writer, g *DotGraph) error {
	nodes := slices.Clone(g.Nodes)
	slices.SortFunc(nodes, func(a, b DotNode) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.ID, b.ID))
	})
	ids := map[string]bool{}
	for _, n := range nodes {
		if ids[n.ID] {
			return fmt.Errorf("write graph %s: two nodes have the ID %q", g.Name, n.ID)
		}
		ids[n.ID] = true
	}
	for _, n := range nodes {
		for _, e := range n.Edges {
			if !ids[e.To] {
				return fmt.Errorf("write graph %s: edge from %q to %q, which is not a node of the graph", g.Name, n.ID, e.To)
			}
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "// The resource graph of %s, drawn by tend. Edges run in apply order:\n", oneLine(g.Name))
	b.WriteString("// from a dependency to the resources that depend on it.\n")
	fmt.Fprintf(&b, "digraph %s {\n", quoteID(g.Name))
	fmt.Fprintf(&b, "\tgraph [label=%s, labelloc=t, fontname=\"Helvetica\", rankdir=TB];\n", quoteLabel(g.Name))
	b.WriteString("\tnode [fontname=\"Helvetica\", fontsize=11, shape=box];\n")
	b.WriteString("\tedge [fontname=\"Helvetica\", fontsize=9];\n")

	// Nodes, one cluster per group; the top level (group "") sorts first.
	for i := 0; i < len(nodes); {
		j := i
		for j < len(nodes) && nodes[j].Group == nodes[i].Group {
			j++
		}
		indent := "\t"
		if grp := nodes[i].Group; grp != "" {
			fmt.Fprintf(&b, "\n\tsubgraph %s {\n", quoteID("cluster_"+grp))
			fmt.Fprintf(&b, "\t\tgraph [label=%s, style=rounded, color=\"grey60\"];\n", quoteLabel(grp))
			indent = "\t\t"
		} else {
			b.WriteString("\n")
		}
		for _, n := range nodes[i:j] {
			label := n.Label
			if label == "" {
				label = n.ID
			}
			shape := shapes[n.Kind]
			if shape == "" {
				shape = "box"
			}
			fmt.Fprintf(&b, "%s%s [label=%s, shape=%s];\n", indent, quoteID(n.ID), quoteLabel(label), shape)
		}
		if nodes[i].Group != "" {
			b.WriteString("\t}\n")
		}
		i = j
	}

	// Edges, after every node, so that clusters hold only their nodes.
	var edges []string
	for _, n := range nodes {
		es := slices.Clone(n.Edges)
		slices.SortFunc(es, func(a, b DotEdge) int {
			return cmp.Or(cmp.Compare(a.To, b.To), cmp.Compare(a.Style, b.Style))
		})
		es = slices.Compact(es)
		for _, e := range es {
			line := quoteID(n.ID) + " -> " + quoteID(e.To)
			if a := e.Style.attrs(); a != "" {
				line += " [" + a + "]"
			}
			edges = append(edges, "\t"+line+";\n")
		}
	}
	if len(edges) > 0 {
		b.WriteString("\n")
		for _, e := range edges {
			b.WriteString(e)
		}
	}
	b.WriteString("}\n")

	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write graph %s: %w", g.Name, err)
	}
	return nil
}

// quoteID quotes s as a DOT ID. Inside a quoted ID Graphviz only unescapes
// \" (a backslash before anything else stays), so escaping backslashes too
// keeps a trailing backslash from swallowing the closing quote and keeps
// the mapping one to one. A newline is written as \n to keep one statement
// per line.
func quoteID(s string) string {
	return `"` + idEscaper.Replace(s) + `"`
}

var idEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)

// quoteLabel quotes s as a DOT label (an escString): a backslash is \\, so
// that the text shows as it is rather than as Graphviz's \N, \G or \l
// escapes; & is &amp;, as Graphviz reads entities (&lt;) in labels; and a
// newline is \n, a line break.
func quoteLabel(s string) string {
	return `"` + labelEscaper.Replace(s) + `"`
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "&", "&amp;", "\r\n", `\n`, "\n", `\n`, "\r", `\n`)

// oneLine makes s fit on a // comment line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
