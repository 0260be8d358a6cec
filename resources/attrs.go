package resources

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// decoder reads the attributes of a Block into Go values, collecting
// diagnostics that point at each offending value.
type decoder struct {
	b     *Block
	diags hcl.Diagnostics
}

func (d *decoder) errorf(rng hcl.Range, summary, format string, args ...any) {
	r := rng
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  &r,
	})
}

// str returns the string attribute name, or def when it is not set.
func (d *decoder) str(name, def string) string {
	a, ok := d.b.Attrs[name]
	if ok && a.Text != nil {
		return string(a.Text.AppendText(nil))
	}
	if !ok || a.Value.IsNull() {
		return def
	}
	v, err := convert.Convert(a.Value, cty.String)
	if err != nil || !v.IsKnown() {
		d.errorf(a.Range, "Incorrect attribute value type",
			"The attribute %q of %s must be a string.", name, d.b.Kind)
		return def
	}
	return v.AsString()
}

// boolean returns the bool attribute name, or def when it is not set.
func (d *decoder) boolean(name string, def bool) bool {
	a, ok := d.b.Attrs[name]
	if !ok || a.Value.IsNull() {
		return def
	}
	v, err := convert.Convert(a.Value, cty.Bool)
	if err != nil || !v.IsKnown() {
		d.errorf(a.Range, "Incorrect attribute value type",
			"The attribute %q of %s must be true or false.", name, d.b.Kind)
		return def
	}
	return v.True()
}

func (d *decoder) has(name string) bool {
	a, ok := d.b.Attrs[name]
	return ok && (a.Text != nil || !a.Value.IsNull())
}

func (d *decoder) sensitive(name string) bool {
	a, ok := d.b.Attrs[name]
	return ok && a.Sensitive
}

func (d *decoder) rangeOf(name string) hcl.Range {
	if a, ok := d.b.Attrs[name]; ok {
		return a.Range
	}
	return d.b.DeclRange
}

// path returns the managed path: the path attribute, or the block's name.
// It must be absolute and clean.
func (d *decoder) path() string {
	p := d.str("path", d.b.Name)
	rng := d.b.LabelRange
	if d.has("path") {
		rng = d.rangeOf("path")
	}
	switch {
	case !strings.HasPrefix(p, "/"):
		d.errorf(rng, "Invalid path", "The path %q of %s must be absolute.", p, d.b.Kind)
	case !ValidArg(p):
		d.errorf(rng, "Invalid path", "The path of %s must not contain a newline or a NUL byte.", d.b.Kind)
	case path.Clean(p) != p:
		d.errorf(rng, "Invalid path", "The path %q of %s is not clean; write it as %q.", p, d.b.Kind, path.Clean(p))
	}
	return p
}

// mode parses an octal mode string such as "0640" or "2755". It returns
// false when the attribute is not set.
func (d *decoder) mode() (fs.FileMode, bool) {
	if !d.has("mode") {
		return 0, false
	}
	n := len(d.diags)
	s := d.str("mode", "")
	if len(d.diags) > n {
		return 0, false // not a string: reported once, by str
	}
	m, err := ParseMode(s)
	if err != nil {
		d.errorf(d.rangeOf("mode"), "Invalid file mode",
			"The mode %q is not valid: %v. Write it as an octal string of 3 or 4 digits, such as \"0644\" or \"2775\".", s, err)
		return 0, false
	}
	return m, true
}

// account reads owner or group: a name, or a numeric id.
func (d *decoder) account(name string) string {
	n := len(d.diags)
	s := d.str(name, "")
	if len(d.diags) > n {
		return "" // not a string: reported once, by str
	}
	if d.has(name) && (s == "" || !ValidArg(s) || strings.ContainsAny(s, " :\t") || strings.HasPrefix(s, "-")) {
		d.errorf(d.rangeOf(name), "Invalid "+name,
			"The %s %q is not a valid user or group name.", name, s)
		return ""
	}
	return s
}

// state reads state, which must be "present" or "absent".
func (d *decoder) state() bool {
	s := d.str("state", "present")
	if s != "present" && s != "absent" {
		d.errorf(d.rangeOf("state"), "Invalid state",
			"The state of %s must be \"present\" or \"absent\", not %q.", d.b.Kind, s)
	}
	return s != "absent"
}

// ParseMode parses an octal file mode of 3 or 4 digits into permission bits
// and the setuid, setgid and sticky flags.
func ParseMode(s string) (fs.FileMode, error) {
	if len(s) < 3 || len(s) > 4 {
		return 0, fmt.Errorf("it has %d digits", len(s))
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("it is not an octal number")
	}
	m := fs.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m, nil
}

// FormatMode prints m as a 4-digit octal string, the form plans show.
func FormatMode(m fs.FileMode) string {
	n := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		n |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		n |= 0o1000
	}
	return fmt.Sprintf("%04o", n)
}

// modeBits keeps the bits FormatMode prints.
func modeBits(m fs.FileMode) fs.FileMode {
	return m & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}
