package config

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/tendhq/tend/internal/hclsrc"
)

// sensitiveMark is the cty mark carried by the values of sensitive
// variables and by everything computed from them.
const sensitiveMark = "sensitive"

// Value is a value given for a variable of the spec directory, with where
// it was written, so that a problem with it points there.
type Value struct {
	Value cty.Value
	// Range is the value's expression in a variable file. It is zero for a
	// value given with -var (or by a program): a problem with it points at
	// the variable's declaration and says it was given with --var.
	Range hcl.Range
}

// fromFile reports whether v was read from a variable file.
func (v Value) fromFile() bool { return v.Range.Filename != "" }

// validation is a validation block of a variable.
type validation struct {
	condition hcl.Expression
	message   hcl.Expression
	rng       hcl.Range // the block's header
	// bad is true when an expression refers to something it may not
	// (reported by Load); the validation is not run.
	bad bool
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
		{Name: "sensitive"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true},
		{Name: "error_message", Required: true},
	},
}

// decodeVariable decodes a variable block of m. The default must be a
// constant that matches the type and passes the validations; an invalid
// one becomes unknown, so that whatever uses the variable is not reported
// again.
func (m *module) decodeVariable(b *hcl.Block) hcl.Diagnostics {
	name := b.Labels[0]
	v := &Variable{Name: name, Type: cty.DynamicPseudoType, DeclRange: b.DefRange}
	content, diags := b.Body.Content(variableSchema)
	if !hclsyntax.ValidIdentifier(name) {
		diags = append(diags, errorAt(b.LabelRanges[0], "Invalid variable name",
			"The variable name %q is not valid: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", name))
		return diags
	}
	if prev, dup := m.variables[name]; dup {
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
		v.defaultRange = a.Expr.Range()
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
	for _, vb := range content.Blocks {
		vc, ds := vb.Body.Content(validationSchema)
		diags = append(diags, ds...)
		cond, msg := vc.Attributes["condition"], vc.Attributes["error_message"]
		if cond == nil || msg == nil {
			continue
		}
		v.validations = append(v.validations, &validation{condition: cond.Expr, message: msg.Expr, rng: vb.DefRange})
	}
	m.variables[name] = v
	return diags
}

// validateDefaults runs the validations of the variables of m on their
// defaults, once, after checkRefs flagged the bad ones.
func (m *module) validateDefaults() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, n := range sortedNames(m.variables) {
		v := m.variables[n]
		if v.Required() || !v.Default.IsWhollyKnown() {
			continue
		}
		diags = append(diags, v.validate(v.Default, m.funcs, v.defaultRange, "the default value")...)
	}
	return diags
}

// validate runs v's validations on val. A failed condition is an error at
// subject, the expression that gave the value; origin says where the value
// came from when subject cannot ("" when it can). Unknown values and
// conditions are not checked.
func (v *Variable) validate(val cty.Value, funcs map[string]function.Function, subject hcl.Range, origin string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, vl := range v.validations {
		if vl.bad {
			continue
		}
		ctx := &hcl.EvalContext{
			Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{v.Name: val})},
			Functions: funcs,
		}
		res, ds := vl.condition.Value(ctx)
		diags = append(diags, ds...)
		if ds.HasErrors() || !res.IsKnown() {
			continue
		}
		res, _ = res.Unmark()
		bv, err := convert.Convert(res, cty.Bool)
		if err != nil || bv.IsNull() {
			diags = append(diags, errorAt(vl.condition.Range(), "Invalid validation condition",
				"The condition of a variable validation must be true or false, not %s.", valueKind(res)))
			continue
		}
		if bv.True() {
			continue
		}
		msg := "The value is not valid."
		if mv, ds := vl.message.Value(ctx); !ds.HasErrors() && mv.IsKnown() {
			if mv.IsMarked() {
				msg = "The value is not valid (the error message is sensitive)."
			} else if sv, err := convert.Convert(mv, cty.String); err == nil && !sv.IsNull() {
				msg = strings.TrimSpace(sv.AsString())
			}
		}
		// The message is the user's; where the rule is and (for -var)
		// where the value came from follow it.
		how := ""
		if origin != "" {
			how = " on " + origin
		}
		diags = append(diags, errorAt(subject, "Invalid value for variable",
			"%s\n\nThis was checked by the validation rule of variable %q at %s%s.", msg, v.Name, pos(vl.rng), how))
	}
	return diags
}

