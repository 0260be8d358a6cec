package config

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/resources"
)

func addrs(hg *HostGraph) []string {
	var out []string
	for _, n := range hg.Nodes {
		out = append(out, n.Addr.String())
	}
	return out
}

func TestLoadDirectory(t *testing.T) {
	c, diags := Load(os.DirFS("testdata/valid"), "specs")
	if len(diags) > 0 {
		t.Fatalf("Load: %s", diagText(c, diags))
	}
	// Only *.hcl directly in specs/; templates/not_a_spec.hcl is not HCL
	// and must not have been parsed. Names are paths within the FS.
	if diff := cmp.Diff([]string{"specs/base.hcl", "specs/web.hcl"}, sortedNames(c.Files())); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
	var roles []string
	for _, r := range c.Roles() {
		roles = append(roles, r.Name+"@"+pos(r.DeclRange))
	}
	if diff := cmp.Diff([]string{"base@specs/base.hcl:5:1", "web@specs/web.hcl:17:1"}, roles); diff != "" {
		t.Errorf("Roles (-want +got):\n%s", diff)
	}
	web := c.Roles()[1]
	if diff := cmp.Diff([]string{"group:web", "host:db1", "web-*"}, web.Hosts); diff != "" {
		t.Errorf("web hosts (-want +got):\n%s", diff)
	}
	vars := c.Variables()
	if p := vars["app_port"]; p == nil || p.Type != cty.Number || !p.Default.RawEquals(cty.NumberIntVal(5000)) ||
		p.Description != "The port the app listens on." || p.Sensitive || p.Required() {
		t.Errorf("app_port = %+v", p)
	}
	if tok := vars["api_token"]; tok == nil || !tok.Sensitive || !tok.Required() {
		t.Errorf("api_token = %+v", tok)
	}

	// Compiling reads the template, which then joins Files for
	// diagnostics.
	vals := map[string]cty.Value{"api_token": cty.StringVal("t0k3n")}
	compileOK(t, c, testHost(), vals)
	if _, ok := c.Files()["specs/templates/config.toml.tmpl"]; !ok {
		t.Errorf("the template is not in Files after Compile: %v", sortedNames(c.Files()))
	}
}

