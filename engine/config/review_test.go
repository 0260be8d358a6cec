package config

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"unsafe"

	"filippo.io/age"
	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/resources"
)

// TestReviewFastNumbers checks the fast paths' number to string conversion
// against HCL's (cty's big.Float.Text('f', -1)) for numbers of every
// precision cty makes: integers above 2^53 from float64 functions (pow),
// negative zero, huge and non-integer values.
func TestReviewFastNumbers(t *testing.T) {
	c := loadString(t, map[string]string{
		"a.hcl":  "",
		"n.tmpl": "n=${n}",
	})
	negZero := cty.NumberVal(new(big.Float).Neg(new(big.Float)))
	nums := map[string]cty.Value{
		"pow60":    cty.NumberFloatVal(math.Pow(2, 60)),
		"negpow60": cty.NumberFloatVal(-math.Pow(2, 60)),
		"f1e18":    cty.NumberFloatVal(1e18),
		"f2e63":    cty.NumberFloatVal(math.Pow(2, 63)),
		"negzero":  negZero,
		"maxint":   cty.NumberIntVal(math.MaxInt64),
		"minint":   cty.NumberIntVal(math.MinInt64),
		"frac":     cty.NumberFloatVal(-0.1),
		"huge":     cty.MustParseNumberVal("1e400"),
		"third":    cty.MustParseNumberVal("1").Divide(cty.MustParseNumberVal("3")),
		"big53":    cty.NumberFloatVal(9007199254740993), // rounds to 2^53
	}
	for name, n := range nums {
		ctx := &hcl.EvalContext{
			Variables: map[string]cty.Value{"n": n},
			Functions: c.root.funcs,
		}
		for _, src := range []string{`"${n}"`, `"x${n}"`, `templatefile("n.tmpl", { n = n })`} {
			expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatalf("parse %s: %v", src, diags)
			}
			want, diags := expr.Value(&hcl.EvalContext{Variables: ctx.Variables, Functions: withoutFastTemplate(c)})
			if diags.HasErrors() {
				t.Fatalf("%s %s: %v", name, src, diags)
			}
			got, ok := c.fastValue(expr, ctx, c.root, &strArena{})
			if ok && !got.RawEquals(want) {
				t.Errorf("%s: %s: fast path gave %#v, HCL %#v", name, src, got, want)
			}
		}
	}
}

// TestReviewFastTemplateNFCNames: HCL turns an object key written as a
// bare name into a cty string, which NFC-normalises it, while a template's
// variable names are looked up as written. A key and a template variable
// both written decomposed ("e\u0301") therefore do not match in HCL
// ("Unknown variable"); the fast templatefile path compares the names as
// written and must not render what HCL rejects.
func TestReviewFastTemplateNFCNames(t *testing.T) {
	const decomposed = "e\u0301"
	spec := "role \"r\" {\n  hosts = [\"*\"]\n  capture \"c\" {\n    value = templatefile(\"nfc.tmpl\", { " + decomposed + " = \"d\" })\n  }\n}\n"
	c := loadString(t, map[string]string{"main.hcl": spec, "nfc.tmpl": "v=${" + decomposed + "}\n"})
	_, diags := c.Compile(testHost(), nil)
	if !diags.HasErrors() || diags[0].Summary != "Unknown variable" {
		t.Errorf("Compile: want HCL's \"Unknown variable\" in nfc.tmpl, got %s", diagText(c, diags))
	}
	expr, ds := hclsyntax.ParseExpression([]byte("templatefile(\"nfc.tmpl\", { "+decomposed+" = \"d\" })"), "x.hcl", hcl.InitialPos)
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	ctx := &hcl.EvalContext{Functions: c.root.funcs}
	if _, ds := expr.Value(&hcl.EvalContext{Functions: withoutFastTemplate(c)}); !ds.HasErrors() {
		t.Fatal("HCL renders the template; the premise of this test is wrong")
	}
	if v, ok := c.fastValue(expr, ctx, c.root, &strArena{}); ok {
		t.Errorf("fast path rendered %#v where HCL fails", v)
	}
}

