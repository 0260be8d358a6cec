package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/resources"
)

// DefaultLockTimeout is how long a run waits for another tend run on the
// same host to finish applying (Options.LockTimeout).
const DefaultLockTimeout = 5 * time.Minute

// lockName (plus "." and the host's name) is the file, in the state
// directory, that tend flocks while it applies changes on a host: two
// agents, or an agent and a manual tend apply, never interleave their
// changes on one host. A run with nothing to apply takes no lock.
const lockName = "lock"

// lockExit is the exit status of the lock command when flock's wait timed
// out (flock -E in lockScript), told apart from every other failure.
const lockExit = 75

// lockReleaseWait bounds how long release waits for the lock command to
// end after its input was closed, before it kills it.
const lockReleaseWait = 30 * time.Second

// lockScript runs on the host: it makes the state directory when missing
// (0700, its parents as the umask says, like mkdirState), then holds
// flock on the lock file while its standard input stays open. "locked" on
// its output tells the engine it holds the lock; closing its input (cat
// ends) releases it. $1 is the state directory, $2 the lock file, $3 the
// timeout in seconds.
const lockScript = `command -v flock >/dev/null 2>&1 || { echo "flock is not installed on this host (it is part of util-linux)" >&2; exit 127; }
[ -d "$1" ] || { mkdir -p "$1" && chmod 0700 "$1"; } || exit 1
exec flock -w "$3" -E 75 "$2" sh -c 'echo locked; exec cat >/dev/null'`

// hostLock is a held per-host lock: the remote command that holds it.
type hostLock struct {
	path   string
	stdin  *io.PipeWriter
	cancel context.CancelFunc
	done   chan lockResult
	log    *zap.Logger
}

type lockResult struct {
	res *inventory.Result
	err error
}

// lockPath returns the host's lock file.
func (h *hostRun) lockPath() string {
	return path.Join(h.stateDir(), lockName+"."+url.PathEscape(h.g.Host.Name))
}

// stateDir returns tend's directory on the host.
func (h *hostRun) stateDir() string {
	if h.o.StateDir == "" {
		return DefaultStateDir
	}
	return h.o.StateDir
}

// lock takes the host's lock (one remote execution that lasts until
// release), waiting at most o.LockTimeout for another run to release it.
func (h *hostRun) lock(ctx context.Context) (*hostLock, error) {
	timeout := h.o.LockTimeout
	p := h.lockPath()
	ctx, cancel := context.WithCancel(ctx)
	in, stdin := io.Pipe()
	seen := &lineWatch{want: []byte("locked\n"), seen: make(chan struct{})}
	l := &hostLock{path: p, stdin: stdin, cancel: cancel, done: make(chan lockResult, 1), log: h.log}
	cmd := inventory.Cmd{
		Args:   []string{"sh", "-c", lockScript, "tend-lock", h.stateDir(), p, strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64)},
		Stdin:  in,
		Stdout: seen,
	}
	t0 := time.Now()
	go func() {
		res, err := h.t.Run(ctx, cmd)
		l.done <- lockResult{res, err}
	}()
	// flock gives up on its own after the timeout; the timer is a safety
	// net for a host where it does not.
	timer := time.NewTimer(timeout + 30*time.Second)
	defer timer.Stop()
	var r lockResult
	select {
	case <-seen.seen:
		h.log.Debug("host locked", zap.String("lock", p), zap.Duration("waited", time.Since(t0)))
		return l, nil
	case r = <-l.done:
	case <-timer.C:
		l.release()
		return nil, fmt.Errorf("host is locked by another tend run (%s)", p)
	case <-ctx.Done():
		l.release()
		return nil, fmt.Errorf("lock %s: %w", p, ctx.Err())
	}
	// The command ended without taking the lock.
	_ = stdin.Close()
	cancel()
	switch {
	case r.err != nil:
		return nil, fmt.Errorf("lock %s: %w", p, r.err)
	case r.res.ExitCode == lockExit:
		return nil, fmt.Errorf("host is locked by another tend run (%s)", p)
	case r.res.ExitCode == 127:
		return nil, fmt.Errorf("lock %s: %s", p, firstLine(bytes.TrimSpace(r.res.Stderr)))
	default:
		return nil, fmt.Errorf("lock %s: exit status %d: %s", p, r.res.ExitCode, firstLine(r.res.Stderr))
	}
}

