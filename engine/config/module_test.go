package config

import (
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/resources"
)

// moduleFiles is a spec directory whose role calls a module with for_each
// and count; the module calls another, reads files relative to itself and
// has outputs.
var moduleFiles = map[string]string{
	"main.hcl": `
variable "password" {
  sensitive = true
  default   = "hunter2"
}
locals {
  sites = { shop = 8080, blog = 8081 }
}
role "web" {
  hosts = ["*"]
  capture "first" {
    value = "first"
  }
  module "sites" {
    source     = "./modules/site"
    for_each   = local.sites
    name       = each.key
    port       = each.value
    secret     = var.password
    depends_on = [capture["first"]]
  }
  module "extra" {
    source = "./modules/site"
    count  = 1
    name   = "extra${count.index}"
  }
  capture "report" {
    value = module.sites["shop"].conf
    list  = [for k, s in module.sites : s.name]
    other = module.extra[0].conf
  }
}`,
	"modules/site/variables.hcl": `
variable "name" {
  type = string
}
variable "port" {
  type    = number
  default = 80
}
variable "secret" {
  type    = string
  default = "none"
}`,
	"modules/site/main.hcl": `
locals {
  conf = templatefile("templates/site.tmpl", { name = var.name, port = var.port })
}
capture "conf" {
  value = local.conf
  other = file("files/static.txt")
}
capture "secret" {
  value = var.secret
}
capture "after" {
  value      = "${capture.conf.value}!"
  depends_on = [capture["secret"]]
}
module "tls" {
  source = "../tls"
  host   = "${var.name}.example"
}
output "conf" {
  value = capture.conf.value
}
output "name" {
  value = var.name
}`,
	"modules/site/templates/site.tmpl": "server ${name}:${port}",
	"modules/site/files/static.txt":    "static in module",
	"modules/tls/main.hcl": `
variable "host" {
  type = string
}
capture "cert" {
  value = "cert for ${var.host}"
}`,
}

func TestModules(t *testing.T) {
	c := loadString(t, moduleFiles)
	hg := compileOK(t, c, testHost(), nil)
	want := []string{
		`capture[first]`,
		`capture[report]`,
		`module.extra[0].capture[after]`,
		`module.extra[0].capture[conf]`,
		`module.extra[0].capture[secret]`,
		`module.extra[0].module.tls.capture[cert]`,
		`module.sites["blog"].capture[after]`,
		`module.sites["blog"].capture[conf]`,
		`module.sites["blog"].capture[secret]`,
		`module.sites["blog"].module.tls.capture[cert]`,
		`module.sites["shop"].capture[after]`,
		`module.sites["shop"].capture[conf]`,
		`module.sites["shop"].capture[secret]`,
		`module.sites["shop"].module.tls.capture[cert]`,
	}
	if diff := cmp.Diff(want, sortedCopy(addrs(hg))); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
	cert := capturedAt(t, hg, `module.sites["shop"].module.tls.capture[cert]`)
	if cert.Addr != (resources.Addr{Module: `module.sites["shop"].module.tls`, Kind: "capture", Name: "cert"}) || cert.Dir != "modules/tls" {
		t.Errorf("cert addr %+v dir %q", cert.Addr, cert.Dir)
	}
	for addr, w := range map[string]string{
		`module.sites["shop"].capture[conf]`:            "server shop:8080",
		`module.sites["blog"].capture[after]`:           "server blog:8081!",
		`module.extra[0].capture[conf]`:                 "server extra0:80",
		`module.extra[0].capture[secret]`:               "none",
		`module.sites["blog"].module.tls.capture[cert]`: "cert for blog.example",
		`capture[report]`:                               "server shop:8080",
	} {
		if v := valueAt(t, hg, addr, "value"); !v.RawEquals(cty.StringVal(w)) {
			t.Errorf("%s = %#v, want %q", addr, v, w)
		}
	}
	// file() reads relative to the module directory.
	if v := valueAt(t, hg, `module.sites["shop"].capture[conf]`, "other"); !v.RawEquals(cty.StringVal("static in module")) {
		t.Errorf("file() in a module = %#v", v)
	}
	if v := valueAt(t, hg, `capture[report]`, "list"); !v.RawEquals(cty.TupleVal([]cty.Value{cty.StringVal("blog"), cty.StringVal("shop")})) {
		t.Errorf("outputs of all instances = %#v", v)
	}
	// A sensitive input stays sensitive inside the module.
	if a := capturedAt(t, hg, `module.sites["shop"].capture[secret]`).Attrs["value"]; !a.Sensitive || !a.Value.RawEquals(cty.StringVal("hunter2")) {
		t.Errorf("secret = %#v sensitive %v", a.Value, a.Sensitive)
	}
	deps := depsOf(hg)
	// References and depends_on inside a module stay in its instance; the
	// call's depends_on holds for everything in it, nested modules too.
	wantDeps := map[string][]string{
		`module.sites["shop"].capture[after]`:           {`capture[first]`, `module.sites["shop"].capture[conf]`, `module.sites["shop"].capture[secret]`},
		`module.sites["shop"].capture[conf]`:            {`capture[first]`},
		`module.sites["shop"].module.tls.capture[cert]`: {`capture[first]`},
		`module.extra[0].capture[after]`:                {`module.extra[0].capture[conf]`, `module.extra[0].capture[secret]`},
		// An output reference depends on what the output refers to.
		`capture[report]`: {`module.extra[0].capture[conf]`, `module.sites["blog"].capture[conf]`, `module.sites["shop"].capture[conf]`},
	}
	for k, w := range wantDeps {
		if diff := cmp.Diff(w, deps[k]); diff != "" {
			t.Errorf("%s deps (-want +got):\n%s", k, diff)
		}
	}
	for _, n := range hg.Nodes {
		if n.Role != "web" {
			t.Errorf("%s role = %q", n.Addr, n.Role)
		}
		if n.Resource.Addr() != n.Addr {
			t.Errorf("%s: resource says %s", n.Addr, n.Resource.Addr())
		}
	}
	// The module files join Files, for diagnostics.
	if _, ok := c.Files()["modules/site/main.hcl"]; !ok {
		t.Errorf("Files lacks the module's file: %v", sortedNames(c.Files()))
	}
}

