package inventory

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
)

// FuzzLoad feeds arbitrary bytes to the inventory loader as one file of an
// inventory directory, once in native HCL and once in HCL's JSON syntax,
// next to a few variable files it may list. The loader must not panic,
// every diagnostic must point inside the file it names, and an inventory
// that loads without errors must be usable: hosts named, unique, sorted,
// found by name and selected by their groups. The seed corpus
// (testdata/fuzz/FuzzLoad) holds the inventories of testdata and every
// input that once crashed; scripts/fuzz.sh runs it for a bounded time.
func FuzzLoad(f *testing.F) {
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, name := range []string{"inv/hosts.hcl", "inv/hosts.hcl.json"} {
			fsys := fstest.MapFS{
				name:                  {Data: src},
				"inv/vars/common.hcl": {Data: []byte("a = 1\n")},
				"inv/vars/h1.hcl":     {Data: []byte("b = 2\n")},
			}
			inv, diags := load(fsReader(fsys, "inv"), fakeEnv(nil))
			if inv == nil {
				t.Fatalf("%s: load returned a nil Inventory", name)
			}
			if err := hcl.NewDiagnosticTextWriter(io.Discard, inv.Files(), 78, true).WriteDiagnostics(diags); err != nil {
				t.Errorf("%s: print diagnostics: %v", name, err)
			}
			for _, d := range diags {
				if d.Summary == "" {
					t.Errorf("%s: diagnostic without a summary: %+v", name, d)
				}
				for _, r := range []*hcl.Range{d.Subject, d.Context} {
					if r == nil {
						continue
					}
					if r.Filename != name {
						t.Errorf("%s: diagnostic %q names file %q", name, d.Summary, r.Filename)
					} else if msg := badRange(*r, src); msg != "" {
						t.Errorf("%s: diagnostic %q: range %s: %s", name, d.Summary, r, msg)
					}
				}
			}
			if diags.HasErrors() {
				continue
			}
			checkInventory(t, name, inv)
		}
	})
}

// checkInventory fails t when a loaded inventory breaks what Inventory
// promises its users.
func checkInventory(t *testing.T, name string, inv *Inventory) {
	t.Helper()
	if !slices.IsSortedFunc(inv.Hosts, func(a, b *Host) int {
		return bytes.Compare([]byte(a.Name), []byte(b.Name))
	}) {
		t.Errorf("%s: hosts are not sorted by name", name)
	}
	all, err := inv.Select(nil)
	if err != nil || len(all) != len(inv.Hosts) {
		t.Errorf("%s: Select(nil) = %d hosts, %v; want %d", name, len(all), err, len(inv.Hosts))
	}
	seen := map[string]bool{}
	for _, h := range inv.Hosts {
		if h.Name == "" || h.Address == "" {
			t.Errorf("%s: host %q has address %q", name, h.Name, h.Address)
		}
		if seen[h.Name] {
			t.Errorf("%s: host %q listed twice", name, h.Name)
		}
		seen[h.Name] = true
		if inv.Host(h.Name) != h {
			t.Errorf("%s: Host(%q) does not return the host", name, h.Name)
		}
		if h.Port < 1 || h.Port > 65535 {
			t.Errorf("%s: host %q has port %d", name, h.Name, h.Port)
		}
		if h.Jump != nil && (h.Jump.Port < 1 || h.Jump.Port > 65535) {
			t.Errorf("%s: host %q has jump port %d", name, h.Name, h.Jump.Port)
		}
		for _, g := range h.Groups {
			if g == "all" {
				continue
			}
			if inv.Groups[g] == nil {
				t.Errorf("%s: host %q is in undeclared group %q", name, h.Name, g)
				continue
			}
			hs, err := inv.Select([]string{"group:" + g})
			if err != nil || !slices.Contains(hs, h) {
				t.Errorf("%s: group:%s does not select host %q: %v", name, g, h.Name, err)
			}
		}
	}
}

// badRange says what is wrong with r as a range of src, "" when nothing.
// Lines and columns count from 1, byte offsets lie within src and the start
// is not after the end; in native syntax, the start's line number is also
// the number of newlines before it plus one. HCL's JSON scanner ends the
// range of an unterminated token one byte past the end of the file (the
// input `"`); the fuzzers accept that, since hcl.NewDiagnosticTextWriter
// prints it without harm. Invalid UTF-8, where HCL's scanners miscount
// lines (`"\xec\n0`, `0\xec\n0$`), never reaches them: internal/hclsrc
// refuses it at its first bad byte. These inputs are in the corpus.
func badRange(r hcl.Range, src []byte) string {
	json := strings.HasSuffix(r.Filename, ".json")
	end := len(src)
	if json {
		end++
	}
	s, e := r.Start, r.End
	switch {
	case s.Line < 1 || s.Column < 1 || e.Line < 1 || e.Column < 1:
		return "line or column below 1"
	case s.Byte < 0 || s.Byte > len(src) || e.Byte > end || s.Byte > e.Byte:
		return "byte offsets outside the file or reversed"
	case s.Line > e.Line || (s.Line == e.Line && s.Column > e.Column):
		return "start after end"
	case !json && bytes.Count(src[:s.Byte], []byte("\n"))+1 != s.Line:
		return "start line does not match its byte offset"
	}
	return ""
}
