package ssh

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tendhq/tend/internal/sshtest"
	"github.com/tendhq/tend/inventory"
)

// mode returns the permission bits (with setuid/setgid/sticky) of path,
// not following a symlink.
func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}

func owner(t *testing.T, path string) (uid, gid uint32) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}

func TestSFTPRoundTrip(t *testing.T) {
	srv := sshtest.Start(t, 1)[0]
	tr := dialT(t, srv.Host("web1"), Options{})
	fsys, err := tr.FS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	// Create: bytes and the exact mode, umask or not.
	tmp := filepath.Join(dir, ".motd.tmp")
	w, err := fsys.CreateExclusive(tmp, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("hello\x00world\n")
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(tmp); string(b) != string(data) {
		t.Errorf("content on disk %q, want %q", b, data)
	}
	if m := mode(t, tmp); m != 0o666 {
		t.Errorf("created with mode %v, want 0666 exactly", m)
	}
	if _, err := fsys.CreateExclusive(tmp, 0o600); !errors.Is(err, fs.ErrExist) {
		t.Errorf("CreateExclusive on an existing file: %v, want fs.ErrExist", err)
	}

	// Chmod, setgid included.
	if err := fsys.Chmod(tmp, 0o2640); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, tmp); m != 0o640|fs.ModeSetgid {
		t.Errorf("after Chmod(02640): %v", m)
	}
	if err := fsys.Chmod(tmp, 0o750|fs.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, tmp); m != 0o750|fs.ModeSetuid {
		t.Errorf("after Chmod(ModeSetuid|0750): %v", m)
	}

	// Rename replaces the target atomically.
	final := filepath.Join(dir, "motd")
	if err := os.WriteFile(final, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Rename(tmp, final); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(final); string(b) != string(data) {
		t.Errorf("after Rename: %q", b)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the temporary file is still there: %v", err)
	}

	// Symlink and Lchown on it: the link changes, its target does not.
	link := filepath.Join(dir, "link")
	if err := fsys.Symlink(final, link); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(link); err != nil || got != final {
		t.Errorf("Readlink = %q, %v; want %q", got, err, final)
	}
	if err := fsys.Symlink(final, link); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Symlink over an existing path: %v, want fs.ErrExist", err)
	}
	execs := tr.Stats().Execs
	if err := fsys.Lchown(link, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if uid, gid := owner(t, link); uid != 65534 || gid != 65534 {
		t.Errorf("link owned by %d:%d, want 65534:65534", uid, gid)
	}
	if uid, _ := owner(t, final); uid != uint32(os.Getuid()) {
		t.Errorf("Lchown on the link changed its target's owner to %d", uid)
	}
	if got := tr.Stats().Execs; got != execs+1 {
		t.Errorf("Lchown on a symlink cost %d execs, want 1 (chown -h)", got-execs)
	}
	// Lchown on a regular file goes over SFTP alone.
	if err := fsys.Lchown(final, 65534, 0); err != nil {
		t.Fatal(err)
	}
	if uid, gid := owner(t, final); uid != 65534 || gid != 0 {
		t.Errorf("file owned by %d:%d, want 65534:0", uid, gid)
	}
	if got := tr.Stats().Execs; got != execs+1 {
		t.Errorf("Lchown on a file ran a command")
	}

	// Mkdir with the exact mode.
	sub := filepath.Join(dir, "sub")
	if err := fsys.Mkdir(sub, 0o777); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, sub); m != 0o777 {
		t.Errorf("Mkdir mode %v, want 0777 exactly", m)
	}
	if err := fsys.Mkdir(sub, 0o755); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Mkdir on an existing directory: %v, want fs.ErrExist", err)
	}

	// Remove a file and a symlink (not its target).
	if err := fsys.Remove(link); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(final); err != nil {
		t.Errorf("Remove of a symlink touched its target: %v", err)
	}
	if err := fsys.Remove(link); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Remove of a missing path: %v, want fs.ErrNotExist", err)
	}

	// RemoveAll: a tree with a symlink to a directory outside it.
	outside := filepath.Join(dir, "outside")
	if err := os.MkdirAll(filepath.Join(outside, "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(sub, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"x", "a/y", "a/b/z"} {
		if err := os.WriteFile(filepath.Join(sub, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(sub, "a", "out")); err != nil {
		t.Fatal(err)
	}
	if err := fsys.RemoveAll(sub); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(sub); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("RemoveAll left %s: %v", sub, err)
	}
	if _, err := os.Stat(filepath.Join(outside, "keep")); err != nil {
		t.Errorf("RemoveAll followed a symlink: %v", err)
	}
	if err := fsys.RemoveAll(sub); err != nil {
		t.Errorf("RemoveAll of a missing path: %v, want nil", err)
	}

	// Errors name the operation, the path and the host.
	err = fsys.Chmod(filepath.Join(dir, "missing"), 0o644)
	mustContain(t, err, "chmod "+filepath.Join(dir, "missing")+" on web1")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Chmod of a missing file: %v, want fs.ErrNotExist", err)
	}

	if got := tr.Stats(); got != (inventory.Stats{Connections: 1, Execs: 2}) {
		t.Errorf("Stats() = %+v, want 1 connection and 2 execs (sftp, chown -h)", got)
	}
}

func TestSFTPLargeFile(t *testing.T) {
	srv := sshtest.Start(t, 1)[0]
	tr := dialT(t, srv.Host("web1"), Options{})
	fsys, err := tr.FS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 3<<20+17)
	for i := range data {
		data[i] = byte(i * 7)
	}
	p := filepath.Join(t.TempDir(), "big")
	w, err := fsys.CreateExclusive(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != len(data) || string(b) != string(data) {
		t.Errorf("wrote %d bytes, read back %d, equal %v", len(data), len(b), string(b) == string(data))
	}
}
