package engine_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tendhq/tend/engine"
)

// TestManifestHashesAfterUpdate applies a spec, applies it again (the
// manifest, which lists the spec as it is, is left byte for byte as it
// was), then applies it with a file's content changed: the manifest,
// still listing the same resources, records the new hash of that file and
// keeps the other's.
func TestManifestHashesAfterUpdate(t *testing.T) {
	h := newPruneHost(t)
	run, _ := h.run(specAll, engine.Options{Apply: true})
	mustSucceed(t, "first apply", run)
	file := filepath.Join(h.state, "manifest.local")
	first, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	run, _ = h.run(specAll, engine.Options{Apply: true})
	mustSucceed(t, "second apply", run)
	if again, err := os.ReadFile(file); err != nil || string(again) != string(first) {
		t.Fatalf("a no-op apply changed the manifest (%v):\n%s\nwas\n%s", err, again, first)
	}
	_, before := h.manifest()

	run, _ = h.run(strings.Replace(specAll, `content = "v1\n"`, `content = "v2\n"`, 1), engine.Options{Apply: true})
	mustSucceed(t, "apply of v2", run)
	if r := byAddr(run)["file[conf]"]; r == nil || r.Change == nil || !r.Change.Changed() {
		t.Fatalf("file[conf] was not updated:\n%s", text(t, run))
	}
	addrs, after := h.manifest()
	sum := sha256.Sum256([]byte("v2\n"))
	if want := hex.EncodeToString(sum[:]); after["file[conf]"] != want {
		t.Errorf("manifest hash of file[conf] = %q, want %q (v2)", after["file[conf]"], want)
	}
	if after["file[keep]"] == "" || after["file[keep]"] != before["file[keep]"] {
		t.Errorf("manifest hash of file[keep] = %q, was %q", after["file[keep]"], before["file[keep]"])
	}
	if strings.Join(addrs, " ") != "directory[app] file[conf] file[keep] symlink[current]" {
		t.Errorf("manifest lists %v", addrs)
	}
}

// TestManifestProbedByHash checks the probe's question about the manifest:
// a converged host answers with "same" (the manifest the spec expects, by
// hash) instead of its content, and the plan is empty; a file that drifted
// is still planned (the manifest records what tend wrote, not what is
// there). A manifest that differs only in a hash is sent whole and still
// matches, and a spec without a resource makes it an orphan.
func TestManifestProbedByHash(t *testing.T) {
	h := newPruneHost(t)
	run, _ := h.run(specAll, engine.Options{Apply: true})
	mustSucceed(t, "apply", run)
	manifest := filepath.Join(h.state, "manifest.local")
	sameRecord := regexp.MustCompile(`(?m)^R [0-9]+ same$`)

	run, execs := h.run(specAll, engine.Options{})
	if c := run.Count(); c.Create+c.Update+c.Delete+c.Failed+c.Orphaned != 0 || execs != 1 {
		t.Fatalf("plan of a converged host: %+v in %d executions:\n%s", c, execs, text(t, run))
	}
	if !sameRecord.MatchString(h.probeReply) || strings.Contains(h.probeReply, " content ") {
		t.Errorf("the probe of a converged host did not answer the manifest with its hash:\n%s", h.probeReply)
	}

	if err := os.WriteFile(h.path("app/conf"), []byte("drift\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run, _ = h.run(specAll, engine.Options{})
	if r := byAddr(run)["file[conf]"]; r == nil || r.Change == nil || r.Change.Content == nil {
		t.Fatalf("the drifted file is not planned:\n%s", text(t, run))
	}
	if !sameRecord.MatchString(h.probeReply) {
		t.Errorf("a drifted file changed the manifest's answer:\n%s", h.probeReply)
	}
	run, _ = h.run(specAll, engine.Options{Apply: true})
	mustSucceed(t, "repair", run)

	// Another hash for file[keep]: the host sends the manifest, which
	// matches the spec but for its hashes.
	raw, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	_, sums := h.manifest()
	other := strings.Replace(string(raw), sums["file[keep]"], strings.Repeat("ab", 32), 1)
	if err := os.WriteFile(manifest, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	run, _ = h.run(specAll, engine.Options{})
	if c := run.Count(); c.Create+c.Update+c.Delete+c.Failed+c.Orphaned != 0 {
		t.Fatalf("plan with another recorded hash: %+v:\n%s", c, text(t, run))
	}
	if sameRecord.MatchString(h.probeReply) || !strings.Contains(h.probeReply, " content ") {
		t.Errorf("a manifest with another hash was answered without its content:\n%s", h.probeReply)
	}

	// Without file[conf] and the rest, they are orphans.
	run, _ = h.run(specKeepOnly, engine.Options{})
	if c := run.Count(); c.Orphaned != 3 {
		t.Errorf("%d orphans, want 3:\n%s", c.Orphaned, text(t, run))
	}
}
