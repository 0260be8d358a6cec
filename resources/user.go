package resources

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/crypto/ssh"

	"github.com/tendhq/tend/inventory"
)

func init() {
	Register(&Kind{
		Name: "user",
		Attributes: []hcl.AttributeSchema{
			{Name: "name"},
			{Name: "uid"},
			{Name: "group"},
			{Name: "groups"},
			{Name: "groups_exclusive"},
			{Name: "system"},
			{Name: "home"},
			{Name: "shell"},
			{Name: "create_home"},
			{Name: "state"},
			{Name: "authorized_keys"},
			{Name: "authorized_keys_exclusive"},
		},
		New: newUser,
	})
}

// User manages a local user account with useradd, usermod and userdel, and
// its ~/.ssh/authorized_keys. Unset attributes are not managed. It never
// reads or writes a password: accounts it creates have none (key login
// only).
//
//   - group is the primary group (a name or a gid); groups are supplementary
//     groups, added to the user's (groups_exclusive = false, the default) or
//     replacing them (groups_exclusive = true).
//   - system and create_home apply when the user is created (create_home
//     defaults to true, false for system users); home and shell are changed
//     on an existing user too (usermod -d does not move the old home).
//   - authorized_keys lists public key lines; they are added to the file
//     (a line with the same key is replaced by the desired one), or with
//     authorized_keys_exclusive = true they become the whole file. The file
//     is written atomically, mode 0600, in ~/.ssh (0700), owned by the user.
//   - state = "absent" removes the user (userdel, without its home).
type User struct {
	addr            Addr
	name            string
	uid             int    // -1: unmanaged
	group           string // "" unmanaged
	groups          []string
	groupsSet       bool
	groupsExclusive bool
	system          bool
	home            string
	shell           string
	createHome      bool
	present         bool
	keys            []authKey
	keysSet         bool
	keysExclusive   bool
}

var _ Resource = (*User)(nil)

// authKey is one parsed authorized_keys line.
type authKey struct {
	line    string // as written to the file
	blob    string // the key itself (wire format), what identifies it
	summary string // type, fingerprint and comment, for plans
}

// parseKeyLine parses one authorized_keys line; ok is false for blank
// lines, comments and lines that hold no public key.
func parseKeyLine(line string) (k authKey, ok bool) {
	l := strings.TrimSpace(line)
	if l == "" || strings.HasPrefix(l, "#") {
		return k, false
	}
	pub, comment, _, rest, err := ssh.ParseAuthorizedKey([]byte(l))
	if err != nil || len(rest) > 0 {
		return k, false
	}
	k.line, k.blob = l, string(pub.Marshal())
	k.summary = pub.Type() + " " + ssh.FingerprintSHA256(pub)
	if comment != "" {
		k.summary += " " + comment
	}
	return k, true
}

// passwdPath reads an absolute path attribute that may go into a passwd
// field (no ":"); "" when unset.
func (d *decoder) passwdPath(name string) string {
	s := d.str(name, "")
	if d.has(name) && (!strings.HasPrefix(s, "/") || !ValidArg(s) || strings.Contains(s, ":") || path.Clean(s) != s) {
		d.errorf(d.rangeOf(name), "Invalid "+name, "The %s %q must be a clean absolute path without \":\".", name, s)
	}
	return s
}

func newUser(b *Block) (Resource, hcl.Diagnostics) {
	d := &decoder{b: b}
	r := &User{addr: b.Addr}
	r.name = d.nameAttr("user name", validAccountName)
	r.uid = d.idAttr("uid")
	r.group = d.account("group")
	r.groups, r.groupsSet = d.strList("groups")
	for _, g := range r.groups {
		if !validAccountName(g) {
			d.errorf(d.rangeOf("groups"), "Invalid group name", "%q is not a valid group name.", g)
		}
	}
	r.groupsExclusive = d.boolean("groups_exclusive", false)
	r.system = d.boolean("system", false)
	r.home = d.passwdPath("home")
	r.shell = d.passwdPath("shell")
	// Whether useradd makes a home depends on login.defs (CREATE_HOME):
	// apply always says it, -m or -M.
	r.createHome = d.boolean("create_home", !r.system)
	r.present = d.state()
	var lines []string
	lines, r.keysSet = d.strList("authorized_keys")
	for _, l := range lines {
		k, ok := parseKeyLine(l)
		if !ok || !ValidArg(l) {
			d.errorf(d.rangeOf("authorized_keys"), "Invalid authorized key",
				"%q is not a public key line (options, key type, base64 key and an optional comment, on one line).", l)
			continue
		}
		r.keys = append(r.keys, k)
	}
	r.keysExclusive = d.boolean("authorized_keys_exclusive", false)
	if !r.present {
		for _, a := range []string{"uid", "group", "groups", "home", "shell", "authorized_keys"} {
			if d.has(a) {
				d.errorf(d.rangeOf(a), "Conflicting attributes", "A user with state = \"absent\" takes no %s.", a)
			}
		}
	}
	return r, d.diags
}

