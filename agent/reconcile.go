package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"go.uber.org/zap"

	"github.com/tendhq/tend/agent/store"
	"github.com/tendhq/tend/engine"
	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/engine/source"
	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/resources"
)

// SpecError says that a revision's specs or inventory do not compile. Only
// a new commit can fix it: the loop waits for one.
type SpecError struct {
	Revision source.Revision
	Detail   string // the diagnostics, with positions
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("the specs of %s are invalid:\n%s", e.Revision, e.Detail)
}

// compiled is one revision's specs compiled for every host.
type compiled struct {
	rev    source.Revision
	graphs map[string]*config.HostGraph // by host name
	roles  map[string][]string          // roles selecting each host
	prune  map[string]bool              // roles with prune = true
	// rollouts are the rollout blocks of the roles that have one.
	rollouts map[string]*config.Rollout
}

// compile loads the inventory and the specs of snap and builds every host's
// graph; problems are a *SpecError.
func (a *Agent) compile(snap *source.Snapshot) (*compiled, error) {
	var inv *inventory.Inventory
	var diags, ds hcl.Diagnostics
	files := map[string]*hcl.File{}
	// A relative inventory is part of the revision, so that hosts change
	// with the commit that adds them; it must not sit among the spec
	// files (config.Load reads every *.hcl of the spec root), so keep it in
	// a subdirectory.
	if filepath.IsAbs(a.cfg.Inventory) {
		inv, ds = inventory.Load(a.cfg.Inventory)
	} else {
		inv, ds = inventory.LoadFS(snap.FS, a.cfg.Inventory)
	}
	diags = append(diags, ds...)
	if inv != nil {
		for k, v := range inv.Files() {
			files[k] = v
		}
	}
	cfg, ds := config.Load(snap.FS, ".", config.WithIdentities(a.cfg.AgeIdentities...))
	diags = append(diags, ds...)
	c := &compiled{rev: snap.Revision, graphs: map[string]*config.HostGraph{}, roles: map[string][]string{}, prune: map[string]bool{},
		rollouts: map[string]*config.Rollout{}}
	if !diags.HasErrors() {
		hosts, err := inv.Select(nil)
		if err == nil && a.selectHosts != nil {
			hosts, err = a.selectHosts(hosts)
		}
		if err != nil {
			return nil, &SpecError{Revision: snap.Revision, Detail: err.Error()}
		}
		graphs, ds := engine.Compile(cfg, hosts, nil)
		diags = append(diags, ds...)
		for _, g := range graphs {
			c.graphs[g.Host.Name] = g
		}
		for _, r := range cfg.Roles() {
			if r.Prune {
				c.prune[r.Name] = true
			}
			if r.Rollout != nil {
				c.rollouts[r.Name] = r.Rollout
			}
			for _, h := range hosts {
				if ok, _ := inventory.MatchAny(r.Hosts, h); ok && c.graphs[h.Name] != nil {
					c.roles[h.Name] = append(c.roles[h.Name], r.Name)
				}
			}
		}
	}
	if diags.HasErrors() {
		if cfg != nil {
			for k, v := range cfg.Files() {
				files[k] = v
			}
		}
		if cfg != nil {
			// Compile keeps secrets out of its diagnostics; this covers
			// the rest before they are recorded.
			diags = cfg.Redact(diags)
		}
		var b strings.Builder
		_ = report.Diagnostics(&b, files, diags, false)
		return nil, &SpecError{Revision: snap.Revision, Detail: strings.TrimSpace(b.String())}
	}
	return c, nil
}

// select returns the graphs of the named hosts, in name order.
func (c *compiled) selectHosts(names []string) []*config.HostGraph {
	var out []*config.HostGraph
	for _, n := range names {
		if g := c.graphs[n]; g != nil {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host.Name < out[j].Host.Name })
	return out
}

