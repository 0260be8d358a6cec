package config

import (
	"context"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/resources"
)

// TestFastValueSameAsHCL checks that every expression the fast paths take
// gives exactly HCL's value, and that those they must not take (unknown,
// null, sensitive or structured values, directives, other functions,
// errors) are declined, so that HCL evaluates and reports them.
func TestFastValueSameAsHCL(t *testing.T) {
	c := loadString(t, map[string]string{
		"a.hcl":        "",
		"plain.tmpl":   "host ${host} port ${port} on ${on} ratio ${ratio} big ${big}\nünïcödé e\u0301\n",
		"if.tmpl":      "%{ if on }yes%{ endif }",
		"call.tmpl":    "${upper(host)}",
		"literal.tmpl": "no interpolation at all",
		"attr.tmpl":    "${host.x}",
		"missing.tmpl": "${nope}",
	})
	vars := map[string]cty.Value{
		"host": cty.ObjectVal(map[string]cty.Value{
			"name": cty.StringVal("web-1"),
			"vars": cty.ObjectVal(map[string]cty.Value{
				"root":  cty.StringVal("/srv/a"),
				"port":  cty.NumberIntVal(8080),
				"ratio": cty.NumberFloatVal(0.25),
				"big":   cty.MustParseNumberVal("123456789012345678901234567890"),
				"on":    cty.True,
				"none":  cty.NullVal(cty.String),
				"what":  cty.UnknownVal(cty.String),
				"list":  cty.ListVal([]cty.Value{cty.StringVal("a")}),
			}),
		}),
		"secret": cty.StringVal("pw").Mark(sensitiveMark),
	}
	ctx := &hcl.EvalContext{Variables: vars, Functions: c.root.funcs}
	for _, tc := range []struct {
		src  string
		fast bool
	}{
		{`"plain"`, true},
		{`""`, true},
		{`"e\u0301"`, true}, // a lone literal, NFC as HCL's result
		{`"${host.vars.root}/etc/app.conf"`, true},
		{`"${host.name}:${host.vars.port} ${host.vars.on} ${host.vars.ratio} ${host.vars.big}"`, true},
		{`"e\u0301 ${host.name}"`, true}, // NFC normalisation, as cty.StringVal does
		{`templatefile("plain.tmpl", { host = host.name, port = host.vars.port, on = host.vars.on, ratio = host.vars.ratio, big = host.vars.big })`, true},
		{`templatefile("literal.tmpl", {})`, true},
		{`templatefile("plain.tmpl", { host = "x", port = 1, on = false, ratio = 2, big = 3 })`, true},
		{`"${host.vars.none}"`, false},
		{`"${host.vars.what}/x"`, false},
		{`"${host.vars.list}"`, false},
		{`"${secret}"`, false},
		{`"${host.vars.nope}"`, false},
		{`"%{ if host.vars.on }x%{ endif }"`, false},
		{`"${upper(host.name)}"`, false},
		{`templatefile("if.tmpl", { on = true })`, false},
		{`templatefile("call.tmpl", { host = "x" })`, false},
		{`templatefile("attr.tmpl", { host = "x" })`, false},
		{`templatefile("missing.tmpl", {})`, false},
		{`templatefile("plain.tmpl", { host = secret, port = 1, on = true, ratio = 1, big = 1 })`, false},
		{`templatefile("plain.tmpl", { "host" = "x", port = 1, on = true, ratio = 1, big = 1 })`, false},
		{`templatefile("nope.tmpl", {})`, false},
		{`templatefile(host.name, {})`, false},
		{`upper("x")`, false},
		{`host.vars.port`, true},
		{`secret`, true}, // a traversal keeps its marks, as HCL's does
		{`host.vars.nope`, false},
	} {
		expr, diags := hclsyntax.ParseExpression([]byte(tc.src), "test.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("parse %s: %v", tc.src, diags)
		}
		got, ok := c.fastValue(expr, ctx, c.root, &strArena{})
		if ok != tc.fast {
			t.Errorf("%s: fast path taken = %v, want %v", tc.src, ok, tc.fast)
			continue
		}
		if !ok {
			continue
		}
		want, diags := expr.Value(ctx)
		if diags.HasErrors() {
			t.Errorf("%s: HCL fails where the fast path gave %#v: %v", tc.src, got, diags)
			continue
		}
		if !got.RawEquals(want) {
			t.Errorf("%s: fast path gave %#v, HCL %#v", tc.src, got, want)
		}
	}
}

