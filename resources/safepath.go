package resources

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
)

// This file holds the symlink check of the path kinds (file, directory):
// before apply writes, removes or changes anything at a path, the
// directories above it are checked on the host, and a symbolic link among
// them that neither root nor the user tend runs as owns is refused. The
// policy and its reasons are in docs/security.md.
//
// The threat is a user of the host with less privilege than tend: one who
// owns /home/alice/app can replace app/conf with a link to /etc, and tend,
// running as root and told to write /home/alice/app/conf/settings, would
// write /etc/settings. Such a link is owned by that user. Links owned by
// root (merged /usr's /lib -> usr/lib, /var/run -> /run, a release's
// current -> releases/v2) are the host's layout, which only root can make,
// and tend follows them, as it follows the links it made itself.

// parents returns the directories above p, outermost first, without "/".
func parents(p string) []string {
	var ds []string
	for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
		ds = append([]string{d}, ds...)
	}
	return ds
}

// checkParents refuses to touch p when a directory above it on the host is
// a symbolic link owned by someone else than root or the user tend runs as
// (the probe's uid fact). Directories the probe observed (because the spec
// manages them) are judged from the probe, and those this run created are
// tend's own; the others are looked at over SFTP (Lstat), each once per
// host and run (t.Once): no remote command.
func checkParents(ctx context.Context, t *Target, p string) error {
	self := -1
	if t.Observed != nil {
		self = t.Observed.Facts.UID
	}
	trusted := func(uid int) bool { return uid == 0 || uid == self }
	var unknown []string
	for _, d := range parents(p) {
		s, known := observedParent(t, d)
		switch {
		case !known:
			unknown = append(unknown, d)
		case s != nil && s.Type == TypeSymlink && !trusted(s.UID):
			return fmt.Errorf("refuse to change %s: %s", p, untrustedLink(d, s.Target, s.UID))
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	// Each directory is looked at once per host and run, over SFTP (no
	// remote command), by whichever resource needs it first.
	var err error
	for _, d := range unknown {
		err = t.RunOnce("lstat "+d, func() error {
			fsys, err := t.Transport.FS(ctx)
			if err != nil {
				return fmt.Errorf("check the directories above it: %w", err)
			}
			pi, err := fsys.Lstat(d)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return nil // created by this write, as tend's own
			case err != nil:
				return fmt.Errorf("check the directories above it: %w", err)
			case pi.Mode&fs.ModeSymlink != 0 && !trusted(pi.UID):
				return errors.New(untrustedLink(d, pi.Target, pi.UID))
			}
			return nil
		})
		if err != nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("refuse to change %s: %w", p, err)
	}
	return nil
}

// observedParent returns what is known of the directory d above a managed
// path without asking the host again: its probed state when the probe
// observed it as a directory or a symlink, or nil when the probe found it
// absent and this run created it (tend made it: a directory or a symlink of
// the spec). known is false otherwise.
func observedParent(t *Target, d string) (s *PathState, known bool) {
	if t.Observed == nil {
		return nil, false
	}
	s = t.Observed.paths[d]
	switch {
	case s == nil || s.Err != "":
		return nil, false
	case s.Exists && (s.Type == TypeDir || s.Type == TypeSymlink):
		return s, true
	case s.Exists || t.Applied == nil:
		return nil, false
	}
	for _, c := range t.Applied() {
		if c.Path == d && c.Action == Create {
			return nil, true
		}
	}
	return nil, false
}

// untrustedLink is the error text for a link tend does not follow.
func untrustedLink(link, target string, uid int) string {
	return fmt.Sprintf("%s is a symbolic link to %s owned by uid %d, neither root nor the user tend runs as: "+
		"tend does not write through it (see docs/security.md)", link, target, uid)
}
