package config

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/dynblock"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/engine/graph"
	"github.com/tendhq/tend/resources"
)

// groupKey names a group of diagnostics: those of the instances of one
// resource block or module call (block false), or those of its for_each or
// count in each module instance (block true).
type groupKey struct {
	owner any // *resourceDecl or *moduleCall
	block bool
}

// diagEntry holds the diagnostics of one instance (or, for block-level
// groups, one module instance) in its group. Entries live in what they
// belong to (an instance, a module instance); the compilation lists them in
// the order they were made, and flush groups them. A diagnostic every
// entry of a group has is reported once; one only some have names the
// instances.
type diagEntry struct {
	group groupKey
	// label is the instance's address; "" for a plain resource, whose
	// diagnostics need no name.
	label string
	diags hcl.Diagnostics
}

// sink returns the diagnostics of a new entry of the group k.
func (cp *compilation) sink(k groupKey, label string) *hcl.Diagnostics {
	return cp.sinkInto(k, label, &diagEntry{})
}

// sinkInto makes e an entry of the group k and returns its diagnostics.
func (cp *compilation) sinkInto(k groupKey, label string, e *diagEntry) *hcl.Diagnostics {
	e.group, e.label = k, label
	cp.entries = append(cp.entries, e)
	return &e.diags
}

// hasErrors reports whether any error was found so far.
func (cp *compilation) hasErrors() bool {
	if cp.diags.HasErrors() {
		return true
	}
	for _, e := range cp.entries {
		if e.diags.HasErrors() {
			return true
		}
	}
	return false
}

