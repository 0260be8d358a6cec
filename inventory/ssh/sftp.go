package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"go.uber.org/zap"

	"github.com/tendhq/tend/inventory"
)

// FS returns the host's file system over SFTP, opened on the first call and
// kept until Close. Without become it is sshd's "sftp" subsystem; under
// become it is sftp-server (SetSFTPServer, Options.SFTPServer or
// DefaultSFTPServer) run as `sudo -n -u USER -- PATH` in an exec session, so
// files are written as the become user. Each of these counts as one exec.
// When opening fails, that error is returned by this and every later call
// (except a failure from ctx, which a later call retries).
func (t *Transport) FS(ctx context.Context) (inventory.FileSystem, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("open sftp on %s: transport closed", t.name)
	}
	if t.fsys != nil || t.fsErr != nil {
		if t.fsys == nil {
			return nil, t.fsErr
		}
		return t.fsys, nil
	}
	c, err := t.openSFTP(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		t.fsErr = err
		return nil, err
	}
	t.sftp = c
	t.fsys = &fileSystem{c: c, t: t}
	return t.fsys, nil
}

// openSFTP starts the SFTP server; t.mu is held.
func (t *Transport) openSFTP(ctx context.Context) (*sftp.Client, error) {
	if t.become == "" {
		// The plain "sftp" subsystem: sshd's own (internal-sftp or
		// sftp-server), as the login user.
		t.execs.Add(1)
		c, err := sftp.NewClient(t.client)
		if err != nil {
			return nil, fmt.Errorf("open sftp subsystem on %s: %w", t.name, lostConn(err))
		}
		t.log.Debug("sftp subsystem opened")
		return c, nil
	}

	// Under become the subsystem would run as the login user, so run
	// sftp-server itself through sudo and speak SFTP over the session's
	// stdin and stdout. stderr is kept for the error message: sudo says
	// there why it refused ("a password is required", unknown user...).
	sess, err := t.client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("open sftp on %s: open session: %w", t.name, lostConn(err))
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		_ = sess.Close()
		return nil, fmt.Errorf("open sftp on %s: %w", t.name, err)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		_ = sess.Close()
		return nil, fmt.Errorf("open sftp on %s: %w", t.name, err)
	}
	stderr := &lockedBuffer{}
	sess.Stderr = stderr
	line, _ := commandLine(inventory.Cmd{Args: []string{t.sftpServer}}, t.become)
	t.execs.Add(1)
	if err := sess.Start(line); err != nil {
		_ = sess.Close()
		return nil, fmt.Errorf("start %s as %s on %s: %w", t.sftpServer, t.become, t.name, lostConn(err))
	}
	// NewClientPipe waits for the server's version packet; ctx can
	// interrupt that by closing the session.
	stop := context.AfterFunc(ctx, func() { _ = sess.Close() })
	c, err := sftp.NewClientPipe(stdout, stdin)
	stop()
	if err != nil {
		// Let sudo's complaint reach stderr before quoting it.
		waited := make(chan struct{})
		go func() { _ = sess.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(2 * time.Second):
		}
		_ = sess.Close()
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return nil, fmt.Errorf("start %s as %s on %s: %w: %s", t.sftpServer, t.become, t.name, err, msg)
		}
		return nil, fmt.Errorf("start %s as %s on %s: %w", t.sftpServer, t.become, t.name, err)
	}
	t.sftpSess = sess
	t.log.Debug("sftp-server started through sudo", zap.String("become", t.become), zap.String("path", t.sftpServer))
	return c, nil
}

// fileSystem is inventory.FileSystem on an SFTP client. Modes are set
// exactly (with an explicit chmod after create), never left to the server's
// umask.
type fileSystem struct {
	c *sftp.Client
	t *Transport
}

var _ inventory.FileSystem = (*fileSystem)(nil)

// CreateExclusive creates path, failing with an error that wraps fs.ErrExist
// when it exists, and sets its mode to perm exactly.
func (f *fileSystem) CreateExclusive(p string, perm fs.FileMode) (io.WriteCloser, error) {
	// The SFTP open carries no mode here, so the server creates the file
	// with its umask applied; the fsetstat below makes the mode exact
	// before any byte is written.
	w, err := f.c.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		// SFTP v3 has no "already exists" status: look.
		if _, serr := f.c.Lstat(p); serr == nil {
			return nil, f.err("create", p, fs.ErrExist)
		}
		return nil, f.err("create", p, err)
	}
	if err := w.Chmod(perm); err != nil {
		_ = w.Close()
		_ = f.c.Remove(p)
		return nil, f.err("chmod new file", p, err)
	}
	return w, nil
}

