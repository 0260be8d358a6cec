package config

import (
	"fmt"
	"strings"
	"testing"
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
