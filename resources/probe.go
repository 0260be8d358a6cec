package resources

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/tendhq/tend/inventory"
)

// Probe collects what the resources of one host need observed, and turns it
// into ONE remote execution: a fixed POSIX sh script (the command) reading
// its queries from standard input, one per line. User values never become
// part of the script; they are data on stdin.
//
// The reply is line-oriented and parsed strictly by ParseProbe: every query
// answered exactly once, known record types only, an end marker with the
// query count. A query the host could not answer is an error record, which
// Diff reports as an error, never as "absent".
type Probe struct {
	queries []query
	index   map[query]int
}

type queryType byte

const (
	qPath  queryType = 'p' // lstat (and readlink for a symlink)
	qHash  queryType = 'h' // lstat, readlink, and sha256 of a regular file
	qUser  queryType = 'u' // uid and primary gid of a user name
	qGroup queryType = 'g' // gid of a group name
)

type query struct {
	typ queryType
	arg string
}

// NewProbe returns an empty probe; facts are always gathered.
func NewProbe() *Probe { return &Probe{index: map[query]int{}} }

func (p *Probe) add(q query) {
	if _, ok := p.index[q]; ok {
		return
	}
	p.index[q] = len(p.queries)
	p.queries = append(p.queries, q)
}

// Path asks for the lstat of path; with hash, also the sha256 of its content
// when it is a regular file.
func (p *Probe) Path(path string, hash bool) {
	if hash {
		p.add(query{qHash, path})
		return
	}
	p.add(query{qPath, path})
}

// User asks whether the user exists and for its uid and gid.
func (p *Probe) User(name string) { p.add(query{qUser, name}) }

// Group asks whether the group exists and for its gid.
func (p *Probe) Group(name string) { p.add(query{qGroup, name}) }

// Len returns the number of queries.
func (p *Probe) Len() int { return len(p.queries) }

// Cmd returns the single remote execution that answers every query.
func (p *Probe) Cmd() inventory.Cmd {
	var in bytes.Buffer
	for _, q := range p.queries {
		in.WriteByte(byte(q.typ))
		in.WriteByte('\t')
		in.WriteString(q.arg)
		in.WriteByte('\n')
	}
	return inventory.Cmd{Args: []string{"sh", "-c", probeScript}, Stdin: &in}
}

// ValidArg reports whether s can travel as a probe query: it must not hold a
// newline or a NUL. Loaders reject such paths and names with a diagnostic.
func ValidArg(s string) bool { return !strings.ContainsAny(s, "\n\x00") }

