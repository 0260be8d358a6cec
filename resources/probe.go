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

// query is one line of the probe's input. Path queries are indexed under
// qPath whatever their type, so that a path is stat'ed once.
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
// when it is a regular file. A path is queried once: asking again with hash
// upgrades the query, asking without hash keeps it.
func (p *Probe) Path(path string, hash bool) {
	k := query{qPath, path}
	i, ok := p.index[k]
	if !ok {
		p.add(k)
		i = p.index[k]
	}
	if hash {
		p.queries[i].typ = qHash
	}
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

// probeScript answers the queries on stdin. It needs POSIX sh, GNU or
// busybox stat (-c), sha256sum, xargs -0 and getent (or /etc/passwd and
// /etc/group without it). The number of processes it starts does not grow
// with the number of paths: one stat and one sha256sum (in xargs batches),
// plus one readlink per symlink and one getent per account name; the
// shell's own work stays linear. Paths and names only ever travel
// as data, printed with printf '%s', never echo (dash's echo interprets
// backslashes).
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
# oneline prints its argument with newlines made spaces, for error records.
oneline() { printf '%s' "$1" | tr '\n' ' '; }
absent_or_error() {
  a=$1
  while :; do
    case $a in */*) a=${a%/*} ;; *) a= ;; esac
    [ -n "$a" ] || a=/
    if [ -e "$a" ]; then
      if [ -d "$a" ] && [ ! -x "$a" ]; then printf 'R %s error permission denied: %s\n' "$2" "$a"; else printf 'R %s absent\n' "$2"; fi
      return
    fi
    [ "$a" = / ] && { printf 'R %s absent\n' "$2"; return; }
  done
}
nl='
'
# From here on, lists split on newlines only and never glob: paths are data.
IFS=$nl; set -f
# The existing paths (ex) and their query numbers (ix), and those of them to
# hash (hp, hx), one per line. dash copies a whole string on every append,
# so appends go through small buffers flushed every 64 paths; lists are
# walked with for over a split variable, not with read, which reads one byte
# per system call. This keeps thousands of paths linear and fast.
n=0; ix=; ex=; hx=; hp=; bi=; be=; bhi=; bhp=; k=0
flush() { ix=$ix$bi; ex=$ex$be; hx=$hx$bhi; hp=$hp$bhp; bi=; be=; bhi=; bhp=; k=0; }
qs=$(cat)
for q in $qs; do
  t=${q%%"	"*}; a=${q#*"	"}
  case $t in
  p|h)
    if [ -e "$a" ] || [ -L "$a" ]; then
      bi=$bi$n$nl; be=$be$a$nl
      if [ "$t" = h ] && [ -f "$a" ] && [ ! -L "$a" ]; then bhi=$bhi$n$nl; bhp=$bhp$a$nl; fi
      k=$((k+1)); [ "$k" -lt 64 ] || flush
    else
      absent_or_error "$a" "$n"
    fi ;;
  u|g)
    # getent tells "no such account" (status 2) from a failed lookup (a
    # directory service down): only the first is absent.
    db=passwd; [ "$t" = g ] && db=group
    if command -v getent >/dev/null 2>&1; then r=$(getent "$db" -- "$a" 2>&1); e=$?
    else
      # exact match on the name field, without turning the name into a regexp
      r=; e=2
      while IFS=: read -r f1 f2 f3 f4 f5; do [ "$f1" = "$a" ] && { r=$f1:$f2:$f3:$f4:; e=0; break; }; done < "/etc/$db"
    fi
    case $e in
    0) r=${r#*:}; r=${r#*:}; i=${r%%:*}; r=${r#*:}
       if [ "$t" = u ]; then printf 'R %s user %s %s\n' "$n" "$i" "${r%%:*}"; else printf 'R %s group %s\n' "$n" "$i"; fi ;;
    2) printf 'R %s absent\n' "$n" ;;
    *) printf 'R %s error getent %s %s: status %s: %s\n' "$n" "$db" "$a" "$e" "$(oneline "$r")" ;;
    esac ;;
  *) printf 'R %s error unknown query type\n' "$n" ;;
  esac
  n=$((n+1))
done
qs=; flush
st='%f %u %g %s %U %G'
if [ -n "$ix" ]; then
  # One stat for all paths (in xargs batches); one per path only when that
  # fails. A line "! message" stands for a path stat could not answer.
  if out=$(printf '%s' "$ex" | tr '\n' '\0' | xargs -0 stat -c "$st" -- 2>/dev/null); then :
  else
    out=$(for a in $ex; do
      if l=$(stat -c "$st" -- "$a" 2>&1); then printf '%s\n' "$l"; else printf '! %s\n' "$(oneline "$l")"; fi
    done)
  fi
  set -- $ix; lk=
  for l in $out; do
    case $l in
    "! "*) printf 'R %s error %s\n' "$1" "${l#! }" ;;
    a???" "*) printf 'R %s path %s\n' "$1" "$l"; lk=$lk$1$nl ;; # a symlink (mode 0120000)
    *) printf 'R %s path %s\n' "$1" "$l" ;;
    esac
    shift
  done
  # The targets of the symlinks (lk, in query order), each on one line.
  set -- $ix
  for a in $ex; do
    [ -n "$lk" ] || break
    if [ "$1" = "${lk%%"$nl"*}" ]; then
      lk=${lk#*"$nl"}
      if r=$(readlink -- "$a" 2>&1); then
        case $r in *"$nl"*) printf 'R %s error symlink target holds a newline\n' "$1" ;;
        *) printf 'R %s link %s\n' "$1" "$r" ;; esac
      else printf 'R %s error %s\n' "$1" "$(oneline "$r")"; fi
    fi
    shift
  done
fi
if [ -n "$hx" ]; then
  if out=$(printf '%s' "$hp" | tr '\n' '\0' | xargs -0 sha256sum -- 2>/dev/null); then :
  else
    out=$(for a in $hp; do
      if l=$(sha256sum -- "$a" 2>&1); then printf '%s\n' "$l"; else printf '! %s\n' "$(oneline "$l")"; fi
    done)
  fi
  set -- $hx
  for l in $out; do
    case $l in
    "! "*) printf 'R %s error %s\n' "$1" "${l#! }" ;;
    *) l=${l#\\}; printf 'R %s sha %s\n' "$1" "${l%% *}" ;;
    esac
    shift
  done
fi
unset IFS; set +f
printf 'E %s\n' "$n"
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

// The types a probe reports; TypeOther stands for a FIFO, a socket or a
// device, which no kind replaces.
const (
	TypeFile    FileType = "file"
	TypeDir     FileType = "directory"
	TypeSymlink FileType = "symlink"
	TypeOther   FileType = "other"
)

// describe returns t with its article, for messages: "a file", "a special
// file".
func (t FileType) describe() string {
	if t == TypeOther {
		return "a special file"
	}
	return "a " + string(t)
}

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

	hasTarget bool // a link record arrived
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
	for _, q := range p.queries {
		s := o.paths[q.arg]
		switch {
		case q.typ != qPath && q.typ != qHash, s.Err != "":
		case q.typ == qHash && s.Type == TypeFile && s.SHA256 == "":
			return nil, fmt.Errorf("probe reply has no sha256 for %s", q.arg)
		case s.Type == TypeSymlink && !s.hasTarget:
			return nil, fmt.Errorf("probe reply has no target for the symlink %s", q.arg)
		}
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
			if val != "" {
				return fmt.Errorf("bad absent record %q for %s", val, q.arg)
			}
			return primary()
		case "error":
			if val == "" {
				val = "unknown error"
			}
			if *seen && (s.Exists || s.Err != "") {
				// stat answered but readlink or sha256sum failed (an
				// unreadable file under a non-root login), or several
				// steps failed: the path is an error, never half known.
				if s.Err == "" {
					s.Err = val
				}
				return nil
			}
			s.Err = val
			return primary()
		case "path":
			if err := primary(); err != nil {
				return err
			}
			return s.parseStat(val)
		case "link":
			if s.Err != "" {
				return nil // an earlier step failed; the error stands
			}
			if !s.Exists || s.Type != TypeSymlink || s.hasTarget {
				return fmt.Errorf("link record for %s, which is not a symlink", q.arg)
			}
			s.Target, s.hasTarget = val, true
			return nil
		case "sha":
			if s.Err != "" {
				return nil // an earlier step failed; the error stands
			}
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
			if val == "" {
				a.Err = "unknown error"
			}
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
