package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/resources"
)

// DialFunc opens the transport to one host.
type DialFunc func(ctx context.Context, h *inventory.Host) (inventory.Transport, error)

// Options configure one run over a set of hosts.
type Options struct {
	// Apply converges the hosts; without it the run only plans.
	Apply bool
	// Dial opens a host's transport (SSH, or the local one).
	Dial DialFunc
	// Parallel bounds the hosts handled at once (default 20).
	Parallel int
	// ResourceParallel bounds the resources applied at once on one host
	// (default 8).
	ResourceParallel int
	// StateDir is tend's directory on the hosts (default /var/lib/tend).
	StateDir string
	// FetchLimit is the largest file whose current content is fetched to
	// show a diff (default 1 MiB).
	FetchLimit int64
	// Prune removes every orphan: a resource the host's manifest lists
	// (tend applied it before) that the spec no longer has. Without it,
	// orphans are reported (report.StatusOrphaned) and left in place,
	// except those of the roles in PruneRoles.
	Prune bool
	// PruneRoles names the roles whose orphans are removed (the roles with
	// prune = true, config.Role.Prune); an orphan is of the role its
	// manifest entry records.
	PruneRoles map[string]bool
	// Rollouts are the rollout blocks of the roles that have one, by role
	// name (config.Role.Rollout). With Apply, each host goes in the
	// rollout of the first of its roles (config.HostGraph.Roles) found
	// here, and is applied in its batch; the hosts of no rollout are
	// applied in parallel meanwhile. A plan only reports the batches.
	Rollouts map[string]*config.Rollout
	// LockTimeout bounds how long an apply waits for the host's lock,
	// which another tend run applying on the same host holds (default
	// DefaultLockTimeout). Only a run with changes to apply takes it.
	LockTimeout time.Duration
	// Partial says the graphs hold only some of each host's resources
	// (`tend release rollback` runs one release): orphans are not looked
	// for and the hosts' manifests are left as they are.
	Partial bool
	// Replan is how many times a host that changed between its plan and
	// its lock (another run or a person changed it meanwhile) is planned
	// again, with a new connection and probe, before it fails with a
	// "re-plan" error. The agent, which applies what it plans unattended,
	// sets it; tend apply leaves it 0: the person running it learns that
	// someone else is changing the host, and decides.
	Replan int
	// Revision is recorded in the report, e.g. "main@sha1:<hex>".
	Revision string
	Log      *zap.Logger
}

