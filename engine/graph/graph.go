package graph

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Graph is a directed graph of dependencies between keys. An edge from A to B
// means A depends on B: B must be handled first. A Graph is not safe for
// concurrent mutation; once built, its read methods and Walk may be used
// from several goroutines.
//
// The representation is compact because the engine keeps one graph per
// host, thousands of them: nodes live in one slice in the order they were
// added, index maps a key to its position there, and each node's edges are
// positions too, in one small slice per node kept sorted by key.
type Graph[K cmp.Ordered] struct {
	index map[K]int32
	nodes []node[K]
}

// node is one node of a Graph. adj[:nDeps] are the nodes it depends on,
// adj[nDeps:] the nodes that depend on it; each part is sorted by key and
// holds no duplicates, so a sorted list of keys is a plain copy.
type node[K cmp.Ordered] struct {
	key   K
	adj   []int32
	nDeps int32
}

// deps returns the positions of the nodes n depends on, sorted by key.
func (n *node[K]) deps() []int32 { return n.adj[:n.nDeps] }

// dependents returns the positions of the nodes that depend on n, sorted by
// key.
func (n *node[K]) dependents() []int32 { return n.adj[n.nDeps:] }

// New returns an empty graph.
func New[K cmp.Ordered]() *Graph[K] {
	return &Graph[K]{index: map[K]int32{}}
}

// NewSized returns an empty graph with room for n nodes.
func NewSized[K cmp.Ordered](n int) *Graph[K] {
	return &Graph[K]{index: make(map[K]int32, n), nodes: make([]node[K], 0, n)}
}

// Add adds the node k; adding a node twice is harmless.
func (g *Graph[K]) Add(k K) { g.add(k) }

// add adds k if it is missing and returns its position.
func (g *Graph[K]) add(k K) int32 {
	if i, ok := g.index[k]; ok {
		return i
	}
	i := int32(len(g.nodes))
	g.index[k] = i
	g.nodes = append(g.nodes, node[K]{key: k})
	return i
}

// Connect records that from depends on to, so that to comes first. Both
// nodes are added if they are missing. from == to is a self edge: a cycle.
func (g *Graph[K]) Connect(from, to K) {
	f, t := g.add(from), g.add(to)
	fn := &g.nodes[f]
	if !g.insert(fn, 0, int(fn.nDeps), t) {
		return // the edge is there already, and so is its reverse
	}
	fn.nDeps++
	tn := &g.nodes[t]
	g.insert(tn, int(tn.nDeps), len(tn.adj), f)
}