// flush returns every diagnostic of the compilation, without copies. A
// diagnostic that every entry of a group has is reported once as it is;
// one that only some have is reported once too, its Detail starting with
// the instances that have it: "In file.vhost["a"] and file.vhost["c"]: ".
func (cp *compilation) flush() hcl.Diagnostics {
	var out hcl.Diagnostics
	seen := map[string]bool{}
	// No message may hold a secret's text (see redactDiags).
	secrets := redactStrings(cp.c.secrets.plaintexts())
	add := func(d *hcl.Diagnostic) {
		if len(secrets) > 0 {
			d = redactDiags(hcl.Diagnostics{d}, secrets)[0]
		}
		if k := diagKey(d); !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	for _, d := range cp.diags {
		add(d)
	}
	// The groups, in the order of their first entries; none when no entry
	// has a diagnostic (the common case).
	var order []groupKey
	var groups map[groupKey][]*diagEntry
	for _, e := range cp.entries {
		if len(e.diags) > 0 {
			groups = map[groupKey][]*diagEntry{}
			break
		}
	}
	if groups != nil {
		for _, e := range cp.entries {
			if _, ok := groups[e.group]; !ok {
				order = append(order, e.group)
			}
			groups[e.group] = append(groups[e.group], e)
		}
	}
	for _, k := range order {
		g := struct{ entries []*diagEntry }{groups[k]}
		// labels: the instances that have each diagnostic, in order. An
		// entry is one instance (or, for block-level groups, one module
		// instance); the same diagnostic twice in it counts once.
		labels := map[string][]string{}
		for _, e := range g.entries {
			for _, d := range e.diags {
				dk := diagKey(d)
				if l := labels[dk]; len(l) == 0 || l[len(l)-1] != e.label {
					labels[dk] = append(l, e.label)
				}
			}
		}
		for _, e := range g.entries {
			for _, d := range e.diags {
				ls := labels[diagKey(d)]
				if e.label == "" || (len(g.entries) > 1 && len(ls) == len(g.entries)) {
					add(d)
					continue
				}
				named := *d
				named.Detail = fmt.Sprintf("In %s: %s", labelList(ls), d.Detail)
				add(&named)
			}
		}
	}
	return out
}

// labelList joins instance addresses for a message: "a", "a and b",
// "a, b and c", or the first three and how many more.
func labelList(ls []string) string {
	switch {
	case len(ls) == 1:
		return ls[0]
	case len(ls) > 4:
		return fmt.Sprintf("%s and %d more instances", strings.Join(ls[:3], ", "), len(ls)-3)
	}
	return strings.Join(ls[:len(ls)-1], ", ") + " and " + ls[len(ls)-1]
}

// evalContext returns the evaluation context of module instance mi: its
// host, var and local, and extra (each or count, resources, modules) in a
// child context. Without extra it is mi's own context, made once.
func (cp *compilation) evalContext(mi *modInst, extra map[string]cty.Value) *hcl.EvalContext {
	base := mi.context()
	if len(extra) == 0 {
		return base
	}
	ctx := base.NewChild()
	ctx.Variables = extra
	return ctx
}

// context returns mi's base context: host, var and local (once local is
// set; before that, while the locals are evaluated, a context is made per
// call).
func (mi *modInst) context() *hcl.EvalContext {
	if mi.ctx != nil {
		return mi.ctx
	}
	ctx := &hcl.EvalContext{Variables: mi.base, Functions: mi.mod.funcs}
	if _, ok := mi.base["local"]; ok {
		mi.ctx = ctx
	}
	return ctx
}

// refContext returns the context of mi's resource attributes and outputs:
// mi's, with every resource kind and module as empty objects, so that a
// reference to a block this host does not have is "Unsupported attribute",
// not "Unknown variable". The referenced blocks are added per expression
// (refValues) in a child.
func (mi *modInst) refContext() *hcl.EvalContext {
	if mi.rctx == nil {
		mi.rctx = mi.context().NewChild()
		mi.rctx.Variables = emptyKinds()
	}
	return mi.rctx
}

// emptyKinds is an empty object per resource kind, and module: read only,
// shared by every compilation.
var emptyKinds = sync.OnceValue(func() map[string]cty.Value {
	m := map[string]cty.Value{"module": cty.EmptyObjectVal}
	for _, k := range resources.Kinds() {
		m[k] = cty.EmptyObjectVal
	}
	return m
})

// evalLocals evaluates the locals of mi in dependency order and returns
// the local object. Locals on a cycle, and those that fail, are unknown.
// mi.base must hold host and var.
func (cp *compilation) evalLocals(mi *modInst) cty.Value {
	m := mi.mod
	if len(m.locals) == 0 {
		return cty.EmptyObjectVal
	}
	g := graph.New[string]()
	for _, l := range m.locals {
		g.Add(l.name)
		for _, r := range l.refs {
			g.Connect(l.name, r)
		}
	}
	// vals holds the values so far; locals on a cycle are unknown from the
	// start, so that what refers to them is evaluated without a second
	// report.
	vals := make(map[string]cty.Value, len(m.locals))
	for _, cyc := range g.Cycles() {
		var b strings.Builder
		for _, n := range cyc {
			fmt.Fprintf(&b, "local.%s (%s) -> ", n, pos(m.localNames[n].attr.NameRange))
			vals[n] = cty.DynamicVal
		}
		b.WriteString("local." + cyc[0])
		*mi.diags = append(*mi.diags, errorAt(m.localNames[cyc[0]].attr.NameRange, "Local value cycle",
			"These local values refer to each other in a cycle: %s. Remove one of the references to break the cycle.", b.String()))
	}
	// object is the local object as it stands: locals not evaluated yet
	// are unknown.
	object := func() cty.Value {
		o := make(map[string]cty.Value, len(m.locals))
		for _, l := range m.locals {
			if v, ok := vals[l.name]; ok {
				o[l.name] = v
			} else {
				o[l.name] = cty.DynamicVal
			}
		}
		return cty.ObjectVal(o)
	}
	order, _ := evalOrder(g)
	for _, n := range order {
		if _, done := vals[n]; done {
			continue
		}
		l := m.localNames[n]
		if l.bad {
			// Load reported its bad reference already.
			vals[n] = cty.DynamicVal
			continue
		}
		v, ds := l.attr.Expr.Value(cp.evalContext(mi, map[string]cty.Value{"local": object()}))
		ds = templateDiags(ds)
		*mi.diags = append(*mi.diags, ds...)
		if ds.HasErrors() {
			v = cty.DynamicVal
		}
		vals[n] = v
	}
	return object()
}

// refValues returns the variables refs need in mi, in a context below
// refContext: an object per kind referred to, with the resource blocks
// referred to, and module with the module calls when refs name any. cyc is
// true when the referrer is on or behind a cycle: the instances there are
// unknown to it. It is nil when refs is empty.
func (cp *compilation) refValues(mi *modInst, refs []ref, cyc bool) map[string]cty.Value {
	if len(refs) == 0 {
		return nil
	}
	kinds := map[string]map[string]cty.Value{}
	var mods map[string]cty.Value
	for _, r := range refs {
		if r.call != "" {
			if mods == nil {
				mods = map[string]cty.Value{}
			}
			mods[r.call] = cp.callValue(mi, r.call, cyc)
			continue
		}
		k := kinds[r.addr.Kind]
		if k == nil {
			k = map[string]cty.Value{}
			kinds[r.addr.Kind] = k
		}
		k[r.addr.Name] = cp.declValue(mi, r.addr, cyc)
	}
	vars := make(map[string]cty.Value, len(kinds)+1)
	if mods != nil {
		vars["module"] = cty.ObjectVal(mods)
	}
	for k, m := range kinds {
		vars[k] = cty.ObjectVal(m)
	}
	return vars
}

// refEvalContext is the context of an expression with refs in mi, with
// extra variables (each or count).
func (cp *compilation) refEvalContext(mi *modInst, refs []ref, cyc bool, extra map[string]cty.Value) *hcl.EvalContext {
	vars := cp.refValues(mi, refs, cyc)
	if len(extra) > 0 {
		if vars == nil {
			vars = make(map[string]cty.Value, len(extra))
		}
		for k, v := range extra {
			vars[k] = v
		}
	}
	if len(vars) == 0 {
		return mi.refContext()
	}
	ctx := mi.refContext().NewChild()
	ctx.Variables = vars
	return ctx
}

// referenced reports whether an expression reads in's values, so that it
// needs its attribute object.
func (cp *compilation) referenced(in *instance) bool {
	return in.decl.mod.referenced[in.decl.addr]
}

// instValue is what a referrer sees of in: its attribute object, or
// unknown when in is not evaluated yet (a cycle).
func (cp *compilation) instValue(in *instance, cyc bool) cty.Value {
	if !in.done || (cyc && cp.cyclic[in.key]) {
		return cty.DynamicVal
	}
	return in.value
}

// declValue is a resource block as expressions see it: the attribute
// object of its instance, or for for_each an object of the instances by
// key, for count a tuple of them. It is unknown when the block is not on
// this host (Validate) or its instances are not known.
func (cp *compilation) declValue(mi *modInst, addr resources.Addr, cyc bool) cty.Value {
	di := mi.decls[addr]
	if di == nil {
		return cty.DynamicVal
	}
	return repeatedValue(di.mode, di.list,
		func(in *instance) string { return in.name },
		func(in *instance) cty.Value { return cp.instValue(in, cyc) })
}

// repeatedValue shapes the values of a block's instances as expressions
// see them: the one value of a single block, an object by key for
// for_each, a tuple for count, unknown otherwise.
func repeatedValue[T any](mode repeatMode, list []T, name func(T) string, value func(T) cty.Value) cty.Value {
	switch mode {
	case single:
		return value(list[0])
	case forEachMode:
		m := make(map[string]cty.Value, len(list))
		for _, x := range list {
			m[name(x)] = value(x)
		}
		return cty.ObjectVal(m)
	case countMode:
		if len(list) == 0 {
			return cty.EmptyTupleVal
		}
		l := make([]cty.Value, len(list))
		for i, x := range list {
			l[i] = value(x)
		}
		return cty.TupleVal(l)
	}
	return cty.DynamicVal
}

// callValue is a module call as expressions see it: the object of its
// outputs, or for for_each an object of those by key, for count a tuple.
func (cp *compilation) callValue(mi *modInst, name string, cyc bool) cty.Value {
	ci := mi.calls[name]
	if ci == nil {
		return cty.DynamicVal
	}
	return repeatedValue(ci.mode, ci.list,
		func(child *modInst) string { return child.name },
		func(child *modInst) cty.Value { return cp.outputs(child, cyc) })
}

// outputs evaluates the outputs of module instance mi into an object.
// They are evaluated where they are used, after the resources they refer
// to (the graph has edges to those).
func (cp *compilation) outputs(mi *modInst, cyc bool) cty.Value {
	m := make(map[string]cty.Value, len(mi.mod.outputs))
	for _, n := range sortedNames(mi.mod.outputs) {
		o := mi.mod.outputs[n]
		if o.bad {
			m[n] = cty.DynamicVal
			continue
		}
		v, ds := o.value.Expr.Value(cp.refEvalContext(mi, o.refs, cyc, nil))
		ds = templateDiags(ds)
		*mi.diags = append(*mi.diags, ds...)
		if ds.HasErrors() {
			v = cty.DynamicVal
		}
		m[n] = v
	}
	return cty.ObjectVal(m)
}

// checkOutputs evaluates every output of every module instance below mi,
// so that an output nobody reads is checked too.
func (cp *compilation) checkOutputs(mi *modInst) {
	for _, n := range sortedNames(mi.calls) {
		for _, child := range mi.calls[n].list {
			cp.outputs(child, false)
			cp.checkOutputs(child)
		}
	}
}

// evalInstance evaluates in's attributes and nested blocks, records the
// object other resources see, and builds the resource through its kind.
// in.res stays nil when the block had errors or values that are not
// known.
func (cp *compilation) evalInstance(in *instance) {
	d := in.decl
	// The context: the module instance's var, local and host, the
	// resources and modules d refers to (already evaluated, as the graph
	// orders them), and the instance's each or count.
	ctx := cp.refEvalContext(in.mi, d.refs, cp.cyclic[in.key], in.iter)

	// failed: an attribute could not be evaluated (reported); unknown: a
	// value is not wholly known (Validate, or an upstream error). Either
	// way the kind is not called, but the other attributes are still
	// evaluated so that all their problems are reported.
	failed, unknown := false, false
	// obj is what other resources see as kind["name"]: every attribute of
	// the kind's schema, null when not set, marks kept. Only a block that
	// something refers to needs it.
	var obj map[string]cty.Value
	if cp.referenced(in) {
		obj = make(map[string]cty.Value, len(d.kind.Attributes))
		for _, s := range d.kind.Attributes {
			obj[s.Name] = cty.NullVal(cty.DynamicPseudoType)
		}
	}
	// own is true for the block's own attributes, false for a nested
	// block's (kept in b.Blocks).
	evalAttrs := func(own bool, attrs []*hcl.Attribute, bad map[string]bool, obj map[string]cty.Value) map[string]*resources.Attr {
		var out map[string]*resources.Attr
		var slab []resources.Attr
		if own {
			// The block's own attributes: the compilation's map and
			// slab, reused for every block (Kind.New keeps neither).
			if cp.attrs == nil {
				cp.attrs = make(map[string]*resources.Attr, len(attrs))
			}
			out = cp.attrs
			clear(out)
			if cap(cp.attrSlab) < len(attrs) {
				cp.attrSlab = make([]resources.Attr, 0, max(len(attrs), 16))
			}
			slab = cp.attrSlab[:0]
		} else {
			out = make(map[string]*resources.Attr, len(attrs))
			// One allocation for the attributes: slab never grows.
			slab = make([]resources.Attr, 0, len(attrs))
		}
		add := func(name string, a resources.Attr) {
			slab = append(slab, a)
			out[name] = &slab[len(slab)-1]
		}
		set := func(name string, v cty.Value) {
			if obj != nil {
				obj[name] = v
			}
		}
		for _, a := range attrs {
			if bad[a.Name] {
				failed = true
				set(a.Name, cty.DynamicVal)
				continue
			}
			if own && obj == nil && slices.Contains(d.kind.Text, a.Name) {
				// Nothing reads the value but the kind: it gets the
				// template to render on demand (resources.Text).
				if t, ok := cp.c.lazyText(a.Expr, ctx, d.mod, &cp.strs); ok {
					add(a.Name, resources.Attr{Range: a.Expr.Range(), Text: t})
					continue
				}
			}
			v, fast := cp.c.fastValue(a.Expr, ctx, d.mod, &cp.strs)
			var ds hcl.Diagnostics
			if !fast {
				v, ds = a.Expr.Value(ctx)
			}
			if len(ds) > 0 {
				ds = templateDiags(ds)
				*in.diags = append(*in.diags, ds...)
				if ds.HasErrors() {
					failed = true
					set(a.Name, cty.DynamicVal)
					continue
				}
			}
			set(a.Name, v)
			if !v.IsWhollyKnown() {
				unknown = true
				continue
			}
			if v.IsNull() {
				continue // null is the same as not set
			}
			// Kinds get plain values; that any part was sensitive survives
			// as a flag.
			if v.Type().IsPrimitiveType() && !v.IsMarked() {
				add(a.Name, resources.Attr{Value: v, Range: a.Expr.Range()})
				continue
			}
			uv, pvm := v.UnmarkDeepWithPaths()
			add(a.Name, resources.Attr{Value: uv, Range: a.Expr.Range(), Sensitive: hasSensitive(pvm)})
		}
		return out
	}
	attrs := evalAttrs(true, d.ordered, d.bad, obj)
	var nested []*resources.Nested
	if d.nested {
		var ok bool
		nested, ok = cp.evalNested(in, ctx, evalAttrs)
		failed = failed || !ok
	}
	if obj != nil {
		in.value = cty.ObjectVal(obj)
	}
	in.done = true

	if failed {
		return
	}
	if unknown {
		// With WithUnknownSecrets (validate without an identity), a secret
		// is unknown on purpose.
		if !cp.validate && !cp.hasErrors() && !cp.c.secrets.unknown {
			// Only errors make values unknown outside Validate; say so
			// rather than silently leave the resource out.
			*in.diags = append(*in.diags, errorAt(d.block.DefRange, "Value not known",
				"Some attribute values of %s are not known, so it cannot be built.", in.addr))
		}
		return
	}
	// The compilation's block, reused for every instance: Kind.New keeps
	// neither it nor its attribute map.
	b := &cp.block
	*b = resources.Block{
		Addr:       in.addr,
		Kind:       d.addr.Kind,
		Name:       d.addr.Name,
		DeclRange:  d.block.DefRange,
		LabelRange: d.block.LabelRanges[0],
		Attrs:      attrs,
		Files:      &cp.c.shared,
		Dir:        d.mod.dir,
		Blocks:     nested,
	}
	res, ds := d.kind.New(b)
	// Kinds quote the values they reject: not those that are sensitive.
	if len(ds) > 0 {
		ds = redactDiags(ds, redactStrings(sensitiveStrings(attrs, nested)))
	}
	*in.diags = append(*in.diags, ds...)
	if ds.HasErrors() {
		return
	}
	in.res = res
}

// evalNested expands the dynamic blocks of in's block in ctx and evaluates
// every nested block's attributes with evalAttrs. Their schemas were
// checked by Load, so only expansion problems are reported here. ok is
// false when something failed.
func (cp *compilation) evalNested(in *instance, ctx *hcl.EvalContext,
	evalAttrs func(bool, []*hcl.Attribute, map[string]bool, map[string]cty.Value) map[string]*resources.Attr,
) (out []*resources.Nested, ok bool) {
	d := in.decl
	if d.badNested {
		return nil, false
	}
	// dynblock evaluates for_each and labels of dynamic blocks in ctx and
	// wraps the content's expressions so that they see the iterator.
	body := dynblock.Expand(d.block.Body, ctx)
	content, _, ds := body.PartialContent(nestedHeaders(d.kind))
	*in.diags = append(*in.diags, templateDiags(ds)...)
	ok = !ds.HasErrors()
	for _, nb := range content.Blocks {
		bc, _, ds := nb.Body.PartialContent(nestedSchema(d.kind, nb.Type))
		if ds.HasErrors() {
			ok = false // reported by Load
			continue
		}
		// Nested values are not part of the object other resources see.
		n := &resources.Nested{Type: nb.Type, Labels: nb.Labels, DeclRange: nb.DefRange}
		n.Attrs = evalAttrs(false, sortedAttrs(bc.Attributes), nil, map[string]cty.Value{})
		out = append(out, n)
	}
	return out, ok
}
