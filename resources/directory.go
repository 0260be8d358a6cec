package resources

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/hashicorp/hcl/v2"

	"github.com/tendhq/tend/inventory"
)

func init() {
	Register(&Kind{
		Name: "directory",
		Attributes: []hcl.AttributeSchema{
			{Name: "path"},
			{Name: "mode"},
			{Name: "owner"},
			{Name: "group"},
			{Name: "state"},
		},
		New: newDirectory,
	})
}

// Directory manages a directory's existence, mode and ownership. Missing
// parents are created with mode 0755. With state = "absent" the directory
// and everything in it is removed.
type Directory struct {
	addr    Addr
	name    string
	path    string
	present bool
	perms   perms
}

var _ Resource = (*Directory)(nil)

const defaultDirMode fs.FileMode = 0o755

func newDirectory(b *Block) (Resource, hcl.Diagnostics) {
	d := &decoder{b: b}
	r := &Directory{addr: b.Addr, name: b.Name}
	r.path = d.path()
	r.present = d.state()
	r.perms.decode(d)
	if r.path == "/" && !r.present {
		d.errorf(d.rangeOf("state"), "Invalid state", "The root directory cannot be absent.")
	}
	return r, d.diags
}

// Addr returns directory[name].
func (r *Directory) Addr() Addr { return r.addr }

// Path returns the managed path.
func (r *Directory) Path() string { return r.path }

// Present reports whether the directory should exist.
func (r *Directory) Present() bool { return r.present }

// Observe asks for the path's state and the ids of its accounts.
func (r *Directory) Observe(p *Probe) {
	p.Path(r.path, false)
	r.perms.observe(p)
}

// Diff compares the desired directory with the observed path.
func (r *Directory) Diff(o *Observed) (*Change, error) {
	c := &Change{Addr: r.Addr(), Path: r.path}
	s, err := o.Path(r.path)
	if err != nil {
		return nil, err
	}
	if !r.present {
		if !s.Exists {
			return c, nil
		}
		if s.Type != TypeDir {
			return nil, fmt.Errorf("%s is %s, not a directory: it is left alone", r.path, s.Type.describe())
		}
		c.Action = Delete
		return c, nil
	}
	if !s.Exists {
		c.Action = Create
		c.Attrs = r.perms.created(defaultDirMode)
		return c, nil
	}
	if s.Type != TypeDir {
		return nil, fmt.Errorf("%s exists and is %s, not a directory: it is not replaced", r.path, s.Type.describe())
	}
	c.Attrs = r.perms.diff(s)
	if len(c.Attrs) > 0 {
		c.Action = Update
	}
	return c, nil
}

// Apply creates, fixes or removes the directory. A path below a symbolic
// link that neither root nor the user tend runs as owns is refused
// (checkParents).
func (r *Directory) Apply(ctx context.Context, t *Target, c *Change) error {
	// Never through a symlinked directory someone else controls.
	if err := checkParents(ctx, t, r.path); err != nil {
		return err
	}
	fsys, err := t.Transport.FS(ctx)
	if err != nil {
		return err
	}
	s, err := t.Observed.Path(r.path)
	if err != nil {
		return err
	}
	switch c.Action {
	case Delete:
		if err := fsys.RemoveAll(r.path); err != nil {
			return fmt.Errorf("remove %s: %w", r.path, err)
		}
		return nil
	case Create:
		if err := mkdirAll(fsys, r.path); err != nil {
			return err
		}
		mode := defaultDirMode
		if r.perms.hasMode {
			mode = r.perms.mode
		}
		if err := r.perms.chown(ctx, t, fsys, r.path, -1, -1); err != nil {
			return err
		}
		if err := fsys.Chmod(r.path, mode); err != nil {
			return fmt.Errorf("chmod %s: %w", r.path, err)
		}
		return nil
	}
	return r.perms.fix(ctx, t, fsys, r.path, s)
}

// mkdirAll creates p and its missing parents. The probe said p is missing;
// parents are tried only when creating p alone fails.
//
// A directory that exists already counts as made: another resource of the
// same run may create a shared parent at the same moment, and the verify
// probe catches a path that exists as something else.
func mkdirAll(fsys inventory.FileSystem, p string) error {
	err := fsys.Mkdir(p, defaultDirMode)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	if parent := path.Dir(p); parent != p && parent != "/" {
		// Errors of the parents show again in the final Mkdir if they matter.
		_ = mkdirAll(fsys, parent)
		if err = fsys.Mkdir(p, defaultDirMode); err == nil || errors.Is(err, fs.ErrExist) {
			return nil
		}
	}
	return fmt.Errorf("mkdir %s: %w", p, err)
}
