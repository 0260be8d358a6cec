package config

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/resources"
)

// ref is a static reference to a resource block or to a module call, with
// where it is written. References are found before anything is evaluated;
// they become the edges of a host's graph.
type ref struct {
	// addr is the resource block referred to (Kind and Name), for a
	// resource reference.
	addr resources.Addr
	// call is the module call's name, for a reference module.NAME.
	call string
	// key is the instance key, as addresses print it ("\"shop\"", "0"),
	// when the reference names one instance with a literal; "" otherwise.
	key string
	// output is the output of a module reference, when named.
	output string
	// steps counts the traversal steps after the resource (and its key):
	// attribute accesses.
	steps int
	rng   hcl.Range
}

// text prints the reference the way a spec writes it.
func (r ref) text() string {
	if r.call != "" {
		return "module." + r.call
	}
	return refText(r.addr)
}

// parseRef reads a traversal rooted at a resource kind, kind["name"] (or
// kind.name) with an optional instance key and attribute steps, or at
// module, module.NAME with an optional key and output. ok is false when
// the root is neither; a diagnostic is returned when it is one but the
// resource is not named with a literal.
func parseRef(t hcl.Traversal) (r ref, ok bool, diag *hcl.Diagnostic) {
	root := t.RootName()
	if root == "module" {
		if len(t) < 2 {
			return ref{}, true, errorAt(t.SourceRange(), "Invalid module reference",
				"A reference to a module call names it, such as module.sites or module.sites[\"a\"].url.")
		}
		a, isAttr := t[1].(hcl.TraverseAttr)
		if !isAttr {
			return ref{}, true, errorAt(t.SourceRange(), "Invalid module reference",
				"A reference to a module call names it with an attribute step, such as module.sites, not an index.")
		}
		r = ref{call: a.Name, rng: hcl.RangeBetween(t[0].SourceRange(), t[1].SourceRange())}
		rest := t[2:]
		if len(rest) > 0 {
			if k, isKey := literalKey(rest[0]); isKey {
				r.key = k
				rest = rest[1:]
			}
		}
		if len(rest) > 0 {
			if a, isAttr := rest[0].(hcl.TraverseAttr); isAttr {
				r.output = a.Name
			}
			r.steps = len(rest)
		}
		return r, true, nil
	}
	if resources.Lookup(root) == nil {
		return ref{}, false, nil
	}
	bad := errorAt(t.SourceRange(), "Invalid resource reference",
		"A reference to a %s must name it with a literal string, such as %s[\"/etc/motd\"], so that the order of the resources is known before evaluation.", root, root)
	if len(t) < 2 {
		return ref{}, true, bad
	}
	name, ok := stepName(t[1])
	if !ok {
		return ref{}, true, bad
	}
	r = ref{
		addr: resources.Addr{Kind: root, Name: name},
		rng:  hcl.RangeBetween(t[0].SourceRange(), t[1].SourceRange()),
	}
	// An index after the name selects an instance of a for_each or count
	// block: file.vhost["shop"]. On a block without either, the same
	// syntax indexes the attribute object (file["x"]["path"]); whether the
	// key is an instance is known once the target block is, so the graph
	// ignores it there and depends_on rejects it.
	rest := t[2:]
	if len(rest) > 0 {
		if k, isKey := literalKey(rest[0]); isKey {
			r.key = k
			rest = rest[1:]
		}
	}
	r.steps = len(rest)
	return r, true, nil
}

// stepName returns the name a traversal step selects: .name or ["name"].
func stepName(s hcl.Traverser) (string, bool) {
	switch s := s.(type) {
	case hcl.TraverseAttr:
		return s.Name, true
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
			return s.Key.AsString(), true
		}
	}
	return "", false
}

// literalKey returns the instance key an index step with a literal selects,
// as addresses print it: ["shop"] gives "\"shop\"", [3] gives "3".
func literalKey(s hcl.Traverser) (string, bool) {
	ix, ok := s.(hcl.TraverseIndex)
	if !ok || !ix.Key.IsKnown() || ix.Key.IsNull() {
		return "", false
	}
	switch ix.Key.Type() {
	case cty.String:
		return strconv.Quote(ix.Key.AsString()), true
	case cty.Number:
		f := ix.Key.AsBigFloat()
		if i, acc := f.Int64(); acc == big.Exact && i >= 0 {
			return strconv.FormatInt(i, 10), true
		}
	}
	return "", false
}

