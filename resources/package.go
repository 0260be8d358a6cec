package resources

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/tendhq/tend/inventory"
)

func init() {
	Register(&Kind{
		Name: "package",
		Attributes: []hcl.AttributeSchema{
			{Name: "name"},
			{Name: "state"},
			{Name: "version"},
			{Name: "cache_valid_time"},
			{Name: "lock_timeout"},
		},
		New: newPackage,
	})
}

// Package manages one OS package through the host's package manager:
// apt-get (Debian, Ubuntu), dnf or yum (Fedora, RHEL and kin) or apk
// (Alpine), whichever the probe found. state is "present" (installed, any
// version unless version pins one), "latest" (installed at the candidate
// version of the configured repositories) or "absent" (removed; its
// configuration files stay, as with apt-get remove).
//
// All package changes of a host are applied together (BatchResource): one
// install call and one remove call per host. On apt hosts the package lists
// are refreshed first, once per host and run, when they are older than
// cache_valid_time (default 1h). apt-get runs with
// DEBIAN_FRONTEND=noninteractive, keeps changed configuration files
// (--force-confold) and installs recommended packages as apt's
// configuration says (tend does not add --no-install-recommends). While
// another process holds apt's or dpkg's lock, apt-get waits for it up to
// lock_timeout (default 120s; DPkg::Lock::Timeout); when it gives up, the
// error says how long it waited and which process holds which lock.
type Package struct {
	addr       Addr
	name       string
	state      string // present, latest, absent
	version    string // "" for any
	cacheValid time.Duration
	lockWait   time.Duration
}

var (
	_ Resource      = (*Package)(nil)
	_ BatchResource = (*Package)(nil)
)

// The package states.
const (
	pkgPresent = "present"
	pkgLatest  = "latest"
	pkgAbsent  = "absent"
)

// validPackageName accepts the package names of dpkg, rpm and apk, with an
// architecture suffix (nginx:amd64, glibc.i686), and rejects what a package
// manager would take for a pattern, an option or a version (*, ?, [, =, /,
// a leading -).
func validPackageName(s string) bool { return validChars(s, "+.-_:~") }

func newPackage(b *Block) (Resource, hcl.Diagnostics) {
	d := &decoder{b: b}
	r := &Package{addr: b.Addr}
	r.name = d.nameAttr("package name", validPackageName)
	r.state = d.oneOf("state", pkgPresent, pkgLatest, pkgAbsent)
	r.version = d.str("version", "")
	r.cacheValid = d.duration("cache_valid_time", time.Hour)
	r.lockWait = d.duration("lock_timeout", 120*time.Second)
	switch {
	case d.has("version") && !validChars(r.version, "+.-_:~"):
		d.errorf(d.rangeOf("version"), "Invalid version",
			"The version %q is not a package version: it must hold only letters, digits and the characters + . - _ : ~.", r.version)
	case d.has("version") && r.state != pkgPresent:
		d.errorf(d.rangeOf("version"), "Conflicting attributes",
			"A version pins the package: it goes with state = \"present\", not %q.", r.state)
	}
	return r, d.diags
}

// Addr returns package[name].
func (r *Package) Addr() Addr { return r.addr }

// Name returns the package name.
func (r *Package) Name() string { return r.name }

// BatchKey puts every package of a host in one batch.
func (r *Package) BatchKey() string { return "package" }

// Observe asks for the package's state and, for state = "latest", its
// candidate version.
func (r *Package) Observe(p *Probe) {
	p.Package(r.name)
	if r.state == pkgLatest {
		p.PackageCandidate(r.name)
	}
}

// supportedPM returns an error unless the host's package manager is one
// the package kind drives.
func supportedPM(pm string) error {
	switch pm {
	case "apt-get", "dnf", "yum", "apk":
		return nil
	case "":
		return fmt.Errorf("package needs apt-get, dnf, yum or apk; the host has none of them")
	}
	return fmt.Errorf("package needs apt-get, dnf, yum or apk; the host has %s", pm)
}