// TestLazyTextSameAsHCL checks that a file content rendered on demand
// (lazyTemplate) has exactly the bytes of HCL's templatefile value, for
// numbers of every kind, bools and strings, and that only templates and
// values whose output is ASCII are taken.
func TestLazyTextSameAsHCL(t *testing.T) {
	c := loadString(t, map[string]string{
		"a.hcl":        "",
		"ascii.tmpl":   "[server]\nhost = \"${host}\" (${host})\nvalue = ${v}\n${v}${v}",
		"plain.tmpl":   "ünïcödé ${host} ${v}",
		"if.tmpl":      "%{ if v }yes%{ endif }",
		"attr.tmpl":    "${host.x}",
		"missing.tmpl": "${nope}",
		"empty.tmpl":   "",
	})
	negZero := new(big.Float).Neg(new(big.Float))
	nums := []cty.Value{
		cty.NumberIntVal(0), cty.NumberVal(negZero), cty.NumberIntVal(-5), cty.NumberIntVal(8080),
		cty.NumberFloatVal(0.1), cty.NumberFloatVal(1e21), cty.NumberFloatVal(1.0 / 3),
		cty.MustParseNumberVal("18446744073709551616"), cty.MustParseNumberVal("123456789012345678901234567890"),
		cty.MustParseNumberVal("-0.000000000000000000001"), cty.True, cty.False,
		cty.StringVal("text"), cty.StringVal(""), cty.StringVal("quote \" and \\ and\nnewline"),
	}
	ctx := &hcl.EvalContext{Functions: c.root.funcs}
	// One arena for all, as in a compilation: it remembers the last number
	// rendered (and must not confuse 0 with -0, or any two numbers).
	var ar strArena
	for _, v := range append(nums, nums...) {
		ctx.Variables = map[string]cty.Value{"v": v, "name": cty.StringVal("web-1")}
		for _, tc := range []struct {
			src  string
			lazy bool
		}{
			{`templatefile("ascii.tmpl", { host = name, v = v })`, true},
			{`templatefile("empty.tmpl", {})`, true},
			{`templatefile("ascii.tmpl", { host = "café", v = v })`, false},
			{`templatefile("plain.tmpl", { host = name, v = v })`, false},
			{`templatefile("if.tmpl", { v = true })`, false},
			{`templatefile("attr.tmpl", { host = name })`, false},
			{`templatefile("missing.tmpl", {})`, false},
			{`"${name}"`, false},
		} {
			expr, diags := hclsyntax.ParseExpression([]byte(tc.src), "test.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatalf("parse %s: %v", tc.src, diags)
			}
			lt, ok := c.lazyText(expr, ctx, c.root, &ar)
			if ok != tc.lazy {
				t.Errorf("%s with v = %#v: lazy = %v, want %v", tc.src, v, ok, tc.lazy)
				continue
			}
			if !ok {
				continue
			}
			want, diags := expr.Value(ctx)
			if diags.HasErrors() {
				t.Errorf("%s with v = %#v: HCL fails: %v", tc.src, v, diags)
				continue
			}
			got := lt.AppendText(nil)
			if string(got) != want.AsString() {
				t.Errorf("%s with v = %#v:\n got %q\nwant %q", tc.src, v, got, want.AsString())
			}
			if again := lt.AppendText([]byte("x")); string(again) != "x"+want.AsString() {
				t.Errorf("%s: appending to a buffer gave %q", tc.src, again)
			}
		}
	}
}