// valueKind names a value's type for messages, or says it is null.
func valueKind(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	return v.Type().FriendlyName()
}

// ParseVar parses one -var option, NAME=VALUE, for the variables of c. For
// a variable of type string, number or bool, or without a type, VALUE is
// taken literally (then converted: -var port=80 gives the number 80 for a
// number variable); for other types it is an HCL expression, such as
// -var 'ports=[80, 443]'. The value is converted to the variable's type.
// Give it to Compile as a Value without a Range.
func ParseVar(c *Config, arg string) (name string, v cty.Value, diags hcl.Diagnostics) {
	name, raw, ok := strings.Cut(arg, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return "", cty.NilVal, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid -var option",
			Detail:   fmt.Sprintf("The option -var %q is not of the form NAME=VALUE, as in -var app_port=5000.", arg),
		}}
	}
	decl, ok := c.root.variables[name]
	if !ok {
		return name, cty.NilVal, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Value for undeclared variable",
			Detail:   fmt.Sprintf("The option -var sets %q, but no variable of that name is declared. Declare it with a variable %q block, or correct the name.", name, name),
		}}
	}
	// Primitive types take the text literally, as a shell user expects
	// (-var name=web needs no HCL quotes); conversion makes numbers and
	// bools of it.
	if !decl.parseHCL {
		v = cty.StringVal(raw)
	} else {
		// The value gets a pseudo file name so that diagnostics say where
		// it came from.
		fname := fmt.Sprintf("<value for var.%s>", name)
		expr, ds := hclsyntax.ParseExpression([]byte(raw), fname, hcl.InitialPos)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			return name, cty.NilVal, diags
		}
		v, ds = expr.Value(nil)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			return name, cty.NilVal, diags
		}
	}
	cv, err := decl.convert(v)
	if err != nil {
		return name, cty.NilVal, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail:   fmt.Sprintf("The value given with -var for variable %q does not match its type %s: %s.", name, typeexpr.TypeString(decl.Type), errText(err)),
		})
	}
	return name, cv, diags
}

// LoadVarFile reads a variable file from the operating system's file
// system: HCL attributes NAME = VALUE (or, for a .json file, a JSON
// object), whose values are constants. Each value keeps the range of its
// expression. The values are converted to the variables' types by Compile,
// which also warns about names no variable declares.
func LoadVarFile(path string) (map[string]Value, hcl.Diagnostics) {
	vals, _, diags := loadVarFile(path)
	return vals, diags
}

// LoadVarFile is the package's LoadVarFile, cached by path for c's
// lifetime (an inventory's hosts share their files); the file joins Files,
// so that diagnostics about its values print with their source line.
func (c *Config) LoadVarFile(path string) (map[string]Value, hcl.Diagnostics) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if vf, ok := c.varFiles[path]; ok {
		return vf.vals, vf.diags
	}
	vals, f, diags := loadVarFile(path)
	c.varFiles[path] = &varFile{vals: vals, diags: diags}
	if f != nil {
		c.files[path] = f
	}
	return vals, diags
}

// varFile is a cached variable file.
type varFile struct {
	vals  map[string]Value
	diags hcl.Diagnostics
}