// withoutFastTemplate returns the root module's functions with a reference
// templatefile: the one of functions.go without renderTemplate, so that
// HCL alone renders the template.
func withoutFastTemplate(c *Config) map[string]function.Function {
	inner := map[string]function.Function{}
	for n, f := range c.root.funcs {
		if n != "templatefile" {
			inner[n] = f
		}
	}
	all := map[string]function.Function{}
	for n, f := range inner {
		all[n] = f
	}
	all["templatefile"] = function.New(&function.Spec{
		Params: []function.Parameter{
			{Name: "path", Type: cty.String},
			{Name: "vars", Type: cty.DynamicPseudoType},
		},
		Type: function.StaticReturnType(cty.DynamicPseudoType),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			tm, err := c.loadTemplate(c.root.dir, args[0].AsString())
			if err != nil {
				return cty.DynamicVal, function.NewArgError(0, err)
			}
			if tm.diags.HasErrors() {
				return cty.DynamicVal, &templateError{tm.diags}
			}
			ctx := &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: inner}
			if !args[1].IsNull() {
				for k, v := range args[1].AsValueMap() {
					ctx.Variables[k] = v
				}
			}
			v, diags := tm.expr.Value(ctx)
			if diags.HasErrors() {
				return cty.DynamicVal, &templateError{diags}
			}
			return v, nil
		},
	})
	return all
}

// reviewDiagsMain and reviewDiagsMod are a spec whose diagnostics mix
// every kind of group: instances of for_each and count blocks that share
// a problem or not, kinds that reject values, module instances with
// failing locals, outputs and resources, and a for_each that fails.
const reviewDiagsMain = `variable "sites" {
  default = {
    a = { path = "/srv/a", port = 80 }
    b = { path = "/srv/b" }
    c = { path = "/srv/c", port = "x" }
    d = { path = "/srv/d", port = 81 }
    e = { path = "/srv/e" }
    f = { path = "/srv/f" }
  }
}
variable "pw" {
  default   = "hunter22secret"
  sensitive = true
}
role "web" {
  hosts = ["group:web", "host:db1"]

  capture "every" {
    for_each = var.sites
    value    = each.value.port
    fail     = "all fail"
  }
  capture "some" {
    for_each = var.sites
    value    = "${each.value.path}:${each.value.port}"
  }
  capture "mixed" {
    for_each = var.sites
    value    = each.key == "a" ? null + 1 : each.value.path
    fail     = each.key == "b" || each.key == "d" ? "yes" : null
  }
  capture "counted" {
    count = 3
    value = count.index == 1 ? var.pw + 1 : count.index
  }
  capture "single" {
    value = var.sites.a.nope
  }
  file "/etc/mode" {
    for_each = { x = "0999", y = "0644", z = "0888" }
    mode     = each.value
    content  = var.pw
  }
  module "m" {
    source   = "./mod"
    for_each = { one = 1, two = "two", three = 3 }
    n        = each.value
  }
  module "single" {
    source = "./mod"
    n      = 7
  }
  capture "uses" {
    value = [module.m["one"].out, module.single.out, capture.some["a"].value]
  }
  capture "bad_each" {
    for_each = host.name == "web1" ? { k = 1 } : "nope"
    value    = each.key
  }
}
`

const reviewDiagsMod = `variable "n" {}
locals {
  doubled = var.n * 2
}
capture "inner" {
  for_each = { p = 1, q = 2 }
  value    = "${var.n}-${each.key}-${local.doubled}"
  other    = var.n == 3 ? [][0] : "ok"
}
capture "plain" {
  value = var.n + 1
}
output "out" {
  value = capture.plain.value + local.doubled
}
output "bad" {
  value = var.n == 1 ? capture.inner["zz"] : "fine"
}
`