// refText prints addr the way a spec writes a reference to it.
func refText(a resources.Addr) string { return a.Kind + "[" + strconv.Quote(a.Name) + "]" }

// kindList names the registered kinds for messages: "directory, file or symlink".
func kindList() string {
	ks := resources.Kinds()
	if len(ks) < 2 {
		return strings.Join(ks, "")
	}
	return strings.Join(ks[:len(ks)-1], ", ") + " or " + ks[len(ks)-1]
}

// scope says what the expressions of one place may refer to.
type scope struct {
	// what names the place for messages: `The local value "x"`.
	what string
	// allowed lists what it may refer to, for messages.
	allowed string
	// resources allows references to resources and module calls.
	resources bool
	// each and count allow each.key/each.value and count.index.
	each, count bool
	// self, when set, allows only var.<self>: variable validations.
	self string
}

// checked is what checkExpr found in an expression.
type checked struct {
	refs   []ref
	locals []string
	bad    bool
}

// checkExpr checks the references of traversals against m and the scope
// rules s, and collects the resource and module references and the locals
// named. Unknown roots are left to evaluation ("Unknown variable").
func (m *module) checkExpr(s scope, ts []hcl.Traversal, diags *hcl.Diagnostics) checked {
	var out checked
	fail := func(d *hcl.Diagnostic) {
		*diags = append(*diags, d)
		out.bad = true
	}
	for _, t := range ts {
		root := t.RootName()
		if root == "host" && len(t) > 1 {
			if n, ok := stepName(t[1]); ok && n == "facts" {
				m.usesFacts = true
			}
		}
		// A validation sees nothing but its variable: it runs where the
		// value is given, before locals, the host or resources exist.
		if s.self != "" && root != "var" && (root == "local" || root == "host" || root == "each" || root == "count" || root == "module" || resources.Lookup(root) != nil) {
			fail(errorAt(t.SourceRange(), "Invalid reference in variable validation",
				"The validation of variable %q may only refer to the variable itself, as var.%s.", s.self, s.self))
			continue
		}
		switch {
		case root == "var":
			if d := m.checkVarRef(t); d != nil {
				fail(d)
				continue
			}
			if s.self == "" || len(t) < 2 {
				continue
			}
			if name, ok := stepName(t[1]); ok && name != s.self {
				fail(errorAt(t.SourceRange(), "Invalid reference in variable validation",
					"The validation of variable %q may only refer to the variable itself, as var.%s, not to var.%s.", s.self, s.self, name))
			}
		case root == "local":
			name, d := m.checkLocalRef(t)
			if d != nil {
				fail(d)
			} else if name != "" && !slices.Contains(out.locals, name) {
				out.locals = append(out.locals, name)
			}
		case root == "each" && !s.each:
			fail(errorAt(t.SourceRange(), `Reference to "each" in a block without for_each`,
				"each.key and each.value are only available in a block with for_each; %s has none.", s.what))
		case root == "count" && !s.count:
			fail(errorAt(t.SourceRange(), `Reference to "count" in a block without count`,
				"count.index is only available in a block with count; %s has none.", s.what))
		case root == "module" || resources.Lookup(root) != nil:
			// Resources and modules: the references that become edges,
			// where the scope allows them.
			r, _, pd := parseRef(t)
			switch {
			case pd != nil:
				fail(pd)
			case !s.resources:
				what := "a " + root
				if root == "module" {
					what = "module." + r.call
				}
				fail(errorAt(t.SourceRange(), "Invalid reference",
					"%s refers to %s: it may refer to %s, but not to resources or modules.", s.what, what, s.allowed))
			default:
				if d := m.checkDeclared(r); d != nil {
					fail(d)
				} else {
					out.refs = append(out.refs, r)
				}
			}
		}
	}
	return out
}

// Scopes of the places that may not refer to resources. Resource
// attributes, nested blocks and outputs may refer to anything.
var (
	localScope = scope{allowed: "variables, the host and other local values"}
	repeatRule = "variables, local values and the host (the instances must be known before any resource is evaluated)"
	inputRule  = "variables, local values, the host, and each or count"
)

