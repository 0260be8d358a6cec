package config

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/tendhq/tend/resources"
)

// A path inside a managed directory depends on it without depends_on, and
// comes after it in Nodes; an explicit dependency the other way wins.
func TestImplicitDirectoryEdges(t *testing.T) {
	c := loadString(t, map[string]string{"main.hcl": `
role "r" {
  hosts = ["*"]
  file "a-config" {
    path    = "/srv/app/etc/config"
    content = "x"
  }
  directory "z-etc" {
    path = "/srv/app/etc"
  }
  directory "app" {
    path = "/srv/app"
  }
  symlink "current" {
    path   = "/srv/app/current"
    target = "/srv/app/etc"
  }
  directory "gone" {
    path  = "/srv/app/old"
    state = "absent"
  }
  file "in-gone" {
    path  = "/srv/app/old/x"
    state = "absent"
  }
}
`})
	hg := compileOK(t, c, testHost(), nil)
	deps := map[string]string{}
	var order []string
	for _, n := range hg.Nodes {
		order = append(order, n.Addr.String())
		deps[n.Addr.String()] = fmt.Sprint(n.Deps)
	}
	want := map[string]string{
		"file[a-config]":   "[directory[z-etc]]",
		"directory[z-etc]": "[directory[app]]",
		"symlink[current]": "[directory[app]]",
		"directory[app]":   "[]",
		"directory[gone]":  "[directory[app]]",
		"file[in-gone]":    "[directory[app]]", // gone is absent: no edge to it
	}
	for k, v := range want {
		if deps[k] != v {
			t.Errorf("%s depends on %s, want %s", k, deps[k], v)
		}
	}
	idx := func(a string) int {
		for i, o := range order {
			if o == a {
				return i
			}
		}
		return -1
	}
	if !(idx("directory[app]") < idx("directory[z-etc]") && idx("directory[z-etc]") < idx("file[a-config]")) {
		t.Errorf("nodes are not in dependency order: %v", order)
	}
}

func TestDuplicatePath(t *testing.T) {
	c := loadString(t, map[string]string{"main.hcl": `
role "r" {
  hosts = ["*"]
  file "one" {
    path    = "/etc/motd"
    content = "1"
  }
  file "two" {
    path    = "/etc/${"motd"}"
    content = "2"
  }
}
`})
	_, diags := c.Compile(testHost(), nil)
	if len(diags) != 1 || diags[0].Summary != "Duplicate path" || diags[0].Subject.Start.Line != 8 ||
		!strings.Contains(diags[0].Detail, "main.hcl:4:3") {
		t.Fatalf("diags = %s", diagText(c, diags))
	}
}

// namedRes is a test kind that manages a named thing (like a package).
type namedRes struct {
	addr resources.Addr
	name string
}

func (r *namedRes) Addr() resources.Addr     { return r.addr }
func (r *namedRes) Observe(*resources.Probe) {}
func (r *namedRes) Diff(*resources.Observed) (*resources.Change, error) {
	return &resources.Change{Addr: r.addr}, nil
}
func (r *namedRes) Apply(context.Context, *resources.Target, *resources.Change) error {
	return nil
}
func (r *namedRes) Identity() string { return "thing " + r.name }

func init() {
	resources.Register(&resources.Kind{
		Name:       "test_named",
		Attributes: []hcl.AttributeSchema{{Name: "name"}},
		New: func(b *resources.Block) (resources.Resource, hcl.Diagnostics) {
			n := b.Name
			if a, ok := b.Attrs["name"]; ok {
				n = a.Value.AsString()
			}
			return &namedRes{addr: b.Addr, name: n}, nil
		},
	})
}

// Two resources that resolve to the same name are an error naming both,
// even with different labels and from different roles.
func TestDuplicateName(t *testing.T) {
	c := loadString(t, map[string]string{"main.hcl": `
role "a" {
  hosts = ["*"]
  test_named "nginx" {}
}

role "b" {
  hosts = ["*"]
  test_named "web-server" {
    name = "nginx"
  }
}
`})
	_, diags := c.Compile(testHost(), nil)
	if len(diags) != 1 || diags[0].Summary != "Duplicate thing" || diags[0].Subject.Start.Line != 9 ||
		!strings.Contains(diags[0].Detail, "test_named[nginx]") || !strings.Contains(diags[0].Detail, "main.hcl:4:3") {
		t.Fatalf("diags = %s", diagText(c, diags))
	}
}

// Kinds say what they need: a file after its owner, a user after its
// groups, a service after its unit file, an exec after its cwd and user.
func TestRequiresEdges(t *testing.T) {
	c := loadString(t, map[string]string{"main.hcl": `
role "r" {
  hosts = ["*"]
  group "app" {}
  user "app" {
    group  = "app"
    groups = ["adm"]
  }
  group "adm" {}
  directory "srv" {
    path  = "/srv/app"
    owner = "app"
  }
  file "unit" {
    path    = "/etc/systemd/system/app.service"
    content = "[Service]\nExecStart=/bin/true\n"
  }
  service "app" {
    state = "running"
  }
  exec "migrate" {
    command = ["/srv/app/migrate"]
    cwd     = "/srv/app"
    user    = "app"
    creates = "/srv/app/.migrated"
  }
}
`})
	hg := compileOK(t, c, testHost(), nil)
	deps := map[string]string{}
	for _, n := range hg.Nodes {
		var ds []string
		for _, e := range n.Edges {
			ds = append(ds, e.To.String()+"/"+e.Kind.String())
		}
		deps[n.Addr.String()] = strings.Join(ds, " ")
	}
	for addr, want := range map[string]string{
		"user[app]":      "group[adm]/path group[app]/path",
		"directory[srv]": "user[app]/path",
		"service[app]":   "file[unit]/path",
		"exec[migrate]":  "directory[srv]/path user[app]/path",
	} {
		if deps[addr] != want {
			t.Errorf("%s depends on %q, want %q", addr, deps[addr], want)
		}
	}
}
