package config

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// eval evaluates src with c's functions and a sensitive variable "secret".
func eval(t *testing.T, c *Config, src string) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %v", src, diags)
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"secret": cty.StringVal("pw").Mark(sensitiveMark)},
		Functions: c.root.funcs,
	}
	v, ds := expr.Value(ctx)
	return v, templateDiags(ds)
}

func TestFunctionsPresent(t *testing.T) {
	c := loadString(t, map[string]string{"a.hcl": ""})
	// The set the spec language promises (Terraform's names).
	for _, name := range strings.Fields(`upper lower format formatlist join split replace regex
		regexall trimspace trim trimprefix trimsuffix substr strrev title chomp indent concat
		merge keys values lookup length contains element flatten distinct range slice sort
		reverse zipmap coalesce coalescelist compact setunion setintersection setsubtract
		setproduct min max abs ceil floor parseint tostring tonumber tobool tolist toset tomap
		jsondecode jsonencode csvdecode timeadd formatdate try can file templatefile sha256
		base64encode base64decode yamlencode yamldecode`) {
		if _, ok := c.root.funcs[name]; !ok {
			t.Errorf("function %s is missing", name)
		}
	}
}

func TestFunctions(t *testing.T) {
	c := loadString(t, map[string]string{
		"a.hcl":       "",
		"data/x.txt":  "from a file\n",
		"data/t.tmpl": "%{ for k, v in m }${k}=${v};%{ endfor }",
	})
	str := cty.StringVal
	num := cty.NumberIntVal
	tests := []struct {
		src  string
		want cty.Value
	}{
		{`upper("abc")`, str("ABC")},
		{`format("%s-%03d", "a", 7)`, str("a-007")},
		{`join(",", split(" ", "a b c"))`, str("a,b,c")},
		{`replace("a.b.c", ".", "/")`, str("a/b/c")},
		{`replace("a1b22c", "/[0-9]+/", "#")`, str("a#b#c")},
		{`regex("v([0-9]+)", "v42")`, cty.TupleVal([]cty.Value{str("42")})},
		{`trimspace("  x \n")`, str("x")},
		{`strrev("abc")`, str("cba")},
		{`reverse([1, 2])`, cty.TupleVal([]cty.Value{num(2), num(1)})},
		{`length("héllo")`, num(5)},
		{`length([1, 2, 3])`, num(3)},
		{`length({ a = 1 })`, num(1)},
		{`indent(2, "a\nb")`, str("a\n  b")},
		{`lookup({ a = "x" }, "b", "dflt")`, str("dflt")},
		{`contains(["a"], "a")`, cty.True},
		{`flatten([[1], [2, [3]]])`, cty.TupleVal([]cty.Value{num(1), num(2), num(3)})},
		{`max(1, 5, 3)`, num(5)},
		{`parseint("ff", 16)`, num(255)},
		{`tonumber("12")`, num(12)},
		{`coalesce("", "b")`, str("b")},
		{`keys(merge({ b = 1 }, { a = 2 }))`, cty.TupleVal([]cty.Value{str("a"), str("b")})},
		{`keys(tomap({ b = 1, a = 2 }))`, cty.ListVal([]cty.Value{str("a"), str("b")})},
		{`coalesce(null, "", "c")`, str("c")},
		{`coalesce(null, 0, 1)`, num(0)},
		{`sha256("hello")`, str("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")},
		{`base64encode("hi")`, str("aGk=")},
		{`base64decode("aGk=")`, str("hi")},
		{`jsonencode({ a = [1, "x"] })`, str(`{"a":[1,"x"]}`)},
		{`jsondecode("{\"a\": 1}").a`, num(1)},
		{`yamlencode({ a = ["x"] })`, str("\"a\":\n- \"x\"\n")},
		{`yamldecode("a: [1, 2]").a[1]`, num(2)},
		{`csvdecode("a,b\n1,2\n")[0].b`, str("2")},
		{`formatdate("YYYY-MM-DD", "2024-03-01T10:00:00Z")`, str("2024-03-01")},
		{`timeadd("2024-03-01T10:00:00Z", "1h")`, str("2024-03-01T11:00:00Z")},
		{`try(tonumber("x"), 0)`, num(0)},
		{`can(regex("^a", "b"))`, cty.False},
		{`startswith("abc", "ab")`, cty.True},
		{`file("data/x.txt")`, str("from a file\n")},
		{`fileexists("data/x.txt")`, cty.True},
		{`fileexists("data/none")`, cty.False},
		{`filebase64("data/x.txt")`, str("ZnJvbSBhIGZpbGUK")},
		{`templatefile("data/t.tmpl", { m = { a = 1, b = "x" } })`, str("a=1;b=x;")},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, diags := eval(t, c, tt.src)
			if diags.HasErrors() {
				t.Fatalf("%s: %v", tt.src, diags)
			}
			if !got.RawEquals(tt.want) {
				t.Errorf("%s = %#v, want %#v", tt.src, got, tt.want)
			}
		})
	}
}