// versionMatches reports whether the installed version satisfies the
// pinned one: the same string, or for rpm a version without its release
// ("1.20.1" matches "1.20.1-3.el9"); an epoch is compared only when the
// pin has one.
func versionMatches(pm, installed, want string) bool {
	if installed == want {
		return true
	}
	if pm != "dnf" && pm != "yum" {
		return false
	}
	if !strings.Contains(want, ":") {
		if _, v, ok := strings.Cut(installed, ":"); ok {
			installed = v
		}
	}
	return installed == want || strings.HasPrefix(installed, want+"-")
}

// Diff compares the desired package with the observed one.
func (r *Package) Diff(o *Observed) (*Change, error) {
	if err := supportedPM(o.Facts.PkgManager); err != nil {
		return nil, err
	}
	s, err := o.Package(r.name)
	if err != nil {
		return nil, err
	}
	c := &Change{Addr: r.addr}
	if r.state == pkgAbsent {
		if s.Installed || s.Status != "" {
			c.Action = Delete
			c.Attrs = []AttrChange{{Name: "version", Before: s.Version}}
		}
		return c, nil
	}
	want := r.version
	if r.state == pkgLatest {
		cand, err := o.Candidate(r.name)
		if err != nil {
			return nil, err
		}
		switch {
		case cand != "":
			want = cand
		case !s.Installed:
			// No candidate in the current lists: apply refreshes them
			// first on apt hosts; the plan can only say "latest".
			want = "latest"
		default:
			// Installed and nothing newer to install (a package no
			// configured repository has any more).
			want = s.Version
		}
	}
	switch {
	case s.Status != "":
		c.Action = Update
		c.Attrs = []AttrChange{{Name: "status", Before: s.Status, After: "installed"}}
		if want != "" && want != s.Version {
			c.Attrs = append(c.Attrs, AttrChange{Name: "version", Before: s.Version, After: want})
		}
	case !s.Installed:
		c.Action = Create
		c.Attrs = []AttrChange{{Name: "name", After: r.name}}
		if want != "" {
			c.Attrs = append(c.Attrs, AttrChange{Name: "version", After: want})
		}
	case want != "" && !versionMatches(o.Facts.PkgManager, s.Version, want):
		c.Action = Update
		c.Attrs = []AttrChange{{Name: "version", Before: s.Version, After: want}}
	}
	return c, nil
}

// Apply applies this package's change alone, as a batch of one.
func (r *Package) Apply(ctx context.Context, t *Target, c *Change) error {
	errs, err := r.ApplyBatch(ctx, t, []BatchResource{r}, []*Change{c})
	if err != nil {
		return err
	}
	return errs[0]
}

// ApplyBatch installs (and upgrades) every member to install in one call of
// the package manager and removes every member to remove in another. On apt
// hosts, the package lists are refreshed first (once per host and run) when
// they are older than the smallest cache_valid_time of the members to
// install. A failed call fails the members it was for.
func (r *Package) ApplyBatch(ctx context.Context, t *Target, rs []BatchResource, cs []*Change) ([]error, error) {
	if len(rs) != len(cs) {
		return nil, fmt.Errorf("apply packages on %s: %d resources and %d changes", t.hostName(), len(rs), len(cs))
	}
	pm := t.Observed.Facts.PkgManager
	if err := supportedPM(pm); err != nil {
		return nil, err
	}
	var (
		install, remove []int
		specs, names    []string
		pinned, upgrade bool
		cacheValid      = time.Duration(-1)
		lockWait        time.Duration
	)
	// Split the members into one install list and one remove list; the
	// lock timeout is the longest any member asked for.
	for i, br := range rs {
		p, ok := br.(*Package)
		if !ok {
			return nil, fmt.Errorf("apply packages on %s: %s is not a package", t.hostName(), br.Addr())
		}
		lockWait = max(lockWait, p.lockWait)
		switch cs[i].Action {
		case NoOp:
			continue
		case Delete:
			remove = append(remove, i)
			names = append(names, p.name)
			continue
		}
		install = append(install, i)
		specs = append(specs, p.spec(pm, t.Observed))
		pinned = pinned || p.version != ""
		upgrade = upgrade || p.state == pkgLatest
		if cacheValid < 0 || p.cacheValid < cacheValid {
			cacheValid = p.cacheValid
		}
	}
	errs := make([]error, len(rs))
	if len(install) > 0 {
		err := refreshCache(ctx, t, pm, cacheValid, lockWait)
		if err == nil {
			_, err = run(ctx, t, pm+" install "+strings.Join(specs, " "), installCmd(pm, specs, pinned, upgrade, lockWait))
		}
		err = lockHolders(ctx, t, pm, lockWait, err)
		for _, i := range install {
			errs[i] = err
		}
	}
	if len(remove) > 0 {
		_, err := run(ctx, t, pm+" remove "+strings.Join(names, " "), removeCmd(pm, names, lockWait))
		err = lockHolders(ctx, t, pm, lockWait, err)
		for _, i := range remove {
			errs[i] = err
		}
	}
	return errs, nil
}

