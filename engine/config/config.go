package config

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/resources"
)

// Config is a loaded spec directory. It is read-only once Load returns and
// safe for concurrent Compile calls.
type Config struct {
	fsys fs.FS
	dir  string

	variables map[string]*Variable
	// locals in declaration order, and by name.
	locals     []*local
	localNames map[string]*local
	roles      []*Role
	// declared maps every resource address of every role to its
	// declarations, for references to resources of other roles.
	declared map[resources.Addr][]*resourceDecl

	funcs map[string]function.Function

	// mu guards files and templates, which grow when templatefile reads a
	// template during Compile.
	mu        sync.Mutex
	files     map[string]*hcl.File
	templates map[string]*template
}

// Variable is a declared input variable.
type Variable struct {
	Name string
	// Type is the type constraint; cty.DynamicPseudoType when there is none.
	Type cty.Type
	// Default is the default value, already converted to Type, or
	// cty.NilVal when the variable is required.
	Default     cty.Value
	Description string
	// Sensitive marks the value and everything derived from it as secret:
	// it is redacted from plans, logs and history.
	Sensitive bool
	DeclRange hcl.Range

	defaults *typeexpr.Defaults
	// parseHCL is true when -var values are HCL expressions rather than
	// literal strings (types other than string, number and bool).
	parseHCL bool
}

// Required reports whether v has no default, so a value must be given.
func (v *Variable) Required() bool { return v.Default == cty.NilVal }

// Role is a named group of resource blocks and the host patterns that select
// the hosts it applies to.
type Role struct {
	Name string
	// Hosts are patterns as inventory.Match takes them.
	Hosts     []string
	DeclRange hcl.Range

	resources []*resourceDecl
}

// local is one attribute of a locals block.
type local struct {
	name string
	attr *hcl.Attribute
	// refs are the names of the locals the expression refers to.
	refs []string
	// bad is true when the expression refers to something undeclared
	// (reported by Load): it is not evaluated, its value is unknown.
	bad bool
}

// resourceDecl is one resource block of a role, decoded but not evaluated.
type resourceDecl struct {
	kind  *resources.Kind
	addr  resources.Addr
	role  *Role
	block *hcl.Block
	// attrs are the kind's attributes that are set (depends_on excluded).
	attrs hcl.Attributes
	// dependsOn holds the references of depends_on, refs those found in
	// the attribute expressions.
	dependsOn []ref
	refs      []ref
	// bad names the attributes whose expressions refer to something
	// undeclared (reported by Load); they are not evaluated.
	bad map[string]bool
	dir string
}

// ref is a reference to a resource, with where it is written.
type ref struct {
	addr resources.Addr
	rng  hcl.Range
}

// Load parses every *.hcl file directly in dir of fsys (in name order;
// subdirectories such as templates/ are not specs) and decodes it. File
// names in ranges are paths within fsys, such as "specs/web.hcl".
//
// Load returns a Config even when the diagnostics hold errors: the parts
// that could be decoded are in it, so that a caller can Compile or Validate
// it as well and list every problem at once. A file with syntax errors
// contributes nothing but its errors.
func Load(fsys fs.FS, dir string) (*Config, hcl.Diagnostics) {
	c := &Config{
		fsys:       fsys,
		dir:        path.Clean(dir),
		variables:  map[string]*Variable{},
		localNames: map[string]*local{},
		declared:   map[resources.Addr][]*resourceDecl{},
		files:      map[string]*hcl.File{},
		templates:  map[string]*template{},
	}
	c.funcs = c.functions()
	var diags hcl.Diagnostics

	entries, err := fs.ReadDir(fsys, c.dir)
	if err != nil {
		return c, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cannot read spec directory",
			Detail:   fmt.Sprintf("The spec directory %q cannot be read: %v.", dir, err),
		})
	}
	// fs.ReadDir returns the entries sorted by name, so files (and the
	// declarations in them) are always seen in the same order.
	parser := hclparse.NewParser()
	var bodies []hcl.Body
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".hcl") {
			continue
		}
		name := path.Join(c.dir, e.Name())
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read spec file",
				Detail:   fmt.Sprintf("The spec file %q cannot be read: %v.", name, err),
			})
			continue
		}
		// The file is kept even with syntax errors, so that diagnostics
		// can show its source; its body is not decoded, as a partial body
		// only leads to confusing follow-up errors.
		f, ds := parser.ParseHCL(src, name)
		if f != nil {
			c.files[name] = f
		}
		diags = append(diags, ds...)
		if ds.HasErrors() || f == nil {
			continue
		}
		bodies = append(bodies, f.Body)
	}
	if len(c.files) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No spec files",
			Detail:   fmt.Sprintf("The spec directory %q holds no *.hcl files.", dir),
		})
	}

	// Declarations first, from every file, then the references between
	// them, which may cross files.
	for _, body := range bodies {
		diags = append(diags, c.decodeBody(body)...)
	}
	diags = append(diags, c.checkRefs()...)
	return c, diags
}

var topSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "role", LabelNames: []string{"name"}},
	},
}

// decodeBody decodes the top-level blocks of one file. Content (never
// PartialContent) reports every unknown block type or attribute at its
// name.
func (c *Config) decodeBody(body hcl.Body) hcl.Diagnostics {
	content, diags := body.Content(topSchema)
	for _, b := range content.Blocks {
		switch b.Type {
		case "variable":
			diags = append(diags, c.decodeVariable(b)...)
		case "locals":
			diags = append(diags, c.decodeLocals(b)...)
		case "role":
			diags = append(diags, c.decodeRole(b)...)
		}
	}
	return diags
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
		{Name: "sensitive"},
	},
}

// decodeVariable decodes a variable block. The default must be a constant
// that matches the type; an invalid one becomes unknown, so that whatever
// uses the variable is not reported again.
func (c *Config) decodeVariable(b *hcl.Block) hcl.Diagnostics {
	name := b.Labels[0]
	v := &Variable{Name: name, Type: cty.DynamicPseudoType, DeclRange: b.DefRange}
	content, diags := b.Body.Content(variableSchema)
	if !hclsyntax.ValidIdentifier(name) {
		diags = append(diags, errorAt(b.LabelRanges[0], "Invalid variable name",
			"The variable name %q is not valid: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", name))
		return diags
	}
	if prev, dup := c.variables[name]; dup {
		diags = append(diags, errorAt(b.LabelRanges[0], "Duplicate variable",
			"A variable named %q was already declared at %s. Variable names must be unique.", name, pos(prev.DeclRange)))
		return diags
	}

	// Terraform's type syntax, optional(...) attributes with defaults
	// included; a variable without type takes any value.
	if a, ok := content.Attributes["type"]; ok {
		ty, defaults, ds := typeexpr.TypeConstraintWithDefaults(a.Expr)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			v.Type, v.defaults = ty, defaults
		}
		v.parseHCL = !ty.IsPrimitiveType()
	}
	if a, ok := content.Attributes["default"]; ok {
		val, ds := a.Expr.Value(nil)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			cv, err := v.convert(val)
			if err != nil {
				diags = append(diags, errorAt(a.Expr.Range(), "Invalid default value for variable",
					"The default value of variable %q does not match its type %s: %s.", name, typeexpr.TypeString(v.Type), errText(err)))
				cv = cty.UnknownVal(v.Type)
			}
			v.Default = cv
		} else {
			v.Default = cty.UnknownVal(v.Type)
		}
	}
	if a, ok := content.Attributes["description"]; ok {
		if s, ok := constString(a, &diags); ok {
			v.Description = s
		}
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		val, ds := a.Expr.Value(nil)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			bv, err := convert.Convert(val, cty.Bool)
			if err != nil || bv.IsNull() {
				diags = append(diags, errorAt(a.Expr.Range(), "Invalid sensitive value",
					"The sensitive argument must be true or false."))
			} else {
				v.Sensitive = bv.True()
			}
		}
	}
	c.variables[name] = v
	return diags
}

// convert applies the type's defaults to val and converts it to the type.
func (v *Variable) convert(val cty.Value) (cty.Value, error) {
	if v.defaults != nil {
		val = v.defaults.Apply(val)
	}
	return convert.Convert(val, v.Type)
}

// decodeLocals adds the attributes of a locals block to the locals. Their
// references are checked by checkRefs once every file is decoded.
func (c *Config) decodeLocals(b *hcl.Block) hcl.Diagnostics {
	attrs, diags := b.Body.JustAttributes()
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	// JustAttributes returns a map; keep the order of the source.
	slices.SortFunc(names, func(x, y string) int { return attrs[x].Range.Start.Byte - attrs[y].Range.Start.Byte })
	for _, n := range names {
		a := attrs[n]
		if prev, dup := c.localNames[n]; dup {
			diags = append(diags, errorAt(a.NameRange, "Duplicate local value",
				"A local value named %q was already defined at %s. Local value names must be unique.", n, pos(prev.attr.NameRange)))
			continue
		}
		l := &local{name: n, attr: a}
		c.locals = append(c.locals, l)
		c.localNames[n] = l
	}
	return diags
}

