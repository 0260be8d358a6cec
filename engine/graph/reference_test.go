package graph

// This file is the map-based implementation the package had before it
// became compact, kept verbatim (renamed) as the reference the randomized
// tests in equiv_test.go compare the real one against.

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
)

// Graph is a directed graph of dependencies between keys. An edge from A to B
// means A depends on B: B must be handled first. A Graph is not safe for
// concurrent mutation; once built, its read methods and Walk may be used
// from several goroutines.
type refGraph[K cmp.Ordered] struct {
	// deps maps each node to the nodes it depends on, dependents is the
	// reverse; every node has an entry in both.
	deps       map[K]map[K]struct{}
	dependents map[K]map[K]struct{}
}

// New returns an empty graph.
func newRef[K cmp.Ordered]() *refGraph[K] {
	return &refGraph[K]{deps: map[K]map[K]struct{}{}, dependents: map[K]map[K]struct{}{}}
}

// Add adds the node k; adding a node twice is harmless.
func (g *refGraph[K]) Add(k K) {
	if _, ok := g.deps[k]; ok {
		return
	}
	g.deps[k] = map[K]struct{}{}
	g.dependents[k] = map[K]struct{}{}
}

// Connect records that from depends on to, so that to comes first. Both
// nodes are added if they are missing. from == to is a self edge: a cycle.
func (g *refGraph[K]) Connect(from, to K) {
	g.Add(from)
	g.Add(to)
	g.deps[from][to] = struct{}{}
	g.dependents[to][from] = struct{}{}
}

// Len returns the number of nodes.
func (g *refGraph[K]) Len() int { return len(g.deps) }

// Has reports whether k is a node of g.
func (g *refGraph[K]) Has(k K) bool {
	_, ok := g.deps[k]
	return ok
}

// Nodes returns every node, sorted.
func (g *refGraph[K]) Nodes() []K { return refSortedKeys(g.deps) }

// DependsOn returns the nodes k depends on directly, sorted.
func (g *refGraph[K]) DependsOn(k K) []K { return refSortedKeys(g.deps[k]) }

// Dependents returns the nodes that depend on k directly, sorted.
func (g *refGraph[K]) Dependents(k K) []K { return refSortedKeys(g.dependents[k]) }

func refSortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
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
func (g *refGraph[K]) Cycles() [][]K {
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
func (g *refGraph[K]) follow(scc []K) []K {
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
func (g *refGraph[K]) sccs() [][]K {
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

// refCycleError is returned by Order (and given to the nodes Walk cannot reach)
// when the graph has cycles.
type refCycleError[K cmp.Ordered] struct {
	// Cycles are the graph's cycles as Cycles returns them.
	Cycles [][]K
}

// Error lists the cycles as "dependency cycle: a -> b -> a; ...".
func (e *refCycleError[K]) Error() string {
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
// that can be ordered (none on or behind a cycle) and a *refCycleError.
func (g *refGraph[K]) Order() ([]K, error) {
	pending := make(map[K]int, len(g.deps))
	ready := &refHeap[K]{}
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
		return out, &refCycleError[K]{Cycles: g.Cycles()}
	}
	return out, nil
}

// refHeap is a container/heap of keys, smallest first; its methods are
// heap.Interface's.
type refHeap[K cmp.Ordered] []K

func (h refHeap[K]) Len() int           { return len(h) }
func (h refHeap[K]) Less(i, j int) bool { return cmp.Less(h[i], h[j]) }
func (h refHeap[K]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *refHeap[K]) Push(x any)        { *h = append(*h, x.(K)) }
func (h *refHeap[K]) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// refSkippedError is the result of a node Walk did not call because a node it
// depends on, directly or through others, failed.
type refSkippedError[K cmp.Ordered] struct {
	// Because is the failed node; when several of the node's dependencies
	// failed, the smallest of them.
	Because K
}

// Error says "skipped because X failed".
func (e *refSkippedError[K]) Error() string {
	return fmt.Sprintf("skipped because %v failed", e.Because)
}

// Walk calls fn once for every node whose dependencies all succeeded, each
// after its dependencies returned, with at most parallel calls running at
// once (parallel < 1 means 1). Among nodes that are ready at the same time
// the smallest starts first.
//
// The result has an entry for every node:
//   - nil: fn returned nil;
//   - fn's error: fn failed (a panic in fn is turned into an error);
//   - *refSkippedError: a dependency failed, fn was not called;
//   - ctx.Err(): ctx was done before the node could start; fn was not
//     called (nodes already running are waited for, fn should watch ctx);
//   - *refCycleError: the node is on a cycle or depends on one and can never
//     be ready; fn was not called.
//
// Walk returns once every call of fn has returned.
func (g *refGraph[K]) Walk(ctx context.Context, parallel int, fn func(context.Context, K) error) map[K]error {
	if parallel < 1 {
		parallel = 1
	}
	w := &refWalker[K]{
		g:          g,
		results:    make(map[K]error, len(g.deps)),
		notStarted: map[K]bool{},
		pending:    make(map[K]int, len(g.deps)),
	}
	for k, ds := range g.deps {
		w.pending[k] = len(ds)
		if len(ds) == 0 {
			heap.Push(&w.ready, k)
		}
	}

	type done struct {
		k   K
		err error
	}
	doneCh := make(chan done, parallel)
	running := 0
	ctxDone := ctx.Done()
	for {
		if err := ctx.Err(); err != nil {
			// Start nothing new: every ready node (and, through settle, its
			// dependents) ends as not started.
			for w.ready.Len() > 0 {
				k := heap.Pop(&w.ready).(K)
				w.notStarted[k] = true
				w.settle(k, err)
			}
		}
		for running < parallel && w.ready.Len() > 0 {
			k := heap.Pop(&w.ready).(K)
			running++
			go func() {
				doneCh <- done{k, refCall(ctx, fn, k)}
			}()
		}
		if running == 0 {
			break
		}
		select {
		case d := <-doneCh:
			running--
			w.settle(d.k, d.err)
		case <-ctxDone:
			ctxDone = nil // handled at the top of the loop
		}
	}

	// Whatever is left never became ready: it is on a cycle or behind one.
	if len(w.results) < len(g.deps) {
		cerr := &refCycleError[K]{Cycles: g.Cycles()}
		for k := range g.deps {
			if _, ok := w.results[k]; !ok {
				w.results[k] = cerr
			}
		}
	}
	return w.results
}

// call runs fn for k, turning a panic into an error so that one bad node
// cannot take the walk (and the process) down.
func refCall[K cmp.Ordered](ctx context.Context, fn func(context.Context, K) error, k K) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("walk %v: panic: %v\n%s", k, r, debug.Stack())
		}
	}()
	return fn(ctx, k)
}

// refWalker is the bookkeeping of one Walk; only Walk's goroutine touches it.
type refWalker[K cmp.Ordered] struct {
	g       *refGraph[K]
	results map[K]error
	// notStarted marks the nodes that got ctx.Err() without being called.
	notStarted map[K]bool
	// pending counts each node's dependencies that have no result yet.
	pending map[K]int
	ready   refHeap[K]
}

// settle records k's result and decides every dependent whose dependencies
// now all have results: it becomes ready, or is skipped, or is not started.
// A node is decided only once all its dependencies are, so the reason a node
// is skipped does not depend on timing.
func (w *refWalker[K]) settle(k K, err error) {
	queue := []K{k}
	w.results[k] = err
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for d := range w.g.dependents[k] {
			w.pending[d]--
			if w.pending[d] > 0 {
				continue
			}
			decided, res := w.decide(d)
			if !decided {
				heap.Push(&w.ready, d)
				continue
			}
			w.results[d] = res
			queue = append(queue, d)
		}
	}
}

// decide looks at the results of d's dependencies. It returns decided ==
// false when they all succeeded and d may run; otherwise d's result.
func (w *refWalker[K]) decide(d K) (decided bool, res error) {
	var because K
	failed := false
	var ctxErr error
	for dep := range w.g.deps[d] {
		res = w.results[dep]
		var cand K
		switch {
		case res == nil:
			continue
		case w.notStarted[dep]:
			ctxErr = res
			continue
		default:
			if s, ok := res.(*refSkippedError[K]); ok {
				cand = s.Because
			} else {
				cand = dep
			}
		}
		if !failed || cmp.Less(cand, because) {
			because, failed = cand, true
		}
	}
	switch {
	case failed:
		return true, &refSkippedError[K]{Because: because}
	case ctxErr != nil:
		w.notStarted[d] = true
		return true, ctxErr
	}
	return false, nil
}