// TestReviewFlushOrder pins the diagnostics of reviewDiagsMain, in order,
// with their text and ranges, to what the compiler gave before the
// diagnostics moved into the instances (237686e^: groups kept in a map
// with their order of creation). flush must group and order them the same.
func TestReviewFlushOrder(t *testing.T) {
	c := loadString(t, map[string]string{"main.hcl": reviewDiagsMain, "mod/main.hcl": reviewDiagsMod})
	want := []string{
		`1 "Capture failed" "In capture.every[\"a\"], capture.every[\"c\"] and capture.every[\"d\"]: The capture was told to fail." main.hcl:21,16-21,26(450-460)`,
		`1 "Unsupported attribute" "In capture.every[\"b\"], capture.every[\"e\"] and capture.every[\"f\"]: This object does not have an attribute named \"port\"." main.hcl:20,26-20,31(429-434)`,
		`1 "Unsupported attribute" "In capture.some[\"b\"], capture.some[\"e\"] and capture.some[\"f\"]: This object does not have an attribute named \"port\"." main.hcl:25,48-25,53(556-561)`,
		`1 "Operation failed" "In capture.mixed[\"a\"]: Error during operation: argument must not be null." main.hcl:29,34-29,42(646-654)`,
		`1 "Capture failed" "In capture.mixed[\"b\"] and capture.mixed[\"d\"]: The capture was told to fail." main.hcl:30,16-30,65(688-737)`,
		`1 "Invalid operand" "In capture.counted[1]: Unsuitable value for left operand: a number is required." main.hcl:34,32-34,38(809-815)`,
		`1 "Unsupported attribute" "This object does not have an attribute named \"nope\"." main.hcl:37,24-37,29(882-887)`,
		`1 "Invalid file mode" "In file./etc/mode[\"x\"]: The mode \"0999\" is not valid: it is not an octal number. Write it as an octal string of 3 or 4 digits, such as \"0644\" or \"2775\"." main.hcl:41,16-41,26(982-992)`,
		`1 "Invalid file mode" "In file./etc/mode[\"z\"]: The mode \"0888\" is not valid: it is not an octal number. Write it as an octal string of 3 or 4 digits, such as \"0644\" or \"2775\"." main.hcl:41,16-41,26(982-992)`,
		`1 "Inconsistent conditional result types" "The true and false result expressions must have consistent types. The 'true' value is object, but the 'false' value is string." main.hcl:57,38-57,56(1359-1377)`,
		`1 "Invalid index" "In module.m[\"one\"]: The given key does not identify an element in this collection value." mod/main.hcl:17,37-17,43(345-351)`,
		`1 "Invalid operand" "In module.m[\"two\"]: Unsuitable value for left operand: a number is required." mod/main.hcl:3,13-3,18(37-42)`,
		`1 "Invalid index" "In module.m[\"three\"].capture.inner[\"p\"] and module.m[\"three\"].capture.inner[\"q\"]: The given key does not identify an element in this collection value: the collection has no elements." mod/main.hcl:8,29-8,32(178-181)`,
		`1 "Invalid operand" "In module.m[\"two\"].capture[plain]: Unsuitable value for left operand: a number is required." mod/main.hcl:11,11-11,16(219-224)`,
	}
	for i := 0; i < 3; i++ { // the same every time
		_, diags := c.Compile(testHost(), testVars(c))
		var got []string
		for _, d := range diags {
			got = append(got, fmt.Sprintf("%d %q %q %s", d.Severity, d.Summary, d.Detail, reviewRange(d.Subject)))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("diagnostics differ from those of 237686e^ (-want +got):\n%s", diff)
		}
	}
}

func reviewRange(r *hcl.Range) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%s:%d,%d-%d,%d(%d-%d)", r.Filename, r.Start.Line, r.Start.Column, r.End.Line, r.End.Column, r.Start.Byte, r.End.Byte)
}

// reviewPathsMain has path edges that do and do not follow the order of
// evaluation, depends_on against the path order, a cycle, and kinds'
// requirements.
const reviewPathsMain = `role "all" {
  hosts = ["*"]
  file "/z/a/b/c" {
    content = "c"
    owner   = "zed"
  }
  directory "/z/a" {}
  directory "/z" {}
  directory "/z/a/b" {}
  file "/a/x" {
    content = "x"
  }
  directory "/a" {}
  user "zed" {}
  file "/m/dup" { content = "1" }
  symlink "/m/link" {
    target = "/a/x"
  }
  directory "/m" {
    depends_on = [file["/a/x"]]
  }
  file "/y" {
    content = "y"
    depends_on = [directory["/z/a/b"]]
  }
}
role "more" {
  hosts = ["group:web"]
  directory "/q" {
    depends_on = [file["/q/f"]]
  }
  file "/q/f" { content = "f" }
  file "/c1" {
    content    = "1"
    depends_on = [file["/c2"]]
  }
  file "/c2" {
    content    = "2"
    depends_on = [file["/c1"]]
  }
  file "/c2/under" { content = "u" }
  group "grp" {}
  file "/g" {
    content = "g"
    group   = "grp"
  }
}
`

