package engine

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/resources"
)

// matchSpec has resources that can be undone (files, a directory, a
// package), out of address order, and one that cannot (an exec).
const matchSpec = `
role "web" {
  hosts = ["*"]
  file "b" {
    path    = "/srv/m/b <&>"
    content = "b\n"
  }
  directory "a" {
    path = "/srv/m"
  }
  package "curl" {}
  exec "hello" {
    command = ["true"]
  }
  file "c" {
    path  = "/srv/m/c"
    state = "absent"
  }
}
`

// TestMatchManifest checks that matchManifest recognises the manifest that
// recordManifest writes for a graph, whatever hashes it records; and that
// it rejects every other manifest (an orphan, a
// missing or changed entry, another role, a hash that is not lower-case
// hex, trailing bytes), which planOrphans then decodes and compares.
func TestMatchManifest(t *testing.T) {
	h, entries := matchGraph(t, strings.Repeat("0f", 32))
	if len(entries) != 3 {
		t.Fatalf("%d entries can be undone, want 3 (the files present, the directory, the package)", len(entries))
	}
	raw := encodeManifest(entries)
	if !h.matchManifest(raw) {
		t.Fatalf("the graph's own manifest does not match:\n%s", raw)
	}
	noSHA := make([]*manifestEntry, len(entries))
	for i, e := range entries {
		c := *e
		c.SHA256 = ""
		noSHA[i] = &c
	}
	if !h.matchManifest(encodeManifest(noSHA)) {
		t.Error("the manifest without hashes does not match")
	}

	orphan := &manifestEntry{Address: "file[gone]", Kind: "file", Name: "gone", Role: "web", Prune: map[string]string{"path": "/gone", "state": "absent"}}
	otherRole := *entries[0]
	otherRole.Role = "db"
	otherPrune := *entries[1]
	otherPrune.Prune = map[string]string{"path": "/elsewhere", "state": "absent"}
	for name, data := range map[string][]byte{
		"an orphan":         encodeManifest(append(append([]*manifestEntry{}, entries...), orphan)),
		"an entry missing":  encodeManifest(entries[1:]),
		"another role":      encodeManifest([]*manifestEntry{&otherRole, entries[1], entries[2]}),
		"other prune attrs": encodeManifest([]*manifestEntry{entries[0], &otherPrune, entries[2]}),
		"an upper-case sha": bytes.Replace(raw, []byte(strings.Repeat("0f", 32)), []byte(strings.Repeat("0F", 32)), 1),
		"an empty sha":      bytes.Replace(raw, []byte(strings.Repeat("0f", 32)), nil, 1),
		"trailing bytes":    append(bytes.Clone(raw), '\n'),
		"version 2":         bytes.Replace(raw, []byte(`"version":1`), []byte(`"version":2`), 1),
		"spaces":            bytes.ReplaceAll(raw, []byte(`":"`), []byte(`": "`)),
		"no manifest":       nil,
		"empty":             {},
	} {
		if h.matchManifest(data) {
			t.Errorf("%s: matches:\n%s", name, data)
		}
	}
}

// TestExpectedManifest checks the manifest the probe asks about by hash:
// it is what recordManifest encodes for the graph, with each file's hash
// of its content, and matchManifest accepts it.
func TestExpectedManifest(t *testing.T) {
	h, entries := matchGraph(t, resources.HashOf([]byte("b\n")))
	got, ok := h.expectedManifest([]byte("kept"))
	got, _ = bytes.CutPrefix(got, []byte("kept"))
	if want := encodeManifest(entries); !ok || !bytes.Equal(got, want) {
		t.Fatalf("expected manifest (ok %v):\n%s\nwant\n%s", ok, got, want)
	}
	if !h.matchManifest(got) {
		t.Errorf("matchManifest rejects the expected manifest")
	}

	// Nothing to undo: no manifest is expected (recordManifest removes it).
	cfg, _ := config.Load(fstest.MapFS{"main.hcl": {Data: []byte("role \"r\" {\n  hosts = [\"*\"]\n  exec \"x\" {\n    command = [\"true\"]\n  }\n}\n")}}, ".")
	graphs, _ := Compile(cfg, []*inventory.Host{{Name: "h", Vars: cty.EmptyObjectVal}}, nil)
	if got, ok := (&hostRun{g: graphs[0], o: &Options{}}).expectedManifest(nil); ok {
		t.Errorf("a graph without prunable resources expects %q", got)
	}
}

// TestPruneSpecByPath checks that a path-prunable kind's attributes are
// written as its PruneAttrs map would be, for present and absent files,
// directories and symlinks with paths JSON must escape.
func TestPruneSpecByPath(t *testing.T) {
	for _, kind := range []string{"file", "directory", "symlink"} {
		for _, p := range []string{"/etc/motd", "/srv/a <&> \"q\"\t\\", "/srv/\u2028é"} {
			for _, state := range []string{"present", "absent"} {
				attrs := map[string]*resources.Attr{"path": {Value: cty.StringVal(p)}, "state": {Value: cty.StringVal(state)}}
				if kind == "symlink" && state == "present" {
					attrs["target"] = &resources.Attr{Value: cty.StringVal("/x")}
				}
				r, diags := resources.Lookup(kind).New(&resources.Block{Addr: resources.Addr{Kind: kind, Name: "x"}, Kind: kind, Name: "x", Attrs: attrs})
				if diags.HasErrors() {
					t.Fatalf("%s %q %s: %v", kind, p, state, diags)
				}
				spec, ok := pruneOf(r)
				m := pruneAttrs(r)
				if ok != (m != nil) || !spec.byPath {
					t.Errorf("%s %q %s: pruneOf ok %v by path %v, PruneAttrs %v", kind, p, state, ok, spec.byPath, m)
					continue
				}
				got, gotExact := spec.append(nil)
				want, wantExact := appendPrune(nil, m)
				if ok && (!bytes.Equal(got, want) || gotExact != wantExact) {
					t.Errorf("%s %q: %s (exact %v), want %s (exact %v)", kind, p, got, gotExact, want, wantExact)
				}
			}
		}
	}
}

// matchGraph compiles matchSpec for one host and returns its run and the
// manifest entries recordManifest writes for it, file[b] with hash bSum.
func matchGraph(t *testing.T, bSum string) (*hostRun, []*manifestEntry) {
	t.Helper()
	cfg, diags := config.Load(fstest.MapFS{"main.hcl": {Data: []byte(matchSpec)}}, ".")
	if diags.HasErrors() {
		t.Fatalf("load: %v", diags)
	}
	host := &inventory.Host{Name: "h", Vars: cty.EmptyObjectVal}
	graphs, diags := Compile(cfg, []*inventory.Host{host}, nil)
	if diags.HasErrors() {
		t.Fatalf("compile: %v", diags)
	}
	h := &hostRun{g: graphs[0], o: &Options{}}
	var entries []*manifestEntry
	for _, n := range h.g.Nodes {
		attrs := pruneAttrs(n.Resource)
		if attrs == nil {
			continue
		}
		e := &manifestEntry{Address: n.Addr.String(), Module: n.Addr.Module, Kind: n.Addr.Kind,
			Name: n.Addr.Name, Key: n.Addr.Key, Role: n.Role, Prune: attrs}
		if n.Addr.Name == "b" {
			e.SHA256 = bSum
		}
		entries = append(entries, e)
	}
	return h, entries
}