func TestCompileExample(t *testing.T) {
	c, diags := Load(os.DirFS("testdata/valid"), "specs")
	if len(diags) > 0 {
		t.Fatalf("Load: %s", diagText(c, diags))
	}
	vals := map[string]cty.Value{"api_token": cty.StringVal("t0k3n")}
	hg := compileOK(t, c, testHost(), vals)
	want := []string{
		"directory[/etc/base]",
		"directory[/etc/devops-map]",
		"file[/etc/base/issue]",
		"file[/etc/devops-map/config.toml]",
		"file[/etc/motd]",
		"symlink[/usr/local/bin/x]",
	}
	if diff := cmp.Diff(want, addrs(hg)); diff != "" {
		t.Errorf("Nodes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, hg.Graph.Nodes()); diff != "" {
		t.Errorf("Graph.Nodes (-want +got):\n%s", diff)
	}
	for _, n := range hg.Nodes {
		if n.Resource == nil {
			t.Errorf("%s was not built", n.Addr)
		}
		if n.Resource != nil && n.Resource.Addr() != n.Addr {
			t.Errorf("%s: resource says it is %s", n.Addr, n.Resource.Addr())
		}
	}
	byAddr := map[string]*Node{}
	for _, n := range hg.Nodes {
		byAddr[n.Addr.String()] = n
	}
	sl := byAddr["symlink[/usr/local/bin/x]"]
	if diff := cmp.Diff([]resources.Addr{{Kind: "directory", Name: "/etc/devops-map"}}, sl.Deps); diff != "" {
		t.Errorf("symlink deps (-want +got):\n%s", diff)
	}
	if sl.Role != "web" || pos(sl.DeclRange) != "specs/web.hcl:31:3" {
		t.Errorf("symlink role %q at %s", sl.Role, pos(sl.DeclRange))
	}
	if byAddr["file[/etc/base/issue]"].Role != "base" {
		t.Errorf("issue role = %q", byAddr["file[/etc/base/issue]"].Role)
	}

	// The real file kind got the rendered template, marked sensitive
	// because the token is: look at the change it plans for a path that
	// does not exist on this machine.
	f := byAddr["file[/etc/devops-map/config.toml]"].Resource
	ch := planLocally(t, f)
	if ch.Content == nil {
		t.Fatalf("no content change for %s: %+v", f.Addr(), ch)
	}
	wantContent := "[server]\nport = 8080\napp_port = 5000\ntoken = \"t0k3n\"\n"
	if got := string(ch.Content.After); got != wantContent {
		t.Errorf("config.toml content = %q, want %q", got, wantContent)
	}
	if !ch.Content.Sensitive {
		t.Errorf("config.toml content is not sensitive although it holds a sensitive variable")
	}
	motd := planLocally(t, byAddr["file[/etc/motd]"].Resource)
	if motd.Content != nil && motd.Content.Sensitive {
		t.Errorf("motd content is sensitive although nothing in it is")
	}

	// A host no role but base selects gets base only.
	other := &inventory.Host{Name: "db2", Vars: cty.ObjectVal(map[string]cty.Value{"env": cty.StringVal("x")})}
	hg = compileOK(t, c, other, vals)
	if diff := cmp.Diff([]string{"directory[/etc/base]", "file[/etc/base/issue]"}, addrs(hg)); diff != "" {
		t.Errorf("db2 nodes (-want +got):\n%s", diff)
	}
}

// planLocally probes this machine (with sh, as the engine would probe a
// host) for what r needs and returns r's Diff.
func planLocally(t *testing.T, r resources.Resource) *resources.Change {
	t.Helper()
	p := resources.NewProbe()
	r.Observe(p)
	cmd := p.Cmd()
	ex := exec.CommandContext(context.Background(), cmd.Args[0], cmd.Args[1:]...)
	ex.Stdin = cmd.Stdin
	out, err := ex.Output()
	if err != nil {
		t.Fatalf("probe for %s: %v", r.Addr(), err)
	}
	o, err := resources.ParseProbe(p, out)
	if err != nil {
		t.Fatalf("parse probe for %s: %v", r.Addr(), err)
	}
	ch, err := r.Diff(o)
	if err != nil {
		t.Fatalf("diff %s: %v", r.Addr(), err)
	}
	return ch
}

func TestTemplatefileWithHostVars(t *testing.T) {
	c := loadString(t, map[string]string{
		"a.hcl": `
role "r" {
  hosts = ["*"]
  capture "t" {
    value = templatefile("templates/t.tmpl", {
      name   = host.name
      addr   = host.address
      port   = host.vars.http_port
      groups = host.groups
    })
  }
}`,
		"templates/t.tmpl":   "%{ for g in groups }[${g}]%{ endfor }\n${name} ${addr}:${port} ${upper(file(\"templates/word.txt\"))}\n",
		"templates/word.txt": "hi",
	})
	hg := compileOK(t, c, testHost(), nil)
	got := attr(t, hg, "t", "value")
	want := "[all][web]\nweb1 10.0.0.1:8080 HI\n"
	if !got.Value.RawEquals(cty.StringVal(want)) {
		t.Errorf("value = %#v, want %q", got.Value, want)
	}
	if got.Sensitive {
		t.Error("value is sensitive, but nothing in it is")
	}
	if pos(got.Range) != "a.hcl:5:13" {
		t.Errorf("range = %s, want the expression at a.hcl:5:13", pos(got.Range))
	}
	// Address defaults to the name; a host without vars or groups works.
	bare := &inventory.Host{Name: "bare", Vars: cty.ObjectVal(map[string]cty.Value{"http_port": cty.NumberIntVal(1)})}
	hg = compileOK(t, c, bare, nil)
	if v := attr(t, hg, "t", "value").Value; !v.RawEquals(cty.StringVal("\nbare bare:1 HI\n")) {
		t.Errorf("bare host value = %#v", v)
	}
}

func TestLocals(t *testing.T) {
	c := loadString(t, map[string]string{
		// locals across files and blocks, in an order that is not the
		// order of evaluation
		"a.hcl": `
locals {
  greeting = "${local.salutation}, ${local.who}"
}
role "r" {
  hosts = ["*"]
  capture "l" {
    value = local.greeting
    list  = local.ports
  }
}`,
		"b.hcl": `
variable "base_port" {
  default = 8000
}
locals {
  who = host.name
}
locals {
  salutation = title(var.word)
  ports      = [for i in range(2) : var.base_port + i]
}
variable "word" {
  type    = string
  default = "hello"
}`,
	})
	hg := compileOK(t, c, testHost(), nil)
	if v := attr(t, hg, "l", "value").Value; !v.RawEquals(cty.StringVal("Hello, web1")) {
		t.Errorf("greeting = %#v", v)
	}
	ports := attr(t, hg, "l", "list").Value
	if !ports.RawEquals(cty.TupleVal([]cty.Value{cty.NumberIntVal(8000), cty.NumberIntVal(8001)})) {
		t.Errorf("ports = %#v", ports)
	}
	// Locals are evaluated per host.
	h2 := testHost()
	h2.Name = "web2"
	hg = compileOK(t, c, h2, map[string]cty.Value{"word": cty.StringVal("bye")})
	if v := attr(t, hg, "l", "value").Value; !v.RawEquals(cty.StringVal("Bye, web2")) {
		t.Errorf("greeting for web2 = %#v", v)
	}
}

func TestVariablePrecedence(t *testing.T) {
	c := loadString(t, map[string]string{"a.hcl": `
variable "port" {
  type    = number
  default = 5000
}
variable "name" {
  default = "dflt"
}
variable "ports" {
  type    = list(number)
  default = []
}
variable "opts" {
  type = object({ a = string, b = optional(number, 7) })
  default = { a = "x" }
}
role "r" {
  hosts = ["*"]
  capture "v" {
    value = "${var.name}:${var.port}"
    list  = var.ports
    other = var.opts
  }
}`})
	tests := []struct {
		name              string
		given             map[string]cty.Value
		value, list, opts cty.Value
	}{
		{
			name:  "defaults",
			value: cty.StringVal("dflt:5000"),
			list:  cty.ListValEmpty(cty.Number),
			opts:  cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x"), "b": cty.NumberIntVal(7)}),
		},
		{
			name: "given win and are converted",
			given: map[string]cty.Value{
				"port":  cty.StringVal("80"), // as -var gives it
				"ports": cty.TupleVal([]cty.Value{cty.NumberIntVal(1), cty.StringVal("2")}),
				"opts":  cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("y")}),
			},
			value: cty.StringVal("dflt:80"),
			list:  cty.ListVal([]cty.Value{cty.NumberIntVal(1), cty.NumberIntVal(2)}),
			opts:  cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("y"), "b": cty.NumberIntVal(7)}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hg := compileOK(t, c, testHost(), tt.given)
			for a, want := range map[string]cty.Value{"value": tt.value, "list": tt.list, "other": tt.opts} {
				if got := attr(t, hg, "v", a).Value; !got.RawEquals(want) {
					t.Errorf("%s = %#v, want %#v", a, got, want)
				}
			}
		})
	}
}

