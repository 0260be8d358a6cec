package resources

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// TestKindDiagnostics builds resources from invalid blocks through the kind
// registry and checks that every problem is reported, each with a Subject
// that is the offending attribute's Range (or the label or the block header
// when no attribute is at fault).
func TestKindDiagnostics(t *testing.T) {
	files := fstest.MapFS{"specs/motd.txt": {Data: []byte("hi\n")}}
	for _, tc := range []struct {
		name  string
		kind  string
		label string // the block's name; "/srv/x" when empty
		attrs map[string]cty.Value
		// at lists, per expected diagnostic in order, the attribute it must
		// point at: "label" for the label, "decl" for the block header.
		at      []string
		summary string // the first diagnostic's summary
	}{
		{name: "mode 0999", kind: "file", attrs: map[string]cty.Value{"mode": str("0999")}, at: []string{"mode"}, summary: "Invalid file mode"},
		{name: "mode 644x", kind: "file", attrs: map[string]cty.Value{"mode": str("644x")}, at: []string{"mode"}, summary: "Invalid file mode"},
		{name: "mode 12", kind: "file", attrs: map[string]cty.Value{"mode": str("12")}, at: []string{"mode"}, summary: "Invalid file mode"},
		{name: "mode 07777 too long", kind: "directory", attrs: map[string]cty.Value{"mode": str("07777")}, at: []string{"mode"}, summary: "Invalid file mode"},
		{name: "mode with sign", kind: "directory", attrs: map[string]cty.Value{"mode": str("+644")}, at: []string{"mode"}, summary: "Invalid file mode"},
		{name: "mode not a string", kind: "file", attrs: map[string]cty.Value{"mode": cty.ListValEmpty(cty.String)}, at: []string{"mode"}, summary: "Incorrect attribute value type"},
		{name: "relative label", kind: "file", label: "etc/motd", at: []string{"label"}, summary: "Invalid path"},
		{name: "relative path attribute", kind: "directory", label: "app", attrs: map[string]cty.Value{"path": str("srv/app")}, at: []string{"path"}, summary: "Invalid path"},
		{name: "empty path", kind: "symlink", attrs: map[string]cty.Value{"path": str(""), "target": str("/x")}, at: []string{"path"}, summary: "Invalid path"},
		{name: "unclean double slash", kind: "file", label: "/etc//motd", at: []string{"label"}, summary: "Invalid path"},
		{name: "unclean dot dot", kind: "directory", attrs: map[string]cty.Value{"path": str("/srv/../etc")}, at: []string{"path"}, summary: "Invalid path"},
		{name: "unclean trailing slash", kind: "symlink", label: "/srv/current/", attrs: map[string]cty.Value{"target": str("/x")}, at: []string{"label"}, summary: "Invalid path"},
		{name: "newline in path", kind: "file", attrs: map[string]cty.Value{"path": str("/etc/a\nb")}, at: []string{"path"}, summary: "Invalid path"},
		{name: "content and source", kind: "file", attrs: map[string]cty.Value{"content": str("x"), "source": str("motd.txt")}, at: []string{"source"}, summary: "Conflicting attributes"},
		{name: "absent with content", kind: "file", attrs: map[string]cty.Value{"state": str("absent"), "content": str("x")}, at: []string{"content"}, summary: "Conflicting attributes"},
		{name: "absent with mode and owner", kind: "file", attrs: map[string]cty.Value{"state": str("absent"), "mode": str("0600"), "owner": str("root")}, at: []string{"mode", "owner"}, summary: "Conflicting attributes"},
		{name: "bad state", kind: "file", attrs: map[string]cty.Value{"state": str("gone")}, at: []string{"state"}, summary: "Invalid state"},
		{name: "bad state directory", kind: "directory", attrs: map[string]cty.Value{"state": str("Present")}, at: []string{"state"}, summary: "Invalid state"},
		{name: "bad state symlink", kind: "symlink", attrs: map[string]cty.Value{"state": str("deleted"), "target": str("/x")}, at: []string{"state"}, summary: "Invalid state"},
		{name: "owner with spaces", kind: "file", attrs: map[string]cty.Value{"owner": str("www data")}, at: []string{"owner"}, summary: "Invalid owner"},
		{name: "group with colon", kind: "directory", attrs: map[string]cty.Value{"group": str("a:b")}, at: []string{"group"}, summary: "Invalid group"},
		{name: "owner like an option", kind: "file", attrs: map[string]cty.Value{"owner": str("-rf")}, at: []string{"owner"}, summary: "Invalid owner"},
		{name: "empty owner", kind: "directory", attrs: map[string]cty.Value{"owner": str("")}, at: []string{"owner"}, summary: "Invalid owner"},
		{name: "source outside the specs", kind: "file", attrs: map[string]cty.Value{"source": str("../../etc/passwd")}, at: []string{"source"}, summary: "Invalid source"},
		{name: "source absolute", kind: "file", attrs: map[string]cty.Value{"source": str("/etc/passwd")}, at: []string{"source"}, summary: "Invalid source"},
		{name: "source missing", kind: "file", attrs: map[string]cty.Value{"source": str("nope.txt")}, at: []string{"source"}, summary: "Cannot read source"},
		{name: "sensitive not a bool", kind: "file", attrs: map[string]cty.Value{"content": str("x"), "sensitive": str("maybe")}, at: []string{"sensitive"}, summary: "Incorrect attribute value type"},
		{name: "symlink without target", kind: "symlink", at: []string{"decl"}, summary: "Missing target"},
		{name: "symlink target with newline", kind: "symlink", attrs: map[string]cty.Value{"target": str("/a\nb")}, at: []string{"target"}, summary: "Invalid target"},
		{name: "owner not a string", kind: "file", attrs: map[string]cty.Value{"owner": cty.EmptyObjectVal}, at: []string{"owner"}, summary: "Incorrect attribute value type"},
		{name: "symlink force not a bool", kind: "symlink", attrs: map[string]cty.Value{"target": str("/x"), "force": str("yes please")}, at: []string{"force"}, summary: "Incorrect attribute value type"},
		{name: "root directory absent", kind: "directory", label: "/", attrs: map[string]cty.Value{"state": str("absent")}, at: []string{"state"}, summary: "Invalid state"},
		{
			name: "every problem at once", kind: "file", label: "relative",
			attrs: map[string]cty.Value{"mode": str("888"), "owner": str("a b"), "group": str("c d"), "state": str("nope")},
			at:    []string{"label", "state", "mode", "owner", "group"}, summary: "Invalid path",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			label := tc.label
			if label == "" {
				label = "/srv/x"
			}
			b := testBlock(tc.kind, label, tc.attrs)
			b.Files, b.Dir = files, "specs"
			_, diags := Lookup(tc.kind).New(b)
			if len(diags) != len(tc.at) {
				t.Fatalf("got %d diagnostics, want %d: %v", len(diags), len(tc.at), diags)
			}
			if diags[0].Summary != tc.summary {
				t.Errorf("summary = %q, want %q", diags[0].Summary, tc.summary)
			}
			for i, d := range diags {
				var want hcl.Range
				switch tc.at[i] {
				case "label":
					want = b.LabelRange
				case "decl":
					want = b.DeclRange
				default:
					want = b.Attrs[tc.at[i]].Range
				}
				if d.Severity != hcl.DiagError {
					t.Errorf("diagnostic %d is not an error: %v", i, d)
				}
				if d.Subject == nil || *d.Subject != want {
					t.Errorf("diagnostic %d %q points at %v, want %s at %v", i, d.Summary, d.Subject, tc.at[i], want)
				}
				if d.Detail == "" || !strings.HasSuffix(d.Detail, ".") {
					t.Errorf("diagnostic %d detail is not a sentence: %q", i, d.Detail)
				}
			}
		})
	}
}

