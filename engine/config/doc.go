// Package config owns the spec language: it loads the HCL files of a spec
// directory (from an fs.FS) into a Config, and compiles a Config for one
// host into that host's resource graph. Every problem is an hcl.Diagnostic
// whose Subject is the narrowest range of the user's text (the label for a
// bad name, the value for a bad value); loading and compiling never stop at
// the first problem.
//
// The lifecycle:
//
//  1. Load parses every *.hcl file directly in the spec directory and
//     decodes the variable, locals and role blocks. Schemas are checked
//     here (unknown blocks and attributes), as are references to undeclared
//     variables, locals and resources.
//  2. ParseVar and LoadVarFile turn -var and -var-file options into values.
//  3. Compile evaluates, for one host, the variables, the locals and the
//     resource blocks of every role that selects the host, in dependency
//     order, and builds each resource through its kind (resources.Lookup).
//     References between resources and depends_on become graph edges;
//     duplicates and cycles are reported.
//  4. Validate compiles every role against a placeholder host whose
//     variables are unknown, to check specs without an inventory.
//
// Start reading at Load in config.go, then Compile in compile.go. The
// functions available to expressions are in functions.go; references are
// parsed in refs.go; variable values in vars.go.
package config
