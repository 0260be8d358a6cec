package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tendhq/tend/engine/graph"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/resources"
)

// batchPrefix marks the walk-graph node that stands for all changed members
// of one batch (e.g. every package change of the host).
const batchPrefix = "batch:"

// applier is the state of one host's apply phase.
type applier struct {
	h      *hostRun
	target *resources.Target

	mu      sync.Mutex
	applied []*resources.Change
	once    map[string]*onceCall
}

type onceCall struct {
	done chan struct{}
	err  error
}

// runOnce implements resources.Target.Once for this host.
func (a *applier) runOnce(key string, fn func() error) error {
	a.mu.Lock()
	c, ok := a.once[key]
	if !ok {
		c = &onceCall{done: make(chan struct{})}
		a.once[key] = c
	}
	a.mu.Unlock()
	if ok {
		<-c.done
		return c.err
	}
	defer close(c.done)
	c.err = fn()
	return c.err
}

func (a *applier) appliedChanges() []*resources.Change {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*resources.Change(nil), a.applied...)
}

func (a *applier) done(c *resources.Change) {
	a.mu.Lock()
	a.applied = append(a.applied, c)
	a.mu.Unlock()
}

// apply walks the graph: dependencies first, independent resources in
// parallel; a failed resource skips everything that depends on it. The
// changed members of a batch (resources.BatchResource with one BatchKey) are
// one node of the walk and one remote call; when merging them would close a
// cycle, they are applied one by one instead. It returns the applier, whose
// target and once-steps the pruning of orphans shares.
func (h *hostRun) apply(ctx context.Context, obs *resources.Observed) *applier {
	a := &applier{h: h, once: map[string]*onceCall{}}
	a.target = &resources.Target{
		Host: h.g.Host, Transport: h.t, Observed: obs, Log: h.log,
		Once: a.runOnce, Applied: a.appliedChanges,
	}
	g, batches := h.walkGraph()
	errs := g.Walk(ctx, h.o.ResourceParallel, func(ctx context.Context, key string) error {
		if members, ok := batches[key]; ok {
			return a.applyBatch(ctx, members)
		}
		return a.applyOne(ctx, key)
	})
	for key, err := range errs {
		if err == nil {
			continue
		}
		members := []string{key}
		if m, ok := batches[key]; ok {
			members = m
		}
		var skip *graph.SkippedError[string]
		for _, addr := range members {
			r := h.res[addr]
			if r == nil || r.Status == report.StatusError || r.Status == report.StatusFailed || r.Status == report.StatusApplied {
				continue
			}
			if errors.As(err, &skip) {
				r.Status, r.SkippedBecause = report.StatusSkipped, h.culprit(skip.Because, batches)
				continue
			}
			r.Status, r.Error = report.StatusFailed, err.Error()
		}
	}
	return a
}

// culprit names the resource a skip is blamed on: for a batch, its first
// failed member.
func (h *hostRun) culprit(key string, batches map[string][]string) string {
	for _, addr := range batches[key] {
		if r := h.res[addr]; r != nil && (r.Status == report.StatusFailed || r.Status == report.StatusError) {
			return addr
		}
	}
	return key
}

func (a *applier) applyOne(ctx context.Context, addr string) error {
	h := a.h
	r := h.res[addr]
	if r.Status == report.StatusError {
		return errors.New(r.Error)
	}
	if !r.Change.Changed() {
		return nil
	}
	t0 := time.Now()
	node := h.nodes[addr]
	res := node.Resource
	var err error
	if err := h.journal(ctx, node.Notify); err != nil {
		r.Status, r.Error = report.StatusFailed, err.Error()
		return err
	}
	switch b, ok := res.(resources.BatchResource); {
	case h.notes.only[addr]:
		// Nothing to change but the notification below.
	case ok:
		// A batch member applied alone (its batch could not be merged).
		var errs []error
		errs, err = b.ApplyBatch(ctx, a.target, []resources.BatchResource{b}, []*resources.Change{r.Change})
		if err == nil && len(errs) == 1 {
			err = errs[0]
		}
	default:
		err = res.Apply(ctx, a.target, r.Change)
	}
	if err == nil {
		err = a.notify(ctx, addr)
	}
	if err != nil {
		h.log.Info("apply failed", zap.String("resource", addr), zap.Error(err))
		r.Status, r.Error = report.StatusFailed, err.Error()
		return err
	}
	h.log.Info("applied", zap.String("resource", addr), zap.String("action", r.Change.Action.String()), zap.Duration("took", time.Since(t0)))
	r.Status = report.StatusApplied
	a.done(r.Change)
	return nil
}

// applyBatch applies the changed members of one batch in one call.
func (a *applier) applyBatch(ctx context.Context, members []string) error {
	h := a.h
	rs := make([]resources.BatchResource, len(members))
	cs := make([]*resources.Change, len(members))
	for i, addr := range members {
		rs[i] = h.nodes[addr].Resource.(resources.BatchResource)
		cs[i] = h.res[addr].Change
	}
	t0 := time.Now()
	for _, addr := range members {
		if err := h.journal(ctx, h.nodes[addr].Notify); err != nil {
			return err
		}
	}
	errs, err := rs[0].ApplyBatch(ctx, a.target, rs, cs)
	var failed []string
	for i, addr := range members {
		r := h.res[addr]
		e := err
		if e == nil && i < len(errs) {
			e = errs[i]
		}
		if e != nil {
			r.Status, r.Error = report.StatusFailed, e.Error()
			failed = append(failed, addr)
			continue
		}
		r.Status = report.StatusApplied
		a.done(cs[i])
	}
	h.log.Info("applied batch", zap.String("batch", rs[0].BatchKey()), zap.Int("resources", len(members)),
		zap.Int("failed", len(failed)), zap.Duration("took", time.Since(t0)))
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, ", ") + " failed")
	}
	return nil
}

// walkGraph returns the graph apply walks: the host's graph with the changed
// members of each batch merged into one node, and the members of each merged
// node. Without batches, or when a merge would close a cycle, it is the
// host's graph itself.
func (h *hostRun) walkGraph() (*graph.Graph[string], map[string][]string) {
	batches := map[string][]string{}
	of := map[string]string{} // member address -> batch node
	for _, n := range h.g.Nodes {
		addr := n.Key()
		b, ok := n.Resource.(resources.BatchResource)
		r := h.res[addr]
		if !ok || r.Status == report.StatusError || !r.Change.Changed() {
			continue
		}
		key := batchPrefix + b.BatchKey()
		batches[key] = append(batches[key], addr)
		of[addr] = key
	}
	if len(batches) == 0 {
		return h.g.Graph, nil
	}
	node := func(k string) string {
		if b, ok := of[k]; ok {
			return b
		}
		return k
	}
	g := graph.New[string]()
	for _, k := range h.g.Graph.Nodes() {
		g.Add(node(k))
	}
	for _, k := range h.g.Graph.Nodes() {
		for _, d := range h.g.Graph.DependsOn(k) {
			if from, to := node(k), node(d); from != to {
				g.Connect(from, to)
			}
		}
	}
	if len(g.Cycles()) > 0 {
		h.log.Debug("batches would close a dependency cycle; applying their members one by one")
		return h.g.Graph, nil
	}
	return g, batches
}
