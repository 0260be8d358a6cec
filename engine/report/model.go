package report

import (
	"time"

	"github.com/tendhq/tend/resources"
)

// SchemaVersion is the version of the JSON plan/report format. It changes
// only when a field changes meaning or disappears; new fields keep it.
const SchemaVersion = 1

// Mode says whether a Run only planned or also applied.
type Mode string

const (
	ModePlan  Mode = "plan"
	ModeApply Mode = "apply"
)

// Run is the outcome of one plan or apply over a set of hosts: what every
// renderer (text, JSON, Markdown) prints.
type Run struct {
	Mode     Mode
	Revision string // e.g. "main@sha1:<hex>", or "" for a local directory
	Started  time.Time
	Duration time.Duration
	Hosts    []*Host // sorted by name
	// Error is a run-level failure that stopped the run before any host
	// was contacted, e.g. a release artifact whose sha256 does not match
	// (the prepare phase); every host is then NotStarted. "" when none.
	Error string
	// Rollouts are the roles whose hosts are applied in batches, sorted by
	// role; empty when no role of the run has a rollout block.
	Rollouts []*Rollout
}

// Rollout is how the hosts of one role are (in a plan) or were (after an
// apply) applied: batch after batch, stopped when a batch has more failed
// hosts than its budget.
type Rollout struct {
	Role string
	// BatchSize is the number of hosts per batch (the last may have fewer).
	BatchSize int
	// MaxFailed is the role's max_failed: a number of hosts, or with
	// MaxFailedPercent a percentage of each batch's hosts.
	MaxFailed        int
	MaxFailedPercent bool
	// Pause is the wait between two batches.
	Pause   time.Duration
	Batches []*Batch
	// Stopped says why the rollout stopped before its last batch, e.g.
	// "stopped after batch 1: web-1 failed"; "" when it did not stop.
	Stopped string
}

// BatchStatus is what happened to one batch of a rollout.
type BatchStatus string

const (
	BatchPlanned    BatchStatus = "planned"     // plan only
	BatchOK         BatchStatus = "ok"          // every host succeeded
	BatchFailed     BatchStatus = "failed"      // some hosts failed (within the budget or not)
	BatchNotStarted BatchStatus = "not-started" // a previous batch stopped the rollout
)

// Batch is one batch of a rollout.
type Batch struct {
	// Hosts are the host names of the batch, sorted.
	Hosts []string
	// MaxFailed is the number of failed hosts this batch may have and the
	// rollout go on.
	MaxFailed int
	Status    BatchStatus
	// Started and Duration are when the batch began and how long its
	// hosts took; zero for a batch that did not start (or a plan).
	Started  time.Time
	Duration time.Duration
	// Failed are the hosts of the batch that failed, sorted.
	Failed []string
}

// Host is the outcome for one host.
type Host struct {
	Name    string
	Address string
	// Error is a host-level failure: unreachable, probe failed, apply
	// stopped. Empty when the host was reached and handled.
	Error     string
	Resources []*Resource // in graph (topological, then name) order
	// NotStarted is true for a host that was never contacted: its
	// rollout stopped before its batch, or the run failed before any host
	// was dialled (Run.Error). Error says why.
	NotStarted bool
	// Replans counts the times the host was planned again because it
	// changed between its plan and its lock (engine.Options.Replan).
	Replans int
	// Started is when the engine began with the host; zero when
	// NotStarted.
	Started time.Time
	// Rollout is the role whose rollout the host is in, and Batch its
	// batch there, counted from 1; "" and 0 for a host of no rollout.
	Rollout  string
	Batch    int
	Duration time.Duration
	// Timings of the phases, for the apply summary.
	Connect, Probe, Apply, Verify time.Duration
}

// Status is what happened to one resource.
type Status string

const (
	StatusUnchanged    Status = "unchanged"     // converged already
	StatusPlanned      Status = "planned"       // plan only: would change
	StatusApplied      Status = "applied"       // changed and verified
	StatusFailed       Status = "failed"        // apply returned an error
	StatusSkipped      Status = "skipped"       // a dependency failed
	StatusNotConverged Status = "not-converged" // applied, but the verify probe still differs
	StatusError        Status = "error"         // could not be observed or diffed
	// StatusOrphaned is a resource tend managed on the host (its manifest
	// lists it) that the spec no longer has, left in place because neither
	// --prune nor its role's prune = true asks to remove it. It is not a
	// failure; Change.Reason says why it is kept and how to prune it.
	StatusOrphaned Status = "orphaned"
)

// Resource is the outcome for one resource of a host.
type Resource struct {
	Addr   resources.Addr
	Change *resources.Change // nil or NoOp when unchanged
	Status Status
	Error  string
	// SkippedBecause names the failed dependency for StatusSkipped.
	SkippedBecause string
	// Orphaned is true for a resource that is no longer in the spec but in
	// the host's manifest: either StatusOrphaned (left alone) or pruned
	// (planned, applied, failed, ... like any other change).
	Orphaned bool
}

// Failed reports whether h or any of its resources failed. A host that was
// not started counts as failed: it did not converge.
func (h *Host) Failed() bool {
	if h.Error != "" {
		return true
	}
	for _, r := range h.Resources {
		switch r.Status {
		case StatusFailed, StatusSkipped, StatusNotConverged, StatusError:
			return true
		}
	}
	return false
}

// Counts sums the planned actions of a run.
type Counts struct {
	Hosts, Create, Update, Delete, Failed int
	// NotStarted counts the hosts never contacted (Host.NotStarted), which
	// Failed counts too.
	NotStarted int
	// Orphaned counts the resources left alone with StatusOrphaned (those
	// being pruned count as the changes they are).
	Orphaned int
}

// Count returns the counts of r.
func (r *Run) Count() Counts {
	c := Counts{Hosts: len(r.Hosts)}
	for _, h := range r.Hosts {
		if h.Failed() {
			c.Failed++
		}
		if h.NotStarted {
			c.NotStarted++
		}
		for _, res := range h.Resources {
			if res.Status == StatusOrphaned {
				c.Orphaned++
				continue
			}
			if res.Change == nil {
				continue
			}
			switch res.Change.Action {
			case resources.Create:
				c.Create++
			case resources.Update:
				c.Update++
			case resources.Delete:
				c.Delete++
			}
		}
	}
	return c
}
