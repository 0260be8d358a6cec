package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/tendhq/tend/internal/hclfuncs"
	"github.com/tendhq/tend/internal/hclsrc"
)

// functions returns the functions of the expressions of the spec or module
// directory dir: hclfuncs.Pure() plus those that read files of the spec file
// system, relative to dir, and secret (secret.go), which decrypts them.
// Templates get the same set without templatefile. The inventory shares
// hclfuncs but not secret: secrets belong in specs.
func (c *Config) functions(dir string) map[string]function.Function {
	inTemplates := hclfuncs.Pure()
	inTemplates["file"] = c.fileFunc(dir)
	inTemplates["filebase64"] = c.fileBase64Func(dir)
	inTemplates["fileexists"] = c.fileExistsFunc(dir)
	inTemplates["secret"] = c.secretFunc(dir)
	all := make(map[string]function.Function, len(inTemplates)+1)
	for n, f := range inTemplates {
		all[n] = f
	}
	all["templatefile"] = c.templateFileFunc(dir, inTemplates)
	return all
}

// resolve turns a path written in a spec, relative to the spec or module
// directory dir, into a path of the spec file system. Absolute paths and
// paths that leave the file system's root are errors.
func (c *Config) resolve(dir, p string) (string, error) {
	if p == "" {
		return "", errors.New("the path is empty")
	}
	if path.IsAbs(p) {
		return "", fmt.Errorf("the path %q is absolute; paths are relative to the directory of the spec or module", p)
	}
	// path.Join cleans "a/../.." into "..", which fs.ValidPath rejects:
	// a spec may read anything in its repository, nothing outside it.
	full := path.Join(dir, p)
	if !fs.ValidPath(full) {
		return "", fmt.Errorf("the path %q leads outside the spec repository", p)
	}
	return full, nil
}

// readFile reads a file of the spec file system for file, filebase64 and
// templatefile.
func (c *Config) readFile(dir, p string) (string, []byte, error) {
	full, err := c.resolve(dir, p)
	if err != nil {
		return "", nil, err
	}
	b, err := fs.ReadFile(c.fsys, full)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return full, nil, fmt.Errorf("no file %s in the spec repository", full)
	case err != nil:
		return full, nil, fmt.Errorf("read %s: %v", full, err)
	}
	return full, b, nil
}

func (c *Config) fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the content of a file of the spec or module directory, which must be UTF-8 text.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			full, b, err := c.readFile(dir, args[0].AsString())
			if err != nil {
				return cty.UnknownVal(cty.String), function.NewArgError(0, err)
			}
			if !utf8.Valid(b) {
				return cty.UnknownVal(cty.String), function.NewArgErrorf(0,
					"the content of %s is not valid UTF-8; use filebase64 for binary files", full)
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

func (c *Config) fileBase64Func(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the content of a file of the spec directory, base64-encoded.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			_, b, err := c.readFile(dir, args[0].AsString())
			if err != nil {
				return cty.UnknownVal(cty.String), function.NewArgError(0, err)
			}
			return cty.StringVal(base64.StdEncoding.EncodeToString(b)), nil
		},
	})
}

func (c *Config) fileExistsFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Reports whether a file of the spec directory exists.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			full, err := c.resolve(dir, args[0].AsString())
			if err != nil {
				return cty.UnknownVal(cty.Bool), function.NewArgError(0, err)
			}
			st, err := fs.Stat(c.fsys, full)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return cty.False, nil
			case err != nil:
				return cty.UnknownVal(cty.Bool), function.NewArgErrorf(0, "stat %s: %v", full, err)
			}
			return cty.BoolVal(st.Mode().IsRegular()), nil
		},
	})
}

// template is a parsed template file, cached for every host.
type template struct {
	expr  hcl.Expression
	diags hcl.Diagnostics
}

// templateError carries the diagnostics of a template's evaluation out of
// templatefile, so that they can replace HCL's "Error in function call"
// and point into the template file (see templateDiags).
type templateError struct{ diags hcl.Diagnostics }

// Error prints the template's diagnostics.
func (e *templateError) Error() string { return e.diags.Error() }

// loadTemplate reads and parses a template once; its file joins Files so
// that diagnostics show its source.
func (c *Config) loadTemplate(dir, p string) (*template, error) {
	full, err := c.resolve(dir, p)
	if err != nil {
		return nil, err
	}
	// One lock for the whole load: hosts compiled at once read a template
	// once, and Files never sees a half-registered one.
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.templates[full]; ok {
		return t, nil
	}
	_, src, err := c.readFile(dir, p)
	if err != nil {
		return nil, err
	}
	var t *template
	if d := hclsrc.CheckUTF8(src, full); d != nil {
		// Refused before HCL's scanner, which miscounts lines after
		// invalid UTF-8 (internal/hclsrc).
		t = &template{diags: hcl.Diagnostics{d}}
	} else {
		expr, diags := hclsyntax.ParseTemplate(src, full, hcl.InitialPos)
		t = &template{expr: expr, diags: diags}
	}
	c.templates[full] = t
	c.files[full] = &hcl.File{Bytes: src}
	return t, nil
}

func (c *Config) templateFileFunc(dir string, funcs map[string]function.Function) function.Function {
	return function.New(&function.Spec{
		Description: "Renders a template file of the spec directory with the given variables.",
		Params: []function.Parameter{
			{Name: "path", Type: cty.String},
			{Name: "vars", Type: cty.DynamicPseudoType},
		},
		Type: function.StaticReturnType(cty.DynamicPseudoType),
		// Marks need no care here: cty unmarks the arguments (deeply)
		// before Impl and marks the result with all their marks, so a
		// template that uses a sensitive value renders a sensitive string.
		// An unknown vars object makes the result unknown without a call.
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			t, err := c.loadTemplate(dir, args[0].AsString())
			if err != nil {
				return cty.DynamicVal, function.NewArgError(0, err)
			}
			if t.diags.HasErrors() {
				return cty.DynamicVal, &templateError{t.diags}
			}
			vars := args[1]
			ty := vars.Type()
			if !ty.IsObjectType() && !ty.IsMapType() {
				return cty.DynamicVal, function.NewArgErrorf(1,
					"the template variables must be an object such as { port = 80 }, not %s", ty.FriendlyName())
			}
			// The template sees only its vars, not var, local or host:
			// what it uses is visible at the call.
			ctx := &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: funcs}
			if !vars.IsNull() {
				for k, v := range vars.AsValueMap() {
					ctx.Variables[k] = v
				}
			}
			if v, ok := renderTemplate(t, func(n string) (cty.Value, bool) { v, ok := ctx.Variables[n]; return v, ok }); ok {
				return v, nil
			}
			// A function can only return an error; the diagnostics travel
			// in it and templateDiags puts them back in place.
			v, diags := t.expr.Value(ctx)
			if diags.HasErrors() {
				return cty.DynamicVal, &templateError{diags}
			}
			return v, nil
		},
	})
}

// templateDiags replaces the "Error in function call" diagnostics of failed
// templatefile calls with the template's own diagnostics, which point into
// the template file.
func templateDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range diags {
		// HCL keeps the function's error in the diagnostic's Extra.
		if extra, ok := hcl.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d); ok {
			var te *templateError
			if errors.As(extra.FunctionCallError(), &te) {
				out = append(out, te.diags...)
				continue
			}
		}
		out = append(out, d)
	}
	return out
}
