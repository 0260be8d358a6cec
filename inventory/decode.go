package inventory

import (
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"strings"
	"time"
	"unicode"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// fileSchema is the top level of an inventory file.
var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "defaults"},
		{Type: "group", LabelNames: []string{"name"}},
		{Type: "host", LabelNames: []string{"name"}},
	},
}

// settingAttrs are the connection settings, vars and vars_files, allowed in
// defaults, group and host blocks alike.
var settingAttrs = []hcl.AttributeSchema{
	{Name: "user"},
	{Name: "port"},
	{Name: "identity_file"},
	{Name: "identity_files"},
	{Name: "ssh_agent"},
	{Name: "known_hosts"},
	{Name: "become"},
	{Name: "become_user"},
	{Name: "jump"},
	{Name: "connect_timeout"},
	{Name: "vars"},
	{Name: "vars_files"},
}

var (
	defaultsSchema = &hcl.BodySchema{Attributes: settingAttrs}
	groupSchema    = &hcl.BodySchema{Attributes: withAttrs("hosts", "children")}
	hostSchema     = &hcl.BodySchema{Attributes: withAttrs("address", "groups")}
)

// withAttrs returns settingAttrs and the named attributes.
func withAttrs(names ...string) []hcl.AttributeSchema {
	attrs := append([]hcl.AttributeSchema(nil), settingAttrs...)
	for _, n := range names {
		attrs = append(attrs, hcl.AttributeSchema{Name: n})
	}
	return attrs
}

// opt is one setting of one block: set tells whether the block (or, after a
// merge, any level) gave it, and rng is where its value is written.
type opt[T any] struct {
	set bool
	v   T
	rng hcl.Range
}

// over replaces o with p when p is set: p is the higher level.
func (o *opt[T]) over(p opt[T]) {
	if p.set {
		*o = p
	}
}

// settings are the connection settings and vars of one level (defaults, a
// group or a host), or the merge of several.
type settings struct {
	user, knownHosts, becomeUser, jump opt[string]
	port                               opt[int]
	identityFiles                      opt[[]string]
	sshAgent, become                   opt[bool]
	connectTimeout                     opt[time.Duration]
	// vars is nil when the level has no vars.
	vars map[string]cty.Value
	// varFiles are the resolved paths of vars_files, lowest precedence
	// first; levels add to them rather than replace them.
	varFiles []string
}

// merge lays p over s: every setting p gives replaces s's, every top-level
// key of p's vars replaces the whole value of that key in s, and p's
// vars_files come after s's.
func (s *settings) merge(p *settings) {
	s.user.over(p.user)
	s.knownHosts.over(p.knownHosts)
	s.becomeUser.over(p.becomeUser)
	s.jump.over(p.jump)
	s.port.over(p.port)
	s.identityFiles.over(p.identityFiles)
	s.sshAgent.over(p.sshAgent)
	s.become.over(p.become)
	s.connectTimeout.over(p.connectTimeout)
	if len(p.vars) > 0 && s.vars == nil {
		s.vars = make(map[string]cty.Value, len(p.vars))
	}
	for k, v := range p.vars {
		s.vars[k] = v
	}
	s.varFiles = append(s.varFiles, p.varFiles...)
}

// ref is a name written in a list (a group's hosts or children, a host's
// groups) and where it is written.
type ref struct {
	name string
	rng  hcl.Range
}

// groupDecl is a decoded group block.
type groupDecl struct {
	name      string
	nameRange hcl.Range
	declRange hcl.Range
	index     int // position in declaration order
	hosts     []ref
	children  []ref
	s         settings

	// Filled by link: the declared children (each once, kidRefs[i] being
	// where kids[i] is written) and parents, and by order: the group's
	// place in precedence order.
	kids    []*groupDecl
	kidRefs []ref
	parents []*groupDecl
	rank    int
}

// hostDecl is a decoded host block.
type hostDecl struct {
	name      string
	nameRange hcl.Range
	declRange hcl.Range
	address   opt[string]
	groups    []ref
	s         settings

	// direct are the groups listing the host and those it lists, filled by
	// link.
	direct []*groupDecl
}

// decoder evaluates attribute values and collects their diagnostics.
type decoder struct {
	ctx   *hcl.EvalContext
	diags hcl.Diagnostics
	// varFile resolves an element of vars_files written in the inventory
	// file from and checks that the file exists (reader.varFile).
	varFile func(from, p string) (string, error)
}

// errorf adds an error diagnostic about rng.
func (d *decoder) errorf(rng hcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	})
}

