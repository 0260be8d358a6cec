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
}

// Host is the outcome for one host.
type Host struct {
	Name    string
	Address string
	// Error is a host-level failure: unreachable, probe failed, apply
	// stopped. Empty when the host was reached and handled.
	Error     string
	Resources []*Resource // in graph (topological, then name) order
	Duration  time.Duration
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

// Failed reports whether h or any of its resources failed.
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
