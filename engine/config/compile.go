package config

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/engine/graph"
	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/resources"
)

// HostGraph is the compiled desired state of one host: its resources and
// the dependencies between them.
type HostGraph struct {
	Host *inventory.Host
	// Nodes are in topological order, dependencies first, ties broken by
	// address string; the same spec gives the same order on every run.
	Nodes []*Node
	// Graph holds the nodes keyed by Addr.String(); an edge from A to B
	// means A depends on B.
	Graph *graph.Graph[string]
}

// Node is one resource of a host's graph.
type Node struct {
	Addr resources.Addr
	// Resource is what the kind built; nil when the block had errors or
	// (in Validate) values that are not known.
	Resource  resources.Resource
	Role      string
	DeclRange hcl.Range
	// Deps are the resources this one depends on directly, through
	// depends_on or references in its attributes, sorted by address.
	Deps []resources.Addr
}

// Compile builds the resource graph of h from the roles that select it.
// vars are the given variable values (from ParseVar and LoadVarFile; later
// entries of a map already won); declared defaults fill in the rest. Values
// for undeclared variables are ignored here (Validate warns about them).
//
// Compile always returns a HostGraph; when the diagnostics hold an error
// it must not be applied. Compile may be called for several hosts at once.
func (c *Config) Compile(h *inventory.Host, vars map[string]cty.Value) (*HostGraph, hcl.Diagnostics) {
	var roles []*Role
	for _, r := range c.roles {
		if c.Selects(r, h) {
			roles = append(roles, r)
		}
	}
	return c.compile(h, hostValue(h), roles, vars, false)
}

// Validate checks the specs without an inventory: it compiles every role
// on its own against a placeholder host called "validate" whose variables
// and groups are unknown. Required variables without a given value are
// unknown too (as in terraform validate), given values are checked.
// Resources whose values are then not known are not built, but everything
// that can be checked is. Duplicates and cycles that only arise when
// several roles select one host are found by Compile. Values given for
// undeclared variables are warnings.
func (c *Config) Validate(vars map[string]cty.Value) hcl.Diagnostics {
	h := &inventory.Host{Name: "validate", Address: "validate", Vars: cty.DynamicVal}
	hv := cty.ObjectVal(map[string]cty.Value{
		"name":    cty.StringVal("validate"),
		"address": cty.StringVal("validate"),
		"vars":    cty.DynamicVal,
		"groups":  cty.UnknownVal(cty.List(cty.String)),
	})
	diags := c.undeclaredVars(vars)
	seen := map[string]bool{}
	add := func(ds hcl.Diagnostics) {
		for _, d := range ds {
			k := diagKey(d)
			if !seen[k] {
				seen[k] = true
				diags = append(diags, d)
			}
		}
	}
	// Each role on its own: a placeholder host could be selected by any
	// combination of roles, so only what holds for every host is checked.
	if len(c.roles) == 0 {
		// Still check the variables and locals.
		_, ds := c.compile(h, hv, nil, vars, true)
		add(ds)
	}
	for _, r := range c.roles {
		_, ds := c.compile(h, hv, []*Role{r}, vars, true)
		add(ds)
	}
	return diags
}

// diagKey identifies a diagnostic for removing the copies that every role
// (or host) reports for a shared variable or local.
func diagKey(d *hcl.Diagnostic) string {
	k := fmt.Sprintf("%d|%s|%s", d.Severity, d.Summary, d.Detail)
	if d.Subject != nil {
		k += "|" + d.Subject.String()
	}
	return k
}

