package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/tendhq/tend/resources"
)

// The JSON format is documented in SCHEMA.md; keep the two in step. Adding a
// field keeps SchemaVersion; changing the meaning of one or removing one
// bumps it.

// JSONReport is the top-level object of the JSON format.
type JSONReport struct {
	// FormatVersion is SchemaVersion as a string, e.g. "1".
	FormatVersion string `json:"format_version"`
	// Mode is "plan" or "apply".
	Mode string `json:"mode"`
	// Revision is the Git revision planned, e.g. "main@sha1:<hex>", or "".
	Revision string `json:"revision"`
	// Started is the start of the run in RFC 3339.
	Started string `json:"started"`
	// DurationMS is the wall time of the run in milliseconds.
	DurationMS int64 `json:"duration_ms"`
	// Summary sums the planned actions of every host.
	Summary JSONSummary `json:"summary"`
	// Hosts lists every host of the run, converged ones included.
	Hosts []JSONHost `json:"hosts"`
	// Error is a run-level failure that stopped the run before any host
	// was contacted (the prepare phase), or "".
	Error string `json:"error"`
	// Rollouts lists the roles whose hosts are applied in batches.
	Rollouts []JSONRollout `json:"rollouts"`
}

// JSONRollout is one role's rollout.
type JSONRollout struct {
	Role      string `json:"role"`
	BatchSize int    `json:"batch_size"`
	// MaxFailed is a number of hosts, or with MaxFailedPercent a
	// percentage of each batch.
	MaxFailed        int         `json:"max_failed"`
	MaxFailedPercent bool        `json:"max_failed_percent"`
	PauseMS          int64       `json:"pause_ms"`
	Batches          []JSONBatch `json:"batches"`
	// Stopped says why the rollout stopped before its last batch, or "".
	Stopped string `json:"stopped"`
}

// JSONBatch is one batch of a rollout.
type JSONBatch struct {
	Hosts []string `json:"hosts"`
	// MaxFailed is this batch's budget of failed hosts.
	MaxFailed int `json:"max_failed"`
	// Status is "planned", "ok", "failed" or "not-started".
	Status string `json:"status"`
	// Started is when the batch began (RFC 3339 with fractions of a
	// second), or null when it did not start.
	Started    *string  `json:"started"`
	DurationMS int64    `json:"duration_ms"`
	Failed     []string `json:"failed"`
}

// JSONSummary holds the counts of a run, as in the text "Plan:" line.
type JSONSummary struct {
	Hosts  int `json:"hosts"`
	Create int `json:"create"`
	Update int `json:"update"`
	Delete int `json:"delete"`
	// Failed counts hosts with a host error or a failed resource.
	Failed int `json:"failed"`
	// Orphaned counts the resources with status "orphaned": no longer in
	// the spec and left on the hosts.
	Orphaned int `json:"orphaned"`
	// NotStarted counts the hosts never contacted, which Failed counts too.
	NotStarted int `json:"not_started"`
}

// JSONHost is the outcome for one host.
type JSONHost struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	// Error is the host-level failure (unreachable, probe failed), or "".
	Error string `json:"error"`
	// Failed is true when Error is set or any resource failed.
	Failed     bool           `json:"failed"`
	DurationMS int64          `json:"duration_ms"`
	Resources  []JSONResource `json:"resources"`
	// NotStarted is true for a host never contacted; Error says why.
	NotStarted bool `json:"not_started"`
	// Started is when the engine began with the host (RFC 3339 with
	// fractions of a second), or null when it did not start.
	Started *string `json:"started"`
	// Rollout is the role whose rollout the host is in and Batch its batch
	// (from 1); "" and 0 for a host of no rollout.
	Rollout string `json:"rollout"`
	Batch   int    `json:"batch"`
	// Replans counts the times the host was planned again because it
	// changed between its plan and its lock (the agent does; tend apply
	// fails instead).
	Replans int `json:"replans"`
}

// JSONResource is the outcome for one resource, unchanged ones included.
type JSONResource struct {
	// Address is the printed address, e.g. "file[/etc/motd]".
	Address string `json:"address"`
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	// Action is "create", "update", "delete" or "no-op".
	Action string `json:"action"`
	// Status is one of the Status values, e.g. "planned", "applied".
	Status         string `json:"status"`
	Error          string `json:"error"`
	SkippedBecause string `json:"skipped_because"`
	// Orphaned is true for a resource no longer in the spec that the
	// host's manifest lists: status "orphaned" when left alone, or a
	// pruning change ("delete", or "update" for a service stopped).
	Orphaned bool `json:"orphaned"`
	// Reason says why, when it is not an attribute difference: an exec's
	// guard, a notification ("notified by file[conf]"); "" otherwise.
	Reason string `json:"reason"`
	// Attributes lists the attributes that change; empty for a no-op.
	Attributes []JSONAttribute `json:"attributes"`
	// Content is set when a file's content changes.
	Content *JSONContent `json:"content"`
	// Headline is what the change is about in a few words, e.g.
	// "v1.2.0 -> v1.3.0" for a release; "" for most changes.
	Headline string `json:"headline"`
	// Steps are what Apply runs for the change, in order, when that is
	// more than setting the attributes; empty for most changes.
	Steps []string `json:"steps"`
}

// JSONAttribute is one attribute's change. Before is null for a create,
// After null for a delete, and both are null when Sensitive.
type JSONAttribute struct {
	Name      string  `json:"name"`
	Before    *string `json:"before"`
	After     *string `json:"after"`
	Sensitive bool    `json:"sensitive"`
}