// TestLazyContentInGraph compiles files whose content is a template, on
// demand or evaluated (TestLazyTextOnlyWhenUnread says which), read by
// another file, and not ASCII: every file keeps the hash of the rendered
// bytes.
func TestLazyContentInGraph(t *testing.T) {
	c := loadString(t, map[string]string{
		"main.hcl": `
role "web" {
  hosts = ["*"]
  file "alone" {
    path    = "/etc/alone"
    content = templatefile("t.tmpl", { name = host.name })
  }
  file "read" {
    path    = "/etc/read"
    content = templatefile("t.tmpl", { name = host.name })
  }
  file "reader" {
    path    = "/etc/reader"
    content = file.read.content
  }
  file "accents" {
    path    = "/etc/accents"
    content = templatefile("u.tmpl", { name = host.name })
  }
}
`,
		"t.tmpl": "server ${name}\n",
		"u.tmpl": "café ${name}\n",
	})
	hg := compileOK(t, c, testHost(), nil)
	want := map[string]string{
		"alone": "server web1\n", "read": "server web1\n", "reader": "server web1\n", "accents": "café web1\n",
	}
	for _, n := range hg.Nodes {
		f, ok := n.Resource.(*resources.File)
		if !ok {
			t.Fatalf("%s is a %T", n.Addr, n.Resource)
		}
		if got, w := f.ContentSHA256(), resources.HashOf([]byte(want[n.Addr.Name])); got != w {
			t.Errorf("%s: content hash %s, want that of %q", n.Addr, got, want[n.Addr.Name])
		}
	}
}

// textKind is a test kind that takes its value as a resources.Text, and
// records whether it got one.
type textKind struct {
	addr  resources.Addr
	lazy  bool
	value string
}

func (k *textKind) Addr() resources.Addr                                { return k.addr }
func (k *textKind) Observe(*resources.Probe)                            {}
func (k *textKind) Diff(*resources.Observed) (*resources.Change, error) { return nil, nil }
func (k *textKind) Apply(context.Context, *resources.Target, *resources.Change) error {
	return nil
}

func init() {
	resources.Register(&resources.Kind{
		Name:       "test_text",
		Attributes: []hcl.AttributeSchema{{Name: "value"}},
		Text:       []string{"value"},
		New: func(b *resources.Block) (resources.Resource, hcl.Diagnostics) {
			k := &textKind{addr: b.Addr}
			if a := b.Attrs["value"]; a.Text != nil {
				k.lazy, k.value = true, string(a.Text.AppendText(nil))
			} else {
				k.value = a.Value.AsString()
			}
			return k, nil
		},
	})
}

// TestLazyTextOnlyWhenUnread checks when the compiler hands a kind a
// template to render on demand: for an ASCII templatefile nothing else
// reads, not for one another resource reads (its value is part of what the
// other sees) nor for a non-ASCII one (which cty normalises); every value
// is the rendered template.
func TestLazyTextOnlyWhenUnread(t *testing.T) {
	c := loadString(t, map[string]string{
		"main.hcl": `
role "web" {
  hosts = ["*"]
  test_text "alone" {
    value = templatefile("t.tmpl", { name = host.name })
  }
  test_text "read" {
    value = templatefile("t.tmpl", { name = host.name })
  }
  test_text "reader" {
    value = test_text.read.value
  }
  test_text "accents" {
    value = templatefile("u.tmpl", { name = host.name })
  }
}
`,
		"t.tmpl": "server ${name}\n",
		"u.tmpl": "café ${name}\n",
	})
	hg := compileOK(t, c, testHost(), nil)
	want := map[string]struct {
		lazy  bool
		value string
	}{
		"alone": {true, "server web1\n"}, "read": {false, "server web1\n"},
		"reader": {false, "server web1\n"}, "accents": {false, "café web1\n"},
	}
	for _, n := range hg.Nodes {
		k := n.Resource.(*textKind)
		if w := want[n.Addr.Name]; k.lazy != w.lazy || k.value != w.value {
			t.Errorf("%s: lazy %v, value %q; want %v, %q", n.Addr, k.lazy, k.value, w.lazy, w.value)
		}
	}
}

// TestStrArena checks that the arena's strings keep their bytes while
// more are added, across blocks, and that long strings and a nil arena
// work.
func TestStrArena(t *testing.T) {
	var a strArena
	var got, want []string
	for i := range 3000 {
		w := strings.Repeat(string(rune('a'+i%26)), i%50) + strconv.Itoa(i)
		want = append(want, w)
		got = append(got, a.str([]byte(w)))
	}
	long := strings.Repeat("x", arenaBlock)
	want, got = append(want, long, ""), append(got, a.str([]byte(long)), a.str(nil))
	var none *strArena
	want, got = append(want, "nil arena"), append(got, none.str([]byte("nil arena")))
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("string %d = %q, want %q", i, got[i], want[i])
		}
	}
}
