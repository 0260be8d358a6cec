package resources

import (
	"fmt"
	"strconv"
	"strings"
)

// This file parses the parts of a probe reply that the system kinds
// (package, service, user, group, exec) asked for: the R records of the
// passwd, groups, authorized_keys and guard queries, and the batched
// sections (D and B lines) that answer package, candidate and unit queries
// in one call each.

// sectionTags are the sections a reply may hold.
var sectionTags = map[string]bool{"pkg": true, "cand": true, "svc": true}

// sectionLine adds one D line to its section.
func (o *Observed) sectionLine(tag, line string) error {
	if !sectionTags[tag] {
		return fmt.Errorf("line of an unknown section %q", tag)
	}
	s := o.sections[tag]
	if s == nil {
		s = &section{}
		put(&o.sections, tag, s)
	}
	if s.closed {
		return fmt.Errorf("line of section %s after its end", tag)
	}
	s.lines = append(s.lines, line)
	return nil
}

// closeSection parses "tag tool status", the end of a section.
func (o *Observed) closeSection(rest string) error {
	f := strings.Fields(rest)
	if len(f) != 3 || !sectionTags[f[0]] {
		return fmt.Errorf("bad section end %q", rest)
	}
	status, err := strconv.Atoi(f[2])
	if err != nil {
		return fmt.Errorf("bad status in section end %q", rest)
	}
	s := o.sections[f[0]]
	if s == nil {
		s = &section{}
		put(&o.sections, f[0], s)
	}
	if s.closed {
		return fmt.Errorf("section %s ends twice", f[0])
	}
	s.tool, s.status, s.closed = f[1], status, true
	return nil
}

// recordSystem applies one R record of a passwd, groups, authorized_keys or
// guard query; primary marks the query answered (once).
func (o *Observed) recordSystem(q query, rtype, val string, primary func() error) error {
	if rtype == "error" && val == "" {
		val = "unknown error"
	}
	switch q.typ {
	case qPasswd:
		// The raw passwd line: name, password placeholder (never used),
		// uid, gid, GECOS, home, shell.
		e := &PasswdEntry{}
		switch rtype {
		case "absent":
		case "error":
			e.Err = val
		case "passwd":
			f := strings.Split(val, ":")
			if len(f) != 7 || f[0] != q.arg {
				return fmt.Errorf("bad passwd record %q for %s", val, q.arg)
			}
			var err1, err2 error
			e.UID, err1 = strconv.Atoi(f[2])
			e.GID, err2 = strconv.Atoi(f[3])
			if err1 != nil || err2 != nil {
				return fmt.Errorf("bad ids in passwd record %q", val)
			}
			e.Exists, e.Name, e.GECOS, e.Home, e.Shell = true, f[0], f[4], f[5], f[6]
		default:
			return fmt.Errorf("unknown record %q for %c %s", rtype, q.typ, q.arg)
		}
		if err := primary(); err != nil {
			return err
		}
		put(&o.passwd, q.arg, e)
		return nil
	case qMember:
		m := &memberState{}
		switch rtype {
		case "absent":
		case "error":
			m.err = val
		case "groups":
			m.exists, m.groups = true, strings.Fields(val)
			if len(m.groups) == 0 {
				return fmt.Errorf("empty groups record for %s", q.arg)
			}
		default:
			return fmt.Errorf("unknown record %q for %c %s", rtype, q.typ, q.arg)
		}
		if err := primary(); err != nil {
			return err
		}
		put(&o.members, q.arg, m)
		return nil
	case qKeys:
		// Several "key" records (one per line of the file), then "keys N"
		// with their count as the answer; ParseProbe checks the count,
		// so that a truncated reply is never taken for a shorter file.
		k := o.keys[q.arg]
		if k == nil {
			k = &KeysState{}
			put(&o.keys, q.arg, k)
		}
		switch rtype {
		case "key":
			if k.hasCount || k.Err != "" {
				return fmt.Errorf("authorized_keys line of %s after its end", q.arg)
			}
			k.Exists = true
			k.Lines = append(k.Lines, strings.TrimSuffix(val, "\r"))
			return nil
		case "keys":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return fmt.Errorf("bad keys record %q for %s", val, q.arg)
			}
			k.Exists, k.count, k.hasCount = true, n, true
		case "absent":
			if k.Exists {
				return fmt.Errorf("authorized_keys of %s both present and absent", q.arg)
			}
		case "error":
			k.Err, k.Exists, k.Lines = val, false, nil
		default:
			return fmt.Errorf("unknown record %q for %c %s", rtype, q.typ, q.arg)
		}
		return primary()
	case qCommand:
		// "exit N" for a guard that ran, "nocwd" for one whose working
		// directory is missing (a resource of the same run may make it).
		r := &GuardResult{}
		switch rtype {
		case "exit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return fmt.Errorf("bad exit record %q", val)
			}
			r.ExitCode = n
		case "nocwd":
			r.NoCwd = true
		case "error":
			r.Err = val
		default:
			return fmt.Errorf("unknown record %q for a guard", rtype)
		}
		if err := primary(); err != nil {
			return err
		}
		put(&o.guards, q.arg, r)
		return nil
	}
	return fmt.Errorf("unknown record %q for %c %s", rtype, q.typ, q.arg)
}

// resolveSections matches the batched sections to the package, candidate
// and unit queries of p. A query whose section is missing is an error of
// the whole reply; a section the host could not produce (a failed call, no
// supported tool) makes each of its queries an error, which Diff reports.
func (o *Observed) resolveSections(p *Probe) error {
	// The names of each section's queries, in query order: the order the
	// shell passed them to the batched call.
	var names map[string][]string
	for _, q := range p.queries {
		if tag := sectionOf(q.typ); tag != "" {
			if names == nil {
				names = map[string][]string{}
			}
			names[tag] = append(names[tag], q.arg)
		}
	}
	for tag := range o.sections {
		if len(names[tag]) == 0 {
			return fmt.Errorf("probe reply has a %s section nobody asked for", tag)
		}
	}
	for _, tag := range []string{"pkg", "cand", "svc"} {
		if len(names[tag]) == 0 {
			continue
		}
		s := o.sections[tag]
		if s == nil || !s.closed {
			return fmt.Errorf("probe reply has no complete %s section", tag)
		}
		switch tag {
		case "pkg":
			for n, st := range parsePackages(s, names[tag]) {
				put(&o.packages, n, st)
			}
		case "cand":
			src := s
			if s.tool == "apk" {
				// apk version answered the pkg section with the
				// candidates in it.
				src = o.sections["pkg"]
				if src == nil {
					return fmt.Errorf("probe reply has apk candidates but no pkg section")
				}
			}
			for n, c := range parseCandidates(src, names[tag]) {
				put(&o.candidates, n, c)
			}
		case "svc":
			for n, u := range parseUnits(s, names[tag]) {
				put(&o.units, n, u)
			}
		}
	}
	return nil
}

// sectionError is the error text of a section whose call failed: its status
// and its output (which holds stderr) on one line, shortened.
func sectionError(s *section) string {
	msg := strings.Join(s.lines, " ")
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	if msg == "" {
		msg = "no output"
	}
	return fmt.Sprintf("%s exited %d: %s", s.tool, s.status, msg)
}
