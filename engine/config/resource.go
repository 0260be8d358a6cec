package config

import (
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/dynblock"

	"github.com/tendhq/tend/resources"
)

// resourceDecl is one resource block, of a role or of a module directory,
// decoded but not evaluated. Compile makes its instances: one, or one per
// for_each key or count index.
type resourceDecl struct {
	kind *resources.Kind
	// addr is the block's address, Kind and Name only: instances add the
	// module path and their key.
	addr  resources.Addr
	mod   *module
	role  *Role // nil in a module directory
	block *hcl.Block
	// attrs are the kind's attributes that are set (meta-arguments
	// excluded).
	attrs hcl.Attributes
	// ordered are attrs in source order, as they are evaluated.
	ordered        []*hcl.Attribute
	forEach, count *hcl.Attribute
	// nested is true when the block holds nested blocks (literal or
	// dynamic), decoded per instance.
	nested bool
	// dependsOn holds the references of depends_on, refs those found in
	// the attribute expressions and nested blocks.
	dependsOn []ref
	refs      []ref
	// notify names the receivers this resource notifies when it changes;
	// subscribe the notifiers of this resource. when, if set, is a
	// condition evaluated per instance: false leaves the instance out.
	notify, subscribe []ref
	when              *hcl.Attribute
	// links are the kind's link attributes (resources.Kind.Links) that
	// are set, each a static reference to one resource.
	links []link
	// bad names the attributes whose expressions refer to something
	// undeclared (reported by Load); they are not evaluated. badNested is
	// the same for the nested blocks, badRepeat for for_each and count.
	bad       map[string]bool
	badNested bool
	badRepeat bool
}

// link is one link attribute of a resource block: a static reference to the
// resource it drives.
type link struct {
	attr string
	ref  ref
}

// repeated reports whether d makes instances with keys.
func (d *resourceDecl) repeated() bool { return d.forEach != nil || d.count != nil }

// metaArgs are the attributes the loader handles itself on every resource
// block.
var metaArgs = []string{"depends_on", "for_each", "count", "notify", "subscribe", "when"}

// resourceSchema is a kind's schema: its attributes and nested blocks, the
// meta-arguments, and dynamic blocks when the kind has nested blocks.
func resourceSchema(kind *resources.Kind) *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, a := range kind.Attributes {
		if !isMeta(a.Name) {
			s.Attributes = append(s.Attributes, a)
		}
	}
	for _, n := range metaArgs {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: n})
	}
	for _, n := range kind.Links {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: n})
	}
	for _, b := range kind.Blocks {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: b.Type, LabelNames: b.LabelNames})
	}
	if len(kind.Blocks) > 0 {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: "dynamic", LabelNames: []string{"type"}})
	}
	return s
}

// nestedHeaders is the schema of a kind's nested block types, without
// attributes: what dynblock expands.
func nestedHeaders(kind *resources.Kind) *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, b := range kind.Blocks {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: b.Type, LabelNames: b.LabelNames})
	}
	return s
}

// nestedSchema returns the attributes of the nested block type typ.
func nestedSchema(kind *resources.Kind, typ string) *hcl.BodySchema {
	for _, b := range kind.Blocks {
		if b.Type == typ {
			return &hcl.BodySchema{Attributes: b.Attributes}
		}
	}
	return nil
}

func isMeta(name string) bool {
	for _, n := range metaArgs {
		if n == name {
			return true
		}
	}
	return false
}

// decodeResource decodes one resource block of m (of role r at the root).
// It returns nil when the block cannot be a resource (a bad name).
func (m *module) decodeResource(r *Role, b *hcl.Block) (*resourceDecl, hcl.Diagnostics) {
	// The schemas only admit registered kinds, so kind is not nil.
	kind := resources.Lookup(b.Type)
	name := b.Labels[0]
	content, diags := b.Body.Content(resourceSchema(kind))
	if name == "" || !resources.ValidArg(name) {
		return nil, append(diags, errorAt(b.LabelRanges[0], "Invalid resource name",
			"The name of a %s must not be empty nor contain a newline or a NUL byte.", b.Type))
	}
	d := &resourceDecl{
		kind:  kind,
		addr:  resources.Addr{Kind: b.Type, Name: name},
		mod:   m,
		role:  r,
		block: b,
		attrs: hcl.Attributes{},
		bad:   map[string]bool{},
	}
	for n, a := range content.Attributes {
		switch n {
		case "depends_on":
			d.dependsOn, diags = decodeDependsOn(a, diags)
		case "notify", "subscribe":
			var refs []ref
			refs, diags = decodeRefList(a, diags)
			if n == "notify" {
				d.notify = refs
			} else {
				d.subscribe = refs
			}
		case "when":
			d.when = a
		case "for_each":
			d.forEach = a
		case "count":
			d.count = a
		default:
			if slices.Contains(kind.Links, n) {
				var r *ref
				r, diags = decodeLink(a, diags)
				if r != nil {
					d.links = append(d.links, link{attr: n, ref: *r})
				}
				continue
			}
			d.attrs[n] = a
		}
	}
	d.ordered = sortedAttrs(d.attrs)
	if d.forEach != nil && d.count != nil {
		diags = append(diags, conflictingRepetition(d.count))
		d.count = nil
	}
	// Nested blocks are checked against their schemas here, once; they are
	// decoded for each instance, after dynamic blocks are expanded.
	for _, nb := range content.Blocks {
		d.nested = true
		if nb.Type != "dynamic" {
			_, ds := nb.Body.Content(nestedSchema(kind, nb.Type))
			diags = append(diags, ds...)
			continue
		}
		s := nestedSchema(kind, nb.Labels[0])
		if s == nil {
			diags = append(diags, errorAt(nb.LabelRanges[0], "Unsupported block type",
				"A %s has no nested blocks of type %q, so a dynamic block cannot make them.", b.Type, nb.Labels[0]))
			d.badNested = true
			continue
		}
		inner, _, _ := nb.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "content"}}})
		for _, cb := range inner.Blocks {
			_, ds := cb.Body.Content(s)
			diags = append(diags, ds...)
		}
	}
	return d, diags
}