// hostValue is the host object of expressions: name, address, vars and
// groups.
func hostValue(h *inventory.Host) cty.Value {
	// A host without variables gets an empty object, so that host.vars.x
	// is a clear "Unsupported attribute" rather than a null access.
	vars := h.Vars
	if vars == cty.NilVal || vars.IsNull() {
		vars = cty.EmptyObjectVal
	}
	groups := cty.ListValEmpty(cty.String)
	if len(h.Groups) > 0 {
		gs := make([]cty.Value, len(h.Groups))
		for i, g := range h.Groups {
			gs[i] = cty.StringVal(g)
		}
		groups = cty.ListVal(gs)
	}
	addr := h.Address
	if addr == "" {
		addr = h.Name
	}
	return cty.ObjectVal(map[string]cty.Value{
		"name":    cty.StringVal(h.Name),
		"address": cty.StringVal(addr),
		"vars":    vars,
		"groups":  groups,
	})
}

// compilation is the state of one compile: one host, its roles.
type compilation struct {
	c        *Config
	validate bool
	diags    hcl.Diagnostics
	// base holds var, local and host; each resource adds the kinds.
	base map[string]cty.Value
	// decls are the resources of the host by address, values their
	// evaluated attribute objects (cty.DynamicVal until evaluated or when
	// evaluation failed).
	decls  map[resources.Addr]*resourceDecl
	values map[resources.Addr]cty.Value
	// byKey maps the graph's keys, Addr.String(), to the declarations.
	byKey map[string]*resourceDecl
	// cyclic holds the keys of the resources on or behind a cycle.
	cyclic map[string]bool
}

// compile is Compile and Validate: it builds the graph of h (whose host
// object is hostVal) from roles. In validate mode, references to resources
// of roles that are not compiled are unknown values instead of errors.
//
// The steps: variables, then locals (both only need var and host), then the
// resource declarations with their duplicates, then the graph from
// depends_on and references, its cycles, and last the resources in graph
// order so that each sees the values of those it refers to.
func (c *Config) compile(h *inventory.Host, hostVal cty.Value, roles []*Role, given map[string]cty.Value, validate bool) (*HostGraph, hcl.Diagnostics) {
	cp := &compilation{
		c:        c,
		validate: validate,
		base:     map[string]cty.Value{"host": hostVal},
		decls:    map[resources.Addr]*resourceDecl{},
		values:   map[resources.Addr]cty.Value{},
		byKey:    map[string]*resourceDecl{},
	}
	varVal, ds := c.varValues(given, validate)
	cp.diags = append(cp.diags, ds...)
	cp.base["var"] = varVal
	cp.base["local"] = cp.evalLocals()

	// The host's resources; a second declaration of an address is an
	// error pointing at its label and naming the first.
	var order []*resourceDecl
	for _, r := range roles {
		for _, d := range r.resources {
			if prev, dup := cp.decls[d.addr]; dup {
				cp.diags = append(cp.diags, errorAt(d.block.LabelRanges[0], "Duplicate resource",
					"%s is already declared at %s (role %q). A resource may be declared once per host: remove one of the blocks, or make sure no host is selected by both roles.",
					d.addr, pos(prev.block.DefRange), prev.role.Name))
				continue
			}
			cp.decls[d.addr] = d
			cp.byKey[d.addr.String()] = d
			order = append(order, d)
		}
	}

	// Every resource is a node, even one without edges; every depends_on
	// entry and every reference in an attribute is an edge. Load checked
	// that each target is declared by some role, so a target missing here
	// belongs to a role that does not select this host.
	g := graph.New[string]()
	for _, d := range order {
		g.Add(d.addr.String())
	}
	for _, d := range order {
		for _, r := range slices.Concat(d.dependsOn, d.refs) {
			if _, ok := cp.decls[r.addr]; ok {
				g.Connect(d.addr.String(), r.addr.String())
				continue
			}
			if validate {
				continue // declared by another role: unknown here
			}
			other := c.declared[r.addr][0]
			cp.diags = append(cp.diags, errorAt(r.rng, "Reference to resource not on this host",
				"%s is declared at %s in role %q, which does not select host %q, so %s cannot depend on it.",
				r.addr, pos(other.block.DefRange), other.role.Name, h.Name, d.addr))
		}
	}
	for _, cyc := range g.Cycles() {
		cp.diags = append(cp.diags, cp.cycleDiag(cyc))
	}

	// Evaluate in dependency order; the nodes come out in that order too,
	// which is the order HostGraph.Nodes promises (ties by address).
	keys, cyclic := evalOrder(g)
	cp.cyclic = cyclic
	hg := &HostGraph{Host: h, Graph: g}
	for _, k := range keys {
		d := cp.byKey[k]
		n := &Node{Addr: d.addr, Role: d.role.Name, DeclRange: d.block.DefRange}
		for _, dep := range g.DependsOn(k) {
			n.Deps = append(n.Deps, cp.byKey[dep].addr)
		}
		n.Resource = cp.evalResource(d)
		hg.Nodes = append(hg.Nodes, n)
	}
	cp.pathEdges(hg)
	return hg, cp.diags
}

