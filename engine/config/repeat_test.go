package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/resources"
)

func TestForEachAndCount(t *testing.T) {
	c := loadString(t, map[string]string{"main.hcl": `
variable "sites" {
  type    = map(number)
  default = { shop = 8080, blog = 8081 }
}
locals {
  users = ["alice", "bob"]
}
role "web" {
  hosts = ["*"]
  capture "vhost" {
    for_each = var.sites
    value    = "${each.key}:${each.value}:${host.name}"
  }
  capture "user" {
    for_each = toset(local.users)
    value    = each.value
    other    = each.key
  }
  capture "worker" {
    count = length(local.users)
    value = "worker-${count.index}"
  }
  capture "none" {
    count = 0
    value = "never"
  }
  capture "sum" {
    value = join(",", [for k, v in capture["vhost"] : v.value])
    list  = [for w in capture.worker : w.value]
    other = capture.vhost["shop"].value
  }
  capture "one" {
    value      = capture.worker[1].value
    other      = length(capture["none"])
    depends_on = [capture.user["bob"]]
  }
  capture "whole" {
    value      = "w"
    depends_on = [capture["vhost"]]
  }
}`})
	hg := compileOK(t, c, testHost(), nil)
	want := []string{
		`capture.user["alice"]`, `capture.user["bob"]`,
		`capture.vhost["blog"]`, `capture.vhost["shop"]`,
		`capture.worker[0]`, `capture.worker[1]`,
		`capture[sum]`, `capture[one]`, `capture[whole]`,
	}
	if diff := cmp.Diff(sortedCopy(want), sortedCopy(addrs(hg))); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
	// Addresses carry the key as written: quoted for for_each, a number
	// for count; the kind gets the instance's address.
	shop := capturedAt(t, hg, `capture.vhost["shop"]`)
	if shop.Addr != (resources.Addr{Kind: "capture", Name: "vhost", Key: `"shop"`}) || shop.Name != "vhost" {
		t.Errorf("shop block addr %+v name %q", shop.Addr, shop.Name)
	}
	if a := capturedAt(t, hg, `capture.worker[1]`).Addr; a.Key != "1" {
		t.Errorf("worker[1] key = %q", a.Key)
	}
	for addr, w := range map[string]string{
		`capture.vhost["shop"]`: "shop:8080:web1",
		`capture.vhost["blog"]`: "blog:8081:web1",
		`capture.user["bob"]`:   "bob",
		`capture.worker[0]`:     "worker-0",
		`capture[sum]`:          "blog:8081:web1,shop:8080:web1",
		`capture[one]`:          "worker-1",
	} {
		if v := valueAt(t, hg, addr, "value"); !v.RawEquals(cty.StringVal(w)) {
			t.Errorf("%s value = %#v, want %q", addr, v, w)
		}
	}
	if v := valueAt(t, hg, `capture.user["bob"]`, "other"); !v.RawEquals(cty.StringVal("bob")) {
		t.Errorf("each.key of a set = %#v", v)
	}
	if v := valueAt(t, hg, `capture[sum]`, "list"); !v.RawEquals(cty.TupleVal([]cty.Value{cty.StringVal("worker-0"), cty.StringVal("worker-1")})) {
		t.Errorf("count list = %#v", v)
	}
	if v := valueAt(t, hg, `capture[sum]`, "other"); !v.RawEquals(cty.StringVal("shop:8080:web1")) {
		t.Errorf("one instance by key = %#v", v)
	}
	if v := valueAt(t, hg, `capture[one]`, "other"); !v.RawEquals(cty.NumberIntVal(0)) {
		t.Errorf("length of a count = 0 block = %#v", v)
	}
	// A reference to the whole block depends on every instance; one with a
	// literal key on that instance only.
	wantDeps := map[string][]string{
		`capture[sum]`:   {`capture.vhost["blog"]`, `capture.vhost["shop"]`, `capture.worker[0]`, `capture.worker[1]`},
		`capture[one]`:   {`capture.user["bob"]`, `capture.worker[1]`},
		`capture[whole]`: {`capture.vhost["blog"]`, `capture.vhost["shop"]`},
	}
	if diff := cmp.Diff(wantDeps, depsOf(hg)); diff != "" {
		t.Errorf("deps (-want +got):\n%s", diff)
	}
	// Instances depend on the host: other keys for another host.
	c2 := loadString(t, map[string]string{"main.hcl": `
role "web" {
  hosts = ["*"]
  capture "per_host" {
    for_each = host.vars.sites
    value    = each.value
  }
}`})
	h := testHost()
	h.Vars = cty.ObjectVal(map[string]cty.Value{"sites": cty.ObjectVal(map[string]cty.Value{"x": cty.StringVal("1")})})
	if got := addrs(compileOK(t, c2, h, nil)); !cmp.Equal(got, []string{`capture.per_host["x"]`}) {
		t.Errorf("per-host instances = %v", got)
	}
}

