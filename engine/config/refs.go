package config

import (
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/resources"
)

// parseRef reads a traversal rooted at a resource kind: kind["name"] (or
// kind.name), optionally followed by attribute steps. ok is false when the
// root is not a kind; a diagnostic is returned when it is one but the
// resource is not named with a literal.
func parseRef(t hcl.Traversal) (r ref, ok bool, diag *hcl.Diagnostic) {
	root := t.RootName()
	if resources.Lookup(root) == nil {
		return ref{}, false, nil
	}
	bad := errorAt(t.SourceRange(), "Invalid resource reference",
		"A reference to a %s must name it with a literal string, such as %s[\"/etc/motd\"], so that the order of the resources is known before evaluation.", root, root)
	if len(t) < 2 {
		return ref{}, true, bad
	}
	name, ok := stepName(t[1])
	if !ok {
		return ref{}, true, bad
	}
	return ref{
		addr: resources.Addr{Kind: root, Name: name},
		rng:  hcl.RangeBetween(t[0].SourceRange(), t[1].SourceRange()),
	}, true, nil
}

// stepName returns the name a traversal step selects: .name or ["name"].
func stepName(s hcl.Traverser) (string, bool) {
	switch s := s.(type) {
	case hcl.TraverseAttr:
		return s.Name, true
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
			return s.Key.AsString(), true
		}
	}
	return "", false
}

// refText prints addr the way a spec writes a reference to it.
func refText(a resources.Addr) string { return a.Kind + "[" + strconv.Quote(a.Name) + "]" }

// kindList names the registered kinds for messages: "directory, file or symlink".
func kindList() string {
	ks := resources.Kinds()
	if len(ks) < 2 {
		return strings.Join(ks, "")
	}
	return strings.Join(ks[:len(ks)-1], ", ") + " or " + ks[len(ks)-1]
}

// checkRefs is Load's second pass, once every file is decoded: it checks the
// references of locals and resource attributes to variables, locals and
// resources, and records the references that become graph edges. An
// expression with a bad reference is flagged and never evaluated, so it is
// reported once, here.
func (c *Config) checkRefs() hcl.Diagnostics {
	var diags hcl.Diagnostics
	// Locals may refer to var, host and other locals (recorded for their
	// evaluation order), never to resources.
	for _, l := range c.locals {
		for _, t := range l.attr.Expr.Variables() {
			var d *hcl.Diagnostic
			switch root := t.RootName(); {
			case root == "var":
				d = c.checkVarRef(t)
			case root == "local":
				var name string
				name, d = c.checkLocalRef(t)
				if name != "" && !slices.Contains(l.refs, name) {
					l.refs = append(l.refs, name)
				}
			case resources.Lookup(root) != nil:
				d = errorAt(t.SourceRange(), "Invalid reference",
					"The local value %q refers to a %s: local values may refer to variables, the host and other local values, but not to resources.", l.name, root)
			}
			if d != nil {
				diags = append(diags, d)
				l.bad = true
			}
		}
	}
	for _, r := range c.roles {
		for _, d := range r.resources {
			diags = append(diags, c.checkResourceRefs(d)...)
		}
	}
	return diags
}

// checkResourceRefs checks the references of one resource block: those of
// its attribute expressions (to variables, locals and resources) and those
// of depends_on. Resource references are recorded as edges; whether the
// target is on a given host is Compile's business.
func (c *Config) checkResourceRefs(d *resourceDecl) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, a := range sortedAttrs(d.attrs) {
		for _, t := range a.Expr.Variables() {
			var diag *hcl.Diagnostic
			switch root := t.RootName(); root {
			case "var":
				diag = c.checkVarRef(t)
			case "local":
				_, diag = c.checkLocalRef(t)
			default:
				// host is checked by evaluation; an unknown root is HCL's
				// "Unknown variable".
				r, ok, pd := parseRef(t)
				switch {
				case pd != nil:
					diag = pd
				case ok:
					if diag = c.checkDeclared(r); diag == nil {
						d.refs = append(d.refs, r)
					}
				}
			}
			if diag != nil {
				diags = append(diags, diag)
				d.bad[a.Name] = true
			}
		}
	}
	// depends_on entries to undeclared resources are dropped once
	// reported.
	kept := d.dependsOn[:0]
	for _, r := range d.dependsOn {
		if diag := c.checkDeclared(r); diag != nil {
			diags = append(diags, diag)
			continue
		}
		kept = append(kept, r)
	}
	d.dependsOn = kept
	return diags
}

// checkVarRef checks that var.NAME is declared.
func (c *Config) checkVarRef(t hcl.Traversal) *hcl.Diagnostic {
	if len(t) < 2 {
		return nil
	}
	name, ok := stepName(t[1])
	if !ok {
		return nil
	}
	if _, ok := c.variables[name]; ok {
		return nil
	}
	return errorAt(hcl.RangeBetween(t[0].SourceRange(), t[1].SourceRange()), "Reference to undeclared variable",
		"A variable named %q is not declared. Declare it with a variable %q block, or correct the name.", name, name)
}

// checkLocalRef checks that local.NAME is defined and returns NAME.
func (c *Config) checkLocalRef(t hcl.Traversal) (string, *hcl.Diagnostic) {
	if len(t) < 2 {
		return "", nil
	}
	name, ok := stepName(t[1])
	if !ok {
		return "", nil
	}
	if _, ok := c.localNames[name]; ok {
		return name, nil
	}
	return "", errorAt(hcl.RangeBetween(t[0].SourceRange(), t[1].SourceRange()), "Reference to undeclared local value",
		"A local value named %q is not defined. Define it in a locals block, or correct the name.", name)
}

// checkDeclared checks that some role declares the resource r refers to.
func (c *Config) checkDeclared(r ref) *hcl.Diagnostic {
	if len(c.declared[r.addr]) > 0 {
		return nil
	}
	return errorAt(r.rng, "Reference to undeclared resource",
		"No role declares %s. Declare it with a %s %q block, or correct the reference.", r.addr, r.addr.Kind, r.addr.Name)
}

// sortedAttrs returns attrs in source order, so diagnostics come out in a
// stable order.
func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y *hcl.Attribute) int {
		if x.Range.Filename != y.Range.Filename {
			return strings.Compare(x.Range.Filename, y.Range.Filename)
		}
		return x.Range.Start.Byte - y.Range.Start.Byte
	})
	return out
}
