package resources

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The release query: one line of the probe's input per release directory,
// answered by the script's relstate function without a process of its own
// but the readlink of current. Its records:
//
//	R n current releases/v2            where BASE/current points (absent: no record)
//	R n rel v2 sha256=<hex> prepared=<unix ns>   one per directory in BASE/releases
//	R n rel v3                         a directory without a marker: not complete
//	R n hist <unix ns> <event> <version> [detail]   one per history line
//	R n releases 2                     the count of rel records; ends the answer
//
// or a single "absent" or "error" record.

// Release asks for the state of the release directory base: its current
// link, its releases and their markers, and its history.
func (p *Probe) Release(base string) { p.add(query{qRelease, base}) }

// ReleaseState is the observed state of a release directory.
type ReleaseState struct {
	// Exists is false when the directory does not exist at all.
	Exists bool
	// Current is the target of BASE/current as the link holds it
	// ("releases/v2"); "" when there is no such link.
	Current string
	// Dirs are the directories in BASE/releases, oldest prepared first
	// (incomplete ones, which have no time, last, by name).
	Dirs []ReleaseDir
	// History is BASE/.tend-history, oldest first.
	History []ReleaseEvent
	Err     string

	count int
}

// ReleaseDir is one directory in a release directory's releases/.
type ReleaseDir struct {
	Version string
	// Complete is true when the directory has its marker: it was
	// prepared completely (unpacked, shared links made, before_switch
	// commands run).
	Complete bool
	// SHA256 is the digest of the artifact it was prepared from.
	SHA256   string
	Prepared time.Time
}

// ReleaseEvent is one line of a release directory's history.
type ReleaseEvent struct {
	Time    time.Time
	Event   string // "switch", "fail", "rollback", "remove"
	Version string
	Detail  string
}

// CurrentVersion returns the version current points at: the last element
// of its target when that is releases/VERSION (relative or absolute under
// base), else "".
func (s *ReleaseState) CurrentVersion(base string) string {
	t := s.Current
	if t == "" {
		return ""
	}
	if !path.IsAbs(t) {
		t = path.Join(base, t)
	}
	if path.Dir(t) != path.Join(base, "releases") {
		return ""
	}
	return path.Base(t)
}

// Dir returns the release directory of version, or nil.
func (s *ReleaseState) Dir(version string) *ReleaseDir {
	for i := range s.Dirs {
		if s.Dirs[i].Version == version {
			return &s.Dirs[i]
		}
	}
	return nil
}

// LastEvent returns the newest history event about version, or nil.
func (s *ReleaseState) LastEvent(version string) *ReleaseEvent {
	for i := len(s.History) - 1; i >= 0; i-- {
		if s.History[i].Version == version {
			return &s.History[i]
		}
	}
	return nil
}

// Failed reports whether version's last switch failed its health check.
func (s *ReleaseState) Failed(version string) bool {
	e := s.LastEvent(version)
	return e != nil && e.Event == "fail"
}

// Release returns the observed state of the release directory base.
func (o *Observed) Release(base string) (*ReleaseState, error) {
	s, ok := o.releases[base]
	if !ok {
		return nil, fmt.Errorf("release directory %s was not probed", base)
	}
	if s.Err != "" {
		return nil, fmt.Errorf("observe release directory %s: %s", base, s.Err)
	}
	return s, nil
}

// recordRelease applies one R record of a release query.
func (o *Observed) recordRelease(q query, rtype, val string, primary func() error) error {
	s := o.releases[q.arg]
	if s == nil {
		s = &ReleaseState{}
		put(&o.releases, q.arg, s)
	}
	switch rtype {
	case "absent":
		if val != "" {
			return fmt.Errorf("bad absent record %q for release %s", val, q.arg)
		}
		return primary()
	case "error":
		if val == "" {
			val = "unknown error"
		}
		s.Err = val
		return primary()
	case "current":
		if val == "" || s.Current != "" {
			return fmt.Errorf("bad current record %q for release %s", val, q.arg)
		}
		s.Current = val
		return nil
	case "rel":
		name, marker, _ := strings.Cut(val, " ")
		if name == "" {
			return fmt.Errorf("bad rel record %q for release %s", val, q.arg)
		}
		d := ReleaseDir{Version: name}
		if marker != "" {
			if err := d.parseMarker(marker); err != nil {
				return fmt.Errorf("release %s/releases/%s: %v", q.arg, name, err)
			}
		}
		s.Dirs = append(s.Dirs, d)
		return nil
	case "hist":
		// A history line that does not parse is skipped: the history
		// informs plans, it decides nothing.
		if e, ok := parseEvent(val); ok {
			s.History = append(s.History, e)
		}
		return nil
	case "releases":
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return fmt.Errorf("bad releases record %q for release %s", val, q.arg)
		}
		if err := primary(); err != nil {
			return err
		}
		s.count, s.Exists = n, true
		sort.SliceStable(s.Dirs, func(i, j int) bool {
			a, b := s.Dirs[i], s.Dirs[j]
			if a.Complete != b.Complete {
				return a.Complete
			}
			if !a.Prepared.Equal(b.Prepared) {
				return a.Prepared.Before(b.Prepared)
			}
			return a.Version < b.Version
		})
		return nil
	}
	return fmt.Errorf("unknown record %q for release %s", rtype, q.arg)
}

// marker returns the first line of a release's .tend-release file.
func (d *ReleaseDir) marker() string {
	return fmt.Sprintf("sha256=%s prepared=%d", d.SHA256, d.Prepared.UnixNano())
}

// parseMarker reads "sha256=<hex> prepared=<unix ns>".
func (d *ReleaseDir) parseMarker(m string) error {
	for _, f := range strings.Fields(m) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "sha256":
			d.SHA256 = v
		case "prepared":
			ns, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("bad marker %q", m)
			}
			d.Prepared = time.Unix(0, ns)
		}
	}
	d.Complete = true
	return nil
}

// parseEvent reads a history line: "<unix ns> <event> <version> [detail]".
func parseEvent(l string) (ReleaseEvent, bool) {
	f := strings.SplitN(l, " ", 4)
	if len(f) < 3 {
		return ReleaseEvent{}, false
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return ReleaseEvent{}, false
	}
	e := ReleaseEvent{Time: time.Unix(0, ns), Event: f[1], Version: f[2]}
	if len(f) == 4 {
		e.Detail = f[3]
	}
	return e, true
}

// line returns e as a history line.
func (e ReleaseEvent) line() string {
	s := fmt.Sprintf("%d %s %s", e.Time.UnixNano(), e.Event, e.Version)
	if e.Detail != "" {
		s += " " + strings.ReplaceAll(e.Detail, "\n", " ")
	}
	return s
}
