package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/agent/store"
	"github.com/tendhq/tend/inventory"
)

// TestAgentManual: a new revision makes the host OutOfSync; a manual sync
// converges it and is recorded with the commit; the next commit makes it
// OutOfSync again; a rollback applies the old revision and pauses the role.
func TestAgentManual(t *testing.T) {
	f := newFixture(t, nil)
	first := git(t, f.work, "rev-parse", "HEAD")
	f.start()
	eventually(t, "OutOfSync (new revision)", func() bool {
		h := f.host()
		return h.Status == StatusOutOfSync && h.Reason == ReasonNewRevision && strings.Contains(h.Target, first)
	})
	if _, err := os.Stat(filepath.Join(f.root, "a")); err == nil {
		t.Fatal("manual policy applied a revision on its own")
	}
	rec, err := f.a.Sync(context.Background(), SyncRequest{By: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Result != store.ResultSucceeded || rec.Trigger != store.TriggerManual || rec.By != "ops" || f.content() != "v1\n" {
		t.Fatalf("sync: %+v, content %q", rec, f.content())
	}
	if h := f.host(); h.Status != StatusSynced || !strings.Contains(h.Applied, first) || h.LastSync.IsZero() {
		t.Fatalf("after sync: %+v", h)
	}
	syncs, err := f.hist.Syncs(10)
	if err != nil || len(syncs) != 1 {
		t.Fatalf("history: %v %+v", err, syncs)
	}
	if s := syncs[0]; s.Hash != first || s.Author != "Alice <alice@example.com>" || s.Message != "first" ||
		len(s.Hosts) != 1 || s.Hosts[0].Resources[0].Address != "file[a]" || s.Hosts[0].Resources[0].Action != "create" {
		t.Fatalf("history entry: %+v", s)
	}

	second := f.commit("specs/main.hcl", specFile("v2\n"), "second")
	eventually(t, "OutOfSync at the second commit", func() bool {
		h := f.host()
		return h.Status == StatusOutOfSync && h.Reason == ReasonNewRevision && strings.Contains(h.Target, second)
	})
	if f.content() != "v1\n" {
		t.Fatalf("manual policy applied the second commit: %q", f.content())
	}
	if _, err := f.a.Sync(context.Background(), SyncRequest{Roles: []string{"web"}}); err != nil || f.content() != "v2\n" {
		t.Fatalf("second sync: %v, content %q", err, f.content())
	}
	if _, err := f.a.Sync(context.Background(), SyncRequest{Hosts: []string{"nope"}}); err == nil {
		t.Fatal("a sync of an unknown host succeeded")
	}

	rb, err := f.a.Rollback(context.Background(), rec.ID, "ops")
	if err != nil || rb.Result != store.ResultSucceeded || rb.Trigger != store.TriggerRollback || rb.Hash != first {
		t.Fatalf("rollback: %v %+v", err, rb)
	}
	if f.content() != "v1\n" {
		t.Fatalf("rollback left %q", f.content())
	}
	st := f.a.Status()
	if h := f.host(); h.Status != StatusOutOfSync || h.Reason != ReasonRollback || !strings.Contains(h.Target, second) {
		t.Fatalf("after rollback: %+v", h)
	}
	if len(st.Paused) != 1 || st.Paused[0] != "web" {
		t.Fatalf("rollback did not pause role web: %v", st.Paused)
	}
	var paused []string
	if ok, err := f.hist.GetState(statePaused, &paused); !ok || err != nil || len(paused) != 1 {
		t.Fatalf("paused state not stored: %v %v %v", ok, err, paused)
	}
}

// TestAgentAuto: with the auto policy on the role, every new commit is
// applied without a request and recorded as an auto sync.
func TestAgentAuto(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Roles["web"] = RoleConfig{Policy: PolicyAuto} })
	f.start()
	eventually(t, "v1 applied", func() bool { return f.content() == "v1\n" && f.host().Status == StatusSynced })
	second := f.commit("specs/main.hcl", specFile("v2\n"), "second")
	eventually(t, "v2 applied", func() bool { return f.content() == "v2\n" && strings.Contains(f.host().Applied, second) })
	// The sync's record is completed after the host's status: wait for it
	// (under load it can trail by a moment), then check it.
	var syncs []*store.Sync
	eventually(t, "the auto sync of v2 recorded", func() bool {
		syncs, _ = f.hist.Syncs(10)
		return len(syncs) == 2 && syncs[0].Result != store.ResultRunning
	})
	if s := syncs[0]; s.Trigger != store.TriggerAuto || s.Hash != second || s.Result != store.ResultSucceeded {
		t.Fatalf("history: %+v", *s)
	}
	// Paused: the next commit waits.
	if err := f.a.Pause("web"); err != nil {
		t.Fatal(err)
	}
	third := f.commit("specs/main.hcl", specFile("v3\n"), "third")
	eventually(t, "OutOfSync while paused", func() bool { return strings.Contains(f.host().Target, third) && f.host().Status == StatusOutOfSync })
	if f.content() != "v2\n" {
		t.Fatalf("a paused role was synced: %q", f.content())
	}
	if err := f.a.Resume("web"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "v3 applied after resume", func() bool { return f.content() == "v3\n" })
}

