package engine_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/engine"
	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/internal/golden"
	"github.com/tendhq/tend/inventory"
)

// prepare makes the state the golden plan starts from: something to create,
// update, delete and keep for every kind.
func prepare(t *testing.T, root string) {
	t.Helper()
	for p, c := range map[string]string{
		"changed.conf": "# managed by tend\nname    = \"golden\"\nworkers = 4\ndebug   = true\n",
		"mode-only":    "same\n",
		"secret":       "old secret\n",
		"removed":      "bye\n",
		"unchanged":    "steady\n",
		"old/inside":   "x\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "old"), filepath.Join(root, "current")); err != nil {
		t.Fatal(err)
	}
}

// TestGoldenPlan plans testdata/plans/spec against a prepared directory on
// this machine, through the real probe and the local transport, and compares
// every output format with testdata/plans/*.golden (go test -update rewrites
// them). Then it applies, and a second plan must be empty.
func TestGoldenPlan(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	prepare(t, root)
	cfg, diags := config.Load(os.DirFS("testdata/plans/spec"), ".")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	h := &inventory.Host{Name: "golden", Address: "localhost",
		Vars: cty.ObjectVal(map[string]cty.Value{"root": cty.StringVal(root)})}
	graphs, diags := engine.Compile(cfg, []*inventory.Host{h}, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	run := engine.Run(context.Background(), graphs, engine.Options{Dial: localDial(t), StateDir: t.TempDir()})
	// Fixed times, and the temporary root as a placeholder.
	run.Started = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	run.Duration = 1500 * time.Millisecond
	for _, h := range run.Hosts {
		h.Duration, h.Connect, h.Probe, h.Apply, h.Verify = time.Second, 0, 0, 0, 0
		h.Started = run.Started
	}
	for name, render := range map[string]func(*bytes.Buffer) error{
		"plan.txt":  func(b *bytes.Buffer) error { return report.Text(b, run, report.Options{}) },
		"plan.json": func(b *bytes.Buffer) error { return report.JSON(b, run) },
		"plan.md":   func(b *bytes.Buffer) error { return report.Markdown(b, run) },
	} {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			t.Fatal(err)
		}
		out := strings.ReplaceAll(b.String(), root, "$ROOT")
		golden.Check(t, filepath.Join("testdata/plans", name+".golden"), []byte(out))
	}
	if run.Hosts[0].Error != "" {
		t.Fatalf("host error: %s", run.Hosts[0].Error)
	}

	// Apply what the plan said, then nothing is left to do.
	run = engine.Run(context.Background(), graphs, engine.Options{Apply: true, Dial: localDial(t), StateDir: t.TempDir()})
	if h := run.Hosts[0]; h.Failed() {
		var b bytes.Buffer
		_ = report.Text(&b, run, report.Options{})
		t.Fatalf("apply failed:\n%s", b.String())
	}
	run = engine.Run(context.Background(), graphs, engine.Options{Dial: localDial(t), StateDir: t.TempDir()})
	if c := run.Count(); c.Create+c.Update+c.Delete != 0 {
		var b bytes.Buffer
		_ = report.Text(&b, run, report.Options{})
		t.Fatalf("plan after apply is not empty:\n%s", b.String())
	}
}
