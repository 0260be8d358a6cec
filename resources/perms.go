package resources

import (
	"context"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/tendhq/tend/inventory"
)

// perms is the mode and ownership that file and directory manage. Unset
// fields are not managed: a new path gets the kind's default mode and the
// connecting user's ownership, an existing one keeps what it has.
type perms struct {
	mode    fs.FileMode
	hasMode bool
	owner   string // user name or numeric uid; "" = unmanaged
	group   string // group name or numeric gid; "" = unmanaged
	// sensitive is set when mode, owner or group came from a sensitive
	// value (a secret): the plan and errors do not show them.
	sensitive bool
}

func (p *perms) decode(d *decoder) {
	p.mode, p.hasMode = d.mode()
	p.owner = d.account("owner")
	p.group = d.account("group")
	p.sensitive = d.sensitive("mode") || d.sensitive("owner") || d.sensitive("group")
}

// numeric returns s as a uid or gid when it is one (decimal digits, no
// sign). Names are checked for a non-digit first: strconv.Atoi allocates an
// error for every name, and owners are names far more often than numbers.
func numeric(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < '0' || c > '9' {
			if i > 0 || (c != '+' && c != '-') {
				return 0, false
			}
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// observe asks the probe for the ids of named owners and groups.
func (p *perms) observe(pr *Probe) {
	if _, ok := numeric(p.owner); p.owner != "" && !ok {
		pr.User(p.owner)
	}
	if _, ok := numeric(p.group); p.group != "" && !ok {
		pr.Group(p.group)
	}
}

// created lists the attributes a new path gets, for the plan.
func (p *perms) created(def fs.FileMode) []AttrChange {
	m := def
	if p.hasMode {
		m = p.mode
	}
	a := []AttrChange{{Name: "mode", After: FormatMode(m), Sensitive: p.sensitive}}
	if p.owner != "" {
		a = append(a, AttrChange{Name: "owner", After: p.owner, Sensitive: p.sensitive})
	}
	if p.group != "" {
		a = append(a, AttrChange{Name: "group", After: p.group, Sensitive: p.sensitive})
	}
	return a
}

// diff lists the differences between p and an existing path.
func (p *perms) diff(s *PathState) []AttrChange {
	var a []AttrChange
	if p.hasMode && modeBits(s.Mode) != p.mode {
		a = append(a, AttrChange{Name: "mode", Before: FormatMode(s.Mode), After: FormatMode(p.mode), Sensitive: p.sensitive})
	}
	if p.owner != "" && !sameAccount(p.owner, s.Owner, s.UID) {
		a = append(a, AttrChange{Name: "owner", Before: s.Owner, After: p.owner, Sensitive: p.sensitive})
	}
	if p.group != "" && !sameAccount(p.group, s.Group, s.GID) {
		a = append(a, AttrChange{Name: "group", Before: s.Group, After: p.group, Sensitive: p.sensitive})
	}
	return a
}

func sameAccount(want, name string, id int) bool {
	if n, ok := numeric(want); ok {
		return n == id
	}
	return want == name
}

// ids resolves the desired owner and group to numeric ids from the probe,
// falling back to the existing path's ids (keep) when unmanaged. It returns
// -1 for an id that needs no change and ok=false when a name is unknown to
// the host (it may be created in this run; chownByName handles that).
func (p *perms) ids(o *Observed, keepUID, keepGID int) (uid, gid int, ok bool, err error) {
	uid, gid = keepUID, keepGID
	if p.owner != "" {
		if n, isNum := numeric(p.owner); isNum {
			uid = n
		} else {
			a, err := o.User(p.owner)
			if err != nil {
				return 0, 0, false, err
			}
			if !a.Exists {
				return 0, 0, false, nil
			}
			uid = a.ID
		}
	}
	if p.group != "" {
		if n, isNum := numeric(p.group); isNum {
			gid = n
		} else {
			a, err := o.Group(p.group)
			if err != nil {
				return 0, 0, false, err
			}
			if !a.Exists {
				return 0, 0, false, nil
			}
			gid = a.ID
		}
	}
	return uid, gid, true, nil
}

// chown sets the ownership of path (before it is renamed into place, for
// new content). keepUID/keepGID are the ids to keep when unmanaged (-1 for
// "whatever the creating user gets").
func (p *perms) chown(ctx context.Context, t *Target, fsys inventory.FileSystem, path string, keepUID, keepGID int) error {
	if p.owner == "" && p.group == "" && (keepUID < 0 || keepGID < 0) {
		return nil
	}
	uid, gid, ok, err := p.ids(t.Observed, keepUID, keepGID)
	if err != nil {
		return err
	}
	if ok && uid >= 0 && gid >= 0 {
		if err := fsys.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
		return nil
	}
	return p.chownByName(ctx, t, path)
}

// chownByName runs chown(1) with the names, for accounts the probe did not
// know (created earlier in the same run).
func (p *perms) chownByName(ctx context.Context, t *Target, path string) error {
	spec := p.owner
	if p.group != "" {
		spec += ":" + p.group
	}
	if spec == "" {
		return nil
	}
	res, err := t.Transport.Run(ctx, inventory.Cmd{Args: []string{"chown", "-h", "--", spec, path}})
	if err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	if res.ExitCode != 0 {
		if p.sensitive {
			// chown's message quotes the account.
			return fmt.Errorf("chown (sensitive owner or group) %s: exited %d", path, res.ExitCode)
		}
		return fmt.Errorf("chown %s %s: %s", spec, path, firstLine(res.Stderr))
	}
	return nil
}

// fix applies mode and ownership differences to an existing path in place.
func (p *perms) fix(ctx context.Context, t *Target, fsys inventory.FileSystem, path string, s *PathState) error {
	chowned := false
	if p.owner != "" || p.group != "" {
		if err := p.chown(ctx, t, fsys, path, s.UID, s.GID); err != nil {
			return err
		}
		chowned = true
	}
	// chown clears the setuid and setgid bits of a regular file, even as
	// root: set the mode afterwards, the existing one when it is unmanaged.
	mode, setMode := p.mode, p.hasMode
	if !setMode && chowned && s.Mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
		mode, setMode = modeBits(s.Mode), true
	}
	if setMode && (modeBits(s.Mode) != mode || chowned) {
		if err := fsys.Chmod(path, mode); err != nil {
			return fmt.Errorf("chmod %s: %w", path, err)
		}
	}
	return nil
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}