// countingFS counts the reads of each file.
type countingFS struct {
	fstest.MapFS
	mu    sync.Mutex
	reads map[string]int
}

func (f *countingFS) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	f.reads[name]++
	f.mu.Unlock()
	return f.MapFS.ReadFile(name)
}

// A module directory is read and parsed once per Load however many calls,
// roles and hosts use it.
func TestModuleParsedOnce(t *testing.T) {
	files := map[string]string{}
	for k, v := range moduleFiles {
		files[k] = v
	}
	files["other.hcl"] = `
role "db" {
  hosts = ["*"]
  module "again" {
    source = "./modules/site"
    name   = "again"
  }
  module "tls" {
    source = "./modules/tls"
    host   = "db"
  }
}`
	fsys := &countingFS{MapFS: mapFS(files), reads: map[string]int{}}
	c, diags := Load(fsys, ".")
	if len(diags) > 0 {
		t.Fatalf("Load: %s", diagText(c, diags))
	}
	for i := 0; i < 3; i++ {
		h := testHost()
		h.Name = []string{"a", "b", "c"}[i]
		compileOK(t, c, h, nil)
	}
	for _, f := range []string{"modules/site/main.hcl", "modules/site/variables.hcl", "modules/tls/main.hcl", "modules/site/templates/site.tmpl"} {
		if n := fsys.reads[f]; n != 1 {
			t.Errorf("%s was read %d times, want once", f, n)
		}
	}
	if len(c.modules) != 2 {
		t.Errorf("modules loaded: %d, want 2", len(c.modules))
	}
}

// Two roles that select one host and call a module by the same name clash;
// on a host only one of them selects, they do not.
func TestModuleCallClash(t *testing.T) {
	c := loadString(t, map[string]string{
		"main.hcl": `
role "a" {
  hosts = ["group:web"]
  module "x" {
    source = "./m"
  }
}
role "b" {
  hosts = ["web1"]
  module "x" {
    source = "./m"
  }
}`,
		"m/main.hcl": `capture "c" { value = "c" }`,
	})
	_, diags := c.Compile(testHost(), nil)
	if len(diags) != 1 || diags[0].Summary != "Duplicate module call" || pos(*diags[0].Subject) != "main.hcl:10:10" ||
		!strings.Contains(diags[0].Detail, `main.hcl:4:3 (role "a")`) {
		t.Errorf("diags = %s", diagText(c, diags))
	}
	hg := compileOK(t, c, &inventory.Host{Name: "web2", Groups: []string{"web"}}, nil)
	if diff := cmp.Diff([]string{"module.x.capture[c]"}, addrs(hg)); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
}

// A problem inside a module that every instance has is reported once; one
// that only some have names them.
func TestModuleInstanceDiagnostics(t *testing.T) {
	c := loadString(t, map[string]string{
		"main.hcl": `
role "web" {
  hosts = ["*"]
  module "m" {
    source   = "./m"
    for_each = toset(["a", "b", "c"])
    name     = each.key
  }
}`,
		"m/main.hcl": `
variable "name" {
  type = string
  validation {
    condition     = var.name != "c"
    error_message = "Not c."
  }
}
capture "c" {
  value = var.name == "b" ? nosuch() : "ok"
  fail  = "always"
}`,
	})
	_, diags := c.Compile(testHost(), nil)
	var got []string
	for _, d := range diags {
		got = append(got, pos(*d.Subject)+" "+d.Summary+": "+d.Detail)
	}
	want := []string{
		`m/main.hcl:10:29 Call to unknown function: In module.m["b"].capture[c]: There is no function named "nosuch".`,
		`m/main.hcl:11:11 Capture failed: In module.m["a"].capture[c] and module.m["c"].capture[c]: The capture was told to fail.`,
		"main.hcl:7:16 Invalid value for variable: In module.m[\"c\"]: Not c.\n\nThis was checked by the validation rule of variable \"name\" at m/main.hcl:4:3.",
	}
	slices := sortedCopy(got)
	if diff := cmp.Diff(want, slices); diff != "" {
		t.Errorf("diags (-want +got):\n%s", diff)
	}
}
