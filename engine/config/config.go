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
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/tendhq/tend/internal/hclsrc"
	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/resources"
)

// Config is a loaded spec directory with the modules it uses. It is
// read-only once Load returns and safe for concurrent Compile calls.
type Config struct {
	fsys fs.FS
	dir  string

	// root holds the spec directory's variables and locals, and the
	// resources and module calls of every role (for references).
	root  *module
	roles []*Role
	// modules are the module directories by path in fsys, each loaded once
	// however often it is called; nil for a directory that cannot be read.
	modules map[string]*module

	// mu guards files, templates and varFiles, which grow when
	// templatefile reads a template during Compile, and with LoadVarFile.
	mu        sync.Mutex
	files     map[string]*hcl.File
	templates map[string]*template
	// shared is fsys as resources read it (see sharedFS).
	shared sharedFS
	// calls holds the templatefile calls of the fast form (fast.go):
	// *hclsyntax.FunctionCallExpr -> *templateCall, nil if not.
	calls sync.Map
	// roleSets holds the declarations of each set of roles that selects a
	// host (compile.go): role names joined by NUL -> *roleSet.
	roleSets sync.Map
	// varFiles are the variable files read by LoadVarFile, by path.
	varFiles map[string]*varFile
	// secrets are the age identities and the secrets decrypted with them
	// (secret.go).
	secrets *secretStore
}

// Variable is a declared input variable, of the spec directory or of a
// module.
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

	defaults     *typeexpr.Defaults
	defaultRange hcl.Range
	// parseHCL is true when -var values are HCL expressions rather than
	// literal strings (types other than string, number and bool).
	parseHCL    bool
	validations []*validation
}

// Required reports whether v has no default, so a value must be given.
func (v *Variable) Required() bool { return v.Default == cty.NilVal }

// Role is a named group of resource blocks and module calls, and the host
// patterns that select the hosts it applies to.
type Role struct {
	Name string
	// Hosts are patterns as inventory.Match takes them.
	Hosts []string
	// Prune is the role's prune attribute: resources that this role put on
	// a host and that left the spec are removed from it (engine.Options
	// PruneRoles), not only reported as orphaned.
	Prune bool
	// Rollout is the role's rollout block: its hosts are applied in
	// batches (engine.Options.Rollouts). Nil when the role has none, and
	// its hosts are applied in parallel.
	Rollout   *Rollout
	DeclRange hcl.Range

	resources []*resourceDecl
	calls     []*moduleCall
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

// Load parses the spec files directly in dir of fsys, *.hcl (native
// syntax) and *.hcl.json (HCL's JSON form), in name order (subdirectories
// such as templates/ are not specs), decodes them, and loads every module
// directory their roles call, recursively, each once. File names in ranges
// are paths within fsys, such as "specs/web.hcl".
//
// Load returns a Config even when the diagnostics hold errors: the parts
// that could be decoded are in it, so that a caller can Compile or Validate
// it as well and list every problem at once. A file with syntax errors
// contributes nothing but its errors.
//
// opts give, among others, the age identities of the secret function
// (WithIdentities).
func Load(fsys fs.FS, dir string, opts ...Option) (*Config, hcl.Diagnostics) {
	c := &Config{
		fsys:      fsys,
		dir:       path.Clean(dir),
		modules:   map[string]*module{},
		files:     map[string]*hcl.File{},
		templates: map[string]*template{},
		varFiles:  map[string]*varFile{},
		secrets:   &secretStore{},
	}
	for _, o := range opts {
		o(c)
	}
	c.shared.FS = c.fsys
	c.root = c.newModule(c.dir, true)
	bodies, n, diags, err := c.parseDir(c.dir)
	if err != nil {
		return c, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cannot read spec directory",
			Detail:   fmt.Sprintf("The spec directory %q cannot be read: %v.", dir, err),
		})
	}
	if n == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No spec files",
			Detail:   fmt.Sprintf("The spec directory %q holds no *.hcl or *.hcl.json files.", dir),
		})
	}

	// Declarations first, from every file, then the modules the roles
	// call, then the references between them, which may cross files.
	for _, body := range bodies {
		diags = append(diags, c.decodeRootBody(body)...)
	}
	stack := []string{c.dir}
	for _, r := range c.roles {
		for _, mc := range r.calls {
			diags = append(diags, c.resolveCall(mc, stack)...)
		}
	}
	diags = append(diags, c.checkRefs(c.root)...)
	return c, diags
}