// nestedTraversals returns the references of d's nested blocks, dynamic
// blocks' for_each and labels included, without their iterators.
func (d *resourceDecl) nestedTraversals() []hcl.Traversal {
	if !d.nested {
		return nil
	}
	var out []hcl.Traversal
	// The top level's attributes are checked on their own: only blocks
	// here.
	vars, children := dynblock.WalkVariables(d.block.Body).Visit(nestedHeaders(d.kind))
	out = append(out, vars...)
	for _, ch := range children {
		s := nestedSchema(d.kind, ch.BlockTypeName)
		if s == nil {
			continue
		}
		vs, _ := ch.Node.Visit(s)
		out = append(out, vs...)
	}
	return out
}

// decodeLink reads a link attribute: one static reference to a resource,
// such as service.app or service.web["a"].
func decodeLink(a *hcl.Attribute, diags hcl.Diagnostics) (*ref, hcl.Diagnostics) {
	bad := func() (*ref, hcl.Diagnostics) {
		return nil, append(diags, errorAt(a.Expr.Range(), "Invalid "+a.Name,
			"%s must name one resource of the host, such as service.app or service[\"app\"], written literally.", a.Name))
	}
	t, ds := hcl.AbsTraversalForExpr(a.Expr)
	if ds.HasErrors() {
		return bad()
	}
	r, ok, d := parseRef(t)
	switch {
	case d != nil:
		return nil, append(diags, d)
	case !ok || r.call != "" || r.output != "" || r.steps > 0:
		return bad()
	}
	return &r, diags
}

// decodeDependsOn reads depends_on: a list of references to resources
// (kind["name"], or one instance: kind.name["key"]) and module calls
// (module.NAME).
func decodeDependsOn(a *hcl.Attribute, diags hcl.Diagnostics) ([]ref, hcl.Diagnostics) {
	return decodeRefList(a, diags)
}

// decodeRefList reads a list of references to resources (depends_on,
// notify, subscribe); a.Name names the attribute in messages.
func decodeRefList(a *hcl.Attribute, diags hcl.Diagnostics) ([]ref, hcl.Diagnostics) {
	exprs, ds := hcl.ExprList(a.Expr)
	if ds.HasErrors() {
		return nil, append(diags, errorAt(a.Expr.Range(), "Invalid "+a.Name,
			"%s must be a list of resource references, such as [directory[\"/etc/app\"], file[\"/etc/app/app.conf\"]].", a.Name))
	}
	// Each entry must be a static reference: the graph is built before
	// anything is evaluated.
	var refs []ref
	for _, e := range exprs {
		t, ds := hcl.AbsTraversalForExpr(e)
		if ds.HasErrors() {
			diags = append(diags, errorAt(e.Range(), "Invalid "+a.Name+" reference",
				"An entry of %s must be a resource reference such as file[\"/etc/motd\"], with the name as a literal string.", a.Name))
			continue
		}
		r, ok, d := parseRef(t)
		switch {
		case d != nil:
			diags = append(diags, d)
		case !ok:
			diags = append(diags, errorAt(t.SourceRange(), "Invalid "+a.Name+" reference",
				"An entry of %s must be a resource reference such as file[\"/etc/motd\"], where the kind is one of %s, or a module call such as module.sites.", a.Name, kindList()))
		case r.output != "" || r.steps > 0:
			diags = append(diags, errorAt(t.SourceRange(), "Invalid "+a.Name+" reference",
				"An entry of %s names a whole resource, such as %s, or a module call, not one of its attributes.", a.Name, r.text()))
		default:
			refs = append(refs, r)
		}
	}
	return refs, diags
}
