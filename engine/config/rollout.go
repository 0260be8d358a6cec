package config

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Rollout is a role's rollout block: the engine applies the hosts of the
// role in batches, one batch after the other, and stops when a batch has
// more failed hosts than its budget.
//
//	rollout {
//	  batch      = 1       # or "25%" of the role's hosts in the run
//	  max_failed = 0       # or "10%" of the batch
//	  pause      = "10s"   # between batches
//	}
type Rollout struct {
	// Batch is the number of hosts per batch (>= 1); with BatchPercent it
	// is a percentage (1 to 100) of the rollout's hosts instead.
	Batch        int
	BatchPercent bool
	// MaxFailed is the number of failed hosts a batch may have and the
	// rollout go on; with MaxFailedPercent it is a percentage (0 to 100)
	// of the batch's hosts instead.
	MaxFailed        int
	MaxFailedPercent bool
	// Pause is the time waited between two batches.
	Pause time.Duration
	// DeclRange is the rollout block's header.
	DeclRange hcl.Range
}

// BatchSize returns the number of hosts per batch for a rollout over n
// hosts: Batch, or Batch percent of n rounded up; never less than 1.
func (r *Rollout) BatchSize(n int) int {
	size := r.Batch
	if r.BatchPercent {
		size = (n*r.Batch + 99) / 100
	}
	return max(size, 1)
}

// Budget returns the number of failed hosts a batch of n hosts may have
// and the rollout go on: MaxFailed, or MaxFailed percent of n rounded down
// (a batch stops the rollout when its failed share exceeds the percentage).
func (r *Rollout) Budget(n int) int {
	if r.MaxFailedPercent {
		return n * r.MaxFailed / 100
	}
	return r.MaxFailed
}

// Batches cuts hosts (already in rollout order) into batches of
// BatchSize(len(hosts)).
func (r *Rollout) Batches(hosts []string) [][]string {
	size := r.BatchSize(len(hosts))
	var out [][]string
	for len(hosts) > 0 {
		k := min(size, len(hosts))
		out = append(out, hosts[:k:k])
		hosts = hosts[k:]
	}
	return out
}

// MaxFailedText returns max_failed as written: "0", "2" or "25%".
func (r *Rollout) MaxFailedText() string {
	if r.MaxFailedPercent {
		return strconv.Itoa(r.MaxFailed) + "%"
	}
	return strconv.Itoa(r.MaxFailed)
}

// rolloutSchema is the content of a rollout block.
var rolloutSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "batch"}, {Name: "max_failed"}, {Name: "pause"}},
}

// decodeRollout decodes a role's rollout block. Its values must be
// constants, as the role's hosts are: the batches are cut before any host
// is contacted. A second rollout block in one role is an error.
func (r *Role) decodeRollout(b *hcl.Block) hcl.Diagnostics {
	if r.Rollout != nil {
		return hcl.Diagnostics{errorAt(b.DefRange, "Duplicate rollout block",
			"Role %q already has a rollout block at %s. A role has at most one rollout block.", r.Name, pos(r.Rollout.DeclRange))}
	}
	content, diags := b.Body.Content(rolloutSchema)
	ro := &Rollout{Batch: 1, DeclRange: b.DefRange}
	if a, ok := content.Attributes["batch"]; ok {
		n, pct, ok := countOrPercent(a, &diags)
		switch {
		case !ok:
		case pct && (n < 1 || n > 100):
			diags = append(diags, errorAt(a.Expr.Range(), "Invalid batch",
				"A rollout's batch percentage must be between 1%% and 100%%, not %d%%.", n))
		case !pct && n < 1:
			diags = append(diags, errorAt(a.Expr.Range(), "Invalid batch",
				"A rollout's batch must be at least 1 host, not %d.", n))
		default:
			ro.Batch, ro.BatchPercent = n, pct
		}
	}
	if a, ok := content.Attributes["max_failed"]; ok {
		n, pct, ok := countOrPercent(a, &diags)
		switch {
		case !ok:
		case pct && (n < 0 || n > 100):
			diags = append(diags, errorAt(a.Expr.Range(), "Invalid max_failed",
				"A rollout's max_failed percentage must be between 0%% and 100%%, not %d%%.", n))
		case !pct && n < 0:
			diags = append(diags, errorAt(a.Expr.Range(), "Invalid max_failed",
				"A rollout's max_failed must not be negative (%d).", n))
		default:
			ro.MaxFailed, ro.MaxFailedPercent = n, pct
		}
	}
	if a, ok := content.Attributes["pause"]; ok {
		if s, ok := constString(a, &diags); ok {
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 {
				diags = append(diags, errorAt(a.Expr.Range(), "Invalid pause",
					"The pause of a rollout must be a duration such as \"10s\", \"2m\" or \"0s\", not %q.", s))
			} else {
				ro.Pause = d
			}
		}
	}
	r.Rollout = ro
	return diags
}

// countOrPercent reads a constant whole number, or a string "N" or "N%".
// It returns the number and whether it was a percentage; ok is false (with
// a diagnostic at the value) when the value is neither.
func countOrPercent(a *hcl.Attribute, diags *hcl.Diagnostics) (n int, pct, ok bool) {
	val, ds := a.Expr.Value(nil)
	*diags = append(*diags, ds...)
	if ds.HasErrors() {
		return 0, false, false
	}
	bad := func() (int, bool, bool) {
		*diags = append(*diags, errorAt(a.Expr.Range(), "Invalid "+a.Name,
			"The %s of a rollout must be a whole number, such as 2, or a percentage string, such as \"25%%\".", a.Name))
		return 0, false, false
	}
	switch {
	case val.IsNull() || !val.IsKnown():
		return bad()
	case val.Type() == cty.Number:
		bf := val.AsBigFloat()
		if !bf.IsInt() {
			return bad()
		}
		i, acc := bf.Int64()
		if acc != big.Exact || i > 1<<31 || i < -(1<<31) {
			return bad()
		}
		return int(i), false, true
	case val.Type() == cty.String:
		s := strings.TrimSpace(val.AsString())
		pct = strings.HasSuffix(s, "%")
		i, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(s, "%")))
		if err != nil {
			return bad()
		}
		return i, pct, true
	}
	return bad()
}

// String returns the rollout as its block would write it, for logs.
func (r *Rollout) String() string {
	batch := strconv.Itoa(r.Batch)
	if r.BatchPercent {
		batch += "%"
	}
	return fmt.Sprintf("batch %s, max_failed %s, pause %s", batch, r.MaxFailedText(), r.Pause)
}
