package resources

// This file says how each kind is undone when its resource leaves the spec
// (Prunable): the engine records PruneAttrs in the host's manifest and, to
// prune an orphan, builds a resource of the same kind from them.

// Prunable is a resource that tend can undo once it is no longer in the
// spec. PruneAttrs returns the attributes of a resource of the same kind
// that undoes it, as strings (the kind converts them as it converts any
// attribute: "false" becomes a bool), or nil when there is nothing to undo
// (the resource itself makes something absent). It is called when the
// engine writes the host's manifest; it must not do I/O. The attributes
// must name what the resource manages (its path, package, unit, account),
// since that is how the engine matches an orphan with the current spec.
type Prunable interface {
	Resource
	PruneAttrs() map[string]string
}

// PathPrunable is a Prunable that is undone by removing its path: when
// PruneAbsentPath returns ok, PruneAttrs is exactly {path = path, state =
// "absent"}, and nil otherwise. The engine writes the manifest of many
// hosts from it without building a map per resource.
type PathPrunable interface {
	Prunable
	PruneAbsentPath() (path string, ok bool)
}

// PruneAbsentPath returns the path of a present file (PathPrunable).
func (f *File) PruneAbsentPath() (string, bool) { return f.path, f.present }

// PruneAbsentPath returns the path of a present directory (PathPrunable).
func (r *Directory) PruneAbsentPath() (string, bool) { return r.path, r.present }

// PruneAbsentPath returns the path of a present symlink (PathPrunable).
func (r *Symlink) PruneAbsentPath() (string, bool) { return r.path, r.present }

// PruneAttrs returns {path, state = "absent"} for a present file.
func (f *File) PruneAttrs() map[string]string { return absentPath(f.path, f.present) }

// PruneAttrs returns {path, state = "absent"} for a present directory (which
// removes it with its content).
func (r *Directory) PruneAttrs() map[string]string { return absentPath(r.path, r.present) }

// PruneAttrs returns {path, state = "absent"} for a present symlink.
func (r *Symlink) PruneAttrs() map[string]string { return absentPath(r.path, r.present) }

func absentPath(p string, present bool) map[string]string {
	if !present {
		return nil
	}
	return map[string]string{"path": p, "state": "absent"}
}

// PruneAttrs returns {name, state = "absent"} for an installed package.
func (r *Package) PruneAttrs() map[string]string {
	if r.state == pkgAbsent {
		return nil
	}
	return map[string]string{"name": r.name, "state": pkgAbsent}
}

// PruneAttrs undoes what the service resource did to its unit: a masked unit
// is unmasked; a running one is stopped, an enabled one disabled. A
// resource that only stopped or disabled a unit leaves nothing to undo.
func (r *Service) PruneAttrs() map[string]string {
	if r.masked != nil && *r.masked {
		return map[string]string{"name": r.unit, "masked": "false"}
	}
	m := map[string]string{"name": r.unit}
	if r.state == "running" {
		m["state"] = "stopped"
	}
	if r.enabled != nil && *r.enabled {
		m["enabled"] = "false"
	}
	if len(m) == 1 {
		return nil
	}
	return m
}

// PruneAttrs returns {name, state = "absent"} for a present user (userdel
// keeps the home directory).
func (r *User) PruneAttrs() map[string]string {
	if !r.present {
		return nil
	}
	return map[string]string{"name": r.name, "state": "absent"}
}

// PruneAttrs returns {name, state = "absent"} for a present group.
func (r *Group) PruneAttrs() map[string]string {
	if !r.present {
		return nil
	}
	return map[string]string{"name": r.name, "state": "absent"}
}

var (
	_ Prunable = (*File)(nil)
	_ Prunable = (*Directory)(nil)
	_ Prunable = (*Symlink)(nil)
	_ Prunable = (*Package)(nil)
	_ Prunable = (*Service)(nil)
	_ Prunable = (*User)(nil)
	_ Prunable = (*Group)(nil)
)
