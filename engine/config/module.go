package config

import (
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/tendhq/tend/resources"
)

// module is a directory of declarations: the spec directory itself (the
// root, whose resources and module calls live in roles) or a module
// directory (whose resources and calls are at the top level).
type module struct {
	dir  string
	root bool
	// usesFacts is set when an expression of the module reads host.facts:
	// its hosts are compiled after their facts are gathered.
	usesFacts bool

	variables  map[string]*Variable
	locals     []*local // in declaration order
	localNames map[string]*local
	// resources and calls of a module directory; the root's are in its
	// roles.
	resources []*resourceDecl
	calls     []*moduleCall
	outputs   map[string]*output
	// declared maps the address of every resource block (Kind and Name) to
	// its declarations, and callNames every module call name to its calls:
	// what references may name. In the root several roles may declare one
	// address.
	declared  map[resources.Addr][]*resourceDecl
	callNames map[string][]*moduleCall
	// referenced holds the blocks (Kind and Name) whose values an
	// expression of the module reads: a resource's attribute or an output.
	referenced map[resources.Addr]bool
	// funcs are the functions of the module's expressions: file and
	// templatefile read relative to dir.
	funcs map[string]function.Function
}

// moduleCall is a module block: the module directory it calls, its inputs
// and its meta-arguments.
type moduleCall struct {
	name   string
	block  *hcl.Block
	parent *module
	role   *Role // the role holding the call; nil in a module directory
	source string
	// sourceRange is the source expression; diagnostics about the module
	// directory point there.
	sourceRange hcl.Range
	// mod is the called module; nil when it could not be loaded
	// (reported).
	mod            *module
	inputs         hcl.Attributes
	forEach, count *hcl.Attribute
	dependsOn      []ref
	// bad names the inputs whose expressions refer to something they may
	// not (reported by Load); they are not evaluated.
	bad map[string]bool
	// badRepeat is true when for_each or count has a bad reference.
	badRepeat bool
}

// output is an output block of a module directory: a value the calling
// module reads as module.NAME.OUTPUT.
type output struct {
	name  string
	block *hcl.Block
	value *hcl.Attribute
	refs  []ref
	bad   bool
}

func (c *Config) newModule(dir string, root bool) *module {
	return &module{
		dir:        dir,
		root:       root,
		variables:  map[string]*Variable{},
		localNames: map[string]*local{},
		outputs:    map[string]*output{},
		declared:   map[resources.Addr][]*resourceDecl{},
		callNames:  map[string][]*moduleCall{},
		funcs:      c.functions(dir),
	}
}

// moduleSchema is the top level of a module directory: no roles, the
// resource blocks and module calls directly.
func moduleSchema() *hcl.BodySchema {
	s := &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "module", LabelNames: []string{"name"}},
		{Type: "output", LabelNames: []string{"name"}},
		// Not allowed, but worth a clearer message than "unsupported".
		{Type: "role", LabelNames: []string{"name"}},
	}}
	for _, k := range resources.Kinds() {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: k, LabelNames: []string{"name"}})
	}
	return s
}

// resolveCall checks mc's source and loads the module directory it names,
// unless an earlier call loaded it already. stack holds the directories
// being loaded, the spec directory first: a source among them is a module
// cycle.
func (c *Config) resolveCall(mc *moduleCall, stack []string) hcl.Diagnostics {
	if mc.source == "" {
		return nil // reported by decodeModuleCall
	}
	src := mc.source
	if !strings.HasPrefix(src, "./") && !strings.HasPrefix(src, "../") && src != "." && src != ".." {
		return hcl.Diagnostics{errorAt(mc.sourceRange, "Invalid module source",
			"The module source %q must be a directory of the spec repository, written as a path relative to this file's directory that starts with ./ or ../, such as \"./modules/vhost\".", src)}
	}
	dir := path.Join(mc.parent.dir, src)
	if !fs.ValidPath(dir) {
		return hcl.Diagnostics{errorAt(mc.sourceRange, "Invalid module source",
			"The module source %q leads outside the spec repository.", src)}
	}
	if i := slices.Index(stack, dir); i >= 0 {
		chain := strings.Join(append(slices.Clone(stack[i:]), dir), " -> ")
		return hcl.Diagnostics{errorAt(mc.sourceRange, "Module cycle",
			"The module %q includes itself: %s. A module may not call itself, directly or through other modules.", mc.name, chain)}
	}
	// A directory is loaded at its first call and shared by every later
	// one, broken directories included (nil), so their problems are
	// reported once.
	var diags hcl.Diagnostics
	m, loaded := c.modules[dir]
	if !loaded {
		m, diags = c.loadModule(dir, mc.sourceRange, append(slices.Clone(stack), dir))
		c.modules[dir] = m
	}
	if m == nil {
		return diags
	}
	mc.mod = m
	return append(diags, mc.checkInputs()...)
}