// aptLocks are the files apt-get and dpkg lock (fcntl) while they run.
var aptLocks = []string{"/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock", "/var/lib/apt/lists/lock", "/var/cache/apt/archives/lock"}

// lockHoldersScript prints "FILE is held by process PID (COMMAND)" for
// every lock in /proc/locks on one of the files "$@" (matched by inode).
const lockHoldersScript = `for f in "$@"; do
  ino=$(stat -c %i -- "$f" 2>/dev/null) || continue
  for p in $(awk -v ino="$ino" '$2 != "->" { n = split($6, a, ":"); if (a[n] == ino) print $5 }' /proc/locks | sort -u); do
    c=$(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-200)
    printf '%s is held by process %s (%s)\n' "$f" "$p" "${c% }"
  done
done`

// lockHolders adds to err, when apt-get failed because another process
// held its lock past lock_timeout, how long tend waited and which
// processes hold which lock (apt's own message names only the file). Any
// other error, or a failure to find the holders, is returned as it is.
func lockHolders(ctx context.Context, t *Target, pm string, waited time.Duration, err error) error {
	if err == nil || pm != "apt-get" {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, "Could not get lock") && !strings.Contains(msg, "Unable to acquire the dpkg frontend lock") && !strings.Contains(msg, "Unable to lock") {
		return err
	}
	res, rerr := t.Transport.Run(ctx, inventory.Cmd{Args: append([]string{"sh", "-c", lockHoldersScript, "sh"}, aptLocks...)})
	holders := ""
	if rerr == nil && res.ExitCode == 0 {
		holders = strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(res.Stdout)), "\n", " | ")), " ")
	}
	if holders == "" {
		return fmt.Errorf("%w (waited %s for the lock: lock_timeout)", err, waited)
	}
	return fmt.Errorf("%w (waited %s for the lock: lock_timeout; %s)", err, waited, holders)
}

// spec is what the install call names for r: the name, with the pinned
// version (name=1.2-3 for apt and apk, name-1.2-3 for dnf and yum), or for
// state = "latest" on dnf and yum with the candidate, since their install
// does not upgrade an installed package.
func (r *Package) spec(pm string, o *Observed) string {
	v := r.version
	if r.state == pkgLatest && (pm == "dnf" || pm == "yum") {
		if c, err := o.Candidate(r.name); err == nil {
			v = c
		}
	}
	switch {
	case v == "":
		return r.name
	case pm == "dnf" || pm == "yum":
		return r.name + "-" + v
	}
	return r.name + "=" + v
}

// aptEnv is the environment of every apt-get call.
var aptEnv = []string{"DEBIAN_FRONTEND=noninteractive", "NEEDRESTART_MODE=a", "APT_LISTCHANGES_FRONTEND=none"}

// aptUpdateScript refreshes the apt lists and, on success, touches the stamp
// the probe reads the cache age from (apt-get update leaves the lists
// untouched when nothing changed). $1 is the lock timeout in seconds.
const aptUpdateScript = `apt-get -q -o "DPkg::Lock::Timeout=$1" update || exit
mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp`

