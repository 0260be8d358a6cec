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
)

// sensitiveMark is the cty mark carried by the values of sensitive
// variables and by everything computed from them.
const sensitiveMark = "sensitive"

// ParseVar parses one -var option, NAME=VALUE, for the variables of c. For
// a variable of type string, number or bool, or without a type, VALUE is
// taken literally (then converted: -var port=80 gives the number 80 for a
// number variable); for other types it is an HCL expression, such as
// -var 'ports=[80, 443]'. The value is converted to the variable's type.
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
	decl, ok := c.variables[name]
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

// LoadVarFile reads a -var-file from the operating system's file system: HCL
// attributes NAME = VALUE (or, for a .json file, a JSON object), whose values
// are constants. The values are converted to the variables' types by
// Compile.
func LoadVarFile(path string) (map[string]cty.Value, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read variable file",
			Detail:   fmt.Sprintf("The variable file %q cannot be read: %v.", path, err),
		}}
	}
	p := hclparse.NewParser()
	var f *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(path, ".json") {
		f, diags = p.ParseJSON(src, path)
	} else {
		f, diags = p.ParseHCL(src, path)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	// Values are constants: evaluated without a context, a reference or a
	// function call is an error at its position.
	attrs, ds := f.Body.JustAttributes()
	diags = append(diags, ds...)
	vals := make(map[string]cty.Value, len(attrs))
	for _, a := range sortedAttrs(attrs) {
		v, ds := a.Expr.Value(nil)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			vals[a.Name] = v
		}
	}
	return vals, diags
}

// varValues computes the var object of an evaluation: each declared
// variable's given value, else its default, converted to its type and
// marked when sensitive. A missing or invalid value is a diagnostic and
// becomes unknown, so that what depends on it is not reported again. With
// unknownMissing (Validate), a missing required value is unknown without a
// diagnostic: secrets need not be at hand to check a spec.
func (c *Config) varValues(given map[string]cty.Value, unknownMissing bool) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	vals := make(map[string]cty.Value, len(c.variables))
	for _, name := range sortedNames(c.variables) {
		decl := c.variables[name]
		var v cty.Value
		if g, ok := given[name]; ok {
			cv, err := decl.convert(g)
			if err != nil {
				diags = append(diags, errorAt(decl.DeclRange, "Invalid value for variable",
					"The value given for variable %q does not match its type %s: %s.", name, typeexpr.TypeString(decl.Type), errText(err)))
				cv = cty.UnknownVal(decl.Type)
			}
			v = cv
		} else if !decl.Required() {
			v = decl.Default
		} else if unknownMissing {
			v = cty.UnknownVal(decl.Type)
		} else {
			diags = append(diags, errorAt(decl.DeclRange, "No value for required variable",
				"The variable %q has no default, so a value must be given: -var %s=VALUE, or a -var-file.", name, name))
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

// undeclaredVars warns about given values no variable is declared for.
func (c *Config) undeclaredVars(given map[string]cty.Value) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range sortedNames(given) {
		if _, ok := c.variables[name]; !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("A value is given for %q, but no variable of that name is declared; it is ignored.", name),
			})
		}
	}
	return diags
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
