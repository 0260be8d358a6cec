package config

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	ctyyaml "github.com/zclconf/go-cty-yaml"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// stdFuncs are the pure functions, by the names Terraform gives them. They
// are shared by every Config: function values are immutable.
var stdFuncs = map[string]function.Function{
	// numbers
	"abs":      stdlib.AbsoluteFunc,
	"ceil":     stdlib.CeilFunc,
	"floor":    stdlib.FloorFunc,
	"log":      stdlib.LogFunc,
	"max":      stdlib.MaxFunc,
	"min":      stdlib.MinFunc,
	"parseint": stdlib.ParseIntFunc,
	"pow":      stdlib.PowFunc,
	"signum":   stdlib.SignumFunc,
	// strings
	"chomp":       stdlib.ChompFunc,
	"endswith":    endsWithFunc,
	"format":      stdlib.FormatFunc,
	"formatlist":  stdlib.FormatListFunc,
	"indent":      stdlib.IndentFunc,
	"join":        stdlib.JoinFunc,
	"lower":       stdlib.LowerFunc,
	"regex":       stdlib.RegexFunc,
	"regexall":    stdlib.RegexAllFunc,
	"replace":     replaceFunc,
	"split":       stdlib.SplitFunc,
	"startswith":  startsWithFunc,
	"strcontains": strContainsFunc,
	"strrev":      stdlib.ReverseFunc,
	"substr":      stdlib.SubstrFunc,
	"title":       stdlib.TitleFunc,
	"trim":        stdlib.TrimFunc,
	"trimprefix":  stdlib.TrimPrefixFunc,
	"trimspace":   stdlib.TrimSpaceFunc,
	"trimsuffix":  stdlib.TrimSuffixFunc,
	"upper":       stdlib.UpperFunc,
	// collections
	"chunklist":              stdlib.ChunklistFunc,
	"coalesce":               coalesceFunc,
	"coalescelist":           stdlib.CoalesceListFunc,
	"compact":                stdlib.CompactFunc,
	"concat":                 stdlib.ConcatFunc,
	"contains":               stdlib.ContainsFunc,
	"distinct":               stdlib.DistinctFunc,
	"element":                stdlib.ElementFunc,
	"flatten":                stdlib.FlattenFunc,
	"keys":                   stdlib.KeysFunc,
	"length":                 lengthFunc,
	"lookup":                 stdlib.LookupFunc,
	"merge":                  stdlib.MergeFunc,
	"range":                  stdlib.RangeFunc,
	"reverse":                stdlib.ReverseListFunc,
	"setintersection":        stdlib.SetIntersectionFunc,
	"setproduct":             stdlib.SetProductFunc,
	"setsubtract":            stdlib.SetSubtractFunc,
	"setsymmetricdifference": stdlib.SetSymmetricDifferenceFunc,
	"setunion":               stdlib.SetUnionFunc,
	"slice":                  stdlib.SliceFunc,
	"sort":                   stdlib.SortFunc,
	"values":                 stdlib.ValuesFunc,
	"zipmap":                 stdlib.ZipmapFunc,
	// encodings
	"base64decode": base64DecodeFunc,
	"base64encode": base64EncodeFunc,
	"csvdecode":    stdlib.CSVDecodeFunc,
	"jsondecode":   stdlib.JSONDecodeFunc,
	"jsonencode":   stdlib.JSONEncodeFunc,
	"yamldecode":   ctyyaml.YAMLDecodeFunc,
	"yamlencode":   ctyyaml.YAMLEncodeFunc,
	// hashes
	"md5":    hashFunc(md5.New),
	"sha1":   hashFunc(sha1.New),
	"sha256": hashFunc(sha256.New),
	"sha512": hashFunc(sha512.New),
	// time
	"formatdate": stdlib.FormatDateFunc,
	"timeadd":    stdlib.TimeAddFunc,
	// types
	"can":      tryfunc.CanFunc,
	"tobool":   stdlib.MakeToFunc(cty.Bool),
	"tolist":   stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
	"tomap":    stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
	"tonumber": stdlib.MakeToFunc(cty.Number),
	"toset":    stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
	"tostring": stdlib.MakeToFunc(cty.String),
	"try":      tryfunc.TryFunc,
}

