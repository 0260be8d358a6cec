package resources

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tendhq/tend/inventory"
)

// recording reads testdata/system/NAME: "# " header lines (one of them
// "# status: N"), then the raw output of a batched call. Blank lines are
// dropped, as the probe's line splitting drops them.
func recording(t testing.TB, name string) (lines []string, status int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "system", name))
	if err != nil {
		t.Fatal(err)
	}
	status = -1
	for _, l := range strings.Split(string(b), "\n") {
		if s, ok := strings.CutPrefix(l, "# status: "); ok {
			if status, err = strconv.Atoi(s); err != nil {
				t.Fatalf("%s: bad status line %q", name, l)
			}
			continue
		}
		if strings.HasPrefix(l, "# ") || l == "" {
			continue
		}
		lines = append(lines, l)
	}
	if status < 0 {
		t.Fatalf("%s has no status line", name)
	}
	return lines, status
}

// recordedSection returns the D lines and the closing B record of a section made
// from a recording, as the probe prints them.
func recordedSection(t testing.TB, tag, tool, name string) []string {
	t.Helper()
	lines, status := recording(t, name)
	var out []string
	for _, l := range lines {
		out = append(out, "D "+tag+" "+l)
	}
	return append(out, "B "+tag+" "+tool+" "+strconv.Itoa(status))
}

// observeAll observes rs into one probe and parses a reply made of lines
// (facts, records and sections) with the header and end marker added.
func observeAll(t testing.TB, rs []Resource, lines ...string) (*Probe, *Observed) {
	t.Helper()
	p := NewProbe()
	for _, r := range rs {
		r.Observe(p)
	}
	reply := "T tend-probe 1\nF hostname web1\nF uid 0\n"
	for _, l := range lines {
		reply += l + "\n"
	}
	reply += "E " + strconv.Itoa(p.Len()) + "\n"
	o, err := ParseProbe(p, []byte(reply))
	if err != nil {
		t.Fatalf("parse recorded reply: %v\n%s", err, reply)
	}
	return p, o
}

// fakeTransport records the commands it is given and answers each with
// the next scripted result (exit 0 with no output when none is left).
type fakeTransport struct {
	mu      sync.Mutex
	cmds    []inventory.Cmd
	stdins  []string
	results []*inventory.Result
}

func (f *fakeTransport) Run(ctx context.Context, c inventory.Cmd) (*inventory.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := ""
	if c.Stdin != nil {
		b, _ := io.ReadAll(c.Stdin)
		in = string(b)
	}
	f.cmds = append(f.cmds, c)
	f.stdins = append(f.stdins, in)
	if len(f.results) > 0 {
		r := f.results[0]
		f.results = f.results[1:]
		return r, nil
	}
	return &inventory.Result{}, nil
}

func (f *fakeTransport) FS(context.Context) (inventory.FileSystem, error) {
	return nil, os.ErrPermission
}
func (f *fakeTransport) Stats() inventory.Stats { return inventory.Stats{Execs: len(f.cmds)} }
func (f *fakeTransport) Close() error           { return nil }

// argvs returns the recorded commands as space-joined argv strings.
func (f *fakeTransport) argvs() []string {
	var out []string
	for _, c := range f.cmds {
		out = append(out, strings.Join(c.Args, " "))
	}
	return out
}

// onceSet implements Target.Once for tests, as the engine does: the first
// call of a key runs fn, later ones get its error. It counts the calls.
type onceSet struct {
	mu   sync.Mutex
	done map[string]error
	runs map[string]int
}

func newOnceSet() *onceSet { return &onceSet{done: map[string]error{}, runs: map[string]int{}} }

func (s *onceSet) Once(key string, fn func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err, ok := s.done[key]; ok {
		return err
	}
	s.runs[key]++
	err := fn()
	s.done[key] = err
	return err
}

// containsAll fails unless s holds every substring.
func containsAll(t testing.TB, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q does not contain %q", s, sub)
		}
	}
}