// loadModule parses and decodes the module directory dir, and the modules
// it calls. Problems with the directory itself point at rng, the source of
// the first call.
func (c *Config) loadModule(dir string, rng hcl.Range, stack []string) (*module, hcl.Diagnostics) {
	bodies, n, diags, err := c.parseDir(dir)
	if err != nil {
		return nil, append(diags, errorAt(rng, "Cannot read module directory",
			"The module directory %s cannot be read: %v.", dir, err))
	}
	if n == 0 && !diags.HasErrors() {
		return nil, append(diags, errorAt(rng, "No module files",
			"The module directory %s holds no *.hcl or *.hcl.json files.", dir))
	}
	m := c.newModule(dir, false)
	for _, body := range bodies {
		diags = append(diags, m.decodeBody(body)...)
	}
	for _, mc := range m.calls {
		diags = append(diags, c.resolveCall(mc, stack)...)
	}
	diags = append(diags, c.checkRefs(m)...)
	return m, diags
}

// decodeBody decodes the top-level blocks of one file of a module
// directory. Resource addresses and call names must be unique in a module.
func (m *module) decodeBody(body hcl.Body) hcl.Diagnostics {
	content, diags := body.Content(moduleSchema())
	for _, b := range content.Blocks {
		switch b.Type {
		case "variable":
			diags = append(diags, m.decodeVariable(b)...)
		case "locals":
			diags = append(diags, m.decodeLocals(b)...)
		case "output":
			diags = append(diags, m.decodeOutput(b)...)
		case "role":
			diags = append(diags, errorAt(b.DefRange, "Role in a module",
				"A module holds its resource blocks at the top level; roles, which select hosts, are declared in the spec directory only. The hosts a module applies to are those of the role that calls it."))
		case "module":
			mc, ds := m.decodeModuleCall(nil, b)
			diags = append(diags, ds...)
			if mc == nil {
				continue
			}
			if prev := m.callNames[mc.name]; len(prev) > 0 {
				diags = append(diags, errorAt(b.LabelRanges[0], "Duplicate module call",
					"A module call named %q was already declared at %s. Module call names must be unique in a module.", mc.name, pos(prev[0].block.DefRange)))
				continue
			}
			m.calls = append(m.calls, mc)
			m.callNames[mc.name] = []*moduleCall{mc}
		default:
			d, ds := m.decodeResource(nil, b)
			diags = append(diags, ds...)
			if d == nil {
				continue
			}
			if prev := m.declared[d.addr]; len(prev) > 0 {
				diags = append(diags, errorAt(b.LabelRanges[0], "Duplicate resource",
					"%s is already declared at %s. A resource may be declared once per module.", d.addr, pos(prev[0].block.DefRange)))
				continue
			}
			m.resources = append(m.resources, d)
			m.declared[d.addr] = []*resourceDecl{d}
		}
	}
	return diags
}

var outputSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "value", Required: true},
		{Name: "description"},
		{Name: "sensitive"},
	},
}