// eval evaluates attr and converts it to ty. It returns false when the
// value is null (the setting is then unset) or wrong, which it reports.
func (d *decoder) eval(attr *hcl.Attribute, ty cty.Type) (cty.Value, bool) {
	v, diags := attr.Expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || v.IsNull() {
		return cty.NilVal, false
	}
	if ty != cty.DynamicPseudoType {
		cv, err := convert.Convert(v, ty)
		if err != nil {
			d.errorf(attr.Expr.Range(), "Incorrect attribute value type",
				"Inappropriate value for attribute %q: %s.", attr.Name, err)
			return cty.NilVal, false
		}
		v = cv
	}
	if !v.IsWhollyKnown() {
		// Without variables, only the placeholder of an expression that
		// failed to parse is unknown, and the parser reported it.
		return cty.NilVal, false
	}
	return v, true
}

// str decodes a string attribute. A string that must not be empty is
// reported when it is.
func (d *decoder) str(attr *hcl.Attribute, nonEmpty bool) opt[string] {
	v, ok := d.eval(attr, cty.String)
	if !ok {
		return opt[string]{}
	}
	s := v.AsString()
	if nonEmpty && s == "" {
		d.errorf(attr.Expr.Range(), "Empty value", "The value of %q must not be empty.", attr.Name)
		return opt[string]{}
	}
	return opt[string]{set: true, v: s, rng: attr.Expr.Range()}
}

// boolean decodes a bool attribute.
func (d *decoder) boolean(attr *hcl.Attribute) opt[bool] {
	v, ok := d.eval(attr, cty.Bool)
	if !ok {
		return opt[bool]{}
	}
	return opt[bool]{set: true, v: v.True(), rng: attr.Expr.Range()}
}

// port decodes a TCP port: a whole number from 1 to 65535.
func (d *decoder) port(attr *hcl.Attribute) opt[int] {
	v, ok := d.eval(attr, cty.Number)
	if !ok {
		return opt[int]{}
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() || bf.Cmp(big.NewFloat(1)) < 0 || bf.Cmp(big.NewFloat(65535)) > 0 {
		d.errorf(attr.Expr.Range(), "Invalid port",
			"A port is a whole number from 1 to 65535; %s is not.", bf.Text('g', -1))
		return opt[int]{}
	}
	n, _ := bf.Int64()
	return opt[int]{set: true, v: int(n), rng: attr.Expr.Range()}
}

// duration decodes a positive Go duration string such as "10s".
func (d *decoder) duration(attr *hcl.Attribute) opt[time.Duration] {
	s := d.str(attr, false)
	if !s.set {
		return opt[time.Duration]{}
	}
	dur, err := time.ParseDuration(s.v)
	if err != nil {
		d.errorf(s.rng, "Invalid duration",
			"The value of %q must be a duration such as \"10s\" or \"1m30s\": %s.", attr.Name, err)
		return opt[time.Duration]{}
	}
	if dur <= 0 {
		d.errorf(s.rng, "Invalid duration", "The value of %q must be positive; %s is not.", attr.Name, s.v)
		return opt[time.Duration]{}
	}
	return opt[time.Duration]{set: true, v: dur, rng: s.rng}
}

// strList decodes a list of non-null, non-empty strings and returns each
// with the narrowest range known for it: its own expression when the list is
// written literally, the whole list otherwise.
func (d *decoder) strList(attr *hcl.Attribute) ([]ref, bool) {
	v, ok := d.eval(attr, cty.List(cty.String))
	if !ok {
		return nil, false
	}
	exprs, _ := hcl.ExprList(attr.Expr)
	var out []ref
	good := true
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, ev := it.Element()
		rng := attr.Expr.Range()
		if len(exprs) == v.LengthInt() {
			rng = exprs[i].Range()
		}
		if ev.IsNull() || ev.AsString() == "" {
			d.errorf(rng, "Empty value", "The elements of %q must not be null or empty.", attr.Name)
			good = false
			continue
		}
		out = append(out, ref{name: ev.AsString(), rng: rng})
	}
	return out, good
}

// names decodes a list of host or group names (what is "host" or "group")
// and reports names that contain white space.
func (d *decoder) names(attr *hcl.Attribute, what string) []ref {
	refs, _ := d.strList(attr)
	out := refs[:0]
	for _, r := range refs {
		if hasSpace(r.name) {
			d.errorf(r.rng, "Invalid "+what+" name",
				"The %s name %q contains white space or control characters.", what, r.name)
			continue
		}
		out = append(out, r)
	}
	return out
}