// refreshCache refreshes the package lists before an install where the
// package manager needs it: apt, when the lists are older than maxAge (or
// missing), once per host and run. dnf and yum refresh their metadata by
// themselves; apk is given --update-cache by installCmd.
func refreshCache(ctx context.Context, t *Target, pm string, maxAge, lockWait time.Duration) error {
	if pm != "apt-get" {
		return nil
	}
	return t.RunOnce("apt-update", func() error {
		age := t.Observed.Facts.AptCacheAge
		if age >= 0 && time.Duration(age)*time.Second < maxAge {
			return nil
		}
		_, err := run(ctx, t, "apt-get update", inventory.Cmd{
			Args: []string{"sh", "-c", aptUpdateScript, "sh", seconds(lockWait)},
			Env:  aptEnv,
		})
		return err
	})
}

func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// installCmd is the one install call for specs.
func installCmd(pm string, specs []string, pinned, upgrade bool, lockWait time.Duration) inventory.Cmd {
	switch pm {
	case "apt-get":
		args := []string{"apt-get", "-q", "-y", "-o", "DPkg::Lock::Timeout=" + seconds(lockWait),
			"-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"}
		if pinned {
			args = append(args, "--allow-downgrades")
		}
		return inventory.Cmd{Args: append(append(args, "install"), specs...), Env: aptEnv}
	case "apk":
		args := []string{"apk", "add", "--update-cache"}
		if upgrade {
			args = append(args, "--upgrade")
		}
		return inventory.Cmd{Args: append(args, specs...)}
	}
	return inventory.Cmd{Args: append([]string{pm, "-y", "install"}, specs...)}
}

// removeCmd is the one remove call for names.
func removeCmd(pm string, names []string, lockWait time.Duration) inventory.Cmd {
	switch pm {
	case "apt-get":
		return inventory.Cmd{Args: append([]string{"apt-get", "-q", "-y", "-o", "DPkg::Lock::Timeout=" + seconds(lockWait), "remove"}, names...), Env: aptEnv}
	case "apk":
		return inventory.Cmd{Args: append([]string{"apk", "del"}, names...)}
	}
	return inventory.Cmd{Args: append([]string{pm, "-y", "remove"}, names...)}
}

// PackageState is the observed state of a package.
type PackageState struct {
	Installed bool
	Version   string // the installed version (rpm: [epoch:]version-release)
	// Status is set for a package dpkg holds in a broken state
	// ("half-configured", "unpacked", "half-installed", "reinst-required"):
	// neither installed nor absent. A package that left only its
	// configuration files behind counts as absent.
	Status string
	Err    string
}

// candidateState is the answer to a candidate query.
type candidateState struct {
	version string // "" when the package manager has none
	err     string
}

// parsePackages answers the package queries of names from the pkg section.
func parsePackages(s *section, names []string) map[string]*PackageState {
	switch s.tool {
	case "dpkg-query":
		return parseDpkg(s, names)
	case "rpm":
		return parseRPM(s, names)
	case "apk":
		res := map[string]*PackageState{}
		recs, errText := parseApkVersion(s)
		for _, n := range names {
			st := &PackageState{}
			if errText != "" {
				st.Err = errText
			} else if r, ok := recs[n]; ok {
				st.Installed, st.Version = true, r.installed
			}
			res[n] = st
		}
		return res
	}
	msg := "no supported package manager (apt-get, dnf, yum or apk) on the host"
	if s.tool != "none" {
		msg = "unknown package query tool " + s.tool
	}
	return allErr(names, func() *PackageState { return &PackageState{Err: msg} })
}

func allErr[T any](names []string, mk func() T) map[string]T {
	res := map[string]T{}
	for _, n := range names {
		res[n] = mk()
	}
	return res
}

// dpkgStatus maps the second letter of dpkg's db:Status-Abbrev to whether
// the package is installed, or to the name of a broken state ("" for
// absent).
func dpkgStatus(abbrev string) (installed bool, broken string) {
	if len(abbrev) >= 3 && abbrev[2] == 'R' {
		return false, "reinst-required"
	}
	if len(abbrev) < 2 {
		return false, "unknown"
	}
	switch abbrev[1] {
	case 'i', 'W', 'w', 't', 'T':
		return true, ""
	case 'n', 'c':
		return false, ""
	case 'H', 'h':
		return false, "half-installed"
	case 'U', 'u':
		return false, "unpacked"
	case 'F', 'f':
		return false, "half-configured"
	}
	return false, "unknown status " + strings.TrimSpace(abbrev)
}

