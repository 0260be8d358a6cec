package config

import (
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/tendhq/tend/resources"
)

// modInst is one instance of a module on one host, or the root.
type modInst struct {
	mod *module
	// path is the instance's module path as addresses print it, "" for
	// the root: module.sites["a"].module.tls.
	path string
	// call made the instance (nil for the root), in parent; name is its
	// for_each key (as each.key gives it).
	call   *moduleCall
	parent *modInst
	name   string
	// role is the role whose module call (directly or not) made the
	// instance; nil for the root.
	role *Role
	// base holds host, var and local; ctx is the context of base (once
	// local is set), rctx its child with the empty resource kinds (see
	// refContext).
	base      map[string]cty.Value
	ctx, rctx *hcl.EvalContext
	// diags collects the diagnostics of the instance's inputs, locals and
	// outputs, in entry (the root's are the compilation's own).
	diags *hcl.Diagnostics
	entry diagEntry
	// decls are the instances of the resource blocks by block address;
	// calls those of the module calls by name. At the root only those of
	// the roles that select the host.
	decls map[resources.Addr]*declInsts
	calls map[string]*callInsts
}

// repeatMode is how a block makes instances.
type repeatMode int

const (
	single      repeatMode = iota // one instance, no key
	forEachMode                   // one per for_each key
	countMode                     // one per count index
	unknownMode                   // Validate: for_each or count not known; one placeholder instance
	failedMode                    // for_each or count failed (reported): no instances
)

// declInsts are the instances of one resource block in one module
// instance.
type declInsts struct {
	mode repeatMode
	list []*instance // in key order
	// byKey holds the instances by key, for for_each and count.
	byKey map[string]*instance
	// entry holds the diagnostics of for_each or count.
	entry diagEntry
}

// callInsts are the instances of one module call in one module instance.
type callInsts struct {
	mode  repeatMode
	list  []*modInst
	byKey map[string]*modInst
	entry diagEntry // the diagnostics of for_each or count
}

// instance is one resource instance of a host.
type instance struct {
	addr resources.Addr
	key  string // the graph key: addr.String()
	decl *resourceDecl
	mi   *modInst
	// name is the for_each key (each.key); iter holds each or count.
	name string
	iter map[string]cty.Value
	// diags collects the instance's diagnostics, in entry.
	diags *hcl.Diagnostics
	entry diagEntry
	// value is the object other resources see, once done.
	value cty.Value
	done  bool
	res   resources.Resource
}

// roleName is the role that declares the instance's block or calls its
// module.
func (in *instance) roleName() string {
	if in.decl.role != nil {
		return in.decl.role.Name
	}
	if in.mi.role != nil {
		return in.mi.role.Name
	}
	return ""
}

// allInstances returns every resource instance in mi and the module
// instances below it.
func (mi *modInst) allInstances() []*instance {
	var out []*instance
	for _, a := range sortedAddrs(mi.decls) {
		out = append(out, mi.decls[a].list...)
	}
	for _, n := range sortedNames(mi.calls) {
		for _, child := range mi.calls[n].list {
			out = append(out, child.allInstances()...)
		}
	}
	return out
}

