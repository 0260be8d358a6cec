package config

import (
	"math/big"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// This file evaluates the commonest expressions of specs without HCL's
// general machinery: a string template of literals and variables
// ("${host.vars.root}/etc"), and templatefile("x.tmpl", { k = var.x })
// with a template of the same kind. They are most of a large fleet's
// compile time (issue 7: 5,000 hosts x 100 resources). Each fast path
// gives exactly the value HCL gives, or declines (ok false) and the caller
// evaluates the expression with HCL: anything unusual (an unknown, null,
// marked or non-primitive value, a directive, a function other than
// templatefile, an error) goes the general way, which also reports it.

// fastValue evaluates e in ctx when a fast path applies; m is the module
// whose functions ctx holds, ar the arena of the strings it makes.
func (c *Config) fastValue(e hcl.Expression, ctx *hcl.EvalContext, m *module, ar *strArena) (cty.Value, bool) {
	switch e := e.(type) {
	case *hclsyntax.LiteralValueExpr:
		return e.Val, true
	case *hclsyntax.TemplateExpr:
		if len(e.Parts) == 1 {
			// A quoted literal ("0644", "root"): the parser's string,
			// NFC-normalised as HCL's result is.
			if lit, ok := e.Parts[0].(*hclsyntax.LiteralValueExpr); ok && plainPrimitive(lit.Val) && lit.Val.Type() == cty.String {
				return lit.Val, true
			}
		}
		// A path or a name: rendered on the stack, then copied into the
		// arena.
		var buf [128]byte
		b, ok := appendParts(buf[:0], e.Parts, func(t hcl.Traversal) (cty.Value, bool) { return traverse(t, ctx) })
		if !ok {
			return cty.NilVal, false
		}
		return cty.StringVal(ar.str(b)), true
	case *hclsyntax.ScopeTraversalExpr:
		return traverse(e.Traversal, ctx)
	case *hclsyntax.FunctionCallExpr:
		return c.fastTemplateFile(e, ctx, m, ar)
	}
	return cty.NilVal, false
}

// fastTemplateFile evaluates templatefile(PATH, { NAME = EXPR, ... }) with
// a literal path and an object of names whose values have a fast path.
func (c *Config) fastTemplateFile(e *hclsyntax.FunctionCallExpr, ctx *hcl.EvalContext, m *module, ar *strArena) (cty.Value, bool) {
	tc := c.templateCall(e, m)
	if tc == nil {
		return cty.NilVal, false
	}
	var buf [8]cty.Value
	vals, ok := c.templateArgs(tc, ctx, m, buf[:0], ar)
	if !ok {
		return cty.NilVal, false
	}
	return renderTemplate(tc.t, func(name string) (cty.Value, bool) {
		for i, n := range tc.names {
			if n == name {
				return vals[i], true
			}
		}
		return cty.NilVal, false
	})
}

// templateCall is a templatefile call of the fast form, analysed once: its
// template and the names and expressions of its variables.
type templateCall struct {
	t     *template
	names []string
	exprs []hclsyntax.Expression
	// text is the template as lazyTemplate renders it; nil when it has a
	// part other than an ASCII literal or one of names.
	text []textPart
}

// textPart is a literal, or (lit "", arg >= 0) the variable tc.names[arg].
type textPart struct {
	lit string
	arg int
}

// templateCall returns the analysis of e, nil when it is not a
// templatefile call of the fast form or its template has errors.
func (c *Config) templateCall(e *hclsyntax.FunctionCallExpr, m *module) *templateCall {
	if v, ok := c.calls.Load(e); ok {
		return v.(*templateCall)
	}
	tc := analyseTemplateCall(c, e, m)
	c.calls.Store(e, tc)
	return tc
}

func analyseTemplateCall(c *Config, e *hclsyntax.FunctionCallExpr, m *module) *templateCall {
	if e.Name != "templatefile" || len(e.Args) != 2 || e.ExpandFinal {
		return nil
	}
	p, ok := literalString(e.Args[0])
	if !ok {
		return nil
	}
	obj, ok := e.Args[1].(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil
	}
	tc := &templateCall{}
	for _, it := range obj.Items {
		k, ok := it.KeyExpr.(*hclsyntax.ObjectConsKeyExpr)
		if !ok || k.ForceNonLiteral {
			return nil
		}
		// HCL makes the key a cty string, which is NFC-normalised; the
		// template looks names up as they are written.
		name := hcl.ExprAsKeyword(k.Wrapped)
		if name != "" {
			name = cty.StringVal(name).AsString()
		}
		if name == "" || slices.Contains(tc.names, name) {
			return nil
		}
		tc.names = append(tc.names, name)
		tc.exprs = append(tc.exprs, it.ValueExpr)
	}
	t, err := c.loadTemplate(m.dir, p)
	if err != nil || t.diags.HasErrors() {
		return nil
	}
	if _, ok := t.expr.(*hclsyntax.TemplateExpr); !ok {
		return nil
	}
	tc.t = t
	tc.text = textParts(t.expr.(*hclsyntax.TemplateExpr).Parts, tc.names)
	return tc
}

// textParts returns the parts of a template for lazyTemplate, nil when a
// part is not an ASCII string literal or a variable of names.
func textParts(parts []hclsyntax.Expression, names []string) []textPart {
	out := make([]textPart, 0, len(parts))
	for _, part := range parts {
		switch p := part.(type) {
		case *hclsyntax.LiteralValueExpr:
			if !plainPrimitive(p.Val) || p.Val.Type() != cty.String || !isASCII(p.Val.AsString()) {
				return nil
			}
			out = append(out, textPart{lit: p.Val.AsString(), arg: -1})
		case *hclsyntax.ScopeTraversalExpr:
			i := slices.Index(names, p.Traversal.RootName())
			if len(p.Traversal) != 1 || i < 0 {
				return nil
			}
			out = append(out, textPart{arg: i})
		default:
			return nil
		}
	}
	return out
}

// lazyTemplate is a templatefile call of the fast form whose output is
// ASCII, rendered on demand (resources.Text): what a file's content keeps
// instead of the rendered string, which a plan of a converged host never
// needs whole. ASCII needs no normalisation, so the bytes are exactly
// those of the value HCL would give.
type lazyTemplate struct {
	tc   *templateCall
	args []string // tc.names' values as HCL converts them to strings; ASCII
}

// AppendText renders the template after dst.
func (l *lazyTemplate) AppendText(dst []byte) []byte {
	for _, p := range l.tc.text {
		if p.arg < 0 {
			dst = append(dst, p.lit...)
			continue
		}
		dst = append(dst, l.args[p.arg]...)
	}
	return dst
}

// lazyText returns e as a resources.Text when it is a templatefile call of
// the fast form, with variables of plain values, whose output is ASCII.
func (c *Config) lazyText(e hcl.Expression, ctx *hcl.EvalContext, m *module, ar *strArena) (*lazyTemplate, bool) {
	call, ok := e.(*hclsyntax.FunctionCallExpr)
	if !ok {
		return nil, false
	}
	tc := c.templateCall(call, m)
	if tc == nil || tc.text == nil {
		return nil, false
	}
	var buf [8]cty.Value
	vals, ok := c.templateArgs(tc, ctx, m, buf[:0], ar)
	if !ok {
		return nil, false
	}
	args := make([]string, len(vals))
	for i, v := range vals {
		switch v.Type() {
		case cty.String:
			if args[i] = v.AsString(); !isASCII(args[i]) {
				return nil, false
			}
		case cty.Bool:
			args[i] = strconv.FormatBool(v.True())
		default:
			args[i] = ar.number(v)
		}
	}
	return &lazyTemplate{tc: tc, args: args}, true
}

// templateArgs appends to dst the values of tc's variables, by tc.names,
// when each has a fast path and is a plain primitive.
func (c *Config) templateArgs(tc *templateCall, ctx *hcl.EvalContext, m *module, dst []cty.Value, ar *strArena) ([]cty.Value, bool) {
	for _, x := range tc.exprs {
		v, ok := c.fastValue(x, ctx, m, ar)
		if !ok || !plainPrimitive(v) {
			return nil, false
		}
		dst = append(dst, v)
	}
	return dst, true
}

// isASCII reports whether s is ASCII, which every normal form leaves as
// it is.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// renderTemplate renders a parsed template file with the variables get
// returns when a fast path applies: what templatefile's HCL evaluation
// would give.
func renderTemplate(t *template, get func(string) (cty.Value, bool)) (cty.Value, bool) {
	te, ok := t.expr.(*hclsyntax.TemplateExpr)
	if !ok {
		return cty.NilVal, false
	}
	buf := renderBuffers.Get().(*[]byte)
	defer renderBuffers.Put(buf)
	b, ok := appendParts((*buf)[:0], te.Parts, func(tr hcl.Traversal) (cty.Value, bool) {
		v, found := get(tr.RootName())
		if !found {
			return cty.NilVal, false
		}
		if len(tr) == 1 {
			return v, true
		}
		v, diags := tr[1:].TraverseRel(v)
		return v, !diags.HasErrors()
	})
	*buf = b[:0]
	if !ok {
		return cty.NilVal, false
	}
	return cty.StringVal(string(b)), true
}

// renderBuffers are the buffers renderTemplate renders in.
var renderBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// appendParts appends the parts of a template to dst: literal strings, and
// traversals (looked up with get) whose values are known, not null, not
// marked, and strings, numbers or bools, converted as HCL converts them.
func appendParts(dst []byte, parts []hclsyntax.Expression, get func(hcl.Traversal) (cty.Value, bool)) (_ []byte, ok bool) {
	for _, part := range parts {
		var v cty.Value
		switch p := part.(type) {
		case *hclsyntax.LiteralValueExpr:
			v = p.Val
		case *hclsyntax.ScopeTraversalExpr:
			if v, ok = get(p.Traversal); !ok {
				return dst, false
			}
		default:
			return dst, false
		}
		if !plainPrimitive(v) {
			return dst, false
		}
		dst = appendPrimitive(dst, v)
	}
	return dst, true
}

// appendPrimitive appends a plain string, number or bool as HCL converts
// it to a string.
func appendPrimitive(dst []byte, v cty.Value) []byte {
	switch v.Type() {
	case cty.String:
		return append(dst, v.AsString()...)
	case cty.Bool:
		return strconv.AppendBool(dst, v.True())
	}
	f := v.AsBigFloat()
	// An integer that the float's precision holds exactly prints as
	// Text('f', -1) prints it; zero (which may be -0) and integers beyond
	// the precision go through Text.
	if i, acc := f.Int64(); acc == big.Exact && i != 0 && f.MantExp(nil) <= int(f.Prec()) {
		return strconv.AppendInt(dst, i, 10)
	}
	return f.Append(dst, 'f', -1)
}

// traverse looks up an absolute traversal in ctx, as ScopeTraversalExpr
// does; ok is false on any problem. Attribute steps into known, unmarked
// objects are taken directly; anything else goes through HCL.
func traverse(t hcl.Traversal, ctx *hcl.EvalContext) (cty.Value, bool) {
	slow := func() (cty.Value, bool) {
		v, diags := t.TraverseAbs(ctx)
		return v, !diags.HasErrors()
	}
	root, ok := t[0].(hcl.TraverseRoot)
	if !ok {
		return slow()
	}
	var v cty.Value
	found := false
	for c := ctx; c != nil && !found; c = c.Parent() {
		v, found = c.Variables[root.Name]
	}
	if !found {
		return slow()
	}
	for _, step := range t[1:] {
		a, ok := step.(hcl.TraverseAttr)
		if !ok || !v.IsKnown() || v.IsMarked() || v.IsNull() {
			return slow()
		}
		ty := v.Type()
		if !ty.IsObjectType() || !ty.HasAttribute(a.Name) {
			return slow()
		}
		v = v.GetAttr(a.Name)
	}
	return v, true
}

// plainPrimitive reports whether v is a known, non-null, unmarked string,
// number or bool.
func plainPrimitive(v cty.Value) bool {
	if !v.IsKnown() || v.IsMarked() || v.IsNull() {
		return false
	}
	ty := v.Type()
	return ty == cty.String || ty == cty.Number || ty == cty.Bool
}

// literalString returns the value of a string literal expression: a
// template of one literal part, or a literal value.
func literalString(e hclsyntax.Expression) (string, bool) {
	var v cty.Value
	switch e := e.(type) {
	case *hclsyntax.TemplateExpr:
		if len(e.Parts) != 1 {
			return "", false
		}
		l, ok := e.Parts[0].(*hclsyntax.LiteralValueExpr)
		if !ok {
			return "", false
		}
		v = l.Val
	case *hclsyntax.LiteralValueExpr:
		v = e.Val
	default:
		return "", false
	}
	if !plainPrimitive(v) || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}
