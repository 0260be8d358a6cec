package resources

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	"go.uber.org/zap/zaptest"

	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/inventory/local"
)

// These tests apply resources to this machine's file system through the
// real local transport, then probe again (the real probe, run through the
// transport) and require Diff to be NoOp: the engine's verify step.

func newLocal(t *testing.T) *local.Transport {
	t.Helper()
	if os.Getuid() != 0 {
		t.Fatal("the apply tests change ownership: run them as root")
	}
	tr := local.New(local.Options{Name: "test-host", Log: zaptest.NewLogger(t)})
	t.Cleanup(func() { tr.Close() })
	return tr
}

// probeVia runs the probe of rs through tr and parses it.
func probeVia(t *testing.T, tr inventory.Transport, rs ...Resource) *Observed {
	t.Helper()
	p := NewProbe()
	for _, r := range rs {
		r.Observe(p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := tr.Run(ctx, p.Cmd())
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("probe exited %d: %s", res.ExitCode, res.Stderr)
	}
	o, err := ParseProbe(p, res.Stdout)
	if err != nil {
		t.Fatalf("parse probe: %v\n%s", err, res.Stdout)
	}
	return o
}

// plan probes r and diffs it.
func plan(t *testing.T, tr inventory.Transport, r Resource) (*Change, *Observed) {
	t.Helper()
	o := probeVia(t, tr, r)
	c, err := r.Diff(o)
	if err != nil {
		t.Fatalf("%s: Diff: %v", r.Addr(), err)
	}
	return c, o
}

// applyChange applies c, computed from o.
func applyChange(t *testing.T, tr inventory.Transport, r Resource, c *Change, o *Observed) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.Apply(ctx, &Target{Host: &inventory.Host{Name: "test-host"}, Transport: tr, Observed: o, Log: zaptest.NewLogger(t)}, c)
}

// converge plans r, requires the action want, applies, and verifies that a
// new probe finds nothing left to do. It returns the applied change.
func converge(t *testing.T, tr inventory.Transport, r Resource, want Action) *Change {
	t.Helper()
	c, o := plan(t, tr, r)
	if c.Action != want {
		t.Fatalf("%s: plan is %v %+v, want %v", r.Addr(), c.Action, c.Attrs, want)
	}
	if c.Action == NoOp {
		return c
	}
	if err := applyChange(t, tr, r, c, o); err != nil {
		t.Fatalf("%s: Apply: %v", r.Addr(), err)
	}
	if again, _ := plan(t, tr, r); again.Action != NoOp {
		t.Fatalf("%s did not converge: after apply the plan is %v %+v", r.Addr(), again.Action, again.Attrs)
	}
	return c
}

// noTemps fails when a temporary file of a write is left in dir.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), ".tend-") {
			t.Errorf("temporary file left behind: %s", filepath.Join(dir, e.Name()))
		}
	}
}

type fileInfo struct {
	mode     fs.FileMode
	uid, gid int
	ino      uint64
}

func statOf(t *testing.T, path string) fileInfo {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fileInfo{mode: fi.Mode(), uid: int(st.Uid), gid: int(st.Gid), ino: st.Ino}
}

func writeFile(t *testing.T, path, data string, mode fs.FileMode, uid, gid int) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // after chown, which clears setuid
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func attrs(kv ...string) map[string]cty.Value {
	m := map[string]cty.Value{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = str(kv[i+1])
	}
	return m
}

func TestFileApplyCreate(t *testing.T) {
	tr := newLocal(t)
	dir := t.TempDir()
	old := syscall.Umask(0o077) // modes must not depend on the umask
	t.Cleanup(func() { syscall.Umask(old) })

	for _, tc := range []struct {
		name    string
		attrs   map[string]cty.Value
		content string
		mode    fs.FileMode
		uid     int
	}{
		{"default mode", attrs("content", "hello\n"), "hello\n", 0o644, 0},
		{"mode 0666", attrs("content", "x", "mode", "0666"), "x", 0o666, 0},
		{"setuid", attrs("content", "#!/bin/sh\n", "mode", "4750", "owner", "root", "group", "root"), "#!/bin/sh\n", 0o750 | fs.ModeSetuid, 0},
		{"empty unmanaged content", attrs("mode", "0600"), "", 0o600, 0},
		{"empty managed content", attrs("content", ""), "", 0o644, 0},
		{"binary", map[string]cty.Value{"content": str("\x00\xff\x01 bin")}, "\x00\xff\x01 bin", 0o644, 0},
		{"numeric owner and group", attrs("content", "n", "owner", "65534", "group", "65534"), "n", 0o644, 65534},
		{"numeric owner only", attrs("content", "n", "owner", "65534", "mode", "2755"), "n", 0o755 | fs.ModeSetgid, 65534},
		{"names", attrs("content", "n", "owner", "nobody", "group", "nogroup", "mode", "0640"), "n", 0o640, 65534},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			r := build(t, "file", path, tc.attrs)
			converge(t, tr, r, Create)
			if got := readFile(t, path); got != tc.content {
				t.Errorf("content = %q, want %q", got, tc.content)
			}
			st := statOf(t, path)
			if st.mode != tc.mode || st.uid != tc.uid {
				t.Errorf("mode %v uid %d, want %v uid %d", st.mode, st.uid, tc.mode, tc.uid)
			}
			noTemps(t, dir)
		})
	}
}

