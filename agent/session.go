package agent

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// The web UI's login. EventSource cannot send an Authorization header, and
// a token must never travel in a URL (URLs end up in logs and browser
// history), so the UI logs in once: it POSTs a token to /api/v1/login and
// gets a session cookie (HttpOnly, SameSite=Strict) naming a random session
// that stands for the token. The cookie never holds the token itself.
// Requests authenticated by the cookie that change something must also
// carry the session's CSRF value in the X-Tend-CSRF header, which a page of
// another origin can neither read nor send without CORS, which the API
// never grants.

// SessionCookie is the name of the web UI's session cookie.
const SessionCookie = "tend_session"

// CSRFHeader is the header that requests authenticated by the session
// cookie must carry, with the session's CSRF value, to change anything.
const CSRFHeader = "X-Tend-CSRF"

// SessionTTL is how long a web UI session lasts after login.
const SessionTTL = 12 * time.Hour

// maxSessions bounds the sessions kept; the oldest go first.
const maxSessions = 1000

// LoginRequest is the body of POST /api/v1/login (JSON, or a form with a
// field token).
type LoginRequest struct {
	Token string `json:"token"`
}

// SessionReply says who is logged in: the reply of POST /api/v1/login and
// GET /api/v1/session.
type SessionReply struct {
	// Name is the token's name, ReadOnly whether it may change nothing.
	Name     string `json:"name"`
	ReadOnly bool   `json:"read_only"`
	// CSRF is the value for the X-Tend-CSRF header, set only for a
	// session (cookie) login.
	CSRF    string    `json:"csrf,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
}

// session is one web UI login.
type session struct {
	token   string // the token's name
	csrf    string
	expires time.Time
}

// sessions are the web UI's logins, by session ID. Its zero value is ready.
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}

// create starts a session for the named token and returns its ID.
func (s *sessions) create(token string, now time.Time) (string, *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*session{}
	}
	for id, x := range s.m {
		if now.After(x.expires) {
			delete(s.m, id)
		}
	}
	for len(s.m) >= maxSessions {
		oldest := ""
		for id, x := range s.m {
			if oldest == "" || x.expires.Before(s.m[oldest].expires) {
				oldest = id
			}
		}
		delete(s.m, oldest)
	}
	id := randomHex(32)
	x := &session{token: token, csrf: randomHex(32), expires: now.Add(SessionTTL)}
	s.m[id] = x
	return id, x
}

// get returns the live session with this ID, nil when there is none.
func (s *sessions) get(id string, now time.Time) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.m[id]
	if x == nil || now.After(x.expires) {
		delete(s.m, id)
		return nil
	}
	c := *x
	return &c
}

// drop ends the session with this ID.
func (s *sessions) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// tokenBySecret returns the configured token with this secret, comparing
// every token in constant time; nil when none matches.
func (a *Agent) tokenBySecret(secret string) *Token {
	var tok *Token
	if secret == "" {
		return nil
	}
	for i := range a.cfg.Tokens {
		t := &a.cfg.Tokens[i]
		if subtle.ConstantTimeCompare([]byte(t.Secret), []byte(secret)) == 1 {
			tok = t
		}
	}
	return tok
}

// tokenByName returns the configured token with this name, nil when none.
func (a *Agent) tokenByName(name string) *Token {
	for i := range a.cfg.Tokens {
		if a.cfg.Tokens[i].Name == name {
			return &a.cfg.Tokens[i]
		}
	}
	return nil
}

// authError is why a request is refused: its HTTP status and message.
type authError struct {
	code int
	msg  string
}

// authenticate finds the token of a request: an "Authorization: Bearer"
// header, else the session cookie. A cookie-authenticated request other
// than GET or HEAD must carry the session's CSRF header. It returns the
// token and, for a cookie, the session.
func (a *Agent) authenticate(r *http.Request) (*Token, *session, *authError) {
	if h := r.Header.Get("Authorization"); h != "" {
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if tok := a.tokenBySecret(secret); ok && tok != nil {
			return tok, nil, nil
		}
		return nil, nil, &authError{http.StatusUnauthorized, "a valid API token is needed (Authorization: Bearer TOKEN)"}
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil, &authError{http.StatusUnauthorized, "a valid API token is needed (Authorization: Bearer TOKEN, or log in)"}
	}
	x := a.sessions.get(c.Value, a.now())
	var tok *Token
	if x != nil {
		tok = a.tokenByName(x.token)
	}
	if tok == nil {
		return nil, nil, &authError{http.StatusUnauthorized, "the session has expired: log in again"}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead &&
		(!sameOrigin(r) || subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(x.csrf)) != 1) {
		return nil, nil, &authError{http.StatusForbidden, "a request of a logged-in session needs its " + CSRFHeader + " header"}
	}
	return tok, x, nil
}

// sameOrigin reports whether a browser's request comes from a page of the
// agent itself: its Origin header, when there is one (browsers send it
// with every POST), names the host the request was sent to.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true // not a browser, or a same-origin GET
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// secureCookie reports whether the session cookie must be Secure: the
// request came over TLS, to the agent or to a proxy in front of it.
func secureCookie(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

// login is POST /api/v1/login: it checks the token and starts a session.
// A login from a page of another origin is refused, so that no other site
// can log a browser in with a token of its choosing.
func (a *Agent) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeJSON(w, http.StatusForbidden, ErrorReply{Error: "a login must come from the agent's own page"})
		return
	}
	var req LoginRequest
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			writeJSON(w, http.StatusBadRequest, ErrorReply{Error: "invalid login form: " + err.Error()})
			return
		}
		req.Token = r.PostForm.Get("token")
	} else if !readJSON(w, r, &req) {
		return
	}
	tok := a.tokenBySecret(strings.TrimSpace(req.Token))
	if tok == nil {
		// The secret is never logged, not even in part.
		a.log.Warn("ui login refused", zap.String("remote", r.RemoteAddr))
		writeJSON(w, http.StatusUnauthorized, ErrorReply{Error: "this token is not one of the agent's"})
		return
	}
	id, x := a.sessions.create(tok.Name, a.now())
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: id, Path: "/", Expires: x.expires, MaxAge: int(SessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secureCookie(r),
	})
	a.log.Info("ui login", zap.String("token", tok.Name), zap.Bool("read_only", tok.ReadOnly), zap.String("remote", r.RemoteAddr))
	writeJSON(w, http.StatusOK, SessionReply{Name: tok.Name, ReadOnly: tok.ReadOnly, CSRF: x.csrf, Expires: x.expires})
}

// logout is POST /api/v1/logout: it ends the cookie's session (with its
// CSRF header) and clears the cookie.
func (a *Agent) logout(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(SessionCookie)
	if err == nil {
		if x := a.sessions.get(c.Value, a.now()); x != nil {
			if subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(x.csrf)) != 1 {
				writeJSON(w, http.StatusForbidden, ErrorReply{Error: "logout needs the session's " + CSRFHeader + " header"})
				return
			}
			a.sessions.drop(c.Value)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secureCookie(r)})
	writeJSON(w, http.StatusOK, map[string]string{"status": "logged out"})
}

// whoami is GET /api/v1/session.
func (a *Agent) whoami(w http.ResponseWriter, r *http.Request, name string) {
	tok := a.tokenByName(name)
	if tok == nil {
		writeJSON(w, http.StatusInternalServerError, ErrorReply{Error: fmt.Sprintf("token %s vanished", name)})
		return
	}
	reply := SessionReply{Name: tok.Name, ReadOnly: tok.ReadOnly}
	if _, x, _ := a.authenticate(r); x != nil {
		reply.CSRF, reply.Expires = x.csrf, x.expires
	}
	writeJSON(w, http.StatusOK, reply)
}
