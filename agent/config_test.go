package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@example.com\n"
	if err := os.WriteFile(filepath.Join(dir, "alice.pub"), []byte(key), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `
source {
  url            = "file:///srv/git/infra.git"
  ref            = "main"
  path           = "specs"
  require_signed = true
  trusted_keys   = ["alice.pub"]
}
inventory      = "inventory"
poll_interval  = "30s"
drift_interval = "10m"
sync_policy    = "auto"
self_heal      = true
role "db" {
  sync_policy = "manual"
  self_heal   = false
}
listen = "127.0.0.1:9000"
token "ops" {
  secret = "0123456789"
}
token "viewer" {
  secret    = "abcdefghij"
  read_only = true
}
window {
  schedule = "0 22 * * *"
  duration = "2h"
  kind     = "deny"
}
webhook_secret = "s3cret"
`
	c, _, diags := ParseConfig([]byte(src), filepath.Join(dir, "agent.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if c.Source.URL != "file:///srv/git/infra.git" || !c.Source.RequireSigned || len(c.Source.TrustedSSHKeys) != 1 ||
		c.PollInterval != 30*time.Second || c.DriftInterval != 10*time.Minute || c.Policy != PolicyAuto || !c.SelfHeal ||
		c.Roles["db"].Policy != PolicyManual || *c.Roles["db"].SelfHeal || len(c.Tokens) != 2 || !c.Tokens[1].ReadOnly ||
		len(c.Windows) != 1 || c.Windows[0].Kind != WindowDeny || c.DataDir != "/var/lib/tend-agent" || c.Listen != "127.0.0.1:9000" {
		t.Fatalf("config: %+v", c)
	}

	bad := `source {
  url = "x"
}
inventory     = "i"
poll_interval = "soon"
sync_policy   = "sometimes"
window {
  schedule = "every day"
  duration = "1h"
}
`
	_, _, diags = ParseConfig([]byte(bad), "agent.hcl")
	var parts []string
	for _, d := range diags {
		parts = append(parts, d.Error())
	}
	got := strings.Join(parts, "\n")
	for _, want := range []string{"agent.hcl:5,17", "Invalid duration", "agent.hcl:6,17", "Invalid sync policy", "agent.hcl:8,14", "Invalid schedule"} {
		if !strings.Contains(got, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, got)
		}
	}
}

func TestWindows(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 1, 5, h, m, 0, 0, time.Local) }
	allow, err := NewWindow("0 22 * * *", 2*time.Hour, WindowAllow)
	if err != nil {
		t.Fatal(err)
	}
	deny, _ := NewWindow("30 22 * * *", 10*time.Minute, WindowDeny)
	cases := []struct {
		ws   []Window
		t    time.Time
		want bool
	}{
		{nil, at(12, 0), true},
		{[]Window{allow}, at(12, 0), false},
		{[]Window{allow}, at(22, 0), true},
		{[]Window{allow}, at(23, 59), true},
		{[]Window{allow}, at(0, 0).AddDate(0, 0, 1), false},
		{[]Window{allow, deny}, at(22, 35), false},
		{[]Window{allow, deny}, at(22, 45), true},
		{[]Window{deny}, at(12, 0), true},
	}
	for i, c := range cases {
		if got := Allowed(c.ws, c.t); got != c.want {
			t.Errorf("case %d at %s: Allowed = %v, want %v", i, c.t.Format("15:04"), got, c.want)
		}
	}
}

// TestAgentWindowHoldsAutoSync: outside the allow windows, a new revision
// is planned but not applied; a manual sync overrides the window.
func TestAgentWindowHoldsAutoSync(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Policy = PolicyAuto
		w, err := NewWindow("0 3 1 1 *", time.Minute, WindowAllow) // once a year
		if err != nil {
			t.Fatal(err)
		}
		c.Windows = []Window{w}
	})
	f.start()
	eventually(t, "OutOfSync", func() bool { return f.host().Status == StatusOutOfSync })
	time.Sleep(300 * time.Millisecond)
	if f.content() == "v1\n" || f.a.Status().SyncAllowed {
		t.Fatal("auto-sync ran outside its window")
	}
	if _, err := f.a.Sync(t.Context(), SyncRequest{}); err != nil || f.content() != "v1\n" {
		t.Fatalf("manual sync outside the window: %v %q", err, f.content())
	}
}