// pathEdges relates resources by the paths they manage, once evaluation
// made the paths known: two resources managing one path are an error naming
// both, and a path inside a present, managed directory depends on that
// directory (as Puppet's autorequire does), so that nobody has to write
// depends_on for the obvious. An implicit edge that would close a cycle is
// left out: explicit dependencies win. Nodes are re-sorted to stay in
// dependency order.
func (cp *compilation) pathEdges(hg *HostGraph) {
	byPath := map[string]*Node{}
	dirs := map[string]*Node{}
	for _, n := range hg.Nodes {
		pr, ok := n.Resource.(resources.PathResource)
		if !ok {
			continue
		}
		p := pr.Path()
		if prev, dup := byPath[p]; dup {
			first, second := prev, n
			if before(n.DeclRange, prev.DeclRange) {
				first, second = n, prev
			}
			cp.diags = append(cp.diags, errorAt(cp.byKey[second.Addr.String()].block.LabelRanges[0], "Duplicate path",
				"%s and %s (at %s) both manage the path %s on host %q. Each path may be managed by one resource only.",
				second.Addr, first.Addr, pos(first.DeclRange), p, hg.Host.Name))
			continue
		}
		byPath[p] = n
		if n.Addr.Kind == "directory" && pr.Present() {
			dirs[p] = n
		}
	}
	added := false
	for _, n := range hg.Nodes {
		pr, ok := n.Resource.(resources.PathResource)
		if !ok {
			continue
		}
		for dir := path.Dir(pr.Path()); ; dir = path.Dir(dir) {
			if d, ok := dirs[dir]; ok && d != n {
				from, to := n.Addr.String(), d.Addr.String()
				if !reaches(hg.Graph, to, from) && !slices.Contains(hg.Graph.DependsOn(from), to) {
					hg.Graph.Connect(from, to)
					n.Deps = append(n.Deps, d.Addr)
					slices.SortFunc(n.Deps, func(a, b resources.Addr) int { return strings.Compare(a.String(), b.String()) })
					added = true
				}
				break
			}
			if dir == "/" || dir == "." {
				break
			}
		}
	}
	if !added {
		return
	}
	if order, err := hg.Graph.Order(); err == nil {
		pos := map[string]int{}
		for i, k := range order {
			pos[k] = i
		}
		slices.SortStableFunc(hg.Nodes, func(a, b *Node) int { return pos[a.Addr.String()] - pos[b.Addr.String()] })
	}
}

// before orders ranges by file, then position.
func before(a, b hcl.Range) bool {
	if a.Filename != b.Filename {
		return a.Filename < b.Filename
	}
	return a.Start.Byte < b.Start.Byte
}