// hostNames returns every compiled host, in name order.
func (c *compiled) hostNames() []string {
	var out []string
	for n := range c.graphs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// agentReplans is how many times a host that changed between its plan and
// its lock is planned again in one engine run (engine.Options.Replan): a
// sync the agent interrupted, killed, can leave a command running on a
// host that changes it a moment later.
const agentReplans = 3

// engineRun runs the engine over graphs; the caller holds syncMu.
func (a *Agent) engineRun(graphs []*config.HostGraph, c *compiled, apply bool) *report.Run {
	run := engine.Run(a.applyCtx, graphs, engine.Options{
		Apply:      apply,
		Dial:       a.dial,
		StateDir:   a.cfg.StateDir,
		PruneRoles: c.prune,
		Rollouts:   c.rollouts,
		Revision:   c.rev.String(),
		Replan:     agentReplans,
		Log:        a.log,
	})
	a.metrics.observeRun(run, apply)
	return run
}

// pollStep fetches the source and reconciles a new revision. It returns an
// error only when the failure is transient (the loop backs off); spec
// errors and untrusted revisions are recorded and wait for a new commit.
func (a *Agent) pollStep(ctx context.Context, trigger store.Trigger) error {
	snap, err := a.src.Fetch(ctx)
	if err != nil {
		// Classify: an untrusted revision waits for the next commit;
		// anything else (unreachable, refused credentials) backs off.
		var se *source.SignatureError
		if errors.As(err, &se) {
			// Fetched, but not trusted: the source itself is fine.
			a.metrics.fetched(a.now())
			if was, _ := a.setSourceError("", false); was != "" {
				a.publish(Event{Type: EventSourceOK, Revision: se.Revision.String()})
			}
			a.refuse(se.Revision, se.Error())
			return nil
		}
		_, now := a.setSourceError(err.Error(), errors.Is(err, source.ErrUnreachable))
		a.publish(Event{Type: EventSourceError, Error: now})
		return err
	}
	a.metrics.fetched(a.now())
	was, _ := a.setSourceError("", false)
	a.mu.Lock()
	a.head = snap
	known := a.reconciled == snap.Revision.Hash || a.refused[snap.Revision.Hash]
	a.mu.Unlock()
	if was != "" || !known {
		a.publish(Event{Type: EventSourceOK, Revision: snap.Revision.String()})
	}
	if known {
		return nil
	}
	a.log.Info("new revision", zap.Stringer("revision", snap.Revision), zap.String("author", snap.Revision.Author))
	c, err := a.compile(snap)
	if err != nil {
		var se *SpecError
		if errors.As(err, &se) {
			a.refuse(snap.Revision, err.Error())
			return nil
		}
		return err
	}
	a.mu.Lock()
	a.specErr = ""
	a.mu.Unlock()
	return a.reconcile(c, trigger)
}

// setSourceError records (or with "" clears) why the source cannot be
// fetched, keeping the time it first failed; unreachable says the remote
// could not be reached (source.ErrUnreachable), rather than refused us.
// It returns the error shown before and the one shown now.
func (a *Agent) setSourceError(msg string, unreachable bool) (was, now string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	was = a.srcErr
	if msg == "" {
		if a.srcErr != "" {
			a.log.Info("source reachable again")
		}
		a.srcErr, a.srcDown = "", time.Time{}
		return was, ""
	}
	if a.srcDown.IsZero() {
		a.srcDown = a.now()
	}
	what := "source failing"
	if unreachable {
		what = "source unreachable"
	}
	a.srcErr = fmt.Sprintf("%s since %s: %s", what, a.srcDown.UTC().Format(time.RFC3339), msg)
	return was, a.srcErr
}

// refuse records a revision that cannot be applied, once per revision.
func (a *Agent) refuse(rev source.Revision, reason string) {
	a.mu.Lock()
	seen := a.refused[rev.Hash]
	a.refused[rev.Hash] = true
	a.specErr = reason
	a.mu.Unlock()
	if seen {
		return
	}
	a.log.Warn("revision refused", zap.Stringer("revision", rev), zap.String("reason", reason))
	rec := syncRecord(rev, store.TriggerAuto, "", nil)
	if err := a.hist.BeginSync(rec); err != nil {
		a.log.Error("record refused revision", zap.Error(err))
		return
	}
	rec.Result, rec.Reason, rec.Ended = store.ResultRefused, reason, a.now()
	if err := a.hist.EndSync(rec); err != nil {
		a.log.Error("record refused revision", zap.Error(err))
	}
	a.publish(Event{Type: EventSyncFinished, Sync: copySync(rec)})
}

// copySync is a deep copy of a sync record for an event: subscribers read
// it in other goroutines while the record may still change.
func copySync(s *store.Sync) *store.Sync {
	c := *s
	c.Roles = slices.Clone(s.Roles)
	c.Hosts = slices.Clone(s.Hosts)
	for i := range c.Hosts {
		c.Hosts[i].Resources = slices.Clone(c.Hosts[i].Resources)
	}
	return &c
}

// copyDrift is a copy of a drift event for an event.
func copyDrift(d *store.Drift) *store.Drift {
	c := *d
	c.Resources = slices.Clone(d.Resources)
	return &c
}

func syncRecord(rev source.Revision, t store.Trigger, by string, roles []string) *store.Sync {
	return &store.Sync{
		Revision: rev.String(), Hash: rev.Hash, Author: rev.Author, Date: rev.Date,
		Message: strings.TrimSpace(rev.Message), Trigger: t, By: by, Roles: roles,
	}
}

// reconcile plans every host at c's revision, sets their status, and
// applies the hosts whose policy is auto when a window allows it.
func (a *Agent) reconcile(c *compiled, trigger store.Trigger) error {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	if a.isClosing() {
		return nil
	}
	run := a.engineRun(c.selectHosts(c.hostNames()), c, false)
	a.recordRun(c, run)
	var auto []string
	allowed := Allowed(a.cfg.Windows, a.now())
	a.mu.Lock()
	a.reconciled = c.rev.Hash
	for _, h := range run.Hosts {
		st := a.hostStatus(h.Name, c)
		changes := hostChanges(h)
		st.Changes = changes
		switch {
		case h.Error != "":
			setFailed(st, h.Error)
			continue
		case changes == 0:
			// Nothing to change: the host is at this revision already,
			// unless a rollback holds it (its roles are paused).
			if st.Reason == ReasonRollback && a.pausedHost(c.roles[h.Name]) {
				continue
			}
			st.Status, st.Reason, st.Error = StatusSynced, "", ""
			st.Applied = c.rev.String()
			a.applied[h.Name] = applied{Revision: c.rev.String(), Hash: c.rev.Hash, Time: a.now()}
			continue
		}
		if !(st.Reason == ReasonRollback && a.pausedHost(c.roles[h.Name])) {
			st.Status, st.Reason, st.Error = StatusOutOfSync, ReasonNewRevision, ""
		}
		// Only the hosts with changes are applied; auto-sync waits for a
		// window when there are windows.
		if allowed && a.autoHost(c.roles[h.Name]) {
			auto = append(auto, h.Name)
		}
	}
	a.saveApplied()
	a.mu.Unlock()
	a.publish(Event{Type: EventStatus})
	if len(auto) == 0 {
		return nil
	}
	_, err := a.apply(c, auto, trigger, "", nil)
	return err
}

// hostStatus returns (creating it) the status of a host; a.mu is held.
func (a *Agent) hostStatus(name string, c *compiled) *HostStatus {
	st := a.hosts[name]
	if st == nil {
		st = &HostStatus{Name: name, Status: StatusUnknown}
		a.hosts[name] = st
	}
	if c != nil {
		st.Roles = slices.Clone(c.roles[name])
		if g := c.graphs[name]; g != nil && g.Host != nil {
			st.Groups = slices.Clone(g.Host.Groups)
		}
		if a.head != nil {
			st.Target = a.head.Revision.String()
		}
	}
	return st
}

func setFailed(st *HostStatus, msg string) {
	st.Status, st.Reason, st.Error = StatusFailed, "", msg
	if strings.HasPrefix(msg, "unreachable") {
		st.Status = StatusUnreachable
	}
}

// hostChanges counts the changes a plan found on one host.
func hostChanges(h *report.Host) int {
	n := 0
	for _, r := range h.Resources {
		if r.Status == report.StatusPlanned || (r.Change != nil && r.Change.Changed() && r.Status != report.StatusOrphaned && r.Status != report.StatusUnchanged) {
			n++
		}
	}
	return n
}

// pausedHost reports whether one of roles (or the agent) is paused; a.mu
// is held.
func (a *Agent) pausedHost(roles []string) bool {
	if a.paused["*"] {
		return true
	}
	for _, r := range roles {
		if a.paused[r] {
			return true
		}
	}
	return false
}

// autoHost reports whether a host with these roles is synced on its own:
// one role's policy (or the agent's) is auto and none is paused; a.mu is
// held.
func (a *Agent) autoHost(roles []string) bool {
	if a.pausedHost(roles) {
		return false
	}
	for _, r := range roles {
		p := a.cfg.Roles[r].Policy
		if p == "" {
			p = a.cfg.Policy
		}
		if p == PolicyAuto {
			return true
		}
	}
	return len(roles) == 0 && a.cfg.Policy == PolicyAuto
}

// selfHeal reports whether drift on a host with these roles is corrected:
// every role's self_heal (or the agent's) is true.
func (a *Agent) selfHeal(roles []string) bool {
	for _, r := range roles {
		if v := a.cfg.Roles[r].SelfHeal; v != nil && !*v {
			return false
		} else if v == nil && !a.cfg.SelfHeal {
			return false
		}
	}
	return len(roles) > 0 || a.cfg.SelfHeal
}

// saveApplied persists the applied revisions; a.mu is held.
func (a *Agent) saveApplied() {
	if err := a.hist.SetState(stateApplied, a.applied); err != nil {
		a.log.Error("save applied revisions", zap.Error(err))
	}
}

// apply converges the named hosts to c's revision and records the sync.
// The caller holds syncMu.
func (a *Agent) apply(c *compiled, hosts []string, trigger store.Trigger, by string, roles []string) (*store.Sync, error) {
	if len(roles) == 0 {
		seen := map[string]bool{}
		for _, h := range hosts {
			for _, r := range c.roles[h] {
				if !seen[r] {
					seen[r] = true
					roles = append(roles, r)
				}
			}
		}
		sort.Strings(roles)
	}
	rec := syncRecord(c.rev, trigger, by, roles)
	// The hosts are recorded from the start, so that a sync cut short by
	// a crash still says which hosts it was changing.
	for _, h := range hosts {
		rec.Hosts = append(rec.Hosts, store.HostResult{Name: h, Result: store.ResultRunning})
	}
	if err := a.hist.BeginSync(rec); err != nil {
		return nil, fmt.Errorf("record sync of %s: %w", c.rev, err)
	}
	a.publish(Event{Type: EventSyncStarted, Sync: copySync(rec)})
	rec.Hosts = nil // filled in with the outcome below
	log := a.log.With(zap.Uint64("sync", rec.ID), zap.Stringer("revision", c.rev), zap.String("trigger", string(trigger)))
	log.Info("sync started", zap.Strings("hosts", hosts))
	// Not cancelled by shutdown (applyCtx): a host is never left halfway.
	run := a.engineRun(c.selectHosts(hosts), c, true)
	a.recordRun(c, run)
	rec.Result = store.ResultSucceeded
	var failed []string
	now := a.now()
	a.mu.Lock()
	head := ""
	if a.head != nil {
		head = a.head.Revision.Hash
	}
	for _, h := range run.Hosts {
		hr := hostResult(h)
		rec.Hosts = append(rec.Hosts, hr)
		st := a.hostStatus(h.Name, c)
		st.LastSync = now
		st.Changes = 0
		if hr.Result != store.ResultSucceeded {
			failed = append(failed, h.Name)
			msg := hr.Error
			if msg == "" {
				msg = "some resources failed"
			}
			setFailed(st, msg)
			if st.Status == StatusFailed && !h.NotStarted {
				// Partly applied: the drift check plans it at this
				// revision, and self-heal retries it. A host its rollout
				// did not start keeps its revision: self-heal must not
				// deploy what the rollout stopped.
				a.applied[h.Name] = applied{Revision: c.rev.String(), Hash: c.rev.Hash, Time: now}
				st.Applied = c.rev.String()
			}
			continue
		}
		a.applied[h.Name] = applied{Revision: c.rev.String(), Hash: c.rev.Hash, Time: now}
		st.Applied = c.rev.String()
		// Synced means at the head: a host applied at an older revision
		// (a rollback, or drift corrected at the applied one) is not.
		st.Status, st.Reason, st.Error = StatusSynced, "", ""
		if head != "" && c.rev.Hash != head {
			st.Status, st.Reason = StatusOutOfSync, ReasonNewRevision
			if trigger == store.TriggerRollback {
				st.Reason = ReasonRollback
			}
		}
		delete(a.driftSeen, h.Name)
	}
	a.saveApplied()
	a.mu.Unlock()
	a.publish(Event{Type: EventStatus})
	if len(failed) > 0 {
		rec.Result = store.ResultFailed
		rec.Reason = "failed on " + strings.Join(failed, ", ")
	}
	if run.Error != "" {
		// Nothing was contacted: the run's own error says why.
		rec.Result, rec.Reason = store.ResultFailed, run.Error
	}
	rec.Ended = a.now()
	endErr := a.hist.EndSync(rec)
	a.publish(Event{Type: EventSyncFinished, Sync: copySync(rec)})
	if endErr != nil {
		return rec, fmt.Errorf("record the end of sync %d: %w", rec.ID, endErr)
	}
	log.Info("sync ended", zap.String("result", string(rec.Result)), zap.Duration("took", rec.Ended.Sub(rec.Started)))
	return rec, nil
}

// hostResult turns one host's report into its history entry.
func hostResult(h *report.Host) store.HostResult {
	hr := store.HostResult{Name: h.Name, Result: store.ResultSucceeded, Error: h.Error}
	if h.Failed() {
		hr.Result = store.ResultFailed
	}
	for _, r := range h.Resources {
		rr := store.ResourceResult{Address: r.Addr.String(), Action: resources.NoOp.String(), Status: string(r.Status), Error: r.Error}
		if r.Change != nil {
			rr.Action = r.Change.Action.String()
		}
		hr.Resources = append(hr.Resources, rr)
	}
	return hr
}

// SyncRequest is a manual sync: the hosts selected by name or role (all
// when both are empty), at the head revision.
type SyncRequest struct {
	Roles []string `json:"roles,omitempty"`
	Hosts []string `json:"hosts,omitempty"`
	// By names who asked (the API token).
	By string `json:"-"`
}

// Sync applies the head revision to the requested hosts now, whatever the
// policy and the windows, and returns the recorded sync.
func (a *Agent) Sync(ctx context.Context, req SyncRequest) (*store.Sync, error) {
	a.mu.Lock()
	snap := a.head
	a.mu.Unlock()
	if snap == nil {
		var err error
		if snap, err = a.src.Fetch(ctx); err != nil {
			return nil, fmt.Errorf("fetch the source: %w", err)
		}
		a.mu.Lock()
		a.head = snap
		a.mu.Unlock()
	}
	c, err := a.compile(snap)
	if err != nil {
		return nil, err
	}
	hosts, err := c.pick(req.Roles, req.Hosts)
	if err != nil {
		return nil, err
	}
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	if a.isClosing() {
		return nil, ErrShuttingDown
	}
	return a.apply(c, hosts, store.TriggerManual, req.By, req.Roles)
}

// pick selects hosts by role and name; unknown names are an error.
func (c *compiled) pick(roles, names []string) ([]string, error) {
	if len(roles) == 0 && len(names) == 0 {
		return c.hostNames(), nil
	}
	set := map[string]bool{}
	for _, n := range names {
		if c.graphs[n] == nil {
			return nil, fmt.Errorf("select host %s: no role of %s selects it", n, c.rev)
		}
		set[n] = true
	}
	for _, r := range roles {
		found := false
		for h, rs := range c.roles {
			if slices.Contains(rs, r) {
				set[h], found = true, true
			}
		}
		if !found {
			return nil, fmt.Errorf("select role %s: it selects no host at %s", r, c.rev)
		}
	}
	var out []string
	for h := range set {
		out = append(out, h)
	}
	sort.Strings(out)
	return out, nil
}

// Rollback applies the revision of history entry id to the hosts of that
// entry, and suspends the auto-sync of their roles so that the next poll
// does not undo it. The hosts stay OutOfSync (reason rollback) until their
// roles are resumed and synced.
func (a *Agent) Rollback(ctx context.Context, id uint64, by string) (*store.Sync, error) {
	old, err := a.hist.Sync(id)
	if err != nil {
		return nil, fmt.Errorf("read sync %d: %w", id, err)
	}
	if old.Hash == "" || len(old.Hosts) == 0 {
		return nil, fmt.Errorf("roll back to sync %d: it applied nothing", id)
	}
	snap, err := a.src.At(ctx, old.Hash)
	if err != nil {
		return nil, fmt.Errorf("roll back to sync %d: read %s: %w", id, old.Revision, err)
	}
	c, err := a.compile(snap)
	if err != nil {
		return nil, err
	}
	var hosts []string
	for _, h := range old.Hosts {
		if c.graphs[h.Name] != nil {
			hosts = append(hosts, h.Name)
		}
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("roll back to sync %d: none of its hosts is in the inventory", id)
	}
	var roles []string
	for _, h := range hosts {
		for _, r := range c.roles[h] {
			if !slices.Contains(roles, r) {
				roles = append(roles, r)
			}
		}
	}
	sort.Strings(roles)
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	if a.isClosing() {
		return nil, ErrShuttingDown
	}
	for _, r := range roles {
		if err := a.Pause(r); err != nil {
			return nil, err
		}
	}
	return a.apply(c, hosts, store.TriggerRollback, by, roles)
}

// Pause suspends the auto-sync of a role ("" or "*": of every host).
func (a *Agent) Pause(role string) error {
	return a.setPaused(role, true)
}

// Resume lifts Pause ("" or "*" resumes every role) and has the loop plan
// the head again, so that auto-sync catches up.
func (a *Agent) Resume(role string) error {
	if err := a.setPaused(role, false); err != nil {
		return err
	}
	a.mu.Lock()
	a.reconciled = ""
	a.mu.Unlock()
	a.Trigger(store.TriggerAuto)
	return nil
}

func (a *Agent) setPaused(role string, on bool) error {
	if role == "" {
		role = "*"
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case on:
		a.paused[role] = true
	case role == "*":
		clear(a.paused)
	default:
		delete(a.paused, role)
	}
	var list []string
	for r := range a.paused {
		list = append(list, r)
	}
	sort.Strings(list)
	if err := a.hist.SetState(statePaused, list); err != nil {
		return fmt.Errorf("save paused roles: %w", err)
	}
	a.log.Info("auto-sync paused roles", zap.Strings("paused", list))
	// Publishing takes no lock of the agent's: safe under a.mu.
	a.publish(Event{Type: EventStatus})
	return nil
}