func (o *Options) defaults() {
	if o.Parallel <= 0 {
		o.Parallel = 20
	}
	if o.ResourceParallel <= 0 {
		o.ResourceParallel = 8
	}
	if o.FetchLimit <= 0 {
		o.FetchLimit = 1 << 20
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
}

// Run plans (and with o.Apply converges) every host graph, at most
// o.Parallel hosts at once. First it prepares (resources.Preparer) every
// resource that has work to do on this machine; when one fails, no host is
// contacted: the report has a run-level Error and every host is not
// started. Then, with o.Apply, the hosts of a rollout (o.Rollouts) go
// batch after batch, each rollout and the hosts of no rollout at the same
// time; a plan handles every host in parallel and only lists the batches.
// Hosts are independent: one that fails is reported in its report.Host and
// the others go on, unless it stops its rollout. Run returns after every
// host finished or ctx was cancelled.
func Run(ctx context.Context, graphs []*config.HostGraph, o Options) *report.Run {
	o.defaults()
	mode := report.ModePlan
	if o.Apply {
		mode = report.ModeApply
	}
	run := &report.Run{Mode: mode, Revision: o.Revision, Started: time.Now()}
	rollouts, free := planRollouts(graphs, o.Rollouts)
	s := &scheduler{ctx: ctx, graphs: graphs, o: &o, sem: make(chan struct{}, o.Parallel), hosts: make([]*report.Host, len(graphs))}
	if err := prepare(ctx, graphs, o.Log); err != nil {
		run.Error = err.Error()
		for i, g := range graphs {
			s.hosts[i] = notStartedHost(g, notStartedReason)
		}
		for _, ro := range rollouts {
			ro.rep.Stopped = "stopped before batch 1: the prepare phase failed"
			for _, b := range ro.rep.Batches {
				b.Status = report.BatchNotStarted
			}
		}
	} else if !o.Apply {
		// A plan changes nothing: every host at once.
		all := make([]int, len(graphs))
		for i := range all {
			all[i] = i
		}
		s.parallel(all)
	} else {
		var wg sync.WaitGroup
		wg.Go(func() { s.parallel(free) })
		for _, ro := range rollouts {
			wg.Go(func() { s.rollout(ro) })
		}
		wg.Wait()
	}
	for _, ro := range rollouts {
		run.Rollouts = append(run.Rollouts, ro.rep)
		for bi, idx := range ro.batches {
			for _, i := range idx {
				s.hosts[i].Rollout, s.hosts[i].Batch = ro.rep.Role, bi+1
			}
		}
	}
	run.Hosts = s.hosts
	sort.Slice(run.Hosts, func(i, j int) bool { return run.Hosts[i].Name < run.Hosts[j].Name })
	run.Duration = time.Since(run.Started)
	return run
}

// hostRun is the state of one host during a run.
type hostRun struct {
	g   *config.HostGraph
	o   *Options
	log *zap.Logger
	t   inventory.Transport
	rep *report.Host
	// byNode are the reports of g.Nodes, by index (diff fills them in).
	byNode []report.Resource
	// res and nodes index g.Nodes by address; index makes them when an
	// apply, a notification or an orphan needs them (a plan that changes
	// nothing does not).
	res   map[string]*report.Resource // by address
	nodes map[string]*config.Node
	notes *notifications
	// manifestFile and journalFile are the paths of the host's manifest and
	// notification journal (manifestPath, journalPath).
	manifestFile, journalFile string
	// orphans are the manifest read by the probe and the orphans found in
	// it (prune.go).
	orphans *orphanState
}

// runHost handles one host. A host that changed between its plan and its
// lock (errChanged) is planned again from the start, o.Replan times at
// most: the refused attempt changed nothing on it.
func runHost(ctx context.Context, g *config.HostGraph, o *Options) *report.Host {
	start := time.Now()
	log := o.Log
	if o.Log.Core() != zapcore.NewNopCore() {
		// A logger that logs nothing needs no fields (and With costs
		// allocations on every host).
		log = o.Log.With(zap.String("host", g.Host.Name))
	}
	for replans := 0; ; replans++ {
		h := &hostRun{
			g:   g,
			o:   o,
			log: log,
			rep: &report.Host{Name: g.Host.Name, Address: g.Host.Address, Started: start, Replans: replans},
		}
		err := h.run(ctx)
		h.rep.Duration = time.Since(start)
		if err == nil {
			return h.rep
		}
		if errors.Is(err, errChanged) && replans < o.Replan && ctx.Err() == nil {
			log.Info("planning again", zap.Error(err), zap.Int("replan", replans+1))
			continue
		}
		h.rep.Error = err.Error()
		log.Info("host failed", zap.Error(err))
		return h.rep
	}
}

func (h *hostRun) run(ctx context.Context) error {
	t0 := time.Now()
	t, err := h.o.Dial(ctx, h.g.Host)
	h.rep.Connect = time.Since(t0)
	if err != nil {
		return fmt.Errorf("unreachable: %w", err)
	}
	h.t = t
	defer t.Close()

	if h.g.Deferred != nil {
		// The specs read host.facts: gather them (a probe with no queries)
		// and compile the host's graph with them.
		t0 = time.Now()
		facts, err := h.probe(ctx, resources.NewProbe())
		h.rep.Probe += time.Since(t0)
		if err != nil {
			return fmt.Errorf("facts: %w", err)
		}
		g, diags := h.g.Deferred(config.FactsValue(&facts.Facts))
		if diags.HasErrors() {
			var b strings.Builder
			_ = report.Diagnostics(&b, nil, diags, false)
			return fmt.Errorf("the specs are invalid with this host's facts:\n%s", strings.TrimSpace(b.String()))
		}
		h.g = g
		// Resources known only now prepare now; a failure fails this
		// host only.
		if err := prepare(ctx, []*config.HostGraph{g}, h.log); err != nil {
			return err
		}
	}

	probe := resources.NewProbeSized(len(h.g.Nodes) + 8)
	for _, n := range h.g.Nodes {
		n.Resource.Observe(probe)
	}
	probe.Path(h.journalPath(), false)
	h.expectManifest(probe)
	t0 = time.Now()
	obs, err := h.probe(ctx, probe)
	h.rep.Probe = time.Since(t0)
	if err != nil {
		return err
	}
	if s, ok := t.(interface{ SetSFTPServer(string) }); ok && obs.Facts.SFTPServer != "" {
		s.SetSFTPServer(obs.Facts.SFTPServer)
	}
	changed := h.diff(obs)
	if err := h.readJournal(ctx, obs); err != nil {
		return err
	}
	changed += h.planNotifications()
	pruning, err := h.planOrphans(ctx, obs)
	if err != nil {
		return err
	}
	changed += pruning
	h.fetchContent(ctx, obs)
	if ce := h.log.Check(zap.DebugLevel, "planned"); ce != nil {
		ce.Write(zap.Int("resources", len(h.g.Nodes)), zap.Int("changes", changed))
	}
	if !h.o.Apply {
		return nil
	}
	h.index()
	if changed == 0 {
		// Nothing to apply, but the manifest may lack resources that
		// were converged already, or list orphans that are gone.
		return h.recordManifest(ctx, obs, nil)
	}

	// One apply at a time per host: the lock is held until the manifest
	// is recorded.
	l, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer l.release()
	if err := h.recheck(ctx, probe, obs); err != nil {
		return err
	}

	t0 = time.Now()
	a := h.apply(ctx, obs)
	h.prune(ctx, a)
	h.rep.Apply = time.Since(t0)

	t0 = time.Now()
	h.observePruned(probe)
	vobs, err := h.verify(ctx, probe)
	h.rep.Verify = time.Since(t0)
	// Recorded even when something failed: what was created must be
	// known to later runs, and orphans that were not pruned stay listed.
	return errors.Join(err, h.recordManifest(ctx, obs, vobs))
}

// index makes res and nodes, once the plan is made (the reports
// of byNode exist). It is called by the host's goroutine, before anything
// runs in parallel.
func (h *hostRun) index() {
	if h.res != nil {
		return
	}
	h.nodes = make(map[string]*config.Node, len(h.g.Nodes))
	h.res = make(map[string]*report.Resource, len(h.g.Nodes))
	for i, n := range h.g.Nodes {
		a := n.Key()
		h.nodes[a], h.res[a] = n, &h.byNode[i]
	}
}

// probe runs the batched probe: one remote execution.
func (h *hostRun) probe(ctx context.Context, p *resources.Probe) (*resources.Observed, error) {
	res, err := h.t.Run(ctx, p.Cmd())
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("probe: exit status %d: %s", res.ExitCode, firstLine(res.Stderr))
	}
	obs, err := resources.ParseProbe(p, res.Stdout)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	return obs, nil
}

