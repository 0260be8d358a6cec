package resources

import (
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// attrRange gives every attribute of a test block its own line, so that a
// diagnostic's Subject tells which attribute it points at.
func attrRange(line int) hcl.Range {
	return hcl.Range{
		Filename: "hosts/web.hcl",
		Start:    hcl.Pos{Line: line, Column: 3, Byte: line * 40},
		End:      hcl.Pos{Line: line, Column: 20, Byte: line*40 + 17},
	}
}

var (
	testDeclRange  = attrRange(1)
	testLabelRange = hcl.Range{Filename: "hosts/web.hcl", Start: hcl.Pos{Line: 1, Column: 6, Byte: 5}, End: hcl.Pos{Line: 1, Column: 20, Byte: 19}}
)

// testBlock builds the evaluated block of kind named name with attrs; each
// attribute's Range is on its own line, in the sorted order of the names.
func testBlock(kind, name string, attrs map[string]cty.Value) *Block {
	b := &Block{
		Addr:       Addr{Kind: kind, Name: name},
		Kind:       kind,
		Name:       name,
		DeclRange:  testDeclRange,
		LabelRange: testLabelRange,
		Attrs:      map[string]*Attr{},
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		b.Attrs[n] = &Attr{Value: attrs[n], Range: attrRange(i + 2)}
	}
	return b
}

// build makes a resource through the kind registry, as the loader does, and
// fails the test on any diagnostic.
func build(t testing.TB, kind, name string, attrs map[string]cty.Value) Resource {
	t.Helper()
	k := Lookup(kind)
	if k == nil {
		t.Fatalf("kind %q is not registered", kind)
	}
	r, diags := k.New(testBlock(kind, name, attrs))
	if diags.HasErrors() {
		t.Fatalf("%s[%s]: unexpected diagnostics: %v", kind, name, diags)
	}
	return r
}

// str is a shorthand for cty.StringVal.
func str(s string) cty.Value { return cty.StringVal(s) }

// parseReply observes r into a fresh probe and parses a recorded reply of
// that probe. The reply's record lines are given without the header and the
// end marker, which are added here.
func parseReply(t testing.TB, r Resource, records ...string) *Observed {
	t.Helper()
	p := NewProbe()
	r.Observe(p)
	reply := "T tend-probe 1\nF hostname web1\nF uid 0\n" + strings.Join(records, "\n")
	if len(records) > 0 {
		reply += "\n"
	}
	reply += "E " + strconv.Itoa(p.Len()) + "\n"
	o, err := ParseProbe(p, []byte(reply))
	if err != nil {
		t.Fatalf("parse recorded reply: %v\n%s", err, reply)
	}
	return o
}
