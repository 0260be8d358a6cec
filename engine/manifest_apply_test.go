package engine_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
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
