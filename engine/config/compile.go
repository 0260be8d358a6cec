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
	// Roles are the names of the roles that select the host, in
	// declaration order (files in name order); the engine puts the host in
	// the rollout of the first of them that has a rollout block.
	Roles []string
	// Nodes are in topological order, dependencies first, ties broken by
	// address string; the same spec gives the same order on every run.
	Nodes []*Node
	// Graph holds the nodes keyed by Addr.String(); an edge from A to B
	// means A depends on B.
	Graph *graph.Graph[string]
	// Deferred is set when the graph needs the host's facts (the specs
	// read host.facts): Nodes is empty until the engine calls it with
	// FactsValue of the facts it gathered.
	Deferred func(facts cty.Value) (*HostGraph, hcl.Diagnostics)
}

// Node is one resource instance of a host's graph.
type Node struct {
	// Addr is the instance's address: module path, kind, name and key.
	Addr resources.Addr
	// Resource is what the kind built; nil when the block had errors or
	// (in Validate) values that are not known.
	Resource resources.Resource
	// Role is the role that declares the resource, or that calls the
	// module it is in.
	Role string
	// DeclRange is the resource block's header; all instances of a block
	// share it.
	DeclRange hcl.Range
	// Deps are the resources this one depends on directly, through
	// depends_on (its own or its module call's), references in its
	// attributes, or the directory that holds its path, sorted by address.
	Deps []resources.Addr
	// Edges are Deps with the reason for each, in the same order.
	Edges []Edge
	// Notify are the receivers this resource notifies when it changes
	// (from its notify and their subscribe), sorted; each implements
	// resources.Notifiable.
	Notify []resources.Addr

	// key is Addr.String(), the node's key in Graph; depKeys are those of
	// Deps, in the same order.
	key     string
	depKeys []string
	// order is the node's position in the graph's order, while pathEdges
	// and linkEdges add edges.
	order int
}

// Key returns Addr.String(), the node's key in its HostGraph's Graph,
// without formatting it again.
func (n *Node) Key() string {
	if n.key == "" {
		return n.Addr.String()
	}
	return n.key
}

// addDep adds d, whose key is k, to n's dependencies in key order. A node
// without dependencies gets room for one from a block shared by the
// compilation, with room for one per node, so that the usual one implicit
// edge (the directory above a path) allocates nothing.
func (cp *compilation) addDep(n *Node, d resources.Addr, k string) {
	i, found := slices.BinarySearch(n.depKeys, k)
	if found {
		return
	}
	if cap(n.depKeys) == 0 {
		if len(cp.keyBlock) == 0 {
			size := max(len(cp.insts), 16)
			cp.keyBlock = make([]string, size)
			cp.addrBlock = make([]resources.Addr, size)
		}
		n.depKeys, n.Deps = cp.keyBlock[:0:1], cp.addrBlock[:0:1]
		cp.keyBlock, cp.addrBlock = cp.keyBlock[1:], cp.addrBlock[1:]
	}
	n.depKeys = slices.Insert(n.depKeys, i, k)
	n.Deps = slices.Insert(n.Deps, i, d)
}

// Compile builds the resource graph of h from the roles that select it.
// vars are the given variable values (from ParseVar, LoadVarFile and the
// host's variable files, already merged by precedence); declared defaults
// fill in the rest. Values from a file for undeclared variables are
// warnings at the value; others are ignored (ParseVar reports them).
//
// Compile always returns a HostGraph; when the diagnostics hold an error
// it must not be applied. Compile may be called for several hosts at once.
//
// When the specs read host.facts (UsesFacts), the facts are not known yet:
// Compile then checks all it can and returns a HostGraph without nodes
// whose Deferred compiles it again once the engine has the facts.
func (c *Config) Compile(h *inventory.Host, vars map[string]Value) (*HostGraph, hcl.Diagnostics) {
	var roles []*Role
	for _, r := range c.roles {
		if c.Selects(r, h) {
			roles = append(roles, r)
		}
	}
	if c.UsesFacts() {
		// Check with unknown facts (as Validate does with unknowns).
		_, diags := c.compile(h, hostValue(h, cty.DynamicVal), roles, vars, true)
		hg := &HostGraph{Host: h, Roles: roleNames(roles), Graph: graph.New[string]()}
		hg.Deferred = func(facts cty.Value) (*HostGraph, hcl.Diagnostics) {
			return c.compile(h, hostValue(h, facts), roles, vars, false)
		}
		return hg, append(c.undeclaredVars(vars, true), diags...)
	}
	hg, diags := c.compile(h, hostValue(h, cty.DynamicVal), roles, vars, false)
	return hg, append(c.undeclaredVars(vars, true), diags...)
}