// decodeOutput decodes an output block. A sensitive output needs no flag:
// the marks of what it is computed from travel with its value.
func (m *module) decodeOutput(b *hcl.Block) hcl.Diagnostics {
	name := b.Labels[0]
	content, diags := b.Body.Content(outputSchema)
	if !hclsyntax.ValidIdentifier(name) {
		return append(diags, errorAt(b.LabelRanges[0], "Invalid output name",
			"The output name %q is not valid: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", name))
	}
	if prev, dup := m.outputs[name]; dup {
		return append(diags, errorAt(b.LabelRanges[0], "Duplicate output",
			"An output named %q was already declared at %s. Output names must be unique.", name, pos(prev.block.DefRange)))
	}
	if a, ok := content.Attributes["description"]; ok {
		constString(a, &diags)
	}
	o := &output{name: name, block: b, value: content.Attributes["value"]}
	if o.value == nil {
		o.bad = true
	}
	m.outputs[name] = o
	return diags
}

// decodeModuleCall decodes a module block of m (in role r at the root).
// Every attribute but the meta-arguments is an input; they are checked
// against the module's variables once it is loaded.
func (m *module) decodeModuleCall(r *Role, b *hcl.Block) (*moduleCall, hcl.Diagnostics) {
	name := b.Labels[0]
	attrs, diags := b.Body.JustAttributes()
	if !hclsyntax.ValidIdentifier(name) {
		return nil, append(diags, errorAt(b.LabelRanges[0], "Invalid module name",
			"The module name %q is not valid: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", name))
	}
	mc := &moduleCall{name: name, block: b, parent: m, role: r, inputs: hcl.Attributes{}, bad: map[string]bool{}}
	for n, a := range attrs {
		switch n {
		case "source":
			if s, ok := constString(a, &diags); ok {
				mc.source = s
				mc.sourceRange = a.Expr.Range()
				if s == "" {
					diags = append(diags, errorAt(a.Expr.Range(), "Invalid module source",
						"The module source must not be empty: it is the module's directory, such as \"./modules/vhost\"."))
				}
			}
		case "for_each":
			mc.forEach = a
		case "count":
			mc.count = a
		case "depends_on":
			mc.dependsOn, diags = decodeDependsOn(a, diags)
		default:
			mc.inputs[n] = a
		}
	}
	if _, ok := attrs["source"]; !ok {
		diags = append(diags, errorAt(b.DefRange, "Missing required argument",
			"The argument \"source\" is required: the module's directory, such as \"./modules/vhost\"."))
	}
	if mc.forEach != nil && mc.count != nil {
		diags = append(diags, conflictingRepetition(mc.count))
		mc.count = nil
	}
	return mc, diags
}

// checkInputs checks the inputs of mc against the variables of the module
// it calls: every input must be a variable, every required variable an
// input.
func (mc *moduleCall) checkInputs() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, a := range sortedAttrs(mc.inputs) {
		if _, ok := mc.mod.variables[a.Name]; !ok {
			diags = append(diags, errorAt(a.NameRange, "Unsupported argument",
				"An argument named %q is not expected here: the module %s declares no variable %q.", a.Name, mc.mod.dir, a.Name))
			delete(mc.inputs, a.Name)
		}
	}
	for _, n := range sortedNames(mc.mod.variables) {
		if _, ok := mc.inputs[n]; !ok && mc.mod.variables[n].Required() {
			diags = append(diags, errorAt(mc.block.DefRange, "Missing required input variable",
				"The module %s requires the variable %q (declared at %s), but module %q does not set it.", mc.mod.dir, n, pos(mc.mod.variables[n].DeclRange), mc.name))
		}
	}
	return diags
}

// conflictingRepetition reports count next to for_each, at count.
func conflictingRepetition(count *hcl.Attribute) *hcl.Diagnostic {
	return errorAt(count.NameRange, `Invalid combination of "count" and "for_each"`,
		"A block takes count or for_each, not both: count makes numbered instances, for_each one instance per key.")
}

// modulePath prints a module instance path element: module.NAME with the
// instance key, if any.
func modulePath(parent, name, key string) string {
	s := "module." + name
	if key != "" {
		s += "[" + key + "]"
	}
	if parent != "" {
		s = parent + "." + s
	}
	return s
}
