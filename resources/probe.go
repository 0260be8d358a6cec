package resources

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	index   map[query]int           // the queries but paths, by query
	paths   map[string]int          // the path queries (qPath or qHash), by path
	known   map[string]knownContent // content queries' known content, by path
}

type queryType byte

const (
	qPath  queryType = 'p' // lstat (and readlink for a symlink)
	qHash  queryType = 'h' // lstat, readlink, and sha256 of a regular file
	qUser  queryType = 'u' // uid and primary gid of a user name
	qGroup queryType = 'g' // gid of a group name
	// The queries of the system kinds (package, service, user, exec).
	qPasswd    queryType = 'U' // a user's whole passwd entry
	qMember    queryType = 'G' // a user's groups (id -Gn)
	qKeys      queryType = 'k' // the lines of a user's ~/.ssh/authorized_keys
	qPackage   queryType = 'P' // a package: installed, version (section pkg)
	qCandidate queryType = 'C' // a package's candidate version (section cand)
	qUnit      queryType = 'S' // a systemd unit's state (section svc)
	qCommand   queryType = 'x' // a guard command's exit status
	qContent   queryType = 'c' // a small file's content, base64 (probe_content.go)
	qRelease   queryType = 'r' // a release directory: current, releases, history (probe_release.go)
)

// sectionOf names the batched section that answers a query type, "" for
// the types answered by R records.
func sectionOf(t queryType) string {
	switch t {
	case qPackage:
		return "pkg"
	case qCandidate:
		return "cand"
	case qUnit:
		return "svc"
	}
	return ""
}

// query is one line of the probe's input. Path queries are indexed by
// path (Probe.paths) whatever their type, so that a path is stat'ed once.
type query struct {
	typ queryType
	arg string
}

// NewProbe returns an empty probe; facts are always gathered.
func NewProbe() *Probe { return &Probe{} }

// NewProbeSized is NewProbe with room for about n queries, such as one per
// resource of a host.
func NewProbeSized(n int) *Probe {
	return &Probe{queries: make([]query, 0, n), paths: make(map[string]int, n)}
}

// add adds a query other than a path query, once.
func (p *Probe) add(q query) {
	if _, ok := p.index[q]; ok {
		return
	}
	if p.index == nil {
		p.index = map[query]int{}
	}
	p.index[q] = len(p.queries)
	p.queries = append(p.queries, q)
}

// Path asks for the lstat of path; with hash, also the sha256 of its content
// when it is a regular file. A path is queried once: asking again with hash
// upgrades the query, asking without hash keeps it.
func (p *Probe) Path(path string, hash bool) {
	i, ok := p.paths[path]
	if !ok {
		if p.paths == nil {
			p.paths = map[string]int{}
		}
		i = len(p.queries)
		p.paths[path] = i
		p.queries = append(p.queries, query{qPath, path})
	}
	if hash {
		p.queries[i].typ = qHash
	}
}

// User asks whether the user exists and for its uid and gid.
func (p *Probe) User(name string) { p.add(query{qUser, name}) }

// Group asks whether the group exists and for its gid.
func (p *Probe) Group(name string) { p.add(query{qGroup, name}) }

// Passwd asks for the whole passwd entry of a user: uid, gid, home, shell.
func (p *Probe) Passwd(name string) { p.add(query{qPasswd, name}) }

// UserGroups asks for the names of the groups a user is in (primary first,
// as id -Gn prints them), and for its passwd entry.
func (p *Probe) UserGroups(name string) {
	p.Passwd(name)
	p.add(query{qMember, name})
}

// AuthorizedKeys asks for the lines of ~/.ssh/authorized_keys in the home
// of a user, and for its passwd entry (which says where the home is).
func (p *Probe) AuthorizedKeys(name string) {
	p.Passwd(name)
	p.add(query{qKeys, name})
}

// Package asks whether a package is installed, and its version. All package
// queries of a probe are answered by one call of the host's package query
// tool (dpkg-query, rpm or apk).
func (p *Probe) Package(name string) { p.add(query{qPackage, name}) }

// PackageCandidate asks for the version the package manager would install
// (apt-cache policy, dnf repoquery, apk version), and whether the package is
// installed. All candidate queries share one call.
func (p *Probe) PackageCandidate(name string) {
	p.Package(name)
	p.add(query{qCandidate, name})
}

// Unit asks for the state of a systemd unit. All unit queries of a probe
// are answered by one systemctl show.
func (p *Probe) Unit(name string) { p.add(query{qUnit, name}) }

// Command asks for the exit status of a guard command (an exec's unless or
// only_if), run by the probe itself: no extra remote execution.
func (p *Probe) Command(g Guard) { p.add(query{qCommand, g.encode()}) }

// Len returns the number of queries.
func (p *Probe) Len() int { return len(p.queries) }

