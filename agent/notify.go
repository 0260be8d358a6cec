package agent

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/tendhq/tend/agent/store"
	"github.com/tendhq/tend/engine/report"
)

// Notification events: what a notification block's events list names.
const (
	// NotifySyncSucceeded: a sync (auto, manual, webhook or self-heal)
	// converged every host.
	NotifySyncSucceeded = "sync-succeeded"
	// NotifySyncFailed: a sync failed on a host, or a revision was
	// refused (invalid specs, untrusted signature).
	NotifySyncFailed = "sync-failed"
	// NotifyDrift: a drift was recorded, corrected or not.
	NotifyDrift = "drift"
	// NotifyRollback: a rollback ended, whatever its result (it is not
	// also notified as sync-succeeded or sync-failed).
	NotifyRollback = "rollback"
	// NotifySourceUnreachable: the Git source could not be fetched, once
	// per outage.
	NotifySourceUnreachable = "source-unreachable"
	// NotifySourceRecovered: the source was fetched again after an
	// outage.
	NotifySourceRecovered = "source-recovered"
)

// NotifyEvents lists every notification event, the default of a
// notification block without events.
var NotifyEvents = []string{NotifySyncSucceeded, NotifySyncFailed, NotifyDrift, NotifyRollback,
	NotifySourceUnreachable, NotifySourceRecovered}

// Notification formats.
const (
	// FormatJSON posts a Notice.
	FormatJSON = "json"
	// FormatSlack posts a Slack incoming-webhook message ({"text": ...}),
	// which Mattermost, Rocket.Chat and Discord's /slack endpoint accept
	// too.
	FormatSlack = "slack"
)