// parseDpkg parses `dpkg-query -W -f '${Package}\t${Architecture}\t
// ${db:Status-Abbrev}\t${Version}\n' names...` with stderr merged in. A
// name is absent only when dpkg-query says "no packages found matching
// NAME"; its status is 1 then, and any other status or message is an error.
func parseDpkg(s *section, names []string) map[string]*PackageState {
	if s.status != 0 && s.status != 1 {
		e := sectionError(s)
		return allErr(names, func() *PackageState { return &PackageState{Err: e} })
	}
	type rec struct{ pkg, arch, abbrev, version string }
	var (
		recs     []rec
		notFound = map[string]bool{}
		other    []string
	)
	for _, l := range s.lines {
		if f := strings.Split(l, "\t"); len(f) == 4 {
			recs = append(recs, rec{f[0], f[1], f[2], f[3]})
		} else if n, ok := strings.CutPrefix(l, "dpkg-query: no packages found matching "); ok {
			notFound[n] = true
		} else {
			other = append(other, l)
		}
	}
	// A name matches a line by package name or by name:arch; a
	// multi-arch package has a line per architecture, and is installed
	// when one of them is.
	res := map[string]*PackageState{}
	for _, n := range names {
		st := &PackageState{}
		matched := false
		for _, r := range recs {
			if r.pkg != n && r.pkg+":"+r.arch != n {
				continue
			}
			installed, broken := dpkgStatus(r.abbrev)
			switch {
			case installed:
				st.Installed, st.Version, st.Status = true, r.version, ""
			case broken != "" && !st.Installed:
				st.Version, st.Status = r.version, broken
			}
			matched = true
		}
		if !matched && !notFound[n] {
			st.Err = "dpkg-query did not report it"
			if len(other) > 0 {
				st.Err += ": " + strings.Join(other, " ")
			}
		}
		res[n] = st
	}
	return res
}

// rpmVersion drops a zero or missing epoch: "0:1.2-3" and "(none):1.2-3"
// are "1.2-3".
func rpmVersion(v string) string {
	if e, rest, ok := strings.Cut(v, ":"); ok && (e == "0" || e == "(none)") {
		return rest
	}
	return v
}

// parseRPM parses `rpm -q --qf '%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t
// %{ARCH}\n' names...` with stderr merged in. rpm prints "package NAME is
// not installed" for an absent name and exits with the number of them.
func parseRPM(s *section, names []string) map[string]*PackageState {
	type rec struct{ name, version, arch string }
	var (
		recs     []rec
		notFound = map[string]bool{}
		other    []string
	)
	for _, l := range s.lines {
		if f := strings.Split(l, "\t"); len(f) == 3 {
			recs = append(recs, rec{f[0], rpmVersion(f[1]), f[2]})
		} else if rest, ok := strings.CutPrefix(l, "package "); ok && strings.HasSuffix(rest, " is not installed") {
			notFound[strings.TrimSuffix(rest, " is not installed")] = true
		} else {
			other = append(other, l)
		}
	}
	res := map[string]*PackageState{}
	for _, n := range names {
		st := &PackageState{}
		matched := false
		for _, r := range recs {
			if r.name == n || r.name+"."+r.arch == n {
				if !matched {
					st.Installed, st.Version = true, r.version
				}
				matched = true
			}
		}
		switch {
		case matched:
		case notFound[n]:
		case s.status == 0 && len(other) == 0:
			st.Err = "rpm did not report it"
		default:
			st.Err = sectionError(s)
		}
		res[n] = st
	}
	return res
}

// apkRecord is one line of `apk version`.
type apkRecord struct {
	installed, op, latest string
}

// splitApkPkgVer splits apk's "name-version-rN" at the version: apk
// versions hold no "-" but the one before the release.
func splitApkPkgVer(s string) (name, version string, ok bool) {
	i := strings.LastIndexByte(s, '-')
	if i <= 0 || i+1 >= len(s) || s[i+1] != 'r' {
		return "", "", false
	}
	j := strings.LastIndexByte(s[:i], '-')
	if j <= 0 {
		return "", "", false
	}
	return s[:j], s[j+1:], true
}

