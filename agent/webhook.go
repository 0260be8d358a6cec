package agent

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/tendhq/tend/agent/store"
)

// errEOF is an empty request body, which JSON endpoints accept.
var errEOF = io.EOF

// webhook verifies a push notification and has the loop fetch at once.
// GitHub signs with X-Hub-Signature-256 (sha256=HMAC of the body), Gitea
// with X-Gitea-Signature (hex HMAC-SHA256), GitLab sends the secret itself
// in X-Gitlab-Token. A push to another branch than the one followed is
// acknowledged and ignored.
func (a *Agent) webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 5<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, ErrorReply{Error: "read body: " + err.Error()})
		return
	}
	provider, ok := a.verifyWebhook(r.Header, body)
	if !ok {
		a.log.Warn("webhook refused", zap.String("remote", r.RemoteAddr), zap.String("provider", provider))
		writeJSON(w, http.StatusUnauthorized, ErrorReply{Error: "invalid webhook signature"})
		return
	}
	// Every provider's push payload names the ref as "ref".
	var push struct {
		Ref string `json:"ref"`
	}
	_ = json.Unmarshal(body, &push)
	if ref := a.cfg.Source.Ref; push.Ref != "" && ref != "" && push.Ref != ref && push.Ref != "refs/heads/"+ref && push.Ref != "refs/tags/"+ref {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ignored", "reason": "push to " + push.Ref})
		return
	}
	a.log.Info("webhook", zap.String("provider", provider), zap.String("ref", push.Ref))
	a.Trigger(store.TriggerWebhook)
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "fetching"})
}

// verifyWebhook checks the provider's signature against the secret.
func (a *Agent) verifyWebhook(h http.Header, body []byte) (string, bool) {
	secret := a.cfg.WebhookSecret
	if secret == "" {
		return "none", false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	sum := mac.Sum(nil)
	if sig := h.Get("X-Hub-Signature-256"); sig != "" {
		got, err := hex.DecodeString(strings.TrimPrefix(sig, "sha256="))
		return "github", err == nil && strings.HasPrefix(sig, "sha256=") && hmac.Equal(got, sum)
	}
	if sig := h.Get("X-Gitea-Signature"); sig != "" {
		got, err := hex.DecodeString(sig)
		return "gitea", err == nil && hmac.Equal(got, sum)
	}
	if tok := h.Get("X-Gitlab-Token"); tok != "" {
		return "gitlab", subtle.ConstantTimeCompare([]byte(tok), []byte(secret)) == 1
	}
	return "none", false
}
