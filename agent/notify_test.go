package agent

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tendhq/tend/agent/store"
)

// received is one request a test receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is an HTTP endpoint on 127.0.0.1 that records what it gets and
// answers with the next of its codes (200 once they are used up).
type receiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	got   []received
	codes []int
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	t.Helper()
	r := &receiver{codes: codes}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{header: req.Header.Clone(), body: body})
		code := http.StatusOK
		if len(r.codes) > 0 {
			code, r.codes = r.codes[0], r.codes[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// requests returns a copy of what was received.
func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// notices decodes the json notices received, one per delivery (a retried
// delivery counts once).
func (r *receiver) notices(t *testing.T) []Notice {
	t.Helper()
	seen := map[string]bool{}
	var out []Notice
	for _, q := range r.requests() {
		id := q.header.Get(HeaderDelivery)
		if seen[id] {
			continue
		}
		seen[id] = true
		var n Notice
		if err := json.Unmarshal(q.body, &n); err != nil {
			t.Fatalf("notice is not JSON: %v\n%s", err, q.body)
		}
		out = append(out, n)
	}
	return out
}

// find returns the first notice of an event, nil when none.
func find(ns []Notice, event string) *Notice {
	for i := range ns {
		if ns[i].Event == event {
			return &ns[i]
		}
	}
	return nil
}

// failSpec is specFile plus an exec that fails on every apply.
func failSpec(content string) string {
	return strings.Replace(specFile(content), "  file \"a\" {",
		"  exec \"boom\" {\n    command = [\"sh\", \"-c\", \"echo boom >&2; exit 3\"]\n  }\n  file \"a\" {", 1)
}

// TestNotifications runs an agent against a host with two receivers: a
// json one that wants drift and failed syncs, signs with a secret and
// fails its first request, and a slack one that wants everything. A
// manual sync, a drift and a failed sync must reach them, the json one
// after a retry of the same delivery.
func TestNotifications(t *testing.T) {
	hook := newReceiver(t, http.StatusInternalServerError)
	slack := newReceiver(t)
	f := newFixture(t, func(c *Config) {
		c.DriftInterval = 150 * time.Millisecond
		c.Notifications = []Notification{
			{Name: "hook", URL: hook.srv.URL + "/tend", Format: FormatJSON, Events: []string{NotifyDrift, NotifySyncFailed},
				Secret: "hmac-secret", Headers: map[string]string{"Authorization": "Bearer receiver-token"},
				Retries: 3, Backoff: 50 * time.Millisecond, Timeout: 5 * time.Second},
			{Name: "chat", URL: slack.srv.URL, Format: FormatSlack, Retries: 3, Backoff: 50 * time.Millisecond, Timeout: 5 * time.Second},
		}
	})
	f.start()
	eventually(t, "OutOfSync", func() bool { return f.host().Status == StatusOutOfSync })
	ok, err := f.a.Sync(context.Background(), SyncRequest{By: "ops"})
	if err != nil || ok.Result != store.ResultSucceeded {
		t.Fatalf("sync: %v %+v", err, ok)
	}

	// A drift (not corrected: no self_heal) reaches the json receiver
	// after one failed attempt.
	if err := os.Chmod(filepath.Join(f.root, "a"), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the drift notice delivered after a retry", func() bool { return len(hook.requests()) >= 2 })
	reqs := hook.requests()
	if reqs[0].header.Get(HeaderDelivery) == "" || reqs[0].header.Get(HeaderDelivery) != reqs[1].header.Get(HeaderDelivery) ||
		string(reqs[0].body) != string(reqs[1].body) {
		t.Fatalf("the retry is not the same delivery: %v / %v", reqs[0].header, reqs[1].header)
	}
	q := reqs[1]
	if q.header.Get(HeaderEvent) != NotifyDrift || q.header.Get("Content-Type") != "application/json" ||
		q.header.Get("Authorization") != "Bearer receiver-token" {
		t.Fatalf("headers: %v", q.header)
	}
	m := hmac.New(sha256.New, []byte("hmac-secret"))
	m.Write(q.body)
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); q.header.Get(HeaderSignature) != want {
		t.Fatalf("signature %q, want %q", q.header.Get(HeaderSignature), want)
	}
	var drift Notice
	if err := json.Unmarshal(q.body, &drift); err != nil {
		t.Fatal(err)
	}
	if drift.Event != NotifyDrift || drift.Drift == nil || drift.Drift.Host != "h1" || drift.Drift.Corrected ||
		len(drift.Drift.Resources) != 1 || drift.Drift.Resources[0].Address != "file[a]" ||
		!strings.Contains(drift.Drift.Resources[0].Summary, "mode: 0600 -> 0644") ||
		!strings.Contains(drift.Text, "Drift on h1") || drift.Source != "file://"+f.bare || drift.Sync != nil {
		t.Fatalf("drift notice: %s", q.body)
	}

	// A sync that fails on the host.
	bad := f.commit("specs/main.hcl", failSpec("v2\n"), "a failing exec")
	eventually(t, "OutOfSync at the failing commit", func() bool { return strings.Contains(f.host().Target, bad) })
	rec, err := f.a.Sync(context.Background(), SyncRequest{By: "ops"})
	if err != nil || rec.Result != store.ResultFailed {
		t.Fatalf("failing sync: %v %+v", err, rec)
	}
	var failed *Notice
	eventually(t, "the sync-failed notice", func() bool { failed = find(hook.notices(t), NotifySyncFailed); return failed != nil })
	s := failed.Sync
	if s == nil || s.ID != rec.ID || s.Result != store.ResultFailed || s.Hash != bad || s.By != "ops" || s.Message != "a failing exec" ||
		len(s.Hosts) != 1 || s.Hosts[0].Result != store.ResultFailed {
		t.Fatalf("sync-failed notice: %+v", failed)
	}
	boom := false
	for _, r := range s.Hosts[0].Resources {
		if r.Status == "unchanged" {
			t.Errorf("an unchanged resource is in the notice: %+v", r)
		}
		boom = boom || (r.Address == "exec[boom]" && r.Status == "failed" && r.Error != "")
	}
	if !boom || !strings.Contains(failed.Text, fmt.Sprintf("Sync %d of main@sha1:%s failed on h1", rec.ID, bad)) ||
		!strings.Contains(failed.Text, "exec[boom]") {
		t.Fatalf("sync-failed notice: %+v\n%s", s.Hosts[0].Resources, failed.Text)
	}
	// The json receiver asked for drift and failed syncs only.
	for _, n := range hook.notices(t) {
		if n.Event != NotifyDrift && n.Event != NotifySyncFailed {
			t.Fatalf("the json receiver got a %s notice", n.Event)
		}
	}

	// The slack receiver got the same in Slack's format: only text.
	var texts []string
	eventually(t, "three slack messages", func() bool {
		texts = texts[:0]
		for _, q := range slack.requests() {
			var msg map[string]any
			if err := json.Unmarshal(q.body, &msg); err != nil || len(msg) != 1 {
				t.Fatalf("slack message: %v %s", err, q.body)
			}
			text, _ := msg["text"].(string)
			texts = append(texts, text)
		}
		return len(texts) >= 3
	})
	all := strings.Join(texts, "\n---\n")
	t.Logf("slack messages:\n%s", all)
	for _, want := range []string{
		fmt.Sprintf("tend: Sync %d of %s succeeded on h1 (manual by ops)", ok.ID, ok.Revision),
		"tend: Drift on h1 at " + ok.Revision,
		"file[a]: mode: 0600 -> 0644",
		fmt.Sprintf("tend: Sync %d of %s failed on h1", rec.ID, rec.Revision),
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the slack messages lack %q:\n%s", want, all)
		}
	}
}

// TestNotifierRetries: a receiver that keeps failing gets 1 + retries
// attempts; a 4xx is not retried; a source outage is notified once, and
// its end once.
func TestNotifierRetries(t *testing.T) {
	down := newReceiver(t, 500, 502, 503, 500, 500)
	gone := newReceiver(t, http.StatusNotFound)
	src := newReceiver(t)
	cfg := &Config{Notifications: []Notification{
		{Name: "down", URL: down.srv.URL, Format: FormatJSON, Events: []string{NotifySyncSucceeded}, Retries: 2, Backoff: 10 * time.Millisecond, Timeout: time.Second},
		{Name: "gone", URL: gone.srv.URL, Format: FormatJSON, Events: []string{NotifySyncSucceeded}, Retries: 2, Backoff: 10 * time.Millisecond, Timeout: time.Second},
		{Name: "src", URL: src.srv.URL, Format: FormatJSON, Events: []string{NotifySourceUnreachable, NotifySourceRecovered}, Retries: 2, Backoff: 10 * time.Millisecond, Timeout: time.Second},
	}}
	cfg.Source.URL = "https://user:pass@git.example.com/infra.git"
	n := newNotifier(cfg, zaptest.NewLogger(t, zaptest.Level(testLogLevel)))
	ctx, cancel := context.WithCancel(context.Background())
	n.start(ctx)
	t.Cleanup(func() { cancel(); n.wait() })

	now := time.Now()
	n.consume(Event{Type: EventSyncFinished, Time: now, Sync: &store.Sync{ID: 7, Revision: "main@sha1:abc", Result: store.ResultSucceeded,
		Trigger: store.TriggerAuto, Hosts: []store.HostResult{{Name: "h1", Result: store.ResultSucceeded}}}})
	for range 3 {
		n.consume(Event{Type: EventSourceError, Time: now, Error: "source unreachable since ...: connection refused"})
	}
	n.consume(Event{Type: EventSourceOK, Time: now, Revision: "main@sha1:def"})
	n.consume(Event{Type: EventSourceOK, Time: now, Revision: "main@sha1:def"})
	n.drain(10 * time.Second)

	if got := len(down.requests()); got != 3 {
		t.Errorf("a failing receiver with retries = 2 got %d attempts, want 3", got)
	}
	if got := len(gone.requests()); got != 1 {
		t.Errorf("a 404 was tried %d times, want once", got)
	}
	ns := src.notices(t)
	if len(ns) != 2 || ns[0].Event != NotifySourceUnreachable || ns[1].Event != NotifySourceRecovered ||
		ns[1].Revision != "main@sha1:def" || !strings.Contains(ns[0].Error, "connection refused") {
		t.Fatalf("source notices: %+v", ns)
	}
	for _, q := range src.requests() {
		if strings.Contains(string(q.body), "pass") {
			t.Fatalf("a notice holds the source's password: %s", q.body)
		}
	}
}

// TestNotificationConfig: notification blocks and metrics_require_token
// decode with their defaults, and each mistake is reported at its
// attribute without quoting the URL.
func TestNotificationConfig(t *testing.T) {
	src := `
source {
  url = "file:///srv/git/infra.git"
}
inventory             = "inventory"
metrics_require_token = true
notification "ops" {
  url     = "https://hooks.example.com/services/T0/B0/xyz"
  format  = "slack"
  events  = ["sync-failed", "drift"]
  retries = 2
  backoff = "2s"
  timeout = "3s"
}
notification "audit" {
  url     = "http://127.0.0.1:9000/tend"
  secret  = "hmac"
  headers = { Authorization = "Bearer t" }
}
`
	c, _, diags := ParseConfig([]byte(src), "agent.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if !c.MetricsRequireToken || len(c.Notifications) != 2 {
		t.Fatalf("config: %+v", c)
	}
	ops, audit := c.Notifications[0], c.Notifications[1]
	if ops.Name != "ops" || ops.Format != FormatSlack || strings.Join(ops.Events, ",") != "sync-failed,drift" ||
		ops.Retries != 2 || ops.Backoff != 2*time.Second || ops.Timeout != 3*time.Second {
		t.Fatalf("notification ops: %+v", ops)
	}
	if audit.Format != FormatJSON || len(audit.Events) != 0 || audit.Retries != 5 || audit.Backoff != time.Second ||
		audit.Timeout != 10*time.Second || audit.Secret != "hmac" || audit.Headers["Authorization"] != "Bearer t" {
		t.Fatalf("notification audit: %+v", audit)
	}

	bad := `
source {
  url = "file:///srv/git/infra.git"
}
inventory = "inventory"
notification "a" {
  url     = "ftp://user:hunter2@example.com/"
  format  = "xml"
  events  = ["sync-failed", "explosion"]
  retries = 99
}
notification "a" {
  url = "https://example.com/"
}
`
	_, _, diags = ParseConfig([]byte(bad), "agent.hcl")
	var lines []string
	for _, d := range diags {
		lines = append(lines, fmt.Sprintf("%s: %s; %s", d.Subject, d.Summary, d.Detail))
	}
	text := strings.Join(lines, "\n")
	for _, want := range []string{"agent.hcl:7,", "Invalid notification url", "agent.hcl:8,", "Invalid notification format",
		"agent.hcl:9,", `"explosion" is not an event`, "agent.hcl:10,", "Invalid retries", "Duplicate notification"} {
		if !strings.Contains(text, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "hunter2") {
		t.Errorf("diagnostics quote the url's password:\n%s", text)
	}
}