// TestFileApplyCost checks that ownership by numeric ids or by names the
// probe resolved costs no remote execution: Lchown on the file system only.
func TestFileApplyCost(t *testing.T) {
	tr := newLocal(t)
	dir := t.TempDir()
	for i, a := range []map[string]cty.Value{
		attrs("content", "x", "owner", "65534", "group", "65534"),
		attrs("content", "x", "owner", "nobody", "group", "nogroup"),
	} {
		path := filepath.Join(dir, string(rune('a'+i)))
		r := build(t, "file", path, a)
		c, o := plan(t, tr, r)
		before := tr.Stats().Execs
		if err := applyChange(t, tr, r, c, o); err != nil {
			t.Fatal(err)
		}
		if n := tr.Stats().Execs - before; n != 0 {
			t.Errorf("%v: apply ran %d commands, want 0", a, n)
		}
		if st := statOf(t, path); st.uid != 65534 || st.gid != 65534 {
			t.Errorf("%v: owner %d:%d", a, st.uid, st.gid)
		}
	}
}

func TestFileApplyUpdate(t *testing.T) {
	tr := newLocal(t)
	dir := t.TempDir()

	t.Run("content keeps unmanaged mode and owner", func(t *testing.T) {
		path := filepath.Join(dir, "keep")
		writeFile(t, path, "old\n", 0o751, 65534, 65534)
		converge(t, tr, build(t, "file", path, attrs("content", "new\n")), Update)
		st := statOf(t, path)
		if readFile(t, path) != "new\n" || st.mode != 0o751 || st.uid != 65534 || st.gid != 65534 {
			t.Errorf("got %q %+v; want the new content with mode 0751 and owner 65534 kept", readFile(t, path), st)
		}
	})

	t.Run("content keeps setgid mode", func(t *testing.T) {
		path := filepath.Join(dir, "setgid")
		writeFile(t, path, "old\n", fs.ModeSetgid|0o755, 65534, 65534)
		converge(t, tr, build(t, "file", path, attrs("content", "new\n")), Update)
		if st := statOf(t, path); st.mode != 0o755|fs.ModeSetgid || st.gid != 65534 {
			t.Errorf("got %+v; want mode 2755 kept", st)
		}
	})

	t.Run("mode and owner of a file owned by another user", func(t *testing.T) {
		path := filepath.Join(dir, "other")
		writeFile(t, path, "data\n", 0o600, 65534, 65534)
		ino := statOf(t, path).ino
		c := converge(t, tr, build(t, "file", path, attrs("mode", "0640", "owner", "root", "group", "root")), Update)
		if c.Content != nil {
			t.Errorf("unmanaged content must not change: %+v", c.Content)
		}
		st := statOf(t, path)
		if st.mode != 0o640 || st.uid != 0 || st.gid != 0 || st.ino != ino || readFile(t, path) != "data\n" {
			t.Errorf("got %+v (inode %d before); want 0640 root:root in place", st, ino)
		}
	})

	t.Run("mode only keeps owner", func(t *testing.T) {
		path := filepath.Join(dir, "mode only")
		writeFile(t, path, "data\n", 0o600, 65534, 65534)
		converge(t, tr, build(t, "file", path, attrs("mode", "0644")), Update)
		if st := statOf(t, path); st.mode != 0o644 || st.uid != 65534 || st.gid != 65534 {
			t.Errorf("got %+v", st)
		}
	})

	t.Run("content and mode of a file owned by another user", func(t *testing.T) {
		path := filepath.Join(dir, "both")
		writeFile(t, path, "old\n", 0o600, 65534, 65534)
		converge(t, tr, build(t, "file", path, attrs("content", "new\n", "mode", "0640")), Update)
		if st := statOf(t, path); st.mode != 0o640 || st.uid != 65534 || st.gid != 65534 || readFile(t, path) != "new\n" {
			t.Errorf("got %+v", st)
		}
	})

	t.Run("chown keeps an unmanaged setuid mode", func(t *testing.T) {
		// chown(2) clears setuid and setgid, even for root.
		path := filepath.Join(dir, "setuid")
		writeFile(t, path, "#!/bin/sh\n", fs.ModeSetuid|0o755, 65534, 65534)
		converge(t, tr, build(t, "file", path, attrs("owner", "0", "group", "0")), Update)
		if st := statOf(t, path); st.mode != 0o755|fs.ModeSetuid || st.uid != 0 {
			t.Errorf("got %+v; want mode 4755 root", st)
		}
	})

	t.Run("chown to a numeric uid", func(t *testing.T) {
		path := filepath.Join(dir, "numeric")
		writeFile(t, path, "x", 0o644, 0, 0)
		converge(t, tr, build(t, "file", path, attrs("owner", "65534")), Update)
		if st := statOf(t, path); st.uid != 65534 || st.gid != 0 {
			t.Errorf("got %+v; want uid 65534, gid 0 kept", st)
		}
	})

	t.Run("atomic rename", func(t *testing.T) {
		path := filepath.Join(dir, "atomic")
		writeFile(t, path, "old content\n", 0o644, 0, 0)
		oldIno := statOf(t, path).ino
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		converge(t, tr, build(t, "file", path, attrs("content", "new content, longer\n")), Update)
		// A reader that opened the file before sees the old file whole:
		// the new content went to a new inode, renamed over the name.
		old, err := io.ReadAll(f)
		if err != nil || string(old) != "old content\n" {
			t.Errorf("old descriptor reads %q, %v", old, err)
		}
		if st := statOf(t, path); st.ino == oldIno {
			t.Error("the file was rewritten in place, not replaced by rename")
		}
		if readFile(t, path) != "new content, longer\n" {
			t.Errorf("content = %q", readFile(t, path))
		}
		noTemps(t, dir)
	})

	t.Run("symlink replaced by file", func(t *testing.T) {
		target := filepath.Join(dir, "link target")
		writeFile(t, target, "do not touch\n", 0o600, 0, 0)
		path := filepath.Join(dir, "was a link")
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
		converge(t, tr, build(t, "file", path, attrs("content", "file now\n")), Update)
		if st := statOf(t, path); !st.mode.IsRegular() || st.mode.Perm() != 0o644 {
			t.Errorf("got %+v", st)
		}
		if readFile(t, target) != "do not touch\n" || statOf(t, target).mode != 0o600 {
			t.Error("the old link's target was written through")
		}
	})
	noTemps(t, dir)
}