// A for_each resource of a path kind builds its path from an expression;
// two instances with one path are a "Duplicate path".
func TestForEachPaths(t *testing.T) {
	c := loadString(t, map[string]string{"main.hcl": `
locals {
  sites = { a = "/srv/a", b = "/srv/b" }
}
role "web" {
  hosts = ["*"]
  directory "site" {
    for_each = local.sites
    path     = each.value
  }
  file "conf" {
    for_each = local.sites
    path     = "${directory.site[each.key].path}/site.conf"
    content  = each.key
  }
  file "same" {
    count   = 2
    path    = "/etc/same"
    content = "x"
  }
}`})
	hg, diags := c.Compile(testHost(), nil)
	if diff := cmp.Diff([]string{"main.hcl:16: Duplicate path"}, summaries(diags)); diff != "" {
		t.Fatalf("diags (-want +got):\n%s\n%s", diff, diagText(c, diags))
	}
	if !strings.Contains(diags[0].Detail, "file.same[1] and file.same[0]") {
		t.Errorf("detail = %q", diags[0].Detail)
	}
	// The path edge goes to the directory instance holding the file.
	if diff := cmp.Diff([]string{`directory.site["a"]`, `directory.site["b"]`}, depsOf(hg)[`file.conf["a"]`]); diff != "" {
		t.Errorf("file.conf[a] deps (-want +got):\n%s", diff)
	}
	for _, n := range hg.Nodes {
		if n.Addr.String() == `file.conf["b"]` {
			if p := n.Resource.(resources.PathResource).Path(); p != "/srv/b/site.conf" {
				t.Errorf("path = %s", p)
			}
		}
	}
}

// A problem every instance has is reported once; one only some instances
// have names the instance.
func TestInstanceDiagnostics(t *testing.T) {
	c := loadString(t, map[string]string{"main.hcl": `
role "web" {
  hosts = ["*"]
  capture "v" {
    for_each = { a = 1, b = 2, c = 3 }
    value    = each.value == 2 ? file("missing-${each.key}") : "ok"
    other    = nosuch(each.key)
    fail     = "when built"
  }
}`})
	_, diags := c.Compile(testHost(), nil)
	var details []string
	for _, d := range diags {
		details = append(details, d.Summary+": "+d.Detail)
	}
	// Every instance fails to call nosuch: once, as it is. Only b cannot
	// read its file: named. Only a and c get to be built, and fail: once,
	// naming both.
	want := []string{
		"Call to unknown function: There is no function named \"nosuch\".",
		"Invalid function argument: In capture.v[\"b\"]: Invalid value for \"path\" parameter: no file missing-b in the spec repository.",
	}
	if diff := cmp.Diff(want, details); diff != "" {
		t.Errorf("diags (-want +got):\n%s", diff)
	}
}

// Validate makes one placeholder instance of a for_each or count that
// depends on the host, and still checks what it can.
func TestValidateUnknownRepetition(t *testing.T) {
	c := loadString(t, map[string]string{"main.hcl": `
role "web" {
  hosts = ["*"]
  file "site" {
    for_each = host.vars.sites
    path     = "/srv/${each.key}"
    mode     = "0999"
  }
  file "n" {
    count   = host.vars.n
    path    = "/n/${count.index}"
    content = capture["x"].value
  }
  capture "x" {
    value = "${file["site"]}"
  }
}`})
	diags := c.Validate(nil)
	// The mode is checked although the path is not known; the template of
	// an unknown object is not an error.
	if diff := cmp.Diff([]string{}, summaries(diags), cmpNilEmptyStrings); diff != "" {
		t.Errorf("Validate (-want +got):\n%s\n%s", diff, diagText(c, diags))
	}
}

var cmpNilEmptyStrings = cmp.Transformer("nilEmpty", func(s []string) []string {
	if len(s) == 0 {
		return []string{}
	}
	return s
})

func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	sortStrings(out)
	return out
}