// UsesFacts reports whether any expression of the specs or their modules
// reads host.facts.
func (c *Config) UsesFacts() bool {
	if c.root != nil && c.root.usesFacts {
		return true
	}
	for _, m := range c.modules {
		if m != nil && m.usesFacts {
			return true
		}
	}
	return false
}

// FactsValue is the host.facts object for the facts a probe gathered:
//
//	host.facts.hostname, .kernel, .arch, .init, .pkg_manager, .user,
//	.cpus, .memory_mb, .os.id, .os.version_id, .os.name
func FactsValue(f *resources.Facts) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"hostname":    cty.StringVal(f.Hostname),
		"kernel":      cty.StringVal(f.Kernel),
		"arch":        cty.StringVal(f.Arch),
		"init":        cty.StringVal(f.Init),
		"pkg_manager": cty.StringVal(f.PkgManager),
		"user":        cty.StringVal(f.User),
		"cpus":        cty.NumberIntVal(int64(f.CPUs)),
		"memory_mb":   cty.NumberIntVal(int64(f.MemoryMB)),
		"os": cty.ObjectVal(map[string]cty.Value{
			"id":         cty.StringVal(f.OSID),
			"version_id": cty.StringVal(f.OSVersion),
			"name":       cty.StringVal(f.OSName),
		}),
	})
}

// Validate checks the specs without an inventory: it compiles every role
// on its own against a placeholder host called "validate" whose variables
// and groups are unknown. Required variables without a given value are
// unknown too (as in terraform validate), given values are checked.
// Resources whose values are then not known are not built, and a for_each
// or count that is not known makes one placeholder instance (key *), but
// everything that can be checked is. Duplicates and cycles that only arise
// when several roles select one host are found by Compile. Values given
// for undeclared variables are warnings.
func (c *Config) Validate(vars map[string]Value) hcl.Diagnostics {
	h := &inventory.Host{Name: "validate", Address: "validate", Vars: cty.DynamicVal}
	hv := cty.ObjectVal(map[string]cty.Value{
		"name":    cty.StringVal("validate"),
		"address": cty.StringVal("validate"),
		"vars":    cty.DynamicVal,
		"groups":  cty.UnknownVal(cty.List(cty.String)),
		"facts":   cty.DynamicVal,
	})
	diags := c.undeclaredVars(vars, false)
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

// roleNames returns the names of roles, in their order.
func roleNames(roles []*Role) []string {
	names := make([]string, 0, len(roles))
	for _, r := range roles {
		names = append(names, r.Name)
	}
	return names
}

// diagKey identifies a diagnostic for removing the copies that every role
// (or host, or instance) reports for a shared problem.
func diagKey(d *hcl.Diagnostic) string {
	k := fmt.Sprintf("%d|%s|%s", d.Severity, d.Summary, d.Detail)
	if d.Subject != nil {
		k += "|" + d.Subject.String()
	}
	return k
}

// hostValue is the host object of expressions: name, address, vars and
// groups.
func hostValue(h *inventory.Host, facts cty.Value) cty.Value {
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
		"facts":   facts,
	})
}

// compilation is the state of one compile: one host, its roles, the
// module instances and resource instances they make.
type compilation struct {
	c        *Config
	h        *inventory.Host
	hostVal  cty.Value
	validate bool
	// diags are the diagnostics that belong to no instance; those of
	// instances are collected in groups and merged by flush.
	diags   hcl.Diagnostics
	entries []*diagEntry
	// insts are the resource instances of the host in expansion order;
	// byKey maps the graph's keys, Addr.String(), to them.
	insts []*instance
	byKey map[string]*instance
	// cyclic holds the keys of the instances on or behind a cycle.
	cyclic map[string]bool
	// why says what made each edge (from, to): the strongest reason wins.
	why map[[2]string]EdgeKind
	// notifies maps a notifier's key to its receivers' keys, with where
	// each notification was written.
	notifies map[string][]notification
	// keyBlock and addrBlock are room for the dependencies that pathEdges
	// and linkEdges add (see addDep).
	keyBlock  []string
	addrBlock []resources.Addr
	// links maps a resource's key to the resources its link attributes
	// name (resources.Kind.Links).
	links map[string][]linkTarget
	// scratch is the memory the compilation does not keep (expand.go).
	scratch *scratch
	// block, attrs and attrSlab are what evalInstance hands each kind's
	// New, reused from one resource to the next.
	block    resources.Block
	attrs    map[string]*resources.Attr
	attrSlab []resources.Attr
	// strs holds the strings of the graph that fastValue renders and the
	// nodes' keys; a new one for each compilation, since the graph keeps
	// them.
	strs strArena
}

