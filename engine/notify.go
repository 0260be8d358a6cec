package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/resources"
)

// DefaultStateDir is where tend keeps its state on a host: the journal of
// pending notifications.
const DefaultStateDir = "/var/lib/tend"

// journalName (plus "." and the host's name) is the file, in the state
// directory, that lists the
// receivers (one address a line) whose notification is pending: written
// before a notifier's change is applied, and cleared once the receiver was
// notified. A run that fails in between leaves it, and the next run
// delivers the notification even though nothing differs any more (the
// lost-handler problem of stateless tools).
const journalName = "pending-notifications"

// notifications tracks one host's notifications during a run.
type notifications struct {
	path string
	// notifiedBy maps a receiver to why it will be notified: the changed
	// notifiers, or "an earlier run" for a journaled one.
	notifiedBy map[string][]string
	// only marks receivers that change only by being notified.
	only map[string]bool

	mu      sync.Mutex
	pending map[string]bool // what the journal on the host holds
}

// journalPath is the host's journal: named after the inventory host, like
// the manifest, so hosts that share a file system (or one host under two
// names) keep their own.
func (h *hostRun) journalPath() string {
	if h.journalFile == "" {
		h.journalFile = path.Join(h.stateDir(), journalName+"."+url.PathEscape(h.g.Host.Name))
	}
	return h.journalFile
}

// readJournal loads the journal when the probe saw it: one more remote
// execution, only on a host where an earlier run left notifications.
func (h *hostRun) readJournal(ctx context.Context, obs *resources.Observed) error {
	n := &notifications{path: h.journalPath()}
	h.notes = n
	s, err := obs.Path(n.path)
	if err != nil {
		return fmt.Errorf("read notification journal: %w", err)
	}
	if !s.Exists {
		return nil
	}
	res, err := h.t.Run(ctx, resources.FetchCmd([]string{n.path}))
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("exit status %d: %s", res.ExitCode, firstLine(res.Stderr))
	}
	var contents [][]byte
	if err == nil {
		contents, err = resources.ParseFetch([]string{n.path}, res.Stdout)
	}
	if err != nil {
		return fmt.Errorf("read notification journal %s: %w", n.path, err)
	}
	n.pending = map[string]bool{}
	for _, l := range strings.Split(string(contents[0]), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			n.pending[l] = true
		}
	}
	return nil
}

// planNotifications marks the receivers that will be notified: those of
// notifiers with a change, and those journaled by an earlier run. A
// receiver that has nothing else to change gets an update whose reason
// says who notifies it. It returns the number of changes it added.
func (h *hostRun) planNotifications() int {
	n := h.notes
	for i, node := range h.g.Nodes {
		r := &h.byNode[i]
		if r.Status == report.StatusError || !r.Change.Changed() {
			continue
		}
		for _, rcv := range node.Notify {
			n.notify(rcv.String(), node.Key())
		}
	}
	if len(n.pending) == 0 && len(n.notifiedBy) == 0 {
		return 0 // nothing notifies, and nothing is left from a past run
	}
	h.index()
	for rcv := range n.pending {
		if h.res[rcv] != nil {
			n.notify(rcv, "an earlier run that did not deliver it")
		}
	}
	added := 0
	for rcv, by := range n.notifiedBy {
		r := h.res[rcv]
		if r == nil || r.Status == report.StatusError {
			continue
		}
		if !r.Change.Changed() {
			addr := r.Addr
			r.Change = &resources.Change{Addr: addr, Action: resources.Update}
			r.Status = report.StatusPlanned
			if n.only == nil {
				n.only = map[string]bool{}
			}
			n.only[rcv] = true
			added++
		}
		sort.Strings(by)
		r.Change.Reason = "notified by " + strings.Join(by, ", ")
	}
	return added
}

// notify records that by notifies the receiver rcv (both addresses).
func (n *notifications) notify(rcv, by string) {
	if n.notifiedBy == nil {
		n.notifiedBy = map[string][]string{}
	}
	n.notifiedBy[rcv] = append(n.notifiedBy[rcv], by)
}

// journal records receivers as pending on the host before the change that
// notifies them is applied.
func (h *hostRun) journal(ctx context.Context, receivers []resources.Addr) error {
	if len(receivers) == 0 {
		return nil
	}
	n := h.notes
	n.mu.Lock()
	defer n.mu.Unlock()
	added := false
	if n.pending == nil {
		n.pending = map[string]bool{}
	}
	for _, a := range receivers {
		if !n.pending[a.String()] {
			n.pending[a.String()] = true
			added = true
		}
	}
	if !added {
		return nil
	}
	return h.writeJournal(ctx)
}

// delivered clears a receiver from the journal.
func (h *hostRun) delivered(ctx context.Context, receiver string) error {
	n := h.notes
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.pending[receiver] {
		return nil
	}
	delete(n.pending, receiver)
	return h.writeJournal(ctx)
}

// writeJournal replaces the journal on the host with n.pending (atomically:
// a temporary file renamed over it), or removes it when nothing is pending.
// The caller holds n.mu.
func (h *hostRun) writeJournal(ctx context.Context) error {
	n := h.notes
	fsys, err := h.t.FS(ctx)
	if err != nil {
		return fmt.Errorf("journal notifications: %w", err)
	}
	if len(n.pending) == 0 {
		if err := fsys.Remove(n.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("clear notification journal %s: %w", n.path, err)
		}
		return nil
	}
	lines := make([]string, 0, len(n.pending))
	for a := range n.pending {
		lines = append(lines, a)
	}
	sort.Strings(lines)
	if err := mkdirState(fsys, path.Dir(n.path)); err != nil {
		return fmt.Errorf("journal notifications: %w", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	tmp := n.path + ".tend-" + hex.EncodeToString(b[:])
	w, err := fsys.CreateExclusive(tmp, 0o600)
	if err != nil {
		return fmt.Errorf("journal notifications: %w", err)
	}
	_, werr := w.Write([]byte(strings.Join(lines, "\n") + "\n"))
	if cerr := w.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = fsys.Rename(tmp, n.path)
	}
	if werr != nil {
		_ = fsys.Remove(tmp)
		return fmt.Errorf("journal notifications in %s: %w", n.path, werr)
	}
	return nil
}

// notify delivers the notification of a receiver whose notifiers applied
// (they run before it: notify is an edge), after its own change.
func (a *applier) notify(ctx context.Context, addr string) error {
	h := a.h
	if len(h.notes.notifiedBy[addr]) == 0 {
		return nil
	}
	rcv, ok := h.nodes[addr].Resource.(resources.Notifiable)
	if !ok {
		return nil // the loader only lets notifiable resources be notified
	}
	if err := rcv.Notify(ctx, a.target, ""); err != nil {
		return fmt.Errorf("notified by %s: %w", strings.Join(h.notes.notifiedBy[addr], ", "), err)
	}
	h.log.Info("notified", zap.String("resource", addr), zap.Strings("by", h.notes.notifiedBy[addr]))
	return h.delivered(ctx, addr)
}
