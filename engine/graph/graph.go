package graph

import (
	"cmp"
	"container/heap"
	"fmt"
	"slices"
	"strings"
)

// Graph is a directed graph of dependencies between keys. An edge from A to B
// means A depends on B: B must be handled first. A Graph is not safe for
// concurrent mutation; once built, its read methods and Walk may be used
// from several goroutines.
type Graph[K cmp.Ordered] struct {
	// deps maps each node to the nodes it depends on, dependents is the
	// reverse; every node has an entry in both.
	deps       map[K]map[K]struct{}
	dependents map[K]map[K]struct{}
}

// New returns an empty graph.
func New[K cmp.Ordered]() *Graph[K] {
	return &Graph[K]{deps: map[K]map[K]struct{}{}, dependents: map[K]map[K]struct{}{}}
}

// Add adds the node k; adding a node twice is harmless.
func (g *Graph[K]) Add(k K) {
	if _, ok := g.deps[k]; ok {
		return
	}
	g.deps[k] = map[K]struct{}{}
	g.dependents[k] = map[K]struct{}{}
}

// Connect records that from depends on to, so that to comes first. Both
// nodes are added if they are missing. from == to is a self edge: a cycle.
func (g *Graph[K]) Connect(from, to K) {
	g.Add(from)
	g.Add(to)
	g.deps[from][to] = struct{}{}
	g.dependents[to][from] = struct{}{}
}

// Len returns the number of nodes.
func (g *Graph[K]) Len() int { return len(g.deps) }

// Has reports whether k is a node of g.
func (g *Graph[K]) Has(k K) bool {
	_, ok := g.deps[k]
	return ok
}

// Nodes returns every node, sorted.
func (g *Graph[K]) Nodes() []K { return sortedKeys(g.deps) }

// DependsOn returns the nodes k depends on directly, sorted.
func (g *Graph[K]) DependsOn(k K) []K { return sortedKeys(g.deps[k]) }

// Dependents returns the nodes that depend on k directly, sorted.
func (g *Graph[K]) Dependents(k K) []K { return sortedKeys(g.dependents[k]) }

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Cycles returns every strongly connected component that has more than one
// member or a self edge: the nodes that can never be ordered. Each cycle
// starts at its smallest member and follows dependency edges (to the
// smallest unvisited member first), so a simple cycle a -> b -> c -> a is
// returned as [a b c]. Cycles are sorted by their first member; nil means
// the graph is acyclic.
func (g *Graph[K]) Cycles() [][]K {
	var cycles [][]K
	for _, scc := range g.sccs() {
		if len(scc) == 1 {
			k := scc[0]
			if _, self := g.deps[k][k]; !self {
				continue
			}
		}
		cycles = append(cycles, g.follow(scc))
	}
	slices.SortFunc(cycles, func(a, b []K) int { return cmp.Compare(a[0], b[0]) })
	return cycles
}

// follow orders the members of one strongly connected component: a depth
// first walk along dependency edges from the smallest member, visiting
// smaller successors first. For a simple cycle this is the cycle itself.
func (g *Graph[K]) follow(scc []K) []K {
	in := make(map[K]bool, len(scc))
	for _, k := range scc {
		in[k] = true
	}
	start := slices.Min(scc)
	out := make([]K, 0, len(scc))
	seen := map[K]bool{}
	var visit func(k K)
	visit = func(k K) {
		seen[k] = true
		out = append(out, k)
		for _, d := range g.DependsOn(k) {
			if in[d] && !seen[d] {
				visit(d)
			}
		}
	}
	visit(start)
	return out
}

// sccs returns the strongly connected components of g (Tarjan's algorithm,
// iterating nodes and edges in key order so the result is deterministic).
func (g *Graph[K]) sccs() [][]K {
	index := map[K]int{}
	low := map[K]int{}
	onStack := map[K]bool{}
	var stack []K
	var out [][]K
	next := 0
	var connect func(v K)
	connect = func(v K) {
		index[v] = next
		low[v] = next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range g.DependsOn(v) {
			if _, visited := index[w]; !visited {
				connect(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var scc []K
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			out = append(out, scc)
		}
	}
	for _, v := range g.Nodes() {
		if _, visited := index[v]; !visited {
			connect(v)
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
	pending := make(map[K]int, len(g.deps))
	ready := &minHeap[K]{}
	for k, ds := range g.deps {
		pending[k] = len(ds)
		if len(ds) == 0 {
			heap.Push(ready, k)
		}
	}
	out := make([]K, 0, len(g.deps))
	for ready.Len() > 0 {
		k := heap.Pop(ready).(K)
		out = append(out, k)
		for d := range g.dependents[k] {
			pending[d]--
			if pending[d] == 0 {
				heap.Push(ready, d)
			}
		}
	}
	if len(out) < len(g.deps) {
		return out, &CycleError[K]{Cycles: g.Cycles()}
	}
	return out, nil
}

// minHeap is a container/heap of keys, smallest first; its methods are
// heap.Interface's.
type minHeap[K cmp.Ordered] []K

func (h minHeap[K]) Len() int           { return len(h) }
func (h minHeap[K]) Less(i, j int) bool { return cmp.Less(h[i], h[j]) }
func (h minHeap[K]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap[K]) Push(x any)        { *h = append(*h, x.(K)) }
func (h *minHeap[K]) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