// reaches reports whether from depends on to, directly or not.
func reaches(g *graph.Graph[string], from, to string) bool {
	seen := map[string]bool{}
	stack := []string{from}
	for len(stack) > 0 {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if k == to {
			return true
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		stack = append(stack, g.DependsOn(k)...)
	}
	return false
}

// evalOrder is the graph's topological order. With cycles, the nodes that
// can be ordered come first and the rest, those on or behind a cycle,
// follow in key order and are returned in cyclic too: among themselves they
// see unknown values, not whatever happened to be evaluated first.
func evalOrder(g *graph.Graph[string]) (keys []string, cyclic map[string]bool) {
	keys, err := g.Order()
	if err == nil {
		return keys, nil
	}
	cyclic = map[string]bool{}
	done := make(map[string]bool, len(keys))
	for _, k := range keys {
		done[k] = true
	}
	for _, k := range g.Nodes() {
		if !done[k] {
			keys = append(keys, k)
			cyclic[k] = true
		}
	}
	return keys, cyclic
}

// cycleDiag reports one dependency cycle, members in the graph's stable
// order, at the first member.
func (cp *compilation) cycleDiag(cyc []string) *hcl.Diagnostic {
	var b strings.Builder
	var first *resourceDecl
	for _, k := range cyc {
		d := cp.byKey[k]
		if first == nil {
			first = d
		}
		fmt.Fprintf(&b, "%s (%s) -> ", k, pos(d.block.DefRange))
	}
	b.WriteString(cyc[0])
	return errorAt(first.block.DefRange, "Dependency cycle",
		"These resources depend on each other in a cycle, through depends_on or references: %s. Remove one of the dependencies to break the cycle.", b.String())
}

// evalLocals evaluates the locals in dependency order and returns the local
// object. Locals on a cycle, and those that fail, are unknown.
func (cp *compilation) evalLocals() cty.Value {
	c := cp.c
	if len(c.locals) == 0 {
		return cty.EmptyObjectVal
	}
	g := graph.New[string]()
	for _, l := range c.locals {
		g.Add(l.name)
		for _, r := range l.refs {
			g.Connect(l.name, r)
		}
	}
	// vals holds the values so far; locals on a cycle are unknown from the
	// start, so that what refers to them is evaluated without a second
	// report.
	vals := make(map[string]cty.Value, len(c.locals))
	for _, cyc := range g.Cycles() {
		var b strings.Builder
		for _, n := range cyc {
			fmt.Fprintf(&b, "local.%s (%s) -> ", n, pos(c.localNames[n].attr.NameRange))
			vals[n] = cty.DynamicVal
		}
		b.WriteString("local." + cyc[0])
		cp.diags = append(cp.diags, errorAt(c.localNames[cyc[0]].attr.NameRange, "Local value cycle",
			"These local values refer to each other in a cycle: %s. Remove one of the references to break the cycle.", b.String()))
	}
	// object is the local object as it stands: locals not evaluated yet
	// are unknown.
	object := func() cty.Value {
		m := make(map[string]cty.Value, len(c.locals))
		for _, l := range c.locals {
			if v, ok := vals[l.name]; ok {
				m[l.name] = v
			} else {
				m[l.name] = cty.DynamicVal
			}
		}
		return cty.ObjectVal(m)
	}
	order, _ := evalOrder(g)
	for _, n := range order {
		if _, done := vals[n]; done {
			continue
		}
		l := c.localNames[n]
		if l.bad {
			// Load reported its bad reference already.
			vals[n] = cty.DynamicVal
			continue
		}
		ctx := cp.evalContext(map[string]cty.Value{"local": object()})
		v, ds := l.attr.Expr.Value(ctx)
		ds = templateDiags(ds)
		cp.diags = append(cp.diags, ds...)
		if ds.HasErrors() {
			v = cty.DynamicVal
		}
		vals[n] = v
	}
	return object()
}

// evalContext returns an evaluation context with the base variables,
// overridden or extended by extra.
func (cp *compilation) evalContext(extra map[string]cty.Value) *hcl.EvalContext {
	vars := make(map[string]cty.Value, len(cp.base)+len(extra))
	for k, v := range cp.base {
		vars[k] = v
	}
	for k, v := range extra {
		vars[k] = v
	}
	return &hcl.EvalContext{Variables: vars, Functions: cp.c.funcs}
}

// evalResource evaluates d's attributes, records the object other resources
// see, and builds the resource through its kind. It returns nil when the
// block had errors or values that are not known.
func (cp *compilation) evalResource(d *resourceDecl) resources.Resource {
	// Each kind is an object of the resources d refers to: references are
	// static, so nothing else can be reached.
	kindObjs := map[string]map[string]cty.Value{}
	for _, k := range resources.Kinds() {
		kindObjs[k] = map[string]cty.Value{}
	}
	inCycle := cp.cyclic[d.addr.String()]
	for _, r := range d.refs {
		v, ok := cp.values[r.addr]
		if !ok || (inCycle && cp.cyclic[r.addr.String()]) {
			v = cty.DynamicVal // not evaluated yet (a cycle), or another role's (Validate)
		}
		kindObjs[r.addr.Kind][r.addr.Name] = v
	}
	extra := map[string]cty.Value{}
	for k, m := range kindObjs {
		extra[k] = cty.ObjectVal(m)
	}
	ctx := cp.evalContext(extra)

	// failed: an attribute could not be evaluated (reported); unknown: a
	// value is not wholly known (Validate, or an upstream error). Either
	// way the kind is not called, but the other attributes are still
	// evaluated so that all their problems are reported.
	failed, unknown := false, false
	attrs := map[string]*resources.Attr{}
	// obj is what other resources see as kind["name"]: every attribute of
	// the kind's schema, null when not set, marks kept.
	obj := map[string]cty.Value{}
	for _, s := range d.kind.Attributes {
		obj[s.Name] = cty.NullVal(cty.DynamicPseudoType)
	}
	for _, a := range sortedAttrs(d.attrs) {
		if d.bad[a.Name] {
			failed = true
			obj[a.Name] = cty.DynamicVal
			continue
		}
		v, ds := a.Expr.Value(ctx)
		ds = templateDiags(ds)
		cp.diags = append(cp.diags, ds...)
		if ds.HasErrors() {
			failed = true
			obj[a.Name] = cty.DynamicVal
			continue
		}
		obj[a.Name] = v
		if !v.IsWhollyKnown() {
			unknown = true
			continue
		}
		if v.IsNull() {
			continue // null is the same as not set
		}
		// Kinds get plain values; that any part was sensitive survives as
		// a flag.
		uv, pvm := v.UnmarkDeepWithPaths()
		attrs[a.Name] = &resources.Attr{Value: uv, Range: a.Expr.Range(), Sensitive: hasSensitive(pvm)}
	}
	cp.values[d.addr] = cty.ObjectVal(obj)

	if failed {
		return nil
	}
	if unknown {
		if !cp.validate && !cp.diags.HasErrors() {
			// Only errors make values unknown outside Validate; say so
			// rather than silently leave the resource out.
			cp.diags = append(cp.diags, errorAt(d.block.DefRange, "Value not known",
				"Some attribute values of %s are not known, so it cannot be built.", d.addr))
		}
		return nil
	}
	b := &resources.Block{
		Addr:       d.addr,
		Kind:       d.addr.Kind,
		Name:       d.addr.Name,
		DeclRange:  d.block.DefRange,
		LabelRange: d.block.LabelRanges[0],
		Attrs:      attrs,
		Files:      cp.c.fsys,
		Dir:        d.dir,
	}
	res, ds := d.kind.New(b)
	cp.diags = append(cp.diags, ds...)
	if ds.HasErrors() {
		return nil
	}
	return res
}

// hasSensitive reports whether any part of a value had the sensitive mark.
func hasSensitive(pvm []cty.PathValueMarks) bool {
	for _, m := range pvm {
		if _, ok := m.Marks[sensitiveMark]; ok {
			return true
		}
	}
	return false
}