// probeScript answers the queries on stdin. It needs POSIX sh, coreutils'
// stat and sha256sum, and id; it forks a fixed number of processes for the
// paths (one stat, one sha256sum) whatever their number.
const probeScript = `LC_ALL=C; export LC_ALL
PATH="$PATH:/usr/sbin:/sbin:/usr/bin:/bin"; export PATH
echo 'T tend-probe 1'
set -- $(uname -nrm 2>/dev/null)
printf 'F hostname %s\nF kernel %s\nF arch %s\n' "${1:-}" "${2:-}" "${3:-}"
set --
if [ -r /etc/os-release ]; then
  ( . /etc/os-release 2>/dev/null; printf 'F os_id %s\nF os_version %s\nF os_name %s\n' "${ID:-}" "${VERSION_ID:-}" "${PRETTY_NAME:-}" )
fi
if [ -d /run/systemd/system ]; then echo 'F init systemd'
elif [ -r /proc/1/comm ]; then printf 'F init %s\n' "$(cat /proc/1/comm)"
fi
for m in apt-get dnf yum apk zypper pacman; do
  if command -v "$m" >/dev/null 2>&1; then printf 'F pkg_manager %s\n' "$m"; break; fi
done
printf 'F user %s\nF uid %s\n' "$(id -un)" "$(id -u)"
for s in /usr/lib/openssh/sftp-server /usr/libexec/openssh/sftp-server /usr/lib/ssh/sftp-server /usr/libexec/sftp-server /usr/lib/sftp-server; do
  if [ -x "$s" ]; then printf 'F sftp_server %s\n' "$s"; break; fi
done
absent_or_error() {
  a=$1
  while :; do
    case $a in */*) a=${a%/*} ;; *) a= ;; esac
    [ -n "$a" ] || a=/
    if [ -e "$a" ]; then
      if [ -d "$a" ] && [ ! -x "$a" ]; then echo "R $2 error permission denied: $a"; else echo "R $2 absent"; fi
      return
    fi
    [ "$a" = / ] && { echo "R $2 absent"; return; }
  done
}
n=0; ix=; hx=
while IFS= read -r q; do
  t=${q%%"	"*}; a=${q#*"	"}
  case $t in
  p|h)
    if [ -e "$a" ] || [ -L "$a" ]; then
      ix="$ix $n"; set -- "$@" "$a"
      if [ "$t" = h ] && [ -f "$a" ] && [ ! -L "$a" ]; then hx="$hx $n"; fi
    else
      absent_or_error "$a" "$n"
    fi ;;
  u)
    if r=$(id -u -- "$a" 2>/dev/null); then echo "R $n user $r $(id -g -- "$a")"; else echo "R $n absent"; fi ;;
  g)
    if command -v getent >/dev/null 2>&1; then r=$(getent group "$a"); else r=$(grep "^$a:" /etc/group); fi
    if [ -n "$r" ]; then r=${r#*:}; r=${r#*:}; echo "R $n group ${r%%:*}"; else echo "R $n absent"; fi ;;
  *) echo "R $n error unknown query type"; ;;
  esac
  n=$((n+1))
done
if [ -n "$ix" ]; then
  # the positional parameters hold the existing paths, in the order of $ix
  out=$(stat -c '%f %u %g %s %U %G' -- "$@" 2>/dev/null) && ok=1 || ok=
  if [ -n "$ok" ]; then
    printf '%s\n' "$out" | { for x in $ix; do IFS= read -r l; echo "R $x path $l"; done; }
  else
    for x in $ix; do
      a=$1; shift
      if l=$(stat -c '%f %u %g %s %U %G' -- "$a" 2>&1); then echo "R $x path $l"
      else echo "R $x error $(printf '%s' "$l" | tr '\n' ' ')"; fi
      set -- "$@" "$a"
    done
  fi
  for x in $ix; do
    a=$1; shift
    if [ -L "$a" ]; then printf 'R %s link %s\n' "$x" "$(readlink -- "$a")"; fi
    case " $hx " in *" $x "*) set -- "$@" "$a" ;; esac
  done
  if [ -n "$hx" ]; then
    out=$(sha256sum -- "$@" 2>/dev/null) && ok=1 || ok=
    if [ -n "$ok" ]; then
      printf '%s\n' "$out" | { for x in $hx; do IFS= read -r l; l=${l#\\}; echo "R $x sha ${l%% *}"; done; }
    else
      for x in $hx; do
        a=$1; shift
        if l=$(sha256sum -- "$a" 2>&1); then l=${l#\\}; echo "R $x sha ${l%% *}"
        else echo "R $x error $(printf '%s' "$l" | tr '\n' ' ')"; fi
      done
    fi
  fi
fi
echo "E $n"
`

// Facts are what the probe learns about a host besides its resources.
type Facts struct {
	Hostname   string
	Kernel     string
	Arch       string
	OSID       string // os-release ID, e.g. "debian"
	OSVersion  string // os-release VERSION_ID, e.g. "12"
	OSName     string
	Init       string // "systemd" or the name of PID 1
	PkgManager string // "apt-get", "dnf", "yum", "apk", ... or ""
	User       string
	UID        int
	SFTPServer string // path of sftp-server, for SFTP under become
}

// FileType is the type of an observed path.
type FileType string

const (
	TypeFile    FileType = "file"
	TypeDir     FileType = "directory"
	TypeSymlink FileType = "symlink"
	TypeOther   FileType = "other"
)

// PathState is the observed state of one path.
type PathState struct {
	Exists bool
	Type   FileType
	Mode   fs.FileMode // permission bits plus setuid, setgid, sticky
	UID    int
	GID    int
	Owner  string // user name, or the uid when it has no name
	Group  string // group name, or the gid when it has no name
	Size   int64
	SHA256 string // hex; only for regular files probed with hash
	Target string // symlink target
	Err    string // the host could not answer this query
}

// Account is the observed state of a user or group.
type Account struct {
	Exists bool
	ID     int // uid or gid
	GID    int // a user's primary gid
	Err    string
}

// Observed is the parsed reply of a probe.
type Observed struct {
	Facts  Facts
	paths  map[string]*PathState
	users  map[string]*Account
	groups map[string]*Account
}