func loadVarFile(path string) (map[string]Value, *hcl.File, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read variable file",
			Detail:   fmt.Sprintf("The variable file %q cannot be read: %v.", path, err),
		}}
	}
	p := hclparse.NewParser()
	f, diags := hclsrc.Parse(p, src, path, strings.HasSuffix(path, ".json"))
	if diags.HasErrors() {
		return nil, f, diags
	}
	// Values are constants: evaluated without a context, a reference or a
	// function call is an error at its position.
	attrs, ds := f.Body.JustAttributes()
	diags = append(diags, ds...)
	vals := make(map[string]Value, len(attrs))
	for _, a := range sortedAttrs(attrs) {
		v, ds := a.Expr.Value(nil)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			vals[a.Name] = Value{Value: v, Range: a.Expr.Range()}
		}
	}
	return vals, f, diags
}

// varValues computes the var object of the spec directory: each declared
// variable's given value, else its default, converted to its type, checked
// by its validations and marked when sensitive. A missing or invalid value
// is a diagnostic and becomes unknown, so that what depends on it is not
// reported again. With unknownMissing (Validate), a missing required value
// is unknown without a diagnostic: secrets need not be at hand to check a
// spec.
func (c *Config) varValues(given map[string]Value, unknownMissing bool) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	vars := c.root.variables
	vals := make(map[string]cty.Value, len(vars))
	for _, name := range sortedNames(vars) {
		decl := vars[name]
		var v cty.Value
		if g, ok := given[name]; ok {
			subject, origin := g.Range, ""
			switch {
			case !g.fromFile():
				subject, origin = decl.DeclRange, "the value given with --var"
			case decl.Sensitive:
				// A diagnostic shows its subject's source line: for a
				// sensitive value, the declaration instead of the value.
				subject, origin = decl.DeclRange, "the sensitive value given at "+pos(g.Range)
			}
			cv, err := decl.convert(g.Value)
			switch {
			case err != nil && g.fromFile():
				diags = append(diags, errorAt(subject, "Invalid value for variable",
					"The value given in %s for variable %q does not match its type %s: %s.", g.Range.Filename, name, typeexpr.TypeString(decl.Type), errText(err)))
				cv = cty.UnknownVal(decl.Type)
			case err != nil:
				diags = append(diags, errorAt(subject, "Invalid value for variable",
					"The value given with --var for variable %q does not match its type %s: %s.", name, typeexpr.TypeString(decl.Type), errText(err)))
				cv = cty.UnknownVal(decl.Type)
			default:
				diags = append(diags, decl.validate(cv, c.root.funcs, subject, origin)...)
			}
			v = cv
		} else if !decl.Required() {
			v = decl.Default
		} else if unknownMissing {
			v = cty.UnknownVal(decl.Type)
		} else {
			diags = append(diags, errorAt(decl.DeclRange, "No value for required variable",
				"The variable %q has no default, so a value must be given: -var %s=VALUE, a -var-file, or a vars_files file of the inventory.", name, name))
			v = cty.UnknownVal(decl.Type)
		}
		// The mark follows the value through expressions, functions and
		// templates, and ends as Attr.Sensitive.
		if decl.Sensitive {
			v = v.Mark(sensitiveMark)
		}
		vals[name] = v
	}
	return cty.ObjectVal(vals), diags
}

// undeclaredVars warns about given values no variable is declared for, at
// the value when it comes from a file. With fileOnly, values given
// otherwise are skipped (-var reports them itself).
func (c *Config) undeclaredVars(given map[string]Value, fileOnly bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range sortedNames(given) {
		if _, ok := c.root.variables[name]; ok {
			continue
		}
		g := given[name]
		if fileOnly && !g.fromFile() {
			continue
		}
		d := &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Value for undeclared variable",
			Detail:   fmt.Sprintf("A value is given for %q, but no variable of that name is declared; it is ignored.", name),
		}
		if g.fromFile() {
			d.Subject = g.Range.Ptr()
		}
		diags = append(diags, d)
	}
	return diags
}

// convert applies the type's defaults to val and converts it to the type.
func (v *Variable) convert(val cty.Value) (cty.Value, error) {
	if v.defaults != nil {
		val = v.defaults.Apply(val)
	}
	return convert.Convert(val, v.Type)
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
