package config

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
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
		got, ok := c.fastValue(expr, ctx, c.root)
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