// linkTarget is one resolved link of a resource: its attribute, the linked
// instance's key and where the link was written.
type linkTarget struct {
	attr, key string
	rng       hcl.Range
}

// notification is one notifier -> receiver pair of a host.
type notification struct {
	receiver string
	rng      hcl.Range
}

// EdgeKind says why one resource depends on another.
type EdgeKind int

const (
	// EdgePath: the resource's path is inside the directory (implicit).
	EdgePath EdgeKind = iota + 1
	// EdgeReference: an attribute refers to the other resource.
	EdgeReference
	// EdgeDependsOn: depends_on names it (the resource's own, or that of a
	// module call it is in).
	EdgeDependsOn
	// EdgeNotify: it notifies this resource (notify on it, or subscribe
	// here): this resource applies after it and is restarted, reloaded or
	// run when it changes.
	EdgeNotify
)

func (k EdgeKind) String() string {
	switch k {
	case EdgePath:
		return "path"
	case EdgeReference:
		return "reference"
	case EdgeDependsOn:
		return "depends_on"
	case EdgeNotify:
		return "notify"
	}
	return "unknown"
}

// Edge is one direct dependency of a Node.
type Edge struct {
	To   resources.Addr
	Kind EdgeKind
}

// because records why the edge from -> to exists; the strongest reason
// wins. EdgePath, the weakest and the commonest (every file in a managed
// directory), is not recorded: an edge without a reason is a path edge
// (edgeKind).
func (cp *compilation) because(from, to string, k EdgeKind) {
	if k == EdgePath {
		return
	}
	if cp.why == nil {
		cp.why = make(map[[2]string]EdgeKind)
	}
	if k > cp.why[[2]string{from, to}] {
		cp.why[[2]string{from, to}] = k
	}
}

// edgeKind returns why the edge from -> to exists (see because).
func (cp *compilation) edgeKind(from, to string) EdgeKind {
	if k, ok := cp.why[[2]string{from, to}]; ok {
		return k
	}
	return EdgePath
}