const reviewDynMain = `locals {
  ports = { http = 80, https = 443 }
}
role "r" {
  hosts = ["*"]
  test_firewall "fw" {
    zone = "z-${host.name}"
    rule "ssh" {
      port  = 22
      proto = "${host.vars.env}-tcp"
    }
    dynamic "rule" {
      for_each = local.ports
      labels   = [rule.key]
      content {
        port  = rule.value
        proto = "tcp-${rule.key}-${host.name}"
      }
    }
  }
  test_firewall "per" {
    for_each = { a = 1000, b = 2000, c = "x" }
    zone     = each.key
    dynamic "rule" {
      for_each = range(2)
      labels   = ["r${rule.value}"]
      content {
        port  = each.value + rule.value
        proto = "${each.key}${rule.value}"
      }
    }
  }
  capture "reads" {
    value = test_firewall.fw.zone
    other = [for k, v in test_firewall.per : v.zone]
  }
}
`

const reviewSecretsMain = `
role "sec" {
  hosts = ["*"]
  file "/etc/secret" {
    content = secret("secrets/db.age")
  }
  capture "tsec" {
    value = templatefile("tmpl/s.tmpl", { pw = secret("secrets/db.age"), h = host.name })
    other = "${host.name}-${host.vars.env}"
  }
  file "/srv/src" {
    source = "files/src.txt"
  }
  file "/srv/src2" {
    source = "files/src.txt"
  }
  module "smod" {
    source   = "./smod"
    for_each = toset(["x", "y"])
    name     = "${each.key}-${host.name}"
  }
  capture "fromsmod" {
    value = module.smod["x"].out
  }
  capture "badt" {
    value = templatefile("tmpl/bad.tmpl", { h = host.name })
    other = templatefile("tmpl/s.tmpl", { h = host.name })
    list  = templatefile("tmpl/s.tmpl", { h = host.name, pw = host.vars.http_port })
  }
}
`

const reviewSmod = `
variable "name" {}
capture "in" {
  value = templatefile("t.tmpl", { n = var.name, s = secret("s.age") })
  other = var.name
}
output "out" {
  value = capture.in.other
}
`

// reviewFS is one spec directory with all the review fixtures, secrets
// encrypted to r.
func reviewFS(t *testing.T, marker string, r age.Recipient) fstest.MapFS {
	return fstest.MapFS{
		"diags.hcl":      {Data: []byte(reviewDiagsMain)},
		"mod/main.hcl":   {Data: []byte(reviewDiagsMod)},
		"paths.hcl":      {Data: []byte(reviewPathsMain)},
		"dyn.hcl":        {Data: []byte(reviewDynMain)},
		"secrets.hcl":    {Data: []byte(reviewSecretsMain)},
		"secrets/db.age": {Data: encrypt(t, marker, false, r)},
		"tmpl/s.tmpl":    {Data: []byte("pw=${pw} host=${h}\n")},
		"tmpl/bad.tmpl":  {Data: []byte("x ${h\n")},
		"files/src.txt":  {Data: []byte("shared source\n")},
		"smod/main.hcl":  {Data: []byte(reviewSmod)},
		"smod/t.tmpl":    {Data: []byte("n=${n} s=${s}\n")},
		"smod/s.age":     {Data: encrypt(t, marker+"-mod", false, r)},
	}
}

// reviewHosts are n hosts in web or db, with different variables.
func reviewHosts(n int) []*inventory.Host {
	var hs []*inventory.Host
	for i := range n {
		g := []string{"all", "web"}
		if i%3 == 2 {
			g = []string{"all", "db"}
		}
		hs = append(hs, &inventory.Host{
			Name:    fmt.Sprintf("h%02d", i),
			Address: "10.0.0.1",
			Groups:  g,
			Vars: cty.ObjectVal(map[string]cty.Value{
				"http_port": cty.NumberIntVal(int64(8000 + i)),
				"env":       cty.StringVal(fmt.Sprintf("env%d", i%4)),
			}),
		})
	}
	return hs
}

// reviewDumpCompile prints everything Compile gives for h: diagnostics in
// order with ranges, and the graph with every node's resource.
func reviewDumpCompile(c *Config, h *inventory.Host) string {
	hg, diags := c.Compile(h, testVars(c))
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "diag %d %q %q %s %s\n", d.Severity, d.Summary, d.Detail, reviewRange(d.Subject), reviewRange(d.Context))
	}
	if hg == nil {
		return b.String() + "nil graph\n"
	}
	fmt.Fprintf(&b, "roles %v\n", hg.Roles)
	for _, n := range hg.Nodes {
		fmt.Fprintf(&b, "node %s %s deps=%v edges=%v notify=%v\n  %s\n", n.Addr, n.Role, n.Deps, n.Edges, n.Notify,
			reviewDumpValue(reflect.ValueOf(n.Resource), map[uintptr]bool{}, 0))
	}
	return b.String()
}