// TestKindValid checks blocks that must build without diagnostics, and that
// a source file is read relative to the block's directory.
func TestKindValid(t *testing.T) {
	files := fstest.MapFS{"specs/files/motd.txt": {Data: []byte("hi\n")}, "specs/empty": {Data: []byte{}}}
	for _, tc := range []struct {
		kind  string
		attrs map[string]cty.Value
	}{
		{"file", map[string]cty.Value{"source": str("files/motd.txt"), "mode": str("644")}},
		{"file", map[string]cty.Value{"content": str(""), "mode": str("4755"), "owner": str("65534"), "group": str("nogroup")}},
		{"file", map[string]cty.Value{"state": str("absent")}},
		{"file", map[string]cty.Value{"mode": cty.NumberIntVal(644)}}, // converted to the string "644"
		{"directory", map[string]cty.Value{"mode": str("2775"), "owner": str("www-data"), "group": str("www-data")}},
		{"directory", map[string]cty.Value{"state": str("absent")}},
		{"symlink", map[string]cty.Value{"target": str("../shared/config yml")}},
		{"symlink", map[string]cty.Value{"state": str("absent")}},
	} {
		b := testBlock(tc.kind, "/srv/app/x", tc.attrs)
		b.Files, b.Dir = files, "specs"
		r, diags := Lookup(tc.kind).New(b)
		if diags.HasErrors() {
			t.Errorf("%s %v: %v", tc.kind, tc.attrs, diags)
			continue
		}
		if got := r.Addr().String(); got != tc.kind+"[/srv/app/x]" {
			t.Errorf("Addr = %s", got)
		}
	}

	b := testBlock("file", "motd", map[string]cty.Value{"path": str("/etc/motd"), "source": str("files/motd.txt")})
	b.Files, b.Dir = files, "specs"
	r, diags := Lookup("file").New(b)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	o := parseReply(t, r, "R 0 absent")
	c, err := r.Diff(o)
	if err != nil || c.Content == nil || string(c.Content.After) != "hi\n" || c.Content.Path != "/etc/motd" {
		t.Errorf("Diff = %+v, %v", c, err)
	}
}

func TestParseFormatMode(t *testing.T) {
	for _, tc := range []struct {
		in, out string
	}{
		{"644", "0644"}, {"0644", "0644"}, {"0755", "0755"}, {"2775", "2775"},
		{"4755", "4755"}, {"1777", "1777"}, {"7777", "7777"}, {"000", "0000"},
	} {
		m, err := ParseMode(tc.in)
		if err != nil {
			t.Errorf("ParseMode(%q): %v", tc.in, err)
			continue
		}
		if got := FormatMode(m); got != tc.out {
			t.Errorf("FormatMode(ParseMode(%q)) = %q, want %q", tc.in, got, tc.out)
		}
	}
	for _, bad := range []string{"", "0999", "644x", "12", "07777", "+644", "-644", "0x1f", "rwx", " 644", "6_4"} {
		if m, err := ParseMode(bad); err == nil {
			t.Errorf("ParseMode(%q) = %v, want an error", bad, m)
		}
	}
}