// compile is Compile and Validate: it builds the graph of h (whose host
// object is hostVal) from roles. In validate mode, references to resources
// of roles that are not compiled are unknown values instead of errors.
//
// The steps: the root's variables and locals; the resource blocks and
// module calls of the roles, with their duplicates; their expansion into
// instances (for_each and count, module calls recursively with their
// inputs and locals); the graph from depends_on and references, its
// cycles; the resources in graph order, so that each sees the values of
// those it refers to; last the edges and duplicates that paths give.
func (c *Config) compile(h *inventory.Host, hostVal cty.Value, roles []*Role, given map[string]Value, validate bool) (*HostGraph, hcl.Diagnostics) {
	cp := &compilation{
		c:        c,
		h:        h,
		hostVal:  hostVal,
		validate: validate,
		scratch:  scratchPool.Get().(*scratch),
	}
	defer cp.scratch.release()
	if cp.scratch.byKey == nil {
		cp.scratch.byKey = map[string]*instance{}
		cp.scratch.rootDecls = map[resources.Addr]*declInsts{}
	}
	cp.byKey = cp.scratch.byKey
	root := &modInst{mod: c.root, diags: &cp.diags, decls: cp.scratch.rootDecls, calls: map[string]*callInsts{}}
	varVal, ds := c.varValues(given, validate)
	cp.diags = append(cp.diags, ds...)
	root.base = map[string]cty.Value{"host": hostVal, "var": varVal}
	root.base["local"] = cp.evalLocals(root)

	rs := c.roleSet(roles)
	decls, calls := rs.decls, rs.calls
	for _, d := range rs.diags {
		copied := *d
		cp.diags = append(cp.diags, &copied)
	}
	// Sized for blocks without for_each or count, the common case.
	cp.insts = make([]*instance, 0, len(decls))
	cp.expand(root, decls, calls)
	g := cp.buildGraph()
	for _, cyc := range g.Cycles() {
		cp.diags = append(cp.diags, cp.cycleDiag(cyc))
	}

	// Evaluate in dependency order; the nodes come out in that order too,
	// which is the order HostGraph.Nodes promises (ties by address).
	keys, cyclic := evalOrder(g)
	cp.cyclic = cyclic
	hg := &HostGraph{Host: h, Roles: roleNames(roles), Graph: g, Nodes: make([]*Node, 0, len(keys))}
	slab := make([]Node, len(keys)) // one allocation for the nodes
	for _, k := range keys {
		in := cp.byKey[k]
		n := &slab[len(hg.Nodes)]
		*n = Node{Addr: in.addr, Role: in.roleName(), DeclRange: in.decl.block.DefRange, key: k, order: len(hg.Nodes)}
		n.depKeys = slices.Clip(g.DependsOn(k))
		if len(n.depKeys) > 0 {
			n.Deps = make([]resources.Addr, len(n.depKeys))
			for i, dep := range n.depKeys {
				n.Deps[i] = cp.byKey[dep].addr
			}
		}
		cp.evalInstance(in)
		n.Resource = in.res
		hg.Nodes = append(hg.Nodes, n)
	}
	cp.checkOutputs(root)
	cp.pathEdges(hg)
	cp.linkEdges(hg)
	cp.notifications(hg)
	// The edges of all nodes in one allocation.
	nedges := 0
	for _, n := range hg.Nodes {
		nedges += len(n.Deps)
	}
	edges := make([]Edge, nedges)
	for _, n := range hg.Nodes {
		if len(n.Deps) > 0 {
			n.Edges, edges = edges[:len(n.Deps):len(n.Deps)], edges[len(n.Deps):]
			for i, d := range n.Deps {
				n.Edges[i] = Edge{To: d, Kind: cp.edgeKind(n.key, n.depKeys[i])}
			}
		}
	}
	return hg, cp.flush()
}

// roleSet is what the roles that select a host declare: their resource
// blocks and module calls, a second declaration of an address or call
// name left out and reported. Hosts with the same roles share it.
type roleSet struct {
	decls []*resourceDecl
	calls []*moduleCall
	diags hcl.Diagnostics // the duplicates; copied into each host's
}

// roleSet returns the declarations of roles, made once per set of roles.
func (c *Config) roleSet(roles []*Role) *roleSet {
	var key strings.Builder
	for _, r := range roles {
		key.WriteString(r.Name)
		key.WriteByte(0)
	}
	if rs, ok := c.roleSets.Load(key.String()); ok {
		return rs.(*roleSet)
	}
	rs := &roleSet{}
	// A second declaration of an address or call name is an error
	// pointing at its label and naming the first.
	seen := map[resources.Addr]*resourceDecl{}
	seenCalls := map[string]*moduleCall{}
	for _, r := range roles {
		for _, d := range r.resources {
			if prev, dup := seen[d.addr]; dup {
				rs.diags = append(rs.diags, errorAt(d.block.LabelRanges[0], "Duplicate resource",
					"%s is already declared at %s (role %q). A resource may be declared once per host: remove one of the blocks, or make sure no host is selected by both roles.",
					d.addr, pos(prev.block.DefRange), prev.role.Name))
				continue
			}
			seen[d.addr] = d
			rs.decls = append(rs.decls, d)
		}
		for _, mc := range r.calls {
			if prev, dup := seenCalls[mc.name]; dup {
				rs.diags = append(rs.diags, errorAt(mc.block.LabelRanges[0], "Duplicate module call",
					"module.%s is already declared at %s (role %q), so the addresses of their resources clash. A module call name may be used once per host: rename one of the calls, or make sure no host is selected by both roles.",
					mc.name, pos(prev.block.DefRange), prev.role.Name))
				continue
			}
			seenCalls[mc.name] = mc
			rs.calls = append(rs.calls, mc)
		}
	}
	actual, _ := c.roleSets.LoadOrStore(key.String(), rs)
	return actual.(*roleSet)
}

