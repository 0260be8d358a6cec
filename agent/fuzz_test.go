package agent

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/tendhq/tend/agent/store"
	"github.com/tendhq/tend/engine/source"
)

// fuzzSecret is the webhook secret of the fuzzed agent.
const fuzzSecret = "fuzz-hook-secret"

// FuzzWebhook feeds arbitrary deliveries to the webhook endpoint: a body,
// a signature header chosen by mode and its value, and the ref the agent
// follows. Taken modulo 7, modes 0-2 sign the body correctly (GitHub,
// Gitea, GitLab), 3-5 send value as the signature of the same providers,
// and 6 sends no signature header at all. The handler must not panic, must answer
// JSON, must accept a delivery only when its signature is right (checked
// here independently), must trigger a fetch exactly when it answers 202
// (a push to the followed ref, or to no ref), and must never echo the
// secret. The seed corpus (testdata/fuzz/FuzzWebhook) holds push payloads
// of the three providers.
func FuzzWebhook(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, mode byte, value, ref string) {
		mac := hmac.New(sha256.New, []byte(fuzzSecret))
		mac.Write(body)
		sum := mac.Sum(nil)
		h := http.Header{}
		valid := false
		switch mode % 7 {
		case 0:
			h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(sum))
			valid = true
		case 1:
			h.Set("X-Gitea-Signature", hex.EncodeToString(sum))
			valid = true
		case 2:
			h.Set("X-Gitlab-Token", fuzzSecret)
			valid = true
		case 3:
			h.Set("X-Hub-Signature-256", value)
			got, err := hex.DecodeString(strings.TrimPrefix(value, "sha256="))
			valid = strings.HasPrefix(value, "sha256=") && err == nil && bytes.Equal(got, sum)
		case 4:
			h.Set("X-Gitea-Signature", value)
			got, err := hex.DecodeString(value)
			valid = err == nil && bytes.Equal(got, sum)
		case 5:
			h.Set("X-Gitlab-Token", value)
			valid = value == fuzzSecret
		}
		if h.Get("X-Hub-Signature-256") == "" && h.Get("X-Gitea-Signature") == "" && h.Get("X-Gitlab-Token") == "" {
			valid = false // an empty header value is no signature
		}

		a := &Agent{
			cfg:  &Config{WebhookSecret: fuzzSecret, Source: source.Spec{Ref: ref}},
			log:  zap.NewNop(),
			kick: make(chan store.Trigger, 1),
		}
		req := httptest.NewRequest("POST", "/api/v1/webhook", bytes.NewReader(body))
		req.Header = h
		rec := httptest.NewRecorder()
		a.webhook(rec, req)

		var reply map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil {
			t.Fatalf("reply %d is not JSON: %v\n%s", rec.Code, err, rec.Body)
		}
		if strings.Contains(rec.Body.String(), fuzzSecret) {
			t.Fatalf("reply echoes the secret: %s", rec.Body)
		}
		triggered := len(a.kick) == 1
		switch {
		case !valid && rec.Code != http.StatusUnauthorized:
			t.Fatalf("mode %d, value %q: a bad signature got %d %s", mode%7, value, rec.Code, rec.Body)
		case valid && rec.Code != http.StatusAccepted && rec.Code != http.StatusOK:
			t.Fatalf("mode %d: a good signature got %d %s", mode%7, rec.Code, rec.Body)
		case triggered != (rec.Code == http.StatusAccepted):
			t.Fatalf("answered %d but triggered = %v", rec.Code, triggered)
		}
		if triggered && ref != "" {
			// A fetch only for a push to the followed ref, or one whose
			// payload names no ref.
			var push struct {
				Ref string `json:"ref"`
			}
			_ = json.Unmarshal(body, &push)
			if push.Ref != "" && push.Ref != ref && push.Ref != "refs/heads/"+ref && push.Ref != "refs/tags/"+ref {
				t.Fatalf("a push to %q triggered a fetch of %q", push.Ref, ref)
			}
		}
	})
}
