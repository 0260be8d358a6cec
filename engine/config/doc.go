// Package config owns the spec language: it loads the HCL files of a spec
// directory and the module directories it uses (from an fs.FS) into a
// Config, and compiles a Config for one host into that host's resource
// graph. Every problem is an hcl.Diagnostic whose Subject is the narrowest
// range of the user's text (the label for a bad name, the value for a bad
// value); loading and compiling never stop at the first problem. The
// language itself is described for users in docs/language.md.
//
// The lifecycle:
//
//  1. Load parses every *.hcl and *.hcl.json file directly in the spec
//     directory and decodes the variable, locals and role blocks; then it
//     loads each module directory a role calls, recursively, once per
//     directory (module cycles are errors). Schemas are checked here
//     (unknown blocks and attributes, module inputs against the module's
//     variables), as are references to undeclared variables, locals,
//     resources, module calls and outputs, and what each place may refer
//     to (for_each, count, locals and module inputs may not use
//     resources). Variable defaults are validated here, once.
//  2. ParseVar and LoadVarFile turn -var and -var-file options into
//     Values; a Value from a file keeps its range, so that problems with it
//     point at it. engine.Compile adds each host's inventory variable files
//     under the command line's values.
//  3. Compile evaluates, for one host, the variables (converted and
//     validated) and locals of the spec directory, then expands the
//     resource blocks and module calls of every role that selects the host
//     into instances: for_each and count make keyed instances, and each
//     module instance gets its inputs, its locals and its own instances
//     (expand.go). The references and depends_on of every instance become
//     graph edges; duplicates and cycles are reported. Instances are then
//     evaluated in graph order (dynamic blocks expanded) and built through
//     their kind (resources.Lookup) (eval.go). A diagnostic every instance
//     of a block shares is reported once; one only some have names them.
//  4. Validate compiles every role against a placeholder host whose
//     variables are unknown, to check specs without an inventory.
//
// Start reading at Load in config.go and module.go, then Compile in
// compile.go, expand.go and eval.go. Resource blocks and their nested
// blocks are decoded in resource.go, references parsed and checked in
// refs.go, variable values and validations in vars.go, and the functions
// of expressions are in functions.go; secret(), its age identities (Load's
// options) and the redaction of secrets from diagnostics are in secret.go.
package config