// TestReviewConcurrentCompile compiles many hosts at once, as
// engine.Compile does on every CPU, on a fresh Config (so that templates,
// templatefile analyses, secrets and shared files are first loaded under
// contention) and checks with the race detector that each host gets
// exactly what a serial compilation on another fresh Config gives: the
// same diagnostics in the same order, the same graph and resources. No
// diagnostic may hold a secret.
func TestReviewConcurrentCompile(t *testing.T) {
	marker := newMarker(t)
	x := newIdentity(t)
	hosts := reviewHosts(24)
	load := func() *Config {
		c, diags := Load(reviewFS(t, marker, x.Recipient()), ".", WithIdentities(x))
		if diags.HasErrors() {
			t.Fatalf("Load: %s", diagText(c, diags))
		}
		return c
	}
	serial := load()
	want := make([]string, len(hosts))
	for i, h := range hosts {
		want[i] = reviewDumpCompile(serial, h)
		if !strings.Contains(want[i], "node ") || !strings.Contains(want[i], "diag ") {
			t.Fatalf("host %s: the fixture should give nodes and diagnostics:\n%s", h.Name, want[i])
		}
		if strings.Contains(want[i], "diag") && strings.Contains(strings.Split(want[i], "roles")[0], marker) {
			t.Fatalf("host %s: a diagnostic holds the secret", h.Name)
		}
	}
	for round := range 3 {
		c := load()
		got := make([]string, len(hosts))
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < len(hosts); i += 8 {
					got[i] = reviewDumpCompile(c, hosts[i])
				}
			})
		}
		// The same hosts again, at the same time: a Config compiles any
		// host any number of times.
		again := make([]string, len(hosts))
		for w := range 4 {
			wg.Go(func() {
				for i := len(hosts) - 1 - w; i >= 0; i -= 4 {
					again[i] = reviewDumpCompile(c, hosts[i])
				}
			})
		}
		wg.Wait()
		for i, h := range hosts {
			if diff := cmp.Diff(want[i], got[i]); diff != "" {
				t.Errorf("round %d host %s: concurrent compile differs from serial (-want +got):\n%s", round, h.Name, diff)
			}
			if diff := cmp.Diff(want[i], again[i]); diff != "" {
				t.Errorf("round %d host %s: second concurrent compile differs from serial (-want +got):\n%s", round, h.Name, diff)
			}
		}
	}
}

// TestReviewSharedSource checks that the bytes of a source file, shared by
// every file resource that copies it (resources.SharedFS), are those of the
// file for every host, and stay so after the resources are built, diffed
// and their content changes made.
func TestReviewSharedSource(t *testing.T) {
	marker := newMarker(t)
	x := newIdentity(t)
	c, _ := Load(reviewFS(t, marker, x.Recipient()), ".", WithIdentities(x))
	var wg sync.WaitGroup
	graphs := make([]*HostGraph, 16)
	for i, h := range reviewHosts(len(graphs)) {
		wg.Go(func() { graphs[i], _ = c.Compile(h, testVars(c)) })
	}
	wg.Wait()
	var first []byte
	for _, hg := range graphs {
		for _, n := range hg.Nodes {
			if n.Addr.Name != "/srv/src" && n.Addr.Name != "/srv/src2" {
				continue
			}
			f, ok := n.Resource.(*resources.File)
			if !ok {
				t.Fatalf("%s: %T", n.Addr, n.Resource)
			}
			// File.content, read directly: what Diff and Apply use.
			fv := reflect.ValueOf(f).Elem().FieldByName("content")
			content := *(*[]byte)(unsafe.Pointer(fv.UnsafeAddr()))
			if string(content) != "shared source\n" {
				t.Fatalf("%s: content %q", n.Addr, content)
			}
			if first == nil {
				first = content
			} else if &first[0] != &content[0] {
				t.Errorf("%s: the source file's bytes are not shared", n.Addr)
			}
		}
	}
	if first == nil {
		t.Fatal("no file resource with a source was built")
	}
}

var reviewCtyType = reflect.TypeOf(cty.Value{})
var reviewBigFloatType = reflect.TypeOf(big.Float{})

