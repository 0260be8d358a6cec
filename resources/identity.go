package resources

import "sync"

// This file says what each kind manages (Identity, for duplicates) and
// what it needs first (Requires, for implicit dependencies): a file owned
// by a user comes after that user, a user after its groups, a service
// after its unit file, an exec after its working directory and user.

// Requirer is a resource that needs other things of the host first. The
// loader makes it depend on the resource of the same host that manages
// each of them, when there is one (and the edge closes no cycle). The
// identities are those of Identified, or "path P" for a PathResource.
type Requirer interface {
	Resource
	Requires() []string
}

// Identity returns "package NAME".
func (r *Package) Identity() string { return "package " + r.name }

// Identity returns "service UNIT".
func (r *Service) Identity() string { return "service " + r.unit }

// Identity returns "user NAME".
func (r *User) Identity() string { return "user " + r.name }

// Identity returns "group NAME".
func (r *Group) Identity() string { return "group " + r.name }

// Requires returns the unit file in each unit directory.
func (r *Service) Requires() []string {
	out := make([]string, 0, len(unitDirs))
	for _, d := range unitDirs {
		out = append(out, "path "+d+r.unit) // unitDirs end in "/"
	}
	return out
}

// Requires returns the user's primary and supplementary groups.
func (r *User) Requires() []string {
	var out []string
	if r.group != "" {
		out = append(out, "group "+r.group)
	}
	for _, g := range r.groups {
		out = append(out, "group "+g)
	}
	return out
}

// Requires returns the working directory and the user the command runs as.
func (r *Exec) Requires() []string {
	var out []string
	if r.cwd != "" {
		out = append(out, "path "+r.cwd)
	}
	if r.user != "" {
		out = append(out, "user "+r.user)
	}
	return out
}

// Requires returns the owner and group of the file.
func (f *File) Requires() []string { return f.perms.requires() }

// Requires returns the owner and group of the directory.
func (r *Directory) Requires() []string { return r.perms.requires() }

func (p *perms) requires() []string {
	if p.owner == "" && p.group == "" {
		return nil
	}
	key := [2]string{p.owner, p.group}
	permRequires.RLock()
	out, ok := permRequires.m[key]
	permRequires.RUnlock()
	if ok {
		return out
	}
	out = p.requiresNew()
	permRequires.Lock()
	if len(permRequires.m) < permRequiresMax {
		permRequires.m[key] = out
	}
	permRequires.Unlock()
	return out
}

// permRequires remembers the requirements of each owner and group seen:
// a fleet's files have few of them, and compiling every host asks for
// them once per file (issue 7). The slices are shared: callers only read
// them.
var permRequires = struct {
	sync.RWMutex
	m map[[2]string][]string
}{m: map[[2]string][]string{}}

// permRequiresMax bounds permRequires; beyond it, requirements are made
// afresh.
const permRequiresMax = 1024

func (p *perms) requiresNew() []string {
	var out []string
	if _, num := numeric(p.owner); p.owner != "" && !num {
		out = append(out, "user "+p.owner)
	}
	if _, num := numeric(p.group); p.group != "" && !num {
		out = append(out, "group "+p.group)
	}
	return out
}

var (
	_ Identified = (*Package)(nil)
	_ Identified = (*Service)(nil)
	_ Identified = (*User)(nil)
	_ Identified = (*Group)(nil)
	_ Requirer   = (*Service)(nil)
	_ Requirer   = (*User)(nil)
	_ Requirer   = (*Exec)(nil)
	_ Requirer   = (*File)(nil)
	_ Requirer   = (*Directory)(nil)
)