// Chmod sets the mode of path (following a symlink, as chmod(2) does).
func (f *fileSystem) Chmod(p string, mode fs.FileMode) error {
	return f.err("chmod", p, f.c.Chmod(p, mode))
}

// Lchown sets the numeric owner and group of path without following a final
// symlink. SFTP's SETSTAT follows symlinks, so a symlink is changed with
// `chown -h` run on the connection (an extra exec, under become as usual);
// anything else with SETSTAT after an LSTAT. Between the LSTAT and the
// SETSTAT the path must not be replaced by a symlink, which holds for the
// paths apply creates itself.
// Lstat stats p over SFTP without following a final symlink, and reads a
// symlink's target: one or two round trips, no remote command.
func (f *fileSystem) Lstat(p string) (*inventory.PathInfo, error) {
	fi, err := f.c.Lstat(p)
	if err != nil {
		return nil, f.err("lstat", p, err)
	}
	pi := &inventory.PathInfo{Mode: fi.Mode()}
	if st, ok := fi.Sys().(*sftp.FileStat); ok {
		pi.UID = int(st.UID)
	} else {
		return nil, f.err("lstat", p, errors.New("the SFTP server did not report the owner"))
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if pi.Target, err = f.c.ReadLink(p); err != nil {
			return nil, f.err("readlink", p, err)
		}
	}
	return pi, nil
}

func (f *fileSystem) Lchown(p string, uid, gid int) error {
	fi, err := f.c.Lstat(p)
	if err != nil {
		return f.err("lchown", p, err)
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return f.err("lchown", p, f.c.Chown(p, uid, gid))
	}
	res, err := f.t.Run(context.Background(), inventory.Cmd{
		Args: []string{"chown", "-h", strconv.Itoa(uid) + ":" + strconv.Itoa(gid), "--", p},
	})
	if err != nil {
		return f.err("lchown", p, err)
	}
	if res.ExitCode != 0 {
		return f.err("lchown", p, fmt.Errorf("chown -h exited %d: %s", res.ExitCode, strings.TrimSpace(string(res.Stderr))))
	}
	return nil
}

// Rename replaces newpath with oldpath atomically (posix-rename@openssh.com;
// plain SFTP rename refuses to replace).
func (f *fileSystem) Rename(oldpath, newpath string) error {
	if err := f.c.PosixRename(oldpath, newpath); err != nil {
		return fmt.Errorf("rename %s to %s on %s: %w", oldpath, newpath, f.t.name, err)
	}
	return nil
}

// Mkdir creates the directory path with mode perm exactly.
func (f *fileSystem) Mkdir(p string, perm fs.FileMode) error {
	if err := f.c.Mkdir(p); err != nil {
		if _, serr := f.c.Lstat(p); serr == nil {
			return f.err("mkdir", p, fs.ErrExist)
		}
		return f.err("mkdir", p, err)
	}
	return f.err("chmod new directory", p, f.c.Chmod(p, perm|fs.ModeDir))
}

// Symlink creates path as a symlink to target.
func (f *fileSystem) Symlink(target, p string) error {
	if err := f.c.Symlink(target, p); err != nil {
		if _, serr := f.c.Lstat(p); serr == nil {
			return f.err("symlink", p, fs.ErrExist)
		}
		return f.err("symlink", p, err)
	}
	return nil
}

// Remove removes a file, a symlink (not its target) or an empty directory.
func (f *fileSystem) Remove(p string) error {
	return f.err("remove", p, f.c.Remove(p))
}

// RemoveAll removes path and everything below it, never following
// symlinks. Like os.RemoveAll, a missing path is not an error.
func (f *fileSystem) RemoveAll(p string) error {
	if p == "" || p == "/" {
		return f.err("remove all", p, errors.New("refusing to remove the root"))
	}
	return f.err("remove all", p, f.removeAll(p))
}

func (f *fileSystem) removeAll(p string) error {
	fi, err := f.c.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	// Lstat above: a symlink to a directory is removed as a link, its
	// target is never entered. ReadDir's entries are lstat'ed by the
	// server as well.
	if fi.IsDir() {
		entries, err := f.c.ReadDir(p)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := f.removeAll(path.Join(p, e.Name())); err != nil {
				return err
			}
		}
		return f.c.RemoveDirectory(p)
	}
	err = f.c.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// err wraps a non-nil err with the operation, path and host.
func (f *fileSystem) err(op, p string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s on %s: %w", op, p, f.t.name, err)
}
