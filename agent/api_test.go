package agent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/agent/store"
)

func call(t *testing.T, srv *httptest.Server, method, path, token, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAgentAPI: tokens are checked (none: 401, read-only: 403 on POST),
// healthz needs none, and sync, history and status work end to end.
func TestAgentAPI(t *testing.T) {
	f := newFixture(t, nil)
	f.start()
	srv := httptest.NewServer(f.a.Handler())
	t.Cleanup(srv.Close)
	eventually(t, "OutOfSync", func() bool { return f.host().Status == StatusOutOfSync })

	if code, _ := call(t, srv, "GET", "/api/v1/healthz", "", "", nil); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	for _, p := range []string{"/api/v1/status", "/api/v1/hosts", "/api/v1/history"} {
		if code, _ := call(t, srv, "GET", p, "", "", nil); code != 401 {
			t.Fatalf("GET %s without a token: %d", p, code)
		}
		if code, _ := call(t, srv, "GET", p, "wrong-secret", "", nil); code != 401 {
			t.Fatalf("GET %s with a wrong token: %d", p, code)
		}
		if code, body := call(t, srv, "GET", p, "viewer-secret", "", nil); code != 200 {
			t.Fatalf("GET %s read-only: %d %s", p, code, body)
		}
	}
	for _, p := range []string{"/api/v1/sync", "/api/v1/rollback", "/api/v1/pause", "/api/v1/resume"} {
		if code, _ := call(t, srv, "POST", p, "viewer-secret", "{}", nil); code != 403 {
			t.Fatalf("POST %s read-only: %d", p, code)
		}
		if code, _ := call(t, srv, "POST", p, "", "{}", nil); code != 401 {
			t.Fatalf("POST %s without a token: %d", p, code)
		}
	}
	code, body := call(t, srv, "POST", "/api/v1/sync", "ops-secret", `{"hosts":["h1"]}`, nil)
	var rec store.Sync
	if code != 200 || json.Unmarshal([]byte(body), &rec) != nil || rec.By != "ops" || rec.Result != store.ResultSucceeded || f.content() != "v1\n" {
		t.Fatalf("sync: %d %s", code, body)
	}
	if code, body := call(t, srv, "POST", "/api/v1/sync", "ops-secret", `{"roles":["nope"]}`, nil); code != 400 {
		t.Fatalf("sync of an unknown role: %d %s", code, body)
	}
	code, body = call(t, srv, "GET", "/api/v1/status", "ops-secret", "", nil)
	var st Status
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil || len(st.Hosts) != 1 || st.Hosts[0].Status != StatusSynced || st.Head == nil || st.Policy != PolicyManual {
		t.Fatalf("status: %d %s", code, body)
	}
	code, body = call(t, srv, "GET", "/api/v1/history?limit=5", "ops-secret", "", nil)
	var h HistoryReply
	if code != 200 || json.Unmarshal([]byte(body), &h) != nil || len(h.Syncs) != 1 || h.Syncs[0].Message != "first" {
		t.Fatalf("history: %d %s", code, body)
	}
	if code, _ := call(t, srv, "GET", "/api/v1/history?limit=x", "ops-secret", "", nil); code != 400 {
		t.Fatalf("history with a bad limit: %d", code)
	}
	if code, body := call(t, srv, "POST", "/api/v1/pause", "ops-secret", `{"role":"web"}`, nil); code != 200 || !strings.Contains(body, `"web"`) {
		t.Fatalf("pause: %d %s", code, body)
	}
}

func sign(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

// TestAgentWebhook: the three providers' signatures are verified; a bad
// one is 401; a good one makes the loop fetch at once; pushes to other
// branches are ignored.
func TestAgentWebhook(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Policy = PolicyAuto
		c.PollInterval = time.Hour // only webhooks fetch after the first poll
	})
	f.start()
	srv := httptest.NewServer(f.a.Handler())
	t.Cleanup(srv.Close)
	eventually(t, "v1 applied", func() bool { return f.content() == "v1\n" && f.host().Status == StatusSynced })

	body := `{"ref":"refs/heads/main"}`
	good := []map[string]string{
		{"X-Hub-Signature-256": "sha256=" + sign("hook-secret", body)},
		{"X-Gitea-Signature": sign("hook-secret", body)},
		{"X-Gitlab-Token": "hook-secret"},
	}
	bad := []map[string]string{
		{"X-Hub-Signature-256": "sha256=" + sign("other", body)},
		{"X-Hub-Signature-256": sign("hook-secret", body)}, // no sha256= prefix
		{"X-Gitea-Signature": sign("other", body)},
		{"X-Gitlab-Token": "other"},
		{},
	}
	for _, h := range bad {
		if code, resp := call(t, srv, "POST", "/api/v1/webhook", "", body, h); code != 401 {
			t.Fatalf("webhook %v: %d %s", h, code, resp)
		}
	}
	other := `{"ref":"refs/heads/feature"}`
	if code, resp := call(t, srv, "POST", "/api/v1/webhook", "", other, map[string]string{"X-Gitlab-Token": "hook-secret"}); code != 200 || !strings.Contains(resp, "ignored") {
		t.Fatalf("webhook for another branch: %d %s", code, resp)
	}
	for i, h := range good {
		want := []string{"v2\n", "v3\n", "v4\n"}[i]
		f.commit("specs/main.hcl", specFile(want), "commit "+want)
		if code, resp := call(t, srv, "POST", "/api/v1/webhook", "", body, h); code != 202 {
			t.Fatalf("webhook %v: %d %s", h, code, resp)
		}
		eventually(t, "webhook sync of "+want, func() bool { return f.content() == want })
	}
	syncs, _ := f.hist.Syncs(1)
	if len(syncs) != 1 || syncs[0].Trigger != store.TriggerWebhook {
		t.Fatalf("last sync: %+v", syncs)
	}
}
