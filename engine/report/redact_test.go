package report

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/resources"
)

// The redaction invariant: no renderer prints Content.Before, Content.After
// (nor their hashes and sizes) of a sensitive content change, or the values
// of a sensitive attribute. The test plants markers in every such field of
// every shape of change and looks for them in every output.

const (
	secret      = "SECRET-MARKER-7f3a"
	secretSize  = 987654321 // a size no other field of the run holds
	visibleMark = "VISIBLE-MARKER-2c9e"
)

// secretContent returns a sensitive content change with markers in every
// field but the path.
func secretContent(path string, created, known, binary bool) *resources.ContentChange {
	c := &resources.ContentChange{
		Path:        path,
		BeforeSize:  secretSize,
		AfterSize:   secretSize + 1,
		BeforeHash:  "bef0" + secret + "0000",
		AfterHash:   "aft0" + secret + "0000",
		Before:      []byte("line\n" + secret + "-before\n"),
		After:       []byte("line\n" + secret + "-after\n"),
		BeforeKnown: known,
		Sensitive:   true,
		Binary:      binary,
	}
	if created {
		c.BeforeSize, c.BeforeHash, c.Before = -1, "", nil
	}
	return c
}

// secretAttr returns a sensitive attribute with markers on both sides.
func secretAttr() resources.AttrChange {
	return resources.AttrChange{Name: "password", Before: secret + "-old", After: secret + "-new", Sensitive: true}
}

// secretRun returns a run with sensitive values in every shape of change
// and status, and one visible value to prove the renderers ran.
func secretRun(mode Mode) *Run {
	var rs []*Resource
	i := 0
	add := func(a resources.Action, st Status, c *resources.ContentChange) {
		i++
		r := res("file", "/etc/secret/"+strconv.Itoa(i), a, st, secretAttr(), attr("mode", "0600", visibleMark))
		if a == resources.NoOp {
			r.Change = &resources.Change{Addr: r.Addr, Action: a, Attrs: []resources.AttrChange{secretAttr()}, Content: c}
		} else {
			r.Change.Content = c
		}
		r.Error = "some failure"
		rs = append(rs, r)
	}
	for _, st := range []Status{StatusPlanned, StatusApplied, StatusFailed, StatusNotConverged, StatusSkipped, StatusError, StatusUnchanged} {
		for _, a := range []resources.Action{resources.Create, resources.Update, resources.Delete, resources.NoOp} {
			for _, shape := range []struct{ created, known, binary bool }{
				{false, true, false}, {false, false, false}, {true, false, false}, {false, true, true}, {true, false, true},
			} {
				add(a, st, secretContent("/etc/secret/"+strconv.Itoa(i+1), shape.created, shape.known, shape.binary))
			}
		}
	}
	return &Run{Mode: mode, Started: started, Duration: time.Second, Hosts: []*Host{
		{Name: "web1", Address: "10.0.0.11", Resources: rs},
		{Name: "web2", Address: "10.0.0.12", Error: "unreachable", Resources: rs},
	}}
}

// TestRedaction renders secretRun with every renderer and option and checks
// that no marker of a sensitive field appears, while the visible marker
// does.
func TestRedaction(t *testing.T) {
	for _, mode := range []Mode{ModePlan, ModeApply} {
		r := secretRun(mode)
		outputs := map[string]*bytes.Buffer{}
		render := func(name string, f func(*bytes.Buffer) error) {
			b := &bytes.Buffer{}
			if err := f(b); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			outputs[name] = b
		}
		render("text", func(b *bytes.Buffer) error { return Text(b, r, Options{}) })
		render("text-color", func(b *bytes.Buffer) error { return Text(b, r, Options{Color: true, MaxDiffLines: 1}) })
		render("json", func(b *bytes.Buffer) error { return JSON(b, r) })
		render("markdown", func(b *bytes.Buffer) error { return Markdown(b, r) })
		render("summary", func(b *bytes.Buffer) error { return Summary(b, r) })
		for name, b := range outputs {
			out := b.String()
			for _, leak := range []string{secret, strconv.Itoa(secretSize), strconv.Itoa(secretSize + 1)} {
				if strings.Contains(out, leak) {
					t.Errorf("%s (%s) leaks %q:\n%s", name, mode, leak, out)
				}
			}
			if name != "summary" && !strings.Contains(out, visibleMark) {
				t.Errorf("%s (%s) lacks the visible marker: the test proves nothing:\n%s", name, mode, out)
			}
		}
		if !strings.Contains(outputs["text"].String(), "password: (sensitive value) -> (sensitive value)") ||
			!strings.Contains(outputs["text"].String(), "content:  (sensitive value)") {
			t.Errorf("text (%s) does not show the redaction placeholders:\n%s", mode, outputs["text"])
		}
	}
}

// TestRedactionCatchesLeaks proves the check above can fail: the same
// markers in a change that is not marked sensitive do appear.
func TestRedactionCatchesLeaks(t *testing.T) {
	r := secretRun(ModePlan)
	for _, res := range r.Hosts[0].Resources {
		if res.Change == nil {
			continue
		}
		for i := range res.Change.Attrs {
			res.Change.Attrs[i].Sensitive = false
		}
		res.Change.Content.Sensitive = false
	}
	var buf bytes.Buffer
	if err := Text(&buf, r, Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), secret) {
		t.Fatalf("markers of non-sensitive values are not printed; the redaction test cannot fail")
	}
}