func TestFunctionsKeepMarks(t *testing.T) {
	c := loadString(t, map[string]string{"a.hcl": "", "t.tmpl": "pw=${pw}"})
	for _, src := range []string{
		`upper(secret)`,
		`"x${secret}"`,
		`sha256(secret)`,
		`jsonencode({ a = secret })`,
		`yamlencode([secret])`,
		`templatefile("t.tmpl", { pw = secret })`,
		`join(",", ["a", secret])`,
		`try(secret, "x")`,
		`[secret][0]`,
	} {
		v, diags := eval(t, c, src)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", src, diags)
		}
		if !v.HasMark(sensitiveMark) && !v.ContainsMarked() {
			t.Errorf("%s lost the sensitive mark: %#v", src, v)
		}
	}
}

func TestFunctionErrors(t *testing.T) {
	c := loadString(t, map[string]string{"a.hcl": "", "bin": "\xff\xfe", "bad.tmpl": "x\n${nope}"})
	tests := []struct{ src, detail string }{
		{`file("../x")`, "leads outside"},
		{`file("/etc/passwd")`, "is absolute"},
		{`file("none")`, "no file none"},
		{`file("bin")`, "not valid UTF-8"},
		{`base64decode("!!")`, "not valid base64"},
		{`templatefile("templatefile.tmpl", {})`, "no file"},
		{`length(1)`, "must be a string"},
	}
	for _, tt := range tests {
		_, diags := eval(t, c, tt.src)
		if !diags.HasErrors() || !strings.Contains(diags[0].Detail, tt.detail) {
			t.Errorf("%s: diags %v, want a detail containing %q", tt.src, diags, tt.detail)
		}
	}
	// An error in a template points into the template.
	_, diags := eval(t, c, `templatefile("bad.tmpl", {})`)
	if len(diags) != 1 || diags[0].Subject == nil || pos(*diags[0].Subject) != "bad.tmpl:2:3" {
		t.Errorf("template error: %v", diags)
	}
	// templatefile is not available inside templates.
	c = loadString(t, map[string]string{"a.hcl": "", "r.tmpl": `${templatefile("r.tmpl", {})}`})
	_, diags = eval(t, c, `templatefile("r.tmpl", {})`)
	if !diags.HasErrors() || diags[0].Summary != "Call to unknown function" || diags[0].Subject.Filename != "r.tmpl" {
		t.Errorf("recursive template: %v", diags)
	}
}

// TestTemplateInvalidUTF8 checks that a template that is not UTF-8 is one
// error at its bad byte, as a spec file is (internal/hclsrc).
func TestTemplateInvalidUTF8(t *testing.T) {
	c := loadString(t, map[string]string{
		"main.hcl": `
role "web" {
  hosts = ["*"]
  file "conf" {
    path    = "/etc/conf"
    content = templatefile("bad.tmpl", { name = host.name })
  }
}
`,
		"bad.tmpl": "name = ${name}\ncaf\xe9\nend\n",
	})
	_, diags := c.Compile(testHost(), nil)
	var found bool
	for _, d := range diags {
		if d.Summary == "Invalid UTF-8" && d.Subject != nil && d.Subject.Filename == "bad.tmpl" && d.Subject.Start.Line == 2 && d.Subject.Start.Column == 4 {
			found = true
		}
	}
	if !found || !diags.HasErrors() {
		t.Errorf("diagnostics: %v; want Invalid UTF-8 at bad.tmpl:2,4", diags)
	}
}