// checkRefs is Load's last pass over a module, once every file is decoded:
// it checks the references of locals, resource blocks, module calls,
// outputs and variable validations, and records those that order the
// evaluation. An expression with a bad reference is flagged and never
// evaluated, so it is reported once, here.
func (c *Config) checkRefs(m *module) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, n := range sortedNames(m.variables) {
		v := m.variables[n]
		s := scope{self: n}
		for _, vl := range v.validations {
			ts := append(vl.condition.Variables(), vl.message.Variables()...)
			if m.checkExpr(s, ts, &diags).bad {
				vl.bad = true
			}
		}
	}
	for _, l := range m.locals {
		s := localScope
		s.what = fmt.Sprintf("The local value %q", l.name)
		ck := m.checkExpr(s, l.attr.Expr.Variables(), &diags)
		l.refs, l.bad = ck.locals, ck.bad
	}
	decls, calls := m.resources, m.calls
	if m.root {
		decls, calls = nil, nil
		for _, r := range c.roles {
			decls = append(decls, r.resources...)
			calls = append(calls, r.calls...)
		}
	}
	for _, d := range decls {
		diags = append(diags, m.checkResourceRefs(d)...)
	}
	for _, mc := range calls {
		diags = append(diags, m.checkCallRefs(mc)...)
	}
	for _, n := range sortedNames(m.outputs) {
		o := m.outputs[n]
		if o.value == nil {
			continue
		}
		s := scope{what: fmt.Sprintf("The output %q", n), resources: true}
		ck := m.checkExpr(s, o.value.Expr.Variables(), &diags)
		o.refs, o.bad = ck.refs, o.bad || ck.bad
	}
	// The blocks whose values some expression reads: only their instances
	// need the attribute object (see evalInstance).
	m.referenced = map[resources.Addr]bool{}
	for _, d := range decls {
		for _, r := range d.refs {
			if r.call == "" {
				m.referenced[r.addr] = true
			}
		}
	}
	for _, o := range m.outputs {
		for _, r := range o.refs {
			if r.call == "" {
				m.referenced[r.addr] = true
			}
		}
	}
	return append(diags, m.validateDefaults()...)
}

// checkRepeat checks the references of for_each or count.
func (m *module) checkRepeat(a *hcl.Attribute, of string, diags *hcl.Diagnostics) bool {
	if a == nil {
		return false
	}
	s := scope{what: fmt.Sprintf("The %s of %s", a.Name, of), allowed: repeatRule}
	return m.checkExpr(s, a.Expr.Variables(), diags).bad
}

// checkResourceRefs checks the references of one resource block: those of
// its attribute expressions and nested blocks (to variables, locals,
// resources and modules), of for_each and count, and of depends_on.
// Resource references are recorded as edges; whether the target is on a
// given host is Compile's business.
func (m *module) checkResourceRefs(d *resourceDecl) hcl.Diagnostics {
	var diags hcl.Diagnostics
	of := d.addr.Kind + "." + d.addr.Name
	d.badRepeat = m.checkRepeat(d.forEach, of, &diags) || m.checkRepeat(d.count, of, &diags)
	s := scope{what: d.addr.String(), resources: true, each: d.forEach != nil, count: d.count != nil}
	for _, a := range sortedAttrs(d.attrs) {
		ck := m.checkExpr(s, a.Expr.Variables(), &diags)
		d.refs = append(d.refs, ck.refs...)
		if ck.bad {
			d.bad[a.Name] = true
		}
	}
	ck := m.checkExpr(s, d.nestedTraversals(), &diags)
	d.refs = append(d.refs, ck.refs...)
	d.badNested = d.badNested || ck.bad
	d.dependsOn = m.checkDependsOn(d.dependsOn, &diags)
	d.notify = m.checkNotify(d.notify, &diags)
	d.subscribe = m.checkNotify(d.subscribe, &diags)
	var links []link
	for _, l := range d.links {
		if kept := m.checkDependsOn([]ref{l.ref}, &diags); len(kept) == 1 {
			links = append(links, link{attr: l.attr, ref: kept[0]})
		}
	}
	d.links = links
	if d.when != nil {
		ws := scope{what: "The when condition of " + of, allowed: repeatRule, each: d.forEach != nil, count: d.count != nil}
		if m.checkExpr(ws, d.when.Expr.Variables(), &diags).bad {
			d.badRepeat = true
		}
	}
	return diags
}

// checkNotify keeps the notify or subscribe entries that name a declared
// resource (not a module call: a notification goes to one receiver kind).
func (m *module) checkNotify(refs []ref, diags *hcl.Diagnostics) []ref {
	var kept []ref
	for _, r := range m.checkDependsOn(refs, diags) {
		if r.call != "" {
			*diags = append(*diags, errorAt(r.rng, "Invalid notification",
				"Notifications go to resources, such as service[\"nginx\"], not to module calls."))
			continue
		}
		kept = append(kept, r)
	}
	return kept
}