func sortedAddrs[V any](m map[resources.Addr]V) []resources.Addr {
	out := make([]resources.Addr, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b resources.Addr) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// when evaluates d's when condition for the instance k: false leaves the
// instance out. A condition that is not known (Validate, or facts not yet
// gathered) keeps it; one that fails is reported and leaves it out.
func (cp *compilation) when(mi *modInst, d *resourceDecl, k repKey) bool {
	sink := cp.sink(groupKey{d, true}, mi.path)
	v, ds := d.when.Expr.Value(cp.evalContext(mi, k.iter))
	ds = templateDiags(ds)
	*sink = append(*sink, ds...)
	if ds.HasErrors() {
		return false
	}
	if !v.IsKnown() {
		return true
	}
	b, err := convert.Convert(v, cty.Bool)
	if err != nil || b.IsNull() {
		*sink = append(*sink, errorAt(d.when.Expr.Range(), "Invalid when condition",
			"The when condition of %s must be true or false.", d.addr))
		return false
	}
	b, _ = b.Unmark()
	return b.True()
}

// repKey is one instance a for_each or count makes.
// singleKey is the one key of a block without for_each or count; read
// only.
var singleKey = []repKey{{}}

type repKey struct {
	key  string // as in addresses: "\"shop\"", "3", "*"
	name string // the for_each key
	iter map[string]cty.Value
}

// scratch is the memory of one compilation that does not outlive it (the
// graph keeps none of it): the instances and the records of their blocks.
// Compilations on the same worker reuse it (scratchPool), so that a fleet
// of hosts does not allocate it, and touch fresh memory, once per host.
type scratch struct {
	decls []declInsts
	insts []instance
	lists []*instance
	// byKey and rootDecls are compilation.byKey and the root module
	// instance's decls, cleared.
	byKey     map[string]*instance
	rootDecls map[resources.Addr]*declInsts
}

var scratchPool = sync.Pool{New: func() any { return &scratch{} }}

// take returns n zero elements after the used part of *buf, which grows
// into a new array when it has no room: what was taken before keeps its
// place, as pointers to it live on.
func take[T any](buf *[]T, n int) []T {
	if cap(*buf)-len(*buf) < n {
		*buf = make([]T, 0, max(n, 2*cap(*buf), 64))
	}
	l := len(*buf)
	*buf = (*buf)[:l+n]
	return (*buf)[l : l+n : l+n]
}

func (s *scratch) takeDecls(n int) []declInsts { return take(&s.decls, n) }

// takeInsts returns room for n instances, empty: expand appends them.
func (s *scratch) takeInsts(n int) []instance { return take(&s.insts, n)[:0] }

func (s *scratch) takeLists(n int) []*instance { return take(&s.lists, n) }

// release zeroes what the compilation used, so that the pool holds no
// reference into its graph, and returns s to the pool.
func (s *scratch) release() {
	clear(s.decls)
	clear(s.insts)
	clear(s.lists)
	s.decls, s.insts, s.lists = s.decls[:0], s.insts[:0], s.lists[:0]
	clear(s.byKey)
	clear(s.rootDecls)
	scratchPool.Put(s)
}

// expand makes the instances of decls and calls in mi: the resource
// instances, and for each module call its module instances, whose inputs
// and locals are evaluated here and whose own blocks are expanded in turn.
func (cp *compilation) expand(mi *modInst, decls []*resourceDecl, calls []*moduleCall) {
	// The blocks' declInsts, and the instances of blocks without for_each
	// or count and their lists, from the compilation's scratch memory.
	dslab := cp.scratch.takeDecls(len(decls))
	islab := cp.scratch.takeInsts(len(decls))
	lslab := cp.scratch.takeLists(len(decls))
	for i, d := range decls {
		// A for_each problem points at the expression; only the module
		// instance it happened in needs naming.
		di := &dslab[i]
		mode, keys := cp.repeat(mi, d.forEach, d.count, d.badRepeat, cp.sinkInto(groupKey{d, true}, mi.path, &di.entry))
		di.mode = mode
		if mode != single {
			di.byKey = make(map[string]*instance, len(keys))
			di.list = make([]*instance, 0, len(keys))
		} else {
			di.list = lslab[i : i : i+1]
		}
		mi.decls[d.addr] = di
		for _, k := range keys {
			if d.when != nil && !cp.when(mi, d, k) {
				continue
			}
			addr := resources.Addr{Module: mi.path, Kind: d.addr.Kind, Name: d.addr.Name, Key: k.key}
			label := ""
			if addr.Module != "" || addr.Key != "" {
				label = addr.String()
			}
			var in *instance
			if mode == single && len(islab) < cap(islab) {
				islab = islab[:len(islab)+1]
				in = &islab[len(islab)-1]
			} else {
				in = &instance{}
			}
			var kb [96]byte
			*in = instance{addr: addr, key: cp.strs.str(addr.AppendTo(kb[:0])), decl: d, mi: mi, name: k.name, iter: k.iter, value: cty.DynamicVal}
			in.diags = cp.sinkInto(groupKey{d, false}, label, &in.entry)
			di.list = append(di.list, in)
			if di.byKey != nil {
				di.byKey[k.key] = in
			}
			cp.insts = append(cp.insts, in)
			cp.byKey[in.key] = in
		}
	}
	for _, mc := range calls {
		ci := &callInsts{mode: failedMode, byKey: map[string]*modInst{}}
		mi.calls[mc.name] = ci
		if mc.mod == nil {
			continue // the module could not be loaded (reported)
		}
		mode, keys := cp.repeat(mi, mc.forEach, mc.count, mc.badRepeat, cp.sinkInto(groupKey{mc, true}, mi.path, &ci.entry))
		ci.mode = mode
		role := mi.role
		if role == nil {
			role = mc.role
		}
		// Each instance gets its own var object (the inputs, evaluated in
		// the calling instance with each or count) and locals, then its
		// own blocks are expanded: depth first, so nested module paths
		// grow one call at a time.
		for _, k := range keys {
			child := &modInst{
				mod:    mc.mod,
				path:   modulePath(mi.path, mc.name, k.key),
				call:   mc,
				parent: mi,
				name:   k.name,
				role:   role,
				decls:  map[resources.Addr]*declInsts{},
				calls:  map[string]*callInsts{},
			}
			child.diags = cp.sinkInto(groupKey{mc, false}, child.path, &child.entry)
			child.base = map[string]cty.Value{
				"host": cp.hostVal,
				"var":  cp.inputs(child, cp.evalContext(mi, k.iter)),
			}
			child.base["local"] = cp.evalLocals(child)
			ci.list = append(ci.list, child)
			ci.byKey[k.key] = child
			cp.expand(child, mc.mod.resources, mc.mod.calls)
		}
	}
}

// repeat evaluates a block's for_each or count in mi and returns the
// instances to make. Problems are reported at the expression, into sink.
func (cp *compilation) repeat(mi *modInst, forEach, count *hcl.Attribute, bad bool, sink *hcl.Diagnostics) (repeatMode, []repKey) {
	a := forEach
	if a == nil {
		a = count
	}
	if a == nil {
		return single, singleKey
	}
	if bad {
		return failedMode, nil // a bad reference, reported by Load
	}
	// for_each and count see the module instance's var, local and host
	// only: Load rejected references to resources.
	v, ds := a.Expr.Value(cp.evalContext(mi, nil))
	ds = templateDiags(ds)
	*sink = append(*sink, ds...)
	if ds.HasErrors() {
		return failedMode, nil
	}
	fail := func(summary, format string, args ...any) (repeatMode, []repKey) {
		*sink = append(*sink, errorAt(a.Expr.Range(), summary, format, args...))
		return failedMode, nil
	}
	// A map's keys are known even when some of its values are not.
	known := v.IsWhollyKnown() || (forEach != nil && v.IsKnown() && !v.IsNull() &&
		(v.Type().IsMapType() || v.Type().IsObjectType()))
	if !known {
		if cp.validate {
			iter := map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": cty.UnknownVal(cty.String), "value": cty.DynamicVal})}
			if forEach == nil {
				iter = map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.UnknownVal(cty.Number)})}
			}
			return unknownMode, []repKey{{key: "*", iter: iter}}
		}
		if cp.hasErrors() {
			return failedMode, nil // unknown because of an error upstream
		}
		return fail("Invalid "+a.Name+" argument", "The value of %s is not known, so the instances cannot be made.", a.Name)
	}
	// Keys become addresses, which plans and logs print: a secret must
	// not be one.
	if v.HasMark(sensitiveMark) {
		return fail("Invalid "+a.Name+" argument",
			"The %s value is sensitive: it would show in the instances' addresses. Use values that are not sensitive for the keys.", a.Name)
	}
	if v.IsNull() {
		return fail("Invalid "+a.Name+" argument", "The %s argument must not be null.", a.Name)
	}
	if forEach == nil {
		return cp.countKeys(v, fail)
	}
	return forEachKeys(v, fail)
}

