package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
)

const validatedSpec = `
variable "port" {
  type    = number
  default = 80
  validation {
    condition     = var.port >= 1 && var.port <= 65535
    error_message = "The port must be between 1 and 65535."
  }
  validation {
    condition     = var.port != 22
    error_message = "Port 22 is for SSH."
  }
}
variable "name" {
  type    = string
  default = "x"
}
role "r" {
  hosts = ["*"]
  capture "c" {
    value = "${var.name}:${var.port}"
  }
}
`

// writeVarFile writes a variable file and returns its path.
func writeVarFile(t *testing.T, name, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Problems with a value from a variable file point at the value; with a
// value from --var at the declaration, saying so.
func TestGivenValuePositions(t *testing.T) {
	c := loadString(t, map[string]string{"main.hcl": validatedSpec})
	vf := writeVarFile(t, "vals.hcl", "name = \"ok\"\nport = \"eighty\"\ncolour = \"red\"\n")
	vals, diags := c.LoadVarFile(vf)
	if len(diags) > 0 {
		t.Fatalf("LoadVarFile: %v", diags)
	}
	_, diags = c.Compile(testHost(), vals)
	type d struct{ Sev, At, Summary, Detail string }
	var got []d
	for _, x := range diags {
		at := ""
		if x.Subject != nil {
			at = strings.TrimPrefix(pos(*x.Subject), filepath.Dir(vf)+"/")
		}
		got = append(got, d{map[bool]string{true: "error", false: "warning"}[x.Severity == 1], at, x.Summary, x.Detail})
	}
	want := []d{
		{"warning", "vals.hcl:3:10", "Value for undeclared variable", `A value is given for "colour", but no variable of that name is declared; it is ignored.`},
		{"error", "vals.hcl:2:8", "Invalid value for variable", `The value given in ` + vf + ` for variable "port" does not match its type number: a number is required.`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diags (-want +got):\n%s", diff)
	}
	// The file joins Files, so that the snippet prints; a second load is
	// the cached one.
	if _, ok := c.Files()[vf]; !ok {
		t.Error("the variable file is not in Files")
	}
	if again, _ := c.LoadVarFile(vf); again["port"].Range != vals["port"].Range {
		t.Error("the second load differs")
	}

	// Validations: every failed rule is reported, at the value in a file,
	// at the declaration for --var.
	tests := []struct {
		name  string
		given map[string]Value
		want  []string
	}{
		{"file", map[string]Value{"port": {Value: cty.NumberIntVal(22), Range: vals["port"].Range}},
			[]string{"vals.hcl:2:8|Port 22 is for SSH.\n\nThis was checked by the validation rule of variable \"port\" at main.hcl:9:3."}},
		{"var", given(map[string]cty.Value{"port": cty.NumberIntVal(70000)}),
			[]string{"main.hcl:2:1|The port must be between 1 and 65535.\n\nThis was checked by the validation rule of variable \"port\" at main.hcl:5:3 on the value given with --var."}},
		{"var type", given(map[string]cty.Value{"port": cty.StringVal("x")}),
			[]string{`main.hcl:2:1|The value given with --var for variable "port" does not match its type number: a number is required.`}},
		{"valid", given(map[string]cty.Value{"port": cty.NumberIntVal(443)}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := c.Compile(testHost(), tt.given)
			var got []string
			for _, x := range diags {
				got = append(got, strings.TrimPrefix(pos(*x.Subject), filepath.Dir(vf)+"/")+"|"+x.Detail)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diags (-want +got):\n%s", diff)
			}
		})
	}
	// Validate checks given values the same way.
	diags = c.Validate(given(map[string]cty.Value{"port": cty.NumberIntVal(0)}))
	if len(diags) != 1 || diags[0].Summary != "Invalid value for variable" {
		t.Errorf("Validate: %v", diags)
	}
}

// A default is validated once, at load; a condition that is not a bool is
// an error at the condition.
func TestValidationProblems(t *testing.T) {
	c, diags := Load(mapFS(map[string]string{"main.hcl": `
variable "a" {
  default = 0
  validation {
    condition     = var.a > 0
    error_message = "A must be positive."
  }
}
variable "b" {
  default = "x"
  validation {
    condition     = var.b
    error_message = "never"
  }
}
variable "c" {
  default = "x"
  validation {
    condition     = length(var.c) > 0 && host.name != ""
    error_message = "uses the host"
  }
  validation {
    condition = true
  }
}
`}), ".")
	want := []string{
		"main.hcl:12: Invalid validation condition",
		"main.hcl:19: Invalid reference in variable validation",
		"main.hcl:22: Missing required argument",
		"main.hcl:3: Invalid value for variable",
	}
	if diff := cmp.Diff(want, summaries(diags)); diff != "" {
		t.Errorf("diags (-want +got):\n%s\n%s", diff, diagText(c, diags))
	}
	if _, ds := c.Compile(testHost(), nil); len(ds) > 0 {
		t.Errorf("Compile repeats load problems: %s", diagText(c, ds))
	}
}