func reviewDumpValue(v reflect.Value, seen map[uintptr]bool, depth int) string {
	if depth > 12 {
		return "<deep>"
	}
	if !v.IsValid() {
		return "<nil>"
	}
	if !v.CanInterface() && v.CanAddr() {
		v = reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
	}
	if v.Type() == reviewCtyType && v.CanInterface() {
		return v.Interface().(cty.Value).GoString()
	}
	if v.Type() == reviewBigFloatType && v.CanAddr() && v.Addr().CanInterface() {
		return v.Addr().Interface().(*big.Float).Text('g', -1)
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return "nil"
		}
		if seen[v.Pointer()] {
			return "<seen>"
		}
		seen[v.Pointer()] = true
		defer delete(seen, v.Pointer())
		return "&" + reviewDumpValue(v.Elem(), seen, depth+1)
	case reflect.Interface:
		if v.IsNil() {
			return "nil"
		}
		return reviewDumpValue(v.Elem(), seen, depth+1)
	case reflect.Struct:
		var parts []string
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if f.Name == "Files" {
				continue
			}
			if f.Type == reviewCtyType {
				// unexported access: copy via unsafe-free path
				fv := v.Field(i)
				if fv.CanInterface() {
					parts = append(parts, f.Name+":"+fv.Interface().(cty.Value).GoString())
				} else {
					parts = append(parts, f.Name+":"+fmt.Sprint(fv))
				}
				continue
			}
			parts = append(parts, f.Name+":"+reviewDumpValue(v.Field(i), seen, depth+1))
		}
		return v.Type().String() + "{" + strings.Join(parts, " ") + "}"
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return "nil"
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			bs := make([]byte, v.Len())
			for i := range bs {
				bs[i] = byte(v.Index(i).Uint())
			}
			return fmt.Sprintf("%q", bs)
		}
		var parts []string
		for i := 0; i < v.Len(); i++ {
			parts = append(parts, reviewDumpValue(v.Index(i), seen, depth+1))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case reflect.Map:
		if v.IsNil() {
			return "nilmap"
		}
		var parts []string
		for _, k := range v.MapKeys() {
			parts = append(parts, reviewDumpValue(k, seen, depth+1)+"="+reviewDumpValue(v.MapIndex(k), seen, depth+1))
		}
		sort.Strings(parts)
		return "map[" + strings.Join(parts, ",") + "]"
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return v.Kind().String()
	case reflect.String:
		return fmt.Sprintf("%q", v.String())
	case reflect.Bool:
		return fmt.Sprint(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprint(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return fmt.Sprint(v.Uint())
	case reflect.Float32, reflect.Float64:
		return fmt.Sprint(v.Float())
	}
	return v.Kind().String()
}

// TestReviewNumberFormatAllPrecisions compares renderParts' number
// formatting with cty's conversion for integers and fractions around
// powers of two and ten, at every precision cty numbers come with (512
// from literals, 64 from NumberIntVal, 53 from NumberFloatVal, others from
// arithmetic on big.Float).
func TestReviewNumberFormatAllPrecisions(t *testing.T) {
	var vals []*big.Float
	for _, prec := range []uint{1, 8, 24, 53, 54, 63, 64, 65, 100, 512} {
		for e := 0; e < 80; e++ {
			for _, d := range []int64{-1, 0, 1} {
				p2 := new(big.Int).Lsh(big.NewInt(1), uint(e))
				p10 := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(e/3)), nil)
				for _, b := range []*big.Int{p2, p10} {
					i := new(big.Int).Add(b, big.NewInt(d))
					f := new(big.Float).SetPrec(prec).SetInt(i)
					vals = append(vals, f, new(big.Float).Neg(f))
				}
			}
		}
		vals = append(vals, new(big.Float).SetPrec(prec).SetFloat64(0.1),
			new(big.Float).SetPrec(prec).Neg(new(big.Float).SetPrec(prec)))
	}
	bad := 0
	for _, f := range vals {
		if bad > 20 {
			t.Fatal("more mismatches left out")
		}
		v := cty.NumberVal(f)
		want, err := convert.Convert(v, cty.String)
		if err != nil {
			t.Fatal(err)
		}
		part := &hclsyntax.ScopeTraversalExpr{Traversal: hcl.Traversal{hcl.TraverseRoot{Name: "n"}}}
		b, _ := appendParts(nil, []hclsyntax.Expression{part}, func(hcl.Traversal) (cty.Value, bool) { return v, true })
		if string(b) != want.AsString() {
			t.Errorf("%s (prec %d): rendered %q, HCL %q", f.Text('g', -1), f.Prec(), b, want.AsString())
			bad++
		}
	}
}