// countKeys makes the indexes 0..n-1 of a count.
func (cp *compilation) countKeys(v cty.Value, fail func(string, string, ...any) (repeatMode, []repKey)) (repeatMode, []repKey) {
	nv, err := convert.Convert(v, cty.Number)
	if err != nil || nv.IsNull() {
		return fail("Invalid count argument", "The count must be a whole number, not %s.", valueKind(v))
	}
	n, acc := nv.AsBigFloat().Int64()
	if acc != big.Exact || n < 0 {
		return fail("Invalid count argument", "The count must be a whole number of zero or more, not %s.", nv.AsBigFloat().Text('g', -1))
	}
	keys := make([]repKey, n)
	for i := range keys {
		keys[i] = repKey{
			key:  strconv.Itoa(i),
			iter: map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(int64(i))})},
		}
	}
	return countMode, keys
}

// forEachKeys makes the instances of a for_each: one per key of a map or
// object, or per string of a set or list (whose value is the string too).
func forEachKeys(v cty.Value, fail func(string, string, ...any) (repeatMode, []repKey)) (repeatMode, []repKey) {
	each := func(k string, val cty.Value) repKey {
		return repKey{
			key:  strconv.Quote(k),
			name: k,
			iter: map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(k), "value": val})},
		}
	}
	ty := v.Type()
	var keys []repKey
	switch {
	case ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			k, val := it.Element()
			keys = append(keys, each(k.AsString(), val))
		}
	case ty.IsSetType() || ty.IsListType() || ty.IsTupleType():
		seen := map[string]bool{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			switch {
			case e.IsMarked():
				return fail("Invalid for_each argument",
					"An element of the for_each collection is sensitive: it would show in the instances' addresses. Use values that are not sensitive for the keys.")
			case e.IsNull():
				return fail("Invalid for_each argument", "The for_each collection holds a null element; each element must be a string.")
			case e.Type() != cty.String:
				return fail("Invalid for_each argument",
					"A for_each set or list must hold strings, not %s; use a map to make instances of other values.", e.Type().FriendlyName())
			}
			k := e.AsString()
			if seen[k] {
				return fail("Invalid for_each argument",
					"The for_each list holds %q more than once. Each key makes one instance, so keys must be unique: use toset() or distinct() to drop repeats.", k)
			}
			seen[k] = true
			keys = append(keys, each(k, e))
		}
	default:
		return fail("Invalid for_each argument",
			"The for_each argument must be a map, or a set or list of strings, not %s.", ty.FriendlyName())
	}
	return forEachMode, keys
}

