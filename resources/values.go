package resources

import (
	"sort"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// This file holds the decoder helpers of the system kinds: lists, maps,
// durations and the names of packages, units and accounts.

// strList returns the list-of-strings attribute name (a tuple or a list in
// HCL), or nil when it is not set. set reports whether it was set.
func (d *decoder) strList(name string) (vals []string, set bool) {
	a, ok := d.b.Attrs[name]
	if !ok || a.Value.IsNull() {
		return nil, false
	}
	v, err := convert.Convert(a.Value, cty.List(cty.String))
	if err != nil || !v.IsWhollyKnown() {
		d.errorf(a.Range, "Incorrect attribute value type",
			"The attribute %q of %s must be a list of strings.", name, d.b.Kind)
		return nil, true
	}
	vals = []string{}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			d.errorf(a.Range, "Invalid list element", "The list %q of %s must not hold null.", name, d.b.Kind)
			return nil, true
		}
		vals = append(vals, e.AsString())
	}
	return vals, true
}

// strMap returns the map-of-strings attribute name, or nil when it is not
// set. Its keys come back sorted, for a stable order.
func (d *decoder) strMap(name string) (keys []string, vals map[string]string) {
	a, ok := d.b.Attrs[name]
	if !ok || a.Value.IsNull() {
		return nil, nil
	}
	v, err := convert.Convert(a.Value, cty.Map(cty.String))
	if err != nil || !v.IsWhollyKnown() {
		d.errorf(a.Range, "Incorrect attribute value type",
			"The attribute %q of %s must be a map of strings, such as { NAME = \"value\" }.", name, d.b.Kind)
		return nil, nil
	}
	vals = map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() {
			d.errorf(a.Range, "Invalid map value", "The map %q of %s must not hold null.", name, d.b.Kind)
			return nil, nil
		}
		vals[k.AsString()] = e.AsString()
		keys = append(keys, k.AsString())
	}
	sort.Strings(keys)
	return keys, vals
}

// duration reads a duration such as "90s" or "5m"; def when unset.
func (d *decoder) duration(name string, def time.Duration) time.Duration {
	if !d.has(name) {
		return def
	}
	n := len(d.diags)
	s := d.str(name, "")
	if len(d.diags) > n {
		return def
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		d.errorf(d.rangeOf(name), "Invalid duration",
			"The %s %q of %s is not a positive duration; write it as \"90s\", \"5m\" or \"1h\".", name, s, d.b.Kind)
		return def
	}
	return v
}

// oneOf reads a string attribute that must be one of allowed (the first is
// the default).
func (d *decoder) oneOf(name string, allowed ...string) string {
	n := len(d.diags)
	s := d.str(name, allowed[0])
	if len(d.diags) > n {
		return allowed[0]
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	d.errorf(d.rangeOf(name), "Invalid "+name,
		"The %s of %s must be %s, not %q.", name, d.b.Kind, quoteList(allowed), s)
	return allowed[0]
}

// quoteList prints `"a", "b" or "c"`.
func quoteList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = `"` + v + `"`
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// validChars reports whether s is not empty, does not start with "-" and
// holds only ASCII letters, digits and the bytes of extra.
func validChars(s, extra string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// validAccountName reports whether s can name a user or a group: what
// useradd accepts without --badname, plus upper case and dots, and never all
// digits (getent would take it for an id).
func validAccountName(s string) bool {
	if !validChars(s, "._-$") || len(s) > 32 || strings.IndexByte(s[:len(s)-1], '$') >= 0 {
		return false
	}
	return strings.Trim(s, "0123456789") != ""
}

// nameAttr reads the name attribute (default: the block label) and checks
// it with valid; what says what the name is, for the message.
func (d *decoder) nameAttr(what string, valid func(string) bool) string {
	s := d.str("name", d.b.Name)
	rng := d.b.LabelRange
	if d.has("name") {
		rng = d.rangeOf("name")
	}
	if !valid(s) {
		d.errorf(rng, "Invalid name", "%q is not a valid %s.", s, what)
	}
	return s
}