// Cmd returns the single remote execution that answers every query.
func (p *Probe) Cmd() inventory.Cmd {
	var in bytes.Buffer
	size := 0
	for _, q := range p.queries {
		size += len(q.arg) + 3
		if q.typ == qContent {
			size += 1 + 2*sha256.Size
		}
	}
	in.Grow(size)
	for _, q := range p.queries {
		in.WriteByte(byte(q.typ))
		in.WriteByte('\t')
		if q.typ == qContent {
			// "c<TAB>SHA256<TAB>PATH": the hash of the known content,
			// empty when there is none (ContentUnless).
			in.WriteString(p.known[q.arg].sum)
			in.WriteByte('\t')
		}
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
// with the number of queries: one stat and one sha256sum (in xargs batches),
// one getent per account database, one id for the groups of all users, one
// package query, one candidate query and one systemctl show, plus one
// readlink per symlink, one process per guard command and one stat and one
// base64 per content query (tend reads only its own small files); the shell's own
// work stays linear. Paths and names only ever travel as data, printed with
// printf '%s', never echo (dash's echo interprets backslashes).
//
// Besides the R records (one answer per query), the reply holds batched
// sections: "D tag line" lines carry the raw output of one call (the package
// query, the candidate query, systemctl show) and "B tag tool status" closes
// the section; ParseProbe matches their lines to the queries.
const probeScript = `tend_lc=${LC_ALL-}; tend_lcs=${LC_ALL+1}
LC_ALL=C; export LC_ALL
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
pm=
for m in apt-get dnf yum apk zypper pacman; do
  if command -v "$m" >/dev/null 2>&1; then pm=$m; printf 'F pkg_manager %s\n' "$m"; break; fi
done
printf 'F user %s\nF uid %s\n' "$(id -un)" "$(id -u)"
for s in /usr/lib/openssh/sftp-server /usr/libexec/openssh/sftp-server /usr/lib/ssh/sftp-server /usr/libexec/sftp-server /usr/lib/sftp-server; do
  if [ -x "$s" ]; then printf 'F sftp_server %s\n' "$s"; break; fi
done
for t in curl wget zstd unzip; do
  if command -v "$t" >/dev/null 2>&1; then printf 'F tool %s\n' "$t"; fi
done
c=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null)
case $c in ''|*[!0-9]*) ;; *) printf 'F cpus %s\n' "$c" ;; esac
if [ -r /proc/meminfo ]; then
  read -r k v u < /proc/meminfo
  case $k:$v in MemTotal::|MemTotal::*[!0-9]*) ;; MemTotal::*) printf 'F memory_mb %s\n' $((v / 1024)) ;; esac
fi
# The age of the apt cache: since the last successful update (the stamp
# tend and update-notifier touch) or the last change of the lists; -1 when
# there are no package lists at all.
if [ "$pm" = apt-get ]; then
  set -- /var/lib/apt/lists/*_Packages*
  if [ -e "$1" ]; then
    f=/var/lib/apt/lists; s=/var/lib/apt/periodic/update-success-stamp
    [ ! -e "$s" ] || [ ! "$s" -nt "$f" ] || f=$s
    now=$(date +%s); m=$(date -r "$f" +%s 2>/dev/null)
    case $now:$m in :*|*:|*[!0-9:]*) ;; *)
      a=$((now - m)); [ "$a" -ge 0 ] || a=0
      printf 'F apt_cache_age %s\n' "$a" ;;
    esac
  else echo 'F apt_cache_age -1'
  fi
  set --
fi
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
# runguard NUMBER CWD TIMEOUT ARGV... runs a guard command in CWD (with
# timeout(1) when the host has it, and the caller's locale) and records its
# exit status; a missing CWD is recorded as such, since a resource applied
# before the command may create it.
# (Shell functions share the script's variables: runguard's have a prefix.)
runguard() {
  rg_n=$1; rg_d=${2:-/}; rg_t=$3; shift 3
  if [ ! -d "$rg_d" ]; then printf 'R %s nocwd\n' "$rg_n"; return; fi
  if [ -n "$rg_t" ] && command -v timeout >/dev/null 2>&1; then set -- timeout -k 5 "$rg_t" "$@"; fi
  ( cd "$rg_d" || exit 126
    if [ -n "$tend_lcs" ]; then LC_ALL=$tend_lc; else unset LC_ALL; fi
    exec "$@" ) </dev/null >/dev/null 2>&1
  printf 'R %s exit %s\n' "$rg_n" "$?"
}
# readcontent PATH NUMBER [SHA256] prints a small regular file (at most
# 1 MiB) as base64 on one record line: one stat and one base64 per file.
# With SHA256, a file of that hash is answered "same": one sha256sum.
readcontent() {
  if [ -f "$1" ]; then
    if [ -n "$3" ] && rc_h=$(sha256sum 2>/dev/null < "$1") && [ "${rc_h%% *}" = "$3" ]; then printf 'R %s same\n' "$2"
    elif ! rc_s=$(stat -L -c %s -- "$1" 2>&1); then printf 'R %s error %s\n' "$2" "$(oneline "$rc_s")"
    elif [ "$rc_s" -gt 1048576 ]; then printf 'R %s error %s is larger than 1048576 bytes (%s)\n' "$2" "$1" "$rc_s"
    elif rc_b=$(base64 -w0 2>&1 < "$1"); then printf 'R %s content %s\n' "$2" "$rc_b"
    else printf 'R %s error base64 %s: %s\n' "$2" "$1" "$(oneline "$rc_b")"
    fi
  elif [ -e "$1" ]; then printf 'R %s error %s is not a regular file\n' "$2" "$1"
  else absent_or_error "$1" "$2"
  fi
}
# relstate BASE NUMBER reports a release directory: where BASE/current
# points, every directory in BASE/releases with the first line of its
# .tend-release marker (empty for a release that is not complete), and the
# lines of BASE/.tend-history; one readlink is the only process.
relstate() {
  if [ ! -e "$1" ] && [ ! -L "$1" ]; then absent_or_error "$1" "$2"; return; fi
  if [ -L "$1" ] || [ ! -d "$1" ]; then printf 'R %s error %s is not a directory\n' "$2" "$1"; return; fi
  if [ -L "$1/current" ]; then
    if rs_c=$(readlink -- "$1/current" 2>&1); then printf 'R %s current %s\n' "$2" "$(oneline "$rs_c")"
    else printf 'R %s error readlink %s/current: %s\n' "$2" "$1" "$(oneline "$rs_c")"; return; fi
  elif [ -e "$1/current" ]; then printf 'R %s error %s/current is not a symlink\n' "$2" "$1"; return
  fi
  rs_k=0
  if [ -d "$1/releases" ]; then
    set +f
    for rs_d in "$1"/releases/*; do
      [ -d "$rs_d" ] && [ ! -L "$rs_d" ] || continue
      rs_m=
      [ ! -f "$rs_d/.tend-release" ] || IFS= read -r rs_m < "$rs_d/.tend-release" || :
      printf 'R %s rel %s %s\n' "$2" "${rs_d##*/}" "$rs_m"
      rs_k=$((rs_k+1))
    done
    set -f
  fi
  if [ -f "$1/.tend-history" ]; then
    while IFS= read -r rs_l || [ -n "$rs_l" ]; do printf 'R %s hist %s\n' "$2" "$rs_l"; done < "$1/.tend-history"
  fi
  printf 'R %s releases %s\n' "$2" "$rs_k"
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
# Account queries ("number<TAB>type<TAB>name") and their names (uq, un for
# passwd, gq, gn for group), group memberships (mq) and authorized_keys
# (kq) as "number<TAB>name", package names (pk), candidate names (pc),
# units (su); xa counts the lines of a guard command still to read.
uq=; un=; gq=; gn=; mq=; kq=; pk=; pc=; su=; xa=0
flush() { ix=$ix$bi; ex=$ex$be; hx=$hx$bhi; hp=$hp$bhp; bi=; be=; bhi=; bhp=; k=0; }
qs=$(cat)
for q in $qs; do
  t=${q%%"	"*}; a=${q#*"	"}
  if [ "$xa" -gt 0 ]; then
    # a line of a guard: its cwd, its timeout, then one argument per line
    set -- "$@" "$a"; xa=$((xa - 1))
    [ "$xa" -gt 0 ] || runguard "$@"
    continue
  fi
  case $t in
  p|h)
    if [ -e "$a" ] || [ -L "$a" ]; then
      bi=$bi$n$nl; be=$be$a$nl
      if [ "$t" = h ] && [ -f "$a" ] && [ ! -L "$a" ]; then bhi=$bhi$n$nl; bhp=$bhp$a$nl; fi
      k=$((k+1)); [ "$k" -lt 64 ] || flush
    else
      absent_or_error "$a" "$n"
    fi ;;
  u|U) uq=$uq$n"	"$t"	"$a$nl; un=$un$a$nl ;;
  g) gq=$gq$n"	"$t"	"$a$nl; gn=$gn$a$nl ;;
  G) mq=$mq$n"	"$a$nl ;;
  k) kq=$kq$n"	"$a$nl ;;
  P) pk=$pk$a$nl ;;
  C) pc=$pc$a$nl ;;
  S) su=$su$a$nl ;;
  x) set -- "$n"; xa=$a ;;
  c) readcontent "${a#*"	"}" "$n" "${a%%"	"*}" ;;
  r) relstate "$a" "$n" ;;
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
# acct DB QUERIES NAMES answers the account queries of one database with
# one getent for all NAMES (or a scan of /etc/DB without getent). getent
# prints the entries it finds in the order of the names asked, so output
# and queries are walked in step; getent's status 2 means "not found", any
# other failure (a directory service down) is an error, never absent. The
# homes of the users found for U queries go to hl ("name<TAB>home").
hl=; pwerr=
acct() {
  if command -v getent >/dev/null 2>&1; then out=$(getent "$db" -- $2 2>&1); e=$?
  else
    out=; e=0
    for a in $2; do
      f=; while IFS= read -r l; do [ "${l%%:*}" = "$a" ] && { f=$l; break; }; done < "/etc/$db"
      if [ -n "$f" ]; then out=$out$f$nl; else e=2; fi
    done
  fi
  aq=$1; rb=
  case $e in
  0|2)
    set -- $out
    for en in $aq; do
      qn=${en%%"	"*}; a=${en#*"	"}; qt=${a%%"	"*}; a=${a#*"	"}
      if [ $# -gt 0 ] && [ "${1%%:*}" = "$a" ]; then
        r=${1#*:}; r=${r#*:}; i=${r%%:*}; r=${r#*:}
        case $qt in
        u) rb=$rb"R $qn user $i ${r%%:*}"$nl ;;
        U) h=${1%:*}; rb=$rb"R $qn passwd $1"$nl; hl=$hl$a"	"${h##*:}$nl ;;
        g) rb=$rb"R $qn group $i"$nl ;;
        esac
        shift
      else rb=$rb"R $qn absent"$nl
      fi
    done
    if [ $# -eq 0 ]; then printf '%s' "$rb"; return; fi
    [ "$db" = group ] || hl=
    out="answered out of order: $1" ;;
  esac
  msg=$(oneline "$out")
  [ "$db" = group ] || pwerr="getent passwd: status $e: $msg"
  for en in $aq; do
    qn=${en%%"	"*}; a=${en#*"	"}; a=${a#*"	"}
    printf 'R %s error getent %s %s: status %s: %s\n' "$qn" "$db" "$a" "$e" "$msg"
  done
}
[ -z "$uq" ] || { db=passwd; acct "$uq" "$un"; }
[ -z "$gq" ] || { db=group; acct "$gq" "$gn"; }
# homeof NAME sets hm to the home of a user found by a U query.
homeof() {
  for h in $hl; do [ "${h%%"	"*}" = "$1" ] && { hm=${h#*"	"}; return 0; }; done
  return 1
}
# The groups of the users (primary first): one id for all, one per user
# only when that fails (busybox and old coreutils take one user).
if [ -n "$mq" ]; then
  gi=; gm=
  for en in $mq; do
    qn=${en%%"	"*}; a=${en#*"	"}
    if homeof "$a"; then gi=$gi$qn$nl; gm=$gm$a$nl
    elif [ -n "$pwerr" ]; then printf 'R %s error %s\n' "$qn" "$pwerr"
    else printf 'R %s absent\n' "$qn"; fi
  done
  if [ -n "$gm" ]; then
    ok=
    if out=$(id -Gn -- $gm 2>/dev/null); then
      c=0; for l in $out; do c=$((c+1)); done
      set -- $gm; [ "$c" -ne $# ] || ok=1
    fi
    set -- $gi
    if [ -n "$ok" ]; then
      for l in $out; do printf 'R %s groups %s\n' "$1" "$l"; shift; done
    else
      for a in $gm; do
        if l=$(id -Gn -- "$a" 2>&1); then printf 'R %s groups %s\n' "$1" "$l"
        else printf 'R %s error id -Gn %s: %s\n' "$1" "$a" "$(oneline "$l")"; fi
        shift
      done
    fi
  fi
fi
# The lines of the users' authorized_keys, read by the shell (no process).
for en in $kq; do
  qn=${en%%"	"*}; a=${en#*"	"}; hm=
  if ! homeof "$a" || [ -z "$hm" ]; then
    if [ -n "$pwerr" ]; then printf 'R %s error %s\n' "$qn" "$pwerr"; else printf 'R %s absent\n' "$qn"; fi
    continue
  fi
  f=$hm/.ssh/authorized_keys
  # A symlink there could point a root write elsewhere: refuse it.
  if [ -L "$hm/.ssh" ] || [ -L "$f" ]; then printf 'R %s error %s or its .ssh is a symlink\n' "$qn" "$f"
  elif [ -f "$f" ] && [ -r "$f" ]; then
    c=0
    while IFS= read -r l || [ -n "$l" ]; do printf 'R %s key %s\n' "$qn" "$l"; c=$((c+1)); done < "$f"
    printf 'R %s keys %s\n' "$qn" "$c"
  elif [ -f "$f" ]; then printf 'R %s error permission denied: %s\n' "$qn" "$f"
  elif [ -e "$f" ] || [ -L "$f" ]; then printf 'R %s error %s is not a regular file\n' "$qn" "$f"
  else absent_or_error "$f" "$qn"
  fi
done
# section TAG TOOL STATUS OUTPUT prints the output of one batched call as
# D lines and closes it; of apt-cache policy only the package lines and
# their Installed and Candidate lines are kept.
section() {
  for l in $4; do
    if [ "$2" = apt-cache ]; then
      case $l in "  Installed: "*|"  Candidate: "*) ;; " "*) continue ;; esac
    fi
    printf 'D %s %s\n' "$1" "$l"
  done
  printf 'B %s %s %s\n' "$1" "$2" "$3"
}
if [ -n "$pk" ]; then
  out=; e=0
  case $pm in
  apt-get) t=dpkg-query; out=$(dpkg-query -W -f='${Package}\t${Architecture}\t${db:Status-Abbrev}\t${Version}\n' $pk 2>&1); e=$? ;;
  dnf|yum) t=rpm; out=$(rpm -q --qf '%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\n' $pk 2>&1); e=$? ;;
  apk) t=apk; out=$(apk version $pk 2>&1); e=$? ;;
  *) t=none ;;
  esac
  section pkg "$t" "$e" "$out"
fi
if [ -n "$pc" ]; then
  out=; e=0
  case $pm in
  apt-get) t=apt-cache; out=$(apt-cache policy $pc 2>&1); e=$? ;;
  dnf) t=dnf; out=$(dnf -q repoquery --latest-limit=1 --qf '%{name} %{evr} ' $pc 2>&1); e=$? ;;
  yum)
    if command -v repoquery >/dev/null 2>&1; then
      t=repoquery; out=$(repoquery -q --qf '%{name} %{epoch}:%{version}-%{release} ' $pc 2>&1); e=$?
    else t=none; fi ;;
  apk) t=apk ;; # apk version, in the pkg section, has the candidates
  *) t=none ;;
  esac
  section cand "$t" "$e" "$out"
fi
if [ -n "$su" ]; then
  out=; e=0; t=none
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    t=systemctl
    out=$(systemctl show --property=Id,LoadState,ActiveState,SubState,UnitFileState,MainPID,NeedDaemonReload,FragmentPath -- $su 2>&1); e=$?
  fi
  section svc "$t" "$e" "$out"
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
	CPUs       int    // online processors (getconf _NPROCESSORS_ONLN); 0 when unknown
	MemoryMB   int    // MemTotal of /proc/meminfo in MiB; 0 when unknown
	// AptCacheAge is the age in seconds of the apt package lists: since
	// the last successful `apt-get update` (the stamp
	// /var/lib/apt/periodic/update-success-stamp, which tend touches after
	// its own updates) or the last change of /var/lib/apt/lists, whichever
	// is newer. It is -1 when the host has no package lists or is not an
	// apt host.
	AptCacheAge int64
	// Tools are the helper programs the host has among curl, wget, zstd
	// and unzip (for release artifacts), in that order.
	Tools []string
}

// HasTool reports whether the host has the program name (see Tools).
func (f *Facts) HasTool(name string) bool { return slices.Contains(f.Tools, name) }

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

	passwd     map[string]*PasswdEntry
	members    map[string]*memberState
	keys       map[string]*KeysState
	guards     map[string]*GuardResult
	packages   map[string]*PackageState
	candidates map[string]*candidateState
	units      map[string]*UnitState
	sections   map[string]*section
	contents   map[string]*contentState
	releases   map[string]*ReleaseState
	known      map[string]knownContent // the probe's, for "same" records
}

// PasswdEntry is a user's passwd entry (no password field: tend never
// reads or writes password hashes).
type PasswdEntry struct {
	Exists bool
	Name   string
	UID    int
	GID    int
	GECOS  string
	Home   string
	Shell  string
	Err    string
}

// memberState is the answer to a user's groups query.
type memberState struct {
	exists bool
	groups []string // primary first, as id -Gn prints them
	err    string
}

// KeysState is the observed ~/.ssh/authorized_keys of a user.
type KeysState struct {
	Exists bool     // the file exists
	Lines  []string // its lines, as they are (comments and blank lines too)
	Err    string

	count    int
	hasCount bool
}

// GuardResult is the outcome of a guard command the probe ran.
type GuardResult struct {
	// NoCwd is true when the command's working directory does not exist,
	// so that it did not run; ExitCode is then meaningless.
	NoCwd    bool
	ExitCode int
	Err      string
}

// section is one batched call's output in a probe reply: its D lines and
// its closing B record.
type section struct {
	lines  []string
	tool   string
	status int
	closed bool
}

// Guard is a command the probe runs to evaluate an exec resource's unless
// or only_if. Its arguments travel on the probe's stdin, one per line, and
// run as "$@" of the fixed script, never as shell code.
type Guard struct {
	Argv    []string      // the command, wrapped already (runuser, env)
	Cwd     string        // the working directory; "" is /
	Timeout time.Duration // 0 for none; applied with timeout(1) where the host has it
}

// encode returns the guard as a probe query argument: the number of lines,
// then "a<TAB>" lines with the cwd, the timeout in seconds and the argv.
func (g Guard) encode() string {
	secs := ""
	if g.Timeout > 0 {
		secs = strconv.FormatInt(int64((g.Timeout+time.Second-1)/time.Second), 10)
	}
	lines := append([]string{g.Cwd, secs}, g.Argv...)
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(lines)))
	for _, l := range lines {
		b.WriteString("\na\t")
		b.WriteString(l)
	}
	return b.String()
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

// Passwd returns the observed passwd entry of a user.
func (o *Observed) Passwd(name string) (*PasswdEntry, error) {
	e, ok := o.passwd[name]
	if !ok {
		return nil, fmt.Errorf("user %s was not probed", name)
	}
	if e.Err != "" {
		return nil, fmt.Errorf("observe user %s: %s", name, e.Err)
	}
	return e, nil
}

// UserGroups returns the groups of a user, primary first, and whether the
// user exists.
func (o *Observed) UserGroups(name string) ([]string, bool, error) {
	m, ok := o.members[name]
	if !ok {
		return nil, false, fmt.Errorf("groups of user %s were not probed", name)
	}
	if m.err != "" {
		return nil, false, fmt.Errorf("observe groups of user %s: %s", name, m.err)
	}
	return m.groups, m.exists, nil
}

// AuthorizedKeys returns the observed authorized_keys file of a user.
func (o *Observed) AuthorizedKeys(name string) (*KeysState, error) {
	k, ok := o.keys[name]
	if !ok {
		return nil, fmt.Errorf("authorized_keys of user %s were not probed", name)
	}
	if k.Err != "" {
		return nil, fmt.Errorf("observe authorized_keys of user %s: %s", name, k.Err)
	}
	return k, nil
}

// Guard returns the outcome of a guard command.
func (o *Observed) Guard(g Guard) (*GuardResult, error) {
	r, ok := o.guards[g.encode()]
	if !ok {
		return nil, fmt.Errorf("guard %q was not probed", g.Argv)
	}
	if r.Err != "" {
		return nil, fmt.Errorf("run guard %q: %s", g.Argv, r.Err)
	}
	return r, nil
}

// Package returns the observed state of a package.
func (o *Observed) Package(name string) (*PackageState, error) {
	s, ok := o.packages[name]
	if !ok {
		return nil, fmt.Errorf("package %s was not probed", name)
	}
	if s.Err != "" {
		return nil, fmt.Errorf("observe package %s: %s", name, s.Err)
	}
	return s, nil
}

// Candidate returns the version the package manager would install for a
// package, "" when it knows none.
func (o *Observed) Candidate(name string) (string, error) {
	c, ok := o.candidates[name]
	if !ok {
		return "", fmt.Errorf("candidate of package %s was not probed", name)
	}
	if c.err != "" {
		return "", fmt.Errorf("observe candidate of package %s: %s", name, c.err)
	}
	return c.version, nil
}

// Unit returns the observed state of a systemd unit.
func (o *Observed) Unit(name string) (*UnitState, error) {
	u, ok := o.units[name]
	if !ok {
		return nil, fmt.Errorf("unit %s was not probed", name)
	}
	if u.Err != "" {
		return nil, fmt.Errorf("observe unit %s: %s", name, u.Err)
	}
	return u, nil
}

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

// probeLineMax bounds the length of one line of a reply (a content record
// of ContentLimit bytes, in base64, fits well).
const probeLineMax = 16 * 1024 * 1024

// ParseProbe parses the reply of p.Cmd(). Output that does not follow the
// protocol is an error: a reply is never guessed at.
//
// It is on the path of every host of a run: the lines are read in place
// (a trailing CR dropped), and the strings it keeps (hashes, account
// names) are copied out of them into one buffer.
func ParseProbe(p *Probe, out []byte) (*Observed, error) {
	o := &Observed{known: p.known}
	o.Facts.AptCacheAge = -1
	npath, nhash := 0, 0
	for _, q := range p.queries {
		switch q.typ {
		case qHash:
			nhash++
			npath++
		case qPath:
			npath++
		}
	}
	ps := &pathParser{states: make([]PathState, npath)}
	ps.arena.Grow(nhash*64 + 64)
	o.paths = make(map[string]*PathState, npath)
	nq := len(p.queries)
	flags := make([]bool, 2*nq)
	seen, answered := flags[:nq:nq], flags[nq:]
	line, header, end := 0, false, false
	bad := func(format string, args ...any) error {
		return fmt.Errorf("probe reply line %d: %s", line, fmt.Sprintf(format, args...))
	}
	for rest := out; len(rest) > 0; {
		var l []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			l, rest = rest[:i], rest[i+1:]
		} else {
			l, rest = rest, nil
		}
		if len(l) >= probeLineMax {
			return nil, fmt.Errorf("read probe reply: %w", bufio.ErrTooLong)
		}
		if n := len(l); n > 0 && l[n-1] == '\r' {
			l = l[:n-1]
		}
		line++
		if end {
			return nil, bad("output after the end marker: %q", trim(string(l)))
		}
		if !header {
			if string(l) != "T tend-probe 1" {
				return nil, bad("expected the probe header, got %q (is the login shell printing a banner?)", trim(string(l)))
			}
			header = true
			continue
		}
		typ, rest, _ := bytes.Cut(l, space)
		switch string(typ) {
		case "F":
			k, v, _ := strings.Cut(string(rest), " ")
			if err := o.Facts.set(k, v); err != nil {
				return nil, bad("%v", err)
			}
		case "R":
			ns, rest, _ := bytes.Cut(rest, space)
			i, err := strconv.Atoi(string(ns))
			if err != nil || i < 0 || i >= nq {
				return nil, bad("record for an unknown query %q", ns)
			}
			rtype, val, _ := bytes.Cut(rest, space)
			switch q := p.queries[i]; q.typ {
			case qPath, qHash:
				err = o.recordPath(q, rtype, val, &seen[i], &answered[i], ps)
			default:
				err = o.record(q, string(rtype), val, &seen[i], &answered[i])
			}
			if err != nil {
				return nil, bad("%v", err)
			}
		case "D":
			tag, val, _ := bytes.Cut(rest, space)
			if err := o.sectionLine(string(tag), string(val)); err != nil {
				return nil, bad("%v", err)
			}
		case "B":
			if err := o.closeSection(string(rest)); err != nil {
				return nil, bad("%v", err)
			}
		case "E":
			if n, err := strconv.Atoi(string(rest)); err != nil || n != nq {
				return nil, bad("end marker says %q queries, sent %d", rest, nq)
			}
			end = true
		default:
			return nil, bad("unexpected output %q", trim(string(l)))
		}
	}
	if !end {
		return nil, fmt.Errorf("probe reply is incomplete: no end marker after %d lines", line)
	}
	for i, ok := range answered {
		if q := p.queries[i]; !ok && sectionOf(q.typ) == "" {
			return nil, fmt.Errorf("probe reply has no answer for %c %s", q.typ, q.arg)
		}
	}
	if err := o.resolveSections(p); err != nil {
		return nil, err
	}
	for _, q := range p.queries {
		if s := o.releases[q.arg]; q.typ == qRelease && s != nil && s.Err == "" && s.Exists && s.count != len(s.Dirs) {
			return nil, fmt.Errorf("probe reply has %d releases in %s, announced %d", len(s.Dirs), q.arg, s.count)
		}
		if k := o.keys[q.arg]; q.typ == qKeys && k.Exists && k.Err == "" && (!k.hasCount || k.count != len(k.Lines)) {
			return nil, fmt.Errorf("probe reply has %d authorized_keys lines of user %s, announced %d", len(k.Lines), q.arg, k.count)
		}
		if q.typ != qPath && q.typ != qHash {
			continue
		}
		s := o.paths[q.arg]
		switch {
		case s.Err != "":
		case q.typ == qHash && s.Type == TypeFile && s.SHA256 == "":
			return nil, fmt.Errorf("probe reply has no sha256 for %s", q.arg)
		case s.Type == TypeSymlink && !s.hasTarget:
			return nil, fmt.Errorf("probe reply has no target for the symlink %s", q.arg)
		}
	}
	return o, nil
}

// space separates the fields of a reply line.
var space = []byte{' '}

// put sets (*m)[k] = v, making the map on first use: most replies answer
// only some of the query types.
func put[V any](m *map[string]V, k string, v V) {
	if *m == nil {
		*m = make(map[string]V)
	}
	(*m)[k] = v
}

// answer marks a query's primary answer arrived; a second one is an error.
func answer(q query, seen, answered *bool) error {
	if *seen {
		return fmt.Errorf("query %c %s answered twice", q.typ, q.arg)
	}
	*seen, *answered = true, true
	return nil
}

// pathParser holds what ParseProbe allocates once for all the path
// records of a reply: their states, and one buffer for the strings they
// keep (the strings of a strings.Builder stay valid as it grows).
type pathParser struct {
	states []PathState // one per path query, handed out in order
	used   int
	arena  strings.Builder
	names  [4]string // the last account names seen: most paths share them
	next   int
}

// state returns a new PathState.
func (pp *pathParser) state() *PathState {
	if pp.used < len(pp.states) {
		pp.used++
		return &pp.states[pp.used-1]
	}
	return &PathState{}
}

// str returns b as a string that does not share its memory.
func (pp *pathParser) str(b []byte) string {
	start := pp.arena.Len()
	pp.arena.Write(b)
	return pp.arena.String()[start:]
}

// name returns b as a string, the same one for names seen just before.
func (pp *pathParser) name(b []byte) string {
	for _, n := range pp.names {
		if n == string(b) && n != "" {
			return n
		}
	}
	n := pp.str(b)
	pp.names[pp.next%len(pp.names)] = n
	pp.next++
	return n
}

// recordPath applies one R record of a path query to o.
func (o *Observed) recordPath(q query, rtype, val []byte, seen, answered *bool, pp *pathParser) error {
	s := o.paths[q.arg]
	if s == nil {
		s = pp.state()
		o.paths[q.arg] = s
	}
	switch string(rtype) {
	case "absent":
		if len(val) != 0 {
			return fmt.Errorf("bad absent record %q for %s", val, q.arg)
		}
		return answer(q, seen, answered)
	case "error":
		msg := "unknown error"
		if len(val) != 0 {
			msg = pp.str(val)
		}
		if *seen && (s.Exists || s.Err != "") {
			// stat answered but readlink or sha256sum failed (an
			// unreadable file under a non-root login), or several
			// steps failed: the path is an error, never half known.
			if s.Err == "" {
				s.Err = msg
			}
			return nil
		}
		s.Err = msg
		return answer(q, seen, answered)
	case "path":
		if err := answer(q, seen, answered); err != nil {
			return err
		}
		return s.parseStatBytes(val, pp)
	case "link":
		if s.Err != "" {
			return nil // an earlier step failed; the error stands
		}
		if !s.Exists || s.Type != TypeSymlink || s.hasTarget {
			return fmt.Errorf("link record for %s, which is not a symlink", q.arg)
		}
		s.Target, s.hasTarget = pp.str(val), true
		return nil
	case "sha":
		if s.Err != "" {
			return nil // an earlier step failed; the error stands
		}
		if !s.Exists || s.Type != TypeFile || q.typ != qHash {
			return fmt.Errorf("sha record for %s, which was not hashed", q.arg)
		}
		if len(val) != 64 || !isLowerHex(val) {
			return fmt.Errorf("bad sha256 %q for %s", val, q.arg)
		}
		s.SHA256 = pp.str(val)
		return nil
	}
	return fmt.Errorf("unknown record %q for %c %s", rtype, q.typ, q.arg)
}

// isLowerHex reports whether b holds only 0-9 and a-f.
func isLowerHex(b []byte) bool {
	for _, c := range b {
		if !lowerHex[c] {
			return false
		}
	}
	return true
}

// lowerHex marks the bytes 0-9 and a-f.
var lowerHex = func() (t [256]bool) {
	for _, c := range "0123456789abcdef" {
		t[c] = true
	}
	return t
}()

// parseStatBytes is parseStat on the record's bytes, keeping only the
// account names (through pp). A record with bytes beyond ASCII goes to
// parseStat, whose fields are those of strings.Fields (Unicode spaces).
func (s *PathState) parseStatBytes(v []byte, pp *pathParser) error {
	var f [6][]byte
	n := 0
	for i := 0; i < len(v); {
		c := v[i]
		if c >= utf8.RuneSelf {
			return s.parseStat(string(v))
		}
		if asciiSpace(c) {
			i++
			continue
		}
		j := i
		for j < len(v) && v[j] < utf8.RuneSelf && !asciiSpace(v[j]) {
			j++
		}
		if j < len(v) && v[j] >= utf8.RuneSelf {
			return s.parseStat(string(v))
		}
		if n < len(f) {
			f[n] = v[i:j]
		}
		n++
		i = j
	}
	if n != 6 {
		return fmt.Errorf("bad stat record %q", v)
	}
	raw, err := strconv.ParseUint(string(f[0]), 16, 32)
	if err != nil {
		return fmt.Errorf("bad mode %q in stat record", f[0])
	}
	if s.UID, err = strconv.Atoi(string(f[1])); err != nil {
		return fmt.Errorf("bad uid %q in stat record", f[1])
	}
	if s.GID, err = strconv.Atoi(string(f[2])); err != nil {
		return fmt.Errorf("bad gid %q in stat record", f[2])
	}
	if s.Size, err = strconv.ParseInt(string(f[3]), 10, 64); err != nil {
		return fmt.Errorf("bad size %q in stat record", f[3])
	}
	owner, group := f[4], f[5]
	if string(owner) == "UNKNOWN" {
		owner = f[1]
	}
	if string(group) == "UNKNOWN" {
		group = f[2]
	}
	s.Owner, s.Group = pp.name(owner), pp.name(group)
	s.setMode(raw)
	return nil
}

// asciiSpace reports whether c is a space as strings.Fields sees it.
func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
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
	case "tool":
		f.Tools = append(f.Tools, v)
	case "cpus", "memory_mb", "apt_cache_age":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < -1 {
			return fmt.Errorf("fact %s: %q is not a number", k, v)
		}
		switch k {
		case "cpus":
			f.CPUs = int(n)
		case "memory_mb":
			f.MemoryMB = int(n)
		default:
			f.AptCacheAge = n
		}
	default:
		return fmt.Errorf("unknown fact %q", k)
	}
	return nil
}

// record applies one R record of a query other than a path query to o.
// seen tracks the primary answer (absent/user/group/error...); answered is
// set once it arrived.
func (o *Observed) record(q query, rtype string, raw []byte, seen, answered *bool) error {
	primary := func() error { return answer(q, seen, answered) }
	if q.typ == qContent {
		// The content travels as a long base64 line: decoded in place.
		return o.recordContent(q, rtype, raw, primary)
	}
	val := string(raw)
	switch q.typ {
	case qPasswd, qMember, qKeys, qCommand:
		return o.recordSystem(q, rtype, val, primary)
	case qRelease:
		return o.recordRelease(q, rtype, val, primary)
	case qUser, qGroup:
		m := &o.users
		if q.typ == qGroup {
			m = &o.groups
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
		put(m, q.arg, a)
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
	s.setMode(raw)
	return nil
}

// setMode sets the path's type and mode from stat's raw mode (%f); the path
// exists.
func (s *PathState) setMode(raw uint64) {
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
