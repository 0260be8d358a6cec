package engine

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestManifestEncoding round-trips a manifest, checks that the encoding is
// deterministic (sorted, one entry a line, whatever the input order) and
// that every malformed manifest is an error.
func TestManifestEncoding(t *testing.T) {
	entries := []*manifestEntry{
		{Address: `module.web["a"].file.conf["x"]`, Module: `module.web["a"]`, Kind: "file", Name: "conf", Key: `"x"`, Role: "web",
			Prune: map[string]string{"state": "absent", "path": "/etc/x"}, SHA256: strings.Repeat("ab", 32)},
		{Address: "service[nginx]", Kind: "service", Name: "nginx", Role: "web",
			Prune: map[string]string{"name": "nginx.service", "state": "stopped", "enabled": "false"}},
		// An orphan kept under the address of a changed resource.
		{Address: "file[conf]", Kind: "file", Name: "conf", Role: "db", Prune: map[string]string{"path": "/b", "state": "absent"}},
		{Address: "file[conf]", Kind: "file", Name: "conf", Role: "db", Prune: map[string]string{"path": "/a", "state": "absent"}},
	}
	data := encodeManifest(entries)
	reversed := []*manifestEntry{entries[3], entries[2], entries[1], entries[0]}
	if again := encodeManifest(reversed); string(again) != string(data) {
		t.Errorf("the encoding depends on the order of the entries:\n%s\n%s", data, again)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 6 || lines[0] != `{"version":1,"resources":[` || lines[5] != "]}" ||
		!strings.Contains(lines[1], `"path":"/a"`) || !strings.Contains(lines[2], `"path":"/b"`) {
		t.Errorf("manifest lines:\n%s", data)
	}
	got, err := decodeManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []*manifestEntry{entries[3], entries[2], entries[0], entries[1]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if got, err := decodeManifest(encodeManifest(nil)); err != nil || len(got) != 0 {
		t.Errorf("empty manifest: %v, %v", got, err)
	}

	for _, tc := range []struct{ data, err string }{
		{"", "not a tend manifest"},
		{`{"resources":[]}`, "no version"},
		{`{"version":2,"resources":[]}`, "newer tend"},
		{`{"version":1,"resources":[{"address":"file[x]","kind":"file","name":"y","prune":{"path":"/x"}}]}`, "does not match"},
		{`{"version":1,"resources":[{"address":"file[x]","kind":"file","name":"x"}]}`, "no prune attributes"},
		{`{"version":1,"resources":[{"address":"[x]","name":"x","prune":{"path":"/x"}}]}`, "no kind"},
		{`{"version":1,"resources":[null]}`, "no kind"},
		{`{"version":1,"resources":[{"address":"file[x]",`, "not a tend manifest"},
	} {
		if _, err := decodeManifest([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want %q", tc.data, err, tc.err)
		}
	}
}

// TestBuildOrphan builds the undoing resources of manifest entries through
// the kind registry, and rejects entries no kind can build.
func TestBuildOrphan(t *testing.T) {
	ok := []*manifestEntry{
		{Address: "file[x]", Kind: "file", Name: "x", Prune: map[string]string{"path": "/x", "state": "absent"}},
		{Address: "service[s]", Kind: "service", Name: "s", Prune: map[string]string{"name": "s.service", "state": "stopped", "enabled": "false"}},
		{Address: "package[p]", Kind: "package", Name: "p", Prune: map[string]string{"name": "p", "state": "absent"}},
	}
	for _, e := range ok {
		r, err := buildOrphan(e)
		if err != nil || r.Addr() != e.addr() {
			t.Errorf("%s: %v, %v", e.Address, r, err)
		}
	}
	for _, e := range []*manifestEntry{
		{Address: "gizmo[x]", Kind: "gizmo", Name: "x", Prune: map[string]string{"path": "/x"}},
		{Address: "file[x]", Kind: "file", Name: "x", Prune: map[string]string{"path": "relative", "state": "absent"}},
		{Address: "service[s]", Kind: "service", Name: "s", Prune: map[string]string{"enabled": "maybe"}},
	} {
		if _, err := buildOrphan(e); err == nil {
			t.Errorf("%s %v was built", e.Address, e.Prune)
		}
	}
}