// checkCallRefs checks the references of a module call: its inputs, its
// for_each or count and its depends_on.
func (m *module) checkCallRefs(mc *moduleCall) hcl.Diagnostics {
	var diags hcl.Diagnostics
	of := "module." + mc.name
	mc.badRepeat = m.checkRepeat(mc.forEach, of, &diags) || m.checkRepeat(mc.count, of, &diags)
	s := scope{allowed: inputRule, each: mc.forEach != nil, count: mc.count != nil}
	for _, a := range sortedAttrs(mc.inputs) {
		s.what = fmt.Sprintf("The input %q of module.%s", a.Name, mc.name)
		if m.checkExpr(s, a.Expr.Variables(), &diags).bad {
			mc.bad[a.Name] = true
		}
	}
	mc.dependsOn = m.checkDependsOn(mc.dependsOn, &diags)
	return diags
}

// checkDependsOn keeps the depends_on entries that name a declared
// resource or module call; the others are reported and dropped.
func (m *module) checkDependsOn(refs []ref, diags *hcl.Diagnostics) []ref {
	var kept []ref
	for _, r := range refs {
		if d := m.checkDeclared(r); d != nil {
			*diags = append(*diags, d)
			continue
		}
		if r.key != "" && r.call == "" && !m.declared[r.addr][0].repeated() {
			*diags = append(*diags, errorAt(r.rng, "Invalid depends_on reference",
				"A depends_on entry names a whole resource, such as %s, not one of its attributes.", refText(r.addr)))
			continue
		}
		kept = append(kept, r)
	}
	return kept
}

// checkVarRef checks that var.NAME is declared.
func (m *module) checkVarRef(t hcl.Traversal) *hcl.Diagnostic {
	if len(t) < 2 {
		return nil
	}
	name, ok := stepName(t[1])
	if !ok {
		return nil
	}
	if _, ok := m.variables[name]; ok {
		return nil
	}
	return errorAt(hcl.RangeBetween(t[0].SourceRange(), t[1].SourceRange()), "Reference to undeclared variable",
		"A variable named %q is not declared%s. Declare it with a variable %q block, or correct the name.", name, m.where(), name)
}

// checkLocalRef checks that local.NAME is defined and returns NAME.
func (m *module) checkLocalRef(t hcl.Traversal) (string, *hcl.Diagnostic) {
	if len(t) < 2 {
		return "", nil
	}
	name, ok := stepName(t[1])
	if !ok {
		return "", nil
	}
	if _, ok := m.localNames[name]; ok {
		return name, nil
	}
	return "", errorAt(hcl.RangeBetween(t[0].SourceRange(), t[1].SourceRange()), "Reference to undeclared local value",
		"A local value named %q is not defined%s. Define it in a locals block, or correct the name.", name, m.where())
}

// checkDeclared checks that m declares the resource or module call r
// refers to (at the root: some role does), and that a named output exists.
func (m *module) checkDeclared(r ref) *hcl.Diagnostic {
	if r.call != "" {
		calls := m.callNames[r.call]
		if len(calls) == 0 {
			return errorAt(r.rng, "Reference to undeclared module",
				"No module call named %q is declared%s. Declare it with a module %q block, or correct the reference.", r.call, m.where(), r.call)
		}
		if mod := calls[0].mod; r.output != "" && mod != nil {
			if _, ok := mod.outputs[r.output]; !ok {
				return errorAt(r.rng, "Reference to undeclared output",
					"The module %s (called as module.%s) declares no output %q.", mod.dir, r.call, r.output)
			}
		}
		return nil
	}
	if len(m.declared[r.addr]) > 0 {
		return nil
	}
	return errorAt(r.rng, "Reference to undeclared resource",
		"No %s declares %s. Declare it with a %s %q block, or correct the reference.", m.declarer(), r.addr, r.addr.Kind, r.addr.Name)
}

// where says "in the module DIR" for messages about a module directory.
func (m *module) where() string {
	if m.root {
		return ""
	}
	return " in the module " + m.dir
}

// declarer names what declares resources of m, for messages.
func (m *module) declarer() string {
	if m.root {
		return "role"
	}
	return "block of the module " + m.dir
}

// sortedAttrs returns attrs in source order, so diagnostics come out in a
// stable order.
func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y *hcl.Attribute) int {
		if x.Range.Filename != y.Range.Filename {
			return strings.Compare(x.Range.Filename, y.Range.Filename)
		}
		return x.Range.Start.Byte - y.Range.Start.Byte
	})
	return out
}
