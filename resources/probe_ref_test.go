package resources

// The reference implementation of ParseProbe, before it read lines in place
// (bufio.Scanner, a string per line): TestParseProbeMatchesReference
// checks that both give the same result on every reply it tries.

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

func refParseProbe(p *Probe, out []byte) (*Observed, error) {
	o := &Observed{
		paths:      map[string]*PathState{},
		users:      map[string]*Account{},
		groups:     map[string]*Account{},
		passwd:     map[string]*PasswdEntry{},
		members:    map[string]*memberState{},
		keys:       map[string]*KeysState{},
		guards:     map[string]*GuardResult{},
		packages:   map[string]*PackageState{},
		candidates: map[string]*candidateState{},
		units:      map[string]*UnitState{},
		sections:   map[string]*section{},
		contents:   map[string]*contentState{},
		releases:   map[string]*ReleaseState{},
	}
	o.Facts.AptCacheAge = -1
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
			if err := o.refRecord(p.queries[i], rtype, val, &seen[i], &answered[i]); err != nil {
				return nil, bad("%v", err)
			}
		case "D":
			tag, val, _ := strings.Cut(rest, " ")
			if err := o.sectionLine(tag, val); err != nil {
				return nil, bad("%v", err)
			}
		case "B":
			if err := o.closeSection(rest); err != nil {
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

func (o *Observed) refRecord(q query, rtype, val string, seen, answered *bool) error {
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
	case qPasswd, qMember, qKeys, qCommand:
		return o.recordSystem(q, rtype, val, primary)
	case qContent:
		return o.recordContent(q, rtype, []byte(val), primary)
	case qRelease:
		return o.recordRelease(q, rtype, val, primary)
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
