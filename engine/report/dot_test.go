package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/golden"
)

// dotFixtures are graphs drawn by the golden test; their output is also
// checked with Graphviz.
var dotFixtures = map[string]*DotGraph{
	"empty": {Name: "web-1"},
	// Every edge style, two modules (one nested), kinds with and without
	// a shape of their own. Nodes and edges are given out of order.
	"styles": {
		Name: "web-1",
		Nodes: []DotNode{
			{ID: "service[nginx]", Kind: "service"},
			{ID: "file[/etc/nginx/nginx.conf]", Kind: "file", Edges: []DotEdge{
				{To: "service[nginx]", Style: EdgeNotify},
			}},
			{ID: "directory[/etc/nginx]", Kind: "directory", Edges: []DotEdge{
				{To: "file[/etc/nginx/nginx.conf]", Style: EdgePath},
				{To: "file[/etc/nginx/nginx.conf]", Style: EdgePath}, // a duplicate, drawn once
				{To: "module.sites[\"a\"].file.vhost[\"shop\"]", Style: EdgeReference},
			}},
			{ID: "package[nginx]", Kind: "package", Edges: []DotEdge{
				{To: "service[nginx]", Style: EdgeDependsOn},
				{To: "directory[/etc/nginx]", Style: EdgeDependsOn},
			}},
			{ID: "module.sites[\"a\"].file.vhost[\"shop\"]", Label: "file.vhost[\"shop\"]", Kind: "file", Group: "module.sites[\"a\"]"},
			{ID: "module.sites[\"a\"].module.tls.exec[certbot]", Label: "exec[certbot]", Kind: "exec", Group: "module.sites[\"a\"].module.tls", Edges: []DotEdge{
				{To: "module.sites[\"a\"].file.vhost[\"shop\"]", Style: EdgeDependsOn},
			}},
			{ID: "widget[x]", Kind: "widget"},
		},
	},
}

func TestDOTGolden(t *testing.T) {
	for name, g := range dotFixtures {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := DOT(&b, g); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", name+".dot.golden"), b.Bytes())

			// The same graph with its nodes and edges in another order
			// gives the same bytes.
			shuffled := &DotGraph{Name: g.Name}
			for _, n := range slices.Backward(g.Nodes) {
				n.Edges = slices.Clone(n.Edges)
				slices.Reverse(n.Edges)
				shuffled.Nodes = append(shuffled.Nodes, n)
			}
			var b2 bytes.Buffer
			if err := DOT(&b2, shuffled); err != nil {
				t.Fatal(err)
			}
			if b.String() != b2.String() {
				t.Errorf("the order of the input changed the output:\n%s\n---\n%s", &b, &b2)
			}

			svg := renderSVG(t, b.Bytes())
			var ids []string
			for _, n := range g.Nodes {
				ids = append(ids, n.ID)
			}
			if diff := diffSets(svg.nodes, ids); diff != "" {
				t.Errorf("Graphviz drew other nodes: %s", diff)
			}
		})
	}
}