// buildGraph makes every instance a node, even one without edges, and
// every reference, depends_on entry and inherited module depends_on an
// edge. Load checked that each target is declared, so at the root a target
// missing here belongs to a role that does not select this host.
func (cp *compilation) buildGraph() *graph.Graph[string] {
	g := graph.NewSized[string](len(cp.insts))
	for _, in := range cp.insts {
		g.Add(in.key)
	}
	connect := func(in *instance, mi *modInst, r ref, whole bool, sink *hcl.Diagnostics) {
		ts, ok := cp.targets(mi, r, whole)
		kind := EdgeReference
		if whole {
			kind = EdgeDependsOn
		}
		for _, t := range ts {
			g.Connect(in.key, t.key)
			cp.because(in.key, t.key, kind)
		}
		if ok || cp.validate {
			return // in Validate: another role's, unknown here
		}
		*sink = append(*sink, cp.notOnHost(r, in.decl.addr.String()))
	}
	for _, in := range cp.insts {
		d := in.decl
		for _, r := range d.refs {
			connect(in, in.mi, r, false, in.diags)
		}
		for _, r := range d.dependsOn {
			connect(in, in.mi, r, true, in.diags)
		}
		// A module call's depends_on holds for everything in it.
		for mi := in.mi; mi.call != nil; mi = mi.parent {
			for _, r := range mi.call.dependsOn {
				connect(in, mi.parent, r, true, mi.diags)
			}
		}
	}
	// Notifications: the receiver applies after the notifier.
	cp.notifies = map[string][]notification{}
	notify := func(notifier, receiver *instance, rng hcl.Range) {
		g.Connect(receiver.key, notifier.key)
		cp.because(receiver.key, notifier.key, EdgeNotify)
		cp.notifies[notifier.key] = append(cp.notifies[notifier.key], notification{receiver.key, rng})
	}
	for _, in := range cp.insts {
		d := in.decl
		for _, r := range d.notify {
			ts, ok := cp.targets(in.mi, r, true)
			for _, t := range ts {
				notify(in, t, r.rng)
			}
			if !ok && !cp.validate {
				*in.diags = append(*in.diags, cp.notOnHost(r, in.decl.addr.String()))
			}
		}
		for _, r := range d.subscribe {
			ts, ok := cp.targets(in.mi, r, true)
			for _, t := range ts {
				notify(t, in, r.rng)
			}
			if !ok && !cp.validate {
				*in.diags = append(*in.diags, cp.notOnHost(r, in.decl.addr.String()))
			}
		}
	}
	// Links: the linked resource applies after the linking one (a
	// release restarts its service); linkEdges adds the rest once the
	// implicit edges are known.
	cp.links = map[string][]linkTarget{}
	for _, in := range cp.insts {
		for _, l := range in.decl.links {
			ts, ok := cp.targets(in.mi, l.ref, true)
			if len(ts) > 1 {
				*in.diags = append(*in.diags, errorAt(l.ref.rng, "Invalid "+l.attr,
					"%s names %d instances; it must name one, such as %s[0] or %s[\"key\"].", l.ref.text(), len(ts), l.ref.text(), l.ref.text()))
				continue
			}
			for _, t := range ts {
				g.Connect(t.key, in.key)
				cp.because(t.key, in.key, EdgeNotify)
				cp.links[in.key] = append(cp.links[in.key], linkTarget{attr: l.attr, key: t.key, rng: l.ref.rng})
			}
			if !ok && !cp.validate {
				*in.diags = append(*in.diags, cp.notOnHost(l.ref, in.decl.addr.String()))
			}
		}
	}
	return g
}

// linkEdges makes each resource with a link apply after what the linked
// resource depends on (a release after its service's unit file and user),
// and hands it the linked resource (resources.Linker). It runs after
// pathEdges, which adds such implicit dependencies.
func (cp *compilation) linkEdges(hg *HostGraph) {
	if len(cp.links) == 0 {
		return
	}
	nodes := map[string]*Node{}
	for _, n := range hg.Nodes {
		nodes[n.key] = n
	}
	added := false
	for _, n := range hg.Nodes {
		from := n.key
		for _, l := range cp.links[from] {
			tn := nodes[l.key]
			if tn == nil {
				continue
			}
			for _, d := range hg.Graph.DependsOn(l.key) {
				if d == from || reaches(hg.Graph, d, from) || slices.Contains(hg.Graph.DependsOn(from), d) {
					continue
				}
				hg.Graph.Connect(from, d)
				cp.because(from, d, EdgePath)
				cp.addDep(n, nodes[d].Addr, d)
				added = true
			}
			lk, ok := n.Resource.(resources.Linker)
			if !ok || tn.Resource == nil {
				continue // errors of their own are reported
			}
			if err := lk.Link(l.attr, tn.Resource); err != nil {
				cp.diags = append(cp.diags, errorAt(l.rng, "Invalid "+l.attr, "%s", err.Error()))
			}
		}
	}
	if added {
		reorder(hg)
	}
}

