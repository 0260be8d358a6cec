package agent

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/agent/store"
)

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape gets /metrics and parses the text format (no escapes in the
// label values the agent exports, which the parser relies on).
func scrape(t *testing.T, srv *httptest.Server, token string) []sample {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	var out []sample
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		s := sample{name: line[:i], labels: map[string]string{}, value: v}
		if name, rest, ok := strings.Cut(line[:i], "{"); ok {
			s.name = name
			for _, pair := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
				if k, v, ok := strings.Cut(pair, "="); ok {
					s.labels[k] = strings.Trim(v, `"`)
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// value is the value of the series name with these labels (others may be
// present); -1 when there is none.
func value(ss []sample, name string, labels ...string) float64 {
next:
	for _, s := range ss {
		if s.name != name {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if s.labels[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return s.value
	}
	return -1
}

// TestMetrics runs an agent against a host: a manual sync that succeeds,
// a drift, a sync that fails, and a source outage, and checks each series
// scraped from /metrics over HTTP.
func TestMetrics(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.DriftInterval = 150 * time.Millisecond })
	srv := httptest.NewServer(f.a.Handler())
	t.Cleanup(srv.Close)
	started := time.Now()
	f.start()
	eventually(t, "OutOfSync", func() bool { return f.host().Status == StatusOutOfSync })

	m := scrape(t, srv, "")
	if v := value(m, "tend_agent_syncs_total", "result", "failed", "trigger", "manual"); v != 0 {
		t.Fatalf("failed syncs before any sync: %v", v)
	}
	if v := value(m, "tend_agent_hosts", "status", StatusOutOfSync); v != 1 {
		t.Fatalf("OutOfSync hosts: %v", v)
	}
	if v := value(m, "tend_agent_source_last_fetch_success_timestamp_seconds"); v < float64(started.Unix()) {
		t.Fatalf("last successful fetch %v, before the test started (%d)", v, started.Unix())
	}
	if value(m, "go_goroutines") <= 0 || value(m, "process_resident_memory_bytes") <= 0 {
		t.Fatal("the Go and process collectors are missing")
	}

	if rec, err := f.a.Sync(context.Background(), SyncRequest{}); err != nil || rec.Result != store.ResultSucceeded {
		t.Fatalf("sync: %v %+v", err, rec)
	}
	eventually(t, "the sync counted", func() bool {
		return value(scrape(t, srv, ""), "tend_agent_syncs_total", "result", "succeeded", "trigger", "manual") == 1
	})
	m = scrape(t, srv, "")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tend_agent_sync_duration_seconds_count", []string{"result", "succeeded"}, 1},
		{"tend_agent_host_apply_duration_seconds_count", nil, 1},
		{"tend_agent_resources_changed_total", []string{"kind", "file", "action", "create"}, 1},
		{"tend_agent_hosts", []string{"status", StatusSynced}, 1},
		{"tend_agent_hosts", []string{"status", StatusOutOfSync}, 0},
	} {
		if v := value(m, c.name, c.labels...); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	// One probe in the first plan, one in the sync's plan: at least two.
	if v := value(m, "tend_agent_probe_duration_seconds_count"); v < 2 {
		t.Errorf("probes observed: %v", v)
	}
	if v := value(m, "tend_agent_probe_duration_seconds_sum"); v <= 0 {
		t.Errorf("probe time: %v", v)
	}

	// A drift, recorded once.
	if err := os.Chmod(filepath.Join(f.root, "a"), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the drift counted", func() bool {
		return value(scrape(t, srv, ""), "tend_agent_drift_events_total", "host", "h1") == 1
	})

	// A sync that fails: the exec exits 3; the file is updated.
	bad := f.commit("specs/main.hcl", failSpec("v2\n"), "a failing exec")
	eventually(t, "OutOfSync at the failing commit", func() bool { return strings.Contains(f.host().Target, bad) })
	if rec, err := f.a.Sync(context.Background(), SyncRequest{}); err != nil || rec.Result != store.ResultFailed {
		t.Fatalf("failing sync: %v %+v", err, rec)
	}
	eventually(t, "the failed sync counted", func() bool {
		return value(scrape(t, srv, ""), "tend_agent_syncs_total", "result", "failed", "trigger", "manual") == 1
	})
	m = scrape(t, srv, "")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tend_agent_syncs_total", []string{"result", "succeeded", "trigger", "manual"}, 1},
		{"tend_agent_sync_duration_seconds_count", []string{"result", "failed"}, 1},
		{"tend_agent_host_apply_duration_seconds_count", nil, 2},
		{"tend_agent_resources_changed_total", []string{"kind", "file", "action", "update"}, 1},
		{"tend_agent_resources_changed_total", []string{"kind", "exec"}, -1},
		{"tend_agent_drift_events_total", []string{"host", "h1"}, 1},
		{"tend_agent_hosts", []string{"status", StatusFailed}, 1},
		{"tend_agent_hosts", []string{"status", StatusSynced}, 0},
		{"tend_agent_source_fetch_errors_total", nil, 0},
	} {
		if v := value(m, c.name, c.labels...); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	// The largest bucket holds every observation.
	if v := value(m, "tend_agent_sync_duration_seconds_bucket", "result", "failed", "le", "+Inf"); v != 1 {
		t.Errorf("failed sync +Inf bucket: %v", v)
	}

	// A source outage: fetch errors count up, and the last successful
	// fetch moves on once it is back.
	before := value(m, "tend_agent_source_last_fetch_success_timestamp_seconds")
	moved := f.bare + ".away"
	if err := os.Rename(f.bare, moved); err != nil {
		t.Fatal(err)
	}
	eventually(t, "fetch errors counted", func() bool {
		return value(scrape(t, srv, ""), "tend_agent_source_fetch_errors_total") >= 1
	})
	stuck := value(scrape(t, srv, ""), "tend_agent_source_last_fetch_success_timestamp_seconds")
	if err := os.Rename(moved, f.bare); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a successful fetch after the outage", func() bool {
		return value(scrape(t, srv, ""), "tend_agent_source_last_fetch_success_timestamp_seconds") > stuck
	})
	if stuck < before {
		t.Errorf("the last successful fetch went back: %v -> %v", before, stuck)
	}
}

// TestMetricsToken: with metrics_require_token, /metrics answers 401
// without a token and 200 with a read-only one.
func TestMetricsToken(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MetricsRequireToken = true })
	srv := httptest.NewServer(f.a.Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /metrics without a token: %s", resp.Status)
	}
	if v := value(scrape(t, srv, "viewer-secret"), "tend_agent_hosts", "status", StatusSynced); v != 0 {
		t.Fatalf("tend_agent_hosts{Synced} = %v with no host known", v)
	}
}
