package main

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

	"github.com/google/go-cmp/cmp"

	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/resources"
)

// TestGraphQuickstart draws the quickstart's graph and has Graphviz render
// it: every resource is a node, and the edges run in apply order.
func TestGraphQuickstart(t *testing.T) {
	r := tend(t, "graph", "--local", "../../examples/quickstart")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("graph:\n%s", r)
	}
	nodes, edges := svgGraph(t, r.stdout)
	wantNodes := []string{"directory[etc]", "directory[root]", "file[config]", "file[motd]", "file[token]", "symlink[current]"}
	if diff := cmp.Diff(wantNodes, nodes); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
	// depends_on and the paths: root before etc, etc before what is in it.
	for _, e := range []string{
		"directory[root]->directory[etc]",
		"directory[etc]->file[config]",
		"directory[etc]->file[token]",
		"directory[etc]->symlink[current]",
		"directory[root]->file[motd]",
	} {
		if !slices.Contains(edges, e) {
			t.Errorf("no edge %s; edges: %q", e, edges)
		}
	}
	// Without -i the graph is the same, --local or not.
	if r2 := tend(t, "graph", "../../examples/quickstart"); r2.code != 0 || r2.stdout != r.stdout {
		t.Errorf("graph without --local differs:\n%s", r2)
	}
}

// graphSpec is a spec with one role per group of graphInventory.
const graphSpec = `
role "web" {
  hosts = ["group:web", "web-*"]

  directory "etc" {
    path = "/etc/shop"
  }
  file "conf" {
    path       = "/etc/shop/shop.conf"
    content    = "host = ${host.name}\n"
    depends_on = [directory["etc"]]
  }
}

role "db" {
  hosts = ["group:db"]

  file "pg" {
    path    = "/etc/pg.conf"
    content = "x"
  }
}
`

const graphInventory = `
host "web-1" {
  address = "127.0.0.1"
  vars    = { port = 8080 }
}
host "db-1" {
  address = "127.0.0.1"
}
group "web" {
  hosts = ["web-1"]
}
group "db" {
  hosts = ["db-1"]
}
`

func TestGraphHostSelection(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "spec/main.hcl"), graphSpec)
	writeFile(t, filepath.Join(dir, "inv.hcl"), graphInventory)
	spec, inv := filepath.Join(dir, "spec"), filepath.Join(dir, "inv.hcl")

	r := tend(t, "graph", "-i", inv, spec)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "the inventory has 2 hosts (db-1, web-1): pick one with --host") {
		t.Errorf("graph of an inventory of two hosts without --host:\n%s", r)
	}
	r = tend(t, "graph", "-i", inv, "--host", "nope", spec)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, `no host named "nope" in the inventory; its hosts are db-1, web-1`) {
		t.Errorf("graph --host of an unknown host:\n%s", r)
	}

	r = tend(t, "graph", "-i", inv, "--host", "web-1", spec)
	if r.code != 0 {
		t.Fatalf("graph --host web-1:\n%s", r)
	}
	nodes, edges := svgGraph(t, r.stdout)
	if diff := cmp.Diff([]string{"directory[etc]", "file[conf]"}, nodes); diff != "" {
		t.Errorf("nodes of web-1 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"directory[etc]->file[conf]"}, edges); diff != "" {
		t.Errorf("edges of web-1 (-want +got):\n%s", diff)
	}
	if !strings.Contains(r.stdout, `digraph "web-1" {`) {
		t.Errorf("the graph is not named after the host:\n%s", r.stdout)
	}

	r = tend(t, "graph", "-i", inv, "--host", "db-1", spec)
	if nodes, _ := svgGraph(t, r.stdout); r.code != 0 || !slices.Equal(nodes, []string{"file[pg]"}) {
		t.Errorf("graph --host db-1: nodes %q\n%s", nodes, r)
	}

	// Without an inventory --host names this machine's placeholder, which
	// the web role selects by its name.
	r = tend(t, "graph", "--host", "web-9", spec)
	if nodes, _ := svgGraph(t, r.stdout); r.code != 0 || !slices.Equal(nodes, []string{"directory[etc]", "file[conf]"}) ||
		!strings.Contains(r.stdout, `digraph "web-9" {`) {
		t.Errorf("graph --host web-9 without an inventory: nodes %q\n%s", nodes, r)
	}
}