func TestParseVar(t *testing.T) {
	c := loadString(t, map[string]string{"a.hcl": `
variable "port" {
  type = number
}
variable "name" {}
variable "ports" {
  type = list(number)
}
variable "anything" {
  type = any
}`})
	tests := []struct {
		arg      string
		name     string
		want     cty.Value
		errSumm  string
		errMatch string
	}{
		{arg: "port=80", name: "port", want: cty.NumberIntVal(80)},
		{arg: "name=a=b c", name: "name", want: cty.StringVal("a=b c")}, // literal, first = splits
		{arg: "name=", name: "name", want: cty.StringVal("")},
		{arg: "ports=[1, 2]", name: "ports", want: cty.ListVal([]cty.Value{cty.NumberIntVal(1), cty.NumberIntVal(2)})},
		{arg: `anything={ a = "b" }`, name: "anything", want: cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("b")})},
		{arg: "port=eighty", errSumm: "Invalid value for variable", errMatch: "a number is required"},
		{arg: "ports=[1,", errSumm: "Missing expression", errMatch: ""},
		{arg: "nope=1", errSumm: "Value for undeclared variable", errMatch: `"nope"`},
		{arg: "novalue", errSumm: "Invalid -var option", errMatch: "NAME=VALUE"},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			name, v, diags := ParseVar(c, tt.arg)
			if tt.errSumm != "" {
				if !diags.HasErrors() || diags[0].Summary != tt.errSumm || !strings.Contains(diags[0].Detail, tt.errMatch) {
					t.Fatalf("diags = %v, want %q containing %q", diags, tt.errSumm, tt.errMatch)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatalf("ParseVar: %v", diags)
			}
			if name != tt.name || !v.RawEquals(tt.want) {
				t.Errorf("got %s = %#v, want %s = %#v", name, v, tt.name, tt.want)
			}
		})
	}
}

