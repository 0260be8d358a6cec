package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/agent/store"
)

// login logs in with a token's secret through POST /api/v1/login and
// returns the session cookie and the CSRF value.
func login(t *testing.T, srv *httptest.Server, secret string) (*http.Cookie, string) {
	t.Helper()
	resp, err := srv.Client().Post(srv.URL+"/api/v1/login", "application/json", strings.NewReader(fmt.Sprintf(`{"token":%q}`, secret)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var reply SessionReply
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&reply) != nil || reply.CSRF == "" {
		t.Fatalf("login: %s %+v", resp.Status, reply)
	}
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			return c, reply.CSRF
		}
	}
	t.Fatalf("login set no %s cookie: %v", SessionCookie, resp.Header.Values("Set-Cookie"))
	return nil, ""
}

// cookieCall is call with the session cookie and, when csrf is not "",
// the CSRF header.
func cookieCall(t *testing.T, srv *httptest.Server, method, path string, c *http.Cookie, csrf, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if c != nil {
		req.AddCookie(c)
	}
	if csrf != "" {
		req.Header.Set(CSRFHeader, csrf)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestUILogin: a login sets an HttpOnly, SameSite=Strict cookie that is
// not the token; the cookie reads the API; a change needs the CSRF header;
// a read-only login gets 403 on every change; logout ends the session; a
// wrong token is 401 and is not logged.
func TestUILogin(t *testing.T) {
	f := newFixture(t, nil)
	f.start()
	srv := httptest.NewServer(f.a.Handler())
	t.Cleanup(srv.Close)
	eventually(t, "OutOfSync", func() bool { return f.host().Status == StatusOutOfSync })

	if code, _ := call(t, srv, "POST", "/api/v1/login", "", `{"token":"nope-nope"}`, nil); code != 401 {
		t.Fatalf("login with a wrong token: %d", code)
	}
	resp, err := srv.Client().Post(srv.URL+"/api/v1/login", "application/json", strings.NewReader(`{"token":"viewer-secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	raw := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
	for _, want := range []string{SessionCookie + "=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(raw, want) {
			t.Fatalf("session cookie lacks %q: %s", want, raw)
		}
	}
	if strings.Contains(raw, "viewer-secret") {
		t.Fatalf("the cookie holds the token: %s", raw)
	}

	viewer, vcsrf := login(t, srv, "viewer-secret")
	if code, body := cookieCall(t, srv, "GET", "/api/v1/status", viewer, "", ""); code != 200 || !strings.Contains(body, `"h1"`) {
		t.Fatalf("status with the session: %d %s", code, body)
	}
	code, body := cookieCall(t, srv, "GET", "/api/v1/session", viewer, "", "")
	var who SessionReply
	if code != 200 || json.Unmarshal([]byte(body), &who) != nil || who.Name != "viewer" || !who.ReadOnly || who.CSRF != vcsrf {
		t.Fatalf("session: %d %s", code, body)
	}
	for _, p := range []string{"/api/v1/sync", "/api/v1/rollback", "/api/v1/pause", "/api/v1/resume"} {
		if code, body := cookieCall(t, srv, "POST", p, viewer, vcsrf, "{}"); code != 403 || !strings.Contains(body, "read-only") {
			t.Fatalf("POST %s with a read-only session: %d %s", p, code, body)
		}
	}

	ops, ocsrf := login(t, srv, "ops-secret")
	if code, body := cookieCall(t, srv, "POST", "/api/v1/sync", ops, "", `{}`); code != 403 || !strings.Contains(body, CSRFHeader) {
		t.Fatalf("sync with the session but no CSRF header: %d %s", code, body)
	}
	if code, _ := cookieCall(t, srv, "POST", "/api/v1/sync", ops, "wrong", `{}`); code != 403 {
		t.Fatalf("sync with a wrong CSRF header: %d", code)
	}
	if f.content() != "<open "+filepath.Join(f.root, "a")+": no such file or directory>" {
		t.Fatalf("a refused sync changed the host: %q", f.content())
	}
	code, body = cookieCall(t, srv, "POST", "/api/v1/sync", ops, ocsrf, `{"hosts":["h1"]}`)
	var rec store.Sync
	if code != 200 || json.Unmarshal([]byte(body), &rec) != nil || rec.By != "ops" || rec.Result != store.ResultSucceeded || f.content() != "v1\n" {
		t.Fatalf("sync with the session: %d %s", code, body)
	}

	if code, _ := cookieCall(t, srv, "POST", "/api/v1/logout", ops, "", ""); code != 403 {
		t.Fatalf("logout without the CSRF header: %d", code)
	}
	if code, _ := cookieCall(t, srv, "POST", "/api/v1/logout", ops, ocsrf, ""); code != 200 {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := cookieCall(t, srv, "GET", "/api/v1/status", ops, "", ""); code != 401 {
		t.Fatalf("status after logout: %d", code)
	}
	// A login from another site's page is refused.
	if code, _ := call(t, srv, "POST", "/api/v1/login", "", `{"token":"ops-secret"}`, map[string]string{"Origin": "http://evil.example"}); code != 403 {
		t.Fatalf("login from another origin: %d", code)
	}
	// A form login (no JavaScript) works too.
	code, _ = call(t, srv, "POST", "/api/v1/login", "", "token=ops-secret", map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if code != 200 {
		t.Fatalf("form login: %d", code)
	}
}

// TestUIPage: / serves the page and /ui/ its assets, embedded, with a
// content security policy that allows nothing from elsewhere; unknown API
// paths are not the page.
func TestUIPage(t *testing.T) {
	f := newFixture(t, nil)
	srv := httptest.NewServer(f.a.Handler())
	t.Cleanup(srv.Close)
	for path, want := range map[string]string{
		"/":             `<script src="/ui/app.js" defer></script>`,
		"/ui/app.js":    "EventSource",
		"/ui/style.css": ":focus-visible",
	} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Fatalf("GET %s: %s, lacks %q", path, resp.Status, want)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
			t.Fatalf("GET %s: CSP %q", path, csp)
		}
	}
	if code, _ := call(t, srv, "GET", "/api/v1/nope", "ops-secret", "", nil); code != 404 {
		t.Fatalf("GET /api/v1/nope: %d", code)
	}
	// Nothing in the page loads from another origin.
	for _, name := range []string{"index.html", "app.js", "style.css"} {
		b, err := os.ReadFile(filepath.Join("ui", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"http://", "https://", "//cdn"} {
			if strings.Contains(strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", ""), bad) {
				t.Fatalf("ui/%s refers to %q", name, bad)
			}
		}
	}
}

// sseReader reads server-sent events from a response body.
type sseReader struct{ r *bufio.Reader }

// next returns the next event's name and data, skipping comments and
// retry lines.
func (s *sseReader) next() (string, string, error) {
	var name, data string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && name != "":
			return name, data, nil
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

// openEvents opens GET /api/v1/events with req's credentials and reads
// up to the ready event.
func openEvents(t *testing.T, srv *httptest.Server, ctx context.Context, auth func(*http.Request)) (*http.Response, *sseReader) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/events", nil)
	auth(req)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	sr := &sseReader{r: bufio.NewReader(resp.Body)}
	if name, _, err := sr.next(); err != nil || name != "ready" {
		t.Fatalf("first event: %q %v", name, err)
	}
	return resp, sr
}

// TestUIEvents: the event stream needs a token or a session, sends every
// event published after it opened, in order and as JSON, and ends when
// the agent shuts down.
func TestUIEvents(t *testing.T) {
	f := newFixture(t, nil)
	srv := httptest.NewServer(f.a.Handler())
	t.Cleanup(srv.Close)
	if code, _ := call(t, srv, "GET", "/api/v1/events", "", "", nil); code != 401 {
		t.Fatalf("events without a token: %d", code)
	}
	viewer, _ := login(t, srv, "viewer-secret")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, byCookie := openEvents(t, srv, ctx, func(r *http.Request) { r.AddCookie(viewer) })
	_, byToken := openEvents(t, srv, ctx, func(r *http.Request) { r.Header.Set("Authorization", "Bearer ops-secret") })

	f.a.publish(Event{Type: EventSyncStarted, Sync: &store.Sync{ID: 7, Revision: "main@sha1:abc", Hosts: []store.HostResult{{Name: "h1", Result: store.ResultRunning}}}})
	f.a.publish(Event{Type: EventDrift, Drift: &store.Drift{ID: 3, Host: "h1", Resources: []store.DriftedResource{{Address: "file[a]", Summary: "mode: 0644 -> 0600"}}}})
	f.a.publish(Event{Type: EventSourceError, Error: "source unreachable"})
	for _, sr := range []*sseReader{byCookie, byToken} {
		var got []string
		for range 3 {
			name, data, err := sr.next()
			if err != nil {
				t.Fatal(err)
			}
			var ev EventReply
			if err := json.Unmarshal([]byte(data), &ev); err != nil || ev.Type != name || ev.Time.IsZero() {
				t.Fatalf("event %s: %v %s", name, err, data)
			}
			switch name {
			case EventSyncStarted:
				if ev.Sync == nil || ev.Sync.ID != 7 || ev.Sync.Hosts[0].Name != "h1" {
					t.Fatalf("sync-started: %s", data)
				}
			case EventDrift:
				if ev.Drift == nil || ev.Drift.Resources[0].Summary != "mode: 0644 -> 0600" {
					t.Fatalf("drift: %s", data)
				}
			case EventSourceError:
				if ev.Error != "source unreachable" {
					t.Fatalf("source-error: %s", data)
				}
			}
			got = append(got, name)
		}
		if strings.Join(got, ",") != "sync-started,drift,source-error" {
			t.Fatalf("events out of order: %v", got)
		}
	}
	// Shutdown ends the streams (the server's Shutdown would wait for them).
	f.start()
	f.stop()
	done := make(chan error, 1)
	go func() {
		for {
			if _, _, err := byCookie.next(); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream did not end when the agent stopped")
	}
}

// viewSpec is a spec with dependencies of every kind the view draws: a
// file inside a directory (path), one with depends_on, and an exec that a
// file notifies.
func viewSpec(root, content string) string {
	return fmt.Sprintf(`role "web" {
  hosts = ["*"]
  directory "d" {
    path = "%[1]s/d"
    mode = "0755"
  }
  file "a" {
    path    = "%[1]s/d/a"
    content = %[2]q
    mode    = "0644"
    notify  = [exec["reload"]]
  }
  file "secret" {
    path      = "%[1]s/d/secret"
    content   = "hunter2-secret\n"
    mode      = "0600"
    sensitive = true
  }
  file "b" {
    path       = "%[1]s/b"
    content    = "b\n"
    mode       = "0644"
    depends_on = [file["a"]]
  }
  exec "reload" {
    command      = ["true"]
    refresh_only = true
  }
}
`, root, content)
}

// TestUIHostView: GET /api/v1/hosts/{name} returns the host's graph with
// its edges by kind and depth, the statuses of the last run, and after a
// drift the file's unified diff; sensitive content never appears.
func TestUIHostView(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.DriftInterval = time.Hour })
	f.commit("specs/main.hcl", viewSpec(f.root, "one\ntwo\nthree\n"), "view spec")
	f.start()
	srv := httptest.NewServer(f.a.Handler())
	t.Cleanup(srv.Close)
	eventually(t, "OutOfSync", func() bool { return f.host().Status == StatusOutOfSync })
	view := func() HostView {
		t.Helper()
		code, body := call(t, srv, "GET", "/api/v1/hosts/h1", "viewer-secret", "", nil)
		var hv HostView
		if code != 200 || json.Unmarshal([]byte(body), &hv) != nil {
			t.Fatalf("host view: %d %s", code, body)
		}
		if strings.Contains(body, "hunter2") {
			t.Fatalf("the host view shows a sensitive value: %s", body)
		}
		return hv
	}
	hv := view()
	nodes := map[string]ViewNode{}
	for _, n := range hv.Nodes {
		nodes[n.ID] = n
	}
	if len(nodes) != 5 || hv.Mode != "plan" || hv.Host.Name != "h1" || hv.Host.Status != StatusOutOfSync {
		t.Fatalf("view: %+v", hv)
	}
	if n := nodes["file[a]"]; n.Status != "planned" || n.Change == nil || n.Change.Action != "create" || n.Depth != 1 || n.Kind != "file" || n.Role != "web" {
		t.Fatalf("file[a]: %+v", n)
	}
	if n := nodes["file[b]"]; n.Depth != 2 {
		t.Fatalf("file[b] depth %d", n.Depth)
	}
	edges := map[string]string{}
	for _, e := range hv.Edges {
		edges[e.From+"->"+e.To] = e.Kind
	}
	for k, want := range map[string]string{
		"directory[d]->file[a]":      "path",
		"directory[d]->file[secret]": "path",
		"file[a]->file[b]":           "depends_on",
		"file[a]->exec[reload]":      "notify",
	} {
		if edges[k] != want {
			t.Fatalf("edge %s: %q, want %q (edges %v)", k, edges[k], want, edges)
		}
	}
	if code, _ := call(t, srv, "GET", "/api/v1/hosts/nope", "viewer-secret", "", nil); code != 404 {
		t.Fatalf("an unknown host: %d", code)
	}
	if code, _ := call(t, srv, "GET", "/api/v1/hosts/h1", "", "", nil); code != 401 {
		t.Fatalf("the host view without a token: %d", code)
	}

	if _, err := f.a.Sync(context.Background(), SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	hv = view()
	for _, n := range hv.Nodes {
		if n.Status != "applied" {
			t.Fatalf("after the sync %s is %s", n.ID, n.Status)
		}
	}
	if hv.Mode != "apply" {
		t.Fatalf("mode after the sync: %s", hv.Mode)
	}

	// Drift: the file is edited on the host; the drift check's plan shows
	// its diff, and the secret's change shows nothing of it.
	if err := os.WriteFile(filepath.Join(f.root, "d", "a"), []byte("one\nTWO\nthree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.root, "d", "secret"), []byte("hunter2-changed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.a.driftStep(context.Background())
	hv = view()
	for _, n := range hv.Nodes {
		switch n.ID {
		case "file[a]":
			d := n.Change.Content
			if n.Status != "planned" || d == nil || d.Diff == nil || !strings.Contains(*d.Diff, "-TWO\n+two\n") {
				t.Fatalf("drifted file: %+v %+v", n, d)
			}
		case "file[secret]":
			if n.Status != "planned" || n.Change.Content == nil || !n.Change.Content.Sensitive || n.Change.Content.Diff != nil {
				t.Fatalf("drifted secret: %+v", n.Change)
			}
		case "exec[reload]":
			// file[a] would change: it notifies the exec.
			if n.Status != "planned" || !strings.Contains(n.Change.Reason, "file[a]") {
				t.Fatalf("notified exec: %+v", n.Change)
			}
		default:
			if n.Status != "unchanged" {
				t.Fatalf("%s after the drift check: %s", n.ID, n.Status)
			}
		}
	}
}
