package resources

import (
	"context"
	"strconv"

	"github.com/hashicorp/hcl/v2"

	"github.com/tendhq/tend/inventory"
)

func init() {
	Register(&Kind{
		Name: "group",
		Attributes: []hcl.AttributeSchema{
			{Name: "name"},
			{Name: "gid"},
			{Name: "system"},
			{Name: "state"},
		},
		New: newGroup,
	})
}

// Group manages a local group: its existence and gid, with groupadd,
// groupmod and groupdel. system = true makes a new group a system group (a
// gid from the system range); it does not change an existing group.
type Group struct {
	addr    Addr
	name    string
	gid     int // -1: unmanaged
	system  bool
	present bool
}

var _ Resource = (*Group)(nil)

// idAttr reads a uid or gid attribute: a non-negative whole number, -1 when
// unset.
func (d *decoder) idAttr(name string) int {
	a, ok := d.b.Attrs[name]
	if !ok || a.Value.IsNull() {
		return -1
	}
	n := len(d.diags)
	s := d.str(name, "")
	if len(d.diags) > n {
		return -1
	}
	id, err := strconv.Atoi(s)
	if err != nil || id < 0 || id > 1<<31-2 {
		d.errorf(a.Range, "Invalid "+name, "The %s of %s must be a whole number from 0, not %q.", name, d.b.Kind, s)
		return -1
	}
	return id
}

func newGroup(b *Block) (Resource, hcl.Diagnostics) {
	d := &decoder{b: b}
	r := &Group{addr: b.Addr}
	r.name = d.nameAttr("group name", validAccountName)
	r.gid = d.idAttr("gid")
	r.system = d.boolean("system", false)
	r.present = d.state()
	if !r.present && d.has("gid") {
		d.errorf(d.rangeOf("gid"), "Conflicting attributes", "A group with state = \"absent\" takes no gid.")
	}
	return r, d.diags
}

// Addr returns group[name].
func (r *Group) Addr() Addr { return r.addr }

// Name returns the group name.
func (r *Group) Name() string { return r.name }

// Observe asks for the group's gid.
func (r *Group) Observe(p *Probe) { p.Group(r.name) }

// Diff compares the desired group with the observed one.
func (r *Group) Diff(o *Observed) (*Change, error) {
	a, err := o.Group(r.name)
	if err != nil {
		return nil, err
	}
	c := &Change{Addr: r.addr}
	// The gid is managed only when set; system only matters at creation
	// (the gid range groupadd picks from), so it never makes an update.
	switch {
	case !r.present:
		if a.Exists {
			c.Action = Delete
			c.Attrs = []AttrChange{{Name: "gid", Before: strconv.Itoa(a.ID)}}
		}
	case !a.Exists:
		c.Action = Create
		c.Attrs = []AttrChange{{Name: "name", After: r.name}}
		if r.gid >= 0 {
			c.Attrs = append(c.Attrs, AttrChange{Name: "gid", After: strconv.Itoa(r.gid)})
		}
		if r.system {
			c.Attrs = append(c.Attrs, AttrChange{Name: "system", After: "true"})
		}
	case r.gid >= 0 && a.ID != r.gid:
		c.Action = Update
		c.Attrs = []AttrChange{{Name: "gid", Before: strconv.Itoa(a.ID), After: strconv.Itoa(r.gid)}}
	}
	return c, nil
}

// Apply runs groupadd, groupmod -g or groupdel.
func (r *Group) Apply(ctx context.Context, t *Target, c *Change) error {
	var args []string
	switch c.Action {
	case Create:
		args = []string{"groupadd"}
		if r.gid >= 0 {
			args = append(args, "-g", strconv.Itoa(r.gid))
		}
		if r.system {
			args = append(args, "-r")
		}
	case Update:
		args = []string{"groupmod", "-g", strconv.Itoa(r.gid)}
	case Delete:
		args = []string{"groupdel"}
	default:
		return nil
	}
	// "--" ends the options: a name never reaches the tool as one (names
	// are checked already, this is the second line of defence).
	args = append(args, "--", r.name)
	_, err := run(ctx, t, args[0]+" "+r.name, inventory.Cmd{Args: args})
	return err
}
