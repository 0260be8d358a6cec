package resources

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestFileContentSum checks the hash a file keeps of its content, which
// Diff compares with the probe's and the engine records in the manifest:
// HashOf of the content, "" for unmanaged content or an absent file, and
// the empty content's hash (never "unmanaged") for content = "".
func TestFileContentSum(t *testing.T) {
	build := func(attrs map[string]cty.Value) *File {
		t.Helper()
		b := &Block{Addr: Addr{Kind: "file", Name: "/etc/x"}, Kind: "file", Name: "/etc/x", Attrs: map[string]*Attr{}}
		for n, v := range attrs {
			b.Attrs[n] = &Attr{Value: v}
		}
		r, diags := newFile(b)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return r.(*File)
	}
	text := "server { listen 80; }\n"
	f := build(map[string]cty.Value{"content": cty.StringVal(text)})
	if f.ContentSHA256() != HashOf([]byte(text)) || string(f.content) != text {
		t.Errorf("content %q: sum %s, content %q", text, f.ContentSHA256(), f.content)
	}
	empty := build(map[string]cty.Value{"content": cty.StringVal("")})
	if empty.content == nil || empty.ContentSHA256() != HashOf(nil) {
		t.Errorf("empty content: content nil %v, sum %s", empty.content == nil, empty.ContentSHA256())
	}
	if s := build(nil).ContentSHA256(); s != "" {
		t.Errorf("unmanaged content: sum %q", s)
	}
	if s := build(map[string]cty.Value{"state": cty.StringVal("absent")}).ContentSHA256(); s != "" {
		t.Errorf("absent file: sum %q", s)
	}

	// Content made on demand: the same hash, and the bytes when a change
	// needs them.
	r, diags := newFile(&Block{Addr: Addr{Kind: "file", Name: "/etc/x"}, Kind: "file", Name: "/etc/x",
		Attrs: map[string]*Attr{"content": {Text: textOf(text)}}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	lazy := r.(*File)
	if lazy.ContentSHA256() != f.ContentSHA256() || string(lazy.data()) != text {
		t.Errorf("text content: sum %s, data %q", lazy.ContentSHA256(), lazy.data())
	}
	o := &Observed{paths: map[string]*PathState{"/etc/x": {Exists: true, Type: TypeFile, Mode: 0o644, SHA256: HashOf([]byte("old"))}}}
	if c, err := lazy.Diff(o); err != nil || c.Content == nil || string(c.Content.After) != text || c.Content.AfterHash != f.ContentSHA256() {
		t.Errorf("text content diff: %+v, %v", c, err)
	}

	// Diff: the same hash is no content change, another one is.
	for sum, want := range map[string]bool{HashOf([]byte(text)): false, HashOf([]byte("other")): true, "": true} {
		o := &Observed{paths: map[string]*PathState{"/etc/x": {Exists: true, Type: TypeFile, Mode: 0o644, SHA256: sum}}}
		c, err := f.Diff(o)
		if err != nil || (c.Content != nil) != want {
			t.Errorf("observed sha %q: change %+v, %v; want a content change %v", sum, c, err, want)
		}
		if want && c.Content.AfterHash != f.ContentSHA256() {
			t.Errorf("AfterHash %s, want %s", c.Content.AfterHash, f.ContentSHA256())
		}
	}
}

// textOf is a Text of s.
type textOf string

func (t textOf) AppendText(dst []byte) []byte { return append(dst, t...) }
