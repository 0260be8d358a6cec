// Package store is the agent's history: every sync, drift event and the
// agent's own state, in an embedded bbolt database in the data directory.
package store

import "time"

// Trigger says what started a sync.
type Trigger string

const (
	TriggerAuto     Trigger = "auto"
	TriggerManual   Trigger = "manual"
	TriggerWebhook  Trigger = "webhook"
	TriggerSelfHeal Trigger = "self-heal"
	TriggerRollback Trigger = "rollback"
)

// Result is how a sync (or a host in it) ended.
type Result string

const (
	ResultRunning     Result = "running"
	ResultSucceeded   Result = "succeeded"
	ResultFailed      Result = "failed"
	ResultRefused     Result = "refused" // e.g. an unsigned revision
	ResultInterrupted Result = "interrupted"
)

// Sync is one entry of the history.
type Sync struct {
	ID       uint64
	Revision string // main@sha1:<hex>
	Hash     string
	Author   string
	Date     time.Time // commit date
	Message  string
	Trigger  Trigger
	By       string // who asked (token name), "" for the agent itself
	Roles    []string
	Started  time.Time
	Ended    time.Time
	Result   Result
	Reason   string // why it failed or was refused
	Hosts    []HostResult
}

// HostResult is one host's outcome in a sync.
type HostResult struct {
	Name      string
	Result    Result
	Error     string
	Resources []ResourceResult
}

// ResourceResult is one resource's outcome on one host.
type ResourceResult struct {
	Address string
	Action  string // create, update, delete, no-op
	Status  string // report.Status
	Error   string
}

// Drift is a difference found between the hosts and the applied revision.
type Drift struct {
	ID        uint64
	Time      time.Time
	Host      string
	Revision  string
	Resources []DriftedResource
	Corrected bool   // self-heal applied the fix
	SyncID    uint64 // the self-heal sync, when corrected
}

// DriftedResource is one drifted resource with a diff summary.
type DriftedResource struct {
	Address string
	Summary string // e.g. "content: sha256 1a2b -> 3c4d", "mode: 0644 -> 0600"
}
