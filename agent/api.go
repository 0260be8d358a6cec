package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/tendhq/tend/agent/store"
)

// HistoryReply is the reply of GET /api/v1/history: the newest entries first.
type HistoryReply struct {
	Syncs  []*store.Sync  `json:"syncs"`
	Drifts []*store.Drift `json:"drifts"`
}

// ErrorReply is the body of every API error.
type ErrorReply struct {
	Error string `json:"error"`
}

// RollbackRequest is the body of POST /api/v1/rollback.
type RollbackRequest struct {
	ID uint64 `json:"id"`
}

// PauseRequest is the body of POST /api/v1/pause and /resume; an empty role
// pauses or resumes every host.
type PauseRequest struct {
	Role string `json:"role"`
}

// Handler returns the HTTP API:
//
//	GET  /api/v1/healthz              no token
//	GET  /api/v1/status               Status
//	GET  /api/v1/hosts                []HostStatus
//	GET  /api/v1/history?limit=N      HistoryReply
//	POST /api/v1/sync                 SyncRequest -> store.Sync
//	POST /api/v1/rollback             RollbackRequest -> store.Sync
//	POST /api/v1/pause, /resume       PauseRequest -> Status
//	POST /api/v1/webhook              a Git push (GitHub, Gitea, GitLab)
//	GET  /metrics                     Prometheus metrics (metrics.go); no
//	                                  token unless metrics_require_token
//
// and the web UI's (ui.go): GET /, /ui/..., /api/v1/hosts/{name},
// /api/v1/events, /api/v1/session; POST /api/v1/login, /logout.
//
// Every endpoint but healthz and webhook needs "Authorization: Bearer
// SECRET" of a configured token (or the UI's session cookie); read-only
// tokens may only GET.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("POST /api/v1/webhook", a.webhook)
	mux.Handle("GET /metrics", a.metricsHandler())
	mux.Handle("GET /api/v1/status", a.auth(func(w http.ResponseWriter, r *http.Request, _ string) {
		writeJSON(w, http.StatusOK, a.Status())
	}))
	mux.Handle("GET /api/v1/hosts", a.auth(func(w http.ResponseWriter, r *http.Request, _ string) {
		writeJSON(w, http.StatusOK, a.Status().Hosts)
	}))
	mux.Handle("GET /api/v1/history", a.auth(a.history))
	mux.Handle("POST /api/v1/sync", a.auth(func(w http.ResponseWriter, r *http.Request, by string) {
		var req SyncRequest
		if !readJSON(w, r, &req) {
			return
		}
		req.By = by
		rec, err := a.Sync(detach(r.Context()), req)
		a.reply(w, rec, err)
	}))
	mux.Handle("POST /api/v1/rollback", a.auth(func(w http.ResponseWriter, r *http.Request, by string) {
		var req RollbackRequest
		if !readJSON(w, r, &req) {
			return
		}
		if req.ID == 0 {
			writeJSON(w, http.StatusBadRequest, ErrorReply{Error: "rollback needs the id of a history entry"})
			return
		}
		rec, err := a.Rollback(detach(r.Context()), req.ID, by)
		a.reply(w, rec, err)
	}))
	a.uiRoutes(mux)
	for _, op := range []string{"pause", "resume"} {
		mux.Handle("POST /api/v1/"+op, a.auth(func(w http.ResponseWriter, r *http.Request, by string) {
			var req PauseRequest
			if !readJSON(w, r, &req) {
				return
			}
			f := a.Pause
			if op == "resume" {
				f = a.Resume
			}
			if err := f(req.Role); err != nil {
				writeJSON(w, http.StatusInternalServerError, ErrorReply{Error: err.Error()})
				return
			}
			a.log.Info("auto-sync "+op, zap.String("role", req.Role), zap.String("by", by))
			writeJSON(w, http.StatusOK, a.Status())
		}))
	}
	return mux
}

// detach keeps a request's values but not its cancellation: a sync goes on
// when the client goes away.
func detach(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// reply writes a sync's record, or its error with a status code: 400 for
// what the caller can fix (a bad selection, invalid specs), 503 during
// shutdown, 500 otherwise.
func (a *Agent) reply(w http.ResponseWriter, rec *store.Sync, err error) {
	switch {
	case errors.Is(err, ErrShuttingDown):
		writeJSON(w, http.StatusServiceUnavailable, ErrorReply{Error: err.Error()})
	case err != nil && rec == nil:
		var se *SpecError
		code := http.StatusBadRequest
		if !errors.As(err, &se) && !strings.HasPrefix(err.Error(), "select ") && !strings.HasPrefix(err.Error(), "roll back") {
			code = http.StatusInternalServerError
		}
		writeJSON(w, code, ErrorReply{Error: err.Error()})
	default:
		if err != nil {
			a.log.Error("sync", zap.Error(err))
		}
		writeJSON(w, http.StatusOK, rec)
	}
}

// history is GET /api/v1/history?limit=N (default 20).
func (a *Agent) history(w http.ResponseWriter, r *http.Request, _ string) {
	limit := 20
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			writeJSON(w, http.StatusBadRequest, ErrorReply{Error: fmt.Sprintf("limit must be a positive number, not %q", s)})
			return
		}
		limit = n
	}
	syncs, err := a.hist.Syncs(limit)
	if err == nil {
		var drifts []*store.Drift
		drifts, err = a.hist.Drifts(limit)
		if err == nil {
			writeJSON(w, http.StatusOK, HistoryReply{Syncs: syncs, Drifts: drifts})
			return
		}
	}
	writeJSON(w, http.StatusInternalServerError, ErrorReply{Error: err.Error()})
}

// auth checks the request's token (a bearer token, or the web UI's
// session cookie: session.go) and hands the handler the token's name.
// Read-only tokens may only GET: anything else is 403.
func (a *Agent) auth(h func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _, ae := a.authenticate(r)
		if ae != nil {
			if ae.code == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="tend"`)
			}
			writeJSON(w, ae.code, ErrorReply{Error: ae.msg})
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && tok.ReadOnly {
			writeJSON(w, http.StatusForbidden, ErrorReply{Error: fmt.Sprintf("token %s is read-only", tok.Name)})
			return
		}
		h(w, r, tok.Name)
	})
}

// readJSON decodes a request body of at most 1 MiB into v; an empty body
// leaves v as it is. It answers 400 itself and returns false on errors.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, errEOF) {
		writeJSON(w, http.StatusBadRequest, ErrorReply{Error: "invalid request body: " + err.Error()})
		return false
	}
	return true
}

// writeJSON writes v as indented JSON with the status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
