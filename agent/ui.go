package agent

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/tendhq/tend/agent/store"
)

// The web UI: plain HTML, CSS and JavaScript under ui/, embedded in the
// binary (no build step, nothing fetched from elsewhere), served at / by
// the agent's listener. The page talks to the same API as the CLI, logged
// in with a session cookie (session.go), and follows the agent's events
// (events.go) through GET /api/v1/events, as server-sent events.

//go:embed ui
var uiFiles embed.FS

// uiFS is the ui directory itself.
var uiFS = func() fs.FS {
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err) // the directory is embedded above: it exists
	}
	return sub
}()

// contentSecurityPolicy lets the page load its own scripts, styles and
// API, and nothing else: no inline script, no other origin, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// keepAlive is how often an idle event stream gets a comment line, so that
// proxies do not cut it.
const keepAlive = 15 * time.Second

// uiRoutes adds the web UI and its endpoints to mux:
//
//	GET  /                      the page (ui/index.html)
//	GET  /ui/...                its scripts and styles
//	POST /api/v1/login          LoginRequest -> SessionReply and the cookie
//	POST /api/v1/logout         ends the session
//	GET  /api/v1/session        SessionReply: who the request is
//	GET  /api/v1/hosts/{name}   HostView
//	GET  /api/v1/events         text/event-stream of EventReply
func (a *Agent) uiRoutes(mux *http.ServeMux) {
	static := http.FileServerFS(uiFS)
	mux.Handle("GET /{$}", uiHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, uiFS, "index.html")
	})))
	mux.Handle("GET /ui/", uiHeaders(http.StripPrefix("/ui", static)))
	mux.HandleFunc("POST /api/v1/login", a.login)
	mux.HandleFunc("POST /api/v1/logout", a.logout)
	mux.Handle("GET /api/v1/session", a.auth(a.whoami))
	mux.Handle("GET /api/v1/hosts/{name}", a.auth(a.hostView))
	mux.Handle("GET /api/v1/events", a.auth(a.eventStream))
}

// uiHeaders adds the security headers of the page and its assets, and has
// browsers revalidate them, so that a new agent's UI is seen at once.
func uiHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// EventReply is one server-sent event of GET /api/v1/events: the SSE
// event name is Type and its data this object as JSON.
type EventReply struct {
	Type     string       `json:"type"`
	Time     time.Time    `json:"time"`
	Sync     *store.Sync  `json:"sync,omitempty"`
	Drift    *store.Drift `json:"drift,omitempty"`
	Revision string       `json:"revision,omitempty"`
	Error    string       `json:"error,omitempty"`
}

// eventStream is GET /api/v1/events: the agent's events as server-sent events,
// from the moment of the request until the client goes away or the agent
// shuts down. The stream opens with a "ready" event, after which the
// client reads the state it shows: nothing published after that is
// missed.
func (a *Agent) eventStream(w http.ResponseWriter, r *http.Request, by string) {
	rc := http.NewResponseController(w)
	ch, unsubscribe := a.Subscribe()
	defer unsubscribe()
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	// The stream outlives any write deadline of the server.
	_ = rc.SetWriteDeadline(time.Time{})
	send := func(name string, v any) bool {
		data, err := json.Marshal(v)
		if err != nil {
			a.log.Error("encode event", zap.String("event", name), zap.Error(err))
			return true
		}
		if _, err := w.Write([]byte("event: " + name + "\ndata: " + string(data) + "\n\n")); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if _, err := w.Write([]byte("retry: 2000\n\n")); err != nil {
		return
	}
	if !send("ready", EventReply{Type: "ready", Time: a.now()}) {
		return
	}
	a.log.Debug("event stream opened", zap.String("by", by), zap.String("remote", r.RemoteAddr))
	ping := time.NewTicker(keepAlive)
	defer ping.Stop()
	// Shutdown waits for open requests: a stream ends once the agent
	// begins to stop, checked twice a second.
	closing := time.NewTicker(500 * time.Millisecond)
	defer closing.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-closing.C:
			if a.isClosing() {
				return
			}
		case <-ping.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		case e, ok := <-ch:
			if !ok {
				return
			}
			ev := EventReply{Type: e.Type, Time: e.Time, Sync: e.Sync, Drift: e.Drift, Revision: e.Revision, Error: e.Error}
			if !send(e.Type, ev) {
				return
			}
		}
	}
}
