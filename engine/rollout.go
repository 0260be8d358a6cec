package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/resources"
)

// This file holds the order in which Run reaches the hosts: the prepare
// phase before any host, and the rolling batches of the roles with a
// rollout block.
//
//  1. prepare: every Preparer resource of every graph prepares (fetches and
//     checks its artifact) on this machine; one failure stops the run
//     before any host is dialled (report.Run.Error).
//  2. rollouts: each host belongs to the rollout of the first of its roles
//     (config.HostGraph.Roles) that has one; the others go in parallel.
//     A rollout runs its batches one after the other, its hosts sorted by
//     name, and stops when a batch has more failed hosts than its budget:
//     the later batches' hosts are never contacted (report.Host.NotStarted).

// prepareParallel bounds the Prepare calls run at once.
const prepareParallel = 4

// notStartedReason is why every host is not started when the prepare phase
// failed.
const notStartedReason = "the run stopped before any host was contacted"

// preparation is one distinct Preparer and the hosts whose graphs hold it.
type preparation struct {
	p     resources.Preparer
	hosts []string
}

// prepare calls Prepare once for every distinct Preparer of graphs, a few
// at once. It returns every failure, those of one resource address with one
// message merged: "prepare release[shop] (web-1, web-2): ...".
func prepare(ctx context.Context, graphs []*config.HostGraph, log *zap.Logger) error {
	var preps []*preparation
	seen := map[resources.Preparer]*preparation{}
	for _, g := range graphs {
		for _, n := range g.Nodes {
			p, ok := n.Resource.(resources.Preparer)
			if !ok {
				continue
			}
			// Kinds are pointers; anything else cannot be a map key safely
			// and is prepared once per host.
			key := reflect.TypeOf(p).Kind() == reflect.Pointer
			if prev := seen[p]; key && prev != nil {
				prev.hosts = append(prev.hosts, g.Host.Name)
				continue
			}
			pr := &preparation{p: p, hosts: []string{g.Host.Name}}
			if key {
				seen[p] = pr
			}
			preps = append(preps, pr)
		}
	}
	if len(preps) == 0 {
		return nil
	}
	// Every Prepare runs, also after a failure, so that the report lists
	// every problem at once; each writes only its own slot of errs.
	t0 := time.Now()
	errs := make([]error, len(preps))
	var eg errgroup.Group
	eg.SetLimit(prepareParallel)
	for i, pr := range preps {
		eg.Go(func() error {
			errs[i] = pr.p.Prepare(ctx)
			return nil
		})
	}
	_ = eg.Wait()
	err := mergePrepareErrors(preps, errs)
	if err != nil {
		log.Error("prepare failed", zap.Int("resources", len(preps)), zap.Error(err))
	} else {
		log.Debug("prepared", zap.Int("resources", len(preps)), zap.Duration("took", time.Since(t0)))
	}
	return err
}

