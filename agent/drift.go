package agent

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"go.uber.org/zap"

	"github.com/tendhq/tend/agent/store"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/engine/source"
	"github.com/tendhq/tend/resources"
)

// driftStep plans every host against the revision it was applied at. A
// change is a drift: it is recorded and, when the host's self_heal is on
// and a window allows it, corrected by a self-heal sync. It works from the
// local clone (Source.At), so it goes on while the remote is unreachable.
func (a *Agent) driftStep(ctx context.Context) {
	if a.isClosing() {
		return
	}
	a.mu.Lock()
	byHash := map[string][]string{}
	for h, ap := range a.applied {
		byHash[ap.Hash] = append(byHash[ap.Hash], h)
	}
	a.mu.Unlock()
	hashes := make([]string, 0, len(byHash))
	for h := range byHash {
		hashes = append(hashes, h)
	}
	sort.Strings(hashes)
	for _, hash := range hashes {
		if err := a.driftAt(ctx, hash, byHash[hash]); err != nil {
			a.log.Warn("drift check failed", zap.String("hash", hash), zap.Error(err))
		}
	}
}

// driftAt checks the hosts applied at one revision.
func (a *Agent) driftAt(ctx context.Context, hash string, hosts []string) error {
	a.mu.Lock()
	snap := a.head
	a.mu.Unlock()
	// The head is at hand; an older revision comes from the local clone.
	if snap == nil || snap.Revision.Hash != hash {
		var err error
		if snap, err = a.src.At(ctx, hash); err != nil {
			return fmt.Errorf("read revision %s: %w", hash, err)
		}
	}
	c, err := a.compile(snap)
	if err != nil {
		return err
	}
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	if a.isClosing() {
		return nil
	}
	// A sync or rollback may have moved hosts to another revision while
	// this check waited for the lock: check only those still applied at
	// hash, or the hosts would be "healed" back to what they just left.
	a.mu.Lock()
	still := hosts[:0:0]
	for _, h := range hosts {
		if ap, ok := a.applied[h]; ok && ap.Hash == hash {
			still = append(still, h)
		}
	}
	a.mu.Unlock()
	if len(still) == 0 {
		return nil
	}
	run := a.engineRun(c.selectHosts(still), c, false)
	a.recordRun(c, run)
	allowed := Allowed(a.cfg.Windows, a.now())
	var drifts []*store.Drift
	var heal []string
	a.mu.Lock()
	// Sort the hosts into the ones to heal now and the drift to record
	// only; the drift is recorded after the heal so that it says whether
	// it was corrected.
	for _, h := range run.Hosts {
		st := a.hostStatus(h.Name, c)
		if h.Error != "" {
			setFailed(st, h.Error)
			continue
		}
		if st.Status == StatusUnreachable {
			// Reached again: the host is what the last plan says.
			st.Status, st.Error = StatusSynced, ""
			if a.head != nil && a.head.Revision.Hash != hash {
				st.Status, st.Reason = StatusOutOfSync, ReasonNewRevision
			}
		}
		d := driftOf(h, c.rev)
		if d == nil {
			delete(a.driftSeen, h.Name)
			if st.Reason == ReasonDrift {
				// The drift is gone: in sync, unless Git moved on.
				st.Status, st.Reason = StatusSynced, ""
				if a.head != nil && a.head.Revision.Hash != hash {
					st.Status, st.Reason = StatusOutOfSync, ReasonNewRevision
				}
			}
			continue
		}
		sig := driftSignature(d)
		if a.selfHeal(c.roles[h.Name]) && allowed {
			heal = append(heal, h.Name)
		} else if a.driftSeen[h.Name] == sig || st.Status == StatusFailed {
			continue // recorded already, still uncorrected
		} else {
			st.Status, st.Reason = StatusOutOfSync, ReasonDrift
		}
		a.driftSeen[h.Name] = sig
		drifts = append(drifts, d)
	}
	a.mu.Unlock()
	a.publish(Event{Type: EventStatus})
	var rec *store.Sync
	if len(heal) > 0 {
		a.log.Info("correcting drift", zap.Strings("hosts", heal), zap.Stringer("revision", c.rev))
		if rec, err = a.apply(c, heal, store.TriggerSelfHeal, "", nil); err != nil {
			a.log.Error("self-heal", zap.Error(err))
		}
	}
	for _, d := range drifts {
		if rec != nil {
			for _, hr := range rec.Hosts {
				if hr.Name == d.Host {
					d.SyncID = rec.ID
					d.Corrected = hr.Result == store.ResultSucceeded
				}
			}
		}
		a.log.Info("drift", zap.String("host", d.Host), zap.Int("resources", len(d.Resources)), zap.Bool("corrected", d.Corrected))
		if err := a.hist.AddDrift(d); err != nil {
			a.log.Error("record drift", zap.String("host", d.Host), zap.Error(err))
		}
		a.publish(Event{Type: EventDrift, Drift: copyDrift(d)})
	}
	return nil
}

// driftOf describes the changes a plan found on a host, nil when none.
func driftOf(h *report.Host, rev source.Revision) *store.Drift {
	var out []store.DriftedResource
	for _, r := range h.Resources {
		if r.Status != report.StatusPlanned || r.Change == nil || !r.Change.Changed() {
			continue
		}
		out = append(out, store.DriftedResource{Address: r.Addr.String(), Summary: summary(r.Change)})
	}
	if len(out) == 0 {
		return nil
	}
	return &store.Drift{Host: h.Name, Revision: rev.String(), Resources: out}
}

// summary is a change in words without values that could be secret:
// attribute names with before -> after (only the names when sensitive),
// "content changed" for a file's content.
func summary(c *resources.Change) string {
	switch c.Action {
	case resources.Create:
		return "missing (would be created)"
	case resources.Delete:
		return "present (would be deleted)"
	}
	var parts []string
	for _, a := range c.Attrs {
		if a.Name == "content" && c.Content != nil {
			continue
		}
		if a.Sensitive {
			parts = append(parts, a.Name+" changed")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %s -> %s", a.Name, orNone(a.Before), orNone(a.After)))
	}
	if c.Content != nil {
		parts = append(parts, "content changed")
	}
	if len(parts) == 0 && c.Reason != "" {
		parts = append(parts, c.Reason)
	}
	return strings.Join(parts, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// driftSignature identifies a drift, so that one left uncorrected is
// recorded once rather than at every check.
func driftSignature(d *store.Drift) string {
	var b strings.Builder
	b.WriteString(d.Revision)
	for _, r := range d.Resources {
		b.WriteString("|" + r.Address + "=" + r.Summary)
	}
	return b.String()
}