// functions returns the functions of the expressions of the spec or module
// directory dir: stdFuncs plus those that read files of the spec file
// system, relative to dir. Templates get the same set without templatefile.
func (c *Config) functions(dir string) map[string]function.Function {
	inTemplates := make(map[string]function.Function, len(stdFuncs)+4)
	for n, f := range stdFuncs {
		inTemplates[n] = f
	}
	inTemplates["file"] = c.fileFunc(dir)
	inTemplates["filebase64"] = c.fileBase64Func(dir)
	inTemplates["fileexists"] = c.fileExistsFunc(dir)
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
	expr, diags := hclsyntax.ParseTemplate(src, full, hcl.InitialPos)
	t := &template{expr: expr, diags: diags}
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

// lengthFunc is Terraform's length: the number of elements of a collection,
// or of characters of a string.
var lengthFunc = function.New(&function.Spec{
	Description: "Returns the number of elements of a list, set, map, tuple or object, or of characters of a string.",
	Params: []function.Parameter{{
		Name:             "value",
		Type:             cty.DynamicPseudoType,
		AllowDynamicType: true,
	}},
	Type: func(args []cty.Value) (cty.Type, error) {
		ty := args[0].Type()
		switch {
		case ty == cty.String, ty == cty.DynamicPseudoType, ty.IsCollectionType(), ty.IsTupleType(), ty.IsObjectType():
			return cty.Number, nil
		}
		return cty.NilType, function.NewArgErrorf(0, "the argument must be a string, a collection or a structure, not %s", ty.FriendlyName())
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v := args[0]
		switch ty := v.Type(); {
		case ty == cty.String:
			return stdlib.Strlen(v)
		case ty.IsObjectType():
			return cty.NumberIntVal(int64(len(ty.AttributeTypes()))), nil
		}
		return v.Length(), nil
	},
})

// coalesceFunc is Terraform's coalesce: the first argument that is neither
// null nor an empty string, all converted to one type.
var coalesceFunc = function.New(&function.Spec{
	Description: "Returns the first argument that is neither null nor an empty string.",
	VarParam: &function.Parameter{
		Name:             "vals",
		Type:             cty.DynamicPseudoType,
		AllowUnknown:     true,
		AllowDynamicType: true,
		AllowNull:        true,
	},
	Type: func(args []cty.Value) (cty.Type, error) {
		types := make([]cty.Type, len(args))
		for i, a := range args {
			types[i] = a.Type()
		}
		ty, _ := convert.UnifyUnsafe(types)
		if ty == cty.NilType {
			return cty.NilType, errors.New("all arguments must be of the same type")
		}
		return ty, nil
	},
	Impl: func(args []cty.Value, ty cty.Type) (cty.Value, error) {
		for _, a := range args {
			// An unknown argument may be the first usable one: the
			// result is unknown too.
			if !a.IsKnown() {
				return cty.UnknownVal(ty), nil
			}
			if a.IsNull() {
				continue
			}
			v, err := convert.Convert(a, ty)
			if err != nil {
				return cty.UnknownVal(ty), err
			}
			if ty == cty.String && v.AsString() == "" {
				continue
			}
			return v, nil
		}
		return cty.NilVal, errors.New("no argument is neither null nor an empty string")
	},
})

// replaceFunc is Terraform's replace: a substring written /like this/ is a
// regular expression.
var replaceFunc = function.New(&function.Spec{
	Description: "Replaces every occurrence of substr in str; a substr in slashes, /re/, is a regular expression.",
	Params: []function.Parameter{
		{Name: "str", Type: cty.String},
		{Name: "substr", Type: cty.String},
		{Name: "replace", Type: cty.String},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		sub := args[1].AsString()
		if len(sub) > 1 && strings.HasPrefix(sub, "/") && strings.HasSuffix(sub, "/") {
			return stdlib.RegexReplace(args[0], cty.StringVal(sub[1:len(sub)-1]), args[2])
		}
		return stdlib.Replace(args[0], args[1], args[2])
	},
})

func stringPredicate(desc string, f func(s, sub string) bool) function.Function {
	return function.New(&function.Spec{
		Description: desc,
		Params: []function.Parameter{
			{Name: "str", Type: cty.String},
			{Name: "substr", Type: cty.String},
		},
		Type: function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(f(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

var (
	startsWithFunc  = stringPredicate("Reports whether str starts with substr.", strings.HasPrefix)
	endsWithFunc    = stringPredicate("Reports whether str ends with substr.", strings.HasSuffix)
	strContainsFunc = stringPredicate("Reports whether str contains substr.", strings.Contains)
)

// hashFunc returns a function giving the hex digest of a string's UTF-8
// bytes.
func hashFunc(h func() hash.Hash) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the hexadecimal digest of the UTF-8 bytes of a string.",
		Params:      []function.Parameter{{Name: "str", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			d := h()
			d.Write([]byte(args[0].AsString()))
			return cty.StringVal(hex.EncodeToString(d.Sum(nil))), nil
		},
	})
}

var base64EncodeFunc = function.New(&function.Spec{
	Description: "Returns the standard base64 encoding of a string's UTF-8 bytes.",
	Params:      []function.Parameter{{Name: "str", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(args[0].AsString()))), nil
	},
})

var base64DecodeFunc = function.New(&function.Spec{
	Description: "Decodes a standard base64 string; the result must be UTF-8 text.",
	Params:      []function.Parameter{{Name: "str", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		b, err := base64.StdEncoding.DecodeString(args[0].AsString())
		if err != nil {
			return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "the string is not valid base64: %v", err)
		}
		if !utf8.Valid(b) {
			return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "the decoded bytes are not valid UTF-8 text")
		}
		return cty.StringVal(string(b)), nil
	},
})