// insert puts position v into n.adj[lo:hi], which is sorted by key, unless
// it is there already; it reports whether it inserted v.
func (g *Graph[K]) insert(n *node[K], lo, hi int, v int32) bool {
	k := g.nodes[v].key
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		switch c := cmp.Compare(g.nodes[n.adj[mid]].key, k); {
		case c == 0:
			return false
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	if n.adj == nil {
		// Most nodes have a handful of edges: room for four saves the
		// reallocations of growing one by one.
		n.adj = make([]int32, 0, 4)
	}
	n.adj = slices.Insert(n.adj, lo, v)
	return true
}

// Len returns the number of nodes.
func (g *Graph[K]) Len() int { return len(g.nodes) }

// Has reports whether k is a node of g.
func (g *Graph[K]) Has(k K) bool {
	_, ok := g.index[k]
	return ok
}

// Nodes returns every node, sorted.
func (g *Graph[K]) Nodes() []K {
	ks := make([]K, len(g.nodes))
	for i := range g.nodes {
		ks[i] = g.nodes[i].key
	}
	slices.Sort(ks)
	return ks
}

// DependsOn returns the nodes k depends on directly, sorted.
func (g *Graph[K]) DependsOn(k K) []K {
	i, ok := g.index[k]
	if !ok {
		return []K{}
	}
	return g.keys(g.nodes[i].deps())
}

// Dependents returns the nodes that depend on k directly, sorted.
func (g *Graph[K]) Dependents(k K) []K {
	i, ok := g.index[k]
	if !ok {
		return []K{}
	}
	return g.keys(g.nodes[i].dependents())
}

// keys returns the keys of the nodes at positions is, in that order.
func (g *Graph[K]) keys(is []int32) []K {
	ks := make([]K, len(is))
	for j, i := range is {
		ks[j] = g.nodes[i].key
	}
	return ks
}

// less orders positions by their keys.
func (g *Graph[K]) less(a, b int32) bool { return cmp.Less(g.nodes[a].key, g.nodes[b].key) }

// Cycles returns every strongly connected component that has more than one
// member or a self edge: the nodes that can never be ordered. Each cycle
// starts at its smallest member and follows dependency edges (to the
// smallest unvisited member first), so a simple cycle a -> b -> c -> a is
// returned as [a b c]. Cycles are sorted by their first member; nil means
// the graph is acyclic.
func (g *Graph[K]) Cycles() [][]K {
	s := g.sccs()
	var cycles [][]K
	for c, members := range s.comps {
		cycles = append(cycles, g.follow(s.comp, int32(c), members))
	}
	slices.SortFunc(cycles, func(a, b []K) int { return cmp.Compare(a[0], b[0]) })
	return cycles
}

// frame is one level of an iterative depth first search: the node and the
// position in its dependencies to look at next.
type frame struct {
	v, next int32
}

// components is what sccs finds: the components that may be cycles and
// which of them each node is in.
type components struct {
	// comp is each node's component: an index into comps, or trivial.
	comp []int32
	// comps are the members of each component that has more than one
	// member or whose member depends on itself.
	comps [][]int32
}

// trivial is the component of a node that is a component of its own and
// does not depend on itself, as components.comp holds it.
const trivial = math.MaxInt32

// sccs returns the strongly connected components of g (Tarjan's algorithm,
// iterative so that a long chain cannot grow the stack). Which components
// there are does not depend on the order nodes and edges are visited in,
// and Cycles orders its result itself, so sccs goes by position. For an
// acyclic graph it allocates two slices.
func (g *Graph[K]) sccs() components {
	n := len(g.nodes)
	// One allocation for the per-node numbers: index (0 = not visited
	// yet, otherwise the visit number from 1), low, the component (-1
	// while the node is on Tarjan's stack, so on stack == visited and no
	// component yet) and Tarjan's stack itself.
	buf := make([]int32, 4*n)
	index, low, comp, stack := buf[:n:n], buf[n:2*n:2*n], buf[2*n:3*n:3*n], buf[3*n:3*n]
	calls := make([]frame, 0, min(n, 64))
	var s components
	next := int32(1)
	for root := range n {
		if index[root] != 0 {
			continue
		}
		calls = append(calls, frame{v: int32(root)})
		index[root], low[root] = next, next
		comp[root] = -1
		next++
		stack = append(stack, int32(root))
		for len(calls) > 0 {
			f := &calls[len(calls)-1]
			v := f.v
			deps := g.nodes[v].deps()
			if int(f.next) < len(deps) {
				w := deps[f.next]
				f.next++
				switch {
				case index[w] == 0:
					index[w], low[w] = next, next
					comp[w] = -1
					next++
					stack = append(stack, w)
					calls = append(calls, frame{v: w})
				case comp[w] < 0:
					low[v] = min(low[v], index[w])
				}
				continue
			}
			// Every dependency of v is done: close v's component if v is
			// its root, then hand low[v] back to the caller.
			calls = calls[:len(calls)-1]
			if low[v] == index[v] {
				at := len(stack) - 1
				for stack[at] != v {
					at--
				}
				members := stack[at:]
				c := int32(trivial)
				if len(members) > 1 || slices.Contains(deps, v) {
					c = int32(len(s.comps))
					s.comps = append(s.comps, slices.Clone(members))
				}
				for _, w := range members {
					comp[w] = c
				}
				stack = stack[:at]
			}
			if len(calls) > 0 {
				u := calls[len(calls)-1].v
				low[u] = min(low[u], low[v])
			}
		}
	}
	s.comp = comp
	return s
}

// follow orders the members of component c (comp as sccs found it): a
// depth first walk along dependency edges from the smallest member,
// visiting smaller successors first (each node's dependencies are sorted by
// key). For a simple cycle this is the cycle itself. It marks the members
// it visits in comp.
func (g *Graph[K]) follow(comp []int32, c int32, members []int32) []K {
	start := members[0]
	for _, m := range members[1:] {
		if g.less(m, start) {
			start = m
		}
	}
	// A member is marked seen by moving it out of the component.
	const seen = -1
	out := make([]K, 0, len(members))
	calls := []frame{{v: start}}
	comp[start] = seen
	out = append(out, g.nodes[start].key)
	for len(calls) > 0 {
		f := &calls[len(calls)-1]
		deps := g.nodes[f.v].deps()
		if int(f.next) >= len(deps) {
			calls = calls[:len(calls)-1]
			continue
		}
		d := deps[f.next]
		f.next++
		if comp[d] == c {
			comp[d] = seen
			out = append(out, g.nodes[d].key)
			calls = append(calls, frame{v: d})
		}
	}
	return out
}

// CycleError is returned by Order (and given to the nodes Walk cannot reach)
// when the graph has cycles.
type CycleError[K cmp.Ordered] struct {
	// Cycles are the graph's cycles as Cycles returns them.
	Cycles [][]K
}

// Error lists the cycles as "dependency cycle: a -> b -> a; ...".
func (e *CycleError[K]) Error() string {
	parts := make([]string, 0, len(e.Cycles))
	for _, c := range e.Cycles {
		var b strings.Builder
		for _, k := range c {
			fmt.Fprintf(&b, "%v -> ", k)
		}
		fmt.Fprintf(&b, "%v", c[0])
		parts = append(parts, b.String())
	}
	return "dependency cycle: " + strings.Join(parts, "; ")
}

// Order returns every node in a topological order, dependencies first. Among
// the nodes that are ready at the same time the smallest comes first, so the
// order is the same on every run. For a cyclic graph it returns the nodes
// that can be ordered (none on or behind a cycle) and a *CycleError.
func (g *Graph[K]) Order() ([]K, error) {
	n := len(g.nodes)
	buf := make([]int32, 2*n)
	pending, ready := buf[:n:n], buf[n:n]
	for i := range g.nodes {
		pending[i] = g.nodes[i].nDeps
		if pending[i] == 0 {
			ready = g.push(ready, int32(i))
		}
	}
	out := make([]K, 0, n)
	for len(ready) > 0 {
		var i int32
		ready, i = g.pop(ready)
		out = append(out, g.nodes[i].key)
		for _, d := range g.nodes[i].dependents() {
			pending[d]--
			if pending[d] == 0 {
				ready = g.push(ready, d)
			}
		}
	}
	if len(out) < n {
		return out, &CycleError[K]{Cycles: g.Cycles()}
	}
	return out, nil
}

// push adds position i to the binary min-heap h (by key) and returns h.
func (g *Graph[K]) push(h []int32, i int32) []int32 {
	h = append(h, i)
	for j := len(h) - 1; j > 0; {
		p := (j - 1) / 2
		if !g.less(h[j], h[p]) {
			break
		}
		h[j], h[p] = h[p], h[j]
		j = p
	}
	return h
}

// pop removes the position with the smallest key from the non-empty
// min-heap h and returns h and that position.
func (g *Graph[K]) pop(h []int32) ([]int32, int32) {
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for j := 0; ; {
		c := 2*j + 1
		if c >= last {
			break
		}
		if r := c + 1; r < last && g.less(h[r], h[c]) {
			c = r
		}
		if !g.less(h[c], h[j]) {
			break
		}
		h[j], h[c] = h[c], h[j]
		j = c
	}
	return h, top
}
