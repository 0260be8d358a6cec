package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tendhq/tend/resources"
)

// schemaExample is the run whose JSON SCHEMA.md shows as its example.
func schemaExample() *Run {
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	before, after := "port = 5000\ndebug = true\nworkers = 4\n", "port = 5000\ndebug = false\nworkers = 4\n"
	cfg := withContent(res("file", "/etc/devops-map/config.toml", resources.Update, StatusPlanned,
		attr("mode", "0644", "0640")), textContent("/etc/devops-map/config.toml", before, after))
	cfg.Change.Content.BeforeHash, cfg.Change.Content.AfterHash = sum(before), sum(after)
	token := withContent(res("file", "/etc/devops-map/token", resources.Update, StatusPlanned),
		&resources.ContentChange{Path: "/etc/devops-map/token", BeforeSize: 41, AfterSize: 41,
			BeforeHash: sum("a"), AfterHash: sum("b"), Sensitive: true})
	return &Run{
		Mode:     ModePlan,
		Revision: "main@sha1:4f2a9c0d1e2b3a4c5d6e7f8091a2b3c4d5e6f708",
		Started:  started,
		Duration: 2310 * time.Millisecond,
		Hosts: []*Host{
			{Name: "db1", Address: "10.0.0.21", Duration: 2 * time.Second,
				Error: "unreachable: connect db1 (10.0.0.21:22): dial tcp 10.0.0.21:22: i/o timeout"},
			{Name: "web1", Address: "10.0.0.11", Duration: 1200 * time.Millisecond, Resources: []*Resource{
				cfg, token, res("file", "/etc/motd", resources.NoOp, StatusUnchanged),
			}},
		},
	}
}

// TestSchemaExample checks that the example in SCHEMA.md is exactly what
// JSON prints for schemaExample, so the documentation cannot drift from the
// code (-update rewrites it), and that SCHEMA.md names every field of the format.
func TestSchemaExample(t *testing.T) {
	doc, err := os.ReadFile("SCHEMA.md")
	if err != nil {
		t.Fatal(err)
	}
	head, rest, ok := strings.Cut(string(doc), "```json\n")
	example, tail, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 {
		t.Fatal("SCHEMA.md has no ```json example block")
	}
	var buf bytes.Buffer
	if err := JSON(&buf, schemaExample()); err != nil {
		t.Fatal(err)
	}
	if *update {
		example = buf.String()
		doc = []byte(head + "```json\n" + example + "```\n" + tail)
		if err := os.WriteFile("SCHEMA.md", doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(example, buf.String()); diff != "" {
		t.Errorf("SCHEMA.md example differs from JSON output (-doc +got):\n%s", diff)
	}
	for _, field := range []string{
		"format_version", "mode", "revision", "started", "duration_ms", "summary", "hosts",
		"create", "update", "delete", "failed", "name", "address", "error", "resources", "kind",
		"action", "status", "skipped_because", "attributes", "before", "after", "sensitive",
		"content", "path", "before_size", "after_size", "before_sha256", "after_sha256", "binary", "diff",
		"not_started", "rollout", "batch", "rollouts", "role", "batch_size", "max_failed",
		"max_failed_percent", "pause_ms", "batches", "stopped", "headline", "steps",
	} {
		if !strings.Contains(string(doc), "`"+field+"`") {
			t.Errorf("SCHEMA.md does not document field %q", field)
		}
	}
}
