package graph

import (
	"cmp"
	"context"
	"fmt"
	"runtime/debug"
)

// SkippedError is the result of a node Walk did not call because a node it
// depends on, directly or through others, failed.
type SkippedError[K cmp.Ordered] struct {
	// Because is the failed node; when several of the node's dependencies
	// failed, the smallest of them.
	Because K
}

// Error says "skipped because X failed".
func (e *SkippedError[K]) Error() string {
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
//   - *SkippedError: a dependency failed, fn was not called;
//   - ctx.Err(): ctx was done before the node could start; fn was not
//     called (nodes already running are waited for, fn should watch ctx);
//   - *CycleError: the node is on a cycle or depends on one and can never
//     be ready; fn was not called.
//
// Walk returns once every call of fn has returned.
func (g *Graph[K]) Walk(ctx context.Context, parallel int, fn func(context.Context, K) error) map[K]error {
	if parallel < 1 {
		parallel = 1
	}
	n := len(g.nodes)
	w := &walker[K]{
		g:       g,
		results: make([]error, n),
		state:   make([]uint8, n),
		pending: make([]int32, n),
	}
	for i := range g.nodes {
		w.pending[i] = g.nodes[i].nDeps
		if w.pending[i] == 0 {
			w.ready = g.push(w.ready, int32(i))
		}
	}

	type done struct {
		i   int32
		err error
	}
	doneCh := make(chan done, parallel)
	running := 0
	ctxDone := ctx.Done()
	for {
		if err := ctx.Err(); err != nil {
			// Start nothing new: every ready node (and, through settle, its
			// dependents) ends as not started.
			for len(w.ready) > 0 {
				var i int32
				w.ready, i = g.pop(w.ready)
				w.state[i] = notStarted
				w.settle(i, err)
			}
		}
		for running < parallel && len(w.ready) > 0 {
			var i int32
			w.ready, i = g.pop(w.ready)
			running++
			k := g.nodes[i].key
			go func() {
				doneCh <- done{i, call(ctx, fn, k)}
			}()
		}
		if running == 0 {
			break
		}
		select {
		case d := <-doneCh:
			running--
			w.settle(d.i, d.err)
		case <-ctxDone:
			ctxDone = nil // handled at the top of the loop
		}
	}

	// Whatever is left never became ready: it is on a cycle or behind one.
	results := make(map[K]error, n)
	var cerr error
	for i := range g.nodes {
		err := w.results[i]
		if w.state[i] == undecided {
			if cerr == nil {
				cerr = &CycleError[K]{Cycles: g.Cycles()}
			}
			err = cerr
		}
		results[g.nodes[i].key] = err
	}
	return results
}

// call runs fn for k, turning a panic into an error so that one bad node
// cannot take the walk (and the process) down.
func call[K cmp.Ordered](ctx context.Context, fn func(context.Context, K) error, k K) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("walk %v: panic: %v\n%s", k, r, debug.Stack())
		}
	}()
	return fn(ctx, k)
}

// The states of a node during a Walk.
const (
	// undecided: no result yet.
	undecided uint8 = iota
	// decided: the node has its result.
	decided
	// notStarted: the node got ctx.Err() without being called.
	notStarted
)

// walker is the bookkeeping of one Walk, by node position; only Walk's
// goroutine touches it.
type walker[K cmp.Ordered] struct {
	g       *Graph[K]
	results []error
	state   []uint8
	// pending counts each node's dependencies that have no result yet.
	pending []int32
	// ready is a min-heap (by key) of the nodes that may start.
	ready []int32
	// queue is settle's work list, kept between calls.
	queue []int32
}

// settle records i's result and decides every dependent whose dependencies
// now all have results: it becomes ready, or is skipped, or is not started.
// A node is decided only once all its dependencies are, so the reason a node
// is skipped does not depend on timing.
func (w *walker[K]) settle(i int32, err error) {
	w.results[i] = err
	if w.state[i] == undecided {
		w.state[i] = decided
	}
	w.queue = append(w.queue[:0], i)
	for q := 0; q < len(w.queue); q++ {
		for _, d := range w.g.nodes[w.queue[q]].dependents() {
			w.pending[d]--
			if w.pending[d] > 0 {
				continue
			}
			res, ok := w.decide(d)
			if !ok {
				w.ready = w.g.push(w.ready, d)
				continue
			}
			w.results[d] = res
			w.queue = append(w.queue, d)
		}
	}
}

// decide looks at the results of d's dependencies. It returns ok == false
// when they all succeeded and d may run; otherwise d's result, and d is
// decided.
func (w *walker[K]) decide(d int32) (res error, ok bool) {
	var because K
	failed := false
	var ctxErr error
	for _, dep := range w.g.nodes[d].deps() {
		res = w.results[dep]
		var cand K
		switch {
		case res == nil:
			continue
		case w.state[dep] == notStarted:
			ctxErr = res
			continue
		default:
			if s, ok := res.(*SkippedError[K]); ok {
				cand = s.Because
			} else {
				cand = w.g.nodes[dep].key
			}
		}
		if !failed || cmp.Less(cand, because) {
			because, failed = cand, true
		}
	}
	switch {
	case failed:
		w.state[d] = decided
		return &SkippedError[K]{Because: because}, true
	case ctxErr != nil:
		w.state[d] = notStarted
		return ctxErr, true
	}
	return nil, false
}
