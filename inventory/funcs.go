package inventory

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/tendhq/tend/internal/hclfuncs"
)

// evalContext is what inventory expressions may use: the functions below and
// no variables at all, so that a reference such as var.x is reported as an
// error where it is written.
func evalContext(lookupEnv func(string) (string, bool)) *hcl.EvalContext {
	return &hcl.EvalContext{Functions: functions(lookupEnv)}
}

// functions returns the function table of the inventory language: the pure
// functions of the spec language (internal/hclfuncs), and env.
func functions(lookupEnv func(string) (string, bool)) map[string]function.Function {
	fs := hclfuncs.Pure()
	fs["env"] = envFunc(lookupEnv)
	return fs
}

// envFunc is env(NAME) and env(NAME, DEFAULT): the value of an environment
// variable of the tend process. An unset variable gives DEFAULT, or "" when
// none is given; a variable set to "" gives "".
func envFunc(lookupEnv func(string) (string, bool)) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable of the tend process, or the default when it is unset.",
		Params: []function.Parameter{
			{Name: "name", Type: cty.String},
		},
		VarParam: &function.Parameter{Name: "default", Type: cty.String},
		Type:     function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, function.NewArgErrorf(2, "env takes at most one default value")
			}
			if v, ok := lookupEnv(args[0].AsString()); ok {
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return cty.StringVal(""), nil
		},
	})
}