// release ends the lock command (closing its input ends cat, and flock
// releases the lock) and waits for it; a command that does not end is
// killed.
func (l *hostLock) release() {
	_ = l.stdin.Close()
	defer l.cancel()
	select {
	case r := <-l.done:
		if r.err != nil && !errors.Is(r.err, context.Canceled) {
			l.log.Warn("releasing the host lock failed", zap.String("lock", l.path), zap.Error(r.err))
			return
		}
		l.log.Debug("host unlocked", zap.String("lock", l.path))
	case <-time.After(lockReleaseWait):
		l.log.Warn("the host lock command did not end; killing it", zap.String("lock", l.path))
		l.cancel()
		<-l.done
	}
}

// lineWatch is the lock command's standard output: it closes seen once the
// output holds want.
type lineWatch struct {
	mu   sync.Mutex
	buf  []byte
	want []byte
	seen chan struct{}
	done bool
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.buf = append(w.buf, p...)
		if bytes.Contains(w.buf, w.want) {
			w.done = true
			close(w.seen)
		}
	}
	return len(p), nil
}

// recheck probes the host again once the lock is held and refuses to apply
// when what it observes no longer yields the plan: another run (or a
// person) changed the host between the plan and the lock, and applying the
// old plan could undo their work. It compares every resource's change (as
// Diff computes it from each observation), the manifest and the
// notification journal. It costs one remote execution, only on hosts with
// something to apply.
func (h *hostRun) recheck(ctx context.Context, p *resources.Probe, planned *resources.Observed) error {
	now, err := h.probe(ctx, p)
	if err != nil {
		return fmt.Errorf("re-probe under the lock: %w", err)
	}
	var differ []string
	for _, n := range h.g.Nodes {
		before, err1 := n.Resource.Diff(planned)
		after, err2 := n.Resource.Diff(now)
		if changeKey(before, err1) != changeKey(after, err2) {
			differ = append(differ, n.Key())
		}
	}
	for _, f := range []string{h.manifestPath(), h.journalPath()} {
		if observedKey(planned, f) != observedKey(now, f) {
			differ = append(differ, f)
		}
	}
	if len(differ) == 0 {
		return nil
	}
	h.log.Info("the host changed since it was planned", zap.Strings("changed", differ))
	const show = 5
	list := strings.Join(differ[:min(len(differ), show)], ", ")
	if len(differ) > show {
		list += fmt.Sprintf(" and %d more", len(differ)-show)
	}
	return fmt.Errorf("the host changed since it was planned (%s): %w", list, errChanged)
}

// errChanged ends the error of a host that changed between its plan and its
// lock (recheck): nothing was applied, and a new plan may apply.
var errChanged = errors.New("re-plan")

// changeKey is what recheck compares of a change: everything Diff decides,
// not what the plan added later (fetched content, notification reasons).
func changeKey(c *resources.Change, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	if c == nil {
		return "none"
	}
	k := struct {
		Action  string
		Attrs   []resources.AttrChange
		Reason  string
		Content [4]string
	}{Action: c.Action.String(), Attrs: c.Attrs, Reason: c.Reason}
	if cc := c.Content; cc != nil {
		k.Content = [4]string{cc.BeforeHash, cc.AfterHash, strconv.FormatInt(cc.BeforeSize, 10), strconv.FormatInt(cc.AfterSize, 10)}
	}
	b, _ := json.Marshal(k)
	return string(b)
}

// observedKey is what an observation holds of one of tend's own files.
func observedKey(o *resources.Observed, p string) string {
	data, exists, err := o.Content(p)
	if err == nil {
		return fmt.Sprint(exists, resources.HashOf(data))
	}
	s, err := o.Path(p)
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprint(s.Exists, s.Size, s.SHA256)
}