// TestDOTEscaping draws addresses that hold every character DOT quoting
// cares about and checks with Graphviz that each node comes out with its
// text intact, as one node, with its edges.
func TestDOTEscaping(t *testing.T) {
	awkward := []string{
		`file.vhost["shop"]`,
		`module.sites["a"].file[/etc/x]`,
		`file[C:\dir\]`,
		`file[x]\`,       // a trailing backslash must not eat the quote
		`file[a\"b]`,     // nor one before a quote
		`file[\N \G \l]`, // Graphviz's label escapes, shown as written
		`file["]`,
		`file[a -> b; c]`,
		"file[two\nlines]",
		`file[<b>&amp;</b>]`,
		`file[grüße/日本]`,
		`digraph`,
		`}`,
		``,
	}
	g := &DotGraph{Name: `host "quoted" \ name`}
	for i, a := range awkward {
		n := DotNode{ID: a, Kind: "file", Group: []string{"", `module.m["}"]`}[i%2]}
		if i > 0 {
			n.Edges = []DotEdge{{To: awkward[i-1], Style: EdgeStyle(i % 4)}}
		}
		g.Nodes = append(g.Nodes, n)
	}
	var b bytes.Buffer
	if err := DOT(&b, g); err != nil {
		t.Fatal(err)
	}
	svg := renderSVG(t, b.Bytes())
	if len(svg.nodes) != len(awkward) {
		t.Errorf("Graphviz drew %d nodes, want %d:\n%s", len(svg.nodes), len(awkward), &b)
	}
	if len(svg.edges) != len(awkward)-1 {
		t.Errorf("Graphviz drew %d edges, want %d:\n%s", len(svg.edges), len(awkward)-1, &b)
	}
	// The labels show the addresses as they are; a multi-line one is
	// drawn as several text lines.
	for _, a := range awkward {
		lines := strings.Split(a, "\n")
		for _, l := range lines {
			if !slices.Contains(svg.texts, l) && l != "" {
				t.Errorf("no text %q in the drawing; texts: %q\n%s", l, svg.texts, &b)
			}
		}
	}
	if !slices.Contains(svg.texts, `host "quoted" \ name`) {
		t.Errorf("the graph's label is not drawn as written; texts: %q", svg.texts)
	}
	if !slices.Contains(svg.texts, `module.m["}"]`) {
		t.Errorf("the cluster's label is not drawn as written; texts: %q", svg.texts)
	}
}

func TestDOTErrors(t *testing.T) {
	for name, g := range map[string]*DotGraph{
		"unknown target": {Name: "h", Nodes: []DotNode{{ID: "a", Edges: []DotEdge{{To: "b"}}}}},
		"duplicate ID":   {Name: "h", Nodes: []DotNode{{ID: "a"}, {ID: "a", Group: "m"}}},
	} {
		var b bytes.Buffer
		if err := DOT(&b, g); err == nil {
			t.Errorf("%s: no error; output:\n%s", name, &b)
		}
		if b.Len() != 0 {
			t.Errorf("%s: wrote output despite the error:\n%s", name, &b)
		}
	}
	if err := DOT(failWriter{}, dotFixtures["styles"]); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("a failing writer: err = %v", err)
	}
}

// svgDrawing is what a Graphviz SVG shows: the titles of nodes and edges
// (their IDs) and every text element (the labels).
type svgDrawing struct {
	nodes, edges, texts []string
}

// renderSVG runs dot -Tsvg on src; Graphviz must accept it without a
// warning.
func renderSVG(t *testing.T, src []byte) svgDrawing {
	t.Helper()
	if _, err := exec.LookPath("dot"); err != nil {
		t.Fatal("Graphviz dot is not installed: apt-get install -y graphviz")
	}
	cmd := exec.Command("dot", "-Tsvg")
	cmd.Stdin = bytes.NewReader(src)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil || errOut.Len() > 0 {
		t.Fatalf("dot -Tsvg: %v\n%s\ninput:\n%s", err, &errOut, src)
	}
	var d svgDrawing
	dec := xml.NewDecoder(&out)
	dec.Strict = false
	dec.Entity = xml.HTMLEntity
	var class string
	var stack []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse the SVG: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			stack = append(stack, tok.Name.Local)
			if tok.Name.Local == "g" {
				class = ""
				for _, a := range tok.Attr {
					if a.Name.Local == "class" {
						class = a.Value
					}
				}
				// A node or an edge whose title is empty has no
				// character data: count it here, name it below.
				switch class {
				case "node":
					d.nodes = append(d.nodes, "")
				case "edge":
					d.edges = append(d.edges, "")
				}
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				continue
			}
			switch top := stack[len(stack)-1]; {
			case top == "title" && class == "node":
				d.nodes[len(d.nodes)-1] = string(tok)
			case top == "title" && class == "edge":
				d.edges[len(d.edges)-1] = string(tok)
			case top == "text":
				d.texts = append(d.texts, string(tok))
			}
		}
	}
	return d
}

// diffSets describes how the drawn node titles differ from the IDs, taking
// into account that Graphviz keeps the backslash escapes of a node's name,
// but for \".
func diffSets(drawn, ids []string) string {
	want := map[string]bool{}
	for _, id := range ids {
		want[strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`).Replace(id)] = true
	}
	var extra, missing []string
	for _, n := range drawn {
		if !want[n] {
			extra = append(extra, n)
		}
		delete(want, n)
	}
	for id := range want {
		missing = append(missing, id)
	}
	if len(extra)+len(missing) == 0 {
		return ""
	}
	slices.Sort(missing)
	return "missing " + strings.Join(missing, ", ") + "; unexpected " + strings.Join(extra, ", ")
}
