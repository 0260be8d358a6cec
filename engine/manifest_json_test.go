package engine

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestAppendEntryMatchesJSON checks that the hand-written encoding of
// manifest entries is byte for byte what encoding/json writes (manifests on
// hosts were written by it: a different byte would rewrite every manifest),
// also for strings that need escaping or are not valid UTF-8, and that it
// says when the JSON does not give the string back.
func TestAppendEntryMatchesJSON(t *testing.T) {
	odd := []string{
		"", "plain", `quote " and \ backslash`, "<html> & co", "tab\tnl\nCR\rbs\bff\f",
		"\x00\x01\x1f\x7f", "é ü 日本", "line\u2028para\u2029", "bad \xff utf8", "cut \xe6\x97",
		strings.Repeat("x", 300),
	}
	for _, s := range odd {
		entries := []*manifestEntry{
			{Address: s, Kind: "file", Name: s, Role: s, Prune: map[string]string{"path": s, "state": "absent"}},
			{Address: "a", Module: s, Kind: s, Name: "n", Key: s, Role: "r", Prune: map[string]string{s: "v", "z" + s: s}, SHA256: s},
			{Address: "a", Kind: "k", Name: "n", Prune: nil},
			{Address: "a", Kind: "k", Name: "n", Prune: map[string]string{}},
		}
		for i, e := range entries {
			want, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			got, exact := appendEntry(nil, e.Address, e.Module, e.Kind, e.Name, e.Key, e.Role, pruneSpec{attrs: e.Prune}, e.SHA256)
			if string(got) != string(want) {
				t.Errorf("entry of %q:\n got %s\nwant %s", s, got, want)
			}
			if wantExact := i >= 2 || utf8.ValidString(s); exact != wantExact {
				t.Errorf("entry of %q: exact = %v", s, exact)
			}
			wantKey, _ := json.Marshal(e.Prune)
			if k := canonical(e.Prune); k != string(wantKey) {
				t.Errorf("canonical of %q: %s, want %s", s, k, wantKey)
			}
		}
	}
	// Many keys: more than the stack buffer of appendPrune holds.
	m := map[string]string{}
	for i := range 20 {
		m[strings.Repeat("k", 20-i)] = strings.Repeat("v", i)
	}
	if want, _ := json.Marshal(m); canonical(m) != string(want) {
		t.Errorf("canonical of 20 keys: %s, want %s", canonical(m), want)
	}
}

// TestManifestHeaderVersion checks that the header encodeManifest writes
// (and matchManifest expects) carries manifestVersion.
func TestManifestHeaderVersion(t *testing.T) {
	if want := `{"version":` + strconv.Itoa(manifestVersion) + `,"resources":[`; manifestHeader != want {
		t.Errorf("manifestHeader = %q, want %q", manifestHeader, want)
	}
}