// Addr returns user[name].
func (r *User) Addr() Addr { return r.addr }

// Name returns the user name.
func (r *User) Name() string { return r.name }

// Observe asks for the passwd entry, the groups, the primary group's gid
// and, when managed, the authorized_keys.
func (r *User) Observe(p *Probe) {
	p.Passwd(r.name)
	if !r.present {
		return
	}
	p.UserGroups(r.name)
	if _, num := numeric(r.group); r.group != "" && !num {
		p.Group(r.group)
	}
	if r.keysSet {
		p.AuthorizedKeys(r.name)
	}
}

// primaryOK reports whether the observed primary gid is the desired
// primary group (a gid, or a name the probe resolved).
func (r *User) primaryOK(o *Observed, gid int) (bool, error) {
	if n, num := numeric(r.group); num {
		return n == gid, nil
	}
	a, err := o.Group(r.group)
	if err != nil {
		return false, err
	}
	return a.Exists && a.ID == gid, nil
}

// wantGroups returns the desired supplementary groups, without the primary
// group (id -Gn lists it once, first), sorted.
func (r *User) wantGroups(primary string) []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range r.groups {
		if g != primary && !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out
}

// mergeKeys returns the authorized_keys lines the user should have, given
// the observed lines.
func (r *User) mergeKeys(observed []string) []string {
	out := []string{}
	if r.keysExclusive {
		for _, k := range r.keys {
			out = append(out, k.line)
		}
		return out
	}
	// Additive: every observed line stays where it is, except that a line
	// holding one of the desired keys is replaced by the desired line
	// (sshd uses the first line of a key, so new options must replace the
	// old ones, not follow them). Desired keys not seen go at the end.
	want := map[string]authKey{}
	for _, k := range r.keys {
		if _, dup := want[k.blob]; !dup {
			want[k.blob] = k
		}
	}
	used := map[string]bool{}
	for _, l := range observed {
		k, ok := parseKeyLine(l)
		if w, managed := want[k.blob]; ok && managed {
			if !used[k.blob] {
				out = append(out, w.line)
				used[k.blob] = true
			}
			continue
		}
		out = append(out, l)
	}
	for _, k := range r.keys {
		if !used[k.blob] {
			out = append(out, k.line)
			used[k.blob] = true
		}
	}
	return out
}

// keySummary lists the keys of lines for a plan.
func keySummary(lines []string) string {
	var s []string
	for _, l := range lines {
		if k, ok := parseKeyLine(l); ok {
			s = append(s, k.summary)
		}
	}
	return strings.Join(s, "; ")
}