// roleSchema is built from the registered kinds: a role holds hosts and one
// block type per kind.
func roleSchema() *hcl.BodySchema {
	s := &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "hosts", Required: true}}}
	for _, k := range resources.Kinds() {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: k, LabelNames: []string{"name"}})
	}
	return s
}

// decodeRole decodes a role: its host patterns and its resource blocks. A
// role with a bad or duplicate name is dropped after its body is checked.
func (c *Config) decodeRole(b *hcl.Block) hcl.Diagnostics {
	name := b.Labels[0]
	r := &Role{Name: name, DeclRange: b.DefRange}
	content, diags := b.Body.Content(roleSchema())
	if name == "" || !resources.ValidArg(name) {
		diags = append(diags, errorAt(b.LabelRanges[0], "Invalid role name",
			"A role name must not be empty nor contain a newline or a NUL byte."))
		return diags
	}
	for _, prev := range c.roles {
		if prev.Name == name {
			diags = append(diags, errorAt(b.LabelRanges[0], "Duplicate role",
				"A role named %q was already declared at %s. Role names must be unique.", name, pos(prev.DeclRange)))
			return diags
		}
	}
	if a, ok := content.Attributes["hosts"]; ok {
		r.Hosts, diags = decodeHosts(a, diags)
	}
	for _, rb := range content.Blocks {
		d, ds := c.decodeResource(r, rb)
		diags = append(diags, ds...)
		if d != nil {
			r.resources = append(r.resources, d)
			c.declared[d.addr] = append(c.declared[d.addr], d)
		}
	}
	c.roles = append(c.roles, r)
	return diags
}

// decodeHosts reads a role's host patterns: a constant list of strings,
// each a valid pattern.
func decodeHosts(a *hcl.Attribute, diags hcl.Diagnostics) ([]string, hcl.Diagnostics) {
	val, ds := a.Expr.Value(nil)
	diags = append(diags, ds...)
	if ds.HasErrors() {
		return nil, diags
	}
	lv, err := convert.Convert(val, cty.List(cty.String))
	if err != nil || lv.IsNull() {
		return nil, append(diags, errorAt(a.Expr.Range(), "Invalid hosts",
			`The hosts of a role must be a list of host patterns, such as ["group:web", "host:db1", "web-*"].`))
	}
	var hosts []string
	for _, e := range lv.AsValueSlice() {
		if e.IsNull() {
			return nil, append(diags, errorAt(a.Expr.Range(), "Invalid hosts", "A host pattern must not be null."))
		}
		// Match reports a malformed glob whatever the host, so an empty
		// host finds them at load time rather than at the first match.
		p := e.AsString()
		if _, err := inventory.Match(p, &inventory.Host{}); err != nil || p == "" {
			diags = append(diags, errorAt(a.Expr.Range(), "Invalid host pattern",
				"The host pattern %q is not valid. A pattern is group:NAME, host:NAME or a shell glob of host names such as \"web-*\".", p))
			continue
		}
		hosts = append(hosts, p)
	}
	return hosts, diags
}

// decodeResource decodes one resource block of r. It returns nil when the
// block cannot be a resource (a bad name).
func (c *Config) decodeResource(r *Role, b *hcl.Block) (*resourceDecl, hcl.Diagnostics) {
	// The role schema only admits registered kinds, so kind is not nil.
	// Its schema is the kind's attributes plus the depends_on
	// meta-argument, which the loader handles itself.
	kind := resources.Lookup(b.Type)
	name := b.Labels[0]
	schema := &hcl.BodySchema{}
	for _, a := range kind.Attributes {
		if a.Name != "depends_on" {
			schema.Attributes = append(schema.Attributes, a)
		}
	}
	schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: "depends_on"})
	content, diags := b.Body.Content(schema)
	if name == "" || !resources.ValidArg(name) {
		return nil, append(diags, errorAt(b.LabelRanges[0], "Invalid resource name",
			"The name of a %s must not be empty nor contain a newline or a NUL byte.", b.Type))
	}
	d := &resourceDecl{
		kind:  kind,
		addr:  resources.Addr{Kind: b.Type, Name: name},
		role:  r,
		block: b,
		attrs: hcl.Attributes{},
		bad:   map[string]bool{},
		dir:   c.dir,
	}
	for n, a := range content.Attributes {
		if n == "depends_on" {
			d.dependsOn, diags = decodeDependsOn(a, diags)
			continue
		}
		d.attrs[n] = a
	}
	return d, diags
}