// JSONContent is a file's content change. When Sensitive, every field but
// Path and Sensitive is null or false.
type JSONContent struct {
	Path string `json:"path"`
	// BeforeSize is null when the file does not exist (or Sensitive).
	BeforeSize *int64 `json:"before_size"`
	// AfterSize is null when the file is deleted (or Sensitive).
	AfterSize    *int64  `json:"after_size"`
	BeforeSHA256 *string `json:"before_sha256"`
	AfterSHA256  *string `json:"after_sha256"`
	Sensitive    bool    `json:"sensitive"`
	Binary       bool    `json:"binary"`
	// Diff is the complete unified diff, or null when it cannot be shown:
	// sensitive, binary, or the host's content was not fetched.
	Diff *string `json:"diff"`
}

// NewJSONReport converts r to the JSON format's types, for callers that
// embed a report in a larger document (the agent's API).
func NewJSONReport(r *Run) *JSONReport {
	c := r.Count()
	out := &JSONReport{
		FormatVersion: strconv.Itoa(SchemaVersion),
		Mode:          string(r.Mode),
		Revision:      r.Revision,
		Started:       r.Started.Format(time.RFC3339),
		DurationMS:    r.Duration.Milliseconds(),
		Summary: JSONSummary{
			Hosts: c.Hosts, Create: c.Create, Update: c.Update, Delete: c.Delete, Failed: c.Failed,
			Orphaned: c.Orphaned, NotStarted: c.NotStarted,
		},
		Hosts:    []JSONHost{},
		Error:    r.Error,
		Rollouts: []JSONRollout{},
	}
	for _, h := range r.Hosts {
		jh := JSONHost{
			Name:       h.Name,
			Address:    h.Address,
			Error:      h.Error,
			Failed:     h.Failed(),
			DurationMS: h.Duration.Milliseconds(),
			Resources:  []JSONResource{},
			NotStarted: h.NotStarted,
			Started:    jsonTime(h.Started),
			Rollout:    h.Rollout,
			Batch:      h.Batch,
			Replans:    h.Replans,
		}
		for _, res := range h.Resources {
			jh.Resources = append(jh.Resources, jsonResource(h, res))
		}
		out.Hosts = append(out.Hosts, jh)
	}
	for _, ro := range r.Rollouts {
		jr := JSONRollout{
			Role: ro.Role, BatchSize: ro.BatchSize, MaxFailed: ro.MaxFailed, MaxFailedPercent: ro.MaxFailedPercent,
			PauseMS: ro.Pause.Milliseconds(), Batches: []JSONBatch{}, Stopped: ro.Stopped,
		}
		for _, b := range ro.Batches {
			jr.Batches = append(jr.Batches, JSONBatch{
				Hosts: append([]string{}, b.Hosts...), MaxFailed: b.MaxFailed, Status: string(b.Status),
				Started: jsonTime(b.Started), DurationMS: b.Duration.Milliseconds(), Failed: append([]string{}, b.Failed...),
			})
		}
		out.Rollouts = append(out.Rollouts, jr)
	}
	return out
}

// jsonTime returns t in RFC 3339 with fractions of a second, or nil for
// the zero time.
func jsonTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	return ptr(t.Format(time.RFC3339Nano))
}

// jsonResource converts one resource of h.
func jsonResource(h *Host, res *Resource) JSONResource {
	jr := JSONResource{
		Address:        res.Addr.String(),
		Kind:           res.Addr.Kind,
		Name:           res.Addr.Name,
		Action:         resources.NoOp.String(),
		Status:         string(res.Status),
		Error:          res.Error,
		SkippedBecause: res.SkippedBecause,
		Orphaned:       res.Orphaned,
		Reason:         reasonOf(res),
		Attributes:     []JSONAttribute{},
		Steps:          []string{},
	}
	c := res.Change
	if c == nil {
		return jr
	}
	jr.Action = c.Action.String()
	jr.Headline = c.Headline
	jr.Steps = append(jr.Steps, c.Steps...)
	for _, a := range c.Attrs {
		ja := JSONAttribute{Name: a.Name, Sensitive: a.Sensitive}
		if !a.Sensitive {
			if c.Action != resources.Create {
				ja.Before = ptr(a.Before)
			}
			if c.Action != resources.Delete {
				ja.After = ptr(a.After)
			}
		}
		jr.Attributes = append(jr.Attributes, ja)
	}
	if c.Content != nil {
		jr.Content = jsonContent(h, c.Action, c.Content)
	}
	return jr
}

// jsonContent converts a content change, leaving out everything but the
// path when it is sensitive.
func jsonContent(h *Host, act resources.Action, cc *resources.ContentChange) *JSONContent {
	jc := &JSONContent{Path: cc.Path, Sensitive: cc.Sensitive}
	if cc.Sensitive {
		return jc
	}
	jc.Binary = binaryContent(cc)
	if cc.BeforeSize >= 0 {
		jc.BeforeSize = ptr(cc.BeforeSize)
	}
	if cc.AfterSize >= 0 && act != resources.Delete {
		jc.AfterSize = ptr(cc.AfterSize)
	}
	if cc.BeforeHash != "" {
		jc.BeforeSHA256 = ptr(cc.BeforeHash)
	}
	if cc.AfterHash != "" {
		jc.AfterSHA256 = ptr(cc.AfterHash)
	}
	if v := viewContent(h.Name, act, cc); v.diff != "" {
		jc.Diff = ptr(v.diff)
	}
	return jc
}

// ptr returns a pointer to a copy of v.
func ptr[T any](v T) *T { return &v }

// JSON writes r in the versioned JSON format described in SCHEMA.md,
// indented, followed by a newline.
func JSON(w io.Writer, r *Run) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // diffs hold "<" and "&"; keep them readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(NewJSONReport(r)); err != nil {
		return fmt.Errorf("encode json report: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}

func reasonOf(res *Resource) string {
	if res.Change == nil {
		return ""
	}
	return res.Change.Reason
}