// notifications fills in Node.Notify once the resources are built, and
// reports receivers that cannot be notified.
func (cp *compilation) notifications(hg *HostGraph) {
	if len(cp.notifies) == 0 {
		return
	}
	nodes := map[string]*Node{}
	for _, n := range hg.Nodes {
		nodes[n.key] = n
	}
	for _, n := range hg.Nodes {
		nts := cp.notifies[n.key]
		if len(nts) == 0 {
			continue
		}
		seen := map[string]bool{}
		for _, nt := range nts {
			rcv := nodes[nt.receiver]
			if rcv == nil || seen[nt.receiver] {
				continue
			}
			seen[nt.receiver] = true
			if rcv.Resource == nil {
				continue // its own errors are reported
			}
			if _, ok := rcv.Resource.(resources.Notifiable); !ok {
				cp.diags = append(cp.diags, errorAt(nt.rng, "Cannot notify",
					"%s cannot be notified: a %s has nothing to restart or run. Notify a service, or an exec with refresh_only = true.",
					rcv.Addr, rcv.Addr.Kind))
				continue
			}
			n.Notify = append(n.Notify, rcv.Addr)
		}
		slices.SortFunc(n.Notify, func(a, b resources.Addr) int { return strings.Compare(a.String(), b.String()) })
	}
}

// notOnHost reports a reference from what (a resource or module call) to a
// resource or module call of a role that does not select the host.
func (cp *compilation) notOnHost(r ref, what string) *hcl.Diagnostic {
	var rng hcl.Range
	var role string
	if r.call != "" {
		other := cp.c.root.callNames[r.call][0]
		rng, role = other.block.DefRange, other.role.Name
	} else {
		other := cp.c.root.declared[r.addr][0]
		rng, role = other.block.DefRange, other.role.Name
	}
	return errorAt(r.rng, "Reference to resource not on this host",
		"%s is declared at %s in role %q, which does not select host %q, so %s cannot depend on it.",
		r.text(), pos(rng), role, cp.h.Name, what)
}

// targets resolves r, written in module instance mi, to the resource
// instances it depends on: the instance it names by key, or every instance
// of the block. For a module call: with whole (depends_on), every resource
// in its instances; otherwise the resources its outputs (the one named, or
// all) refer to. ok is false when nothing in mi declares the target: at
// the root, a role that does not select the host.
func (cp *compilation) targets(mi *modInst, r ref, whole bool) (ts []*instance, ok bool) {
	if r.call == "" {
		di := mi.decls[r.addr]
		if di == nil {
			return nil, false
		}
		if r.key != "" && (di.mode == forEachMode || di.mode == countMode) {
			if in := di.byKey[r.key]; in != nil {
				return []*instance{in}, true
			}
			return nil, true // evaluation reports the missing key
		}
		return di.list, true
	}
	ci := mi.calls[r.call]
	if ci == nil {
		return nil, false
	}
	children := ci.list
	if r.key != "" && (ci.mode == forEachMode || ci.mode == countMode) {
		children = nil
		if child := ci.byKey[r.key]; child != nil {
			children = []*modInst{child}
		}
	}
	for _, child := range children {
		if whole {
			ts = append(ts, child.allInstances()...)
			continue
		}
		for _, n := range sortedNames(child.mod.outputs) {
			o := child.mod.outputs[n]
			if r.output != "" && n != r.output {
				continue
			}
			for _, or := range o.refs {
				t, _ := cp.targets(child, or, false)
				ts = append(ts, t...)
			}
		}
	}
	return ts, true
}