func TestGraphDiagnostics(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.hcl"), `role "web" {
  hosts = ["*"]
  file "x" {
    path = "/x"
    mode = "0999"
  }
}
`)
	r := tend(t, "graph", "--local", dir)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "main.hcl:5:") {
		t.Errorf("graph of a bad spec, want exit 1 and a diagnostic at main.hcl:5:\n%s", r)
	}
	// A broken inventory is reported with the spec's problems.
	writeFile(t, filepath.Join(dir, "inv.hcl"), "host {\n")
	r = tend(t, "graph", "-i", filepath.Join(dir, "inv.hcl"), dir)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "inv.hcl:") || !strings.Contains(r.stderr, "main.hcl:5:") {
		t.Errorf("graph with a broken inventory:\n%s", r)
	}
	if r = tend(t, "graph", filepath.Join(dir, "missing")); r.code != 1 || !strings.Contains(r.stderr, "spec directory") {
		t.Errorf("graph of a missing directory:\n%s", r)
	}
}

// TestDotGraph checks the conversion: nodes by address, modules as groups,
// and every dependency an edge from the dependency to its dependent.
func TestDotGraph(t *testing.T) {
	etc := resources.Addr{Kind: "directory", Name: "etc"}
	vhost := resources.Addr{Module: `module.sites["a"]`, Kind: "file", Name: "vhost", Key: `"shop"`}
	svc := resources.Addr{Kind: "service", Name: "nginx"}
	hg := &config.HostGraph{
		Host: &inventory.Host{Name: "web-1"},
		Nodes: []*config.Node{
			{Addr: etc},
			{Addr: vhost, Deps: []resources.Addr{etc}, Edges: []config.Edge{{To: etc, Kind: config.EdgePath}}},
			{Addr: svc, Deps: []resources.Addr{etc, vhost}, Edges: []config.Edge{
				{To: etc, Kind: config.EdgeDependsOn}, {To: vhost, Kind: config.EdgeReference}}},
		},
	}
	want := &report.DotGraph{Name: "web-1", Nodes: []report.DotNode{
		{ID: "directory[etc]", Label: "directory[etc]", Kind: "directory", Edges: []report.DotEdge{
			{To: `module.sites["a"].file.vhost["shop"]`, Style: report.EdgePath}, {To: "service[nginx]", Style: report.EdgeDependsOn},
		}},
		{ID: `module.sites["a"].file.vhost["shop"]`, Label: `module.sites["a"].file.vhost["shop"]`, Kind: "file", Group: `module.sites["a"]`,
			Edges: []report.DotEdge{{To: "service[nginx]", Style: report.EdgeReference}}},
		{ID: "service[nginx]", Label: "service[nginx]", Kind: "service"},
	}}
	got := dotGraph(hg)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dotGraph (-want +got):\n%s", diff)
	}
	var b bytes.Buffer
	if err := report.DOT(&b, got); err != nil {
		t.Fatal(err)
	}
	if _, edges := svgGraph(t, b.String()); len(edges) != 3 {
		t.Errorf("Graphviz drew %d edges, want 3:\n%s", len(edges), &b)
	}
}

// svgGraph renders DOT with Graphviz (which must accept it without a
// warning) and returns the names of the nodes and edges ("a->b") it drew,
// sorted.
func svgGraph(t *testing.T, dot string) (nodes, edges []string) {
	t.Helper()
	if _, err := exec.LookPath("dot"); err != nil {
		t.Fatal("Graphviz dot is not installed: apt-get install -y graphviz")
	}
	cmd := exec.Command("dot", "-Tsvg")
	cmd.Stdin = strings.NewReader(dot)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil || errOut.Len() > 0 {
		t.Fatalf("dot -Tsvg: %v\n%s\ninput:\n%s", err, &errOut, dot)
	}
	dec := xml.NewDecoder(&out)
	dec.Strict = false
	dec.Entity = xml.HTMLEntity
	var class, elem string
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
			elem = tok.Name.Local
			if elem == "g" {
				class = ""
				for _, a := range tok.Attr {
					if a.Name.Local == "class" {
						class = a.Value
					}
				}
			}
		case xml.CharData:
			if elem != "title" {
				continue
			}
			switch class {
			case "node":
				nodes = append(nodes, string(tok))
			case "edge":
				edges = append(edges, string(tok))
			}
		case xml.EndElement:
			elem = ""
		}
	}
	slices.Sort(nodes)
	slices.Sort(edges)
	return nodes, edges
}