// mergePrepareErrors joins the failures of preps (errs[i] is that of
// preps[i]), one per address and message, naming its hosts.
func mergePrepareErrors(preps []*preparation, errs []error) error {
	type group struct {
		addr, msg string
		hosts     []string
	}
	var groups []*group
	byKey := map[string]*group{}
	for i, err := range errs {
		if err == nil {
			continue
		}
		addr := preps[i].p.Addr().String()
		k := addr + "\x00" + err.Error()
		g := byKey[k]
		if g == nil {
			g = &group{addr: addr, msg: err.Error()}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.hosts = append(g.hosts, preps[i].hosts...)
	}
	var out []error
	for _, g := range groups {
		sort.Strings(g.hosts)
		g.hosts = compactStrings(g.hosts)
		out = append(out, fmt.Errorf("prepare %s (%s): %s", g.addr, strings.Join(g.hosts, ", "), g.msg))
	}
	return errors.Join(out...)
}

// compactStrings removes adjacent duplicates of a sorted slice.
func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// rollout is one role's rollout during a run.
type rollout struct {
	spec *config.Rollout
	rep  *report.Rollout
	// batches hold the indices in the run's graphs of each batch's hosts.
	batches [][]int
}

// planRollouts puts every graph either in the rollout of the first of its
// roles that has one in specs, or in free (the hosts applied in parallel).
// Rollouts come sorted by role, their hosts by name.
func planRollouts(graphs []*config.HostGraph, specs map[string]*config.Rollout) (rollouts []*rollout, free []int) {
	// The members of each rollout, by role; a host with no role of a
	// rollout is free.
	members := map[string][]int{}
	for i, g := range graphs {
		role := ""
		for _, r := range g.Roles {
			if specs[r] != nil {
				role = r
				break
			}
		}
		if role == "" {
			free = append(free, i)
			continue
		}
		members[role] = append(members[role], i)
	}
	roles := make([]string, 0, len(members))
	for r := range members {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, role := range roles {
		spec, idx := specs[role], members[role]
		sort.Slice(idx, func(a, b int) bool { return graphs[idx[a]].Host.Name < graphs[idx[b]].Host.Name })
		ro := &rollout{spec: spec, rep: &report.Rollout{
			Role:             role,
			BatchSize:        spec.BatchSize(len(idx)),
			MaxFailed:        spec.MaxFailed,
			MaxFailedPercent: spec.MaxFailedPercent,
			Pause:            spec.Pause,
		}}
		// Cut the sorted hosts into batches; the last may be smaller,
		// and its budget (a percentage of max_failed) with it.
		for len(idx) > 0 {
			k := min(ro.rep.BatchSize, len(idx))
			b := &report.Batch{MaxFailed: spec.Budget(k), Status: report.BatchPlanned}
			for _, i := range idx[:k] {
				b.Hosts = append(b.Hosts, graphs[i].Host.Name)
			}
			ro.batches = append(ro.batches, idx[:k:k])
			ro.rep.Batches = append(ro.rep.Batches, b)
			idx = idx[k:]
		}
		rollouts = append(rollouts, ro)
	}
	return rollouts, free
}

// scheduler runs hosts for Run: each within the bound of o.Parallel.
type scheduler struct {
	ctx    context.Context
	graphs []*config.HostGraph
	o      *Options
	sem    chan struct{}
	hosts  []*report.Host // by graph index
}

// host runs the host of graphs[i] once a slot is free, and records its
// report.
func (s *scheduler) host(i int) {
	g := s.graphs[i]
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
		s.hosts[i] = runHost(s.ctx, g, s.o)
	case <-s.ctx.Done():
		s.hosts[i] = &report.Host{Name: g.Host.Name, Address: g.Host.Address, Error: s.ctx.Err().Error()}
	}
}

// parallel runs the hosts idx at once (within the bound) and waits.
func (s *scheduler) parallel(idx []int) {
	var wg sync.WaitGroup
	for _, i := range idx {
		wg.Go(func() { s.host(i) })
	}
	wg.Wait()
}

// rollout runs ro's batches in order. After each batch it counts the
// failed hosts; more than the batch's budget stops the rollout, and the
// hosts of the later batches are reported not started. Between batches it
// waits ro's pause; a cancelled ctx stops it there too.
func (s *scheduler) rollout(ro *rollout) {
	log := s.o.Log.With(zap.String("role", ro.rep.Role))
	for bi, idx := range ro.batches {
		b := ro.rep.Batches[bi]
		// Between batches: the pause, cut short by a cancelled ctx.
		if ro.rep.Stopped == "" && bi > 0 && ro.spec.Pause > 0 {
			log.Info("rollout paused", zap.Int("next_batch", bi+1), zap.Duration("pause", ro.spec.Pause))
			t := time.NewTimer(ro.spec.Pause)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
			}
		}
		// A cancelled run starts no further batch.
		if ro.rep.Stopped == "" && bi > 0 && s.ctx.Err() != nil {
			ro.rep.Stopped = fmt.Sprintf("stopped after batch %d: interrupted (%v)", bi, s.ctx.Err())
			log.Warn("rollout stopped", zap.String("reason", ro.rep.Stopped))
		}
		if ro.rep.Stopped != "" {
			s.notStarted(ro, bi, "rollout of role "+ro.rep.Role+" "+ro.rep.Stopped)
			continue
		}
		log.Info("rollout batch", zap.Int("batch", bi+1), zap.Strings("hosts", b.Hosts))
		b.Started = time.Now()
		s.parallel(idx)
		b.Duration = time.Since(b.Started)
		// Count the batch's failures against its budget; stopping after
		// the last batch would stop nothing.
		b.Status = report.BatchOK
		for _, i := range idx {
			if s.hosts[i].Failed() {
				b.Failed = append(b.Failed, s.hosts[i].Name)
			}
		}
		if len(b.Failed) == 0 {
			continue
		}
		b.Status = report.BatchFailed
		if len(b.Failed) > b.MaxFailed && bi < len(ro.batches)-1 {
			ro.rep.Stopped = fmt.Sprintf("stopped after batch %d: %s failed", bi+1, strings.Join(b.Failed, ", "))
			if b.MaxFailed > 0 {
				ro.rep.Stopped += fmt.Sprintf(" (max_failed %d)", b.MaxFailed)
			}
			log.Warn("rollout stopped", zap.String("reason", ro.rep.Stopped))
		}
	}
}

// notStarted reports the hosts of ro's batch bi as never contacted, for
// reason.
func (s *scheduler) notStarted(ro *rollout, bi int, reason string) {
	ro.rep.Batches[bi].Status = report.BatchNotStarted
	for _, i := range ro.batches[bi] {
		s.hosts[i] = notStartedHost(s.graphs[i], reason)
	}
}

// notStartedHost is the report of a host that was never contacted.
func notStartedHost(g *config.HostGraph, reason string) *report.Host {
	return &report.Host{Name: g.Host.Name, Address: g.Host.Address, NotStarted: true, Error: reason}
}