func TestFileApplyDelete(t *testing.T) {
	tr := newLocal(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "gone")
	writeFile(t, path, "x", 0o644, 0, 0)
	r := build(t, "file", path, attrs("state", "absent"))
	converge(t, tr, r, Delete)
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("file still there: %v", err)
	}
	converge(t, tr, r, NoOp) // absent and missing

	// A symlink in the way is removed, not its target.
	target := filepath.Join(dir, "target")
	writeFile(t, target, "keep", 0o644, 0, 0)
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	converge(t, tr, r, Delete)
	if readFile(t, target) != "keep" {
		t.Error("the symlink's target was removed")
	}
}

// TestFileApplyFailure makes a write fail after its temporary file was
// written and checks that nothing is left behind and nothing is changed.
func TestFileApplyFailure(t *testing.T) {
	tr := newLocal(t)
	dir := t.TempDir()

	t.Run("rename over a directory", func(t *testing.T) {
		path := filepath.Join(dir, "becomes a dir")
		writeFile(t, path, "old", 0o644, 0, 0)
		r := build(t, "file", path, attrs("content", "new"))
		c, o := plan(t, tr, r)
		if c.Action != Update {
			t.Fatalf("plan %v", c.Action)
		}
		// The host changes between plan and apply: the path becomes a
		// non-empty directory, which rename(2) cannot replace.
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(path, "inside"), "inside", 0o644, 0, 0)
		err := applyChange(t, tr, r, c, o)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("Apply = %v, want an error naming %s", err, path)
		}
		noTemps(t, dir)
		if readFile(t, filepath.Join(path, "inside")) != "inside" {
			t.Error("the directory's content changed")
		}
	})

	t.Run("chown to a user that does not exist", func(t *testing.T) {
		path := filepath.Join(dir, "bad owner")
		writeFile(t, path, "old", 0o644, 0, 0)
		r := build(t, "file", path, attrs("content", "new", "owner", "tend-no-such-user"))
		c, o := plan(t, tr, r)
		if c.Action != Update {
			t.Fatalf("plan %v", c.Action)
		}
		if err := applyChange(t, tr, r, c, o); err == nil {
			t.Fatal("Apply succeeded with an unknown owner")
		}
		noTemps(t, dir)
		if readFile(t, path) != "old" {
			t.Errorf("content = %q, want the old one", readFile(t, path))
		}
	})

	t.Run("parent is a file", func(t *testing.T) {
		parent := filepath.Join(dir, "a file")
		writeFile(t, parent, "p", 0o644, 0, 0)
		for _, r := range []Resource{
			build(t, "file", filepath.Join(parent, "f"), attrs("content", "x")),
			build(t, "symlink", filepath.Join(parent, "l"), attrs("target", "/")),
			build(t, "directory", filepath.Join(parent, "d", "e"), attrs()),
		} {
			c, o := plan(t, tr, r)
			if c.Action != Create {
				t.Fatalf("%s: plan %v", r.Addr(), c.Action)
			}
			if err := applyChange(t, tr, r, c, o); err == nil {
				t.Errorf("%s: Apply succeeded under a regular file", r.Addr())
			}
		}
		if readFile(t, parent) != "p" {
			t.Error("the file in the way changed")
		}
		noTemps(t, dir)
	})
}