// diff computes every resource's change; it returns the number of changes.
func (h *hostRun) diff(obs *resources.Observed) int {
	changed := 0
	h.byNode = make([]report.Resource, len(h.g.Nodes)) // one allocation for all
	h.rep.Resources = make([]*report.Resource, 0, len(h.g.Nodes))
	for i, n := range h.g.Nodes {
		r := &h.byNode[i]
		r.Addr, r.Status = n.Addr, report.StatusUnchanged
		h.rep.Resources = append(h.rep.Resources, r)
		c, err := n.Resource.Diff(obs)
		if err != nil {
			r.Status, r.Error = report.StatusError, err.Error()
			continue
		}
		r.Change = c
		if c.Changed() {
			r.Status = report.StatusPlanned
			changed++
		}
	}
	return changed
}

// fetchContent reads, in one remote execution, the current content of the
// changed text files that the plan shows as diffs. A failure only loses the
// diffs: the plan still shows the hashes and sizes.
func (h *hostRun) fetchContent(ctx context.Context, obs *resources.Observed) {
	var paths []string
	var ccs []*resources.ContentChange
	for _, r := range h.rep.Resources {
		if r.Change == nil || r.Change.Content == nil {
			continue
		}
		cc := r.Change.Content
		if cc.BeforeKnown || cc.Sensitive || cc.BeforeSize < 0 || cc.BeforeSize > h.o.FetchLimit {
			continue
		}
		paths = append(paths, cc.Path)
		ccs = append(ccs, cc)
	}
	if len(paths) == 0 {
		return
	}
	res, err := h.t.Run(ctx, resources.FetchCmd(paths))
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("exit status %d: %s", res.ExitCode, firstLine(res.Stderr))
	}
	var contents [][]byte
	if err == nil {
		contents, err = resources.ParseFetch(paths, res.Stdout)
	}
	if err != nil {
		h.log.Warn("cannot fetch file contents for diffs", zap.Error(err))
		return
	}
	for i, cc := range ccs {
		if contents[i] == nil || resources.HashOf(contents[i]) != cc.BeforeHash {
			continue // changed since the probe, or unreadable: no diff
		}
		cc.Before, cc.BeforeKnown = contents[i], true
		if resources.IsBinary(cc.Before) {
			cc.Binary = true
		}
	}
}

// verify probes again and reports every applied resource (and pruned
// orphan) that still differs as not converged. It returns what it observed.
func (h *hostRun) verify(ctx context.Context, p *resources.Probe) (*resources.Observed, error) {
	obs, err := h.probe(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	h.verifyPruned(obs)
	for i, n := range h.g.Nodes {
		r := &h.byNode[i]
		if r.Status != report.StatusApplied {
			continue
		}
		c, err := n.Resource.Diff(obs)
		switch {
		case err != nil:
			r.Status, r.Error = report.StatusNotConverged, err.Error()
		case c.Changed():
			r.Status, r.Error = report.StatusNotConverged, "still differs after apply: "+describe(c)
		}
	}
	return obs, nil
}

func describe(c *resources.Change) string {
	var parts []string
	for _, a := range c.Attrs {
		parts = append(parts, a.Name)
	}
	if c.Content != nil {
		parts = append(parts, "content")
	}
	if len(parts) == 0 {
		return c.Action.String()
	}
	return fmt.Sprint(parts)
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}