// pathEdges relates resources by the paths they manage, once evaluation
// made the paths known: two resources managing one path are an error naming
// both, and a path inside a present, managed directory depends on that
// directory (as Puppet's autorequire does), so that nobody has to write
// depends_on for the obvious. An implicit edge that would close a cycle is
// left out: explicit dependencies win. Nodes are re-sorted to stay in
// dependency order.
func (cp *compilation) pathEdges(hg *HostGraph) {
	// What each node manages: a path (byPath, by the path itself, which
	// Requires names as "path P") or an identity such as "user bob".
	byPath := make(map[string]*Node, len(hg.Nodes))
	byID := map[string]*Node{}
	dirs := map[string]*Node{}
	for _, n := range hg.Nodes {
		var id string
		index, identified := byPath, false
		pr, isPath := n.Resource.(resources.PathResource)
		switch r := n.Resource.(type) {
		case resources.Identified:
			id, index, identified = r.Identity(), byID, true
		case resources.PathResource:
			id = r.Path()
		default:
			continue
		}
		if prev, dup := index[id]; dup {
			first, second := prev, n
			if before(n.DeclRange, prev.DeclRange) {
				first, second = n, prev
			}
			summary, what := "Duplicate path", id
			if !identified {
				what = "the path " + pr.Path()
			}
			if !isPath {
				summary = "Duplicate " + strings.Fields(id)[0]
			}
			cp.diags = append(cp.diags, errorAt(cp.byKey[second.key].decl.block.LabelRanges[0], summary,
				"%s and %s (at %s) both manage %s on host %q; only one resource may manage it.",
				second.Addr, first.Addr, pos(first.DeclRange), what, hg.Host.Name))
			continue
		}
		index[id] = n
		if isPath && n.Addr.Kind == "directory" && pr.Present() {
			dirs[pr.Path()] = n
		}
	}
	// While every edge added follows the nodes' order, that order stays
	// topological: a node before another cannot depend on it, and the
	// graph's order (the smallest in key order) is unchanged.
	inOrder := cp.cyclic == nil
	link := func(n, d *Node) {
		from, to := n.key, d.key
		if d == n || slices.Contains(n.depKeys, to) {
			return
		}
		if !(inOrder && d.order < n.order) && reaches(hg.Graph, to, from) {
			return
		}
		hg.Graph.Connect(from, to)
		cp.because(from, to, EdgePath)
		cp.addDep(n, d.Addr, to)
		if d.order > n.order {
			inOrder = false
		}
	}
	for _, n := range hg.Nodes {
		if pr, ok := n.Resource.(resources.PathResource); ok {
			// The nearest managed directory above the path.
			for dir := parentDir(pr.Path()); ; dir = parentDir(dir) {
				if d, ok := dirs[dir]; ok {
					link(n, d)
					break
				}
				if dir == "/" || dir == "." {
					break
				}
			}
		}
		// What the kind says it needs: a file's owner, a user's groups,
		// a service's unit file, an exec's working directory.
		if rq, ok := n.Resource.(resources.Requirer); ok {
			for _, id := range rq.Requires() {
				d := byID[id]
				if p, ok := strings.CutPrefix(id, "path "); ok {
					d = byPath[p]
				}
				if d != nil {
					link(n, d)
				}
			}
		}
	}
	if !inOrder {
		reorder(hg)
	}
}

// parentDir is path.Dir of p, without an allocation for a clean absolute
// path (as managed paths are).
func parentDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	switch {
	case i < 0 || p != path.Clean(p):
		return path.Dir(p)
	case i == 0:
		return "/"
	}
	return p[:i]
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
	var first *instance
	for _, k := range cyc {
		in := cp.byKey[k]
		if first == nil {
			first = in
		}
		fmt.Fprintf(&b, "%s (%s) -> ", k, pos(in.decl.block.DefRange))
	}
	b.WriteString(cyc[0])
	return errorAt(first.decl.block.DefRange, "Dependency cycle",
		"These resources depend on each other in a cycle, through depends_on or references: %s. Remove one of the dependencies to break the cycle.", b.String())
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

// reorder sorts hg's nodes in the graph's order again, after edges were
// added.
func reorder(hg *HostGraph) {
	if order, err := hg.Graph.Order(); err == nil {
		pos := make(map[string]int, len(order))
		for i, k := range order {
			pos[k] = i
		}
		slices.SortStableFunc(hg.Nodes, func(a, b *Node) int { return pos[a.key] - pos[b.key] })
		for i, n := range hg.Nodes {
			n.order = i
		}
	}
}