// TestApplyMissingParents checks that a file or a symlink whose directory
// does not exist yet gets it, with mode 0755, as a directory resource does.
func TestApplyMissingParents(t *testing.T) {
	tr := newLocal(t)
	dir := t.TempDir()
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })
	file := filepath.Join(dir, "a", "b", "file")
	converge(t, tr, build(t, "file", file, attrs("content", "x", "mode", "0600")), Create)
	link := filepath.Join(dir, "c", "d", "link")
	converge(t, tr, build(t, "symlink", link, attrs("target", file)), Create)
	for _, p := range []string{"a", "a/b", "c", "c/d"} {
		if st := statOf(t, filepath.Join(dir, p)); st.mode != fs.ModeDir|0o755 {
			t.Errorf("%s: %v, want drwxr-xr-x", p, st.mode)
		}
	}
	if readFile(t, link) != "x" || statOf(t, file).mode != 0o600 {
		t.Errorf("got %q %v", readFile(t, link), statOf(t, file).mode)
	}
	noTemps(t, filepath.Join(dir, "a", "b"))
	noTemps(t, filepath.Join(dir, "c", "d"))
}

func TestDirectoryApply(t *testing.T) {
	tr := newLocal(t)
	dir := t.TempDir()
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })

	t.Run("create with missing parents, setgid, owner", func(t *testing.T) {
		path := filepath.Join(dir, "a", "b c", "d")
		converge(t, tr, build(t, "directory", path, attrs("mode", "2775", "owner", "65534", "group", "nogroup")), Create)
		st := statOf(t, path)
		if st.mode != fs.ModeDir|fs.ModeSetgid|0o775 || st.uid != 65534 || st.gid != 65534 {
			t.Errorf("got %v %d:%d, want dgrwxrwxr-x 65534:65534", st.mode, st.uid, st.gid)
		}
		for _, p := range []string{filepath.Join(dir, "a"), filepath.Join(dir, "a", "b c")} {
			if st := statOf(t, p); st.mode != fs.ModeDir|0o755 || st.uid != 0 {
				t.Errorf("parent %s: %+v, want 0755 root", p, st)
			}
		}
	})

	t.Run("create default", func(t *testing.T) {
		path := filepath.Join(dir, "plain")
		converge(t, tr, build(t, "directory", path, attrs()), Create)
		if st := statOf(t, path); st.mode != fs.ModeDir|0o755 {
			t.Errorf("got %v", st.mode)
		}
	})

	t.Run("update mode in place", func(t *testing.T) {
		path := filepath.Join(dir, "update")
		if err := os.Mkdir(path, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(path, "f"), []byte("f"), 0o644); err != nil {
			t.Fatal(err)
		}
		ino := statOf(t, path).ino
		converge(t, tr, build(t, "directory", path, attrs("mode", "2775", "owner", "nobody", "group", "65534")), Update)
		st := statOf(t, path)
		if st.mode != fs.ModeDir|fs.ModeSetgid|0o775 || st.uid != 65534 || st.gid != 65534 || st.ino != ino {
			t.Errorf("got %+v", st)
		}
		if readFile(t, filepath.Join(path, "f")) != "f" {
			t.Error("content changed")
		}
	})

	t.Run("delete removes content", func(t *testing.T) {
		path := filepath.Join(dir, "delete me")
		outside := filepath.Join(dir, "outside")
		writeFile(t, outside, "keep", 0o644, 0, 0)
		if err := os.MkdirAll(filepath.Join(path, "x", "y"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(path, "x", "y", "file"), "z", 0o000, 0, 0)
		if err := os.Symlink(outside, filepath.Join(path, "x", "link")); err != nil {
			t.Fatal(err)
		}
		r := build(t, "directory", path, attrs("state", "absent"))
		converge(t, tr, r, Delete)
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Errorf("directory still there: %v", err)
		}
		if readFile(t, outside) != "keep" {
			t.Error("a symlink inside was followed")
		}
		converge(t, tr, r, NoOp)
	})
	noTemps(t, dir)
}

