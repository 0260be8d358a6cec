package config

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/resources"
)

// sitesHost is a host of the example repository's inventory.
func sitesHost(name, root string, groups ...string) *inventory.Host {
	return &inventory.Host{
		Name:   name,
		Groups: groups,
		Vars: cty.ObjectVal(map[string]cty.Value{
			"root":   cty.StringVal(root),
			"domain": cty.StringVal(name + ".example"),
		}),
	}
}

// TestSitesRepository compiles the example repository testdata/repos/sites
// for two web hosts whose host.vars.root differ, and an api host.
func TestSitesRepository(t *testing.T) {
	c, diags := Load(os.DirFS("../../testdata/repos/sites"), ".")
	if len(diags) > 0 {
		t.Fatalf("Load: %s", diagText(c, diags))
	}
	if diags := c.Validate(nil); len(diags) > 0 {
		t.Fatalf("Validate: %s", diagText(c, diags))
	}
	paths := map[string]bool{}
	for _, h := range []*inventory.Host{sitesHost("web1", "/srv/one", "web"), sitesHost("web2", "/srv/two", "web")} {
		hg := compileOK(t, c, h, nil)
		root := h.Vars.GetAttr("root").AsString()
		// 20 sites, a directory and a file each, and conf.d.
		if len(hg.Nodes) != 41 {
			t.Errorf("%s: %d nodes, want 41: %v", h.Name, len(hg.Nodes), addrs(hg))
		}
		files := 0
		byAddr := map[string]*Node{}
		for _, n := range hg.Nodes {
			byAddr[n.Addr.String()] = n
			pr := n.Resource.(resources.PathResource)
			if !strings.HasPrefix(pr.Path(), root+"/") {
				t.Errorf("%s: %s manages %s, outside %s", h.Name, n.Addr, pr.Path(), root)
			}
			if paths[pr.Path()] {
				t.Errorf("%s: path %s is also another host's", h.Name, pr.Path())
			}
			paths[pr.Path()] = true
			if n.Addr.Kind == "file" {
				files++
				if !strings.HasPrefix(n.Addr.Module, `module.sites["site`) || n.Role != "web" {
					t.Errorf("%s: file %s (role %s) not from the for_each module", h.Name, n.Addr, n.Role)
				}
			}
		}
		if files != 20 {
			t.Errorf("%s: %d site files, want 20", h.Name, files)
		}
		n := byAddr[`module.sites["site07"].file[conf]`]
		if n == nil {
			t.Fatalf("%s: no module.sites[\"site07\"].file[conf] in %v", h.Name, addrs(hg))
		}
		want := resources.Addr{Module: `module.sites["site07"]`, Kind: "file", Name: "conf"}
		if n.Addr != want || n.Resource.Addr() != want {
			t.Errorf("%s: address %+v, resource says %+v", h.Name, n.Addr, n.Resource.Addr())
		}
		if p := n.Resource.(resources.PathResource).Path(); p != root+"/conf.d/site07.conf" {
			t.Errorf("%s: site07 conf at %s", h.Name, p)
		}
		// The config depends on its site's directory (a reference, through
		// the template input) and on conf.d (the module call's depends_on
		// and the path).
		wantDeps := []string{`directory[conf.d]`, `module.sites["site07"].directory[root]`}
		if diff := cmp.Diff(wantDeps, depsOf(hg)[n.Addr.String()]); diff != "" {
			t.Errorf("%s: deps (-want +got):\n%s", h.Name, diff)
		}
		// The template of the module, rendered with this host's values,
		// as the real file kind plans it on this machine.
		ch := planLocally(t, n.Resource)
		wantConf := fmt.Sprintf("# site07, managed by tend\nserver {\n    listen 8007;\n    server_name site07.%s.example;\n    root %s/www/site07;\n}\n", h.Name, root)
		if ch.Content == nil || string(ch.Content.After) != wantConf {
			t.Errorf("%s: site07 conf plans %+v, want content %q", h.Name, ch, wantConf)
		}
	}

	// The api role: a single instance, with the variable's port.
	api := compileOK(t, c, sitesHost("api-1", "/srv/api"), nil)
	if diff := cmp.Diff([]string{"module.api.directory[root]", "module.api.file[conf]"}, addrs(api)); diff != "" {
		t.Errorf("api nodes (-want +got):\n%s", diff)
	}
	// A port out of range fails the module's validation, at the input.
	_, diags = c.Compile(sitesHost("api-1", "/srv/api"), given(map[string]cty.Value{"api_port": cty.NumberIntVal(70000)}))
	if len(diags) != 1 || diags[0].Summary != "Invalid value for variable" || pos(*diags[0].Subject) != "main.hcl:44:19" ||
		!strings.Contains(diags[0].Detail, "The port must be between 1 and 65535.") {
		t.Errorf("diags = %s", diagText(c, diags))
	}
	// A host in both groups gets both roles; their modules do not clash.
	both := compileOK(t, c, sitesHost("x", "/srv/x", "web", "api"), nil)
	if len(both.Nodes) != 43 {
		t.Errorf("a host of both roles has %d nodes, want 43", len(both.Nodes))
	}
}

// Hosts compile at once from one Config, modules and templates included.
func TestSitesConcurrently(t *testing.T) {
	c, diags := Load(os.DirFS("../../testdata/repos/sites"), ".")
	if len(diags) > 0 {
		t.Fatalf("Load: %s", diagText(c, diags))
	}
	errs := make(chan string, 8)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("web%d", i)
			hg, diags := c.Compile(sitesHost(name, "/srv/"+name, "web", "api"), nil)
			if len(diags) > 0 || len(hg.Nodes) != 43 {
				errs <- fmt.Sprintf("%s: %d nodes, %v", name, len(hg.Nodes), diags)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
