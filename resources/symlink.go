package resources

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/hashicorp/hcl/v2"
)

func init() {
	Register(&Kind{
		Name: "symlink",
		Attributes: []hcl.AttributeSchema{
			{Name: "path"},
			{Name: "target"},
			{Name: "state"},
			{Name: "force"},
		},
		New: newSymlink,
	})
}

// Symlink manages a symbolic link and its target. A link is switched
// atomically: the new link is made under a temporary name and renamed over
// the old one. A regular file in the way is replaced only with force = true;
// a directory never.
type Symlink struct {
	addr    Addr
	name    string
	path    string
	target  string
	present bool
	force   bool
}

var _ Resource = (*Symlink)(nil)

func newSymlink(b *Block) (Resource, hcl.Diagnostics) {
	d := &decoder{b: b}
	r := &Symlink{addr: b.Addr, name: b.Name}
	r.path = d.path()
	r.present = d.state()
	r.force = d.boolean("force", false)
	r.target = d.str("target", "")
	switch {
	case r.present && r.target == "":
		d.errorf(b.DeclRange, "Missing target", "A symlink needs a target unless its state is \"absent\".")
	case !ValidArg(r.target):
		d.errorf(d.rangeOf("target"), "Invalid target", "The target must not contain a newline or a NUL byte.")
	}
	return r, d.diags
}

// Addr returns symlink[name].
func (r *Symlink) Addr() Addr { return r.addr }

// Path returns the managed path.
func (r *Symlink) Path() string { return r.path }

// Present reports whether the symlink should exist.
func (r *Symlink) Present() bool { return r.present }

// Observe asks for the link's state.
func (r *Symlink) Observe(p *Probe) { p.Path(r.path, false) }

// Diff compares the desired link with the observed path.
func (r *Symlink) Diff(o *Observed) (*Change, error) {
	c := &Change{Addr: r.Addr(), Path: r.path}
	s, err := o.Path(r.path)
	if err != nil {
		return nil, err
	}
	if !r.present {
		if !s.Exists {
			return c, nil
		}
		if s.Type != TypeSymlink {
			return nil, fmt.Errorf("%s is %s, not a symlink: it is left alone", r.path, s.Type.describe())
		}
		c.Action = Delete
		c.Attrs = []AttrChange{{Name: "target", Before: s.Target}}
		return c, nil
	}
	switch {
	case !s.Exists:
		c.Action = Create
		c.Attrs = []AttrChange{{Name: "target", After: r.target}}
	case s.Type == TypeSymlink:
		if s.Target != r.target {
			c.Action = Update
			c.Attrs = []AttrChange{{Name: "target", Before: s.Target, After: r.target}}
		}
	case s.Type == TypeFile && r.force:
		c.Action = Update
		c.Attrs = []AttrChange{
			{Name: "type", Before: "file", After: "symlink"},
			{Name: "target", After: r.target},
		}
	default:
		return nil, fmt.Errorf("%s is %s, not a symlink: set force = true to replace a file", r.path, s.Type.describe())
	}
	return c, nil
}

// Apply makes, switches or removes the link.
func (r *Symlink) Apply(ctx context.Context, t *Target, c *Change) error {
	fsys, err := t.Transport.FS(ctx)
	if err != nil {
		return err
	}
	if c.Action == Delete {
		if err := fsys.Remove(r.path); err != nil {
			return fmt.Errorf("remove %s: %w", r.path, err)
		}
		return nil
	}
	tmp := tempName(r.path)
	err = fsys.Symlink(r.target, tmp)
	if errors.Is(err, fs.ErrNotExist) {
		// Missing parents are created, as a directory resource does.
		if err = mkdirAll(fsys, path.Dir(r.path)); err == nil {
			err = fsys.Symlink(r.target, tmp)
		}
	}
	if err != nil {
		return fmt.Errorf("symlink %s: %w", r.path, err)
	}
	if err := fsys.Rename(tmp, r.path); err != nil {
		_ = fsys.Remove(tmp)
		return fmt.Errorf("rename %s to %s: %w", tmp, r.path, err)
	}
	return nil
}