// Notice is the body of a notification in the json format. It holds the
// same data as the history (plans there carry no secret values), with the
// resources that did not change left out of Sync.
type Notice struct {
	// Event is one of the Notify* events.
	Event string    `json:"event"`
	Time  time.Time `json:"time"`
	// Agent is the name of the machine the agent runs on; Source the Git
	// URL without credentials, and Ref the followed ref.
	Agent  string `json:"agent"`
	Source string `json:"source"`
	Ref    string `json:"ref,omitempty"`
	// Text is the notification in words, as the slack format sends it.
	Text string `json:"text"`
	// Sync is the sync of sync and rollback events; Drift the drift of a
	// drift event.
	Sync  *store.Sync  `json:"sync,omitempty"`
	Drift *store.Drift `json:"drift,omitempty"`
	// Revision is the revision fetched when the source recovered; Error
	// why the source cannot be fetched.
	Revision string `json:"revision,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Headers of a notification request.
const (
	// HeaderEvent holds the Notice's Event.
	HeaderEvent = "X-Tend-Event"
	// HeaderDelivery identifies a notification; retries of one
	// notification have the same, so that a receiver can drop duplicates.
	HeaderDelivery = "X-Tend-Delivery"
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256 of the body
	// keyed with the notification's secret, when it has one.
	HeaderSignature = "X-Tend-Signature-256"
)

// notifyQueue is how many notifications wait per receiver; past that the
// oldest are dropped (and logged) rather than the agent slowed down.
const notifyQueue = 100

// notifier sends the notifications of the agent's events. consume is
// called from one goroutine (the event consumer) and only queues; each
// receiver has its own worker, so a slow or failing one delays nothing
// but its own notifications.
type notifier struct {
	log     *zap.Logger
	client  *http.Client
	agent   string
	source  string
	ref     string
	targets []*target
	// down is set from a source error to the next fetch (consume's
	// goroutine only).
	down bool
	seq  atomic.Uint64
	// pending counts the notifications queued or being sent; workers
	// counts the running workers.
	pending sync.WaitGroup
	workers sync.WaitGroup
}

// target is one notification block and its queue.
type target struct {
	cfg    Notification
	events map[string]bool
	queue  chan *delivery
}

// delivery is one notification to send to one receiver.
type delivery struct {
	id    string
	event string
	body  []byte
}

// newNotifier builds the notifier of cfg's notification blocks; nil when
// there are none.
func newNotifier(cfg *Config, log *zap.Logger) *notifier {
	if len(cfg.Notifications) == 0 {
		return nil
	}
	name, _ := os.Hostname()
	n := &notifier{
		log: log.Named("notify"), agent: name, source: redactURL(cfg.Source.URL), ref: cfg.Source.Ref,
		// Redirects are not followed: a webhook URL that redirects is
		// more likely a mistake than a move, and the body must not be
		// posted somewhere else.
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	for _, c := range cfg.Notifications {
		t := &target{cfg: c, events: map[string]bool{}, queue: make(chan *delivery, notifyQueue)}
		events := c.Events
		if len(events) == 0 {
			events = NotifyEvents
		}
		for _, e := range events {
			t.events[e] = true
		}
		n.targets = append(n.targets, t)
	}
	return n
}

// start runs one worker per receiver until ctx is done.
func (n *notifier) start(ctx context.Context) {
	for _, t := range n.targets {
		n.workers.Add(1)
		go func() {
			defer n.workers.Done()
			n.work(ctx, t)
		}()
	}
}

// drain waits at most grace for the queued notifications to be sent.
func (n *notifier) drain(grace time.Duration) {
	done := make(chan struct{})
	go func() {
		n.pending.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
		n.log.Warn("notifications still pending at shutdown are dropped")
	}
}

// wait waits for the workers to return (after start's ctx is done).
func (n *notifier) wait() { n.workers.Wait() }

// consume turns an event into notices and queues them for the receivers
// that want them.
func (n *notifier) consume(e Event) {
	nt := n.notice(e)
	if nt == nil {
		return
	}
	nt.Text = noticeText(nt)
	id := fmt.Sprintf("%d-%d", e.Time.UnixNano(), n.seq.Add(1))
	for _, t := range n.targets {
		if !t.events[nt.Event] {
			continue
		}
		body, err := encodeNotice(nt, t.cfg.Format)
		if err != nil {
			n.log.Error("encode notification", zap.String("notification", t.cfg.Name), zap.Error(err))
			continue
		}
		n.enqueue(t, &delivery{id: id, event: nt.Event, body: body})
	}
}

// enqueue queues d for t; when t's queue is full, the oldest waiting
// notification is dropped (and logged) to make room.
func (n *notifier) enqueue(t *target, d *delivery) {
	n.pending.Add(1)
	for {
		select {
		case t.queue <- d:
			return
		default:
		}
		select {
		case old := <-t.queue:
			n.log.Warn("notification queue full, dropped one", zap.String("notification", t.cfg.Name),
				zap.String("event", old.event), zap.String("delivery", old.id))
			n.pending.Done()
		default:
		}
	}
}

// notice is the notice of an event; nil for events that notify nothing.
func (n *notifier) notice(e Event) *Notice {
	nt := &Notice{Time: e.Time.UTC(), Agent: n.agent, Source: n.source, Ref: n.ref}
	switch e.Type {
	case EventSyncFinished:
		// A rollback is its own event; a refused revision is a failed
		// sync: in both, the result says what happened.
		if e.Sync == nil {
			return nil
		}
		nt.Sync = changedOnly(e.Sync)
		switch {
		case e.Sync.Trigger == store.TriggerRollback:
			nt.Event = NotifyRollback
		case e.Sync.Result == store.ResultSucceeded:
			nt.Event = NotifySyncSucceeded
		default:
			nt.Event = NotifySyncFailed
		}
	case EventDrift:
		if e.Drift == nil {
			return nil
		}
		d := *e.Drift
		d.Resources = append([]store.DriftedResource(nil), e.Drift.Resources...)
		nt.Event, nt.Drift = NotifyDrift, &d
	case EventSourceError:
		if n.down {
			return nil // notified once per outage
		}
		n.down = true
		nt.Event, nt.Error = NotifySourceUnreachable, e.Error
	case EventSourceOK:
		if !n.down {
			return nil
		}
		n.down = false
		nt.Event, nt.Revision = NotifySourceRecovered, e.Revision
	default:
		return nil
	}
	return nt
}

// changedOnly copies a sync without the resources that did not change:
// a notification says what happened, the history has the rest.
func changedOnly(s *store.Sync) *store.Sync {
	c := *s
	c.Roles = append([]string(nil), s.Roles...)
	c.Hosts = make([]store.HostResult, len(s.Hosts))
	for i, h := range s.Hosts {
		c.Hosts[i] = h
		c.Hosts[i].Resources = nil
		for _, r := range h.Resources {
			if r.Status != string(report.StatusUnchanged) {
				c.Hosts[i].Resources = append(c.Hosts[i].Resources, r)
			}
		}
	}
	return &c
}

// encodeNotice is the request body of a notice in a format.
func encodeNotice(nt *Notice, format string) ([]byte, error) {
	if format == FormatSlack {
		return json.Marshal(map[string]string{"text": nt.Text})
	}
	return json.Marshal(nt)
}

// work sends the notifications of one receiver, one at a time, until ctx
// is done; what is still queued then is dropped.
func (n *notifier) work(ctx context.Context, t *target) {
	for {
		select {
		case d := <-t.queue:
			n.send(ctx, t, d)
			n.pending.Done()
		case <-ctx.Done():
			for {
				select {
				case <-t.queue:
					n.pending.Done()
				default:
					return
				}
			}
		}
	}
}

// send posts one notification, retrying a network error, a timeout, a 5xx,
// 408 or 429 with exponential backoff up to the block's retries. Logs name
// the notification, never its URL (a Slack webhook URL is a secret).
func (n *notifier) send(ctx context.Context, t *target, d *delivery) {
	log := n.log.With(zap.String("notification", t.cfg.Name), zap.String("event", d.event), zap.String("delivery", d.id))
	wait := t.cfg.Backoff
	for attempt := 1; ; attempt++ {
		code, err := n.post(ctx, t, d)
		if err == nil && code/100 == 2 {
			log.Debug("notification sent", zap.Int("attempt", attempt))
			return
		}
		retry := err != nil || code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
		if err == nil {
			err = fmt.Errorf("HTTP status %d", code)
		}
		if !retry {
			log.Warn("notification refused by its receiver", zap.Error(err))
			return
		}
		if attempt > t.cfg.Retries {
			log.Error("notification not delivered", zap.Int("attempts", attempt), zap.Error(err))
			return
		}
		log.Info("notification failed, retrying", zap.Int("attempt", attempt), zap.Duration("retry_in", wait), zap.Error(err))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			log.Warn("notification dropped at shutdown", zap.Error(err))
			return
		}
		wait = min(2*wait, maxNotifyBackoff)
	}
}

// maxNotifyBackoff caps the wait between two attempts.
const maxNotifyBackoff = 5 * time.Minute

// post makes one attempt and returns the response's status code. Its
// errors leave out the URL.
func (n *notifier) post(ctx context.Context, t *target, d *delivery) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.cfg.URL, bytes.NewReader(d.body))
	if err != nil {
		return 0, errors.New("build the request: invalid url")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tend-agent")
	for k, v := range t.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set(HeaderEvent, d.event)
	req.Header.Set(HeaderDelivery, d.id)
	if t.cfg.Secret != "" {
		m := hmac.New(sha256.New, []byte(t.cfg.Secret))
		m.Write(d.body)
		req.Header.Set(HeaderSignature, "sha256="+hex.EncodeToString(m.Sum(nil)))
	}
	resp, err := n.client.Do(req)
	if err != nil {
		// A *url.Error quotes the URL, which may be a secret: keep
		// only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("post notification %s: %w", t.cfg.Name, err)
	}
	// The reply is read (a little of it) so that the connection can be
	// reused, and otherwise ignored.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// maxTextLines bounds the lines of detail in a notice's text.
const maxTextLines = 10

// noticeText is a notice in words: a first line that says it all, then
// details (failed hosts, drifted resources), at most maxTextLines.
func noticeText(nt *Notice) string {
	var head string
	var lines []string
	switch nt.Event {
	case NotifySyncSucceeded, NotifySyncFailed, NotifyRollback:
		s := nt.Sync
		what := fmt.Sprintf("Sync %d of %s", s.ID, s.Revision)
		if s.Trigger == store.TriggerRollback {
			what = fmt.Sprintf("Rollback %d to %s", s.ID, s.Revision)
		}
		if s.Result == store.ResultRefused {
			what = "Revision " + s.Revision
		}
		head = fmt.Sprintf("%s %s", what, s.Result)
		// A failure names the hosts that failed, a success all of them.
		hosts := s.Hosts
		if s.Result != store.ResultSucceeded {
			hosts = nil
			for _, h := range s.Hosts {
				if h.Result != store.ResultSucceeded {
					hosts = append(hosts, h)
				}
			}
		}
		if len(hosts) > 0 {
			head += " on " + hostNames(hosts)
			if len(hosts) < len(s.Hosts) {
				head += fmt.Sprintf(" (%d of %d hosts)", len(hosts), len(s.Hosts))
			}
		}
		head += " (" + string(s.Trigger)
		if s.By != "" {
			head += " by " + s.By
		}
		head += ")"
		if s.Result != store.ResultRefused && !s.Ended.IsZero() {
			head += " in " + formatSeconds(s.Ended.Sub(s.Started))
		}
		if msg, _, _ := strings.Cut(s.Message, "\n"); msg != "" {
			lines = append(lines, fmt.Sprintf("commit: %q by %s", msg, s.Author))
		}
		if s.Result != store.ResultSucceeded && s.Reason != "" && !strings.HasPrefix(s.Reason, "failed on ") {
			lines = append(lines, strings.Split(s.Reason, "\n")...)
		}
		for _, h := range s.Hosts {
			if h.Result == store.ResultSucceeded {
				continue
			}
			if h.Error != "" {
				lines = append(lines, fmt.Sprintf("%s: %s", h.Name, firstLine(h.Error)))
			}
			for _, r := range h.Resources {
				if r.Error != "" {
					lines = append(lines, fmt.Sprintf("%s: %s: %s", h.Name, r.Address, firstLine(r.Error)))
				}
			}
		}
	case NotifyDrift:
		d := nt.Drift
		head = fmt.Sprintf("Drift on %s at %s: %d resource(s)", d.Host, d.Revision, len(d.Resources))
		if d.Corrected {
			head += fmt.Sprintf(", corrected by sync %d", d.SyncID)
		} else {
			head += ", not corrected"
		}
		for _, r := range d.Resources {
			lines = append(lines, fmt.Sprintf("%s: %s", r.Address, r.Summary))
		}
	case NotifySourceUnreachable:
		head = fmt.Sprintf("Source %s cannot be fetched: %s", nt.Source, nt.Error)
	case NotifySourceRecovered:
		head = fmt.Sprintf("Source %s fetched again", nt.Source)
		if nt.Revision != "" {
			head += " at " + nt.Revision
		}
	}
	if len(lines) > maxTextLines {
		more := len(lines) - maxTextLines
		lines = append(lines[:maxTextLines], fmt.Sprintf("(%d more)", more))
	}
	return strings.Join(append([]string{"tend: " + head}, lines...), "\n")
}

// hostNames lists the hosts of a sync: "web1, web2", or "web1, web2 and 8
// more hosts".
func hostNames(hs []store.HostResult) string {
	var names []string
	for i, h := range hs {
		if i == 5 {
			return strings.Join(names, ", ") + fmt.Sprintf(" and %d more hosts", len(hs)-5)
		}
		names = append(names, h.Name)
	}
	return strings.Join(names, ", ")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// formatSeconds prints a duration for people: "2.4s", "3m12s".
func formatSeconds(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}