// decodeDependsOn reads depends_on: a list of references kind["name"].
func decodeDependsOn(a *hcl.Attribute, diags hcl.Diagnostics) ([]ref, hcl.Diagnostics) {
	exprs, ds := hcl.ExprList(a.Expr)
	if ds.HasErrors() {
		return nil, append(diags, errorAt(a.Expr.Range(), "Invalid depends_on",
			`depends_on must be a list of resource references, such as [directory["/etc/app"], file["/etc/app/app.conf"]].`))
	}
	// Each entry must be a static reference: the graph is built before
	// anything is evaluated.
	var refs []ref
	for _, e := range exprs {
		t, ds := hcl.AbsTraversalForExpr(e)
		if ds.HasErrors() {
			diags = append(diags, errorAt(e.Range(), "Invalid depends_on reference",
				`A depends_on entry must be a resource reference such as file["/etc/motd"], with the name as a literal string.`))
			continue
		}
		r, ok, d := parseRef(t)
		switch {
		case d != nil:
			diags = append(diags, d)
		case !ok:
			diags = append(diags, errorAt(t.SourceRange(), "Invalid depends_on reference",
				"A depends_on entry must be a resource reference such as file[\"/etc/motd\"], where the kind is one of %s.", kindList()))
		case len(t) > 2:
			diags = append(diags, errorAt(t.SourceRange(), "Invalid depends_on reference",
				"A depends_on entry names a whole resource, such as %s, not one of its attributes.", refText(r.addr)))
		default:
			refs = append(refs, r)
		}
	}
	return refs, diags
}

// Files returns every parsed file, spec files and the templates read so far,
// keyed by the file name used in ranges; give it to
// hcl.NewDiagnosticTextWriter to print diagnostics with source snippets.
func (c *Config) Files() map[string]*hcl.File {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]*hcl.File, len(c.files))
	for k, v := range c.files {
		m[k] = v
	}
	return m
}

// Variables returns the declared variables by name.
func (c *Config) Variables() map[string]*Variable {
	m := make(map[string]*Variable, len(c.variables))
	for k, v := range c.variables {
		m[k] = v
	}
	return m
}

// Roles returns the roles in declaration order (files in name order).
func (c *Config) Roles() []*Role { return slices.Clone(c.roles) }

// Selects reports whether r applies to h: whether one of r's patterns
// matches h (see inventory.Match).
func (c *Config) Selects(r *Role, h *inventory.Host) bool {
	ok, err := inventory.MatchAny(r.Hosts, h)
	return err == nil && ok
}

// errorAt returns an error diagnostic whose Subject is rng.
func errorAt(rng hcl.Range, summary, format string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	}
}

// pos prints where rng starts as file:line:column.
func pos(rng hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", rng.Filename, rng.Start.Line, rng.Start.Column)
}

// errText prints a cty error, with the path of a cty.PathError.
func errText(err error) string {
	var pe cty.PathError
	if e, ok := err.(cty.PathError); ok {
		pe = e
		if len(pe.Path) > 0 {
			return fmt.Sprintf("at %s: %s", pathText(pe.Path), pe.Error())
		}
	}
	return err.Error()
}

// pathText prints a cty.Path as an HCL traversal: .attr, [0], ["key"].
func pathText(p cty.Path) string {
	var b strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case cty.GetAttrStep:
			b.WriteString("." + s.Name)
		case cty.IndexStep:
			if s.Key.Type() == cty.String {
				fmt.Fprintf(&b, "[%q]", s.Key.AsString())
			} else if s.Key.Type() == cty.Number {
				fmt.Fprintf(&b, "[%s]", s.Key.AsBigFloat().Text('f', -1))
			} else {
				b.WriteString("[...]")
			}
		}
	}
	return strings.TrimPrefix(b.String(), ".")
}

// constString evaluates a as a constant string.
func constString(a *hcl.Attribute, diags *hcl.Diagnostics) (string, bool) {
	val, ds := a.Expr.Value(nil)
	*diags = append(*diags, ds...)
	if ds.HasErrors() {
		return "", false
	}
	sv, err := convert.Convert(val, cty.String)
	if err != nil || sv.IsNull() {
		*diags = append(*diags, errorAt(a.Expr.Range(), "Invalid "+a.Name,
			"The %s argument must be a string.", a.Name))
		return "", false
	}
	return sv.AsString(), true
}
