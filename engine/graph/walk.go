package graph

import (
	"cmp"
	"container/heap"
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
	w := &walker[K]{
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
				doneCh <- done{k, call(ctx, fn, k)}
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
		cerr := &CycleError[K]{Cycles: g.Cycles()}
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
func call[K cmp.Ordered](ctx context.Context, fn func(context.Context, K) error, k K) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("walk %v: panic: %v\n%s", k, r, debug.Stack())
		}
	}()
	return fn(ctx, k)
}

// walker is the bookkeeping of one Walk; only Walk's goroutine touches it.
type walker[K cmp.Ordered] struct {
	g       *Graph[K]
	results map[K]error
	// notStarted marks the nodes that got ctx.Err() without being called.
	notStarted map[K]bool
	// pending counts each node's dependencies that have no result yet.
	pending map[K]int
	ready   minHeap[K]
}

// settle records k's result and decides every dependent whose dependencies
// now all have results: it becomes ready, or is skipped, or is not started.
// A node is decided only once all its dependencies are, so the reason a node
// is skipped does not depend on timing.
func (w *walker[K]) settle(k K, err error) {
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
func (w *walker[K]) decide(d K) (decided bool, res error) {
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
			if s, ok := res.(*SkippedError[K]); ok {
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
		return true, &SkippedError[K]{Because: because}
	case ctxErr != nil:
		w.notStarted[d] = true
		return true, ctxErr
	}
	return false, nil
}