// inputs evaluates the inputs of child's module call in ctx (the calling
// module's, with each or count) and returns child's var object: every
// variable of the module, from its input or its default, converted to its
// type, validated and marked when sensitive.
func (cp *compilation) inputs(child *modInst, ctx *hcl.EvalContext) cty.Value {
	mc, mod := child.call, child.mod
	vals := make(map[string]cty.Value, len(mod.variables))
	for _, name := range sortedNames(mod.variables) {
		decl := mod.variables[name]
		v := cty.UnknownVal(decl.Type)
		switch a, ok := mc.inputs[name]; {
		case ok && !mc.bad[name]:
			val, ds := a.Expr.Value(ctx)
			ds = templateDiags(ds)
			*child.diags = append(*child.diags, ds...)
			if ds.HasErrors() {
				break
			}
			cv, err := decl.convert(val)
			if err != nil {
				*child.diags = append(*child.diags, errorAt(a.Expr.Range(), "Invalid value for input variable",
					"The value for variable %q of the module %s does not match its type %s: %s.", name, mod.dir, typeexpr.TypeString(decl.Type), errText(err)))
				break
			}
			*child.diags = append(*child.diags, decl.validate(cv, mod.funcs, a.Expr.Range(), "")...)
			v = cv
		case !ok && !decl.Required():
			v = decl.Default
		}
		// Otherwise a bad reference or a missing input: reported by Load.
		if decl.Sensitive {
			v = v.Mark(sensitiveMark)
		}
		vals[name] = v
	}
	return cty.ObjectVal(vals)
}