// TestAgentSelfHeal: a changed file is drift, recorded with a summary and
// corrected by a self-heal sync.
func TestAgentSelfHeal(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Policy, c.SelfHeal = PolicyAuto, true
		c.DriftInterval = 150 * c.PollInterval / 100
	})
	f.start()
	eventually(t, "v1 applied", func() bool { return f.content() == "v1\n" && f.host().Status == StatusSynced })
	if err := os.WriteFile(filepath.Join(f.root, "a"), []byte("tampered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "drift corrected", func() bool { return f.content() == "v1\n" })
	var drifts []*store.Drift
	eventually(t, "drift recorded", func() bool {
		drifts, _ = f.hist.Drifts(10)
		return len(drifts) > 0
	})
	d := drifts[0]
	if d.Host != "h1" || !d.Corrected || d.SyncID == 0 || len(d.Resources) != 1 || d.Resources[0].Address != "file[a]" || !strings.Contains(d.Resources[0].Summary, "content changed") {
		t.Fatalf("drift: %+v", d)
	}
	if s, err := f.hist.Sync(d.SyncID); err != nil || s.Trigger != store.TriggerSelfHeal {
		t.Fatalf("self-heal sync: %v %+v", err, s)
	}
}

// TestAgentDriftNoHeal: without self_heal, drift is recorded once and the
// host is OutOfSync (drift).
func TestAgentDriftNoHeal(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Policy = PolicyAuto
		c.DriftInterval = c.PollInterval
	})
	f.start()
	eventually(t, "v1 applied", func() bool { return f.content() == "v1\n" && f.host().Status == StatusSynced })
	if err := os.Chmod(filepath.Join(f.root, "a"), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "OutOfSync (drift)", func() bool { h := f.host(); return h.Status == StatusOutOfSync && h.Reason == ReasonDrift })
	var drifts []*store.Drift
	eventually(t, "drift recorded", func() bool { drifts, _ = f.hist.Drifts(10); return len(drifts) > 0 })
	time.Sleep(300 * time.Millisecond) // more checks: still recorded once
	drifts, _ = f.hist.Drifts(10)
	if len(drifts) != 1 || drifts[0].Corrected || !strings.Contains(drifts[0].Resources[0].Summary, "mode") {
		t.Fatalf("drifts: %+v", drifts)
	}
	if st, _ := os.Stat(filepath.Join(f.root, "a")); st.Mode().Perm() != 0o600 {
		t.Fatalf("drift corrected without self_heal: %v", st.Mode())
	}
}

// TestAgentSourceUnreachable: a source that cannot be fetched is shown
// with the time it went away, drift is still corrected from the last
// snapshot, and recovery clears the error.
func TestAgentSourceUnreachable(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Policy, c.SelfHeal = PolicyAuto, true
		c.DriftInterval = c.PollInterval
	})
	f.start()
	eventually(t, "v1 applied", func() bool { return f.content() == "v1\n" && f.host().Status == StatusSynced })
	moved := f.bare + ".away"
	if err := os.Rename(f.bare, moved); err != nil {
		t.Fatal(err)
	}
	eventually(t, "source error", func() bool { return strings.HasPrefix(f.a.Status().SourceError, "source unreachable since ") })
	if err := os.WriteFile(filepath.Join(f.root, "a"), []byte("tampered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "drift corrected while unreachable", func() bool { return f.content() == "v1\n" })
	if err := os.Rename(moved, f.bare); err != nil {
		t.Fatal(err)
	}
	eventually(t, "source error cleared", func() bool { return f.a.Status().SourceError == "" })
}

// TestAgentSpecError: a commit whose specs do not compile is refused once,
// with positions, and the next good commit is applied.
func TestAgentSpecError(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Policy = PolicyAuto })
	f.start()
	eventually(t, "v1 applied", func() bool { return f.content() == "v1\n" && f.host().Status == StatusSynced })
	f.commit("specs/main.hcl", "role \"web\" {\n  hosts = [\"*\"]\n  file \"a\" {\n    pth = 1\n  }\n}\n", "broken")
	eventually(t, "spec error", func() bool { return strings.Contains(f.a.Status().SpecError, "main.hcl:4") })
	f.commit("specs/main.hcl", specFile("v4\n"), "fixed")
	eventually(t, "fixed commit applied", func() bool { return f.content() == "v4\n" })
	syncs, _ := f.hist.Syncs(10)
	refused := 0
	for _, s := range syncs {
		if s.Result == store.ResultRefused {
			refused++
		}
	}
	if refused != 1 {
		t.Fatalf("refused syncs: %d in %+v", refused, syncs)
	}
}

// TestAgentShutdown: cancelling Run while a sync is applying lets that
// sync finish and be recorded; no sync starts afterwards.
func TestAgentShutdown(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Policy = PolicyAuto })
	dialing := make(chan struct{}, 1)
	f.a.dial = func(ctx context.Context, h *inventory.Host) (inventory.Transport, error) {
		select {
		case dialing <- struct{}{}:
		default:
		}
		time.Sleep(300 * time.Millisecond)
		return localDial(ctx, h)
	}
	f.start()
	<-dialing // the plan
	<-dialing // the apply
	f.stop()
	syncs, err := f.hist.Syncs(10)
	if err != nil || len(syncs) != 1 || syncs[0].Result != store.ResultSucceeded || syncs[0].Ended.IsZero() || f.content() != "v1\n" {
		t.Fatalf("the sync in flight did not finish: %v %+v %q", err, syncs, f.content())
	}
	if _, err := f.a.Sync(context.Background(), SyncRequest{}); !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("a sync after shutdown: %v", err)
	}
}