// vars decodes a vars attribute: an object or a map, of any values.
func (d *decoder) vars(attr *hcl.Attribute) map[string]cty.Value {
	v, ok := d.eval(attr, cty.DynamicPseudoType)
	if !ok {
		return nil
	}
	ty := v.Type()
	if !ty.IsObjectType() && !ty.IsMapType() {
		d.errorf(attr.Expr.Range(), "Invalid vars",
			"The vars argument must be an object, such as { http_port = 8080 }, not a %s.", ty.FriendlyName())
		return nil
	}
	out := make(map[string]cty.Value, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		out[k.AsString()] = ev
	}
	return out
}

// varFiles decodes vars_files: a list of paths, relative to the inventory
// file that holds them, of files that must exist. Each missing one is
// reported at its element and left out.
func (d *decoder) varFiles(attr *hcl.Attribute) []string {
	refs, _ := d.strList(attr)
	var out []string
	for _, r := range refs {
		full, err := d.varFile(attr.Range.Filename, r.name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			d.errorf(r.rng, "Missing vars file",
				"The vars file %s does not exist. A path in vars_files is relative to the inventory file that lists it.",
				full)
		case err != nil:
			d.errorf(r.rng, "Invalid vars file", "The vars file %q cannot be used: %s.", r.name, err)
		default:
			out = append(out, full)
		}
	}
	return out
}

// settings decodes the connection settings, vars and vars_files of a block
// body's content.
func (d *decoder) settings(attrs hcl.Attributes) settings {
	var s settings
	for name, attr := range attrs {
		switch name {
		case "user":
			s.user = d.str(attr, true)
		case "known_hosts":
			s.knownHosts = d.str(attr, true)
		case "become_user":
			s.becomeUser = d.str(attr, true)
		case "jump":
			s.jump = d.str(attr, false)
		case "port":
			s.port = d.port(attr)
		case "ssh_agent":
			s.sshAgent = d.boolean(attr)
		case "become":
			s.become = d.boolean(attr)
		case "connect_timeout":
			s.connectTimeout = d.duration(attr)
		case "vars":
			s.vars = d.vars(attr)
		case "vars_files":
			s.varFiles = d.varFiles(attr)
		}
	}
	one, many := attrs["identity_file"], attrs["identity_files"]
	switch {
	case one != nil && many != nil:
		second := many
		if one.Range.Start.Byte > many.Range.Start.Byte {
			second = one
		}
		d.errorf(second.NameRange, "Conflicting arguments",
			"Set either identity_file or identity_files in a block, not both.")
	case one != nil:
		if f := d.str(one, true); f.set {
			s.identityFiles = opt[[]string]{set: true, v: []string{f.v}, rng: f.rng}
		}
	case many != nil:
		if refs, ok := d.strList(many); ok {
			files := make([]string, 0, len(refs))
			for _, r := range refs {
				files = append(files, r.name)
			}
			s.identityFiles = opt[[]string]{set: true, v: files, rng: many.Expr.Range()}
		}
	}
	return s
}

// defaults decodes a defaults block.
func (d *decoder) defaults(b *hcl.Block) settings {
	content, diags := b.Body.Content(defaultsSchema)
	d.diags = append(d.diags, diags...)
	return d.settings(content.Attributes)
}

// group decodes a group block.
func (d *decoder) group(b *hcl.Block) *groupDecl {
	g := &groupDecl{name: b.Labels[0], nameRange: b.LabelRanges[0], declRange: b.DefRange}
	content, diags := b.Body.Content(groupSchema)
	d.diags = append(d.diags, diags...)
	g.s = d.settings(content.Attributes)
	if a := content.Attributes["hosts"]; a != nil {
		g.hosts = d.names(a, "host")
	}
	if a := content.Attributes["children"]; a != nil {
		g.children = d.names(a, "group")
	}
	return g
}

// host decodes a host block.
func (d *decoder) host(b *hcl.Block) *hostDecl {
	h := &hostDecl{name: b.Labels[0], nameRange: b.LabelRanges[0], declRange: b.DefRange}
	content, diags := b.Body.Content(hostSchema)
	d.diags = append(d.diags, diags...)
	h.s = d.settings(content.Attributes)
	if a := content.Attributes["address"]; a != nil {
		h.address = d.str(a, true)
		if h.address.set && hasSpace(h.address.v) {
			d.errorf(h.address.rng, "Invalid address",
				"The address %q of host %q contains white space or control characters.", h.address.v, h.name)
			h.address = opt[string]{}
		}
	}
	if a := content.Attributes["groups"]; a != nil {
		h.groups = d.names(a, "group")
	}
	return h
}

// hasSpace reports whether s contains white space or control characters,
// which no host name, group name or address may hold.
func hasSpace(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) >= 0
}
