package resources

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// runLocal runs the probe's command with this machine's sh: the script is
// tested for real, not against a recording.
func runLocal(t *testing.T, p *Probe) *Observed {
	t.Helper()
	c := p.Cmd()
	cmd := exec.CommandContext(context.Background(), c.Args[0], c.Args[1:]...)
	cmd.Stdin = c.Stdin
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	o, err := ParseProbe(p, out)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, out)
	}
	return o
}

func TestProbeLocal(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a file")
	if err := os.WriteFile(file, []byte("hello\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nowhere/x", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	p := NewProbe()
	p.Path(file, true)
	p.Path(dir, false)
	p.Path(filepath.Join(dir, "link"), true)
	p.Path(filepath.Join(dir, "missing", "deeper"), true)
	p.User("root")
	p.User("no-such-user-tend")
	p.Group("root")
	o := runLocal(t, p)
	s, err := o.Path(file)
	if err != nil {
		t.Fatal(err)
	}
	if s.Type != TypeFile || s.Mode != 0o640 || s.Size != 6 ||
		s.SHA256 != "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03" {
		t.Errorf("file state = %+v", s)
	}
	if s, _ := o.Path(dir); s.Type != TypeDir {
		t.Errorf("dir state = %+v", s)
	}
	if s, _ := o.Path(filepath.Join(dir, "link")); s.Type != TypeSymlink || s.Target != "/nowhere/x" {
		t.Errorf("link state = %+v", s)
	}
	if s, err := o.Path(filepath.Join(dir, "missing", "deeper")); err != nil || s.Exists {
		t.Errorf("missing state = %+v, %v", s, err)
	}
	if a, err := o.User("root"); err != nil || !a.Exists || a.ID != 0 {
		t.Errorf("root = %+v, %v", a, err)
	}
	if a, err := o.User("no-such-user-tend"); err != nil || a.Exists {
		t.Errorf("missing user = %+v, %v", a, err)
	}
	if a, err := o.Group("root"); err != nil || !a.Exists || a.ID != 0 {
		t.Errorf("root group = %+v, %v", a, err)
	}
	if o.Facts.Arch == "" || o.Facts.Kernel == "" || o.Facts.User == "" {
		t.Errorf("facts = %+v", o.Facts)
	}
}

func TestParseProbeStrict(t *testing.T) {
	p := NewProbe()
	p.Path("/etc/motd", true)
	for name, reply := range map[string]string{
		"banner":       "Welcome!\nT tend-probe 1\nR 0 absent\nE 1\n",
		"no end":       "T tend-probe 1\nR 0 absent\n",
		"unanswered":   "T tend-probe 1\nE 1\n",
		"twice":        "T tend-probe 1\nR 0 absent\nR 0 absent\nE 1\n",
		"junk":         "T tend-probe 1\nR 0 absent\nsomething\nE 1\n",
		"bad index":    "T tend-probe 1\nR 7 absent\nE 1\n",
		"no sha":       "T tend-probe 1\nR 0 path 81a4 0 0 6 root root\nE 1\n",
		"bad stat":     "T tend-probe 1\nR 0 path 81a4 0 0\nE 1\n",
		"count":        "T tend-probe 1\nR 0 absent\nE 2\n",
		"after end":    "T tend-probe 1\nR 0 absent\nE 1\nmore\n",
		"unknown fact": "T tend-probe 1\nF color blue\nR 0 absent\nE 1\n",
	} {
		if _, err := ParseProbe(p, []byte(reply)); err == nil {
			t.Errorf("%s: no error for %q", name, reply)
		}
	}
	o, err := ParseProbe(p, []byte("T tend-probe 1\nR 0 error permission denied: /etc\nE 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Path("/etc/motd"); err == nil {
		t.Error("an error record must make Path fail, not report absent")
	}
}
