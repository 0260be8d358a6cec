package local

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/tendhq/tend/inventory"
)

// fileSystem is inventory.FileSystem on the os package. Modes are set
// exactly (an explicit chmod after create), whatever the process umask.
type fileSystem struct {
	name string
}

var _ inventory.FileSystem = (*fileSystem)(nil)

// CreateExclusive creates path with mode perm exactly; it fails with an error
// wrapping fs.ErrExist when path exists (a symlink included).
func (f *fileSystem) CreateExclusive(path string, perm fs.FileMode) (io.WriteCloser, error) {
	perm = goMode(perm)
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return nil, f.err("create", path, err)
	}
	if err := w.Chmod(perm); err != nil {
		_ = w.Close()
		_ = os.Remove(path)
		return nil, f.err("chmod new file", path, err)
	}
	return w, nil
}

// Chmod sets the mode of path, following a symlink as chmod(2) does.
func (f *fileSystem) Chmod(path string, mode fs.FileMode) error {
	return f.err("chmod", path, os.Chmod(path, goMode(mode)))
}

// Lchown sets the owner and group of path, not following a final symlink.
// Lstat stats path without following a final symlink.
func (f *fileSystem) Lstat(path string) (*inventory.PathInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, f.err("lstat", path, err)
	}
	pi := &inventory.PathInfo{Mode: fi.Mode()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		pi.UID = int(st.Uid)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if pi.Target, err = os.Readlink(path); err != nil {
			return nil, f.err("readlink", path, err)
		}
	}
	return pi, nil
}

func (f *fileSystem) Lchown(path string, uid, gid int) error {
	return f.err("lchown", path, os.Lchown(path, uid, gid))
}

// Rename replaces newpath with oldpath atomically.
func (f *fileSystem) Rename(oldpath, newpath string) error {
	if err := os.Rename(oldpath, newpath); err != nil {
		return fmt.Errorf("rename %s to %s on %s: %w", oldpath, newpath, f.name, unwrapPath(err))
	}
	return nil
}

// Mkdir creates the directory path with mode perm exactly.
func (f *fileSystem) Mkdir(path string, perm fs.FileMode) error {
	perm = goMode(perm)
	if err := os.Mkdir(path, perm); err != nil {
		return f.err("mkdir", path, err)
	}
	return f.err("chmod new directory", path, os.Chmod(path, perm))
}

// Symlink creates path as a symlink to target.
func (f *fileSystem) Symlink(target, path string) error {
	if err := os.Symlink(target, path); err != nil {
		return fmt.Errorf("symlink %s to %s on %s: %w", path, target, f.name, unwrapPath(err))
	}
	return nil
}

// Remove removes a file, a symlink (not its target) or an empty directory.
func (f *fileSystem) Remove(path string) error {
	return f.err("remove", path, os.Remove(path))
}

// RemoveAll removes path and everything below it without following
// symlinks; a missing path is not an error. It refuses "/" and relative
// paths.
func (f *fileSystem) RemoveAll(path string) error {
	if !filepath.IsAbs(path) || filepath.Clean(path) == "/" {
		return f.err("remove all", path, errors.New("refusing to remove the root or a relative path"))
	}
	return f.err("remove all", path, os.RemoveAll(path))
}

// goMode accepts the setuid, setgid and sticky bits both as Go's
// fs.ModeSetuid, fs.ModeSetgid, fs.ModeSticky and as the POSIX octal bits
// 04000, 02000, 01000 (as an SFTP server does), and returns Go's form, the
// only one os.Chmod understands.
func goMode(m fs.FileMode) fs.FileMode {
	for posix, goBit := range map[fs.FileMode]fs.FileMode{0o4000: fs.ModeSetuid, 0o2000: fs.ModeSetgid, 0o1000: fs.ModeSticky} {
		if m&posix != 0 {
			m = m&^posix | goBit
		}
	}
	return m
}

// err wraps a non-nil err with the operation, path and host, dropping the
// *fs.PathError layer that would repeat the path.
func (f *fileSystem) err(op, path string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s on %s: %w", op, path, f.name, unwrapPath(err))
}

// unwrapPath returns the cause inside an *fs.PathError or *os.LinkError.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
