package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tendhq/tend/resources"
)

// The same spec written in native syntax and in HCL's JSON form.
var (
	nativeSpec = map[string]string{
		"main.hcl": `
variable "port" {
  type    = number
  default = 8080
}
variable "tags" {
  type    = map(string)
  default = { env = "prod" }
}
locals {
  sites = { shop = "/srv/shop", blog = "/srv/blog" }
}
role "web" {
  hosts = ["group:web"]
  capture "base" {
    value = templatefile("templates/t.tmpl", { port = var.port, host = host.name })
    other = var.tags
  }
  capture "site" {
    for_each   = local.sites
    value      = "${each.key}=${each.value}"
    list       = [var.port, 1]
    depends_on = [capture["base"]]
  }
  file "conf" {
    path    = "/nonexistent-tend-test/${host.name}.conf"
    content = templatefile("templates/t.tmpl", { port = var.port, host = host.name })
    mode    = "0640"
  }
  module "m" {
    source = "./modules/m"
    name   = "x"
  }
}`,
		"modules/m/main.hcl": `
variable "name" {
  type = string
}
capture "c" {
  value = upper(var.name)
}`,
	}
	jsonSpec = map[string]string{
		"main.hcl.json": `{
  "variable": {
    "port": { "type": "number", "default": 8080 },
    "tags": { "type": "map(string)", "default": { "env": "prod" } }
  },
  "locals": { "sites": { "shop": "/srv/shop", "blog": "/srv/blog" } },
  "role": {
    "web": {
      "hosts": ["group:web"],
      "capture": {
        "base": {
          "value": "${templatefile(\"templates/t.tmpl\", { port = var.port, host = host.name })}",
          "other": "${var.tags}"
        },
        "site": {
          "for_each": "${local.sites}",
          "value": "${each.key}=${each.value}",
          "list": ["${var.port}", 1],
          "depends_on": ["capture[\"base\"]"]
        }
      },
      "file": {
        "conf": {
          "path": "/nonexistent-tend-test/${host.name}.conf",
          "content": "${templatefile(\"templates/t.tmpl\", { port = var.port, host = host.name })}",
          "mode": "0640"
        }
      },
      "module": { "m": { "source": "./modules/m", "name": "x" } }
    }
  }
}`,
		"modules/m/main.hcl.json": `{
  "variable": { "name": { "type": "string" } },
  "capture": { "c": { "value": "${upper(var.name)}" } }
}`,
	}
	specTemplate = "port = ${port}\nhost = ${host}\n"
)

// TestJSONSyntax compiles the same role from .hcl and .hcl.json files and
// expects identical graphs, identical evaluated attributes, and the same
// change planned for a real file on this machine.
func TestJSONSyntax(t *testing.T) {
	compile := func(files map[string]string) *HostGraph {
		files["templates/t.tmpl"] = specTemplate
		return compileOK(t, loadString(t, files), testHost(), nil)
	}
	native, json := compile(nativeSpec), compile(jsonSpec)
	if len(native.Nodes) != 5 {
		t.Fatalf("native nodes: %v", addrs(native))
	}
	if diff := cmp.Diff(addrs(native), addrs(json)); diff != "" {
		t.Fatalf("nodes (-native +json):\n%s", diff)
	}
	if diff := cmp.Diff(depsOf(native), depsOf(json)); diff != "" {
		t.Errorf("deps (-native +json):\n%s", diff)
	}
	for i, n := range native.Nodes {
		j := json.Nodes[i]
		if n.Role != j.Role || n.Addr != j.Addr {
			t.Errorf("node %d: %+v vs %+v", i, n, j)
		}
		nc, ok := n.Resource.(*capture)
		if !ok {
			// The real file kind: compare what it would do here.
			a, b := planLocally(t, n.Resource), planLocally(t, j.Resource)
			if a.Action != resources.Create || string(a.Content.After) != "port = 8080\nhost = web1\n" ||
				string(b.Content.After) != string(a.Content.After) || a.Action != b.Action {
				t.Errorf("%s: native plans %+v, json %+v", n.Addr, a, b)
			}
			continue
		}
		jc := j.Resource.(*capture)
		if nc.b.Dir != jc.b.Dir || len(nc.b.Attrs) != len(jc.b.Attrs) {
			t.Errorf("%s: dir %q/%q, attrs %d/%d", n.Addr, nc.b.Dir, jc.b.Dir, len(nc.b.Attrs), len(jc.b.Attrs))
		}
		for name, a := range nc.b.Attrs {
			b := jc.b.Attrs[name]
			if b == nil || !a.Value.RawEquals(b.Value) || a.Sensitive != b.Sensitive {
				t.Errorf("%s.%s: native %#v, json %#v", n.Addr, name, a.Value, b)
			}
		}
	}
}

// .hcl and .hcl.json files of one directory are loaded together, in name
// order.
func TestJSONNextToNative(t *testing.T) {
	c := loadString(t, map[string]string{
		"a.hcl.json": `{ "locals": { "from_json": "j" } }`,
		"b.hcl":      "role \"r\" {\n  hosts = [\"*\"]\n  capture \"x\" { value = \"${local.from_json}-n\" }\n}\n",
		"c.json":     `not a spec`,
	})
	if diff := cmp.Diff([]string{"a.hcl.json", "b.hcl"}, sortedNames(c.Files())); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	hg := compileOK(t, c, testHost(), nil)
	if v := attr(t, hg, "x", "value").Value.AsString(); v != "j-n" {
		t.Errorf("value = %q", v)
	}
}