// Path returns the observed state of path. It returns an error when the path
// was not probed or the host could not answer.
func (o *Observed) Path(path string) (*PathState, error) {
	s, ok := o.paths[path]
	if !ok {
		return nil, fmt.Errorf("path %s was not probed", path)
	}
	if s.Err != "" {
		return nil, fmt.Errorf("observe %s: %s", path, s.Err)
	}
	return s, nil
}

// User returns the observed state of a user name.
func (o *Observed) User(name string) (*Account, error) { return account(o.users, "user", name) }

// Group returns the observed state of a group name.
func (o *Observed) Group(name string) (*Account, error) { return account(o.groups, "group", name) }

func account(m map[string]*Account, what, name string) (*Account, error) {
	a, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("%s %s was not probed", what, name)
	}
	if a.Err != "" {
		return nil, fmt.Errorf("observe %s %s: %s", what, name, a.Err)
	}
	return a, nil
}

// ParseProbe parses the reply of p.Cmd(). Output that does not follow the
// protocol is an error: a reply is never guessed at.
func ParseProbe(p *Probe, out []byte) (*Observed, error) {
	o := &Observed{
		paths:  map[string]*PathState{},
		users:  map[string]*Account{},
		groups: map[string]*Account{},
	}
	seen := make([]bool, len(p.queries))
	answered := make([]bool, len(p.queries))
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	line, header, end := 0, false, false
	bad := func(format string, args ...any) error {
		return fmt.Errorf("probe reply line %d: %s", line, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		line++
		l := sc.Text()
		if end {
			return nil, bad("output after the end marker: %q", trim(l))
		}
		if !header {
			if l != "T tend-probe 1" {
				return nil, bad("expected the probe header, got %q (is the login shell printing a banner?)", trim(l))
			}
			header = true
			continue
		}
		typ, rest, _ := strings.Cut(l, " ")
		switch typ {
		case "F":
			k, v, _ := strings.Cut(rest, " ")
			if err := o.Facts.set(k, v); err != nil {
				return nil, bad("%v", err)
			}
		case "R":
			ns, rest, _ := strings.Cut(rest, " ")
			i, err := strconv.Atoi(ns)
			if err != nil || i < 0 || i >= len(p.queries) {
				return nil, bad("record for an unknown query %q", ns)
			}
			rtype, val, _ := strings.Cut(rest, " ")
			if err := o.record(p.queries[i], rtype, val, &seen[i], &answered[i]); err != nil {
				return nil, bad("%v", err)
			}
		case "E":
			if n, err := strconv.Atoi(rest); err != nil || n != len(p.queries) {
				return nil, bad("end marker says %q queries, sent %d", rest, len(p.queries))
			}
			end = true
		default:
			return nil, bad("unexpected output %q", trim(l))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read probe reply: %w", err)
	}
	if !end {
		return nil, fmt.Errorf("probe reply is incomplete: no end marker after %d lines", line)
	}
	for i, ok := range answered {
		if !ok {
			q := p.queries[i]
			return nil, fmt.Errorf("probe reply has no answer for %c %s", q.typ, q.arg)
		}
	}
	for i, q := range p.queries {
		if q.typ == qHash {
			if s := o.paths[q.arg]; s.Err == "" && s.Type == TypeFile && s.SHA256 == "" {
				return nil, fmt.Errorf("probe reply has no sha256 for %s", q.arg)
			}
		}
		_ = i
	}
	return o, nil
}

func trim(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func (f *Facts) set(k, v string) error {
	switch k {
	case "hostname":
		f.Hostname = v
	case "kernel":
		f.Kernel = v
	case "arch":
		f.Arch = v
	case "os_id":
		f.OSID = v
	case "os_version":
		f.OSVersion = v
	case "os_name":
		f.OSName = v
	case "init":
		f.Init = v
	case "pkg_manager":
		f.PkgManager = v
	case "user":
		f.User = v
	case "uid":
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("fact uid: %q is not a number", v)
		}
		f.UID = n
	case "sftp_server":
		f.SFTPServer = v
	default:
		return fmt.Errorf("unknown fact %q", k)
	}
	return nil
}

// record applies one R record to o. seen tracks the primary answer
// (absent/path/user/group/error); answered is set once it arrived.
func (o *Observed) record(q query, rtype, val string, seen, answered *bool) error {
	primary := func() error {
		if *seen {
			return fmt.Errorf("query %c %s answered twice", q.typ, q.arg)
		}
		*seen, *answered = true, true
		return nil
	}
	switch q.typ {
	case qPath, qHash:
		s := o.paths[q.arg]
		if s == nil {
			s = &PathState{}
			o.paths[q.arg] = s
		}
		switch rtype {
		case "absent":
			return primary()
		case "error":
			s.Err = val
			return primary()
		case "path":
			if err := primary(); err != nil {
				return err
			}
			return s.parseStat(val)
		case "link":
			if !s.Exists || s.Type != TypeSymlink {
				return fmt.Errorf("link record for %s, which is not a symlink", q.arg)
			}
			s.Target = val
			return nil
		case "sha":
			if !s.Exists || s.Type != TypeFile || q.typ != qHash {
				return fmt.Errorf("sha record for %s, which was not hashed", q.arg)
			}
			if len(val) != 64 || strings.Trim(val, "0123456789abcdef") != "" {
				return fmt.Errorf("bad sha256 %q for %s", val, q.arg)
			}
			s.SHA256 = val
			return nil
		}
	case qUser, qGroup:
		m := o.users
		if q.typ == qGroup {
			m = o.groups
		}
		a := &Account{}
		switch rtype {
		case "absent":
		case "error":
			a.Err = val
		case "user", "group":
			if (rtype == "user") != (q.typ == qUser) {
				return fmt.Errorf("%s record for %c query %s", rtype, q.typ, q.arg)
			}
			f := strings.Fields(val)
			want := 1
			if rtype == "user" {
				want = 2
			}
			if len(f) != want {
				return fmt.Errorf("bad %s record %q", rtype, val)
			}
			var err error
			if a.ID, err = strconv.Atoi(f[0]); err != nil {
				return fmt.Errorf("bad id in %s record %q", rtype, val)
			}
			if want == 2 {
				if a.GID, err = strconv.Atoi(f[1]); err != nil {
					return fmt.Errorf("bad gid in user record %q", val)
				}
			}
			a.Exists = true
		default:
			return fmt.Errorf("unknown record %q for %c %s", rtype, q.typ, q.arg)
		}
		if err := primary(); err != nil {
			return err
		}
		m[q.arg] = a
		return nil
	}
	return fmt.Errorf("unknown record %q for %c %s", rtype, q.typ, q.arg)
}

// parseStat parses "%f %u %g %s %U %G" of GNU stat.
func (s *PathState) parseStat(v string) error {
	f := strings.Fields(v)
	if len(f) != 6 {
		return fmt.Errorf("bad stat record %q", v)
	}
	raw, err := strconv.ParseUint(f[0], 16, 32)
	if err != nil {
		return fmt.Errorf("bad mode %q in stat record", f[0])
	}
	if s.UID, err = strconv.Atoi(f[1]); err != nil {
		return fmt.Errorf("bad uid %q in stat record", f[1])
	}
	if s.GID, err = strconv.Atoi(f[2]); err != nil {
		return fmt.Errorf("bad gid %q in stat record", f[2])
	}
	if s.Size, err = strconv.ParseInt(f[3], 10, 64); err != nil {
		return fmt.Errorf("bad size %q in stat record", f[3])
	}
	s.Owner, s.Group = f[4], f[5]
	if s.Owner == "UNKNOWN" {
		s.Owner = f[1]
	}
	if s.Group == "UNKNOWN" {
		s.Group = f[2]
	}
	s.Exists = true
	switch raw & 0o170000 {
	case 0o100000:
		s.Type = TypeFile
	case 0o040000:
		s.Type = TypeDir
	case 0o120000:
		s.Type = TypeSymlink
	default:
		s.Type = TypeOther
	}
	s.Mode = fs.FileMode(raw & 0o777)
	if raw&0o4000 != 0 {
		s.Mode |= fs.ModeSetuid
	}
	if raw&0o2000 != 0 {
		s.Mode |= fs.ModeSetgid
	}
	if raw&0o1000 != 0 {
		s.Mode |= fs.ModeSticky
	}
	return nil
}

// Paths returns the probed paths, sorted; for tests and debugging.
func (o *Observed) Paths() []string {
	ps := make([]string, 0, len(o.paths))
	for p := range o.paths {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}