func TestSymlinkApply(t *testing.T) {
	tr := newLocal(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "current")
	for _, d := range []string{"releases/1", "releases/2 new"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	converge(t, tr, build(t, "symlink", path, attrs("target", "releases/1")), Create)
	if got, err := os.Readlink(path); err != nil || got != "releases/1" {
		t.Fatalf("target = %q, %v", got, err)
	}

	// Switching a link to a directory replaces the link, not something in
	// the directory it points to.
	ino := statOf(t, path).ino
	converge(t, tr, build(t, "symlink", path, attrs("target", "releases/2 new")), Update)
	if got, err := os.Readlink(path); err != nil || got != "releases/2 new" {
		t.Fatalf("target = %q, %v", got, err)
	}
	if statOf(t, path).ino == ino {
		t.Error("the link was not replaced by a new one")
	}
	for _, d := range []string{"releases/1", "releases/2 new"} {
		if ents, _ := os.ReadDir(filepath.Join(dir, d)); len(ents) != 0 {
			t.Errorf("%s got entries %v", d, ents)
		}
	}
	converge(t, tr, build(t, "symlink", path, attrs("target", "releases/2 new")), NoOp)

	// A file is replaced only with force.
	file := filepath.Join(dir, "config")
	writeFile(t, file, "x", 0o644, 0, 0)
	r := build(t, "symlink", file, attrs("target", "/etc/hostname"))
	if _, err := r.Diff(probeVia(t, tr, r)); err == nil {
		t.Error("a file was planned to be replaced without force")
	}
	converge(t, tr, build(t, "symlink", file, map[string]cty.Value{"target": str("/etc/hostname"), "force": cty.True}), Update)
	if got, _ := os.Readlink(file); got != "/etc/hostname" {
		t.Errorf("target = %q", got)
	}

	// A dangling target is fine.
	dangling := filepath.Join(dir, "dangling")
	converge(t, tr, build(t, "symlink", dangling, attrs("target", "/nonexistent/tend target")), Create)

	r = build(t, "symlink", path, attrs("state", "absent"))
	converge(t, tr, r, Delete)
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("link still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "releases/2 new")); err != nil {
		t.Errorf("the link's target was removed: %v", err)
	}
	converge(t, tr, r, NoOp)
	noTemps(t, dir)
}

// TestApplyAllKinds converges a small tree of every kind with one probe, as
// the engine does, and checks a second probe plans nothing.
func TestApplyAllKinds(t *testing.T) {
	tr := newLocal(t)
	dir := t.TempDir()
	app := filepath.Join(dir, "srv", "app")
	rs := []Resource{
		build(t, "directory", app, attrs("mode", "2775", "group", "nogroup")),
		build(t, "file", filepath.Join(app, "config.yml"), attrs("content", "port: 80\n", "mode", "0640", "owner", "nobody")),
		build(t, "symlink", filepath.Join(app, "current"), attrs("target", "config.yml")),
		build(t, "file", filepath.Join(app, "stale"), attrs("state", "absent")),
	}
	o := probeVia(t, tr, rs...)
	for _, r := range rs {
		c, err := r.Diff(o)
		if err != nil {
			t.Fatal(err)
		}
		if c.Action == NoOp {
			continue
		}
		if err := applyChange(t, tr, r, c, o); err != nil {
			t.Fatalf("%s: %v", r.Addr(), err)
		}
	}
	o = probeVia(t, tr, rs...)
	for _, r := range rs {
		if c, err := r.Diff(o); err != nil || c.Action != NoOp {
			t.Errorf("%s did not converge: %+v, %v", r.Addr(), c, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(app, "current"))
	if err != nil || !bytes.Equal(b, []byte("port: 80\n")) {
		t.Errorf("through the link: %q, %v", b, err)
	}
}