// parseApkVersion parses `apk version names...` with stderr merged in: a
// header line, then "name-version-rN  OP latest [tag]" for each installed
// name (OP is <, = or >; apk 2 glues it to a name-version of 40 or more
// characters). Names it does not list are not installed. It returns the
// records by name, or the error text of a failed call.
func parseApkVersion(s *section) (map[string]apkRecord, string) {
	if s.status != 0 {
		return nil, sectionError(s)
	}
	recs := map[string]apkRecord{}
	for _, l := range s.lines {
		if strings.HasPrefix(l, "Installed:") || strings.HasPrefix(l, "WARNING:") {
			continue
		}
		f := strings.Fields(l)
		if len(f) >= 1 && len(f[0]) > 1 && strings.ContainsAny(f[0][len(f[0])-1:], "<>=?~") {
			f = append([]string{f[0][:len(f[0])-1], f[0][len(f[0])-1:]}, f[1:]...)
		}
		if len(f) < 3 || len(f) > 4 {
			return nil, "unexpected apk version output: " + l
		}
		name, ver, ok := splitApkPkgVer(f[0])
		if !ok {
			return nil, "unexpected apk version output: " + l
		}
		recs[name] = apkRecord{installed: ver, op: f[1], latest: f[2]}
	}
	return recs, ""
}

// parseCandidates answers the candidate queries of names.
func parseCandidates(s *section, names []string) map[string]*candidateState {
	fail := func(msg string) map[string]*candidateState {
		return allErr(names, func() *candidateState { return &candidateState{err: msg} })
	}
	res := map[string]*candidateState{}
	switch s.tool {
	case "apt-cache":
		if s.status != 0 {
			return fail(sectionError(s))
		}
		// "name:" starts a package's block; its "  Candidate: V" line
		// says what apt would install, "(none)" when nothing.
		cands, cur := map[string]string{}, ""
		var errs []string
		for _, l := range s.lines {
			switch {
			case strings.HasPrefix(l, "  Candidate: "):
				if v := strings.TrimPrefix(l, "  Candidate: "); cur != "" && v != "(none)" {
					cands[cur] = v
				}
			case strings.HasPrefix(l, "  "):
			case strings.HasPrefix(l, "E: "):
				errs = append(errs, l)
			case strings.HasSuffix(l, ":") && !strings.Contains(l, " "):
				cur = strings.TrimSuffix(l, ":")
			}
		}
		if len(errs) > 0 {
			return fail("apt-cache policy: " + strings.Join(errs, " "))
		}
		for _, n := range names {
			res[n] = &candidateState{version: cands[n]}
		}
	case "dnf", "repoquery":
		if s.status != 0 {
			return fail(sectionError(s))
		}
		// "name evr " per package: dnf 4 ends each with a newline, dnf 5
		// does not, so the output is read as pairs of words.
		f := strings.Fields(strings.Join(s.lines, " "))
		if len(f)%2 != 0 {
			return fail("unexpected " + s.tool + " output: " + strings.Join(s.lines, " "))
		}
		cands := map[string]string{}
		for i := 0; i < len(f); i += 2 {
			if _, dup := cands[f[i]]; !dup {
				cands[f[i]] = rpmVersion(f[i+1])
			}
		}
		for _, n := range names {
			res[n] = &candidateState{version: cands[n]}
		}
	case "apk":
		recs, errText := parseApkVersion(s)
		if errText != "" {
			return fail(errText)
		}
		for _, n := range names {
			c := &candidateState{}
			if r, ok := recs[n]; ok {
				c.version = r.installed
				if r.op == "<" {
					c.version = r.latest
				}
			}
			res[n] = c
		}
	case "none":
		return fail("state = \"latest\" needs apt-cache, dnf, or repoquery (yum-utils) on yum hosts")
	default:
		return fail("unknown candidate tool " + s.tool)
	}
	return res
}