func TestLoadVarFile(t *testing.T) {
	for _, f := range []string{"testdata/valid/vars.hcl", "testdata/valid/vars.json"} {
		t.Run(f, func(t *testing.T) {
			vals, diags := LoadVarFile(f)
			if diags.HasErrors() {
				t.Fatalf("LoadVarFile: %v", diags)
			}
			want := map[string]string{"vars.hcl": "6000 s3cret", "vars.json": "7000 from-json"}[strings.TrimPrefix(f, "testdata/valid/")]
			got := vals["app_port"].Value.AsBigFloat().String() + " " + vals["api_token"].Value.AsString()
			if got != want || len(vals) != 2 {
				t.Errorf("values = %v, want %s", vals, want)
			}
		})
	}
	_, diags := LoadVarFile("testdata/valid/nope.hcl")
	if !diags.HasErrors() || diags[0].Summary != "Cannot read variable file" {
		t.Errorf("missing file: %v", diags)
	}
	bad := t.TempDir() + "/bad.hcl"
	if err := os.WriteFile(bad, []byte("a = 1\nb = var.x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vals, diags := LoadVarFile(bad)
	if !diags.HasErrors() || diags[0].Subject == nil || diags[0].Subject.Start.Line != 2 {
		t.Errorf("a var file with a reference: %v", diags)
	}
	if !vals["a"].Value.RawEquals(cty.NumberIntVal(1)) || pos(vals["a"].Range) != pos(hcl.Range{Filename: bad, Start: hcl.Pos{Line: 1, Column: 5}}) {
		t.Errorf("the good value is lost: %v", vals)
	}
}

func TestReferencesMakeEdges(t *testing.T) {
	c := loadString(t, map[string]string{"a.hcl": `
role "r" {
  hosts = ["*"]
  capture "c" {
    value = "${capture["b"].value}+c"
    other = capture.a.value
  }
  capture "a" {
    value = "a"
  }
  capture "b" {
    value = "${capture["a"].value}+b"
    list  = [capture["a"].list]  # unset: null
  }
  capture "d" {
    value      = "d"
    depends_on = [capture["c"], capture["a"]]
  }
}`})
	hg := compileOK(t, c, testHost(), nil)
	if diff := cmp.Diff([]string{"capture[a]", "capture[b]", "capture[c]", "capture[d]"}, addrs(hg)); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	deps := map[string][]string{}
	for _, n := range hg.Nodes {
		for _, d := range n.Deps {
			deps[n.Addr.String()] = append(deps[n.Addr.String()], d.String())
		}
		if diff := cmp.Diff(deps[n.Addr.String()], hg.Graph.DependsOn(n.Addr.String()), cmpNilEmpty); diff != "" {
			t.Errorf("%s: Deps and Graph differ (-Deps +Graph):\n%s", n.Addr, diff)
		}
	}
	wantDeps := map[string][]string{
		"capture[b]": {"capture[a]"},
		"capture[c]": {"capture[a]", "capture[b]"},
		"capture[d]": {"capture[a]", "capture[c]"},
	}
	if diff := cmp.Diff(wantDeps, deps); diff != "" {
		t.Errorf("deps (-want +got):\n%s", diff)
	}
	if v := attr(t, hg, "c", "value").Value; !v.RawEquals(cty.StringVal("a+b+c")) {
		t.Errorf("c.value = %#v", v)
	}
	if v := attr(t, hg, "c", "other").Value; !v.RawEquals(cty.StringVal("a")) {
		t.Errorf("c.other = %#v", v)
	}
	if v := attr(t, hg, "b", "list").Value; !v.RawEquals(cty.TupleVal([]cty.Value{cty.NullVal(cty.DynamicPseudoType)})) {
		t.Errorf("b.list = %#v", v)
	}
}

var cmpNilEmpty = cmp.Transformer("nilEmpty", func(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
})

func TestSensitive(t *testing.T) {
	c := loadString(t, map[string]string{
		"a.hcl": `
variable "password" {
  sensitive = true
}
variable "user" {
  default = "admin"
}
locals {
  dsn = "postgres://${var.user}:${var.password}@db"
}
role "r" {
  hosts = ["*"]
  capture "direct" {
    value = var.password
    other = var.user
  }
  capture "template" {
    value = templatefile("t.tmpl", { pw = var.password, user = var.user })
    other = templatefile("t.tmpl", { pw = "public", user = var.user })
  }
  capture "local" {
    value = local.dsn
    other = upper(var.user)
  }
  capture "deep" {
    list = ["a", var.password]
  }
  capture "ref" {
    value = capture["direct"].value
    other = capture["direct"].other
  }
  capture "function" {
    value = sha256(base64encode(var.password))
  }
}`,
		"t.tmpl": "user=${user}\npw=${pw}\n",
	})
	hg := compileOK(t, c, testHost(), map[string]cty.Value{"password": cty.StringVal("hunter2")})
	tests := []struct {
		name, attr string
		sensitive  bool
	}{
		{"direct", "value", true},
		{"direct", "other", false},
		{"template", "value", true},
		{"template", "other", false},
		{"local", "value", true},
		{"local", "other", false},
		{"deep", "list", true},
		{"ref", "value", true},
		{"ref", "other", false},
		{"function", "value", true},
	}
	for _, tt := range tests {
		a := attr(t, hg, tt.name, tt.attr)
		if a.Sensitive != tt.sensitive {
			t.Errorf("capture[%s].%s Sensitive = %v, want %v", tt.name, tt.attr, a.Sensitive, tt.sensitive)
		}
		if a.Value.ContainsMarked() {
			t.Errorf("capture[%s].%s is still marked: kinds get unmarked values", tt.name, tt.attr)
		}
	}
	if v := attr(t, hg, "template", "value").Value; !v.RawEquals(cty.StringVal("user=admin\npw=hunter2\n")) {
		t.Errorf("template value = %#v", v)
	}
}

func TestNodesOrderIsDeterministic(t *testing.T) {
	c := loadString(t, map[string]string{
		"z.hcl": `
role "z" {
  hosts = ["*"]
  file "/z/1" { content = "1" }
  file "/a/2" {
    content    = "2"
    depends_on = [directory["/y"]]
  }
  directory "/y" {}
}`,
		"a.hcl": `
role "a" {
  hosts = ["*"]
  symlink "/b" { target = "/x" }
  directory "/x" {}
  file "/m" {
    content    = "m"
    depends_on = [symlink["/b"], file["/z/1"]]
  }
}`,
	})
	want := []string{"directory[/x]", "directory[/y]", "file[/a/2]", "file[/z/1]", "symlink[/b]", "file[/m]"}
	for i := 0; i < 20; i++ {
		hg := compileOK(t, c, testHost(), nil)
		if diff := cmp.Diff(want, addrs(hg)); diff != "" {
			t.Fatalf("run %d: Nodes (-want +got):\n%s", i, diff)
		}
	}
}

func TestNullIsUnset(t *testing.T) {
	c := loadString(t, map[string]string{"a.hcl": `
variable "maybe" {
  default = null
}
role "r" {
  hosts = ["*"]
  capture "n" {
    value = var.maybe
    other = "set"
  }
}`})
	b := captured(t, compileOK(t, c, testHost(), nil), "n")
	if _, ok := b.Attrs["value"]; ok {
		t.Error("an attribute set to null is passed to the kind")
	}
	if _, ok := b.Attrs["other"]; !ok || b.Name != "n" || b.Kind != "capture" || pos(b.LabelRange) != "a.hcl:7:11" || b.Dir != "." {
		t.Errorf("block = %+v", b)
	}
}

func TestSelects(t *testing.T) {
	c := loadString(t, map[string]string{"a.hcl": `
role "web" { hosts = ["group:web", "host:db1", "web-*"] }
role "none" { hosts = [] }
`})
	web, none := c.Roles()[0], c.Roles()[1]
	tests := []struct {
		host   *inventory.Host
		web    bool
		reason string
	}{
		{&inventory.Host{Name: "x", Groups: []string{"web"}}, true, "group"},
		{&inventory.Host{Name: "db1"}, true, "host"},
		{&inventory.Host{Name: "web-7"}, true, "glob"},
		{&inventory.Host{Name: "db2", Groups: []string{"db"}}, false, "nothing"},
	}
	for _, tt := range tests {
		if got := c.Selects(web, tt.host); got != tt.web {
			t.Errorf("%s (%s): Selects = %v, want %v", tt.host.Name, tt.reason, got, tt.web)
		}
		if c.Selects(none, tt.host) {
			t.Errorf("an empty hosts list selects %s", tt.host.Name)
		}
	}
	hg := compileOK(t, c, &inventory.Host{Name: "db2"}, nil)
	if len(hg.Nodes) != 0 || hg.Host.Name != "db2" {
		t.Errorf("unselected host got %v", addrs(hg))
	}
}

func TestLoadProblems(t *testing.T) {
	_, diags := Load(mapFS(map[string]string{"README.md": "x"}), ".")
	if len(diags) != 1 || diags[0].Summary != "No spec files" {
		t.Errorf("empty directory: %v", diags)
	}
	c, diags := Load(mapFS(map[string]string{"a.hcl": "role \"r\" {hosts=[]}"}), "missing")
	if len(diags) != 1 || diags[0].Summary != "Cannot read spec directory" || c == nil {
		t.Errorf("missing directory: %v", diags)
	}
}

func TestValidate(t *testing.T) {
	files := map[string]string{
		"a.hcl": `
variable "port" {
  type    = number
  default = 80
}
locals {
  motd = "hi ${host.name} in ${join(",", host.groups)}"
}
role "web" {
  hosts = ["group:web"]
  file "/etc/app.conf" {
    content = templatefile("t.tmpl", { port = host.vars.http_port, p = var.port })
    mode    = host.vars.mode
  }
  file "/etc/motd" {
    content = local.motd
  }
  symlink "/etc/link" {
    target     = "/x"
    depends_on = [file["/etc/db.conf"]] # another role's: not checked here
  }
}
role "db" {
  hosts = ["group:db"]
  file "/etc/db.conf" {
    content = "${host.vars.db_name}"
  }
}`,
		"t.tmpl": "port=${port} ${p}\n",
	}
	c := loadString(t, files)
	if diags := c.Validate(nil); len(diags) > 0 {
		t.Errorf("Validate of a valid spec: %s", diagText(c, diags))
	}

	// Problems in known values are found without a host; every role is
	// checked; a problem shared by the roles is reported once.
	files["b.hcl"] = `
variable "token" {}
locals {
  bad = var.port + "x"
}
role "more" {
  hosts = ["group:more"]
  file "/etc/mode" {
    mode = "0999"
  }
  file "/etc/tpl" {
    content = templatefile("bad.tmpl", { a = host.vars.a })
  }
  directory "/d" {}
  directory "/d" {}
  file "/c1" {
    content = file["/c2"].content
  }
  file "/c2" {
    content = file["/c1"].content
  }
}`
	files["bad.tmpl"] = "${a} ${b}\n"
	c = loadString(t, files)
	// token is required and not given: that is not a problem for Validate.
	diags := c.Validate(given(map[string]cty.Value{"extra": cty.True}))
	var got []string
	for _, d := range diags {
		s := d.Summary
		if d.Subject != nil {
			s = pos(*d.Subject) + " " + s
		}
		got = append(got, s)
	}
	slices.Sort(got)
	want := []string{
		"Value for undeclared variable",
		"b.hcl:15:13 Duplicate resource",
		"b.hcl:16:3 Dependency cycle",
		"b.hcl:4:20 Invalid operand",
		"b.hcl:9:12 Invalid file mode",
		"bad.tmpl:1:8 Unknown variable",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Validate (-want +got):\n%s\n%s", diff, diagText(c, diags))
	}
}

func TestValidateWithoutRoles(t *testing.T) {
	c := loadString(t, map[string]string{"a.hcl": `
variable "n" {
  type = number
}
locals {
  x = var.n + 1
  y = nosuch(1)
}`})
	diags := c.Validate(given(map[string]cty.Value{"n": cty.StringVal("one")}))
	var got []string
	for _, d := range diags {
		got = append(got, d.Summary)
	}
	if diff := cmp.Diff([]string{"Invalid value for variable", "Call to unknown function"}, got); diff != "" {
		t.Errorf("Validate (-want +got):\n%s", diff)
	}
}

func TestCompileConcurrently(t *testing.T) {
	c, diags := Load(os.DirFS("testdata/valid"), "specs")
	if len(diags) > 0 {
		t.Fatalf("Load: %s", diagText(c, diags))
	}
	vals := map[string]cty.Value{"api_token": cty.StringVal("x")}
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := testHost()
			h.Name = "web-" + string(rune('a'+i))
			hg, diags := c.Compile(h, given(vals))
			if len(diags) > 0 || len(hg.Nodes) != 6 {
				errs <- diags.Error()
			}
			_ = c.Files()
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestDiagnosticsPrintWithSource(t *testing.T) {
	// Files() lets the CLI print snippets, template files included.
	fsys := fixtureFS(t, "testdata/invalid", "templates.hcl")
	c, diags := Load(fsys, ".")
	_, ds := c.Compile(testHost(), nil)
	diags = append(diags, ds...)
	var b strings.Builder
	if err := hcl.NewDiagnosticTextWriter(&b, c.Files(), 100, false).WriteDiagnostics(diags); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"on templates/bad_var.tmpl line 2:",
		"name = ${nmae}",
		"on templates.hcl line 14, in role \"web\":",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
