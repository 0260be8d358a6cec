package hclsrc

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

func TestCheckUTF8(t *testing.T) {
	for _, tc := range []struct {
		src             string
		line, col, byte int
	}{
		{"0000000000000\xec\n00$", 1, 14, 13},
		{"a = 1\nb = \"é\xff\"\n", 2, 7, 13},
		{"\x80", 1, 1, 0},
		{"a = \"🇩🇪\"\n\nx\xc3", 3, 2, 17},
	} {
		d := CheckUTF8([]byte(tc.src), "f.hcl")
		if d == nil {
			t.Errorf("%q: no diagnostic", tc.src)
			continue
		}
		s := d.Subject.Start
		if s.Line != tc.line || s.Column != tc.col || s.Byte != tc.byte || d.Subject.End.Byte != tc.byte+1 {
			t.Errorf("%q: subject %s (byte %d), want %d:%d byte %d", tc.src, d.Subject, s.Byte, tc.line, tc.col, tc.byte)
		}
		if d.Severity != hcl.DiagError || !strings.Contains(d.Detail, "UTF-8") {
			t.Errorf("%q: %+v", tc.src, d)
		}
	}
	if d := CheckUTF8([]byte("a = \"é 🇩🇪\"\n"), "f.hcl"); d != nil {
		t.Errorf("valid UTF-8: %v", d)
	}
}

// TestParse checks that invalid UTF-8 is refused before HCL's scanner, and
// that the parser keeps the file so the diagnostic prints with its source.
func TestParse(t *testing.T) {
	for _, json := range []bool{false, true} {
		p := hclparse.NewParser()
		src := []byte("a = 1\n\"\xec\n0")
		f, diags := Parse(p, src, "f", json)
		if len(diags) != 1 || diags[0].Summary != "Invalid UTF-8" || diags[0].Subject.Start.Line != 2 {
			t.Fatalf("json=%v: diagnostics %v", json, diags)
		}
		if p.Files()["f"] != f || string(f.Bytes) != string(src) {
			t.Errorf("json=%v: the parser does not hold the file", json)
		}
		if attrs, ds := f.Body.JustAttributes(); len(attrs) != 0 || ds.HasErrors() {
			t.Errorf("json=%v: body has %d attributes, %v", json, len(attrs), ds)
		}
		var b strings.Builder
		if err := hcl.NewDiagnosticTextWriter(&b, p.Files(), 78, false).WriteDiagnostics(diags); err != nil || !strings.Contains(b.String(), "on f line 2") {
			t.Errorf("json=%v: printed %q, %v", json, b.String(), err)
		}
	}
	p := hclparse.NewParser()
	if f, diags := Parse(p, []byte("a = 1\n"), "ok.hcl", false); diags.HasErrors() || f == nil {
		t.Fatalf("valid file: %v", diags)
	}
	if _, diags := ParseConfig([]byte("x\xff"), "c.hcl"); len(diags) != 1 || diags[0].Subject.Start.Column != 2 {
		t.Errorf("ParseConfig: %v", diags)
	}
}