// parseDir parses the spec files directly in dir: *.hcl and *.hcl.json,
// in name order. It returns the bodies of the files without syntax errors
// and the number of spec files found; err is set when dir cannot be read.
func (c *Config) parseDir(dir string) (bodies []hcl.Body, n int, diags hcl.Diagnostics, err error) {
	entries, err := fs.ReadDir(c.fsys, dir)
	if err != nil {
		return nil, 0, nil, err
	}
	// fs.ReadDir returns the entries sorted by name, so files (and the
	// declarations in them) are always seen in the same order.
	parser := hclparse.NewParser()
	for _, e := range entries {
		json := strings.HasSuffix(e.Name(), ".hcl.json")
		if e.IsDir() || !(json || strings.HasSuffix(e.Name(), ".hcl")) {
			continue
		}
		n++
		name := path.Join(dir, e.Name())
		src, err := fs.ReadFile(c.fsys, name)
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
		f, ds := hclsrc.Parse(parser, src, name, json)
		if f != nil {
			c.mu.Lock()
			c.files[name] = f
			c.mu.Unlock()
		}
		diags = append(diags, ds...)
		if ds.HasErrors() || f == nil {
			continue
		}
		bodies = append(bodies, f.Body)
	}
	return bodies, n, diags, nil
}

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "role", LabelNames: []string{"name"}},
	},
}

// decodeRootBody decodes the top-level blocks of one file of the spec
// directory. Content (never PartialContent) reports every unknown block
// type or attribute at its name.
func (c *Config) decodeRootBody(body hcl.Body) hcl.Diagnostics {
	content, diags := body.Content(rootSchema)
	for _, b := range content.Blocks {
		switch b.Type {
		case "variable":
			diags = append(diags, c.root.decodeVariable(b)...)
		case "locals":
			diags = append(diags, c.root.decodeLocals(b)...)
		case "role":
			diags = append(diags, c.decodeRole(b)...)
		}
	}
	return diags
}

// decodeLocals adds the attributes of a locals block to m's locals. Their
// references are checked by checkRefs once every file is decoded.
func (m *module) decodeLocals(b *hcl.Block) hcl.Diagnostics {
	attrs, diags := b.Body.JustAttributes()
	for _, a := range sortedAttrs(attrs) {
		n := a.Name
		if prev, dup := m.localNames[n]; dup {
			diags = append(diags, errorAt(a.NameRange, "Duplicate local value",
				"A local value named %q was already defined at %s. Local value names must be unique.", n, pos(prev.attr.NameRange)))
			continue
		}
		l := &local{name: n, attr: a}
		m.locals = append(m.locals, l)
		m.localNames[n] = l
	}
	return diags
}

// roleSchema is built from the registered kinds: a role holds hosts, prune,
// module calls, a rollout block and one block type per kind.
func roleSchema() *hcl.BodySchema {
	s := &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "hosts", Required: true}, {Name: "prune"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "module", LabelNames: []string{"name"}}, {Type: "rollout"}},
	}
	for _, k := range resources.Kinds() {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: k, LabelNames: []string{"name"}})
	}
	return s
}

// decodeRole decodes a role: its host patterns, resource blocks and module
// calls. A role with a bad or duplicate name is dropped after its body is
// checked.
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
	if a, ok := content.Attributes["prune"]; ok {
		r.Prune, diags = decodePrune(a, diags)
	}
	m := c.root
	for _, rb := range content.Blocks {
		if rb.Type == "rollout" {
			diags = append(diags, r.decodeRollout(rb)...)
			continue
		}
		if rb.Type == "module" {
			mc, ds := m.decodeModuleCall(r, rb)
			diags = append(diags, ds...)
			if mc != nil {
				r.calls = append(r.calls, mc)
				m.callNames[mc.name] = append(m.callNames[mc.name], mc)
			}
			continue
		}
		d, ds := m.decodeResource(r, rb)
		diags = append(diags, ds...)
		if d != nil {
			r.resources = append(r.resources, d)
			m.declared[d.addr] = append(m.declared[d.addr], d)
		}
	}
	c.roles = append(c.roles, r)
	return diags
}

// decodePrune reads a role's prune attribute: a constant true or false.
func decodePrune(a *hcl.Attribute, diags hcl.Diagnostics) (bool, hcl.Diagnostics) {
	val, ds := a.Expr.Value(nil)
	diags = append(diags, ds...)
	if ds.HasErrors() {
		return false, diags
	}
	bv, err := convert.Convert(val, cty.Bool)
	if err != nil || bv.IsNull() || !bv.IsKnown() {
		return false, append(diags, errorAt(a.Expr.Range(), "Invalid prune",
			"The prune attribute of a role must be true or false: with true, resources of this role that leave the spec are removed from the hosts."))
	}
	return bv.True(), diags
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

// Variables returns the variables declared in the spec directory by name
// (not those of modules).
func (c *Config) Variables() map[string]*Variable {
	m := make(map[string]*Variable, len(c.root.variables))
	for k, v := range c.root.variables {
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