// nonBlank drops the empty lines of an authorized_keys file: they mean
// nothing to sshd, and an emptied file must compare equal to no keys.
func nonBlank(lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

func sameLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Diff compares the desired user with the observed one.
func (r *User) Diff(o *Observed) (*Change, error) {
	e, err := o.Passwd(r.name)
	if err != nil {
		return nil, err
	}
	c := &Change{Addr: r.addr}
	if !r.present {
		if e.Exists {
			c.Action = Delete
			c.Attrs = []AttrChange{{Name: "uid", Before: strconv.Itoa(e.UID)}}
		}
		return c, nil
	}
	if !e.Exists {
		c.Action = Create
		c.Attrs = r.created()
		return c, nil
	}
	// id -Gn lists the primary group first, then the supplementary ones;
	// the primary group's name is what a plan shows for group.
	groups, _, err := o.UserGroups(r.name)
	if err != nil {
		return nil, err
	}
	primary := strconv.Itoa(e.GID)
	if len(groups) > 0 {
		primary = groups[0]
	}
	if r.uid >= 0 && e.UID != r.uid {
		c.Attrs = append(c.Attrs, AttrChange{Name: "uid", Before: strconv.Itoa(e.UID), After: strconv.Itoa(r.uid)})
	}
	wantPrimary := primary
	if r.group != "" {
		ok, err := r.primaryOK(o, e.GID)
		if err != nil {
			return nil, err
		}
		if !ok {
			c.Attrs = append(c.Attrs, AttrChange{Name: "group", Before: primary, After: r.group})
			wantPrimary = r.group
		}
	}
	if r.groupsSet {
		// Compared as sorted sets, without the primary group: usermod -G
		// never lists it, and id -Gn shows it once, first.
		var have []string
		if len(groups) > 1 {
			have = append(have, groups[1:]...)
		}
		sort.Strings(have)
		want := r.wantGroups(wantPrimary)
		after := want
		if !r.groupsExclusive {
			after = union(have, want)
		}
		if !sameLines(have, after) {
			c.Attrs = append(c.Attrs, AttrChange{Name: "groups", Before: strings.Join(have, ","), After: strings.Join(after, ",")})
		}
	}
	if r.home != "" && e.Home != r.home {
		c.Attrs = append(c.Attrs, AttrChange{Name: "home", Before: e.Home, After: r.home})
	}
	if r.shell != "" && e.Shell != r.shell {
		c.Attrs = append(c.Attrs, AttrChange{Name: "shell", Before: e.Shell, After: r.shell})
	}
	if r.keysSet {
		// The file's lines are compared with what apply would write, so
		// comments and foreign lines count only in exclusive mode.
		k, err := o.AuthorizedKeys(r.name)
		if err != nil {
			return nil, err
		}
		have := nonBlank(k.Lines)
		if want := r.mergeKeys(have); !sameLines(have, want) {
			c.Attrs = append(c.Attrs, AttrChange{Name: "authorized_keys", Before: keySummary(have), After: keySummary(want)})
		}
	}
	if len(c.Attrs) > 0 {
		c.Action = Update
	}
	return c, nil
}

// union returns the sorted union of two sorted lists.
func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range [][]string{a, b} {
		for _, s := range l {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}

// created lists the attributes of a new user, for the plan.
func (r *User) created() []AttrChange {
	a := []AttrChange{{Name: "name", After: r.name}}
	if r.uid >= 0 {
		a = append(a, AttrChange{Name: "uid", After: strconv.Itoa(r.uid)})
	}
	if r.group != "" {
		a = append(a, AttrChange{Name: "group", After: r.group})
	}
	if len(r.groups) > 0 {
		a = append(a, AttrChange{Name: "groups", After: strings.Join(r.wantGroups(r.group), ",")})
	}
	if r.home != "" {
		a = append(a, AttrChange{Name: "home", After: r.home})
	}
	if r.shell != "" {
		a = append(a, AttrChange{Name: "shell", After: r.shell})
	}
	if r.system {
		a = append(a, AttrChange{Name: "system", After: "true"})
	}
	if len(r.keys) > 0 {
		a = append(a, AttrChange{Name: "authorized_keys", After: keySummary(r.mergeKeys(nil))})
	}
	return a
}

// Apply runs userdel, useradd or usermod, then writes authorized_keys.
func (r *User) Apply(ctx context.Context, t *Target, c *Change) error {
	attrs := map[string]AttrChange{}
	for _, a := range c.Attrs {
		attrs[a.Name] = a
	}
	// One useradd or usermod call carries every attribute that differs;
	// the plan's attributes say which.
	var args []string
	switch c.Action {
	case Delete:
		_, err := run(ctx, t, "userdel "+r.name, inventory.Cmd{Args: []string{"userdel", "--", r.name}})
		return err
	case Create:
		args = []string{"useradd"}
		if r.system {
			args = append(args, "-r")
		}
		if r.createHome {
			args = append(args, "-m")
		} else {
			args = append(args, "-M")
		}
	case Update:
		args = []string{"usermod"}
	default:
		return nil
	}
	if _, ok := attrs["uid"]; ok {
		args = append(args, "-u", strconv.Itoa(r.uid))
	}
	if _, ok := attrs["group"]; ok {
		args = append(args, "-g", r.group)
	}
	if a, ok := attrs["groups"]; ok {
		if c.Action == Update && !r.groupsExclusive {
			args = append(args, "-a")
		}
		args = append(args, "-G", a.After)
	}
	if _, ok := attrs["home"]; ok {
		args = append(args, "-d", r.home)
	}
	if _, ok := attrs["shell"]; ok {
		args = append(args, "-s", r.shell)
	}
	if len(args) > 1 || c.Action == Create {
		args = append(args, "--", r.name)
		if _, err := run(ctx, t, args[0]+" "+r.name, inventory.Cmd{Args: args}); err != nil {
			return err
		}
	}
	if _, ok := attrs["authorized_keys"]; ok {
		return r.writeKeys(ctx, t, c)
	}
	return nil
}

// writeKeys writes the merged authorized_keys to a temporary file in
// ~/.ssh, gives it to the user with mode 0600 and renames it into place.
// ~/.ssh is made (0700, the user's) when missing.
func (r *User) writeKeys(ctx context.Context, t *Target, c *Change) error {
	e, err := t.Observed.Passwd(r.name)
	if err != nil {
		return err
	}
	var observed []string
	if c.Action != Create {
		k, err := t.Observed.AuthorizedKeys(r.name)
		if err != nil {
			return err
		}
		observed = k.Lines
	}
	if c.Action == Create || len(c.Attrs) > 1 {
		// useradd or usermod ran: read the entry they left.
		if e, err = lookupPasswd(ctx, t, r.name); err != nil {
			return err
		}
	}
	if e.Home == "" || e.Home == "/" {
		return fmt.Errorf("write authorized_keys of %s on %s: the user has no home", r.name, t.hostName())
	}
	fsys, err := t.Transport.FS(ctx)
	if err != nil {
		return err
	}
	// An existing ~/.ssh is left as it is (the probe refused a symlink);
	// a new one gets the user's ids before anything is written into it.
	dir := e.Home + "/.ssh"
	if err := fsys.Mkdir(dir, 0o700); err == nil {
		if err := fsys.Lchown(dir, e.UID, e.GID); err != nil {
			return fmt.Errorf("chown %s: %w", dir, err)
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	// Write, chown, chmod, then rename over the old file: sshd reads the
	// old keys or the new ones, never half a file.
	file := dir + "/authorized_keys"
	lines := r.mergeKeys(nonBlank(observed))
	content := ""
	if len(lines) > 0 {
		content = strings.Join(lines, "\n") + "\n"
	}
	tmp := tempName(file)
	w, err := fsys.CreateExclusive(tmp, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	_, werr := w.Write([]byte(content))
	if cerr := w.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = fsys.Lchown(tmp, e.UID, e.GID)
	}
	if werr == nil {
		werr = fsys.Chmod(tmp, 0o600)
	}
	if werr == nil {
		werr = fsys.Rename(tmp, file)
	}
	if werr != nil {
		_ = fsys.Remove(tmp)
		return fmt.Errorf("write %s: %w", file, werr)
	}
	return nil
}

// lookupPasswd reads a user's passwd entry with getent during apply.
func lookupPasswd(ctx context.Context, t *Target, name string) (*PasswdEntry, error) {
	res, err := run(ctx, t, "getent passwd "+name, inventory.Cmd{Args: []string{"getent", "passwd", "--", name}})
	if err != nil {
		return nil, err
	}
	f := strings.Split(strings.TrimSpace(string(res.Stdout)), ":")
	if len(f) != 7 || f[0] != name {
		return nil, fmt.Errorf("getent passwd %s on %s: unexpected output %q", name, t.hostName(), res.Stdout)
	}
	uid, err1 := strconv.Atoi(f[2])
	gid, err2 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("getent passwd %s on %s: bad ids in %q", name, t.hostName(), res.Stdout)
	}
	return &PasswdEntry{Exists: true, Name: name, UID: uid, GID: gid, GECOS: f[4], Home: f[5], Shell: f[6]}, nil
}
